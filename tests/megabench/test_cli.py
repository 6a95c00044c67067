"""MEGA-Bench through the real commands: `specs-eval run` (micro VLM) and `specs-eval score` (oracle file)."""

from __future__ import annotations

import json
from pathlib import Path

import mb_fixture

from tests.conftest import run_cli


def test_run_and_score_commands_on_fixture_tasks(fixture_dataset: Path, micro_model: Path, tmp_path: Path):
    r = run_cli("run", "-m", str(micro_model), "-b", "megabench", "--data", str(fixture_dataset), "-s", "core",
                "--max-new-tokens", "4", "--out", str(tmp_path), "--run-name", "mb", "-q", "--no-report")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "mb" / "results.json").read_text())
    core = res["benchmarks"]["megabench"]["splits"]["core"]
    assert core["n"] > 0 and core["accuracy"] is not None
    assert (tmp_path / "mb" / "official" / "megabench" / "core" / "all_query_responses.json").exists()

    rows = [json.loads(x) for x in fixture_dataset.read_text().splitlines() if x.strip()]
    preds = tmp_path / "oracle.jsonl"
    preds.write_text("".join(json.dumps({"id": row["id"], "response": mb_fixture.oracle_response(row)}) + "\n"
                             for row in rows))
    s = run_cli("score", "--benchmark", "megabench", "--data", str(fixture_dataset), "--split", "core",
                "--predictions", str(preds), "--out", str(tmp_path / "scored"))
    assert s.returncode == 0, s.stderr[-2000:]
    scored = json.loads((tmp_path / "scored" / "results.json").read_text())
    official = scored["benchmarks"]["megabench"]["official"]
    assert official, "the official MEGA-Bench breakdown is written"
    # `score` writes the official files where `run` does: official/<benchmark>/<split>/
    assert (tmp_path / "scored" / "official" / "megabench" / "core" / "all_query_responses.json").exists()
