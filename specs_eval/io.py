"""Atomic writes of JSON and JSONL files.

Why: ``samples.jsonl`` and ``results.json`` are read by reports and by ``compare``; a
crash (or a full disk) half-way through a rewrite must leave the previous complete
file, never a torn one. Every writer goes through a temporary file in the same folder,
``fsync`` and ``os.replace`` (atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel


def _dumps(obj: Any, indent: int | None = None) -> str:
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    return json.dumps(obj, ensure_ascii=False, indent=indent, default=str)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return p


def atomic_write_json(path: str | Path, obj: Any, indent: int = 2) -> Path:
    """Write one JSON document (a dict, list or pydantic model) atomically."""
    return atomic_write_text(path, _dumps(obj, indent) + "\n")


def atomic_write_jsonl(path: str | Path, records: Iterable[Any]) -> Path:
    """Write one JSON object per line (dicts or pydantic models) atomically."""
    return atomic_write_text(path, "".join(_dumps(r) + "\n" for r in records))
