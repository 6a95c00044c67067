"""Crash-safe file writing and tolerant reading of JSON Lines.

Why: "nothing lost on a crash" and "never a half-written results file". Whole-file
outputs (results, samples, manifests, reports) are written to a temporary file in the
same folder, fsynced and renamed over the target, so a reader sees the old file or
the new one, never a torn one. Append-only logs (generations) are flushed and fsynced
per batch; a torn last line left by a kill is detected and dropped on read.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel


def _dump(obj: Any) -> str:
    if isinstance(obj, BaseModel):
        return obj.model_dump_json()
    return json.dumps(obj, ensure_ascii=False, sort_keys=False, default=str)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """Write one JSON document (a dict, list or pydantic model) atomically."""
    if isinstance(obj, BaseModel):
        text = obj.model_dump_json(indent=indent)
    else:
        text = json.dumps(obj, ensure_ascii=False, indent=indent, default=str)
    return atomic_write_text(path, text + "\n")


def atomic_write_jsonl(path: str | Path, records: Iterable[Any]) -> Path:
    """Write one JSON object per line (dicts or pydantic models) atomically."""
    return atomic_write_text(path, "".join(_dump(r) + "\n" for r in records))


class JsonlAppender:
    """Append JSON lines durably: each ``write_many`` ends with flush + fsync."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: IO[str] | None = None

    def __enter__(self) -> JsonlAppender:
        self._f = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write_many(self, records: Iterable[Any]) -> None:
        if self._f is None:
            self.__enter__()
        assert self._f is not None
        self._f.write("".join(_dump(r) + "\n" for r in records))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def read_jsonl(path: str | Path, repair: bool = False) -> Iterator[dict[str, Any]]:
    """Parsed lines of a JSONL file. A torn *last* line (a crash mid-write) is skipped.

    With ``repair=True`` the torn tail is also truncated from the file, so later
    appends start on a clean line. A bad line anywhere else is an error: that is
    corruption, not a crash, and must not be silently skipped.
    """
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    good_end = 0
    for i, raw in enumerate(lines):
        if not raw.strip():
            good_end += len(raw) + 1
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            is_last = all(not rest.strip() for rest in lines[i + 1 :])
            if is_last:
                if repair:
                    with path.open("r+b") as f:
                        f.truncate(good_end)
                return
            raise ValueError(f"{path}:{i + 1}: corrupt JSON line ({e})") from None
        good_end += len(raw) + 1
        yield obj
