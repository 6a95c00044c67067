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

from specs_eval.core.errors import SpecsError

FAULT_ENV = "SPECS_FAULT"


def fault_point(name: str) -> None:
    """Fault injection for the crash tests: SIGKILL this process at the named point when ``$SPECS_FAULT`` names it.

    ``SPECS_FAULT=NAME`` kills at the first pass, ``NAME@K`` at the K-th (1-based). The points sit
    where a real crash hurts most (between writing a temporary file and renaming it, between
    two log batches, between scoring and the results file); with the variable unset this is a
    dictionary lookup.
    """
    want = os.environ.get(FAULT_ENV)
    if not want:
        return
    target, _, nth = want.partition("@")
    if target != name:
        return
    count = _FAULT_COUNTS[name] = _FAULT_COUNTS.get(name, 0) + 1
    if count >= int(nth or 1):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


_FAULT_COUNTS: dict[str, int] = {}


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
        fault_point(f"tmp:{path.name}")
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
        text = "".join(_dump(r) + "\n" for r in records)
        if os.environ.get(FAULT_ENV, "").startswith("torn:") and text:
            lines = text.splitlines(keepends=True)  # half the lines and half a line, then the kill: a torn line
            keep = len(lines) // 2
            cut = sum(len(x) for x in lines[:keep]) + max(1, len(lines[keep]) // 2)
            self._f.write(text[:cut])
            self._f.flush()
            fault_point("torn:" + self.path.name)
            self._f.write(text[cut:])
        else:
            self._f.write(text)
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


# ----- one writer per folder -----

LOCK_FILE = ".lock"


class FolderLocked(SpecsError):
    """Another live process holds the folder's lock."""


def _holder_text(info: dict[str, Any]) -> str:
    parts = [f"pid {info.get('pid', '?')}"]
    if info.get("host"):
        parts.append(f"on {info['host']}")
    if info.get("since"):
        parts.append(f"since {info['since']}")
    cmd = info.get("command")
    return ", ".join(parts) + (f": {cmd}" if cmd else "")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FolderLock:
    """An exclusive, advisory lock on a folder: ``FOLDER/.lock``, held with ``fcntl.flock``.

    Why flock: the kernel releases it when the holder dies, however it dies (SIGKILL, OOM), so a
    lock left by a dead process is never "stale" in a way that blocks; the next writer takes it
    over and says so. The file also records who holds it (pid, host, start time, command), which
    the refusal message names. The descriptor is not inherited by child processes (PEP 446).

    Limits: advisory (only our own writers check it); on network file systems without working
    ``flock`` (some NFS setups) it degrades to a best-effort pid file.
    """

    def __init__(self, folder: str | Path, what: str = "folder", command: str | None = None):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.what = what
        self.command = command
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None  # the dead holder whose lock this one replaced

    def _read_info(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> FolderLock:
        import socket
        import sys
        from datetime import UTC, datetime

        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                info = self._read_info()
                raise FolderLocked(f"{self.folder} is in use by another {self.what} ({_holder_text(info)}); "
                                   "two writers would log the same samples twice. Wait for it to finish or stop "
                                   "it, then run again") from None
            except OSError:  # no flock here (some network file systems): a pid file, best effort
                info = self._read_info()
                pid = info.get("pid")
                if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid) and \
                        info.get("host") == socket.gethostname():
                    raise FolderLocked(f"{self.folder} is in use by another {self.what} ({_holder_text(info)})"
                                       ) from None
        except ImportError:  # not POSIX: the same pid-file fallback
            info = self._read_info()
            pid = info.get("pid")
            if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid):
                os.close(fd)
                raise FolderLocked(f"{self.folder} is in use by another {self.what} ({_holder_text(info)})") from None
        except BaseException:
            os.close(fd)
            raise
        previous = self._read_info()
        if previous.get("pid") and previous.get("pid") != os.getpid():
            self.took_over = previous  # its holder is gone (the kernel dropped its flock)
        mine = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": self.command if self.command is not None else " ".join(sys.argv[:1] + sys.argv[1:4])}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(mine) + "\n").encode("utf-8"), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # an empty lock file: nobody holds it, nothing to take over
        os.close(self._fd)  # drops the flock
        self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def clean_stale_tmp(folder: str | Path, recursive: bool = True, min_age_s: float = 0.0) -> list[Path]:
    """Remove temporary files that ``atomic_write_text`` leaves when killed mid-write (``.NAME.XXXX.tmp``).

    Call it only while holding the folder's lock (then no live writer of ours can own them), or
    with ``min_age_s`` for folders shared without a lock (e.g. a response cache). Returns what was removed.
    """
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    for p in folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp"):
        try:
            if p.is_file() and now - p.stat().st_mtime >= min_age_s:
                p.unlink()
                removed.append(p)
        except OSError:
            continue
    return removed
