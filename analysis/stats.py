"""Uncertainty for every headline number: bootstrap intervals and paired tests.

Why these choices:
* The paper reports single numbers and its reviewers asked for significance. Items
  (prompts) are the unit of resampling: the ``n`` samples of one prompt are correlated,
  so a sample-level bootstrap would understate the uncertainty.
* Two runs on the same items are compared *paired* (the same resampled items for both),
  which is much tighter than comparing two independent intervals.
* McNemar's exact test is the classical paired test for one binary verdict per item; it
  is used when both runs have exactly one 0/1 score per item, the paired bootstrap
  otherwise (several samples per item, partial credit).
* Seeds are derived from a stable hash of what is being estimated (run, split, metric), so
  a number's interval does not depend on what else the report computes: reports are
  deterministic and two reports agree on a shared number.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DEFAULT_N_BOOT = 2000
DEFAULT_LEVEL = 0.95


def rng_for(seed: Any) -> np.random.Generator:
    """A numpy Generator from any seed value (int, str, tuple of those), stable across processes."""
    h = hashlib.sha256(repr(seed).encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(h[:16], "big")))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a percentile bootstrap interval (``lo``/``hi`` None without a bootstrap)."""

    value: float
    lo: float | None
    hi: float | None
    level: float
    n: int
    n_boot: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairedResult:
    """``b − a`` on the same items, with a paired bootstrap interval and a two-sided p-value."""

    a: float
    b: float
    delta: float
    lo: float | None
    hi: float | None
    p_value: float | None
    test: str
    n: int
    n_boot: int
    level: float
    a_only: int | None = None  # McNemar: items right in a, wrong in b
    b_only: int | None = None  # … right in b, wrong in a

    @property
    def significant(self) -> bool:
        """The interval excludes zero (the report colours a delta only then)."""
        return self.lo is not None and self.hi is not None and (self.lo > 0 or self.hi < 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentiles(stats: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_indices(n: int, n_boot: int, seed: Any) -> np.ndarray:
    """``n_boot × n`` item indices drawn with replacement."""
    return rng_for(seed).integers(0, n, size=(n_boot, n))


def bootstrap_ratio(s: np.ndarray, m: np.ndarray, n_boot: int = DEFAULT_N_BOOT, seed: Any = 0,
                    level: float = DEFAULT_LEVEL) -> Estimate:
    """Σs/Σm over items with a percentile interval from resampling items.

    ``s`` is the per-item sum of sample values and ``m`` the per-item sample count, so the
    estimate equals the per-sample mean (see ``analysis.metrics``).
    """
    s = np.asarray(s, dtype=float)
    m = np.asarray(m, dtype=float)
    if len(s) == 0 or m.sum() <= 0:
        raise ValueError("bootstrap_ratio needs at least one item with samples")
    value = float(s.sum() / m.sum())
    if n_boot <= 0:
        return Estimate(value, None, None, level, len(s), 0)
    idx = bootstrap_indices(len(s), n_boot, seed)
    stats = s[idx].sum(axis=1) / m[idx].sum(axis=1)
    lo, hi = _percentiles(stats, level)
    return Estimate(value, lo, hi, level, len(s), n_boot)


def bootstrap_mean(values: Sequence[float], n_boot: int = DEFAULT_N_BOOT, seed: Any = 0,
                   level: float = DEFAULT_LEVEL) -> Estimate:
    """Mean of per-item values with a percentile interval."""
    v = np.asarray(values, dtype=float)
    return bootstrap_ratio(v, np.ones_like(v), n_boot=n_boot, seed=seed, level=level)


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (binomial test at 1/2)."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2.0 * tail / 2**n)


def paired_compare(sa: np.ndarray, ma: np.ndarray, sb: np.ndarray, mb: np.ndarray,
                   n_boot: int = DEFAULT_N_BOOT, seed: Any = 0, level: float = DEFAULT_LEVEL) -> PairedResult:
    """Compare run b with run a on the same items (arrays aligned by item).

    The interval is always the paired bootstrap of ``Ψ_b − Ψ_a``. The p-value is McNemar's
    exact test when both runs have one 0/1 value per item, else the two-sided paired
    bootstrap p-value ``min(1, 2·min(P*(Δ ≤ 0), P*(Δ ≥ 0)))`` with the ``(k+1)/(B+1)`` correction.
    """
    sa, ma, sb, mb = (np.asarray(x, dtype=float) for x in (sa, ma, sb, mb))
    n = len(sa)
    if n == 0 or not (len(ma) == len(sb) == len(mb) == n):
        raise ValueError("paired_compare needs the same, non-empty item set for both runs")
    a, b = float(sa.sum() / ma.sum()), float(sb.sum() / mb.sum())
    delta = b - a
    lo = hi = None
    stats = None
    if n_boot > 0:
        idx = bootstrap_indices(n, n_boot, seed)
        stats = sb[idx].sum(axis=1) / mb[idx].sum(axis=1) - sa[idx].sum(axis=1) / ma[idx].sum(axis=1)
        lo, hi = _percentiles(stats, level)
    binary = (np.all(ma == 1) and np.all(mb == 1) and np.all(np.isin(sa, (0.0, 1.0)))
              and np.all(np.isin(sb, (0.0, 1.0))))
    if binary:
        a_only = int(np.sum((sa == 1) & (sb == 0)))
        b_only = int(np.sum((sa == 0) & (sb == 1)))
        return PairedResult(a, b, delta, lo, hi, mcnemar_exact(a_only, b_only), "mcnemar_exact", n, n_boot, level,
                            a_only, b_only)
    if stats is None:
        return PairedResult(a, b, delta, lo, hi, None, "none", n, 0, level)
    p_le = (np.sum(stats <= 0) + 1) / (n_boot + 1)
    p_ge = (np.sum(stats >= 0) + 1) / (n_boot + 1)
    return PairedResult(a, b, delta, lo, hi, float(min(1.0, 2 * min(p_le, p_ge))), "paired_bootstrap", n,
                        n_boot, level)
