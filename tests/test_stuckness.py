"""Stuckness and exploration metrics: group rates, diversity, RBF and format stickiness."""

from __future__ import annotations

import itertools
import math

import pytest

from analysis import answer_entropy, distinct_answers, load_run, samples_frame, split_exploration
from analysis.frames import split_frame
from analysis.stuckness import ItemGroup, group_rates
from tests.toy_runs import build_run, render, unit


def test_group_rates_by_hand():
    g = ItemGroup("x", [1.0, 0.0, 0.0, 0.0], [True, False, False, False], ["1", "2", "2", None], [True] * 4)
    r = group_rates(g, 2)
    assert r["unsolvable"] == pytest.approx(3 / 6)  # C(3,2)/C(4,2)
    assert r["all_correct"] == 0.0
    assert r["all_wrong"] == pytest.approx(3 / 6)
    assert r["zero_variance"] == pytest.approx(3 / 6)
    full = group_rates(g, 4)
    assert full == {"unsolvable": 0.0, "zero_variance": 0.0, "all_correct": 0.0, "all_wrong": 0.0}
    same = ItemGroup("y", [1.0] * 4, [True] * 4, ["1"] * 4, [True] * 4)
    assert group_rates(same, 4)["zero_variance"] == 1.0 and group_rates(same, 4)["all_correct"] == 1.0


def test_zero_variance_with_format_reward_brute_force():
    scores = [1.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    fmt = [True, False, True, True, False, True]
    g = ItemGroup("z", scores, [s == 1 for s in scores], [None] * 6, fmt)
    rewards = [s + 0.5 * f for s, f in zip(scores, fmt, strict=True)]
    for k in range(1, 7):
        subsets = list(itertools.combinations(range(6), k))
        brute = sum(len({rewards[i] for i in s}) == 1 for s in subsets) / len(subsets)
        assert group_rates(g, k, "accuracy+format")["zero_variance"] == pytest.approx(brute)


def test_diversity():
    assert answer_entropy(["a", "a", "b", "b"]) == pytest.approx(math.log(2))
    assert answer_entropy(["a"] * 5) == 0.0
    assert answer_entropy([None, None, "a", "a"]) == pytest.approx(math.log(2))  # no-answer is one class
    assert distinct_answers(["a", "b", None, None]) == 3
    assert distinct_answers([]) == 0


def test_split_exploration_on_a_run(tmp_path):
    # item i of each split: sample k correct iff k < i % 5 (so c_i = min(i % 5, 4) of 4); ood_format answers
    # keep the trained format for sample 0 only.
    def decide(row, split, k):
        i = int(row["pid"].rsplit("-", 1)[1])
        return k < i % 5, ("specs" if split == "ood_format" and k == 0 else None)

    run = load_run(build_run(tmp_path, "r", decide, n_items=10, n_samples=4))
    df = samples_frame([run])
    part = split_frame(df, "r", "toyworld", "id")
    ex = split_exploration(part, "r", "toyworld", "id", k=2, n_boot=100)
    cs = [min(i % 5, 4) for i in range(10)]
    assert ex.k == 2 and ex.n_min == ex.n_max == 4
    assert ex.metrics["pass@1"]["value"] == pytest.approx(sum(cs) / 40)
    assert ex.metrics["pass@k"]["value"] == pytest.approx(sum(1 - math.comb(4 - c, 2) / 6 for c in cs) / 10)
    assert ex.pass_at_k[4] == pytest.approx(sum(c > 0 for c in cs) / 10)
    assert ex.metrics["unsolvable@k"]["value"] == pytest.approx(1 - ex.metrics["pass@k"]["value"])
    zv = sum((math.comb(c, 2) + math.comb(4 - c, 2)) / 6 for c in cs) / 10
    assert ex.metrics["zero_variance@k"]["value"] == pytest.approx(zv)
    assert ex.metrics["all_correct@k"]["value"] + ex.metrics["all_wrong@k"]["value"] == pytest.approx(zv)
    assert ex.metrics["exploration_gap"]["value"] == pytest.approx(ex.metrics["pass@k"]["value"]
                                                                    - ex.metrics["pass@1"]["value"])
    # RBF and entropy: rollout-averaged TokenStats
    assert ex.metrics["rbf"]["value"] == pytest.approx(part["nucleus_mean"].mean())
    assert ex.metrics["token_entropy"]["value"] == pytest.approx(part["entropy_mean"].mean())
    assert "format_stickiness" not in ex.metrics  # not a format-shift split
    fmt = split_exploration(split_frame(df, "r", "toyworld", "ood_format"), "r", "toyworld", "ood_format", n_boot=50)
    assert fmt.metrics["format_stickiness"]["value"] == pytest.approx(1 / 4)
    assert fmt.metrics["shift_compliance"]["value"] == pytest.approx(3 / 4)


def test_single_sample_metrics_are_absent_not_zero(tmp_path):
    run = load_run(build_run(tmp_path, "one", lambda row, split, k: (True, None), n_items=5, n_samples=1,
                             splits=("id",)))
    part = split_frame(samples_frame([run]), "one", "toyworld", "id")
    ex = split_exploration(part, "one", "toyworld", "id", n_boot=20)
    assert ex.k is None and "zero_variance@k" not in ex.metrics
    assert ex.metrics["pass@1"]["value"] == 1.0
    assert any(f.code == "single_sample" for f in ex.flags)


def test_render_helper_is_scored_as_intended(tmp_path):
    # guard for the test builder itself: a wrong answer is wrong, a right one right, in every format
    def decide(row, split, k):
        return unit("t", row["pid"]) < 0.5, None

    run = load_run(build_run(tmp_path, "g", decide, n_items=12, splits=("id", "ood_format")))
    for s in run.samples:
        assert s.parse_status == "ok"
        assert s.format_ok is True
        from specs_eval.benchmarks.toyworld.world import make_item

        split, seed, idx = s.id.rsplit("-", 2)
        row = make_item(split, int(idx), int(seed))
        assert s.correct == (unit("t", s.id) < 0.5)
        assert s.response == render(row, s.correct, None)
