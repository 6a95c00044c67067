"""Entry point of a launched training stage: ``python -m training.worker STAGE_DIR``.

Why everything comes from ``STAGE_DIR/request.json``: under ``accelerate launch`` every
rank runs this module; reading the resolved config and inputs from one file the
pipeline wrote guarantees that all ranks train the same thing, and keeps the launch
command free of arguments that could drift. Rank 0 writes ``train_result.json`` on
success, or ``worker_error.json`` with a one-line reason the pipeline reports.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_json
from training.config import PipelineConfig

REQUEST_FILE = "request.json"
RESULT_FILE = "train_result.json"
ERROR_FILE = "worker_error.json"


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
