"""pass@k, majority@k and the exploration gap.

Why the unbiased estimator: with ``n`` samples of which ``c`` are correct, the naive
"any of the first k correct" is noisy and depends on sample order. The estimator of
Chen et al. (2021, Codex),

    pass@k = 1 − C(n−c, k) / C(n, k),

is the exact probability that a uniformly random k-subset of the n samples contains a
correct one, i.e. an unbiased estimate of pass@k for every k ≤ n. The report averages it
over items. ``exploration gap`` = pass@k − pass@1: how much a model gains from sampling,
the "exploration potential" the paper shows with MMMU@8 / @64.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one item: ``1 − C(n−c, k)/C(n, k)``; needs ``0 ≤ c ≤ n`` and ``1 ≤ k ≤ n``."""
    if not (isinstance(n, int | np.integer) and isinstance(c, int | np.integer) and isinstance(k, int | np.integer)):
        raise TypeError("pass_at_k takes integers n, c, k")
    if not 0 <= c <= n:
        raise ValueError(f"need 0 ≤ c ≤ n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 ≤ k ≤ n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def prob_all_same(counts: Iterable[int], n: int, k: int) -> float:
    """Probability that a random k-subset of n samples falls in one class: ``Σ_v C(n_v, k)/C(n, k)``.

    ``counts`` are the class sizes (e.g. numbers of samples per distinct reward); used for
    the zero-variance rate of a GRPO group of size k.
    """
    if not 1 <= k <= n:
        raise ValueError(f"need 1 ≤ k ≤ n, got n={n}, k={k}")
    return sum(math.comb(int(v), k) for v in counts) / math.comb(n, k)


def default_ks(n: int) -> list[int]:
    """Powers of two up to ``n``, plus ``n`` itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks[-1] != n:
        ks.append(n)
    return ks


def pass_at_k_curve(groups: Sequence[tuple[int, int]], ks: Sequence[int] | None = None) -> dict[int, float]:
    """Mean pass@k over items given ``(n, c)`` per item, for each k ≤ min n (default ``default_ks``)."""
    if not groups:
        return {}
    n_min = min(n for n, _ in groups)
    ks = [k for k in (ks or default_ks(n_min)) if 1 <= k <= n_min]
    return {k: float(np.mean([pass_at_k(n, c, k) for n, c in groups])) for k in ks}


def majority_vote_correct(predictions: Sequence[str | None], correct: Sequence[bool]) -> float:
    """Expected correctness of a majority vote over these samples.

    Votes are the normalised predictions; unparsed samples (``None``) do not vote. An answer
    is correct if a sample that gave it was scored correct. Ties are broken uniformly at
    random, so the result is the share of tied top answers that are correct. No votes: 0.
    """
    votes = Counter(p for p in predictions if p is not None)
    if not votes:
        return 0.0
    top = max(votes.values())
    tied = [a for a, v in votes.items() if v == top]
    good = {p for p, ok in zip(predictions, correct, strict=True) if ok and p is not None}
    return sum(a in good for a in tied) / len(tied)


def majority_at_k(predictions: Sequence[str | None], correct: Sequence[bool], k: int) -> float:
    """majority@k of one item from its first k samples (in ``sample_idx`` order)."""
    if not 1 <= k <= len(predictions):
        raise ValueError(f"need 1 ≤ k ≤ n, got n={len(predictions)}, k={k}")
    return majority_vote_correct(predictions[:k], correct[:k])
