"""Bootstrap intervals, McNemar's exact test and paired comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import bootstrap_mean, bootstrap_ratio, mcnemar_exact, paired_compare


def test_mcnemar_exact_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(5, 5) == 1.0


def test_bootstrap_basics():
    v = [1.0] * 10
    e = bootstrap_mean(v, n_boot=100)
    assert (e.value, e.lo, e.hi) == (1.0, 1.0, 1.0)
    rng = np.random.default_rng(1)
    x = rng.random(400)
    a = bootstrap_mean(x, n_boot=1000, seed=("x", 1))
    b = bootstrap_mean(x, n_boot=1000, seed=("x", 1))
    assert a == b  # deterministic per seed
    assert a.lo < a.value < a.hi
    # close to the normal-theory interval for a mean of 400 uniforms
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert (a.hi - a.lo) / 2 == pytest.approx(half, rel=0.2)
    wide = bootstrap_mean(x, n_boot=1000, seed=("x", 1), level=0.99)
    assert wide.lo <= a.lo and wide.hi >= a.hi
    no = bootstrap_mean(x, n_boot=0)
    assert no.lo is None and no.hi is None


def test_ratio_equals_sample_mean():
    s = np.array([2.0, 0.0, 3.0])
    m = np.array([4.0, 2.0, 3.0])
    assert bootstrap_ratio(s, m, n_boot=10).value == pytest.approx(5 / 9)
    with pytest.raises(ValueError):
        bootstrap_ratio(np.array([]), np.array([]))


def test_paired_binary_uses_mcnemar():
    a = np.array([1, 0, 0, 0, 1, 0, 0, 0], dtype=float)
    b = np.array([1, 1, 1, 1, 1, 1, 0, 0], dtype=float)
    one = np.ones(8)
    r = paired_compare(a, one, b, one, n_boot=500)
    assert r.test == "mcnemar_exact"
    assert (r.a_only, r.b_only) == (0, 4)
    assert r.p_value == pytest.approx(2 / 16)
    assert r.delta == pytest.approx(0.5)
    assert r.lo <= r.delta <= r.hi


def test_paired_multi_sample_uses_bootstrap():
    a = np.array([1, 2, 0, 1, 2, 0, 1, 0], dtype=float)
    b = np.array([4, 4, 3, 4, 4, 4, 3, 4], dtype=float)
    m = np.full(8, 4.0)
    r = paired_compare(a, m, b, m, n_boot=999)
    assert r.test == "paired_bootstrap"
    assert r.significant and r.delta > 0
    assert r.p_value == pytest.approx(2 / 1000)  # every resample positive: the (k+1)/(B+1) floor
    same = paired_compare(a, m, a, m, n_boot=200)
    assert same.delta == 0 and same.p_value == 1.0 and not same.significant


def test_paired_needs_aligned_items():
    with pytest.raises(ValueError):
        paired_compare(np.ones(3), np.ones(3), np.ones(2), np.ones(2))
