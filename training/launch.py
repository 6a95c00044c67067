"""Hand-off of training stages to ``accelerate launch``, with shipped profiles chosen by name.

Why a subprocess per training stage: the pipeline's own process (sampling, evaluation,
bookkeeping) must not live inside a distributed job that a hung rank or a long eval on
rank 0 can time out. Each training stage is launched as ``accelerate launch
--config_file PROFILE --num_processes N -m training.worker STAGE_DIR``; the worker reads
the stage request from the stage directory, so the command line carries nothing else.
``runtime.launch: none`` trains in the pipeline's process instead (fastest on a laptop).

The launcher is a plain callable so tests can inject one (the way trl's CLI is tested).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from specs_eval.core.errors import SpecsError

PROFILES_DIR = Path(__file__).resolve().parent / "accelerate"
WORKER_MODULE = "training.worker"

Launcher = Callable[[list[str], dict[str, str]], int]


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def resolve_profile(name_or_path: str) -> Path:
    """A shipped profile name (``cpu``, ``zero3``…) or a path to an accelerate config YAML."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.exists():
            raise SpecsError(f"accelerate profile not found: {p}")
        return p
    shipped = PROFILES_DIR / f"{name_or_path}.yaml"
    if not shipped.exists():
        raise SpecsError(f"unknown accelerate profile {name_or_path!r}; shipped: {', '.join(list_profiles())}, "
                         "or pass a path to a config YAML")
    return shipped


def accelerate_command(profile: Path, num_processes: int, stage_dir: Path, launch_args: Sequence[str] = ()
                       ) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(profile),
            "--num_processes", str(num_processes), *launch_args, "-m", WORKER_MODULE, str(stage_dir)]


def worker_env(threads: int | None, num_processes: int) -> dict[str, str]:
    """The environment for launched workers: this one, plus threads per process and the repo on the path."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(max(1, threads // num_processes))
    root = str(Path(__file__).resolve().parent.parent)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        env["PYTHONPATH"] = os.pathsep.join([root, *parts])
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def subprocess_launcher(cmd: list[str], env: dict[str, str]) -> int:
    """Run the launch command, forwarding output; a Ctrl-C stops the workers too."""
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
