"""Γ over real benchmarks, across benchmarks, end to end: a GF study spec over MathVista and MMMU
fixtures in their hub schemas (``tests/hub_layouts.py``: parquet rows with embedded images),
evaluated by ``specs-eval run --study`` with two real tiny models, reported by ``specs-eval report``.

The models are untrained, so which one wins means nothing; what is tested: one run folder holds
every set (the same items asked in two formats under two recorded splits), the manifest carries
the roles, the report computes Γ across the two benchmarks with intervals, the gains are the
weighted means of the per-set differences the headline shows, and the issue's case
(`--id-splits testmini --ood-splits validation` over MathVista + MMMU) now gives a Γ.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis import generalization_factor, load_run
from tests import hub_layouts as hl
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub")
    mv = hl.make_mathvista_snapshot(root / "mv")
    mm = hl.make_mmmu_snapshot(root / "mmmu")
    # MathVista: the testmini parquet as downloaded; MMMU: its 30 subjects' validation parquets as one file
    # (reading the snapshot folder itself is the data loaders' business, not this test's)
    mv_file = next((mv.root / "data").glob("testmini-*.parquet"))
    tables = [pq.read_table(p) for p in sorted(mm.root.glob("*/validation-*.parquet"))]
    mm_file = root / "mmmu-validation.parquet"
    pq.write_table(pa.concat_tables(tables), mm_file)
    return {"mathvista": mv_file, "mmmu": mm_file}


@pytest.fixture(scope="module")
def study_runs(micro_model: Path, data_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("gfreal")
    spec = out / "two-benchmarks.yaml"
    mv, mm = data_files["mathvista"], data_files["mmmu"]
    spec.write_text(f"""
schema_version: 1
name: two-benchmarks
prompt_variant: specs
id:
  - {{set: mathvista:testmini, data: "{mv}"}}
ood:
  - {{set: mathvista:testmini@json, data: "{mv}"}}
  - {{set: mmmu:validation, data: "{mm}", weight: 2}}
  - {{set: mmmu:validation@answer_line, data: "{mm}", limit: 6}}
metric: format_compliance
""")
    runs = {}
    for name, model in (("micro", str(micro_model)), ("tiny", "tiny-base")):
        r = run_cli("run", "-m", model, "--study", str(spec), "--max-new-tokens", "24", "--run-name", name,
                    "--out", str(out), "-q", "--threads", "1", "--no-report")
        assert r.returncode == 0, r.stderr[-3000:]
        runs[name] = out / name
    return runs


def test_one_run_folder_holds_every_set_with_roles_in_the_manifest(study_runs, data_files):
    run = load_run(study_runs["micro"])
    keys = run.split_keys()
    assert keys == [("mathvista", "testmini"), ("mathvista", "testmini@json"), ("mmmu", "validation"),
                    ("mmmu", "validation@answer_line")]
    m = run.manifest
    assert m.study is not None and m.study.name == "two-benchmarks"
    assert m.study.roles()["ood"] == {"mathvista:testmini@json": 1.0, "mmmu:validation": 2.0,
                                      "mmmu:validation@answer_line": 1.0}
    n_mv = pq.read_metadata(data_files["mathvista"]).num_rows
    n_mm = pq.read_metadata(data_files["mmmu"]).num_rows
    counts = {k: len(run.split_samples(*k)) for k in keys}
    assert counts == {("mathvista", "testmini"): n_mv, ("mathvista", "testmini@json"): n_mv,
                      ("mmmu", "validation"): n_mm, ("mmmu", "validation@answer_line"): 6}
    # the same items, asked for another format: same content hash, another prompt, the asked format recorded
    a = {s.id: s for s in run.split_samples("mathvista", "testmini")}
    b = {s.id: s for s in run.split_samples("mathvista", "testmini@json")}
    assert a.keys() == b.keys()
    for i in a:
        assert a[i].doc_hash == b[i].doc_hash and a[i].prompt_hash != b[i].prompt_hash
        assert a[i].meta["requested_format"] == "specs" and b[i].meta["requested_format"] == "json"
    assert run.dataset("mathvista", "testmini@json").content_hash == run.dataset("mathvista", "testmini").content_hash
    assert run.flags == []


def test_report_computes_gamma_across_benchmarks(study_runs, tmp_path):
    out = tmp_path / "r.html"
    r = run_cli("report", str(study_runs["micro"]), str(study_runs["tiny"]), "--out", str(out), "--n-boot", "400",
                "--metric", "format_compliance")
    assert r.returncode == 0, r.stderr[-3000:]
    d = json.loads(out.with_suffix(".json").read_text())
    assert len(d["gf"]) == 1
    g = d["gf"][0]
    c = g["config"]
    assert c["study"] == "two-benchmarks" and c["roles_source"] == "run manifest: study two-benchmarks"
    assert c["benchmark"] == "two-benchmarks" and c["metric"] == "format_compliance"
    assert c["sets"]["mmmu:validation@answer_line"] == ["mmmu", "validation@answer_line"]
    assert g["status"] != "refused" and g["gamma"] is not None and g["gamma_ci"] is not None
    # the gains are the weighted means of the per-set differences of the headline table
    cells = {(h["benchmark"], h["split"]): h for h in d["headline"]}
    diff = {k: h["cells"]["tiny"]["value"] - h["cells"]["micro"]["value"] for k, h in cells.items()}
    assert g["g_id"] == pytest.approx(diff[("mathvista", "testmini")], abs=1e-4)
    want = (diff[("mathvista", "testmini@json")] + 2 * diff[("mmmu", "validation")]
            + diff[("mmmu", "validation@answer_line")]) / 4
    assert g["g_ood"] == pytest.approx(want, abs=1e-4)
    assert g["gamma"] == pytest.approx(generalization_factor(g["g_id"], g["g_ood"]), abs=1e-4)
    lo, hi = g["gamma_ci"]
    assert lo <= g["gamma"] <= hi or g["status"] != "ok"
    roles = {k: h["role"] for k, h in cells.items()}
    assert roles == {("mathvista", "testmini"): "ID", ("mathvista", "testmini@json"): "OOD",
                     ("mmmu", "validation"): "OOD", ("mmmu", "validation@answer_line"): "OOD"}
    assert not [f for f in d["flags"] if f["code"] == "no_gf_roles"]
    md = out.with_suffix(".md").read_text()
    assert "two-benchmarks" in md and "Generalization Factor" in md


def test_split_flags_across_benchmarks_give_gamma(study_runs, tmp_path):
    """The issue's case: --id-splits testmini --ood-splits validation over MathVista + MMMU runs."""
    out = tmp_path / "x.html"
    r = run_cli("report", str(study_runs["micro"]), str(study_runs["tiny"]), "--out", str(out), "--n-boot", "100",
                "--id-splits", "testmini", "--ood-splits", "validation")
    assert r.returncode == 0, r.stderr[-3000:]
    d = json.loads(out.with_suffix(".json").read_text())
    assert [g["config"]["benchmark"] for g in d["gf"]] == ["mathvista+mmmu"]
    c = d["gf"][0]["config"]
    assert c["id_splits"] == ["mathvista:testmini"] and c["ood_splits"] == ["mmmu:validation"]
    assert d["gf"][0]["gamma"] is not None


def test_short_form_report_overrides_the_recorded_study(study_runs, tmp_path):
    out = tmp_path / "y.html"
    r = run_cli("report", str(study_runs["micro"]), str(study_runs["tiny"]), "--out", str(out), "--n-boot", "0",
                "--id", "mathvista:testmini", "--ood", "mathvista:testmini@json", "--metric", "strict_accuracy")
    assert r.returncode == 0, r.stderr[-3000:]
    d = json.loads(out.with_suffix(".json").read_text())
    (g,) = d["gf"]
    assert g["config"]["benchmark"] == "mathvista" and g["config"]["ood_splits"] == ["testmini@json"]
    assert g["config"]["metric"] == "strict_accuracy"
    bad = run_cli("report", str(study_runs["micro"]), "--out", str(out), "--id", "mathvista:testmini",
                  "--ood", "mathvista:testmini@json", "--id-splits", "testmini")
    assert bad.returncode != 0 and "drop --id-splits" in bad.stderr
