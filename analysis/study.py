"""The GF study's numbers, computed from a study folder's stored run directories.

Why a pure function of stored files (and not numbers the training loop kept): the study
command and ``specs-eval report`` must show the same numbers, a study killed halfway
must be summarisable from what it finished, and anyone can recompute everything later
from the folder alone. ``training.study`` writes ``study_plan.json`` (the config and
where every eval run and training stage lives) before it trains; this module reads that
plan and whatever of it exists:

* per method × seed × cold-start checkpoint: Ψ_ID, Ψ_OOD (the study's metric, in %),
  the gains over the base model and Γ (``analysis.gf``, β = 2) with paired bootstrap
  intervals over items;
* per method × step: the mean over seeds with a min–max band and a Student-t interval
  (``seed_band``): the spread comes from training randomness (data order), the eval items
  are the same for every seed;
* per method × seed: Γ at the last cold-start step against the post-RL performance, a
  least-squares line and R² (``fit_line``), over the method-seed points and over the
  per-method means (the paper's three-point version);
* pass@k (k up to n, unbiased) and the rollout branching factor of the base and cold-start
  models (``analysis.stuckness.split_exploration``);
* per RL run: stuckness from its ``metrics.jsonl`` (zero-variance / all-correct / all-wrong
  group rates over the first and last 20% of steps, reward, entropy).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.errors import AnalysisError, RunLoadError, TrainingLogError
from analysis.frames import Run, load_run, samples_frame, split_frame
from analysis.gf import GFConfig, config_from_spec, gf_detail, gf_from_runs
from analysis.stuckness import split_exploration
from analysis.training_logs import load_training, summarize_groups, training_frame
from specs_eval.core.metrics import PSI_METRICS, stored_value
from specs_eval.core.study import GFStudySpec

STUDY_SCHEMA_VERSION = 1
PLAN_FILE = "study_plan.json"
STUDY_FILE = "study.json"

# two-sided 97.5% Student-t quantiles by degrees of freedom (no scipy dependency)
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
         20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (table; conservative between rows)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be ≥ 1, got {df}")
    if df in _T975:
        return _T975[df]
    smaller = [k for k in _T975 if k < df]
    return _T975[max(smaller)] if df <= 120 else 1.960


def seed_band(values: Sequence[float]) -> dict[str, Any]:
    """Mean over seeds with min–max and a 95% Student-t interval (``None`` with one seed).

    Why both: with three seeds the t interval is wide (t = 4.30) and honest about it; the
    min–max band is what the figure shades.
    """
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) == 0:
        return {"n": 0, "mean": None, "min": None, "max": None, "sd": None, "t_lo": None, "t_hi": None}
    mean = float(v.mean())
    out: dict[str, Any] = {"n": len(v), "mean": mean, "min": float(v.min()), "max": float(v.max()),
                           "sd": None, "t_lo": None, "t_hi": None}
    if len(v) >= 2:
        sd = float(v.std(ddof=1))
        half = t_quantile_975(len(v) - 1) * sd / math.sqrt(len(v))
        out.update(sd=sd, t_lo=mean - half, t_hi=mean + half)
    return out


def fit_line(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Least-squares line y = a + b·x with R² = 1 − SS_res/SS_tot and Pearson r.

    R² is ``None`` when it is undefined (fewer than 3 points, or x or y constant): two
    points always fit exactly, which says nothing.
    """
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if xs.shape != ys.shape:
        raise ValueError("fit_line needs as many x as y values")
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    n = len(xs)
    out: dict[str, Any] = {"n": n, "slope": None, "intercept": None, "r2": None, "r": None}
    if n < 2 or float(np.ptp(xs)) == 0.0:
        return out
    slope, intercept = np.polyfit(xs, ys, 1)
    out.update(slope=float(slope), intercept=float(intercept))
    ss_tot = float(((ys - ys.mean()) ** 2).sum())
    if n >= 3 and ss_tot > 0:
        ss_res = float(((ys - (intercept + slope * xs)) ** 2).sum())
        out["r2"] = 1.0 - ss_res / ss_tot
        out["r"] = float(np.corrcoef(xs, ys)[0, 1])
    return out


def read_plan(study_dir: Path) -> dict[str, Any]:
    p = Path(study_dir) / PLAN_FILE
    if not p.is_file():
        raise AnalysisError(f"{study_dir}: no {PLAN_FILE}; not a study folder (run `specs-train study gf`)")
    try:
        plan = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise AnalysisError(f"{p}: not valid JSON ({e})") from None
    if plan.get("schema_version") != STUDY_SCHEMA_VERSION:
        raise AnalysisError(f"{p}: study schema {plan.get('schema_version')!r} is not {STUDY_SCHEMA_VERSION}")
    return plan


def is_study_dir(p: Path) -> bool:
    return (Path(p) / PLAN_FILE).is_file()


def _load(study_dir: Path, rel: str | None) -> Run | None:
    if not rel:
        return None
    p = study_dir / rel
    if not (p / "samples.jsonl").is_file():
        return None
    try:
        return load_run(p)
    except RunLoadError:
        return None


def study_spec(cfg: dict[str, Any]) -> GFStudySpec:
    """The GF spec of a study config (``study_plan.json`` → ``config``), with its Ψ and β.

    Plans written before study specs named ``benchmark``, ``id_splits`` and ``ood_splits``;
    they read as the equivalent spec.
    """
    if "gf" in cfg:
        spec = dict(cfg["gf"])
    else:
        b = cfg["benchmark"]
        spec = {"name": cfg.get("name", "gf"), "prompt_variant": cfg.get("prompt_variant", "official"),
                "id": [{"benchmark": b, "split": x} for x in cfg["id_splits"]],
                "ood": [{"benchmark": b, "split": x} for x in cfg["ood_splits"]]}
    spec.update(metric=cfg.get("metric", spec.get("metric", "accuracy")), beta=cfg.get("beta", spec.get("beta", 2.0)))
    return GFStudySpec.model_validate(spec)


def study_sets(cfg: dict[str, Any]) -> GFConfig:
    """The study's sets as a GF configuration: names (split labels, or BENCHMARK:LABEL across
    benchmarks), where each is (``locate``) and its weight."""
    return config_from_spec(study_spec(cfg), n_boot=0)


def _psi(run: Run, sets: GFConfig, names: list[str], metric: str) -> dict[str, float | None]:
    """Per set: the metric in % (from the run's own results, which the scorer wrote)."""
    out: dict[str, float | None] = {}
    res = run.results
    for n in names:
        benchmark, s = sets.locate(n)
        m = None
        if res is not None and benchmark in res.benchmarks and s in res.benchmarks[benchmark].splits:
            sm = res.benchmarks[benchmark].splits[s]
            v = stored_value(sm, metric)
            m = None if v is None else 100.0 * float(v)
        out[n] = m
    return out


def _by_metric(base: Run, cand: Run, sets: GFConfig, beta: float) -> dict[str, dict[str, float | None]]:
    """Point Γ for every Ψ (accuracy, format compliance, strict accuracy) from the runs' results.

    Why: the study's headline Ψ is one choice (the paper does not say which it plotted); the
    other two show whether a conclusion depends on it. Intervals only for the headline Ψ.
    """
    ids, oods = sets.id_splits, sets.ood_splits
    wi, wo = sets.id_weights, sets.ood_weights
    out: dict[str, dict[str, float | None]] = {}
    for k in PSI_METRICS:
        a, b = _psi(base, sets, ids + oods, k), _psi(cand, sets, ids + oods, k)
        gi = _mean([None if a[s] is None or b[s] is None else b[s] - a[s] for s in ids], [wi[s] for s in ids])
        go = _mean([None if a[s] is None or b[s] is None else b[s] - a[s] for s in oods], [wo[s] for s in oods])
        g = None if gi is None or go is None else gf_detail(gi, go, beta).gamma
        out[k] = {"psi_id": _mean([b[s] for s in ids], [wi[s] for s in ids]),
                  "psi_ood": _mean([b[s] for s in oods], [wo[s] for s in oods]), "g_id": gi, "g_ood": go, "gamma": g}
    return out


def _mean(xs: list[float | None], weights: list[float] | None = None) -> float | None:
    """The (weighted) mean of the values that exist; None when none does."""
    ws = weights or [1.0] * len(xs)
    v = [(x, w) for x, w in zip(xs, ws, strict=True) if x is not None]
    return sum(x * w for x, w in v) / sum(w for _, w in v) if v else None


def collect_study(study_dir: str | Path, n_boot: int | None = None) -> dict[str, Any]:
    """Everything the study shows, from ``study_plan.json`` and the run directories that exist.

    Missing pieces (a study still running, or killed) are listed under ``missing`` instead
    of failing, so a partial study still summarises what it finished.
    """
    study_dir = Path(study_dir)
    plan = read_plan(study_dir)
    cfg = plan["config"]
    spec = study_spec(cfg)
    sets = study_sets(cfg)
    ids, oods = list(sets.id_splits), list(sets.ood_splits)
    wi, wo = sets.id_weights, sets.ood_weights
    metric, beta = spec.metric, float(spec.beta)
    boot = int(cfg.get("n_boot", 1000) if n_boot is None else n_boot)
    missing: list[str] = []
    base = _load(study_dir, plan["base_eval"])
    if base is None:
        missing.append(plan["base_eval"])
    points: list[dict[str, Any]] = []
    runs_out: list[dict[str, Any]] = []
    for r in plan["runs"]:
        curve = []
        for c in r["curve"]:
            if c["step"] == 0:
                cand = base
            else:
                cand = _load(study_dir, c["eval"])
            if cand is None or base is None:
                missing.append(c["eval"] or "base")
                continue
            psi = _psi(cand, sets, ids + oods, metric)
            pt: dict[str, Any] = {"method": r["method"], "seed": r["seed"], "step": c["step"],
                                  "psi_id": _mean([psi[s] for s in ids], [wi[s] for s in ids]),
                                  "psi_ood": _mean([psi[s] for s in oods], [wo[s] for s in oods]),
                                  "splits": psi, "by_metric": _by_metric(base, cand, sets, beta)}
            if c["step"] == 0:
                pt.update(g_id=0.0, g_ood=0.0, gamma=0.0, gamma_ci=None, status="baseline")
            else:
                g = gf_from_runs(base, cand, study=spec, n_boot=boot, seed=0)
                pt.update(g_id=g.g_id, g_ood=g.g_ood, gamma=g.gamma, gamma_ci=g.gamma_ci, g_id_ci=g.g_id_ci,
                          g_ood_ci=g.g_ood_ci, status=g.status)
            curve.append(pt)
            points.append(pt)
        rl = _load(study_dir, r.get("rl_eval"))
        final = None
        if r.get("rl_eval"):
            if rl is None:
                missing.append(r["rl_eval"])
            else:
                fm = cfg.get("final_metric", "accuracy")
                per = _psi(rl, sets, ids + oods, fm)
                final = {"metric": fm, "splits": per, "mean": _mean(list(per.values()))}
        stuck = _stuckness(study_dir, r.get("rl_dir"), missing)
        last = curve[-1] if curve and curve[-1]["step"] == r["curve"][-1]["step"] else None
        runs_out.append({"method": r["method"], "seed": r["seed"], "dir": r["dir"],
                         "final_step": r["curve"][-1]["step"],
                         "gamma_final": None if last is None else last["gamma"],
                         "psi_id_final": None if last is None else last["psi_id"],
                         "psi_ood_final": None if last is None else last["psi_ood"],
                         "post_rl": final, "stuckness": stuck})
    methods = list(dict.fromkeys(r["method"] for r in plan["runs"]))
    bands = []
    for m in methods:
        steps = sorted({p["step"] for p in points if p["method"] == m})
        for s in steps:
            sel = [p for p in points if p["method"] == m and p["step"] == s]
            bands.append({"method": m, "step": s, "n_seeds": len(sel),
                          **{k: seed_band([p[k] for p in sel]) for k in ("psi_id", "psi_ood", "gamma")}})
    contrasts = _contrasts(points, methods)
    headline = []
    for m in methods:
        sel = [r for r in runs_out if r["method"] == m]
        post = [r["post_rl"]["mean"] for r in sel if r["post_rl"] and r["post_rl"]["mean"] is not None]
        finals = [p for p in points if p["method"] == m and p["step"] == cfg["steps"]]
        headline.append({"method": m, "gamma": seed_band([r["gamma_final"] for r in sel]),
                         "gamma_by_metric": {k: seed_band([p["by_metric"][k]["gamma"] for p in finals])
                                             for k in PSI_METRICS},
                         "psi_id": seed_band([r["psi_id_final"] for r in sel]),
                         "psi_ood": seed_band([r["psi_ood_final"] for r in sel]),
                         "post_rl": seed_band(post) if post else None})
    scatter_pts = [{"method": r["method"], "seed": r["seed"], "gamma": r["gamma_final"],
                    "post_rl": r["post_rl"]["mean"]} for r in runs_out
                   if r["gamma_final"] is not None and r["post_rl"] and r["post_rl"]["mean"] is not None]
    scatter = None
    if scatter_pts:
        means = [h for h in headline if h["post_rl"] and h["gamma"]["mean"] is not None]
        scatter = {"points": scatter_pts,
                   "fit": fit_line([p["gamma"] for p in scatter_pts], [p["post_rl"] for p in scatter_pts]),
                   "fit_means": fit_line([h["gamma"]["mean"] for h in means], [h["post_rl"]["mean"] for h in means]),
                   "method_means": [{"method": h["method"], "gamma": h["gamma"]["mean"],
                                     "post_rl": h["post_rl"]["mean"]} for h in means]}
    explore = _exploration(study_dir, plan, boot, missing)
    return {"schema_version": STUDY_SCHEMA_VERSION, "kind": "gf-study", "name": plan.get("name"),
            "config": cfg, "command": plan.get("command"), "points": points, "bands": bands, "runs": runs_out,
            "headline": headline, "contrasts": contrasts, "scatter": scatter, "exploration": explore, "missing": sorted(set(missing)),
            "wall_s": plan.get("wall_s")}


def _contrasts(points: list[dict[str, Any]], methods: list[str]) -> list[dict[str, Any]]:
    """Γ(b) − Γ(a) per step, paired by seed, for every pair of methods (a listed before b).

    Why paired: runs with the same seed share the data order, so the per-seed difference
    removes part of the training noise; its Student-t interval is the seed-level test of
    "does b reach a higher Γ than a" with as many seeds as the study ran.
    """
    by = {(p["method"], p["seed"], p["step"]): p["gamma"] for p in points}
    steps = sorted({p["step"] for p in points if p["step"] > 0})
    out = []
    for i, a in enumerate(methods):
        for b in methods[i + 1:]:
            for st in steps:
                seeds = sorted({p["seed"] for p in points if p["step"] == st and (a, p["seed"], st) in by
                                and (b, p["seed"], st) in by})
                diffs = [by[(b, sd, st)] - by[(a, sd, st)] for sd in seeds]
                if diffs:
                    out.append({"a": a, "b": b, "step": st, "seeds": seeds, "diffs": diffs,
                                "gamma_diff": seed_band(diffs)})
    return out


def _stuckness(study_dir: Path, rel: str | None, missing: list[str]) -> dict[str, Any] | None:
    if not rel:
        return None
    p = study_dir / rel
    if not (p / "metrics.jsonl").is_file():
        missing.append(rel)
        return None
    try:
        tr = load_training(p)
    except TrainingLogError:
        missing.append(rel)
        return None
    df = training_frame(tr)
    if len(df) == 0:
        return None
    groups = summarize_groups(df)
    out: dict[str, Any] = {"steps": int(df["step"].max()) if len(df) else 0}
    if groups:
        g = groups[0]
        out.update({k: g[k] for k in g if k.endswith(("_first", "_last"))})
    n = max(1, round(len(df) * 0.2))
    d = df.sort_values("step")
    for key, name in (("reward", "reward"), ("rewards/accuracy_reward/mean", "accuracy_reward"),
                      ("rewards/format_reward/mean", "format_reward"), ("entropy", "entropy"),
                      ("completions/mean_length", "length")):
        if key in d.columns:
            col = d[key].dropna()
            out[f"{name}_first"] = float(col.head(n).mean()) if len(col) else None
            out[f"{name}_last"] = float(col.tail(n).mean()) if len(col) else None
    return out


def _exploration(study_dir: Path, plan: dict[str, Any], n_boot: int, missing: list[str]) -> list[dict[str, Any]]:
    out = []
    for e in plan.get("passk", []):
        run = _load(study_dir, e["eval"])
        if run is None:
            missing.append(e["eval"])
            continue
        df = samples_frame([run])
        for bench, split in run.split_keys():
            part = split_frame(df, run.name, bench, split)
            ex = split_exploration(part, run.name, bench, split, n_boot=n_boot, seed=0)
            m = ex.metrics
            out.append({"model": e["model"], "run": run.name, "benchmark": bench, "split": split,
                        "n_items": ex.n_items, "n_samples": ex.n_min,
                        "pass_at_k": {str(k): 100.0 * v for k, v in ex.pass_at_k.items()},
                        "rbf": m.get("rbf"), "token_entropy": m.get("token_entropy"),
                        "distinct_answers": m.get("distinct_answers"),
                        "zero_variance@k": _pct(m.get("zero_variance@k")), "k": ex.k})
    return out


def _pct(e: dict[str, Any] | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {k: (None if v is None else 100.0 * v) for k, v in e.items()}


# ---------------------------------------------------------------------------------------------
# Markdown summary


def _f(v: float | None, nd: int = 1) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def band_parts(b: dict[str, Any] | None, nd: int = 1) -> tuple[str, str | None, str | None] | None:
    """A seed band (``seed_band``) as text pieces: mean, ``lo, hi`` of the t interval, ``min–max``
    (None where a piece does not apply). Markdown and HTML wrap the same pieces."""
    if not b or b.get("mean") is None:
        return None
    ci = f"{_f(b['t_lo'], nd)}, {_f(b['t_hi'], nd)}" if b.get("t_lo") is not None else None
    rng = f"{_f(b['min'], nd)}–{_f(b['max'], nd)}" if b.get("n", 0) > 1 else None
    return _f(b["mean"], nd), ci, rng


def _band(b: dict[str, Any] | None, nd: int = 1) -> str:
    """``mean [t-interval] (min–max)``, or just the value with one seed."""
    parts = band_parts(b, nd)
    if parts is None:
        return "–"
    mean, ci, rng = parts
    return mean + (f" [{ci}]" if ci else "") + (f" ({rng})" if rng else "")


def study_markdown(data: dict[str, Any]) -> str:
    """The study's headline numbers as Markdown (summary.md): what a reader checks first."""
    cfg = data["config"]
    seeds = cfg["seeds"]
    spec = study_spec(cfg)
    ood = ", ".join(s.ref + (f" (α {s.weight:g})" if s.weight != 1 else "") for s in spec.ood)
    lines = [f"# GF study {data.get('name') or ''}".rstrip(), "",
             f"Base `{cfg.get('preset')}` preset; methods {', '.join(cfg['methods'])}; seeds {seeds}; "
             f"{cfg['steps']} cold-start steps, eval every {cfg['eval_every']}; Ψ = {spec.metric} (%) on "
             f"spec {spec.name}: ID {', '.join(s.ref for s in spec.id)} vs OOD {ood}, {cfg['eval_limit']} items per "
             f"set; Γ with β = {spec.beta:g}, gains over the base model.", "",
             "Cells: mean over seeds [95% Student-t interval over seeds] (min–max).", "",
             f"| method | Γ at step {cfg['steps']} | Ψ_ID | Ψ_OOD | post-RL {cfg.get('final_metric', 'accuracy')} |",
             "|---|---|---|---|---|"]
    for h in data["headline"]:
        lines.append(f"| {h['method']} | {_band(h['gamma'])} | {_band(h['psi_id'])} | {_band(h['psi_ood'])} | "
                     f"{_band(h['post_rl'])} |")
    lines.append("")
    sc = data.get("scatter")
    if sc:
        f, fm = sc["fit"], sc["fit_means"]
        lines.append(f"Γ vs post-RL performance: R² = {_f(f['r2'], 3)} over {f['n']} method-seed points "
                     f"(slope {_f(f['slope'], 3)} points per Γ point); R² = {_f(fm['r2'], 3)} over the "
                     f"{fm['n']} method means (the paper: 0.864 over 3 points).")
        lines.append("")
    con = data.get("contrasts") or []
    if con:
        last = max(c["step"] for c in con)
        peak = max(data["bands"], key=lambda b: b["gamma"]["mean"] or 0.0)["step"]
        lines += ["Γ(b) − Γ(a), paired by seed: mean [95% t interval] (per-seed differences):", "",
                  "| b − a | step | difference |", "|---|---|---|"]
        for c in con:
            if c["step"] in (last, peak):
                lines.append(f"| {c['b']} − {c['a']} | {c['step']} | {_band(c['gamma_diff'])} "
                             f"({', '.join(f'{x:+.1f}' for x in c['diffs'])}) |")
        lines.append("")
    # curves: per method and step, mean Γ
    steps = sorted({b["step"] for b in data["bands"]})
    if steps:
        lines += ["Γ per step (mean over seeds):", "",
                  "| method | " + " | ".join(str(s) for s in steps) + " |", "|---|" + "---|" * len(steps)]
        for m in cfg["methods"]:
            row = {b["step"]: b["gamma"]["mean"] for b in data["bands"] if b["method"] == m}
            lines.append(f"| {m} | " + " | ".join(_f(row.get(s)) for s in steps) + " |")
        lines.append("")
        lines += ["Ψ_ID / Ψ_OOD per step (mean over seeds):", "",
                  "| method | " + " | ".join(str(s) for s in steps) + " |", "|---|" + "---|" * len(steps)]
        for m in cfg["methods"]:
            row = {b["step"]: b for b in data["bands"] if b["method"] == m}
            lines.append(f"| {m} | " + " | ".join(
                f"{_f(row[s]['psi_id']['mean'])} / {_f(row[s]['psi_ood']['mean'])}" if s in row else "–"
                for s in steps) + " |")
        lines.append("")
    ex = data.get("exploration") or []
    if ex:
        ks = sorted({int(k) for e in ex for k in e["pass_at_k"]})
        show = [k for k in ks if k in (1, 2, 4, 8, 16, 32, 64)] or ks
        lines += [f"pass@k (%, unbiased) and rollout branching factor (tokens, top-p "
                  f"{cfg['passk']['stats_top_p']}) on {ex[0]['split']}, {ex[0]['n_items']} items × "
                  f"{ex[0]['n_samples']} samples, T = {cfg['passk']['temperature']}:", "",
                  "| model | " + " | ".join(f"pass@{k}" for k in show) + " | RBF | token entropy |",
                  "|---|" + "---|" * (len(show) + 2)]
        for e in ex:
            rbf, ent = e.get("rbf") or {}, e.get("token_entropy") or {}
            lines.append(f"| {e['model']} | " + " | ".join(_f(e["pass_at_k"].get(str(k))) for k in show)
                         + f" | {_f(rbf.get('value'), 3)} [{_f(rbf.get('lo'), 3)}, {_f(rbf.get('hi'), 3)}]"
                         + f" | {_f(ent.get('value'), 3)} |")
        lines.append("")
    rl = [r for r in data["runs"] if r.get("stuckness")]
    if rl:
        lines += ["RL runs (first → last 20% of steps): zero-variance group rate, all-correct, all-wrong (%), "
                  "reward; post-RL performance (%):", "",
                  "| run | zero-variance | all correct | all wrong | reward | post-RL |", "|---|---|---|---|---|---|"]
        for r in rl:
            s = r["stuckness"]

            def fl(k: str, pct: bool = True, s: dict[str, Any] = s) -> str:
                a, b = s.get(f"{k}_first"), s.get(f"{k}_last")
                mul = 100.0 if pct else 1.0
                return f"{_f(None if a is None else mul * a)} → {_f(None if b is None else mul * b)}"

            post = r["post_rl"]["mean"] if r.get("post_rl") else None
            lines.append(f"| {r['method']} s{r['seed']} | {fl('zero_variance_rate')} | {fl('all_correct_rate')} | "
                         f"{fl('all_wrong_rate')} | {fl('reward', pct=False)} | {_f(post)} |")
        lines.append("")
    if data.get("wall_s") is not None:
        lines.append(f"Wall time: {data['wall_s'] / 60:.1f} min.")
    if data.get("missing"):
        lines.append(f"Not (yet) available: {', '.join(data['missing'])}.")
    return "\n".join(lines) + "\n"
