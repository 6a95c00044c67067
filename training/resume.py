"""Resumable training state: model, optimizer, step and RNG in one atomically written file.

Why: CPU runs take minutes to hours on shared machines and get killed. A run that
saves this every few steps and reloads it on start continues where it stopped and,
because data is a pure function of the step (seeded generators), ends with the same
weights as a run that was never interrupted.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

STATE_FILE = "state.pt"


def save_state(folder: str | Path, model: Any, optimizer: Any, step: int, extra: dict[str, Any] | None = None) -> Path:
    """Write ``folder/state.pt``; a crash mid-write leaves the previous state intact."""
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STATE_FILE
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "step": step,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
            "extra": extra or {},
        },
        tmp,
    )
    os.replace(tmp, path)
    return path


def load_state(folder: str | Path) -> dict[str, Any] | None:
    """The saved state, or ``None`` when the folder has none."""
    import torch

    path = Path(folder) / STATE_FILE
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def restore(state: dict[str, Any], model: Any, optimizer: Any) -> int:
    """Load a saved state into ``model`` and ``optimizer``; returns the step to continue from."""
    import torch

    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    random.setstate(state["python_rng"])
    return int(state["step"])
