"""Ψ, the per-split metrics a comparison or a Generalization Factor can be computed on.

Why no definitions here: every metric is one entry of the registry
``specs_eval.core.metrics.METRICS`` (per-sample value + reduction), which also writes
``results.json``. ``analysis.frames`` stores each registered metric's per-sample value as a
column ``metric.<name>`` (and ``metric.<name>.<profile>`` for profile-dependent metrics);
this module only reads those columns. Ψ can be any registered score (accuracy, format
compliance, strict accuracy, format stickiness); a GF study's Ψ is one marked ``psi``.

Bootstraps resample *items* (prompts), not samples, because the ``n`` samples of one
prompt are correlated; so metrics are reduced here to per-item sums ``s`` and counts ``m``,
and a split's value is ``Σs / Σm`` — identical to the per-sample mean of the registry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from specs_eval.core.metrics import METRICS as REGISTRY

#: the metrics a comparison or GF can use (every registered score, not the rates), with their descriptions
METRICS: dict[str, str] = {name: m.description for name, m in REGISTRY.items() if not m.rate}


def metric_column(metric: str, profile: str | None = None) -> str:
    """The samples-frame column holding ``metric``'s per-sample values (under ``profile``)."""
    return f"metric.{metric}" if profile is None else f"metric.{metric}.{profile}"


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise AnalysisError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    return metric


def sample_values(part: pd.DataFrame, metric: str, profile: str | None = None) -> np.ndarray:
    """Per-sample values of ``metric`` for the rows of one split (NaN where undefined)."""
    m = REGISTRY[check_metric(metric)]
    n = len(part)
    if n == 0:
        return np.zeros(0)
    if m.defined_if and part[m.defined_if].isna().all():
        return np.full(n, np.nan)
    col = metric_column(metric, profile if m.per_profile else None)
    if col not in part.columns:
        raise AnalysisError(f"scoring profile {profile!r} was not computed for these samples")
    return pd.to_numeric(part[col], errors="coerce").to_numpy(dtype=float)


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
