"""Training run directories: per-step logs of each pipeline stage, and GRPO group statistics.

Why here: "stuckness" shows during RL as groups whose rewards have no variance (GRPO gets
no gradient from them). ``specs-train`` logs, per stage, a folder with

    stage_manifest.json   {"schema_version": 1, "stage": "rl", …}   (anything else is kept)
    metrics.jsonl         one object per logged step:
                          {"schema_version": 1, "stage": "rl", "step": 10, "loss": …, "reward": …,
                           "reward_std": …, "frac_reward_zero_std": …, "entropy": …,
                           "completions/mean_length": …, "rewards/<name>/mean": …,
                           "rewards/chosen": …, "rewards/rejected": …, "rewards/margins": …,
                           "groups/zero_variance_rate": …, "groups/all_correct_rate": …,
                           "groups/all_wrong_rate": …, "groups/n": …}

and a pipeline directory holds one such folder per stage. This loader accepts a stage
folder or a pipeline folder, checks ``schema_version`` on the manifest and on every line
(a torn last line of a running job is dropped and noted), and keeps trl's keys as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import TrainingLogError
from analysis.flags import Flag

TRAINING_SCHEMA_VERSION = 1
STAGE_MANIFEST = "stage_manifest.json"
METRICS_FILE = "metrics.jsonl"

GROUP_KEYS = ("groups/zero_variance_rate", "groups/all_correct_rate", "groups/all_wrong_rate", "groups/n")
#: keys the report plots when present, in this order
CURVE_KEYS = (
    "reward", "reward_std", "frac_reward_zero_std", "groups/zero_variance_rate", "groups/all_correct_rate",
    "groups/all_wrong_rate", "entropy", "kl", "loss", "completions/mean_length", "completions/clipped_ratio",
    "clip_ratio/region_mean", "rewards/chosen", "rewards/rejected", "rewards/margins",
)


@dataclass
class TrainingStage:
    name: str
    stage: str
    path: Path
    manifest: dict[str, Any]
    rows: list[dict[str, Any]]
    flags: list[Flag] = field(default_factory=list)


@dataclass
class TrainingRun:
    name: str
    path: Path
    stages: list[TrainingStage]

    @property
    def flags(self) -> list[Flag]:
        return [f for s in self.stages for f in s.flags]


def _version_error(where: str, v: Any) -> TrainingLogError:
    return TrainingLogError(f"{where}: schema version {v!r}; this specs-eval reads training logs of schema version "
                            f"{TRAINING_SCHEMA_VERSION}")


def is_stage_dir(p: Path) -> bool:
    return (p / STAGE_MANIFEST).is_file() or (p / METRICS_FILE).is_file()


def is_training_dir(p: Path) -> bool:
    p = Path(p)
    return p.is_dir() and (is_stage_dir(p) or any(is_stage_dir(c) for c in p.iterdir() if c.is_dir()))


def load_stage(path: str | Path) -> TrainingStage:
    p = Path(path)
    where_m = f"{p.name}/{STAGE_MANIFEST}"
    manifest: dict[str, Any] = {}
    if (p / STAGE_MANIFEST).is_file():
        try:
            manifest = json.loads((p / STAGE_MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise TrainingLogError(f"{where_m}: cannot read ({type(e).__name__}: {e})") from None
        if not isinstance(manifest, dict):
            raise TrainingLogError(f"{where_m}: expected a JSON object")
        if manifest.get("schema_version") != TRAINING_SCHEMA_VERSION:
            raise _version_error(where_m, manifest.get("schema_version"))
    if not (p / METRICS_FILE).is_file():
        raise TrainingLogError(f"{p.name}: no {METRICS_FILE} in this training stage folder")
    stage = str(manifest.get("stage") or p.name)
    flags: list[Flag] = []
    rows: list[dict[str, Any]] = []
    lines = (p / METRICS_FILE).read_text(encoding="utf-8").splitlines()
    last = max((i for i, ln in enumerate(lines, 1) if ln.strip()), default=0)
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{p.name}/{METRICS_FILE}:{n}"
        try:
            obj = json.loads(line)
        except ValueError:
            if n == last:
                flags.append(Flag("info", "torn_line", f"{p.name}: last line of {METRICS_FILE} is incomplete "
                                  "(job still running?); dropped", f"training:{stage}"))
                continue
            raise TrainingLogError(f"{where}: not valid JSON") from None
        if not isinstance(obj, dict):
            raise TrainingLogError(f"{where}: expected a JSON object")
        if obj.get("schema_version") != TRAINING_SCHEMA_VERSION:
            raise _version_error(where, obj.get("schema_version"))
        step = obj.get("step")
        if isinstance(step, bool) or not isinstance(step, int):
            raise TrainingLogError(f"{where}: 'step' must be an integer, got {step!r}")
        obj.setdefault("stage", stage)
        rows.append(obj)
    if not rows:
        flags.append(Flag("info", "no_steps", f"{p.name}: no logged steps yet", f"training:{stage}"))
    return TrainingStage(name=p.name, stage=stage, path=p, manifest=manifest, rows=rows, flags=flags)


def load_training(path: str | Path, name: str | None = None) -> TrainingRun:
    """A stage folder or a pipeline folder (one stage folder per subfolder, in name order)."""
    p = Path(path)
    if not p.is_dir():
        raise TrainingLogError(f"{p}: not a training run directory (no such folder)")
    if is_stage_dir(p):
        stages = [load_stage(p)]
    else:
        subs = sorted(c for c in p.iterdir() if c.is_dir() and is_stage_dir(c))
        if not subs:
            raise TrainingLogError(f"{p.name}: no stage folders (with {STAGE_MANIFEST} and {METRICS_FILE}) inside")
        stages = [load_stage(c) for c in subs]
    return TrainingRun(name=name or p.name, path=p, stages=stages)


def training_frame(runs: list[TrainingRun] | TrainingRun) -> pd.DataFrame:
    """One row per logged step: ``run``, ``stage_dir``, ``stage``, ``step`` and every logged key as is."""
    runs = [runs] if isinstance(runs, TrainingRun) else runs
    rows = [{"run": r.name, "stage_dir": s.name, **row} for r in runs for s in r.stages for row in s.rows]
    if not rows:
        return pd.DataFrame(columns=["run", "stage_dir", "stage", "step"])
    df = pd.DataFrame(rows)
    front = ["run", "stage_dir", "stage", "step"]
    return df[front + sorted(c for c in df.columns if c not in front and c != "schema_version")]


def group_stats_by_step(df: pd.DataFrame) -> pd.DataFrame:
    """Per step: zero-variance, all-correct and all-wrong rates and their source.

    Our ``groups/*`` keys are used when logged; otherwise the zero-variance rate falls
    back to trl's ``frac_reward_zero_std`` (same quantity: share of groups whose reward
    std is 0) and the split into all-correct / all-wrong is unknown.
    """
    out = []
    for _, r in df.iterrows():
        zv = r.get("groups/zero_variance_rate")
        src = "groups"
        if zv is None or (isinstance(zv, float) and np.isnan(zv)):
            zv = r.get("frac_reward_zero_std")
            src = "frac_reward_zero_std"
            if zv is None or (isinstance(zv, float) and np.isnan(zv)):
                continue
        row = {"run": r["run"], "stage_dir": r["stage_dir"], "stage": r["stage"], "step": int(r["step"]),
               "zero_variance_rate": float(zv), "source": src}
        for k in ("all_correct_rate", "all_wrong_rate", "n"):
            v = r.get(f"groups/{k}") if src == "groups" else None
            row[k] = None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
        out.append(row)
    return pd.DataFrame(out, columns=["run", "stage_dir", "stage", "step", "zero_variance_rate", "all_correct_rate",
                                      "all_wrong_rate", "n", "source"])


def summarize_groups(df: pd.DataFrame, window: float = 0.2) -> list[dict[str, Any]]:
    """Per stage: mean group rates over the first and the last ``window`` share of logged steps."""
    g = group_stats_by_step(df)
    out = []
    for (run, stage_dir, stage), part in g.groupby(["run", "stage_dir", "stage"], sort=True):
        part = part.sort_values("step")
        w = max(1, round(len(part) * window))
        first, last = part.head(w), part.tail(w)
        row: dict[str, Any] = {"run": run, "stage_dir": stage_dir, "stage": stage, "steps": len(part),
                               "first_step": int(part["step"].iloc[0]), "last_step": int(part["step"].iloc[-1]),
                               "window": w, "source": str(part["source"].iloc[-1])}
        for k in ("zero_variance_rate", "all_correct_rate", "all_wrong_rate"):
            a, b = first[k].dropna(), last[k].dropna()
            row[f"{k}_first"] = float(a.mean()) if len(a) else None
            row[f"{k}_last"] = float(b.mean()) if len(b) else None
        out.append(row)
    return out
