"""The pipeline as a user runs it: real subprocesses, a real SIGKILL, a real 2-process accelerate launch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from training.manifest import read_manifest

from .conftest import REPO
from .test_train_stages import make_pairs


def specs_train(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "training", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def steps(stage_dir: Path) -> list[int]:
    return [json.loads(x)["step"] for x in (stage_dir / "metrics.jsonl").read_text().splitlines()
            if x.strip() and "loss" in json.loads(x)]  # rollout metrics (reward) only on a rollout's first step


def test_kill_mid_stage_then_rerun_skips_done_stages_and_resumes(micro_model, tmp_path):
    out = tmp_path / "pipe"
    args = ["pipeline", "--preset", "tiny", "--quick", "--out", str(out), "--until", "zero-rl", "--no-report",
            "--set", f"base_model={micro_model}", "--set", "runtime.threads=2", "--set", "data.limit=8",
            "--set", "zero_rl.max_steps=8", "--set", "zero_rl.save_steps=2", "--set", "zero_rl.max_completion_length=12"]
    proc = specs_train(*args)
    ckpt = out / "01-zero-rl" / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    deadline = time.time() + 300
    while not ckpt.exists():
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.time() < deadline, "no checkpoint within 5 minutes"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    base_before = read_manifest(out / "00-base")
    killed = read_manifest(out / "01-zero-rl")
    assert base_before.status == "complete"
    assert killed.status == "running" and "train" not in killed.steps_done  # SIGKILL leaves it as it was
    assert not (out / "01-zero-rl" / "model").exists()

    log = finish(specs_train(*args))
    assert "00-base (eval)" in log and "complete in 00-base, skipped" in log
    assert "zero-rl: resuming in 01-zero-rl (attempt 2" in log
    base_after = read_manifest(out / "00-base")
    assert base_after.finished == base_before.finished and base_after.attempts == 1
    z = read_manifest(out / "01-zero-rl")
    assert z.status == "complete" and z.attempts == 2 and z.steps_done == ["train", "eval"]
    resumed = int(z.resumed_from[0].split("-")[1])
    assert resumed >= 2 and z.metrics["train"]["global_step"] == 8
    assert steps(out / "01-zero-rl") == list(range(1, 9))  # no step lost, none logged twice
    assert (out / "01-zero-rl" / "eval" / "01-zero-rl" / "results.json").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["stages"]) == {"base", "zero-rl"}
    assert "results" in summary["stages"]["base"] and "results" in summary["stages"]["zero-rl"]

    # a third run has nothing to do
    log = finish(specs_train(*args))
    assert "complete in 01-zero-rl, skipped" in log


def test_cold_start_under_accelerate_launch_with_two_processes(micro_model, tmp_path):
    pairs = make_pairs(tmp_path / "pairs.jsonl", 8)
    out = tmp_path / "cold"
    log = finish(specs_train("stage", "cold-start", "--preset", "tiny", "--quick", "--from", str(micro_model),
                             "--pairs", str(pairs), "--out", str(out), "--launch", "cpu", "--num-processes", "2",
                             "--no-eval", "--set", "runtime.threads=2", "--set", "data.limit=8",
                             "--set", "distill.data.limit=8", "--set", "cold_start.global_batch_size=4",
                             "--set", "cold_start.max_steps=2"))
    assert "accelerate launch --config_file cpu.yaml --num_processes 2" in log
    m = read_manifest(out)
    assert m.status == "complete"
    b = m.metrics["batch"]
    assert b["processes"] == 2 and b["per_device"] * 2 * b["gradient_accumulation_steps"] == 4
    assert m.trainer_config["per_device_train_batch_size"] == b["per_device"]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "loss" in r] == [1, 2]  # rank 0 alone writes the log
    assert (out / "model" / "model.safetensors").exists()


def test_disk_full_mid_stage_is_one_line_and_the_rerun_finishes(micro_model, tmp_path):
    import resource

    def limit_file_size():  # a real full disk for this process: writes past 1.5 MB fail
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_500_000, 1_500_000))

    pairs = make_pairs(tmp_path / "pairs.jsonl", 8)
    out = tmp_path / "cold"
    args = ["stage", "cold-start", "--preset", "tiny", "--quick", "--from", str(micro_model), "--pairs", str(pairs),
            "--out", str(out), "--no-eval", "--set", "runtime.threads=2", "--set", "data.limit=8",
            "--set", "cold_start.global_batch_size=4", "--set", "cold_start.max_steps=2"]
    proc = specs_train(*args, preexec_fn=limit_file_size)
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 2, log[-2000:]
    assert "error: stage cold-start: disk full while writing" in log and "Traceback" not in log
    m = read_manifest(out)
    assert m.status == "failed" and "disk full" in m.error and not (out / "model").exists()
    finish(specs_train(*args))
    m = read_manifest(out)
    assert m.status == "complete" and m.attempts == 2 and (out / "model" / "model.safetensors").exists()


def _has_tiny_base() -> bool:
    from specs_eval.models.loading import shipped_models

    return "tiny-base" in shipped_models()


@pytest.mark.skipif(not _has_tiny_base(), reason="needs the shipped tiny base (specs_eval/assets/tiny-base)")
def test_quick_pipeline_runs_every_stage_on_the_tiny_base(tmp_path):
    """Every stage end to end on the shipped base, with tiny step counts: a smoke run, not a result."""
    out = tmp_path / "p"
    log = finish(specs_train("pipeline", "--preset", "tiny", "--quick", "--out", str(out), "--no-report",
                             "--set", "runtime.threads=2"))
    manifests = {f: read_manifest(out / f) for f in ("00-base", "01-zero-rl", "02-distill", "03-cold-start", "04-rl")}
    assert all(m is not None and m.status == "complete" for m in manifests.values()), log[-3000:]
    d = manifests["02-distill"].metrics["distill"]
    assert d["pairs"] >= 1 and d["pairs"] == len((out / "02-distill" / "pairs.jsonl").read_text().splitlines())
    assert d["chosen_kept"] <= d["chosen_correct_and_format"] <= d["chosen_correct"] <= d["chosen_samples"]
    assert manifests["03-cold-start"].trainer_config["loss_type"] == ["sigmoid", "sft"]
    assert manifests["03-cold-start"].inputs["pairs"].hash
    assert manifests["04-rl"].inputs["model"].ref == "03-cold-start/model"
    summary = json.loads((out / "summary.json").read_text())
    assert {k for k, v in summary["stages"].items() if "results" in v} == {"base", "zero-rl", "cold-start", "rl"}
    # each stage vs the base on the same items: the difference of the stage numbers, inside its interval
    assert set(summary["vs_base"]) == {"zero-rl", "cold-start", "rl"}
    base = summary["stages"]["base"]["results"]["toyworld"]
    for key, per in summary["vs_base"].items():
        for split, res in summary["stages"][key]["results"]["toyworld"].items():
            cell = per[f"toyworld/{split}"]
            for metric in ("accuracy", "format_compliance"):
                c = cell[metric]
                assert c["delta"] == pytest.approx(100 * (res[metric] - base[split][metric]), abs=0.01)
                assert c["lo"] <= c["delta"] <= c["hi"] and c["n_items"] == res["n"] and 0 <= c["p_value"] <= 1
    assert summary["wall_s"] == pytest.approx(sum(st["wall_s"] for st in summary["stages"].values()), abs=0.2)
    assert "vs the base, points" in (out / "summary.md").read_text()
    # every stage folder loads in the analysis package's training-log reader
    from analysis.training_logs import load_training

    run = load_training(out)
    assert [s.name for s in run.stages] == ["00-base", "01-zero-rl", "02-distill", "03-cold-start", "04-rl"]


def test_redo_removes_the_stage_and_every_later_one(tmp_path):
    from training.manifest import StageError
    from training.pipeline import FOLDERS, redo_from

    for f in FOLDERS.values():
        (tmp_path / f).mkdir()
    redo_from(tmp_path, "cold-start", log=lambda s: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00-base", "01-zero-rl", "02-distill"]
    with pytest.raises(StageError, match="unknown stage for --redo"):
        redo_from(tmp_path, "sft", log=lambda s: None)
