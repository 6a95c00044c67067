"""`specs-eval score` end to end on fixture files: determinism, bad input, submissions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specs_eval.cli import main
from tests.conftest import mmmu_row, write_jsonl


def run(args: list[str]) -> None:
    main(args)


def test_score_twice_is_identical(tmp_path: Path, mathvista_rows: list[dict]) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", mathvista_rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "1", "response": "The answer is (B)."}, {"id": "2", "response": "x = 7 + 7 = 14"},
        {"id": "3", "response": "\\boxed{1.45}"}, {"id": "4", "response": "no idea"}])
    outs = []
    for name in ("a", "b"):
        run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(preds),
             "--profile", "rules", "--out", str(tmp_path / name)])
        outs.append(((tmp_path / name / "samples.jsonl").read_bytes(),
                     json.loads((tmp_path / name / "results.json").read_text())))
    assert outs[0][0] == outs[1][0]
    res_a, res_b = outs[0][1], outs[1][1]
    res_a.pop("run_name"), res_b.pop("run_name")
    assert res_a == res_b
    split = res_a["benchmarks"]["mathvista"]["splits"]["testmini"]
    assert split["accuracy"] == 0.75 and split["parse_failure_rate"] == 0.25
    lines = [json.loads(x) for x in outs[0][0].decode().splitlines()]
    assert {"id", "prediction", "correct", "score"} <= set(lines[0])
    assert res_a["benchmarks"]["mathvista"]["official"]["average"]["total"] == 4


def test_bad_lines_are_counted_not_fatal(tmp_path: Path, mathvista_rows: list[dict], capsys) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", mathvista_rows)
    p = tmp_path / "p.jsonl"
    p.write_bytes(b'{"id": "1", "response": "B"}\n'
                  b'{"id": "2", "response": "\xff\xfe broken"}\n'   # not UTF-8
                  b'{"id": "3"}\n'                                   # missing response
                  b'not json\n'
                  b'{"id": "999", "response": "B"}\n'               # unknown id
                  + json.dumps({"id": "4", "response": "x" * 1_100_000 + " [2007, 2008]"}).encode() + b"\n")
    run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(p), "--out",
         str(tmp_path / "o")])
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    warnings = "\n".join(res["warnings"])
    assert "line 2: not valid UTF-8" in warnings and "line 3: missing field 'response'" in warnings
    assert "line 4: not valid JSON" in warnings and "ids not in mathvista" in warnings
    assert "2 of 4 mathvista testmini items have no prediction" in warnings
    split = res["benchmarks"]["mathvista"]["splits"]["testmini"]
    assert split["n"] == 2 and split["accuracy"] == 1.0  # B → pear; the megabyte response ends with the list
    with pytest.raises(SystemExit) as e:
        run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(p), "--out",
             str(tmp_path / "o2"), "--strict"])
    assert e.value.code == 2


def test_duplicate_ids_and_corrupt_data_are_clear_errors(tmp_path: Path, mathvista_rows: list[dict], capsys) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", mathvista_rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "response": "A"}, {"id": "1", "response": "B"}])
    with pytest.raises(SystemExit) as e:
        run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(preds), "--out",
             str(tmp_path / "o")])
    assert e.value.code == 2 and "duplicate id" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"pid": "1"\n')
    with pytest.raises(SystemExit) as e:
        run(["score", "--benchmark", "mathvista", "--data", str(bad), "--predictions", str(preds), "--out",
             str(tmp_path / "o")])
    assert e.value.code == 2 and "not valid JSON" in capsys.readouterr().err
    missing_field = write_jsonl(tmp_path / "nofield.jsonl", [{"pid": "1", "query": "q"}])
    with pytest.raises(SystemExit):
        run(["score", "--benchmark", "mathvista", "--data", str(missing_field), "--predictions", str(preds),
             "--out", str(tmp_path / "o")])
    assert "lacks field(s) question_type, answer_type" in capsys.readouterr().err


def test_mmmu_official_breakdown_and_test_submission(tmp_path: Path, mmmu_rows: list[dict]) -> None:
    data = write_jsonl(tmp_path / "val.jsonl", mmmu_rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [
        {"id": "validation_Agriculture_1", "response": "(A)"}, {"id": "validation_Agriculture_2", "response": "(C)"},
        {"id": "validation_Art_1", "response": "C"}, {"id": "validation_Art_2", "response": "It is 12,000."},
        {"id": "validation_Geography_3", "response": "Tampa"}])
    run(["score", "--benchmark", "mmmu", "--split", "validation", "--data", str(data), "--predictions", str(preds),
         "--out", str(tmp_path / "o")])
    official = json.loads((tmp_path / "o" / "results.json").read_text())["benchmarks"]["mmmu"]["official"]
    # Agriculture 1/2 (Tech and Engineering), Art 2/2 (Art and Design), Geography 1/1 (Science) → 4/5
    assert official["subjects"]["Agriculture"]["acc"] == 0.5
    assert official["disciplines"]["Art and Design"]["acc"] == 1.0
    assert official["Overall"] == {"num": 5, "acc": 0.8, "acc_rounded": 0.8}
    test_rows = [mmmu_row("test_Art_1", answer=""), mmmu_row("test_Art_2", question_type="open", options="[]",
                                                              answer="")]  # a copy from before the answer release
    tdata = write_jsonl(tmp_path / "test.jsonl", test_rows)
    tpreds = write_jsonl(tmp_path / "tp.jsonl", [{"id": "test_Art_1", "response": "(D)"},
                                                 {"id": "test_Art_2", "response": "42 m"}])
    run(["score", "--benchmark", "mmmu", "--split", "test", "--data", str(tdata), "--predictions", str(tpreds),
         "--out", str(tmp_path / "t")])
    assert json.loads((tmp_path / "t" / "submission.json").read_text()) == {"test_Art_1": "D", "test_Art_2": "42 m"}


def test_judge_profile_without_judge_is_an_error(tmp_path: Path, mathvista_rows: list[dict], capsys) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", mathvista_rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "response": "B"}])
    with pytest.raises(SystemExit):
        run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(preds), "--profile",
             "judge", "--out", str(tmp_path / "o")])
    assert "needs a judge" in capsys.readouterr().err
