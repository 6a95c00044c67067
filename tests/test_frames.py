"""Run directories into DataFrames; schema checks and the loader's flags for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis import RunLoadError, load_run, samples_frame, splits_frame
from analysis.frames import SAMPLE_COLUMNS
from tests.toy_runs import BASE, build_run, rewrite_jsonl


def codes(run):
    return {f.code for f in run.flags}


def test_samples_frame_shape_and_columns(toy_run_dirs):
    df = samples_frame([toy_run_dirs["base"], toy_run_dirs["dpo"]])
    assert len(df) == 2 * 4 * 24 * 4  # runs × splits × items × samples
    assert list(df.columns[: len(SAMPLE_COLUMNS)]) == list(SAMPLE_COLUMNS)
    assert {"score.rules", "correct.rules", "meta.family"} <= set(df.columns)
    assert str(df["format_ok"].dtype) == "boolean"
    fmt = df[df["split"] == "ood_format"]
    assert fmt["in_trained_format"].notna().all()
    assert df[df["split"] == "id"]["in_trained_format"].isna().all()


def test_splits_frame_matches_results_json(toy_run_dirs):
    sf = splits_frame([toy_run_dirs["sft"]], n_boot=100)
    results = json.loads((toy_run_dirs["sft"] / "results.json").read_text())
    for row in sf.itertuples():
        stored = results["benchmarks"]["toyworld"]["splits"][row.split]
        assert row.accuracy == pytest.approx(stored["accuracy"])
        assert row.format_compliance == pytest.approx(stored["format_compliance"])
        assert row.strict_accuracy == pytest.approx(stored["extra"]["strict_accuracy"])
        assert row.accuracy_lo <= row.accuracy <= row.accuracy_hi
        assert (row.n_items, row.n_samples) == (stored["n"], stored["n_samples"])
    fmt = sf[sf["split"] == "ood_format"].iloc[0]
    assert fmt["format_stickiness"] == pytest.approx(
        results["benchmarks"]["toyworld"]["splits"]["ood_format"]["extra"]["format_stickiness"])


def test_clean_run_has_no_flags(toy_run_dirs):
    assert load_run(toy_run_dirs["base"]).flags == []


def _copy(src: Path, tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(("version", "word"), [(0, "older"), (2, "newer")])
def test_other_schema_version_refused(toy_run_dirs, tmp_path, version, word):
    d = _copy(toy_run_dirs["base"], tmp_path, f"v{version}")
    rewrite_jsonl(d / "samples.jsonl", lambda o: o | {"schema_version": version})
    with pytest.raises(RunLoadError, match=f"schema version {version} is {'an' if word == 'older' else 'a'} {word}"):
        load_run(d)


def test_manifest_schema_checked(toy_run_dirs, tmp_path):
    d = _copy(toy_run_dirs["base"], tmp_path, "m")
    m = json.loads((d / "manifest.json").read_text())
    del m["schema_version"]
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(RunLoadError, match="no schema_version"):
        load_run(d)


def test_not_a_run_dir(tmp_path):
    with pytest.raises(RunLoadError, match=r"no samples\.jsonl"):
        load_run(tmp_path)
    (tmp_path / "generations.jsonl").write_text("")
    with pytest.raises(RunLoadError, match="not scored yet"):
        load_run(tmp_path)
    with pytest.raises(RunLoadError, match="no such folder"):
        load_run(tmp_path / "missing")


def test_duplicate_and_broken_lines(toy_run_dirs, tmp_path):
    d = _copy(toy_run_dirs["base"], tmp_path, "dup")
    lines = (d / "samples.jsonl").read_text().splitlines()
    (d / "samples.jsonl").write_text("\n".join([*lines, lines[0]]) + "\n")
    with pytest.raises(RunLoadError, match="duplicate sample"):
        load_run(d)
    (d / "samples.jsonl").write_text("\n".join([*lines[:3], "{not json", *lines[3:]]) + "\n")
    with pytest.raises(RunLoadError, match=r"samples.jsonl:4: not valid JSON"):
        load_run(d)


def test_results_mismatch_flagged(toy_run_dirs, tmp_path):
    d = _copy(toy_run_dirs["base"], tmp_path, "mm")
    r = json.loads((d / "results.json").read_text())
    r["benchmarks"]["toyworld"]["splits"]["id"]["accuracy"] = 0.99
    (d / "results.json").write_text(json.dumps(r))
    run = load_run(d)
    assert "results_mismatch" in codes(run)
    assert splits_frame([run], n_boot=0).set_index("split").loc["id", "accuracy"] != 0.99


def test_errors_empty_splits_status_and_torn_generations(tmp_path):
    d = build_run(tmp_path, "bad", BASE, n_items=6, errors={"id": 2}, empty_splits=("ood_task",), status="interrupted")
    with (d / "generations.jsonl").open("a") as f:
        f.write('{"schema_version": 1, "benchm')  # a torn last line from a crash
    run = load_run(d)
    assert {"generation_errors", "empty_split", "run_incomplete"} <= codes(run)
    empty = next(f for f in run.flags if f.code == "empty_split")
    assert empty.severity == "refuse" and empty.scope == "toyworld/ood_task"
    df = samples_frame([run])
    errs = df[df["has_error"]]
    assert len(errs) == 2 and not errs["correct"].any()
    assert ("toyworld", "ood_task") in run.split_keys()
    assert run.image_hashes  # read despite the torn line


def test_loader_tolerates_missing_optional_files(toy_run_dirs, tmp_path):
    d = _copy(toy_run_dirs["base"], tmp_path, "bare")
    for f in ("manifest.json", "results.json", "generations.jsonl"):
        (d / f).unlink()
    run = load_run(d)
    assert run.name == "bare" and "no_manifest" in codes(run)
    assert len(run.samples) == 4 * 24 * 4


def test_analysis_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, analysis, analysis.report, analysis.report.html, specs_eval.cli.report; "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_not_scored_samples_are_left_out(toy_run_dirs, tmp_path):
    from analysis import split_exploration
    from analysis.frames import split_frame
    from specs_eval.core.metrics import split_metrics
    from specs_eval.core.records import SampleRecord

    d = _copy(toy_run_dirs["sft"], tmp_path, "ns")

    def mark(o):
        if o["split"] == "id" and o["id"].endswith(("0", "2", "4")):
            o["scores"]["rules"]["details"] = {"not_scored": True}
        return o

    rewrite_jsonl(d / "samples.jsonl", mark)
    (d / "results.json").unlink()
    run = load_run(d)
    samples = [s for s in run.samples if s.split == "id"]
    expected = split_metrics([SampleRecord.model_validate(s.model_dump()) for s in samples]).accuracy
    sf = splits_frame([run], n_boot=0).set_index("split")
    assert sf.loc["id", "accuracy"] == pytest.approx(expected)
    kept = [s for s in samples if not s.id.endswith(("0", "2", "4"))]
    assert expected == pytest.approx(sum(s.score for s in kept) / len(kept))
    ex = split_exploration(split_frame(samples_frame([run]), run.name, "toyworld", "id"), run.name, "toyworld", "id",
                           n_boot=0)
    assert ex.n_items == len({s.id for s in kept})
    assert any(f.code == "not_scored" for f in ex.flags)
