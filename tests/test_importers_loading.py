"""Importers (lmms-eval nested/flattened, VLMEvalKit) and local data formats / row-count checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specs_eval.benchmarks.mathvista import MathVista
from specs_eval.benchmarks.mmmu import MMMU
from specs_eval.cli import main
from specs_eval.core.errors import BenchmarkError
from specs_eval.run.importers import import_lmms_eval, import_vlmevalkit
from tests.conftest import write_jsonl


def test_lmms_eval_nested_and_flattened(tmp_path: Path) -> None:
    lines = [
        # older layout: resps [[...]], filtered_resps [...]
        {"doc_id": 0, "doc": {"id": "validation_Art_1"}, "target": "A", "resps": [["<think>x</think>(A)"]],
         "filtered_resps": ["(A)"], "mmmu_acc": {"id": "validation_Art_1", "parsed_pred": "A"}},
        # flattened (PR #1103): resps [...], filtered_resps scalar; resps omitted when equal
        {"doc_id": 1, "doc": {"id": "validation_Art_2"}, "filtered_resps": "B"},
        {"doc_id": 2, "doc": {"id": "validation_Art_3"}, "resps": ["C raw"], "filtered_resps": "C"},
        {"doc_id": 3, "doc": {}, "filtered_resps": "D"},
    ]
    p = write_jsonl(tmp_path / "s.jsonl", lines)
    preds, problems = import_lmms_eval(p, "id")
    assert preds == [{"id": "validation_Art_1", "response": "<think>x</think>(A)"},
                     {"id": "validation_Art_2", "response": "B"}, {"id": "validation_Art_3", "response": "C raw"}]
    assert len(problems) == 1 and "line 4" in problems[0]


def test_lmms_eval_mathvista_keeps_gpt_extraction(tmp_path: Path) -> None:
    line = {"doc_id": 0, "doc": {"pid": "7"}, "resps": [["long answer"]], "filtered_resps": ["long answer"],
            "gpt_eval_score": {"pid": "7", "extraction": "12", "true_false": True}}
    preds, _ = import_lmms_eval(write_jsonl(tmp_path / "s.jsonl", [line]), "pid")
    assert preds == [{"id": "7", "response": "long answer", "extraction": "12"}]


def test_lmms_eval_07_logs_without_doc(tmp_path: Path) -> None:
    """lmms-eval 0.7.3 removes `doc` from *_samples_*.jsonl (evaluation_tracker.save_results_samples)."""
    lines = [
        {"doc_id": 0, "target": "12", "filtered_resps": "12", "input": "q",  # MathVista's metric dicts
         "llm_as_judge_eval": {"question_id": "7", "extraction": "12", "true_false": True},
         "submission": {"question_id": "7", "extraction": "12"}},
        {"doc_id": 1, "target": "A", "resps": "raw (A)", "filtered_resps": "(A)",  # MMMU
         "mmmu_acc": {"id": "validation_Art_1", "parsed_pred": "A"}, "submission": {"validation_Art_1": "A"}},
    ]
    preds, problems = import_lmms_eval(write_jsonl(tmp_path / "a.jsonl", lines[:1]), "pid")
    assert preds == [{"id": "7", "response": "12", "extraction": "12"}] and not problems
    preds, problems = import_lmms_eval(write_jsonl(tmp_path / "b.jsonl", lines[1:]), "id")
    assert preds == [{"id": "validation_Art_1", "response": "raw (A)"}] and not problems


def test_vlmevalkit_tsv_and_cli(tmp_path: Path) -> None:
    p = tmp_path / "m_MathVista_MINI.tsv"
    p.write_text("index\tquestion\tprediction\tanswer\n1\tq\tThe answer is B\tpear\n2\tq\t14\t14\n", encoding="utf-8")
    preds, problems = import_vlmevalkit(p, "pid")
    assert preds == [{"id": "1", "response": "The answer is B"}, {"id": "2", "response": "14"}] and not problems
    out = tmp_path / "preds.jsonl"
    main(["import", "vlmevalkit", str(p), "--benchmark", "mathvista", "--out", str(out)])
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["1", "2"]


@pytest.mark.parametrize("fmt", ["jsonl", "json_list", "json_dict", "parquet", "save_to_disk"])
def test_local_formats_load_the_same_rows(tmp_path: Path, mathvista_rows: list[dict], fmt: str) -> None:
    if fmt == "jsonl":
        path = write_jsonl(tmp_path / "d.jsonl", mathvista_rows)
    elif fmt == "json_list":
        path = tmp_path / "d.json"
        path.write_text(json.dumps(mathvista_rows))
    elif fmt == "json_dict":
        path = tmp_path / "d.json"
        path.write_text(json.dumps({r["pid"]: {k: v for k, v in r.items() if k != "pid"} for r in mathvista_rows}))
    else:
        import datasets

        ds = datasets.Dataset.from_list(mathvista_rows)
        if fmt == "parquet":
            path = tmp_path / "d.parquet"
            ds.to_parquet(str(path))
        else:
            path = tmp_path / "disk"
            ds.save_to_disk(str(path))
    loaded = MathVista().load_for_scoring("testmini", data=path)  # the fixture rows have no image files
    assert [r["pid"] for r in loaded.rows] == ["1", "2", "3", "4"]
    assert loaded.info.source == "local" and loaded.info.rows == 4 and loaded.info.expected_rows == 1000
    assert len(loaded.info.content_hash) == 16


def test_hub_row_count_mismatch_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no --data the pinned revision is read from the HF cache; a split whose size differs from the
    published one is refused (the fixture's testmini has 6 rows, the published one 1000)."""
    from tests.hub_layouts import make_hf_cache, make_mathvista_snapshot

    fx = make_hf_cache(tmp_path, "AI4Math/MathVista", make_mathvista_snapshot)
    monkeypatch.setenv("HF_HUB_CACHE", str(fx.root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SPECS_EVAL_MATHVISTA_REVISION", fx.meta["revision"])
    with pytest.raises(BenchmarkError, match="has 6 rows, expected 1000"):
        MathVista().load("testmini")
    monkeypatch.setenv("SPECS_EVAL_MATHVISTA_REVISION", "f" * 40)  # not in the cache, and offline
    with pytest.raises(BenchmarkError, match="not in the HF cache and offline mode is set"):
        MathVista().load("testmini")


def test_mmmu_hub_loads_all_30_configs_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.hub_layouts import MMMU_SUBJECTS, make_hf_cache, make_mmmu_snapshot

    fx = make_hf_cache(tmp_path, "MMMU/MMMU", make_mmmu_snapshot)
    monkeypatch.setenv("HF_HUB_CACHE", str(fx.root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SPECS_EVAL_MMMU_REVISION", fx.meta["revision"])
    with pytest.raises(BenchmarkError, match="has 30 rows, expected 150"):  # one dev row per subject in the fixture
        MMMU().load("dev")
    loaded = MMMU().load("dev", data=fx.root)  # the same cache given as --data: a local copy, any size
    assert loaded.info.rows == 30 and loaded.info.hf_id == "MMMU/MMMU"
    assert loaded.info.revision == fx.meta["revision"] == loaded.info.pinned_revision
    assert [r["id"] for r in loaded.rows] == [f"dev_{s}_1" for s in sorted(MMMU_SUBJECTS)]


def test_mmmu_prompt_is_the_official_one() -> None:
    row = {"id": "validation_Art_1", "question": "Which? <image 1>", "options": "['x', 'y']",
           "question_type": "multiple-choice", "answer": "A"}
    assert MMMU().prompt_text(row) == (
        "Which? <image 1>\n(A) x\n(B) y\n\nAnswer with the option's letter from the given choices directly.")
    row_open = dict(row, question_type="open", options="[]")
    assert MMMU().prompt_text(row_open) == "Which? <image 1>\nAnswer the question using a single word or phrase."
