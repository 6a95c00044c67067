"""Ψ, the per-split metrics a comparison or a Generalization Factor can be computed on.

Why a registry: GF's Ψ is configurable (the paper's GF figure most likely plots format
compliance, the tables accuracy), and the choice must be a recorded name, not code in a
notebook. Each metric is a per-sample value; a split's value is the mean over its samples,
exactly as ``specs_eval.scoring.engine.split_metrics`` computes ``results.json``:

* ``accuracy``           mean ``score`` of the headline profile (partial credit allowed), or of
                         ``profile`` when given (its ``score.<profile>`` column); samples whose
                         verdict is marked ``not_scored`` (e.g. MEGA-Bench open set without a
                         judge) are left out, as in the scoring engine;
* ``format_compliance``  mean of ``format_ok`` over samples whose requested format is known
                         (undefined when no sample of the split requested a format);
* ``strict_accuracy``    mean of ``correct ∧ format_ok`` over scored samples (samples without a
                         format verdict count as 0; undefined when no sample has one);
* ``format_stickiness``  mean of ``in_trained_format`` over format-shift samples only.

Bootstraps resample *items* (prompts), not samples, because the ``n`` samples of one
prompt are correlated; so metrics are reduced here to per-item sums ``s`` and counts ``m``,
and a split's value is ``Σs / Σm`` — identical to the per-sample mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

METRICS: dict[str, str] = {
    "accuracy": "mean score (headline scoring profile unless another is chosen)",
    "format_compliance": "share of responses that follow the requested output format",
    "strict_accuracy": "share of responses that are correct and follow the requested format",
    "format_stickiness": "on format-shift prompts, share of responses in the trained (SPECS) format",
}


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise AnalysisError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    return metric


def sample_values(part: pd.DataFrame, metric: str, profile: str | None = None) -> np.ndarray:
    """Per-sample values of ``metric`` for the rows of one split (NaN where undefined)."""
    check_metric(metric)
    n = len(part)
    if n == 0:
        return np.zeros(0)
    scored = part["scored"].to_numpy(dtype=bool) if "scored" in part.columns else np.ones(n, dtype=bool)
    if metric == "accuracy":
        if profile is None:
            return np.where(scored, part["score"].to_numpy(dtype=float), np.nan)
        col = f"score.{profile}"
        if col not in part.columns:
            raise AnalysisError(f"scoring profile {profile!r} was not computed for these samples")
        return pd.to_numeric(part[col], errors="coerce").to_numpy(dtype=float)
    if metric == "format_compliance":
        return part["format_ok"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if metric == "format_stickiness":
        return part["in_trained_format"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    # strict_accuracy
    fmt = part["format_ok"]
    if fmt.isna().all():
        return np.full(n, np.nan)
    if profile is None:
        correct = part["correct"].to_numpy(dtype=bool)
    else:
        col = f"correct.{profile}"
        if col not in part.columns:
            raise AnalysisError(f"scoring profile {profile!r} was not computed for these samples")
        correct = part[col].fillna(False).to_numpy(dtype=bool)
    out = (correct & fmt.fillna(False).to_numpy(dtype=bool)).astype(float)
    if profile is None:
        out[~scored] = np.nan
    else:
        out[np.isnan(pd.to_numeric(part[f"score.{profile}"], errors="coerce").to_numpy(dtype=float))] = np.nan
    return out


def item_sums(part: pd.DataFrame, metric: str, profile: str | None = None) -> pd.DataFrame:
    """Per item (``id``, sorted): ``s`` = sum of defined sample values, ``m`` = their count.

    Items whose samples are all undefined for the metric are dropped; an empty frame means
    the metric is undefined for the split.
    """
    vals = sample_values(part, metric, profile)
    if len(vals) == 0:
        return pd.DataFrame({"s": [], "m": []}, index=pd.Index([], name="id"))
    t = pd.DataFrame({"id": part["id"].to_numpy(), "v": vals})
    t = t[~np.isnan(t["v"].to_numpy())]
    g = t.groupby("id", sort=True)["v"].agg(s="sum", m="count")
    return g[g["m"] > 0].astype(float)


def value(part: pd.DataFrame, metric: str, profile: str | None = None) -> float | None:
    """The split's value of ``metric`` (a fraction), or ``None`` when undefined."""
    t = item_sums(part, metric, profile)
    if len(t) == 0:
        return None
    return float(t["s"].sum() / t["m"].sum())
