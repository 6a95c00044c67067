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
    for key in ("run_name", "model"):  # both default to the folder's name
        res_a.pop(key), res_b.pop(key)
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
    sub = tmp_path / "t" / "official" / "mmmu" / "test" / "submission.json"  # where `run` writes it too
    assert json.loads(sub.read_text()) == {"test_Art_1": "D", "test_Art_2": "42 m"}


def test_judge_profile_without_judge_is_an_error(tmp_path: Path, mathvista_rows: list[dict], capsys) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", mathvista_rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"id": "1", "response": "B"}])
    with pytest.raises(SystemExit):
        run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(preds), "--profile",
             "judge", "--out", str(tmp_path / "o")])
    assert "needs a judge" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# score folders are first-class runs


def _mv_preds(tmp_path: Path, name: str = "p.jsonl") -> Path:
    return write_jsonl(tmp_path / name, [
        {"id": "1", "response": "The answer is (B)."}, {"id": "2", "response": "x = 7 + 7 = 14"},
        {"id": "3", "response": "\\boxed{1.45}"}, {"id": "4", "response": "no idea"}])


def _mmmu(tmp_path: Path, rows: list[dict]) -> tuple[Path, Path]:
    data = write_jsonl(tmp_path / "val.jsonl", rows)
    preds = write_jsonl(tmp_path / "mp.jsonl", [{"id": r["id"], "response": "(A)"} for r in rows])
    return data, preds


def test_score_folder_is_a_run_with_provenance(tmp_path: Path, mathvista_rows: list[dict], mmmu_rows) -> None:
    from analysis import load_run
    from analysis.report import ReportOptions, build_report

    data = write_jsonl(tmp_path / "data.jsonl", mathvista_rows)
    out = tmp_path / "qwen"
    run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(_mv_preds(tmp_path)),
         "--profile", "rules,official", "--out", str(out), "--model", "Qwen2.5-VL-7B"])
    m = json.loads((out / "manifest.json").read_text())
    assert m["origin"] == "scored" and m["status"] == "complete" and m["schema_version"] == 1
    assert m["model"]["name"] == "Qwen2.5-VL-7B" and m["run_name"] == "qwen" and m["display_name"] is None
    assert m["tasks"] == [{"benchmark": "mathvista", "split": "testmini", "prompt_variant": "official",
                           "profile": "rules,official", "limit": None, "data": str(data), "data_seed": 0,
                           "label": None}]
    (ds,) = m["datasets"]
    assert ds["rows"] == 4 and ds["source"] == "local" and len(ds["content_hash"]) >= 12
    assert "specs-eval" in m["libraries"] and m["config_hash"]
    src = m["model"]["endpoint"]["predictions"]["mathvista/testmini"]
    assert src["file"] == "p.jsonl" and len(src["sha256"]) == 64 and src["lines"] == 4
    # datasets.json holds JSON objects, not Python reprs
    assert json.loads((out / "datasets.json").read_text()) == m["datasets"]
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert all(s["profile"] == "rules" and set(s["scores"]) == {"rules", "official"} for s in samples)
    # a second benchmark into the same folder: one run with both
    mdata, mpreds = _mmmu(tmp_path, mmmu_rows)
    run(["score", "--benchmark", "mmmu", "--split", "validation", "--data", str(mdata), "--predictions", str(mpreds),
         "--out", str(out)])
    r = load_run(out)
    assert r.split_keys() == [("mathvista", "testmini"), ("mmmu", "validation")]
    assert {f.code for f in r.flags} == {"results_warning"}  # the subset warnings, nothing about provenance
    res = json.loads((out / "results.json").read_text())
    assert set(res["benchmarks"]) == {"mathvista", "mmmu"} and res["model"] == "Qwen2.5-VL-7B"
    assert res["benchmarks"]["mathvista"]["splits"]["testmini"]["accuracy"] == 0.75
    assert [d["benchmark"] for d in json.loads((out / "datasets.json").read_text())] == ["mathvista", "mmmu"]
    # the report reads it with provenance: no "provenance unknown", the data hashes are compared
    other = tmp_path / "other"
    run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(_mv_preds(tmp_path, "q.jsonl")),
         "--out", str(other)])
    rep = build_report([other, out], options=ReportOptions(n_boot=0)).data
    assert not [f for f in rep["flags"] if f["code"] in ("no_manifest", "different_generation", "different_processor")]
    keys = {k["key"]: k for k in rep["provenance"]["keys"]}
    assert keys["dataset.mathvista/testmini.content_hash"]["differs"] is False
    assert keys["generation"]["values"]["qwen"] == "unknown: scored from a predictions file"
    assert keys["run.origin"]["values"] == {"other": "scored", "qwen": "scored"}


def test_renamed_folder_shows_its_new_name_and_run_name_sticks(tmp_path: Path, mathvista_rows: list[dict]) -> None:
    from analysis import load_run

    data = write_jsonl(tmp_path / "data.jsonl", mathvista_rows)
    run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(_mv_preds(tmp_path)),
         "--out", str(tmp_path / "a")])
    (tmp_path / "a").rename(tmp_path / "renamed")
    assert load_run(tmp_path / "renamed").name == "renamed"
    run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(_mv_preds(tmp_path)),
         "--out", str(tmp_path / "b"), "--run-name", "Qwen (rules)"])
    (tmp_path / "b").rename(tmp_path / "b2")
    assert load_run(tmp_path / "b2").name == "Qwen (rules)"


def test_rescoring_replaces_a_split_and_profiles_stay_consistent(tmp_path: Path, mathvista_rows: list[dict],
                                                                  capsys) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", mathvista_rows)
    out = tmp_path / "o"
    for prof in ("rules", "official"):
        run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(_mv_preds(tmp_path)),
             "--profile", prof, "--out", str(out)])
    lines = (out / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(x)["profile"] == "official" for x in lines)
    m = json.loads((out / "manifest.json").read_text())
    assert [t["profile"] for t in m["tasks"]] == ["official"]
    # a generated run folder is never scored into
    gen = tmp_path / "gen"
    gen.mkdir()
    m["origin"] = "generated"
    (gen / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(SystemExit):
        run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(_mv_preds(tmp_path)),
             "--out", str(gen)])
    assert "is a `specs-eval run` folder" in capsys.readouterr().err


def test_merge_score_folders_into_one_run(tmp_path: Path, mathvista_rows: list[dict], mmmu_rows, capsys) -> None:
    from analysis import load_run

    data = write_jsonl(tmp_path / "data.jsonl", mathvista_rows)
    mdata, mpreds = _mmmu(tmp_path, mmmu_rows)
    a, b = tmp_path / "qwen-mathvista", tmp_path / "qwen-mmmu"
    run(["score", "--benchmark", "mathvista", "--data", str(data), "--predictions", str(_mv_preds(tmp_path)),
         "--out", str(a), "--model", "qwen"])
    run(["score", "--benchmark", "mmmu", "--split", "validation", "--data", str(mdata), "--predictions", str(mpreds),
         "--out", str(b), "--model", "qwen"])
    dest = tmp_path / "qwen"
    run(["merge", str(a), str(b), "--out", str(dest), "--no-report"])
    r = load_run(dest)
    assert r.name == "qwen" and {f.code for f in r.flags} == {"results_warning"}
    assert r.split_keys() == [("mathvista", "testmini"), ("mmmu", "validation")]
    res = json.loads((dest / "results.json").read_text())
    for name, src in (("mathvista", a), ("mmmu", b)):
        assert res["benchmarks"][name] == json.loads((src / "results.json").read_text())["benchmarks"][name]
    assert set(r.manifest.model.endpoint["predictions"]) == {"mathvista/testmini", "mmmu/validation"}
    # refusals: overlapping splits, different models, a single folder
    with pytest.raises(SystemExit):
        run(["merge", str(a), str(dest), "--out", str(tmp_path / "x")])
    assert "is in both" in capsys.readouterr().err
    c = tmp_path / "llava-mmmu"
    run(["score", "--benchmark", "mmmu", "--split", "validation", "--data", str(mdata), "--predictions", str(mpreds),
         "--out", str(c), "--model", "llava"])
    with pytest.raises(SystemExit):
        run(["merge", str(a), str(c), "--out", str(tmp_path / "y")])
    assert "different models" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()
