"""``specs-eval run --dp N``: start N shard processes of the same command, one GPU group each, then merge.

Why processes and files instead of a collective engine: vLLM's own offline data parallelism is
also one engine per process, each on its own prompts; for dense models the ranks need no
coordination at all. Starting them ourselves as ``specs-eval run --shard i/N`` reuses the
shard-and-merge path that is tested to equal a single-process run (``merge.py``), and a failed
or killed shard cannot hang the others: each keeps its own crash-safe log and resumes alone.

GPU groups: shard ``i`` gets ``CUDA_VISIBLE_DEVICES`` = the ``i``-th block of ``tp`` devices from
the visible ones (``CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi -L``). Without GPUs (CPU runs)
nothing is set and the shards share the CPU.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from specs_eval.core.errors import SpecsError

LAUNCHER_VARS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def visible_gpus() -> list[str]:
    """Device ids this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else those ``nvidia-smi`` lists."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [x.strip() for x in env.split(",") if x.strip() and x.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def gpu_groups(dp: int, tp: int, gpus: Sequence[str] | None = None) -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` per shard (None: no GPUs, leave unset)."""
    gpus = list(visible_gpus() if gpus is None else gpus)
    if not gpus:
        return [None] * dp
    if len(gpus) < dp * tp:
        raise SpecsError(f"--dp {dp} x --tp {tp} needs {dp * tp} GPUs; {len(gpus)} visible ({','.join(gpus)})")
    return [",".join(gpus[i * tp:(i + 1) * tp]) for i in range(dp)]


def strip_option(args: Sequence[str], name: str) -> list[str]:
    """``args`` without ``name VALUE`` / ``name=VALUE``."""
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == name:
            skip = True
            continue
        if a.startswith(name + "="):
            continue
        out.append(a)
    return out


def launch_data_parallel(args: Sequence[str], dp: int, tp: int, log_dir: Path,
                         log: Callable[[str], None] = lambda s: None, gpus: Sequence[str] | None = None) -> None:
    """Run ``specs-eval run ARGS --shard i/dp`` for every i (one process each) and wait for all of them.

    Raises ``SpecsError`` naming the failed shards and their logs; Ctrl-C interrupts every shard
    (each keeps its finished samples).
    """
    groups = gpu_groups(dp, tp, gpus)
    log_dir.mkdir(parents=True, exist_ok=True)
    base = strip_option(strip_option(list(args), "--dp"), "--shard")
    procs: list[tuple[int, subprocess.Popen[bytes], Path]] = []
    try:
        for i in range(dp):
            env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS}
            if groups[i] is not None:
                env["CUDA_VISIBLE_DEVICES"] = groups[i]
            path = log_dir / f"dp-{i}-of-{dp}.log"
            with path.open("wb") as fh:
                p = subprocess.Popen([sys.executable, "-m", "specs_eval", *base, "--shard", f"{i}/{dp}", "--no-report",
                                      "-q"], env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            procs.append((i, p, path))
            log(f"shard {i}/{dp}: pid {p.pid}" + (f", GPUs {groups[i]}" if groups[i] else "") + f", log {path}")
        while any(p.poll() is None for _, p, _ in procs):
            time.sleep(0.2)
    except BaseException:
        for _, p, _ in procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGINT)  # each shard records "interrupted" and keeps its log
        for _, p, _ in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        raise
    failed = [(i, p.returncode, path) for i, p, path in procs if p.returncode != 0]
    if failed:
        details = "; ".join(f"shard {i} exit {rc}: {_tail(path)}" for i, rc, path in failed)
        raise SpecsError(f"{len(failed)} of {dp} shards failed ({details}); finished samples are kept: run the same "
                         "command again to resume")


def _tail(path: Path, n: int = 300) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return "(no log)"
    lines = [line for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "(empty log)")[-n:]
