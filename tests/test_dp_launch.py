"""`specs-eval run --dp N`: N shard processes of the same command, merged to the single-process result."""

from __future__ import annotations

import json

import pytest

from specs_eval.core.errors import SpecsError
from specs_eval.run.launch import gpu_groups, strip_option

from .conftest import run_cli

ARGS = ["--limit", "4", "-s", "id", "-s", "ood_task", "--max-new-tokens", "8", "--batch-size", "3", "--threads", "1",
        "-q", "--no-report"]


def _comparable(path):
    samples = [json.loads(x) for x in (path / "samples.jsonl").read_text().splitlines()]
    res = json.loads((path / "results.json").read_text())
    res.pop("run_name")
    return [(s["split"], s["id"], s["sample_idx"], s["response"], s["score"]) for s in samples], res


def test_dp_2_equals_a_single_process_run(micro_model, tmp_path):
    single = run_cli("run", "-m", str(micro_model), *ARGS, "--out", str(tmp_path), "--run-name", "single")
    assert single.returncode == 0, single.stderr
    dp = run_cli("run", "-m", str(micro_model), *ARGS, "--out", str(tmp_path), "--run-name", "dp", "--dp", "2")
    assert dp.returncode == 0, dp.stderr
    assert (tmp_path / "dp" / "shard-0-of-2").is_dir() and (tmp_path / "dp" / "dp-logs" / "dp-1-of-2.log").exists()
    assert _comparable(tmp_path / "dp") == _comparable(tmp_path / "single")
    again = run_cli("run", "-m", str(micro_model), *ARGS, "--out", str(tmp_path), "--run-name", "dp", "--dp", "2")
    assert again.returncode == 0, again.stderr  # every shard resumes with nothing to do
    bad = run_cli("run", "-m", str(micro_model), *ARGS, "--out", str(tmp_path), "--dp", "2", "--shard", "0/2")
    assert bad.returncode == 2 and "--dp" in bad.stderr


def test_gpu_groups_and_argument_rewriting():
    assert gpu_groups(2, 2, ["0", "1", "2", "3"]) == ["0,1", "2,3"]
    assert gpu_groups(3, 1, []) == [None, None, None]  # CPU: shards share it
    with pytest.raises(SpecsError, match="needs 4 GPUs"):
        gpu_groups(2, 2, ["0", "1", "2"])
    assert strip_option(["run", "--dp", "2", "-m", "x", "--dp=3", "--shard", "0/2"], "--dp") == [
        "run", "-m", "x", "--shard", "0/2"]
