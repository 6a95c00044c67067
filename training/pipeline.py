"""``specs-train pipeline``: base eval → zero-RL → distill → cold start → RL, resumable.

Why a fixed layout of numbered stage folders: the analysis loader, the report and a
human with ``ls`` all find the same things in the same places, and a rerun of the same
command knows from each folder's manifest what is done. Completed stages are skipped
(after checking they were produced from the same config and inputs), an interrupted one
resumes from its last checkpoint, and ``--redo STAGE`` starts a stage and everything
after it over. One pipeline process per folder: the folder is locked while it runs (a second
``specs-train pipeline`` on it is refused with the holder's pid; the lock of a killed one is
taken over).

  <out>/pipeline.json   the resolved config and the stage layout
  <out>/summary.json    base → zero-RL → cold start → RL numbers per split (+ summary.md)
  <out>/00-base/        eval of the base model (stage "eval")
  <out>/01-zero-rl/     <out>/02-distill/   <out>/03-cold-start/   <out>/04-rl/
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from specs_eval.core.io import FolderLock, atomic_write_json, atomic_write_text, clean_stale_tmp
from training.config import PipelineConfig
from training.launch import Launcher
from training.manifest import StageError, StageManifest, invocation, now, read_manifest
from training.stages.base import StageContext, file_ref, model_ref, run_stage
from training.stages.distill import PAIRS_FILE
from training.stages.train import MODEL_DIR

PIPELINE_FILE = "pipeline.json"
SUMMARY_FILE = "summary.json"
SUMMARY_MD = "summary.md"
REPORT_FILE = "report.html"
# (key, folder, stage kind)
LAYOUT: tuple[tuple[str, str, str], ...] = (
    ("base", "00-base", "eval"),
    ("zero-rl", "01-zero-rl", "zero-rl"),
    ("distill", "02-distill", "distill"),
    ("cold-start", "03-cold-start", "cold-start"),
    ("rl", "04-rl", "rl"),
)
FOLDERS = {k: f for k, f, _ in LAYOUT}


def _enabled(config: PipelineConfig, key: str) -> bool:
    if key == "base":
        return config.eval.enabled and "base" in config.eval.after
    return bool(config.stage_config(key).enabled)  # type: ignore[attr-defined]


def redo_from(out: Path, stage: str, log: Callable[[str], None]) -> None:
    """Delete ``stage``'s folder and every later one."""
    keys = [k for k, _, _ in LAYOUT]
    if stage not in keys:
        raise StageError(stage, f"unknown stage for --redo; known: {', '.join(keys)}")
    for key in keys[keys.index(stage):]:
        d = out / FOLDERS[key]
        if d.exists():
            log(f"--redo: removing {d.name}")
            shutil.rmtree(d)


def run_pipeline(config: PipelineConfig, out: Path, redo: Sequence[str] = (), until: str | None = None,
                 log: Callable[[str], None] = print, launcher: Launcher | None = None, judge_fn: Any = None
                 ) -> dict[str, StageManifest]:
    """Run every enabled stage in order (skipping completed ones); returns the manifests by stage key."""
    out = Path(out)
    with FolderLock(out, what="`specs-train pipeline`") as lock:
        if lock.took_over:
            log(f"taking over the lock of a pipeline process that is gone (pid {lock.took_over.get('pid')})")
        clean_stale_tmp(out, recursive=False)  # the stages clean their own folders under their locks
        return _run_pipeline_locked(config, out, redo, until, log, launcher, judge_fn)


def _run_pipeline_locked(config: PipelineConfig, out: Path, redo: Sequence[str], until: str | None,
                         log: Callable[[str], None], launcher: Launcher | None, judge_fn: Any
                         ) -> dict[str, StageManifest]:
    for stage in redo:
        redo_from(out, stage, log)
    atomic_write_json(out / PIPELINE_FILE, {"schema_version": 1, "updated": now(), "command": invocation(),
                                            "layout": {k: f for k, f, _ in LAYOUT},
                                            "config": config.model_dump(mode="json")})
    base = config.base_model
    done: dict[str, StageManifest] = {}
    ev_after = set(config.eval.after) if config.eval.enabled else set()

    def stage(key: str, inputs: dict[str, str]) -> StageManifest:
        kind = dict((k, s) for k, _, s in LAYOUT)[key]
        d = out / FOLDERS[key]
        refs = {}
        for role, value in inputs.items():
            refs[role] = file_ref("pairs", Path(value), out) if role == "pairs" else model_ref(value, out)
        ctx = StageContext(stage=kind, dir=d, config=config, inputs=inputs, run_name=FOLDERS[key],
                           evaluate=key in ev_after and kind != "eval", log=log, launcher=launcher,
                           judge_fn=judge_fn if kind == "distill" else None, input_refs=refs)
        log(f"── {FOLDERS[key]} ({kind})")
        m = run_stage(ctx)
        done[key] = m
        write_summary(out)
        return m

    def model_of(key: str) -> str:
        return str(out / FOLDERS[key] / MODEL_DIR)

    order = [k for k, _, _ in LAYOUT]
    stop = order.index(until) if until else len(order) - 1
    if _enabled(config, "base") and stop >= 0:
        stage("base", {"model": base})
    if _enabled(config, "zero-rl") and stop >= 1:
        stage("zero-rl", {"model": base})
    if _enabled(config, "distill") and stop >= 2:
        src = config.distill.chosen_from
        if src == "zero-rl":
            if not _enabled(config, "zero-rl"):
                raise StageError("distill", "distill.chosen_from=zero-rl but zero_rl.enabled is false; enable it or "
                                 "set distill.chosen_from to base or a teacher model")
            chosen = model_of("zero-rl")
        elif src == "base":
            chosen = base
        else:
            chosen = src
        stage("distill", {"base": base, "chosen_model": chosen})
    if _enabled(config, "cold-start") and stop >= 3:
        pairs = out / FOLDERS["distill"] / PAIRS_FILE
        if not _enabled(config, "distill") and not pairs.exists():
            raise StageError("cold-start", f"no pairs at {pairs}: enable the distill stage")
        stage("cold-start", {"model": base, "pairs": str(pairs)})
    if _enabled(config, "rl") and stop >= 4:
        start = model_of("cold-start") if _enabled(config, "cold-start") else base
        stage("rl", {"model": start})
    return done


def eval_runs(out: Path) -> list[Path]:
    """The eval run directories of a pipeline, in stage order."""
    runs = []
    for _, folder, _ in LAYOUT:
        m = read_manifest(out / folder)
        if m is not None and "eval" in m.outputs and (out / folder / m.outputs["eval"] / "results.json").exists():
            runs.append(out / folder / m.outputs["eval"])
    return runs


def write_pipeline_report(out: Path, log: Callable[[str], None] = print) -> Path | None:
    """``report.html`` (+ .json, .md): the analysis report over every stage's eval and the training logs.

    A pure function of the stored directories, written after the stages ran; a failure is
    reported and leaves the pipeline's results as they are.
    """
    runs = eval_runs(out)
    if len(runs) < 1:
        return None
    try:
        from analysis.report import ReportOptions, build_report, write_report
        from specs_eval.benchmarks.images import report_sources

        rep = build_report(runs, [out], ReportOptions(title=f"SPECS pipeline {out.name}", n_boot=1000,
                                                                **report_sources()))
        return write_report(rep, out / REPORT_FILE)["html"]
    except Exception as e:  # the report is a view; the stages' own files are the results
        log(f"report not written ({type(e).__name__}: {e}); the numbers are in {SUMMARY_MD}")
        return None


def _row(m: StageManifest) -> dict[str, Any]:
    row: dict[str, Any] = {"stage": m.stage, "status": m.status, "wall_s": m.wall_s, "step_wall_s": m.step_wall_s}
    ev = m.metrics.get("eval")
    if ev:
        row["eval_run"] = ev["run"]
        row["results"] = ev["results"]
    if "distill" in m.metrics:
        d = m.metrics["distill"]
        row["pairs"] = d.get("pairs")
        row["filter"] = {k: d.get(k) for k in ("prompts", "chosen_samples", "chosen_kept", "rejected_samples",
                                                "rejected_kept", "prompts_with_pair")}
    if "train_curve" in m.metrics:
        row["train_curve"] = m.metrics["train_curve"]
    return row


def summary(out: Path) -> dict[str, Any]:
    stages = {}
    for key, folder, _ in LAYOUT:
        m = read_manifest(out / folder)
        if m is not None:
            stages[key] = {"folder": folder, **_row(m)}
    walls = [st["wall_s"] for st in stages.values() if st.get("wall_s") is not None]
    return {"schema_version": 1, "pipeline": str(out.name), "stages": stages,
            "wall_s": round(sum(walls), 1) if walls else None, "vs_base": vs_base(out, stages)}


VS_BASE_METRICS = ("accuracy", "format_compliance")


def vs_base(out: Path, stages: dict[str, Any], n_boot: int = 1000) -> dict[str, Any]:
    """Each evaluated stage minus the base on the same items, in points, with 95 % paired
    item-bootstrap intervals and the exact McNemar p-value.

    Why in ``summary.json``: what the pipeline claims (RL lifts ID accuracy over the base, no
    OOD split falls) is then checked from its own files with its uncertainty, not read off
    two rounded percentages. Stages whose eval is missing or covers other items are left out.
    """
    base = stages.get("base")
    if not base or not base.get("eval_run"):
        return {}
    from analysis.compare import pair_split
    from analysis.frames import load_run, samples_frame, split_frame
    from analysis.stats import paired_compare

    keys = [k for k, st in stages.items() if st.get("eval_run") and st.get("status") == "complete"]
    try:
        runs = [load_run(out / stages[k]["folder"] / stages[k]["eval_run"], name=k) for k in keys]
        df = samples_frame(runs)
    except Exception:  # a view over the stage folders: the stages' own numbers stand
        return {}
    result: dict[str, Any] = {}
    for key in keys:
        if key == "base":
            continue
        per: dict[str, Any] = {}
        for bench, by_split in (stages[key].get("results") or {}).items():
            for split in by_split:
                cell: dict[str, Any] = {}
                for metric in VS_BASE_METRICS:
                    paired = pair_split(split_frame(df, "base", bench, split), split_frame(df, key, bench, split),
                                        metric, labels=("base", key), scope=f"{bench}/{split}")
                    if paired.refused or paired.n == 0:
                        continue
                    r = paired_compare(paired.sa, paired.ma, paired.sb, paired.mb, n_boot,
                                       ("vs-base", key, bench, split, metric))
                    cell[metric] = {"delta": round(100 * r.delta, 2),
                                    "lo": None if r.lo is None else round(100 * r.lo, 2),
                                    "hi": None if r.hi is None else round(100 * r.hi, 2),
                                    "p_value": r.p_value, "n_items": r.n}
                if cell:
                    per[f"{bench}/{split}"] = cell
        if per:
            result[key] = per
    return result


def write_summary(out: Path) -> dict[str, Any]:
    s = summary(out)
    atomic_write_json(out / SUMMARY_FILE, s)
    atomic_write_text(out / SUMMARY_MD, summary_markdown(s))
    return s


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def summary_markdown(s: dict[str, Any]) -> str:
    """Per stage and split: accuracy / format compliance / strict accuracy (%), and wall times."""
    lines = [f"# Pipeline {s['pipeline']}", ""]
    splits: list[tuple[str, str]] = []
    for st in s["stages"].values():
        for bench, by_split in (st.get("results") or {}).items():
            for split in by_split:
                if (bench, split) not in splits:
                    splits.append((bench, split))
    if splits:
        lines.append("accuracy / format compliance / strict accuracy, % (greedy)")
        lines.append("")
        lines.append("| stage | " + " | ".join(f"{b}/{sp}" for b, sp in splits) + " |")
        lines.append("|---|" + "---|" * len(splits))
        for key, st in s["stages"].items():
            res = st.get("results")
            if not res:
                continue
            cells = []
            for b, sp in splits:
                m = (res.get(b) or {}).get(sp)
                cells.append("" if m is None else
                             f"{_pct(m['accuracy'])} / {_pct(m['format_compliance'])} / {_pct(m['strict_accuracy'])}")
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("| stage | status | wall s | steps |")
    lines.append("|---|---|---|---|")
    for key, st in s["stages"].items():
        steps = ", ".join(f"{k} {v:.0f}" for k, v in st.get("step_wall_s", {}).items())
        lines.append(f"| {key} | {st['status']} | {st['wall_s']:.0f} | {steps} |")
    if s.get("vs_base"):
        lines += ["", "vs the base, points [95 % paired item-bootstrap interval]: accuracy; format compliance", "",
                  "| stage | " + " | ".join(f"{b}/{sp}" for b, sp in splits) + " |", "|---|" + "---|" * len(splits)]
        for key, per in s["vs_base"].items():
            cells = []
            for b, sp in splits:
                c = per.get(f"{b}/{sp}") or {}
                cells.append("; ".join(f"{v['delta']:+.1f} [{v['lo']:+.1f}, {v['hi']:+.1f}]" for v in c.values()
                                       if v.get("lo") is not None))
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    for st in s["stages"].values():
        if "pairs" in st:
            lines += ["", f"distill: {st['pairs']} pairs; " + ", ".join(f"{k} {v}" for k, v in st["filter"].items())]
    return "\n".join(lines) + "\n"
