"""Stage directories and their manifests: what a stage read, how it was configured, what it did.

Why a manifest per stage: a pipeline is days of GPU time on a cluster that pre-empts
jobs. ``stage_manifest.json`` records the inputs with their hashes, the resolved config
and its hash, the metrics and library versions, and a status. The pipeline skips a stage
whose manifest is ``complete`` for the same config and inputs, resumes one that is not,
and refuses to silently reuse one produced from something else.

Layout of a stage directory (docs/training.md):

  stage_manifest.json  StageManifest (atomic)
  metrics.jsonl        one JSON object per logged training step
  model/               the trained model, an HF folder (written to model.tmp/, then renamed)
  checkpoints/         trainer checkpoints for resume
  eval/<run>/          specs-eval run directories (specs_eval.run.engine.run_eval)
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_json
from specs_eval.run.engine import library_versions

MANIFEST_FILE = "stage_manifest.json"
MANIFEST_SCHEMA_VERSION = 1
StageStatus = Literal["running", "complete", "failed", "interrupted"]


class StageError(SpecsError):
    """A stage cannot run or failed; the message starts with the stage name and says what to do."""

    def __init__(self, stage: str, message: str):
        super().__init__(f"stage {stage}: {message}")
        self.stage = stage


class InputRef(BaseModel):
    """One input of a stage: a model, a pairs file or a dataset, and a hash of its content."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["model", "pairs", "data"]
    ref: str
    hash: str | None = None


class StageManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = MANIFEST_SCHEMA_VERSION
    stage: str
    status: StageStatus = "running"
    config_hash: str
    config: dict[str, Any] = Field(default_factory=dict)
    trainer_config: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, InputRef] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    steps_done: list[str] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    libraries: dict[str, str] = Field(default_factory=dict)
    started: str | None = None
    finished: str | None = None
    wall_s: float = 0.0
    step_wall_s: dict[str, float] = Field(default_factory=dict)
    attempts: int = 0
    resumed_from: list[str] = Field(default_factory=list)
    error: str | None = None
    command: list[str] = Field(default_factory=list)

    def same_work(self, config_hash: str, inputs: dict[str, InputRef]) -> bool:
        """Whether this manifest describes the same stage config and the same inputs."""
        if self.config_hash != config_hash or set(self.inputs) != set(inputs):
            return False
        return all(self.inputs[k].hash == v.hash and self.inputs[k].ref == v.ref for k, v in inputs.items())


def invocation() -> list[str]:
    """The command line as the user typed it, without this machine's paths: ``python -m training``
    and the ``specs-train`` script both record as ``specs-train …`` (other entry points by file name)."""
    prog = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("specs-train")
    is_cli = prog.name == "specs-train" or (prog.name == "__main__.py" and prog.parent.name == "training")
    name = "specs-train" if is_cli else prog.name
    return [name, *sys.argv[1:]]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_manifest(stage_dir: Path) -> StageManifest | None:
    p = Path(stage_dir) / MANIFEST_FILE
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise SpecsError(f"{p}: unreadable manifest ({e}); delete the stage folder to redo it") from None
    if data.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise SpecsError(f"{p}: manifest schema {data.get('schema_version')} is not {MANIFEST_SCHEMA_VERSION}; "
                         "use a new --out")
    return StageManifest.model_validate(data)


def write_manifest(stage_dir: Path, manifest: StageManifest) -> None:
    atomic_write_json(Path(stage_dir) / MANIFEST_FILE, manifest)


def new_manifest(stage: str, config_hash: str, config: dict[str, Any], inputs: dict[str, InputRef]) -> StageManifest:
    return StageManifest(stage=stage, config_hash=config_hash, config=config, inputs=inputs,
                         libraries=library_versions(), started=now(), command=invocation())
