"""Running one stage: skip if done, resume if not, record everything in its manifest.

Why one runner for every stage: skip/resume/failure semantics must be identical
whether a stage runs alone (``specs-train stage NAME``) or inside ``specs-train
pipeline``. A stage is a list of steps (``train`` then ``eval`` for training stages;
``distill``; ``eval``) recorded in ``steps_done``; a rerun redoes only the steps not
done, and a training step resumes from its last complete checkpoint. Any failure is
written to the manifest (status ``failed`` or ``interrupted``) and re-raised as a
one-line ``StageError`` naming the stage; a SIGKILL leaves ``running``, which a rerun
treats the same way.

One writer per stage folder: ``run_stage`` holds the folder's lock (``core.io.FolderLock``), and
before launching training it checks ``.worker.lock`` so a worker left alive by a killed run
(it exits within a second once its pipeline is gone, ``training.worker``) is never raced.
Leftovers of a kill are removed under the lock: temporary files, ``model.tmp/`` and checkpoint
folders without ``trainer_state.json`` (the Trainer writes it last).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from specs_eval.core.errors import SpecsError
from specs_eval.core.io import FolderLock, clean_stale_tmp
from specs_eval.core.metrics import PSI_METRICS
from training.callbacks import METRICS_FILE, METRICS_SCHEMA_VERSION
from training.config import STAGE_KEYS, PipelineConfig
from training.launch import Launcher, accelerate_command, resolve_profile, subprocess_launcher, worker_env
from training.manifest import (
    InputRef,
    StageError,
    StageManifest,
    new_manifest,
    now,
    read_manifest,
    write_manifest,
)
from training.stages.train import CHECKPOINTS, MODEL_DIR, summarize_metrics
from training.worker import (
    ERROR_FILE,
    PARENT_ENV,
    RESULT_FILE,
    WORKER_LOCK,
    parent_token,
    run_request,
    write_request,
)

TRAINING_STAGES = ("zero-rl", "cold-start", "rl")
# bytes needed per byte of weights while training: model copy, reference copy (DPO), optimizer
# moments (2 × fp32), a checkpoint of all that, and the final model
DISK_FACTOR = 6
DISK_MARGIN = 64 << 20


@dataclass
class StageContext:
    """What a stage needs: its folder, the pipeline config, its inputs and how to launch training."""

    stage: str
    dir: Path
    config: PipelineConfig
    inputs: dict[str, str]
    run_name: str = ""
    evaluate: bool = False
    log: Callable[[str], None] = print
    launcher: Launcher | None = None
    judge_fn: Any = None
    input_refs: dict[str, InputRef] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.dir = Path(self.dir)
        self.run_name = self.run_name or self.dir.name


@lru_cache(maxsize=64)
def _weights_hash(path: str, mtime_ns: int) -> str | None:
    from specs_eval.models.loading import weights_hash

    return weights_hash(path)


def model_ref(model: str, pipeline_dir: Path | None = None) -> InputRef:
    """A model input: shipped name, hub id (hash: None, the id pins it) or folder (hash of its weights)."""
    from specs_eval.models.loading import ModelLoadError, resolve_model

    try:
        resolved = resolve_model(model)
    except ModelLoadError as e:
        raise SpecsError(str(e)) from None
    p = Path(resolved)
    if not p.exists():
        return InputRef(kind="model", ref=model, hash=None)
    # produced by one of our stages: the producer's manifest holds the hash, no need to reread weights
    manifest = read_manifest(p.parent) if p.name == MODEL_DIR else None
    h = manifest.outputs.get("model_hash") if manifest is not None and manifest.status == "complete" else None
    if h is None:
        newest = max((f.stat().st_mtime_ns for f in p.glob("*.safetensors")), default=0)
        h = _weights_hash(str(p.resolve()), newest)
    return InputRef(kind="model", ref=_display(model, p, pipeline_dir), hash=h)


def _display(given: str, path: Path, pipeline_dir: Path | None) -> str:
    if pipeline_dir is not None:
        try:
            return str(path.resolve().relative_to(Path(pipeline_dir).resolve()))
        except ValueError:
            pass
    return given


def file_ref(kind: str, path: Path, pipeline_dir: Path | None = None) -> InputRef:
    h = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None
    return InputRef(kind=kind, ref=_display(str(path), path, pipeline_dir), hash=h)  # type: ignore[arg-type]


def check_disk(stage: str, stage_dir: Path, model: str) -> None:
    """Refuse to start training when the disk cannot hold the checkpoints."""
    from specs_eval.models.loading import resolve_model

    p = Path(resolve_model(model))
    size = sum(f.stat().st_size for f in p.glob("*.safetensors")) if p.exists() else 0
    if not size:
        return
    need = size * DISK_FACTOR + DISK_MARGIN
    free = shutil.disk_usage(stage_dir).free
    if free < need:
        raise StageError(stage, f"needs about {need / 2**30:.1f} GiB free for checkpoints in {stage_dir}, but only "
                         f"{free / 2**30:.1f} GiB are free; free space or use another --out, then run again")


# how a full disk surfaces through torch.save / safetensors, which do not raise OSError
_DISK_FULL_TEXT = ("No space left on device", "File too large", "Disk quota exceeded", "unexpected pos",
                   "file write failed", "code: 28", "code: 27", "code: 122")


def _stage_error(stage: str, e: BaseException) -> StageError:
    if isinstance(e, StageError):
        return e
    disk_full = (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)) or any(
        t in str(e) for t in _DISK_FULL_TEXT)
    if disk_full:
        where = getattr(e, "filename", None) or "checkpoints"
        return StageError(stage, f"disk full while writing {where}; free space and run again (the stage resumes "
                          "from its last complete checkpoint)")

    if isinstance(e, SpecsError):
        msg = str(e)
        return StageError(stage, msg[len(f"stage {stage}: "):] if msg.startswith(f"stage {stage}: ") else msg)
    return StageError(stage, f"{type(e).__name__}: {e}")


def prepare(ctx: StageContext) -> StageManifest | None:
    """The manifest to continue, or ``None`` when the stage is already complete for this work."""
    stage = ctx.stage
    chash = ctx.config.stage_hash(stage)
    existing = read_manifest(ctx.dir)
    if existing is not None and existing.stage != stage:
        raise StageError(stage, f"{ctx.dir} holds a {existing.stage} stage; use another --out")
    if existing is not None and not existing.same_work(chash, ctx.input_refs):
        what = "completed" if existing.status == "complete" else "unfinished"
        raise StageError(stage, f"{ctx.dir} holds a {what} run with a different config or inputs; pass --redo "
                         f"{stage} to start it over (later stages are redone too) or use another --out")
    wants_eval = ctx.evaluate or stage == "eval"
    if existing is not None and wants_eval and "eval" in existing.steps_done and \
            existing.metrics.get("eval_config_hash") != eval_hash(ctx.config):
        existing.steps_done.remove("eval")  # the eval settings changed: evaluate again
    if existing is not None and existing.status == "complete":
        if wants_eval and "eval" not in existing.steps_done:
            existing.status = "running"
            existing.attempts += 1
            return existing
        return None
    m = existing or new_manifest(stage, chash, ctx.config.stage_config(stage).model_dump(mode="json")
                                 if stage in STAGE_KEYS else {}, ctx.input_refs)
    m.status = "running"
    m.error = None
    m.attempts += 1
    return m


def run_stage(ctx: StageContext) -> StageManifest:
    """Run (or resume, or skip) one stage, holding its folder's lock; returns its final manifest."""
    ctx.dir.mkdir(parents=True, exist_ok=True)
    with FolderLock(ctx.dir, what=f"{ctx.stage} stage"):
        clean_stage_leftovers(ctx.dir, ctx.log)
        return _run_stage_locked(ctx)


def clean_stage_leftovers(stage_dir: Path, log: Callable[[str], None] = lambda s: None) -> None:
    """Remove what a kill leaves behind: temporary files, ``model.tmp/``, incomplete checkpoints."""
    removed = [p.name for p in clean_stale_tmp(stage_dir)]
    tmp_model = stage_dir / (MODEL_DIR + ".tmp")
    if tmp_model.is_dir():
        shutil.rmtree(tmp_model, ignore_errors=True)
        removed.append(tmp_model.name)
    ckpts = stage_dir / CHECKPOINTS
    if ckpts.is_dir():
        for c in ckpts.glob("checkpoint-*"):
            if c.is_dir() and not (c / "trainer_state.json").exists():
                shutil.rmtree(c, ignore_errors=True)
                removed.append(f"{CHECKPOINTS}/{c.name}")
    if removed:
        log(f"removed leftovers of an interrupted run in {stage_dir.name}: {', '.join(sorted(removed))}")


def _run_stage_locked(ctx: StageContext) -> StageManifest:
    m = prepare(ctx)
    if m is None:
        ctx.log(f"{ctx.stage}: complete in {ctx.dir.name}, skipped")
        done = read_manifest(ctx.dir)
        assert done is not None
        return done
    if m.attempts > 1:
        ctx.log(f"{ctx.stage}: resuming in {ctx.dir.name} (attempt {m.attempts}; done: {m.steps_done or 'nothing'})")
    write_manifest(ctx.dir, m)
    (ctx.dir / METRICS_FILE).touch()  # every stage folder has one (the analysis loader expects it)
    t_attempt = time.perf_counter()
    try:
        if ctx.stage in TRAINING_STAGES:
            _train_step(ctx, m)
            if ctx.evaluate:
                _eval_step(ctx, m, str(ctx.dir / MODEL_DIR))
        elif ctx.stage == "distill":
            _timed(ctx, m, "distill", lambda: _distill(ctx, m))
        elif ctx.stage == "eval":
            _eval_step(ctx, m, ctx.inputs["model"])
        else:
            raise StageError(ctx.stage, f"unknown stage; known: {', '.join(STAGE_KEYS)}")
    except BaseException as e:
        m.status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        err = None if isinstance(e, KeyboardInterrupt) else _stage_error(ctx.stage, e)
        m.error = str(err) if err else None
        m.wall_s = round(m.wall_s + time.perf_counter() - t_attempt, 3)
        with contextlib.suppress(OSError):
            write_manifest(ctx.dir, m)
        if err is not None and err is not e:
            raise err from (e if not isinstance(e, SpecsError) else None)
        raise
    m.status = "complete"
    m.finished = now()
    m.wall_s = round(m.wall_s + time.perf_counter() - t_attempt, 3)
    write_manifest(ctx.dir, m)
    return m


def _timed(ctx: StageContext, m: StageManifest, step: str, fn: Callable[[], Any]) -> Any:
    if step in m.steps_done:
        return None
    t0 = time.perf_counter()
    out = fn()
    m.step_wall_s[step] = round(m.step_wall_s.get(step, 0.0) + time.perf_counter() - t0, 3)
    m.steps_done.append(step)
    write_manifest(ctx.dir, m)
    return out


def _train_step(ctx: StageContext, m: StageManifest) -> None:
    def go() -> None:
        check_disk(ctx.stage, ctx.dir, ctx.inputs["model"])
        result = launch_training(ctx)
        from specs_eval.models.loading import weights_hash

        m.metrics["train"] = result.get("metrics", {})
        m.metrics["train_curve"] = summarize_metrics(ctx.dir)
        for k in ("preflight", "batch", "examples", "pairs", "data", "units", "data_report", "reward_judge",
                  "checkpoints"):
            if k in result:
                m.metrics[k] = result[k]
        m.trainer_config = result.get("trainer_config", {})
        if result.get("resumed_from"):
            m.resumed_from.append(result["resumed_from"])
        m.outputs["model"] = MODEL_DIR
        m.outputs["model_hash"] = weights_hash(str(ctx.dir / MODEL_DIR)) or ""
        m.outputs["checkpoints"] = CHECKPOINTS

    _timed(ctx, m, "train", go)


def launch_training(ctx: StageContext) -> dict[str, Any]:
    """Train in this process (``runtime.launch: none``) or hand off to ``accelerate launch``."""
    rt = ctx.config.runtime
    inputs = {k: (str(Path(v).resolve()) if Path(v).exists() else v) for k, v in ctx.inputs.items()}
    write_request(ctx.dir, ctx.stage, ctx.config, inputs)
    (ctx.dir / RESULT_FILE).unlink(missing_ok=True)
    (ctx.dir / ERROR_FILE).unlink(missing_ok=True)
    if rt.launch == "none":
        if rt.num_processes != 1:
            raise StageError(ctx.stage, "runtime.num_processes > 1 needs an accelerate profile (runtime.launch)")
        return run_request(ctx.dir)
    profile = resolve_profile(rt.launch)
    cmd = accelerate_command(profile, rt.num_processes, ctx.dir, rt.launch_args)
    wait_for_old_workers(ctx.stage, ctx.dir, ctx.log)
    ctx.log(f"{ctx.stage}: accelerate launch --config_file {profile.name} --num_processes {rt.num_processes}")
    launcher = ctx.launcher or subprocess_launcher
    env = worker_env(rt.threads, rt.num_processes)
    env[PARENT_ENV] = parent_token()  # workers exit when this process is gone (training.worker)
    rc = launcher(cmd, env)
    err_file = ctx.dir / ERROR_FILE
    if rc != 0:
        reason = json.loads(err_file.read_text())["error"] if err_file.exists() else f"exit status {rc}"
        if rc == 130:
            raise KeyboardInterrupt
        if any(t in reason for t in _DISK_FULL_TEXT):
            raise _stage_error(ctx.stage, OSError(errno.ENOSPC, reason))
        raise StageError(ctx.stage, f"training failed: {reason}")
    result_file = ctx.dir / RESULT_FILE
    if not result_file.exists():
        raise StageError(ctx.stage, "training ended without a result file (killed?); run again to resume")
    return json.loads(result_file.read_text())


def wait_for_old_workers(stage: str, stage_dir: Path, log: Callable[[str], None], timeout_s: float = 30.0) -> None:
    """Refuse to launch while a training worker of an earlier run still holds ``.worker.lock``.

    Such a worker exits within a second of its pipeline being gone (its watchdog), so this waits a
    little before refusing with the pids to stop.
    """
    try:
        import fcntl
    except ImportError:
        return
    import os

    path = stage_dir / WORKER_LOCK
    if not path.exists():
        return
    deadline = time.monotonic() + timeout_s
    announced = False
    while True:
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return  # nobody holds it (closing the fd releases it)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
        if time.monotonic() > deadline:
            pids = sorted(p.read_text().strip() for p in stage_dir.glob(".worker-*.pid"))
            raise StageError(stage, f"a training worker of an earlier run (pid {', '.join(pids) or '?'}) still "
                             f"trains in {stage_dir}; stop it, then run again")
        if not announced:
            log(f"{stage}: waiting for a training worker of an earlier run to exit")
            announced = True
        time.sleep(0.25)


def eval_hash(config: PipelineConfig) -> str:
    return hashlib.sha256(config.eval.model_dump_json().encode()).hexdigest()[:16]


def _eval_step(ctx: StageContext, m: StageManifest, model: str) -> None:
    from training.stages.evaluate import evaluate_model

    def go() -> None:
        changed = "eval_config_hash" in m.metrics and m.metrics["eval_config_hash"] != eval_hash(ctx.config)
        m.metrics["eval"] = evaluate_model(model, ctx.dir, ctx.run_name, ctx.config, log=ctx.log, overwrite=changed)
        m.metrics["eval_config_hash"] = eval_hash(ctx.config)
        m.outputs["eval"] = m.metrics["eval"]["run"]
        if ctx.stage == "eval":  # an eval stage's one "step": its headline numbers
            line: dict[str, Any] = {"schema_version": METRICS_SCHEMA_VERSION, "stage": "eval", "step": 0}
            for bench, by_split in m.metrics["eval"]["results"].items():
                for split, r in by_split.items():
                    for k in PSI_METRICS:
                        line[f"eval/{bench}/{split}/{k}"] = r.get(k)
            (ctx.dir / METRICS_FILE).write_text(json.dumps(line) + "\n", encoding="utf-8")

    _timed(ctx, m, "eval", go)


def _distill(ctx: StageContext, m: StageManifest) -> None:
    from training.stages.distill import PAIRS_FILE, run_distill

    m.metrics["distill"] = run_distill(ctx.dir, ctx.config, ctx.inputs, ctx.log, judge_fn=ctx.judge_fn)
    m.outputs["pairs"] = PAIRS_FILE
