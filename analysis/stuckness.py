"""Stuckness and exploration from the n samples of each prompt.

Why these proxies: the paper claims an SFT cold start leaves a model "stuck" in
in-distribution solutions but gives no formula. We measure what "stuck" would mean for
a policy that RL then trains with GRPO (docs/metrics.md has every formula):

* pass@k, majority@k, exploration gap pass@k − pass@1 (``analysis.passk``);
* k-unsolvable rate: the chance that a group of k samples holds no correct answer;
* zero-variance rate: the chance that all k samples of a group get the same reward — a
  GRPO group with no learning signal — split into all-correct and all-wrong;
* answer diversity: distinct final answers among the n samples, and their entropy;
* rollout branching factor (mean top-p nucleus size per token) and token entropy, from
  the ``TokenStats`` the backend recorded;
* format stickiness: on format-shift prompts, the share of answers that keep the trained
  SPECS format instead of the requested one (instruction-style overfitting).

Group statistics use unbiased k-subset estimators over the n ≥ k samples of an item
(``C(n_v, k)/C(n, k)``), so they do not depend on sample order and equal the plain
rates when k = n.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.flags import Flag
from analysis.metrics import item_sums
from analysis.passk import default_ks, majority_at_k, pass_at_k, prob_all_same
from analysis.stats import DEFAULT_LEVEL, DEFAULT_N_BOOT, Estimate, bootstrap_mean, bootstrap_ratio

DEFAULT_GROUP_K = 8
Reward = Literal["accuracy", "accuracy+format"]
NO_ANSWER = "\u2205"  # the answer class of samples with no parsable answer


def answer_entropy(answers: list[str | None]) -> float:
    """Shannon entropy (nats) of the answers' empirical distribution; ``None`` is one class."""
    counts = Counter(NO_ANSWER if a is None else a for a in answers)
    n = sum(counts.values())
    return float(-sum(c / n * math.log(c / n) for c in counts.values())) if n else 0.0


def distinct_answers(answers: list[str | None]) -> int:
    """Number of distinct answers; samples without a parsable answer form one class."""
    return len({NO_ANSWER if a is None else a for a in answers})


@dataclass
class ItemGroup:
    """The samples of one prompt, in ``sample_idx`` order."""

    id: str
    scores: list[float]
    correct: list[bool]
    predictions: list[str | None]
    format_ok: list[bool | None]

    @property
    def n(self) -> int:
        return len(self.scores)

    def rewards(self, reward: Reward) -> list[float]:
        if reward == "accuracy":
            return [round(s, 9) for s in self.scores]
        return [round(s + (0.5 if f else 0.0), 9) for s, f in zip(self.scores, self.format_ok, strict=True)]


def item_groups(part: pd.DataFrame) -> list[ItemGroup]:
    """Group the rows of one split by item (sorted ids), samples by ``sample_idx``."""
    groups = []
    for item, g in part.sort_values(["id", "sample_idx"]).groupby("id", sort=True):
        preds = [None if (isinstance(p, float) and math.isnan(p)) or p is None else str(p) for p in g["prediction"]]
        fmt = [None if pd.isna(f) else bool(f) for f in g["format_ok"]]
        groups.append(ItemGroup(str(item), g["score"].astype(float).tolist(), g["correct"].astype(bool).tolist(),
                                preds, fmt))
    return groups


def group_rates(g: ItemGroup, k: int, reward: Reward = "accuracy") -> dict[str, float]:
    """Unbiased k-subset rates for one item: unsolvable, zero-variance, all-correct, all-wrong."""
    n = g.n
    c = sum(g.correct)
    wrong = sum(1 for s in g.scores if s == 0)
    return {
        "unsolvable": 1.0 - pass_at_k(n, c, k),
        "zero_variance": prob_all_same(Counter(g.rewards(reward)).values(), n, k),
        "all_correct": math.comb(c, k) / math.comb(n, k),
        "all_wrong": math.comb(wrong, k) / math.comb(n, k),
    }


def _est(e: Estimate | None) -> dict[str, Any] | None:
    return None if e is None else {"value": e.value, "lo": e.lo, "hi": e.hi}


@dataclass
class SplitExploration:
    """Exploration and stuckness numbers of one (run, benchmark, split). Rates are fractions."""

    run: str
    benchmark: str
    split: str
    n_items: int
    n_min: int
    n_max: int
    k: int | None
    reward: str
    pass_at_k: dict[int, float] = field(default_factory=dict)
    #: item-bootstrap interval [lo, hi] of each pass@k (None with fewer than 2 items or no resamples)
    pass_at_k_ci: dict[int, list[float] | None] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    stats_top_p: list[float] = field(default_factory=list)
    stats_approx: list[str] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pass_at_k"] = {str(k): v for k, v in self.pass_at_k.items()}
        d["pass_at_k_ci"] = {str(k): v for k, v in self.pass_at_k_ci.items()}
        d["flags"] = [f.to_dict() for f in self.flags]
        return d


def split_exploration(part: pd.DataFrame, run: str, benchmark: str, split: str, k: int | None = None,
                      reward: Reward = "accuracy", n_boot: int = DEFAULT_N_BOOT, seed: int = 0,
                      level: float = DEFAULT_LEVEL) -> SplitExploration:
    """All exploration/stuckness metrics of one split. Metrics that need n ≥ 2 samples are ``None`` otherwise."""
    if k is not None and k < 2:
        raise ValueError(f"group size k must be ≥ 2, got {k}")
    scope = f"{benchmark}/{split}"
    flags: list[Flag] = []
    not_scored = int((~part["scored"]).sum()) if "scored" in part.columns else 0
    if not_scored:
        flags.append(Flag("info", "not_scored", f"{run}: {not_scored} samples of {scope} could not be scored and are "
                          "left out of pass@k, group and diversity metrics", scope))
    groups = item_groups(part[part["scored"]] if not_scored else part)
    out = SplitExploration(run, benchmark, split, len(groups), min((g.n for g in groups), default=0),
                           max((g.n for g in groups), default=0), None, reward, flags=flags)
    if not groups:
        return out

    def boot(values: list[float], name: str) -> dict[str, Any] | None:
        if not values:
            return None
        return _est(bootstrap_mean(values, n_boot, (seed, run, benchmark, split, name), level))

    m = out.metrics
    n_min = out.n_min
    if out.n_min != out.n_max:
        flags.append(Flag("info", "uneven_samples", f"{run}: items of {scope} have {out.n_min}–{out.n_max} samples; "
                          "k-based metrics use k ≤ the smallest", scope))
    out.pass_at_k = {kk: float(np.mean([pass_at_k(g.n, sum(g.correct), kk) for g in groups]))
                     for kk in default_ks(n_min)}
    for kk in out.pass_at_k:  # the curve's intervals: the same item resamples for every k of the split
        e = bootstrap_mean([pass_at_k(g.n, sum(g.correct), kk) for g in groups], n_boot,
                           (seed, run, benchmark, split, "pass@k-curve"), level)
        out.pass_at_k_ci[kk] = None if e is None or e.lo is None or e.hi is None else [e.lo, e.hi]
    m["pass@1"] = boot([pass_at_k(g.n, sum(g.correct), 1) for g in groups], "pass@1")
    if n_min >= 2:
        kk = min(k or DEFAULT_GROUP_K, n_min)
        out.k = kk
        pk = [pass_at_k(g.n, sum(g.correct), kk) for g in groups]
        p1 = [pass_at_k(g.n, sum(g.correct), 1) for g in groups]
        m["pass@k"] = boot(pk, "pass@k")
        m["exploration_gap"] = boot([a - b for a, b in zip(pk, p1, strict=True)], "gap")
        m["majority@k"] = boot([majority_at_k(g.predictions, g.correct, kk) for g in groups], "maj")
        rates = [group_rates(g, kk, reward) for g in groups]
        for name in ("unsolvable", "zero_variance", "all_correct", "all_wrong"):
            m[f"{name}@k"] = boot([r[name] for r in rates], name)
        m["distinct_answers"] = boot([float(distinct_answers(g.predictions)) for g in groups], "distinct")
        m["answer_entropy"] = boot([answer_entropy(g.predictions) for g in groups], "entropy")
    else:
        flags.append(Flag("info", "single_sample", f"{run}: one sample per prompt in {scope}; pass@k (k>1), group "
                          "and diversity metrics need n ≥ 2 (run with generation n > 1 and temperature > 0)", scope))
    # token statistics: rollout branching factor and token entropy (rollout-averaged)
    has = part[part["nucleus_mean"].notna()]
    if len(has):
        for col, name in (("nucleus_mean", "rbf"), ("entropy_mean", "token_entropy")):
            t = has.groupby("id", sort=True)[col].agg(s="sum", m="count")
            m[name] = _est(bootstrap_ratio(t["s"].to_numpy(), t["m"].to_numpy(), n_boot,
                                           (seed, run, benchmark, split, name), level))
        m["token_stats_coverage"] = {"value": len(has) / len(part), "lo": None, "hi": None}
        out.stats_top_p = sorted({float(x) for x in has["stats_top_p"].dropna()})
        out.stats_approx = sorted({str(x) for x in has["stats_approx"].dropna()})
        if len(out.stats_top_p) > 1:
            flags.append(Flag("warn", "mixed_top_p", f"{run}: token statistics of {scope} use several nucleus top-p "
                              f"values {out.stats_top_p}; RBF mixes them", scope))
        elif out.stats_top_p and out.stats_top_p[0] != 0.95:
            flags.append(Flag("info", "rbf_top_p", f"{run}: RBF of {scope} uses top-p {out.stats_top_p[0]}, not 0.95",
                              scope))
        if out.stats_approx:
            flags.append(Flag("info", "rbf_approx", f"{run}: token statistics of {scope} are approximations "
                              f"({', '.join(out.stats_approx)})", scope))
    # format stickiness (format-shift samples only)
    for metric, name in (("format_stickiness", "format_stickiness"), ("format_compliance", "shift_compliance")):
        shift = part[part["in_trained_format"].notna()]
        t = item_sums(shift, metric)
        if len(t):
            m[name] = _est(bootstrap_ratio(t["s"].to_numpy(), t["m"].to_numpy(), n_boot,
                                           (seed, run, benchmark, split, name), level))
    return out


def exploration_frame(results: list[SplitExploration]) -> pd.DataFrame:
    """One row per split: each metric's value (``<name>``) and interval (``<name>_lo``, ``<name>_hi``)."""
    rows = []
    for r in results:
        row: dict[str, Any] = {"run": r.run, "benchmark": r.benchmark, "split": r.split, "n_items": r.n_items,
                               "n_min": r.n_min, "n_max": r.n_max, "k": r.k}
        for name, e in r.metrics.items():
            row[name] = None if e is None else e["value"]
            row[f"{name}_lo"] = None if e is None else e["lo"]
            row[f"{name}_hi"] = None if e is None else e["hi"]
        for kk, v in r.pass_at_k.items():
            row[f"pass@{kk}_curve"] = v
        rows.append(row)
    return pd.DataFrame(rows)
