"""Every benchmark from its downloaded layout, through the CLI users run (issue 13 items 3-5).

The data are fixture folders written in each benchmark's published hub layout by
``tests/hub_layouts.py`` (which never imports project code). Each test points ``specs-eval``
at the folder as a user would (the snapshot, one MMMU subject folder, the HF cache) and checks,
row by row, the gold answer the scorer used and the images the prompt carried (image sizes are
distinct per fixture image, so a wrong or reordered image shows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from specs_eval.benchmarks import datapaths, get_benchmark
from specs_eval.cli import main
from specs_eval.core.prompt import image_hash
from tests.conftest import run_cli
from tests.hub_layouts import (
    HubFixture,
    make_broken,
    make_hf_cache,
    make_mathverse_snapshot,
    make_mathvision_snapshot,
    make_mathvista_snapshot,
    make_megabench_snapshot,
    make_mmmu_snapshot,
    mmmu_answer_dict,
)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test here may reach the network or a real HF cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))
    datapaths.configure(skip_bad_rows=False, allow_urls=False)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _score(tmp: Path, bench: str, data: Path, preds: list[dict[str, Any]], *extra: str, name: str = "scored"
           ) -> tuple[dict[str, Any], dict[str, dict[str, Any]], Path]:
    p = tmp / f"{name}-preds.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in preds), encoding="utf-8")
    out = tmp / name
    main(["score", "--benchmark", bench, "--data", str(data), "--predictions", str(p), "--out", str(out), *extra])
    results = json.loads((out / "results.json").read_text())
    return results, {s["id"]: s for s in _lines(out / "samples.jsonl")}, out


def _prompt_sizes(bench_name: str, split: str, data: Path) -> dict[str, list[tuple[int, int]]]:
    bench = get_benchmark(bench_name)
    loaded = bench.load(split, data=data)
    return {bench.row_id(r): [im.size for im in bench.build_prompt(r).images] for r in loaded.rows}


def _cli_env(tmp: Path) -> dict[str, str]:
    return {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp / "empty-hub-cache"),
            "HF_DATASETS_CACHE": str(tmp / "datasets-cache"), "OMP_NUM_THREADS": "1"}


# ---------------------------------------------------------------------------------------------- MMMU


def _mmmu_pred(e: Any, right: bool = True) -> str:
    if e.kind == "mc":
        letter = e.gold if right else "ABCD"[("ABCD".index(e.gold) + 1) % 4]
        return f"The answer is ({letter})."
    gold = e.gold[0] if isinstance(e.gold, list) else e.gold
    return str(gold) if right else "something else entirely"


def test_mmmu_snapshot_scores_every_row_against_its_gold(tmp_path: Path) -> None:
    fx = make_mmmu_snapshot(tmp_path)
    val = {k: e for k, e in fx.expected.items() if e.split == "validation"}
    res, samples, _ = _score(tmp_path, "mmmu", fx.root, [{"id": k, "response": _mmmu_pred(e)} for k, e in val.items()],
                             "--split", "validation")
    split = res["benchmarks"]["mmmu"]["splits"]["validation"]
    assert split["n"] == len(val) == 31 and split["accuracy"] == 1.0
    assert {k: s["target"] for k, s in samples.items()} == {k: str(e.raw_gold) for k, e in val.items()}
    res, samples, _ = _score(tmp_path, "mmmu", fx.root,
                             [{"id": k, "response": _mmmu_pred(e, right=False)} for k, e in val.items()],
                             "--split", "validation", name="wrong")
    assert res["benchmarks"]["mmmu"]["splits"]["validation"]["accuracy"] == 0.0
    assert not any(s["correct"] for s in samples.values())


def test_mmmu_snapshot_prompts_carry_each_rows_images(tmp_path: Path) -> None:
    fx = make_mmmu_snapshot(tmp_path)
    sizes = _prompt_sizes("mmmu", "validation", fx.root)
    assert sizes == {k: list(e.image_sizes) for k, e in fx.expected.items() if e.split == "validation"}
    assert len(sizes["validation_Chemistry_1"]) == 5  # <image 1> in the question, <image 2..5> as options


def test_mmmu_one_subject_folder_is_a_declared_subset_and_a_partial_snapshot_an_error(tmp_path: Path, capsys) -> None:
    fx = make_mmmu_snapshot(tmp_path)
    art = fx.root / "Art"
    loaded = get_benchmark("mmmu").load("validation", data=art)
    assert [r["id"] for r in loaded.rows] == ["validation_Art_1"]
    assert any("one subject folder (Art) of 30 (30 of 900 items)" in n for n in loaded.info.notes)
    _score(tmp_path, "mmmu", art, [{"id": "validation_Art_1", "response": "(C)"}], "--split", "validation")
    assert "one subject folder (Art)" in capsys.readouterr().err
    broken = make_broken(tmp_path / "b", "mmmu", "missing_subject")
    with pytest.raises(SystemExit) as e:
        _score(tmp_path, "mmmu", broken.root, [{"id": "validation_Art_1", "response": "(C)"}], "--split",
               "validation", name="partial")
    err = capsys.readouterr().err
    assert e.value.code == 2 and "incomplete" in err and "Sociology" in err and "29" not in err.split("Sociology")[1]


def test_mmmu_hf_cache_records_the_snapshot_revision(tmp_path: Path) -> None:
    rev = "98e6ac0cb9b7b2cd2c991b85a50762edc4aedc68"
    fx = make_hf_cache(tmp_path, "MMMU/MMMU", make_mmmu_snapshot, revision=rev)
    for data in (fx.root, fx.meta["repo_dir"], fx.meta["snapshot"]):
        loaded = get_benchmark("mmmu").load("validation", data=data)
        assert loaded.info.rows == 31 and loaded.info.revision == rev == loaded.info.pinned_revision
        assert loaded.info.hf_id == "MMMU/MMMU" and not loaded.info.notes
        assert loaded.info.files and loaded.info.files[0] == "Accounting/validation-00000-of-00001.parquet"
    sizes = _prompt_sizes("mmmu", "validation", fx.root)  # images of a cache snapshot are symlinks into blobs/
    assert sizes["validation_Art_1"] == list(fx.expected["validation_Art_1"].image_sizes)
    other = make_hf_cache(tmp_path / "o", "MMMU/MMMU", make_mmmu_snapshot, revision="1" * 40)
    loaded = get_benchmark("mmmu").load("validation", data=other.root)
    assert loaded.info.revision == "1" * 40 and any("not the pinned" in n for n in loaded.info.notes)


def test_mmmu_test_split_scored_with_released_answers_and_withheld_without(tmp_path: Path) -> None:
    fx = make_mmmu_snapshot(tmp_path)
    test = {k: e for k, e in fx.expected.items() if e.split == "test"}
    assert len(test) == 32  # two subjects' test splits are sharded in two files
    res, samples, out = _score(tmp_path, "mmmu", fx.root, [{"id": k, "response": _mmmu_pred(e)} for k, e in test.items()],
                               "--split", "test")
    split = res["benchmarks"]["mmmu"]["splits"]["test"]
    assert split["accuracy"] == 1.0 and split["n"] == 32 and "validation" not in res["benchmarks"]["mmmu"]["splits"]
    assert {k: s["target"] for k, s in samples.items()} == {k: e.raw_gold for k, e in test.items()}
    pre = make_mmmu_snapshot(tmp_path / "pre", test_answers=False)  # a copy from before the release
    res, samples, out = _score(tmp_path, "mmmu", pre.root, [{"id": k, "response": _mmmu_pred(e)} for k, e in test.items()],
                               "--split", "test", name="withheld")
    split = res["benchmarks"]["mmmu"]["splits"]["test"]
    assert split["accuracy"] is None and split["extra"]["n_not_scored"] == 32
    sub = out / "official" / "mmmu" / "test" / "submission.json"  # where `run` writes it too
    assert json.loads(sub.read_text())["test_Art_1"] == test["test_Art_1"].gold
    assert any("answers withheld" in w for w in res["warnings"])


def test_mmmu_official_answer_file_scores_from_the_fields_scoring_needs(tmp_path: Path) -> None:
    """``answer_dict_val.json`` ({id: {question_type, ground_truth}}): multiple-choice predictions are the parsed
    letters (main_eval_only.py), open ones raw text. Verdicts checked by hand below."""
    fx = make_mmmu_snapshot(tmp_path)
    answers = mmmu_answer_dict(fx, "validation")
    path = tmp_path / "answer_dict_val.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    assert answers["validation_Geography_1"] == {"question_type": "short-answer", "ground_truth": ["Tampa", "Florida"]}
    preds = {
        "validation_Accounting_1": ("B", True),  # gold B
        "validation_Art_1": ("C", True),  # gold C
        "validation_Chemistry_1": ("A", False),  # gold D
        "validation_Biology_1": (" D\n", True),  # gold D (Biology's letter), whitespace stripped
        "validation_Design_1": ("(D)", False),  # gold D, but eval-only compares the prediction as given
        "validation_Accounting_2": ("The net income is 42 thousand.", True),  # open, gold 42
        "validation_Geography_1": ("It is Florida.", True),  # open, gold ['Tampa', 'Florida']
        "validation_Math_1": ("about 3.43", True),  # open, gold ['24/7', '3.429']: numbers compare rounded to 2 places
        "validation_Physics_1": ("", False),  # empty
    }
    assert answers["validation_Biology_1"]["ground_truth"] == "D" == answers["validation_Design_1"]["ground_truth"]
    res, samples, _ = _score(tmp_path, "mmmu", path, [{"id": k, "response": r} for k, (r, _) in preds.items()],
                             "--split", "validation")
    assert {k: s["correct"] for k, s in samples.items()} == {k: ok for k, (_, ok) in preds.items()}
    assert samples["validation_Design_1"]["parse_status"] == "failed"
    assert any("without options" in w for w in res["warnings"])


def test_mmmu_scoring_rows_need_no_question(tmp_path: Path) -> None:
    """Rows with only id, question_type, options and answer (what the official scorer reads) score; a row
    without its answer names the row and the field."""
    rows = [{"id": "validation_Art_1", "question_type": "multiple-choice", "options": "['a', 'b', 'c']", "answer": "B"},
            {"id": "validation_Art_2", "question_type": "open", "options": "[]", "answer": "12"}]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    _, samples, _ = _score(tmp_path, "mmmu", data, [{"id": "validation_Art_1", "response": "(B)"},
                                                     {"id": "validation_Art_2", "response": "12"}],
                           "--split", "validation")
    assert samples["validation_Art_1"]["correct"] and samples["validation_Art_2"]["correct"]
    rows[1].pop("answer")
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(SystemExit):
        _score(tmp_path, "mmmu", data, [{"id": "validation_Art_1", "response": "b"}], "--split", "validation",
               name="noanswer")


@pytest.mark.parametrize("kind,needle", [
    ("truncated_parquet", "Accounting/validation-00000-of-00001.parquet: cannot read this parquet file"),
    ("no_answer", "Accounting/validation-00000-of-00001.parquet row 0 (id=validation_Accounting_1): answer"),
    ("missing_image_ref", "Chemistry/validation-00000-of-00001.parquet row 0 (id=validation_Chemistry_1): image_5"),
])
def test_mmmu_broken_snapshots_name_file_row_and_field(tmp_path: Path, kind: str, needle: str) -> None:
    fx = make_broken(tmp_path, "mmmu", kind)
    with pytest.raises(Exception) as e:
        get_benchmark("mmmu").load("validation", data=fx.root)
    assert needle in str(e.value) and "\n" not in str(e.value)


# ---------------------------------------------------------------------------------------------- MathVista


def test_mathvista_snapshot_golds_images_and_withheld_test(tmp_path: Path) -> None:
    fx = make_mathvista_snapshot(tmp_path)
    mini = {k: e for k, e in fx.expected.items() if e.split == "testmini"}
    preds = [{"id": k, "response": f"The answer is {e.raw_gold}", "extraction": e.raw_gold} for k, e in mini.items()]
    res, samples, _ = _score(tmp_path, "mathvista", fx.root, preds, "--profile", "official")
    assert res["benchmarks"]["mathvista"]["splits"]["testmini"]["accuracy"] == 1.0
    assert {k: s["target"] for k, s in samples.items()} == {k: e.raw_gold for k, e in mini.items()}
    wrong = [{"id": k, "response": "x", "extraction": "[1999]" if e.kind == "text" else
              (e.options[0] if e.options[0] != e.raw_gold else e.options[1]) if e.options else "999"}
             for k, e in mini.items()]
    res, _, _ = _score(tmp_path, "mathvista", fx.root, wrong, "--profile", "official", name="wrong")
    assert res["benchmarks"]["mathvista"]["splits"]["testmini"]["accuracy"] == 0.0
    assert _prompt_sizes("mathvista", "testmini", fx.root) == {k: list(e.image_sizes) for k, e in mini.items()}
    test = {k: e for k, e in fx.expected.items() if e.split == "test"}
    res, _, out = _score(tmp_path, "mathvista", fx.root, [{"id": k, "response": "7"} for k in test], "--split", "test",
                         name="test")
    split = res["benchmarks"]["mathvista"]["splits"]["test"]
    assert split["n"] == 3 and split["accuracy"] is None  # answers withheld: not scored, not zero
    assert set(json.loads((out / "official" / "mathvista" / "test" / "submission.json").read_text())) == set(test)


def test_mathvista_broken_snapshot(tmp_path: Path) -> None:
    fx = make_broken(tmp_path, "mathvista", "no_answer")
    with pytest.raises(Exception, match=r"testmini-00000-of-00001-725687bf7a18d64b.parquet row 1 \(pid=2\): answer"):
        get_benchmark("mathvista").load("testmini", data=fx.root)
    fx = make_broken(tmp_path / "t", "mathvista", "truncated_parquet")
    with pytest.raises(Exception, match=r"725687bf7a18d64b\.parquet: cannot read this parquet file"):
        get_benchmark("mathvista").load("testmini", data=fx.root)
    with datapaths.using(skip_bad_rows=True):
        loaded = get_benchmark("mathvista").load("testmini", data=make_broken(tmp_path / "s", "mathvista",
                                                                               "no_answer").root)
    assert [r["pid"] for r in loaded.rows] == ["1", "3", "4", "5", "6"]
    assert loaded.info.skipped == {"answer": 1} and "pid=2" in loaded.info.skipped_rows[0]


# ---------------------------------------------------------------------------------------------- MathVision, MathVerse


def test_mathvision_snapshot(tmp_path: Path) -> None:
    fx = make_mathvision_snapshot(tmp_path)
    for split in ("testmini", "test"):
        rows = {k.split("/", 1)[1]: e for k, e in fx.expected.items() if e.split == split}
        res, samples, _ = _score(tmp_path, "mathvision", fx.root,
                                 [{"id": k, "response": f"\\boxed{{{e.gold}}}"} for k, e in rows.items()],
                                 "--split", split, name=split)
        assert res["benchmarks"]["mathvision"]["splits"][split]["accuracy"] == 1.0
        assert {k: s["target"] for k, s in samples.items()} == {k: e.raw_gold for k, e in rows.items()}
        assert _prompt_sizes("mathvision", split, fx.root) == {k: list(e.image_sizes) for k, e in rows.items()}


def test_mathverse_snapshot_both_splits(tmp_path: Path) -> None:
    fx = make_mathverse_snapshot(tmp_path)
    mini = {k.split("/", 1)[1]: e for k, e in fx.expected.items() if e.split == "testmini"}
    res, samples, _ = _score(tmp_path, "mathverse", fx.root,
                             [{"id": k, "response": "x", "extraction": e.gold} for k, e in mini.items()],
                             "--split", "testmini", "--profile", "quick_match")
    assert res["benchmarks"]["mathverse"]["splits"]["testmini"]["accuracy"] == 1.0 and len(samples) == 10
    vision = get_benchmark("mathverse").load("vision_only", data=fx.root)
    assert [r["sample_index"] for r in vision.rows] == ["5", "10"]
    assert _prompt_sizes("mathverse", "testmini", fx.root) == {k: list(e.image_sizes) for k, e in mini.items()}


# ---------------------------------------------------------------------------------------------- MEGA-Bench


def test_megabench_snapshot_reads_media_from_data_zip(tmp_path: Path) -> None:
    fx = make_megabench_snapshot(tmp_path)
    bench = get_benchmark("megabench")
    loaded = bench.load("core", data=fx.root)
    assert [bench.row_id(r) for r in loaded.rows] == ["1", "2", "3"]
    assert not (fx.root / "data").exists()  # read from the archive, never unpacked
    for r in loaded.rows:
        e = fx.expected[f"core/{r['id']}"]
        images = bench.build_prompt(r).images
        assert len(images) == e.n_images and bench.target(r) == e.raw_gold
    _, samples, _ = _score(tmp_path, "megabench", fx.root, [
        {"id": "1", "response": "Answer: 3"}, {"id": "2", "response": "Answer: 4"}, {"id": "3", "response": "Answer: B"}],
        "--split", "core")
    assert {k: s["correct"] for k, s in samples.items()} == {"1": True, "2": False, "3": True}
    broken = make_broken(tmp_path / "m", "megabench", "missing_member")
    with pytest.raises(Exception, match=r"core/test-00000-of-00001.parquet row 2 \(id=3\): query_media: .* not in data.zip"):
        get_benchmark("megabench").load("core", data=broken.root)
    broken = make_broken(tmp_path / "n", "megabench", "no_answer")
    with pytest.raises(Exception, match=r"row 0 \(id=1\): answer"):
        get_benchmark("megabench").load("core", data=broken.root)


# ---------------------------------------------------------------------------------------------- run --data


def _fixture_for(name: str, tmp: Path) -> HubFixture:
    return {"mmmu": make_mmmu_snapshot, "mathvista": make_mathvista_snapshot}[name](tmp)


def test_run_takes_one_data_path_per_benchmark(micro_model: Path, tmp_path: Path) -> None:
    mv, mm = _fixture_for("mathvista", tmp_path / "a"), _fixture_for("mmmu", tmp_path / "b")
    out = tmp_path / "runs"
    r = run_cli("run", "-m", str(micro_model), "-b", "mathvista", "-b", "mmmu", "-s", "testmini", "-s", "validation",
                "--data", f"mathvista={mv.root}", "--data", f"mmmu={mm.root / 'Art'}", "--max-new-tokens", "2",
                "--out", str(out), "--run-name", "two", "-q", "--no-report", env=_cli_env(tmp_path))
    # -s applies to every benchmark: mathvista has no 'validation', so this is refused before any work
    assert r.returncode == 2 and "no split 'validation'" in r.stderr, r.stderr
    r = run_cli("run", "-m", str(micro_model), "-b", "mathvista", "-b", "mmmu", "--data", f"mathvista={mv.root}",
                "--data", f"mmmu={mm.root / 'Art'}", "--max-new-tokens", "2", "--out", str(out), "--run-name", "two",
                "-q", "--no-report", env=_cli_env(tmp_path))
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "two" / "manifest.json").read_text())
    ds = {d["benchmark"]: d for d in manifest["datasets"]}
    assert ds["mathvista"]["rows"] == 6 and ds["mmmu"]["rows"] == 1 and ds["mmmu"]["notes"]
    assert "one subject folder (Art)" in r.stderr  # printed as a warning
    gens = {(g["benchmark"], g["id"]): g for g in _lines(out / "two" / "generations.jsonl")}
    for pid, e in mv.expected.items():
        if e.split == "testmini":
            assert not gens[("mathvista", pid)]["error"]
            assert len(gens[("mathvista", pid)]["image_hashes"]) == 1
    loaded = get_benchmark("mathvista").load("testmini", data=mv.root)
    bench = get_benchmark("mathvista")
    assert {r["pid"]: [image_hash(i) for i in bench.build_prompt(r).images] for r in loaded.rows} == {
        k[1]: g["image_hashes"] for k, g in gens.items() if k[0] == "mathvista"}
    r = run_cli("run", "-m", str(micro_model), "-b", "mathvista", "-b", "mmmu", "--data", str(mv.root),
                "--out", str(out), env=_cli_env(tmp_path))
    assert r.returncode == 2 and "BENCHMARK=PATH" in r.stderr and "Traceback" not in r.stderr


def test_training_data_path_takes_a_snapshot(tmp_path: Path) -> None:
    """The pipeline's ``data.path`` goes through the same loaders: an MMMU snapshot gives its rows and images."""
    from training.config import DataConfig
    from training.data import load_items

    fx = make_mmmu_snapshot(tmp_path)
    items, info = load_items(DataConfig(benchmark="mmmu", split="validation", path=str(fx.root), limit=None))
    assert len(items) == 31 and info.files and len(info.files) == 30
    assert {i.id: [im.size for im in i.prompt.images] for i in items} == {
        k: list(e.image_sizes) for k, e in fx.expected.items() if e.split == "validation"}
