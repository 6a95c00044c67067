"""Generalization Factor: hand-computed values, the ≤ 0 rule, properties, and run-level GF."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis import gamma_array, generalization_factor, gf_detail, gf_from_runs
from analysis.errors import AnalysisError
from tests.toy_runs import build_run


def test_paper_points():
    # paper-notes §2.1: DPO w. sft-loss at step 25, ID 98.5 / OOD 94.7 -> 95.4 on the figure
    assert generalization_factor(98.5, 94.7) == pytest.approx(5 * 98.5 * 94.7 / (4 * 98.5 + 94.7))
    assert generalization_factor(98.5, 94.7) == pytest.approx(95.436, abs=1e-3)
    # SFT at step 25: ID 98 / OOD 69 -> 73.3
    assert generalization_factor(98, 69) == pytest.approx(33810 / 461)
    assert round(generalization_factor(98, 69), 1) == 73.3


def test_beta_one_is_harmonic_mean():
    assert generalization_factor(20, 80, beta=1) == pytest.approx(2 * 20 * 80 / 100)


def test_large_beta_approaches_ood_gain():
    assert generalization_factor(90, 10, beta=100) == pytest.approx(10, rel=1e-3)


@pytest.mark.parametrize(("g_id", "g_ood", "status"), [
    (0.0, 10.0, "id_gain_nonpositive"),
    (10.0, 0.0, "ood_gain_nonpositive"),
    (10.0, -5.0, "ood_gain_nonpositive"),
    (-3.0, 4.0, "id_gain_nonpositive"),
    (-3.0, -4.0, "both_gains_nonpositive"),
    (-4.0, 16.0, "id_gain_nonpositive"),  # β²·G_ID + G_OOD = 0: the raw formula divides by zero
])
def test_nonpositive_gain_rule(g_id, g_ood, status):
    v = gf_detail(g_id, g_ood)
    assert v.gamma == 0.0
    assert v.status == status
    assert (v.g_id, v.g_ood) == (g_id, g_ood)  # raw gains kept
    assert gamma_array(np.array([g_id]), np.array([g_ood]))[0] == 0.0


@pytest.mark.parametrize("bad", [(math.nan, 1.0), (1.0, math.inf), (-math.inf, 2.0)])
def test_non_finite_gains_raise(bad):
    with pytest.raises(ValueError):
        generalization_factor(*bad)


def test_bad_beta_raises():
    with pytest.raises(ValueError):
        generalization_factor(1, 1, beta=0)


pos = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
anyf = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(pos, pos)
def test_between_gains_and_scale_invariant(a, b):
    g = generalization_factor(a, b)
    assert min(a, b) * (1 - 1e-9) <= g <= max(a, b) * (1 + 1e-9)
    assert generalization_factor(3 * a, 3 * b) == pytest.approx(3 * g, rel=1e-9)


@given(anyf, anyf)
def test_never_nan_and_vectorised_agrees(a, b):
    g = generalization_factor(a, b)
    assert math.isfinite(g) and g >= 0
    assert gamma_array(np.array([a]), np.array([b]))[0] == pytest.approx(g, rel=1e-12, abs=1e-12)


@given(pos, pos, pos)
def test_monotone_in_each_gain(a, b, d):
    assert generalization_factor(a + d, b) >= generalization_factor(a, b) * (1 - 1e-12)
    assert generalization_factor(a, b + d) >= generalization_factor(a, b) * (1 - 1e-12)


# ---------------------------------------------------------------------------------------------
# Run level, on toy runs with hand-set accuracies (10 items per split, one sample each)

def index_decider(correct_below: dict[str, int], fmt=None):
    """Item i of a split is correct iff i < correct_below[split]."""

    def decide(row, split, k):
        return int(row["pid"].rsplit("-", 1)[1]) < correct_below[split], fmt

    return decide


BASE_Q = {"id": 2, "ood_visual": 1, "ood_task": 1, "ood_format": 1}
CAND_Q = {"id": 9, "ood_visual": 6, "ood_task": 3, "ood_format": 5}


@pytest.fixture(scope="module")
def gf_runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gf")
    return {
        "base": build_run(root, "base", index_decider(BASE_Q), n_items=10),
        "cand": build_run(root, "cand", index_decider(CAND_Q), n_items=10),
        "short": build_run(root, "short", index_decider(CAND_Q), n_items=8),
        "no_task": build_run(root, "no_task", index_decider(CAND_Q), n_items=10,
                             splits=("id", "ood_visual", "ood_format")),
    }


def test_run_level_hand_computed(gf_runs):
    r = gf_from_runs(gf_runs["base"], gf_runs["cand"], n_boot=300)
    assert r.status == "ok"
    assert r.g_id == pytest.approx(70.0)
    assert r.g_ood == pytest.approx((50 + 20 + 40) / 3)
    assert r.gamma == pytest.approx(38500 / 950)  # 5·70·(110/3) / (4·70 + 110/3)
    assert {s.split: s.gain for s in r.splits} == pytest.approx(
        {"id": 70.0, "ood_visual": 50.0, "ood_task": 20.0, "ood_format": 40.0})
    # everything chosen is recorded
    c = r.config
    assert (c.metric, c.beta, c.id_splits, c.ood_splits) == ("accuracy", 2.0, ["id"],
                                                              ["ood_visual", "ood_task", "ood_format"])
    assert c.ood_weights == {"ood_visual": 1.0, "ood_task": 1.0, "ood_format": 1.0}
    assert r.gamma_ci[0] <= r.gamma <= r.gamma_ci[1]
    assert r.g_id_ci[0] <= r.g_id <= r.g_id_ci[1]


def test_run_level_weights_and_roles(gf_runs):
    r = gf_from_runs(gf_runs["base"], gf_runs["cand"], ood_weights={"ood_format": 2}, n_boot=0)
    assert r.g_ood == pytest.approx((50 + 20 + 2 * 40) / 4)
    assert r.gamma_ci is None
    r = gf_from_runs(gf_runs["base"], gf_runs["cand"], id_splits=["id"], ood_splits=["ood_task"], n_boot=0)
    assert r.g_ood == pytest.approx(20.0)
    assert r.config.roles_source == "user"


def test_run_level_format_compliance_metric(gf_runs):
    # every response follows the requested format: compliance 100% in both runs, gains 0 -> Γ = 0, flagged
    r = gf_from_runs(gf_runs["base"], gf_runs["cand"], metric="format_compliance", n_boot=0)
    assert (r.g_id, r.g_ood, r.gamma, r.status) == (0.0, 0.0, 0.0, "both_gains_nonpositive")
    assert any(f["code"] == "gf_nonpositive_gain" for f in r.flags)


def test_baseline_better_than_candidate(gf_runs):
    r = gf_from_runs(gf_runs["cand"], gf_runs["base"], n_boot=200)
    assert r.status == "both_gains_nonpositive"
    assert r.gamma == 0.0 and r.g_id == pytest.approx(-70.0)
    assert r.p_gamma_zero == 1.0


def test_identical_runs_give_zero_with_degenerate_interval(gf_runs):
    from analysis import load_run

    other = load_run(gf_runs["cand"], name="cand-again")
    r = gf_from_runs(gf_runs["cand"], other, n_boot=200)
    assert r.gamma == 0.0 and r.g_id_ci == [0.0, 0.0]


def test_missing_split_refuses(gf_runs):
    r = gf_from_runs(gf_runs["base"], gf_runs["no_task"], n_boot=0)
    assert r.status == "refused" and r.gamma is None
    assert any(f["code"] == "empty_split" for f in r.flags)


def test_different_items_refused_unless_common_items(gf_runs):
    r = gf_from_runs(gf_runs["base"], gf_runs["short"], n_boot=0)
    assert r.status == "refused"
    assert any(f["code"] == "different_items" for f in r.flags)
    r = gf_from_runs(gf_runs["base"], gf_runs["short"], n_boot=0, common_items=True)
    assert r.status == "ok"
    assert any(f["code"] == "common_items_only" for f in r.flags)
    # on the first 8 items: ID base 2/8, cand 8/8
    assert r.g_id == pytest.approx(100 * (8 / 8 - 2 / 8))


def test_unknown_metric_rejected(gf_runs):
    with pytest.raises(AnalysisError):
        gf_from_runs(gf_runs["base"], gf_runs["cand"], metric="f1")


def test_default_roles_drop_splits_no_run_has(tmp_path):
    a = build_run(tmp_path, "a", index_decider(BASE_Q), n_items=10, splits=("id", "ood_format"))
    b = build_run(tmp_path, "b", index_decider(CAND_Q), n_items=10, splits=("id", "ood_format"))
    r = gf_from_runs(a, b, n_boot=0)
    assert r.status == "ok" and r.config.ood_splits == ["ood_format"]
    assert r.config.dropped_splits == ["ood_visual", "ood_task"]
    assert r.g_ood == pytest.approx(40.0)
    assert any(f["code"] == "gf_roles_reduced" for f in r.flags)


def test_user_split_typos_rejected(gf_runs):
    with pytest.raises(AnalysisError, match="unknown split"):
        gf_from_runs(gf_runs["base"], gf_runs["cand"], ood_splits=["ood_txt"])
    with pytest.raises(AnalysisError, match="unknown split"):
        gf_from_runs(gf_runs["base"], gf_runs["cand"], ood_weights={"ood_fromat": 2})
    with pytest.raises(AnalysisError, match="not an OOD split"):
        gf_from_runs(gf_runs["base"], gf_runs["cand"], ood_weights={"id": 2})
