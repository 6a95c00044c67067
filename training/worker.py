"""Entry point of a launched training stage: ``python -m training.worker STAGE_DIR``.

Why everything comes from ``STAGE_DIR/request.json``: under ``accelerate launch`` every
rank runs this module; reading the resolved config and inputs from one file the
pipeline wrote guarantees that all ranks train the same thing, and keeps the launch
command free of arguments that could drift. Rank 0 writes ``train_result.json`` on
success, or ``worker_error.json`` with a one-line reason the pipeline reports.

Why a watchdog: ``accelerate launch`` hands the workers to torchrun, which starts each in its
own session, so killing the pipeline (even its whole process group) left them training, and
a rerun raced them (duplicated steps, a different final model). Every worker now watches the
process that launched the stage (``SPECS_PARENT``: its pid and start time, so a reused pid does
not count) and exits within a second of it being gone. It also holds a shared lock on
``STAGE_DIR/.worker.lock`` while it runs, which the pipeline checks before launching: a rerun
never trains next to a worker that is still alive.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_json, pid_alive
from training.config import PipelineConfig

REQUEST_FILE = "request.json"
RESULT_FILE = "train_result.json"
ERROR_FILE = "worker_error.json"
WORKER_LOCK = ".worker.lock"
PARENT_ENV = "SPECS_PARENT"


def process_start(pid: int) -> str | None:
    """A process's start time (Linux: clock ticks since boot), to tell it from a later process with its pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields and fields[0] == "Z":
        return None  # a zombie has finished
    return fields[19] if len(fields) > 19 else None


def parent_token(pid: int | None = None) -> str:
    """``pid:start`` of this (or ``pid``'s) process, for ``SPECS_PARENT``."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{process_start(pid) or ''}"


def parent_alive(token: str) -> bool:
    pid_text, _, start = token.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return True
    if Path("/proc").is_dir():
        now = process_start(pid)
        return now is not None and (not start or now == start)
    return pid_alive(pid)


def start_watchdog(token: str | None = None, interval_s: float = 0.5) -> threading.Thread | None:
    """Exit this process (status 143) soon after the process named by ``SPECS_PARENT`` is gone."""
    token = token if token is not None else os.environ.get(PARENT_ENV)
    if not token:
        return None

    def watch() -> None:
        while parent_alive(token):
            time.sleep(interval_s)
        print(f"training worker {os.getpid()}: the pipeline process ({token.split(':')[0]}) is gone; stopping",
              file=sys.stderr, flush=True)
        os._exit(143)

    t = threading.Thread(target=watch, daemon=True, name="specs-parent-watchdog")
    t.start()
    return t


def hold_worker_lock(stage_dir: Path) -> int | None:
    """A shared flock on ``STAGE_DIR/.worker.lock`` for this worker's lifetime (None where flock is missing)."""
    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(stage_dir / WORKER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        os.close(fd)
        return None
    (stage_dir / f".worker-{os.environ.get('RANK', '0')}.pid").write_text(f"{os.getpid()}\n")
    return fd


def write_request(stage_dir: Path, stage: str, config: PipelineConfig, inputs: dict[str, str]) -> None:
    atomic_write_json(stage_dir / REQUEST_FILE, {"schema_version": 1, "stage": stage,
                                                 "config": config.model_dump(mode="json"), "inputs": inputs})


def run_request(stage_dir: Path) -> dict[str, Any]:
    """Train the stage described by ``request.json`` and return (and, on rank 0, write) its result."""
    from training.stages.train import quiet_libraries, train_cold_start, train_grpo, world

    quiet_libraries()
    req = json.loads((stage_dir / REQUEST_FILE).read_text(encoding="utf-8"))
    config = PipelineConfig.model_validate(req["config"])
    stage = req["stage"]
    if stage in ("zero-rl", "rl"):
        result = train_grpo(stage, stage_dir, config, req["inputs"])
    elif stage == "cold-start":
        result = train_cold_start(stage, stage_dir, config, req["inputs"])
    else:
        raise ValueError(f"stage {stage!r} has no training step")
    if world()[0] == 0:
        atomic_write_json(stage_dir / RESULT_FILE, result)
    return result


def main(argv: list[str] | None = None) -> int:
    from training.stages.train import world

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m training.worker STAGE_DIR", file=sys.stderr)
        return 2
    stage_dir = Path(args[0])
    start_watchdog()
    hold_worker_lock(stage_dir)  # released by the kernel when this process ends, however it ends
    try:
        run_request(stage_dir)
        return 0
    except BaseException as e:
        known = isinstance(e, SpecsError)
        msg = str(e) if known else f"{type(e).__name__}: {e}"
        if not known and not isinstance(e, KeyboardInterrupt):
            traceback.print_exc()
        if world()[0] == 0 or known:
            atomic_write_json(stage_dir / ERROR_FILE, {"error": msg.splitlines()[0] if msg else type(e).__name__,
                                                       "known": known})
        return 130 if isinstance(e, KeyboardInterrupt) else 1


if __name__ == "__main__":
    sys.exit(main())
