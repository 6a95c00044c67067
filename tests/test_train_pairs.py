"""The five corruption rules and preference-pair construction (pure functions, no model)."""

from __future__ import annotations

import random

import pytest

from specs_eval.benchmarks.toyworld.world import iter_split
from specs_eval.rules.formats import FORMATS
from training.corruption import (
    RULES,
    answer_prefix,
    corrupt,
    remove_all_tags,
    remove_answer_tags,
    remove_answer_tags_move_think_end,
    remove_think_tags,
)
from training.pairs import Candidate, build_pairs

GOOD = "<think>3 circles and 2 squares.</think>\n<answer>The answer is \\boxed{3}</answer>"


def test_each_rule_by_hand():
    assert remove_all_tags(GOOD) == "3 circles and 2 squares.\nThe answer is \\boxed{3}"
    assert remove_answer_tags(GOOD) == "<think>3 circles and 2 squares.</think>\nThe answer is \\boxed{3}"
    assert remove_think_tags(GOOD) == "3 circles and 2 squares.\n<answer>The answer is \\boxed{3}</answer>"
    assert remove_answer_tags_move_think_end(GOOD) == "<think>3 circles and 2 squares.\nThe answer is \\boxed{3}</think>"
    assert answer_prefix(GOOD) == "<think>3 circles and 2 squares.</think>\nAnswer:The answer is \\boxed{3}"


def test_move_think_end_keeps_trailing_whitespace_outside_and_adds_no_tag():
    assert remove_answer_tags_move_think_end(GOOD + "\n") == (
        "<think>3 circles and 2 squares.\nThe answer is \\boxed{3}</think>\n")
    assert remove_answer_tags_move_think_end("no tags at all") == "no tags at all"


@pytest.mark.parametrize("name", list(RULES))
def test_every_rule_breaks_the_format_of_compliant_responses(name):
    rule = RULES[name]
    n = 0
    for row in iter_split("train", 40):
        good = FORMATS["specs"].render(row["rationale"], row["answer_token"])
        assert FORMATS["specs"].check(good)
        bad = rule(good)
        assert not FORMATS["specs"].check(bad), (name, bad)
        # the content survives: every word of the rationale is still there
        assert all(w in bad for w in row["rationale"].split())
        n += 1
    assert n == 40


def test_corrupt_draws_every_rule_and_is_seeded():
    picks = [corrupt(GOOD, random.Random(i))[1] for i in range(200)]
    assert set(picks) == set(RULES)
    assert [corrupt(GOOD, random.Random(7)) for _ in range(3)] == [corrupt(GOOD, random.Random(7))] * 3


def _c(pid, idx, text, correct=True, truncated=False):
    return Candidate(id=pid, sample_idx=idx, text=text, correct=correct, truncated=truncated)


FMT = "<think>r{}</think><answer>\\boxed{{{}}}</answer>"


def test_decoupled_pairs_have_correct_answers_on_both_sides_and_broken_rejected_format():
    chosen = [_c("a", 0, FMT.format(0, 1)), _c("a", 1, "plain 1"), _c("a", 2, FMT.format(2, 9), correct=False),
              _c("b", 0, FMT.format(0, 2), truncated=True)]
    rejected = [_c("a", 0, FMT.format(5, 1)), _c("a", 1, "Answer: 1"), _c("a", 2, "wrong 7", correct=False),
                _c("b", 0, "2")]
    ps = build_pairs(chosen, rejected, mode="decoupled", seed=0)
    r = ps.report
    assert r.prompts == 2 and r.chosen_samples == 4 and r.chosen_truncated == 1
    assert r.chosen_correct == 2 and r.chosen_correct_and_format == 1 and r.chosen_kept == 1
    assert r.rejected_samples == 4 and r.rejected_answer_ok == 3  # 3 correct rejected samples
    assert r.prompts_with_chosen == 1 and r.prompts_with_pair == 1 and r.pairs == 1
    (p,) = ps.pairs
    assert p.id == "a" and p.chosen == FMT.format(0, 1) and p.mode == "decoupled"
    assert p.rejected_original in {FMT.format(5, 1), "Answer: 1"}
    assert not FORMATS["specs"].check(p.rejected) and FORMATS["specs"].check(p.chosen)
    assert p.rule in RULES and sum(r.rules.values()) == 1
    assert r.losses()["prompts_without_pair"] == 0.5


def test_coupled_pairs_take_wrong_answers_as_rejected():
    chosen = [_c("a", 0, FMT.format(0, 1))]
    rejected = [_c("a", 0, FMT.format(1, 1)), _c("a", 1, "it is 7", correct=False)]
    ps = build_pairs(chosen, rejected, mode="coupled", seed=0)
    assert ps.report.rejected_answer_ok == 1
    assert [p.rejected_original for p in ps.pairs] == ["it is 7"]


def test_pairs_per_prompt_and_distinct_texts():
    chosen = [_c("a", i, FMT.format(i, 1)) for i in range(3)] + [_c("a", 3, FMT.format(0, 1))]  # a duplicate text
    rejected = [_c("a", i, f"r{i} 1") for i in range(5)]
    ps = build_pairs(chosen, rejected, pairs_per_prompt=2, seed=3)
    assert ps.report.chosen_duplicates == 1 and ps.report.chosen_kept == 3
    assert len(ps.pairs) == 2
    assert len({p.chosen for p in ps.pairs}) == 2 and len({p.rejected for p in ps.pairs}) == 2
    again = build_pairs(chosen, rejected, pairs_per_prompt=2, seed=3)
    assert [p.model_dump() for p in again.pairs] == [p.model_dump() for p in ps.pairs]


def test_distinct_samples_never_pairs_a_sample_with_its_own_corruption():
    same = [_c("a", 0, FMT.format(0, 1)), _c("a", 1, "plain 1")]
    for seed in range(20):
        ps = build_pairs(same, same, seed=seed, distinct_samples=True)
        assert [(p.chosen_sample_idx, p.rejected_sample_idx) for p in ps.pairs] == [(0, 1)]


def test_judge_keeps_only_consistent_and_never_lets_a_failed_call_through():
    chosen = [_c("a", 0, FMT.format(0, 1)), _c("b", 0, FMT.format(0, 2)), _c("c", 0, FMT.format(0, 3))]
    rejected = [_c(x, 0, f"{x} plain") for x in "abc"]
    verdicts = {"a": True, "b": False, "c": None}
    ps = build_pairs(chosen, rejected, judge=lambda c: verdicts[c.id])
    assert ps.report.judge_checked == 3 and ps.report.judge_rejected == 1 and ps.report.judge_errors == 1
    assert [p.id for p in ps.pairs] == ["a"]


def test_zero_pairs_when_no_prompt_has_both_sides():
    ps = build_pairs([_c("a", 0, "plain")], [_c("b", 0, "plain")])
    assert ps.pairs == [] and ps.report.pairs == 0
