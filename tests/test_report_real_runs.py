"""Reports from real ``specs-eval run`` directories: the engine's files, a real (untrained) model.

The micro model is untrained, so its numbers mean nothing; what is tested is that the
loader reads exactly what the run engine writes (no flags), that numbers agree with the
engine's ``results.json``, that thumbnails verify against the engine's image hashes, that
``specs-eval run`` writes the analysis report, and that the comparison opens offline in
Chromium without errors (skipped without Chromium).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis import load_run, splits_frame
from analysis.report import ReportOptions, build_report, write_report
from specs_eval.benchmarks.images import report_sources
from tests.browser import find_chromium, open_offline
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_runs(micro_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("real")
    dirs = {}
    # t10 and t08 differ only in sampling temperature; seed1 also changes the toy world's data seed
    # (other items)
    for name, temp, seed, report in (("t10", "1.0", "0", "--no-report"), ("t08", "0.8", "0", None),
                                     ("seed1", "1.0", "1", "--no-report")):
        args = ["run", "-m", str(micro_model), "--limit", "4", "--temperature", temp, "-n", "2", "--token-stats",
                "--max-new-tokens", "12", "--data-seed", seed, "--run-name", name, "--out", str(out), "-q",
                "--threads", "2"]
        r = run_cli(*(args + ([report] if report else [])))
        assert r.returncode == 0, r.stderr[-2000:]
        dirs[name] = out / name
    return dirs


def test_loader_reads_engine_output_cleanly(real_runs):
    for d in real_runs.values():
        run = load_run(d)
        assert run.flags == [], run.flags
        assert len(run.samples) == 4 * 4 * 2 and run.image_hashes
        results = json.loads((d / "results.json").read_text())
        sf = splits_frame([run], n_boot=0).set_index("split")
        for split, m in results["benchmarks"]["toyworld"]["splits"].items():
            assert sf.loc[split, "accuracy"] == pytest.approx(m["accuracy"])


def test_run_writes_the_analysis_report(real_runs):
    html = (real_runs["t08"] / "report.html").read_text()
    assert html.count("* plotly.js v") == 1 and 'id="report-data"' in html
    assert not (real_runs["t10"] / "report.html").exists()  # --no-report honoured


def test_comparison_of_real_runs(real_runs, tmp_path):
    rep = build_report([real_runs["t10"], real_runs["t08"]], options=ReportOptions(**report_sources()))
    d = rep.data
    assert d["baseline"] == "t10" and len(d["gf"]) == 1 and d["gf"][0]["status"] != "refused"
    assert not [f for f in d["flags"] if f["severity"] == "refuse"]
    assert [f["code"] for f in d["flags"] if f["severity"] == "warn" and f["code"] != "gf_nonpositive_gain"] == [
        "different_generation"]
    # same model and data, different temperature: provenance shows that difference, not the model
    differing = {k["key"] for k in d["provenance"]["keys"] if k["differs"]}
    assert "generation.temperature" in differing and "model.weights_hash" not in differing
    ex = [e for e in d["exploration"] if e["run"] == "t08"]
    assert all(e["k"] == 2 and e["metrics"]["rbf"]["value"] >= 1.0 for e in ex)
    items = [i for b in d["drilldown"] for i in b["items"]]
    assert all("hash verified" in i["thumbnail_note"] for i in items)
    out = write_report(rep, tmp_path / "cmp.html")["html"]
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (apt-get install -y chromium, or set SPECS_EVAL_CHROMIUM)")
    res = open_offline(chromium, out)
    assert res.exceptions == [] and res.console_errors == [] and res.external_requests == []


def test_real_runs_on_other_items_are_refused(real_runs):
    d = build_report([real_runs["t10"], real_runs["seed1"]], options=None).data
    assert all(h["deltas"]["seed1"]["status"] == "refused" for h in d["headline"])
    assert {f["code"] for f in d["flags"] if f["severity"] == "refuse"} >= {"different_dataset", "different_items"}
    assert d["gf"][0]["gamma"] is None
