"""Everything a comparison report shows, as one JSON-able dict computed from stored files.

Why a data layer: the HTML, the JSON companion and the Markdown table are three views of
this one dict, so they cannot disagree; the HTML embeds it once. It is a pure function
of the run directories (and training directories) plus options: no clock, no network,
stable ordering, so the same inputs give byte-identical reports.

Units: every rate (accuracy, compliance, pass@k, group rates, stickiness) is in percent;
GF gains and deltas in percentage points; distinct answers a count; entropies in nats;
RBF in tokens.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.compare import pair_checks, pair_split, run_pair_flags
from analysis.errors import AnalysisError, RunLoadError, TrainingLogError
from analysis.flags import Flag, sort_flags
from analysis.frames import Run, load_run, samples_frame, split_frame
from analysis.gf import (
    DEFAULT_BETA,
    GFConfig,
    RolesProvider,
    check_user_splits,
    compute_gf,
    config_from_spec,
    cross_config,
    default_roles,
    resolve_config,
    role_levels,
    run_study,
)
from analysis.leaderboard import Column, load_leaderboard, place_runs
from analysis.leaderboard import available as leaderboards_available
from analysis.metrics import check_metric, item_sums
from analysis.report.thumbs import ItemImages, ThumbnailSource
from analysis.stats import DEFAULT_LEVEL, DEFAULT_N_BOOT, bootstrap_ratio, paired_compare
from analysis.stuckness import split_exploration
from analysis.training_logs import (
    CURVE_KEYS,
    TrainingRun,
    is_training_dir,
    load_training,
    summarize_groups,
    training_frame,
)
from specs_eval.core.metrics import METRICS as METRIC_REGISTRY
from specs_eval.core.metrics import stored_value
from specs_eval.core.study import GFStudySpec

REPORT_SCHEMA_VERSION = 1
MAX_RESPONSE_CHARS = 2000
PERCENT_METRICS = {
    "pass@1", "pass@k", "exploration_gap", "majority@k", "unsolvable@k", "zero_variance@k", "all_correct@k",
    "all_wrong@k", "format_stickiness", "shift_compliance", "token_stats_coverage",
}


@dataclass
class ReportOptions:
    """What the user chose; recorded in the report (``data_paths`` by benchmark name only)."""

    baseline: str | None = None
    #: Ψ of the headline and of every GF (None: accuracy, and a study's Γ uses the spec's Ψ)
    metric: str | None = None
    profile: str | None = None
    #: GF β (None: 2, and a study's Γ uses the spec's β)
    beta: float | None = None
    #: a GF study spec whose sets are the roles (``--study`` / ``--id``/``--ood``); None: the one the runs recorded
    study: GFStudySpec | None = None
    id_splits: list[str] | None = None
    ood_splits: list[str] | None = None
    ood_weights: dict[str, float] | None = None
    n_boot: int = DEFAULT_N_BOOT
    seed: int = 0
    level: float = DEFAULT_LEVEL
    group_k: int | None = None
    reward: str = "accuracy"
    max_disagreements: int = 10
    leaderboard: str | None = None
    data_paths: dict[str, str] = field(default_factory=dict)
    thumbnails: bool = True
    common_items: bool = False
    title: str | None = None
    #: re-creates an item's images for thumbnails (the CLI passes the benchmarks'; None: no thumbnails)
    item_images: ItemImages | None = None
    #: split roles for runs whose manifests predate stored roles (the CLI passes the benchmarks')
    roles_fallback: RolesProvider | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("item_images", "roles_fallback")}
        d["data_paths"] = sorted(self.data_paths)  # never embed local paths
        d["metric"] = self.metric or "accuracy"
        d["beta"] = DEFAULT_BETA if self.beta is None else self.beta
        d["study"] = None if self.study is None else self.study.model_dump(mode="json")
        return d


def _r(x: Any, nd: int = 6) -> Any:
    """Round floats recursively (stable JSON, small files); NaN/inf become None."""
    if isinstance(x, float):
        return None if not math.isfinite(x) else round(x, nd)
    if isinstance(x, dict):
        return {k: _r(v, nd) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_r(v, nd) for v in x]
    return x


def _pct(e: Any) -> Any:
    if e is None:
        return None
    return {k: (None if v is None else 100.0 * v) if k in ("value", "lo", "hi") else v for k, v in e.items()}


# ---------------------------------------------------------------------------------------------
# Loading


def _load_inputs(inputs: Sequence[str | Path | Run], training: Sequence[str | Path | TrainingRun]
                 ) -> tuple[list[Run], list[dict[str, str]], list[TrainingRun], list[Flag], list[str]]:
    runs: list[Run] = []
    failed: list[dict[str, str]] = []
    trains: list[TrainingRun] = []
    flags: list[Flag] = []
    order: list[str] = []  # first input's identity, for the default baseline
    for x in inputs:
        if isinstance(x, Run):
            runs.append(x)
            order.append(f"run:{len(runs) - 1}")
            continue
        p = Path(x)
        if p.is_dir() and not (p / "samples.jsonl").exists() and is_training_dir(p):
            training = [*training, p]
            continue
        try:
            runs.append(load_run(p))
            order.append(f"run:{len(runs) - 1}")
        except RunLoadError as e:
            failed.append({"dir": p.name, "error": str(e)})
            order.append(f"failed:{p.name}")
            flags.append(Flag("refuse", "run_not_loaded", f"{p.name} not included: {e}", f"run:{p.name}"))
    for t in training:
        if isinstance(t, TrainingRun):
            trains.append(t)
            continue
        try:
            trains.append(load_training(t))
        except TrainingLogError as e:
            flags.append(Flag("refuse", "training_not_loaded", f"{Path(t).name} not included: {e}",
                              f"training:{Path(t).name}"))
    seen: dict[str, int] = defaultdict(int)
    for r in runs:
        seen[r.name] += 1
        if seen[r.name] > 1:
            new = f"{r.name}#{seen[r.name]}"
            flags.append(Flag("info", "renamed_run", f"two runs are named {r.name!r}; the one in {r.path.name} is "
                              f"shown as {new!r}", f"run:{new}"))
            r.name = new
    return runs, failed, trains, flags, order


def _pick_baseline(runs: list[Run], order: list[str], wanted: str | None, flags: list[Flag]) -> Run | None:
    if not runs:
        return None
    if wanted is None:
        first = order[0]
        if first.startswith("failed:"):
            flags.append(Flag("refuse", "baseline_not_loaded", f"the baseline ({first[7:]}, the first run given) could "
                              "not be loaded; no deltas or GF are computed", "report"))
            return None
        return runs[int(first.split(":")[1])]
    for i, r in enumerate(runs):
        if wanted in (r.name, r.path.name, str(i)):
            return r
    flags.append(Flag("refuse", "baseline_not_loaded", f"baseline {wanted!r} is not among the loaded runs; no deltas "
                      "or GF are computed", "report"))
    return None


# ---------------------------------------------------------------------------------------------
# Sections


def _split_order(bench: str, splits: set[str], config: GFConfig | None) -> list[tuple[str, str]]:
    """(split, role) of one benchmark: its ID sets first, then its OOD sets, then the rest (sorted)."""
    out: list[tuple[str, str]] = []
    if config is not None:
        for names, role in ((config.id_splits, "ID"), (config.ood_splits, "OOD")):
            out += [(sp, role) for b, sp in (config.locate(n) for n in names) if b == bench]
    known = {s for s, _ in out}
    out += [(s, "") for s in sorted(splits - known)]
    return out


def _fl(flags: list[Flag]) -> dict[str, list[str]]:
    """A cell's flags: codes, and the messages a reader needs (warnings shown as ⚠, refusals as reasons)."""
    return {"flags": sorted({f.code for f in flags}),
            "warnings": sorted({f.message for f in flags if f.severity == "warn"}),
            "reasons": sorted({f.message for f in flags if f.severity == "refuse"})}


def _headline(runs: list[Run], baseline: Run | None, df: pd.DataFrame, bench: str, order: list[tuple[str, str]],
              opt: ReportOptions, pair_flags: dict[str, list[Flag]], all_flags: list[Flag]) -> list[dict[str, Any]]:
    rows = []
    for split, role in order:
        scope = f"{bench}/{split}"
        cells: dict[str, Any] = {}
        for r in runs:
            part = split_frame(df, r.name, bench, split)
            t = item_sums(part, opt.metric, opt.profile)
            rf = [f for f in r.flags if f.scope == scope]
            if len(t) == 0:
                reason = ("no samples" if len(part) == 0 else f"{opt.metric} undefined")
                cells[r.name] = {"value": None, "lo": None, "hi": None, "n_items": int(part["id"].nunique()),
                                 "n_samples": len(part), "note": reason, **_fl(rf)}
                continue
            e = bootstrap_ratio(t["s"].to_numpy(), t["m"].to_numpy(), opt.n_boot,
                                (opt.seed, r.name, bench, split, opt.metric, opt.profile), opt.level)
            cells[r.name] = {"value": 100 * e.value, "lo": None if e.lo is None else 100 * e.lo,
                             "hi": None if e.hi is None else 100 * e.hi, "n_items": int(part["id"].nunique()),
                             "n_samples": len(part), "note": None, **_fl(rf)}
        deltas: dict[str, Any] = {}
        if baseline is not None:
            for r in runs:
                if r is baseline:
                    continue
                pf = [f for f in pair_flags[r.name] if f.scope in (scope, bench, f"run:{r.name}")]
                pf += [f for f in r.flags if f.scope in (scope, f"run:{r.name}") and f.severity == "warn"]
                if any(f.severity == "refuse" for f in pf):
                    deltas[r.name] = {"status": "refused", **_fl(pf)}
                    continue
                paired = pair_split(split_frame(df, baseline.name, bench, split), split_frame(df, r.name, bench, split),
                                    opt.metric, opt.profile, opt.common_items, (baseline.name, r.name), scope)
                all_flags.extend(paired.flags)
                pf = pf + paired.flags
                if paired.refused:
                    deltas[r.name] = {"status": "refused", **_fl(pf)}
                    continue
                res = paired_compare(paired.sa, paired.ma, paired.sb, paired.mb, opt.n_boot,
                                     (opt.seed, "delta", baseline.name, r.name, bench, split, opt.metric, opt.profile),
                                     opt.level)
                deltas[r.name] = {"status": "ok", "delta": 100 * res.delta,
                                  "lo": None if res.lo is None else 100 * res.lo,
                                  "hi": None if res.hi is None else 100 * res.hi, "p_value": res.p_value,
                                  "test": res.test, "significant": res.significant, "n_items": res.n,
                                  "p_floor": (2 / (opt.n_boot + 1) if res.test == "paired_bootstrap" else None),
                                  "a_only": res.a_only, "b_only": res.b_only, **_fl(pf)}
        rows.append({"benchmark": bench, "split": split, "role": role, "cells": cells, "deltas": deltas})
    return rows


def _metrics_rows(runs: list[Run], df: pd.DataFrame, bench: str, order: list[tuple[str, str]], opt: ReportOptions
                  ) -> list[dict[str, Any]]:
    """Every registered metric per run and split: scores with item-bootstrap intervals, rates as values."""
    out = []
    for split, role in order:
        for r in runs:
            if not any(s.benchmark == bench and s.split == split for s in r.samples):
                continue
            sm = r.metrics(bench, split)
            part = split_frame(df, r.name, bench, split)
            row: dict[str, Any] = {"run": r.name, "benchmark": bench, "split": split, "role": role,
                                   "n_items": sm.n, "n_samples": sm.n_samples}
            for m in METRIC_REGISTRY.values():
                if m.rate:
                    v = stored_value(sm, m.name)
                    row[m.name] = None if v is None else (100 * v if m.percent else v)
                    continue
                t = item_sums(part, m.name)
                if len(t) == 0:
                    row[m.name] = None
                    continue
                e = bootstrap_ratio(t["s"].to_numpy(), t["m"].to_numpy(), opt.n_boot,
                                    (opt.seed, r.name, bench, split, m.name, None), opt.level)
                row[m.name] = {"value": 100 * e.value, "lo": None if e.lo is None else 100 * e.lo,
                               "hi": None if e.hi is None else 100 * e.hi}
            out.append(row)
    return out


#: a breakdown key gets a chart when it has this many categories (binary keys and long lists: tables only)
CHART_CATEGORIES = (3, 12)


def _breakdown_keys(runs: list[Run], bench: str, split: str) -> list[str]:
    """The benchmark's official breakdown keys, as its ``results.json`` recorded them (benchmark order)."""
    keys: list[str] = []
    for r in runs:
        if r.results is None or bench not in r.results.benchmarks:
            continue
        sm = r.results.benchmarks[bench].splits.get(split)
        for k in (sm.breakdowns if sm is not None else {}):
            if k not in keys:
                keys.append(k)
    return keys


def _breakdowns(runs: list[Run], baseline: Run | None, df: pd.DataFrame, bench: str, order: list[tuple[str, str]],
                opt: ReportOptions) -> list[dict[str, Any]]:
    """Per official breakdown key and category: Ψ of every run with an item-bootstrap interval, n items, and
    the point difference to the baseline. Computed from the samples' ``meta`` (multi-label keys such as
    MathVista's ``skills`` count an item in each of its categories), like ``results.json`` breakdowns."""
    out = []
    for split, role in order:
        keys = _breakdown_keys(runs, bench, split)
        for key in keys:
            col = f"meta.{key}"
            cats: dict[str, dict[str, Any]] = {}
            for r in runs:
                part = split_frame(df, r.name, bench, split)
                if len(part) == 0 or col not in part.columns:
                    continue
                vals = part[col].map(lambda v: [str(x) for x in v] if isinstance(v, list) else
                                     ([] if v is None or (isinstance(v, float) and math.isnan(v)) else [str(v)]))
                ex = part.assign(_cat=vals).explode("_cat")
                ex = ex[ex["_cat"].notna()]
                for cat, cpart in ex.groupby("_cat", sort=True):
                    t = item_sums(cpart, opt.metric, opt.profile)
                    cell: dict[str, Any] = {"value": None, "lo": None, "hi": None, "n_items": int(cpart["id"].nunique())}
                    if len(t):
                        e = bootstrap_ratio(t["s"].to_numpy(), t["m"].to_numpy(), opt.n_boot,
                                            (opt.seed, r.name, bench, split, "breakdown", key, cat, opt.metric), opt.level)
                        cell.update(value=100 * e.value, lo=None if e.lo is None else 100 * e.lo,
                                    hi=None if e.hi is None else 100 * e.hi)
                    cats.setdefault(str(cat), {})[r.name] = cell
            if not cats:
                continue
            rows = []
            for cat in sorted(cats):
                cells = cats[cat]
                delta = {}
                if baseline is not None and baseline.name in cells and cells[baseline.name]["value"] is not None:
                    b = cells[baseline.name]["value"]
                    delta = {r: c["value"] - b for r, c in cells.items() if r != baseline.name and c["value"] is not None}
                n = max((c["n_items"] for c in cells.values()), default=0)
                rows.append({"category": cat, "n_items": n, "cells": cells, "delta": delta})
            lo, hi = CHART_CATEGORIES
            out.append({"benchmark": bench, "split": split, "role": role, "key": key, "rows": rows,
                        "chart": lo <= len(rows) <= hi})
    return out


def _exploration(runs: list[Run], df: pd.DataFrame, bench: str, order: list[tuple[str, str]], opt: ReportOptions,
                 flags: list[Flag]) -> list[dict[str, Any]]:
    out = []
    for split, role in order:
        for r in runs:
            part = split_frame(df, r.name, bench, split)
            if len(part) == 0:
                continue
            ex = split_exploration(part, r.name, bench, split, opt.group_k, opt.reward,  # type: ignore[arg-type]
                                   opt.n_boot, opt.seed, opt.level)
            flags.extend(ex.flags)
            d = ex.to_dict()
            d["role"] = role
            d["pass_at_k"] = {k: 100 * v for k, v in d["pass_at_k"].items()}
            d["pass_at_k_ci"] = {k: None if v is None else [100 * v[0], 100 * v[1]] for k, v in d["pass_at_k_ci"].items()}
            d["metrics"] = {k: (_pct(v) if k in PERCENT_METRICS else v) for k, v in d["metrics"].items()}
            d.pop("flags")
            out.append(d)
    return out


def _training(trains: list[TrainingRun], flags: list[Flag]) -> dict[str, Any] | None:
    if not trains:
        return None
    for t in trains:
        flags.extend(t.flags)
    df = training_frame(trains)
    curves = []
    for key in CURVE_KEYS:
        if key not in df.columns:
            continue
        series = []
        for (run, stage_dir, stage), part in df.groupby(["run", "stage_dir", "stage"], sort=True):
            part = part[part[key].notna()].sort_values("step")
            if len(part):
                series.append({"run": run, "stage": stage, "stage_dir": stage_dir,
                               "step": [int(s) for s in part["step"]], "value": [float(v) for v in part[key]]})
        if series:
            curves.append({"key": key, "series": series})
    stages = [{"run": t.name, "stage_dir": s.name, "stage": s.stage, "steps": len(s.rows),
               "manifest": {k: v for k, v in sorted(s.manifest.items()) if isinstance(v, str | int | float | bool)}}
              for t in trains for s in t.stages]
    return {"stages": stages, "curves": curves, "group_summary": summarize_groups(df)}


def _flatten_manifest(r: Run) -> dict[str, str]:
    out: dict[str, str] = {"run.dir": r.path.name}
    m = r.manifest
    if m is None:
        out["manifest"] = "(none)"
        return out

    def put(k: str, v: Any) -> None:
        if v is None or v == {} or v == []:
            return
        out[k] = v if isinstance(v, str) else _json_scalar(v)

    put("run.status", m.status)
    put("run.origin", m.origin)
    put("run.display_name", m.display_name)
    put("run.created", m.created)
    put("run.finished", m.finished)
    put("run.wall_s", m.wall_s)
    put("toolkit_version", m.toolkit_version)
    put("config_hash", m.config_hash)
    put("command", " ".join(m.command))
    for k, v in m.model.model_dump().items():
        if k == "processor":
            for pk, pv in sorted(v.items()):
                put(f"model.processor.{pk}", pv)
        else:
            put(f"model.{k}", v)
    if m.origin == "scored":
        put("generation", "unknown: scored from a predictions file")
    else:
        for k, v in m.generation.model_dump().items():
            put(f"generation.{k}", v)
    for t in m.tasks:
        for k in ("prompt_variant", "profile", "limit"):
            put(f"task.{t.benchmark}/{t.set_name}.{k}", getattr(t, k))
        if t.data:
            put(f"task.{t.benchmark}/{t.set_name}.data", Path(t.data).name)
    if m.study is not None:
        put("study", f"{m.study.name}: ID {', '.join(s.ref for s in m.study.id)}; OOD "
            + ", ".join(f"{s.ref}×{s.weight:g}" for s in m.study.ood) + f"; Ψ {m.study.metric}, β {m.study.beta:g}")
    for d in m.datasets:
        for k in ("source", "hf_id", "revision", "config", "rows", "content_hash", "seed"):
            put(f"dataset.{d.benchmark}/{d.split}.{k}", getattr(d, k))
    for k, v in sorted(m.libraries.items()):
        put(f"libraries.{k}", v)
    return out


def _json_scalar(v: Any) -> str:
    import json

    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def _provenance(runs: list[Run]) -> dict[str, Any]:
    flat = {r.name: _flatten_manifest(r) for r in runs}
    keys = sorted({k for f in flat.values() for k in f})
    rows = []
    for k in keys:
        vals = {r.name: flat[r.name].get(k) for r in runs}
        rows.append({"key": k, "values": vals, "differs": len({v for v in vals.values()}) > 1})
    return {"keys": rows, "n_differing": sum(r["differs"] for r in rows)}


def _trim(text: str) -> str:
    if len(text) <= MAX_RESPONSE_CHARS:
        return text
    return text[:MAX_RESPONSE_CHARS] + f"… [{len(text) - MAX_RESPONSE_CHARS} more characters]"


def _item_samples(part: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in part.sort_values(["id", "sample_idx"]).itertuples(index=False):
        pred = row.prediction if isinstance(row.prediction, str) else None
        raw = row.extracted if isinstance(row.extracted, str) else None
        out[row.id].append({"sample_idx": int(row.sample_idx), "response": _trim(str(row.response)),
                            "scored": bool(row.scored), "extracted": raw, "prediction": pred, "score": float(row.score), "correct": bool(row.correct),
                            "format_ok": None if pd.isna(row.format_ok) else bool(row.format_ok),
                            "parse_status": row.parse_status, "error": row.error if isinstance(row.error, str) else None})
    return out


def _mean_score(samples: list[dict[str, Any]]) -> float | None:
    scored = [s["score"] for s in samples if s["scored"]]
    return sum(scored) / len(scored) if scored else None


def _drilldown(runs: list[Run], baseline: Run | None, df: pd.DataFrame, bench: str, order: list[tuple[str, str]],
               opt: ReportOptions, headline: list[dict[str, Any]], thumbs: ThumbnailSource) -> list[dict[str, Any]]:
    if baseline is None or opt.max_disagreements <= 0:
        return []
    refused = {(h["split"], c) for h in headline for c, d in h["deltas"].items() if d.get("status") == "refused"}
    out = []
    for split, _role in order:
        pa = split_frame(df, baseline.name, bench, split)
        if len(pa) == 0:
            continue
        sa = _item_samples(pa)
        for r in runs:
            if r is baseline or (split, r.name) in refused:
                continue
            pb = split_frame(df, r.name, bench, split)
            sb = _item_samples(pb)
            common = sorted(set(sa) & set(sb))
            groups: dict[str, list[tuple[float, str]]] = {"baseline_only": [], "candidate_only": []}
            for i in common:
                ma, mb = _mean_score(sa[i]), _mean_score(sb[i])
                if ma is None or mb is None:
                    continue
                if (ma >= 0.5) != (mb >= 0.5):
                    groups["baseline_only" if ma >= 0.5 else "candidate_only"].append((-abs(mb - ma), i))
            for direction, found in groups.items():
                found.sort()
                items = []
                for _, i in found[: opt.max_disagreements]:
                    prompt = str(pa[pa["id"] == i]["prompt"].iloc[0])
                    th = thumbs.get(baseline, bench, split, i, prompt)
                    items.append({"id": i, "prompt": _trim(prompt), "target": str(pa[pa["id"] == i]["target"].iloc[0]),
                                  "thumbnail": th.uri, "thumbnail_note": th.note,
                                  "baseline": {"mean_score": _mean_score(sa[i]), "samples": sa[i]},
                                  "candidate": {"mean_score": _mean_score(sb[i]), "samples": sb[i]}})
                out.append({"benchmark": bench, "split": split, "baseline": baseline.name, "candidate": r.name,
                            "direction": direction, "total": len(found), "shown": len(items), "items": items})
    return out


def _leaderboard(name: str, runs: list[Run], df: pd.DataFrame, explorations: list[dict[str, Any]], opt: ReportOptions
                 ) -> dict[str, Any]:
    lb = load_leaderboard(name)
    ex = {(e["run"], e["benchmark"], e["split"]): e for e in explorations}

    def lookup(run: str, col: Column) -> float | None:
        part = split_frame(df, run, col.benchmark or "", col.split or "")
        if len(part) == 0 or col.metric is None:
            return None
        if col.breakdown is not None:
            mcol = f"meta.{col.breakdown.key}"
            if mcol not in part.columns:
                return None
            part = part[part[mcol].astype(str) == col.breakdown.value]
            if len(part) == 0:
                return None
        if col.metric.startswith("pass@"):
            e = ex.get((run, col.benchmark, col.split))
            k = col.metric[5:]
            return None if e is None or col.breakdown is not None else e["pass_at_k"].get(k)
        try:
            check_metric(col.metric)
        except AnalysisError:
            return None
        t = item_sums(part, col.metric, opt.profile)
        return None if len(t) == 0 else 100 * float(t["s"].sum() / t["m"].sum())

    return place_runs(lb, [r.name for r in runs], lookup)


# ---------------------------------------------------------------------------------------------


def build_report_data(inputs: Sequence[str | Path | Run], training: Sequence[str | Path | TrainingRun] = (),
                      options: ReportOptions | None = None) -> dict[str, Any]:
    """The report's content. Raises ``AnalysisError`` only when nothing at all could be loaded."""
    from specs_eval import __version__

    given = options or ReportOptions()
    # the user's Ψ and β, or None: a study's Γ then uses its spec's; everything else accuracy and β = 2
    user_metric, user_beta = given.metric, given.beta
    opt = replace(given, metric=given.metric or "accuracy", beta=DEFAULT_BETA if given.beta is None else given.beta)
    check_metric(opt.metric)
    inputs, training, study = _expand_study(inputs, training)
    runs, failed, trains, flags, order = _load_inputs(inputs, training)
    if not runs and not trains:
        detail = "; ".join(f"{f['dir']}: {f['error']}" for f in failed) or "no inputs"
        raise AnalysisError(f"nothing to report: no run or training directory could be loaded ({detail})")
    baseline = _pick_baseline(runs, order, opt.baseline, flags)
    for r in runs:
        flags.extend(r.flags)
    df = samples_frame(runs)
    bench_names = sorted({b for r in runs for b, _ in r.split_keys()})
    keys_all = sorted({k for r in runs for k in r.split_keys()})
    check_user_splits({s for _, s in keys_all} | {f"{b}:{s}" for b, s in keys_all}, opt.id_splits,
                      opt.ood_splits, list(opt.ood_weights or {}))
    if opt.reward not in ("accuracy", "accuracy+format"):
        raise AnalysisError(f"unknown group reward {opt.reward!r}; known: accuracy, accuracy+format")
    if opt.group_k is not None and opt.group_k < 2:
        raise AnalysisError(f"the group size k must be ≥ 2 (k = 1 groups always have zero variance), got {opt.group_k}")
    pair_flags: dict[str, list[Flag]] = {}
    checks: list[dict[str, Any]] = []
    if baseline is not None:
        for r in runs:
            if r is not baseline:
                keys = sorted(set(baseline.split_keys()) | set(r.split_keys()))
                pair_flags[r.name] = run_pair_flags(baseline, r, keys, opt.common_items)
                flags.extend(pair_flags[r.name])
                checks.append(pair_checks(baseline, r, keys))
    thumbs = ThumbnailSource(opt.item_images, opt.thumbnails)
    user_roles = bool(opt.id_splits or opt.ood_splits)
    spec = opt.study or (None if user_roles else run_study(([baseline] if baseline else []) + runs))
    study_cfg = None
    if spec is not None:
        study_cfg = config_from_spec(spec, user_metric, opt.profile, user_beta, opt.n_boot, opt.level, opt.seed,
                                     opt.common_items, "study spec" if opt.study else "run manifest: study")
        _check_study_sets(study_cfg, keys_all, runs, flags)
    study_benches = study_cfg.benchmarks() if study_cfg else []
    benchmarks, headline, gfs, metrics, explorations, drill, breakdowns = [], [], [], [], [], [], []
    configs: list[GFConfig] = []
    for bench in bench_names:
        splits = {s for r in runs for b, s in r.split_keys() if b == bench}
        role_cfg: GFConfig | None
        if study_cfg is not None and bench in study_benches:
            # a study within one benchmark is that benchmark's GF; a study across benchmarks is computed below
            config = None if study_cfg.sets else study_cfg
            role_cfg = study_cfg
        else:
            config = role_cfg = resolve_config(bench, sorted(splits), default_roles(bench, runs, opt.roles_fallback),
                                               opt.metric, opt.profile, opt.id_splits, opt.ood_splits,
                                               opt.ood_weights, opt.beta, opt.n_boot, opt.level, opt.seed,
                                               opt.common_items)
        if config is not None:
            configs.append(config)
        order_ = _split_order(bench, splits, role_cfg)
        benchmarks.append({"name": bench, "profiles": {r.name: r.profile(bench) for r in runs},
                           "splits": [{"split": s, "role": role} for s, role in order_],
                           "gf_config": config.model_dump() if config else None})
        rows = _headline(runs, baseline, df, bench, order_, opt, pair_flags, flags)
        headline += rows
        if baseline is not None and len(runs) > 1:
            if config is None:
                if bench not in study_benches:
                    flags.append(Flag("info", "no_gf_roles", f"{bench}: no ID/OOD split roles, so no GF on it alone "
                                      "(pass --id-splits and --ood-splits, or a study: --study SPEC, --id/--ood)",
                                      bench))
            else:
                for r in runs:
                    if r is not baseline:
                        g = compute_gf(df, baseline, r, config, pair_flags[r.name])
                        flags.extend(Flag(**f) for f in g.flags)
                        gfs.append(g.model_dump())
        metrics += _metrics_rows(runs, df, bench, order_, opt)
        breakdowns += _breakdowns(runs, baseline, df, bench, order_, opt)
        explorations += _exploration(runs, df, bench, order_, opt, flags)
        drill += _drilldown(runs, baseline, df, bench, order_, opt, rows, thumbs)
    cross = study_cfg if study_cfg is not None and study_cfg.sets else None
    if cross is None and user_roles and not configs:
        cross = cross_config(keys_all, opt.id_splits or [], opt.ood_splits or [], opt.ood_weights, opt.metric,
                             opt.profile, opt.beta, opt.n_boot, opt.level, opt.seed, opt.common_items)
        if cross is None:
            flags.append(Flag("info", "no_gf_roles", "the given --id-splits/--ood-splits leave no ID or no OOD split "
                              "in any benchmark, so no GF", "report"))
    if cross is not None:
        configs.append(cross)
        if baseline is not None and len(runs) > 1:
            keys = [cross.locate(n) for n in cross.id_splits + cross.ood_splits]
            for r in runs:
                if r is not baseline:
                    g = compute_gf(df, baseline, r, cross, run_pair_flags(baseline, r, keys, opt.common_items))
                    flags.extend(Flag(**f) for f in g.flags)
                    gfs.append(g.model_dump())
    scatter = [{"config": c.model_dump(), "points": [role_levels(df, r, c) for r in runs]} for c in configs]
    lb = _leaderboard(opt.leaderboard, runs, df, explorations, opt) if opt.leaderboard else None
    train = _training(trains, flags)
    run_rows = [{"name": r.name, "dir": r.path.name, "role": "baseline" if r is baseline else "candidate",
                 "status": r.manifest.status if r.manifest else None,
                 "model": r.manifest.model.name if r.manifest else None, "n_samples": len(r.samples),
                 "benchmarks": sorted({b for b, _ in r.split_keys()})} for r in runs]
    data = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "kind": "specs-eval-report",
        "toolkit_version": __version__,
        "title": opt.title or _title(runs, baseline),
        "options": opt.to_dict(),
        "baseline": baseline.name if baseline else None,
        "runs": run_rows,
        "not_loaded": failed,
        "flags": [f.to_dict() for f in sort_flags(flags)],
        "checks": checks,
        "benchmarks": benchmarks,
        "headline": headline,
        "gf": gfs,
        "study_spec": None if spec is None else spec.model_dump(mode="json"),
        "role_scatter": scatter,
        "breakdowns": breakdowns,
        "metrics": metrics,
        "exploration": explorations,
        "training": train,
        "leaderboard": lb,
        "leaderboards_available": leaderboards_available(),
        "provenance": _provenance(runs),
        "drilldown": drill,
        "study": study,
    }
    return _r(data)


def _check_study_sets(config: GFConfig, keys: Sequence[tuple[str, str]], runs: list[Run], flags: list[Flag]) -> None:
    """A study set that no run has is flagged by name (its Γ is then refused as an empty split)."""
    have = set(keys)
    for n in config.id_splits + config.ood_splits:
        b, sp = config.locate(n)
        if (b, sp) not in have:
            known = ", ".join(f"{x}:{y}" for x, y in sorted(have)) or "none"
            flags.append(Flag("warn", "study_set_missing", f"study {config.study}: set {b}:{sp} is in no run "
                              f"(the runs have {known}); Γ over it is not computed", f"{b}/{sp}"))


def _expand_study(inputs: Sequence[str | Path | Run], training: Sequence[str | Path | TrainingRun]
                  ) -> tuple[list[Any], list[Any], dict[str, Any] | None]:
    """A GF study folder among the inputs becomes its study data plus ordinary runs and training logs.

    Why these runs: the comparison sections then show the base model (the baseline, first),
    each method's final cold-start and post-RL eval of the study's first seed, and the
    cold-start and RL training logs of that seed; every seed's numbers are in the study
    section. One study per report (two studies' sections would need their own layout).
    """
    from analysis.study import collect_study, is_study_dir, read_plan

    studies = [x for x in inputs if not isinstance(x, Run) and is_study_dir(Path(x))]
    if not studies:
        return list(inputs), list(training), None
    if len(studies) > 1:
        raise AnalysisError(f"one GF study folder per report, got {len(studies)}: "
                            f"{', '.join(Path(x).name for x in studies)}")
    sd = Path(studies[0])
    plan = read_plan(sd)
    first = plan["config"]["seeds"][0]
    runs: list[Any] = []
    if (sd / plan["base_eval"] / "samples.jsonl").is_file():
        runs.append(sd / plan["base_eval"])
    trains: list[Any] = []
    for key in ("curve", "rl_eval"):
        for r in plan["runs"]:
            if r["seed"] != first:
                continue
            rel = r["curve"][-1]["eval"] if key == "curve" else r.get("rl_eval")
            if rel and (sd / rel / "samples.jsonl").is_file():
                runs.append(sd / rel)
    for r in plan["runs"]:
        if r["seed"] == first and (sd / r["dir"]).is_dir() and is_training_dir(sd / r["dir"]):
            try:
                trains.append(load_training(sd / r["dir"], name=Path(r["dir"]).name))
            except TrainingLogError:
                trains.append(sd / r["dir"])  # reported as not loaded, with the reason
    rest = [x for x in inputs if x is not studies[0]]
    return runs + rest, [*trains, *training], collect_study(sd)


def _title(runs: list[Run], baseline: Run | None) -> str:
    if not runs:
        return "specs-eval report: training runs"
    if baseline is None or len(runs) == 1:
        return "specs-eval report: " + ", ".join(r.name for r in runs)
    others = [r.name for r in runs if r is not baseline]
    return f"specs-eval report: {', '.join(others)} vs {baseline.name}"
