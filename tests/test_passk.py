"""pass@k against its closed form and against brute-force enumeration of k-subsets."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis import majority_at_k, pass_at_k, pass_at_k_curve
from analysis.passk import default_ks, majority_vote_correct, prob_all_same


@pytest.mark.parametrize("n", range(1, 11))
def test_closed_form_and_brute_force(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            closed = 1 - math.comb(n - c, k) / math.comb(n, k)
            samples = [1] * c + [0] * (n - c)
            subsets = list(itertools.combinations(range(n), k))
            brute = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
            assert pass_at_k(n, c, k) == pytest.approx(closed, abs=1e-12)
            assert pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12)


def test_edges():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 3, 8) == 1.0  # fewer wrong samples than k
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_invalid(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_type_checked():
    with pytest.raises(TypeError):
        pass_at_k(5.0, 2, 1)  # type: ignore[arg-type]


@given(st.integers(1, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_monotone_in_k_and_c(t):
    n, c, k = t
    p = pass_at_k(n, c, k)
    assert 0.0 <= p <= 1.0
    if k < n:
        assert pass_at_k(n, c, k + 1) >= p - 1e-12
    if c < n:
        assert pass_at_k(n, c + 1, k) >= p - 1e-12


def test_prob_all_same_brute_force():
    labels = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    n = len(labels)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(range(n), k))
        brute = sum(len({labels[i] for i in s}) == 1 for s in subsets) / len(subsets)
        assert prob_all_same([3, 2, 4], n, k) == pytest.approx(brute)


def test_curve_and_default_ks():
    assert default_ks(8) == [1, 2, 4, 8]
    assert default_ks(6) == [1, 2, 4, 6]
    curve = pass_at_k_curve([(4, 1), (4, 0), (4, 4)])
    assert curve[1] == pytest.approx((0.25 + 0 + 1) / 3)
    assert curve[4] == pytest.approx((1 + 0 + 1) / 3)
    assert pass_at_k_curve([]) == {}


def test_majority():
    assert majority_vote_correct(["3", "3", "4"], [True, True, False]) == 1.0
    assert majority_vote_correct(["3", "4", "4"], [True, False, False]) == 0.0
    assert majority_vote_correct(["3", "4"], [True, False]) == 0.5  # tie: expected value of a random break
    assert majority_vote_correct([None, None, "4"], [False, False, True]) == 1.0  # unparsed samples do not vote
    assert majority_vote_correct([None, None], [False, False]) == 0.0
    assert majority_at_k(["4", "3", "3", "3"], [False, True, True, True], 1) == 0.0
    assert majority_at_k(["4", "3", "3", "3"], [False, True, True, True], 3) == 1.0
    with pytest.raises(ValueError):
        majority_at_k(["1"], [True], 2)
