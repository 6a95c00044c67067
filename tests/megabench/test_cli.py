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


def test_program_judge_runs_programs_only_with_the_flag(fixture_dataset: Path, tmp_path: Path):
    """Without --allow-program-execution the program_judge field is 'unavailable' (not scored, not 0);
    with it the program runs in the sandbox and is scored, and the command warns what it does."""
    rows = [json.loads(x) for x in fixture_dataset.read_text().splitlines() if x.strip()]
    prog = [r for r in rows if r["task_name"] == "fx_program"]
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": r["id"], "response": mb_fixture.oracle_response(r)}) + "\n"
                             for r in prog))

    def verdicts(*flag: str) -> tuple[list[dict], str]:
        out = tmp_path / ("on" if flag else "off")
        s = run_cli("score", "--benchmark", "megabench", "--data", str(fixture_dataset), "--split", "core",
                    "--predictions", str(preds), "--out", str(out), *flag)
        assert s.returncode == 0, s.stderr[-2000:]
        samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines() if x.strip()]
        return [x for x in samples if x["id"] in {str(r["id"]) for r in prog}], s.stderr

    off, _ = verdicts()
    assert off and all(x["scores"]["official"]["details"].get("not_scored") or
                       "unavailable" in json.dumps(x["scores"]["official"]["details"]) for x in off)
    on, err = verdicts("--allow-program-execution")
    assert "program_judge will run model-written Python programs" in err
    assert all(x["score"] > 0 for x in on)
