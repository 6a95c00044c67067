"""RL rewards: the format and accuracy rewards are the harness's own checks (one scorer, two uses)."""

from __future__ import annotations

import json

import pytest

from specs_eval.benchmarks import get_benchmark
from specs_eval.benchmarks.toyworld.world import iter_split
from specs_eval.core.records import GenerationRecord
from specs_eval.rules.formats import FORMATS
from specs_eval.run.scoring import score_generations
from training.rewards import (
    accuracy_reward,
    completion_text,
    compute_score,
    easyr1_compute_score,
    format_reward,
    row_for_reward,
)

ROWS = list(iter_split("train", 30))


def _wrong_token(row):
    if row["choices"]:
        letters = "ABCDEFGH"[: len(row["choices"])]
        return next(x for x in letters if x != row["answer_token"])
    return str(int(float(row["answer"])) + 7)


def _responses(row):
    """(text, in SPECS format, correct) triples whose verdicts follow from how they were written."""
    specs, line = FORMATS["specs"], FORMATS["answer_line"]
    return [
        (specs.render(row["rationale"], row["answer_token"]), True, True),
        (specs.render(row["rationale"], _wrong_token(row)), True, False),
        (line.render(row["rationale"], row["answer_token"]), False, True),
        (f"<think>{row['rationale']}</think> \\boxed{{{row['answer_token']}}}", False, True),
        ("", False, False),
    ]


def test_rewards_follow_format_and_correctness_by_construction():
    for row in ROWS:
        cases = _responses(row)
        texts = [t for t, _, _ in cases]
        # trl passes conversational completions: a list with one assistant message
        completions = [[{"role": "assistant", "content": t}] for t in texts]
        n = len(cases)
        fmt = format_reward(completions)
        acc = accuracy_reward(completions, row_json=[row_for_reward(row)] * n, benchmark=["toyworld"] * n,
                              prompt_variant=["official"] * n)
        assert fmt == [0.5 if ok else 0.0 for _, ok, _ in cases], row["pid"]
        assert acc == [1.0 if good else 0.0 for _, _, good in cases], row["pid"]


def test_accuracy_reward_equals_the_run_engine_verdict():
    """The reward and the eval metric are the same function of the same text."""
    bench = get_benchmark("toyworld")
    gens, rows_by_id, texts, rows = [], {}, [], []
    for k, row in enumerate(ROWS):
        for j, (text, _, _) in enumerate(_responses(row)):
            rid = f"{row['pid']}"
            rows_by_id[rid] = row
            gens.append(GenerationRecord(benchmark="toyworld", split="train", id=rid, sample_idx=j, doc_hash="",
                                         prompt_hash="", prompt="", response=text))
            texts.append(text)
            rows.append(row_for_reward(row))
        if k == 10:
            break
    samples = score_generations(bench, rows_by_id, gens, "official")
    rewards = accuracy_reward(texts, row_json=rows, benchmark=["toyworld"] * len(rows))
    assert rewards == [1.0 if s.correct else 0.0 for s in samples]
    assert [0.5 if s.format_ok else 0.0 for s in samples] == format_reward(texts)


def test_row_json_drops_images_and_private_keys():
    row = dict(ROWS[0], _base_dir="/somewhere")
    data = json.loads(row_for_reward(row))
    assert "decoded_image" not in data and "_base_dir" not in data
    assert data["answer"] == row["answer"] and data["pid"] == row["pid"]


def test_completion_text_shapes():
    assert completion_text("x") == "x"
    assert completion_text([{"role": "assistant", "content": "a"}]) == "a"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "b"}]}]) == "b"


def test_unknown_benchmark_is_an_error_for_trl_but_rules_for_verl():
    row = ROWS[0]
    good = FORMATS["specs"].render(row["rationale"], row["answer_token"])
    with pytest.raises(Exception, match="unknown benchmark"):
        accuracy_reward([good], row_json=[row_for_reward(row)], benchmark=["no-such-bench"])
    out = compute_score("geo3k", good, row["answer"], {"row_json": row_for_reward(row)})
    assert out == {"score": 1.5, "format": 0.5, "accuracy": 1.0, "not_scored": 0.0}


def test_verl_and_easyr1_adapters():
    row = next(r for r in ROWS if not r["choices"])
    good = FORMATS["specs"].render(row["rationale"], row["answer"])
    assert compute_score("toyworld", good, row["answer"], {"row_json": row_for_reward(row)})["score"] == 1.5
    # no row: the ground truth alone, scored as a free-form answer
    assert compute_score("toyworld", good, row["answer"], None)["accuracy"] == 1.0
    assert compute_score("toyworld", "Answer: nothing", row["answer"], None) == {
        "score": 0.0, "format": 0.0, "accuracy": 0.0, "not_scored": 0.0}
    payload = json.dumps({"benchmark": "toyworld", "prompt_variant": "official", "row": json.loads(row_for_reward(row))})
    out = easyr1_compute_score([{"response": good, "ground_truth": payload},
                                {"response": f"Answer: {row['answer']}", "ground_truth": payload},
                                {"response": good, "ground_truth": row["answer"]}])
    assert out == [{"overall": 1.5, "format": 0.5, "accuracy": 1.0, "not_scored": 0.0},
                   {"overall": 1.0, "format": 0.0, "accuracy": 1.0, "not_scored": 0.0},
                   {"overall": 1.5, "format": 0.5, "accuracy": 1.0, "not_scored": 0.0}]


def test_group_stats_split_zero_variance_groups():
    torch = pytest.importorskip("torch")
    from training.callbacks import group_stats

    # 4 groups of 3 completions; columns: format (0/0.5), accuracy (0/1)
    rewards = torch.tensor([
        [0.5, 1.0], [0.5, 1.0], [0.5, 1.0],   # all correct, same format: zero variance
        [0.0, 0.0], [0.0, 0.0], [0.0, 0.0],   # all wrong: zero variance
        [0.5, 1.0], [0.0, 1.0], [0.5, 1.0],   # all correct but format differs: has variance
        [0.5, 0.0], [0.5, 1.0], [0.0, 0.0],   # mixed
    ])
    s = group_stats(rewards, 3, accuracy_index=1)
    assert s["groups/n"] == 4
    assert s["groups/zero_variance_rate"] == 0.5
    assert s["groups/all_correct_rate"] == 0.25 and s["groups/all_wrong_rate"] == 0.25
    assert s["groups/all_correct_rate"] + s["groups/all_wrong_rate"] == s["groups/zero_variance_rate"]
