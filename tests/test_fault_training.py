"""Training under faults: one pipeline per folder, workers that die with their pipeline, exact resumes.

Real `specs-train pipeline` processes on the real (untrained) micro Qwen2.5-VL, launched through
`accelerate launch` + torchrun (which starts every worker in its own session) as the tiny preset
does; kills are real SIGKILLs of the pipeline's whole process group. "Exact" means the resumed
run's final ``model.safetensors`` has the same bytes as a run that was never interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from training.stages.base import clean_stage_leftovers
from training.stages.train import last_checkpoint

from .conftest import REPO


def _pipeline(out: Path, model: Path | str) -> list[str]:
    # 4 prompts x 8 completions = one global batch: every step is an epoch (data order across epochs matters)
    return [sys.executable, "-m", "training", "pipeline", "--preset", "tiny", "--out", str(out), "--until", "zero-rl",
            "--no-report", "--set", f"base_model={model}", "--set", "runtime.launch=cpu", "--set", "runtime.threads=1",
            "--set", "eval.enabled=false", "--set", "data.limit=4", "--set", "zero_rl.max_steps=6",
            "--set", "zero_rl.save_steps=2", "--set", "zero_rl.max_completion_length=40",
            "--set", "zero_rl.warmup_steps=0",
            # one optimizer step per rollout (every step generates, so steps are slow enough to kill between)
            "--set", "zero_rl.prompts_per_generation=4", "--set", "zero_rl.global_batch_size=32"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def _weights(stage: Path) -> str:
    return hashlib.sha256((stage / "model" / "model.safetensors").read_bytes()).hexdigest()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_killed_pipeline_takes_its_worker_along_refuses_a_second_writer_and_resumes_exactly(tmp_path):
    # the shipped base: its rollout groups disagree (a random micro model's are all wrong: zero advantages, no update)
    base = "tiny-base"
    ref = subprocess.run(_pipeline(tmp_path / "ref", base), env=_env(), capture_output=True, text=True,
                         timeout=900)
    assert ref.returncode == 0, ref.stdout[-2000:] + ref.stderr[-3000:]

    out = tmp_path / "p"
    stage = out / "01-zero-rl"
    proc = subprocess.Popen(_pipeline(out, base), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 600
        while not (out / ".lock").exists() or f'"pid": {proc.pid}' not in (out / ".lock").read_text():
            assert proc.poll() is None and time.time() < deadline, "the pipeline did not start"
            time.sleep(0.05)
        second = subprocess.run(_pipeline(out, base), env=_env(), capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert "in use by another `specs-train pipeline`" in second.stderr and f"pid {proc.pid}" in second.stderr
        while "checkpoint-4" not in str(last_checkpoint(stage / "checkpoints", world_size=1)):
            assert proc.poll() is None, "the pipeline ended before checkpoint 4"
            assert time.time() < deadline, "no checkpoint-4 within 10 minutes"
            time.sleep(0.05)
        worker = int((stage / ".worker-0.pid").read_text())
        assert _alive(worker)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the pipeline's group: not the worker, which torchrun put in its own
        proc.wait()
    t0 = time.time()
    while _alive(worker) and time.time() - t0 < 10:
        time.sleep(0.1)
    assert not _alive(worker), "the training worker outlived its pipeline"

    rerun = subprocess.run(_pipeline(out, base), env=_env(), capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
    manifest = json.loads((stage / "stage_manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed_from"] in (["checkpoint-4"], ["checkpoint-6"])
    logged = [json.loads(x)["step"] for x in (stage / "metrics.jsonl").read_text().splitlines()
              if x.strip() and "reward" in json.loads(x)]
    assert logged == list(range(1, 7))  # no step lost or logged twice
    ref_stage = tmp_path / "ref" / "01-zero-rl"
    ref_loss = [json.loads(x).get("loss") for x in (ref_stage / "metrics.jsonl").read_text().splitlines() if x.strip()]
    assert any(v not in (None, 0.0) for v in ref_loss[:4]), "the test needs a weight change before the checkpoint"
    assert _weights(stage) == _weights(ref_stage)  # resumed weights equal the uninterrupted run's


def test_stage_leftovers_of_a_kill_are_removed(tmp_path):
    stage = tmp_path / "01-zero-rl"
    (stage / "checkpoints" / "checkpoint-2").mkdir(parents=True)
    (stage / "checkpoints" / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (stage / "checkpoints" / "checkpoint-4").mkdir()  # killed while saving: no trainer_state.json
    (stage / "model.tmp").mkdir()
    (stage / ".stage_manifest.json.abc.tmp").write_text("{")
    lines: list[str] = []
    clean_stage_leftovers(stage, lines.append)
    assert sorted(p.name for p in (stage / "checkpoints").iterdir()) == ["checkpoint-2"]
    assert not (stage / "model.tmp").exists() and not list(stage.glob("*.tmp"))
    assert "checkpoints/checkpoint-4" in lines[0] and "model.tmp" in lines[0]


def test_a_checkpoint_missing_a_ranks_rng_state_is_not_the_resume_point(tmp_path):
    ckpts = tmp_path / "checkpoints"
    for step, ranks in ((2, (0, 1)), (4, (0,))):  # rank 1 had not saved its RNG state for step 4
        d = ckpts / f"checkpoint-{step}"
        d.mkdir(parents=True)
        (d / "trainer_state.json").write_text("{}")
        (d / "model.safetensors").write_bytes(b"x")
        for r in ranks:
            (d / f"rng_state_{r}.pth").write_bytes(b"x")
    assert last_checkpoint(ckpts, world_size=2).name == "checkpoint-2"
    assert last_checkpoint(ckpts, world_size=4).name == "checkpoint-4"  # no exact one: the newest, as before


def test_weights_hash_is_the_weights_only(tmp_path):
    """A trainer's training_args.bin (pickled settings holding its output folder) does not change the hash of
    the same weights saved from two folders; a changed weight file does."""
    from specs_eval.models.loading import weights_hash

    for name, args in (("a", b"output_dir=/x/a"), ("b", b"output_dir=/y/b")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(b"weights")
        (tmp_path / name / "training_args.bin").write_bytes(args)
    assert weights_hash(str(tmp_path / "a")) == weights_hash(str(tmp_path / "b"))
    (tmp_path / "b" / "model.safetensors").write_bytes(b"other weights")
    assert weights_hash(str(tmp_path / "a")) != weights_hash(str(tmp_path / "b"))
