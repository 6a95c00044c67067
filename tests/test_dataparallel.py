"""Data-parallel evaluation: shards (manual and under `accelerate launch`) merge to a single run's files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO, run_cli

ARGS = ["--limit", "5", "--max-new-tokens", "10", "--batch-size", "3", "-q", "--no-report"]


def _samples(path):
    return [json.loads(x) for x in (path / "samples.jsonl").read_text().splitlines()]


def _comparable(path):
    res = json.loads((path / "results.json").read_text())
    res.pop("run_name")
    return [(s["split"], s["id"], s["sample_idx"], s["response"], s["score"]) for s in _samples(path)], res


def test_two_shards_merge_to_the_single_process_result(micro_model, tmp_path):
    single = run_cli("run", "-m", str(micro_model), *ARGS, "--out", str(tmp_path), "--run-name", "single")
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-m", "specs_eval", "run", "-m", str(micro_model), *ARGS, "--out",
                               str(tmp_path), "--run-name", "sharded", "--shard", f"{i}/2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    # merging before every shard is there is refused
    partial = tmp_path / "partial"
    shutil.copytree(tmp_path / "sharded", partial)
    shutil.rmtree(partial / "shard-1-of-2")
    refused = run_cli("merge", str(partial), "--no-report")
    assert refused.returncode == 2 and "1 of 2 shards" in refused.stderr
    merged = run_cli("merge", str(tmp_path / "sharded"), "--no-report")
    assert merged.returncode == 0, merged.stderr
    assert _comparable(tmp_path / "sharded") == _comparable(tmp_path / "single")


@pytest.mark.slow
def test_accelerate_launch_two_processes_equals_single(micro_model, tmp_path):
    accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or shutil.which("accelerate")
    if accelerate is None:
        pytest.skip("accelerate is not installed")
    single = run_cli("run", "-m", str(micro_model), *ARGS, "--out", str(tmp_path), "--run-name", "single")
    assert single.returncode == 0, single.stderr
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    # --multi_gpu on a machine without GPUs starts torchrun workers that use the CPU (gloo)
    r = subprocess.run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--main_process_port", "29533",
                        "-m", "specs_eval", "run", "-m", str(micro_model), *ARGS, "--out", str(tmp_path),
                        "--run-name", "acc"], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "acc" / "shard-0-of-2").is_dir() and (tmp_path / "acc" / "shard-1-of-2").is_dir()
    assert _comparable(tmp_path / "acc") == _comparable(tmp_path / "single")
