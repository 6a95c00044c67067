"""Training data: raw datasets converted to the benchmark schema, trl rows, the verl/EasyR1 export, the judge."""

from __future__ import annotations

import json
import sys

import pytest
from PIL import Image

from specs_eval.core.judge import JudgeVerdict
from specs_eval.rules.formats import FORMATS
from training.config import DataConfig, load_config
from training.data import DataError, dpo_rows, grpo_rows, load_items
from training.export import export_rl
from training.judge import consistency_fn, parse_verdict
from training.pairs import Candidate


def _raw(tmp_path):
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(4):
        Image.new("RGB", (40, 30), (i * 60, 0, 0)).save(tmp_path / "img" / f"{i}.png")
    rows.append({"qid": "q0", "problem": "<image>How many?", "answer": "\\boxed{17}", "images": ["img/0.png"]})
    rows.append({"qid": "q1", "problem": "Pick one", "answer": "B", "options": ["cat", "dog"], "images": ["img/1.png"]})
    rows.append({"qid": "q2", "problem": "Two pictures", "answer": "3", "images": ["img/2.png", "img/3.png"]})
    rows.append({"qid": "q3", "problem": "Ratio?", "answer": "$0.25$", "images": ["img/3.png"]})
    path = tmp_path / "raw.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_raw_rows_become_benchmark_rows_scored_by_the_rules(tmp_path):
    data = DataConfig(path=str(_raw(tmp_path)), columns={"options": "choices"}, limit=None)
    items, _info = load_items(data, cache_dir=tmp_path / "cache")
    by = {i.row["pid"]: i.row for i in items}
    assert set(by) == {"raw-q0", "raw-q1", "raw-q3"}  # the two-image row is skipped
    assert (by["raw-q0"]["answer"], by["raw-q0"]["answer_type"]) == ("17", "integer")
    assert by["raw-q0"]["question"] == "How many?"
    assert (by["raw-q1"]["answer"], by["raw-q1"]["question_type"], by["raw-q1"]["answer_token"]) == ("dog", "multi_choice", "B")
    assert (by["raw-q3"]["answer"], by["raw-q3"]["answer_type"], by["raw-q3"]["precision"]) == ("0.25", "float", 2)
    conv = json.loads(next((tmp_path / "cache").glob("data-*/conversion.json")).read_text())
    assert conv["skipped"] == {"multi_image": 1}
    # the accuracy reward agrees with the gold answers of the converted rows
    from training.rewards import accuracy_reward, row_for_reward

    rows = grpo_rows(items)
    texts = [FORMATS["specs"].render("r", i.row["answer_token"]) for i in items]
    assert accuracy_reward(texts, row_json=[r["row_json"] for r in rows], benchmark=[r["benchmark"] for r in rows]) \
        == [1.0, 1.0, 1.0]
    assert rows[0]["images"][0].size == (40, 30) and rows[0]["prompt"][0]["content"][0]["type"] == "image"
    assert row_for_reward(items[0].row)


def test_raw_data_errors_say_what_to_do(tmp_path, monkeypatch):
    import datasets

    def offline(*a, **k):  # tests never touch the network: stand in for an unreachable hub
        raise ConnectionError("Couldn't reach the Hugging Face Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps({"text": "q", "answer": "1", "image": "x.png"}) + "\n")
    with pytest.raises(DataError, match=r"no question column .* --set data.columns.<raw_column>=question"):
        load_items(DataConfig(path=str(p), columns={"answer": "answer"}), cache_dir=tmp_path / "c")
    with pytest.raises(DataError, match=r"cannot load Hugging Face dataset 'nobody/none-such-dataset-xyz'.*data\.path"):
        load_items(DataConfig(hf_id="nobody/none-such-dataset-xyz"), cache_dir=tmp_path / "c2")


def test_dpo_rows_carry_image_prompt_and_both_responses():
    items, _ = load_items(DataConfig(limit=2))
    pair = type("P", (), {"id": items[0].id, "chosen": "C", "rejected": "R"})
    (row,) = dpo_rows([pair], {i.id: i for i in items})
    assert row["chosen"][0]["content"][0]["text"] == "C" and row["rejected"][0]["content"][0]["text"] == "R"
    assert len(row["images"]) == sum(p["type"] == "image" for p in row["prompt"][-1]["content"]) == 1


@pytest.mark.parametrize("fmt", ["verl", "easyr1"])
def test_export_and_its_reward_module(tmp_path, fmt, monkeypatch):
    import pyarrow.parquet as pq

    cfg = load_config("tiny", ["data.limit=5", "eval.tasks=[{benchmark: toyworld, splits: [id], limit: 3}]"])
    counts = export_rl(cfg, tmp_path, fmt)
    assert (counts["train"], counts["val"]) == (5, 3)
    rows = pq.read_table(tmp_path / "train.parquet").to_pylist()
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("reward", None)
    import reward

    if fmt == "verl":
        r = rows[0]
        assert r["prompt"][-1]["content"].count("<image>") == len(r["images"]) == 1
        row = json.loads(r["extra_info"]["row_json"])
        good = FORMATS["specs"].render(row["rationale"], row["answer_token"])
        assert reward.compute_score(r["data_source"], good, r["reward_model"]["ground_truth"], r["extra_info"]) == {
            "score": 1.5, "format": 0.5, "accuracy": 1.0, "not_scored": 0.0}
    else:
        r = rows[0]
        assert r["problem"].count("<image>") == 1
        row = json.loads(r["answer"])["row"]
        good = FORMATS["specs"].render(row["rationale"], row["answer_token"])
        out = reward.compute_score([{"response": good, "ground_truth": r["answer"]},
                                    {"response": "no idea", "ground_truth": r["answer"]}])
        assert [o["overall"] for o in out] == [1.5, 0.0]


class FakeJudge:
    judge_id = "fake@local"

    def __init__(self, answers):
        self.answers = answers
        self.seen = []

    def complete(self, messages, *, max_tokens=256):
        text = messages[-1]["content"][-1]["text"]
        self.seen.append(text)
        raw = self.answers.pop(0)
        return JudgeVerdict(judge_id=self.judge_id, request_hash="h", raw=raw, error=None if raw else "down")


def test_consistency_judge_parses_verdicts_and_failures():
    assert (parse_verdict("YES."), parse_verdict("no"), parse_verdict("maybe"), parse_verdict(None)) == (
        True, False, None, None)
    judge = FakeJudge(["Yes", "NO", None])
    fn = consistency_fn(judge, {"a": "How many cats?"})
    c = Candidate(id="a", sample_idx=0, text="<think>2</think><answer>\\boxed{2}</answer>", correct=True)
    assert [fn(c), fn(c), fn(c)] == [True, False, None]
    assert "How many cats?" in judge.seen[0] and c.text in judge.seen[0]
