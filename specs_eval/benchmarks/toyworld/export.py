"""Write toy-world splits to disk in the MathVista schema (JSONL + PNG files).

Why: users and tests need the toy world as *files* — to exercise ``--data`` loading
exactly like a pre-fetched real benchmark, to hand it to other tools (lmms-eval task
folders), and to inspect images.
"""

from __future__ import annotations

import json
from pathlib import Path

from specs_eval.benchmarks.toyworld import world
from specs_eval.core.io import atomic_write_text


def export_split(split: str, out: str | Path, n: int | None = None, seed: int = 0) -> Path:
    """Write ``<out>/<split>.jsonl`` and ``<out>/images/<pid>.png``; returns the JSONL path."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for row in world.iter_split(split, n, seed):
        img = row.pop("decoded_image")
        img.save(out / row["image"])
        lines.append(json.dumps(row, ensure_ascii=False))
    path = out / f"{split}.jsonl"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
