"""A time budget per scored sample: an overrun becomes a counted ``error``, never a hang.

Why a process and not a signal or a thread: the costly steps of a scorer are C code
(big-integer arithmetic, a regex, sympy's simplifier) that neither ``SIGALRM`` nor an
exception injected into a thread can interrupt, and signals only reach the main
thread. So the calls run in a forked worker process that the caller can kill. One
worker is forked per batch (not per call) and inherits the scorer, the rows and the
responses, so nothing is pickled on the way in; each verdict comes back over a pipe.
When a call overruns, the worker's whole process group is killed, that sample gets an
``error`` verdict ("time budget exceeded") and a fresh worker continues with the next
sample. It works from worker threads too (the fork happens in the calling thread; in
the worker that thread is the main thread, so scorers' own ``SIGALRM`` limits work).

Guarantees and limits:

* a call never blocks the caller longer than ``seconds`` (plus the fork, a few ms);
* a scorer that raises gives ``ScoreResult.error`` (as ``score_each`` does); a worker
  that dies (out of memory, a signal) gives an ``error`` naming the signal;
* the worker is a copy: what a scorer changes in memory (a cache, a random generator)
  is not seen by the caller. A scorer whose later verdicts depend on earlier calls
  (MMMU's seeded random fallback) passes ``stateful=True``: after an overrun the new
  worker first replays the calls that succeeded, without reporting them, so later
  samples see the state they would have seen (the overrun sample's own effect is
  unknowable: the official scorer would not have finished it either);
* scorers must not need the parent's threads, sockets or GPU in the worker (rules
  scorers do not; LLM judges should run outside the budget, with their own deadlines);
* without ``os.fork`` (Windows) calls run inline, unbounded, and ``available()`` says so.

Overhead (measured on a shared 2-core machine, MathVista ``rules`` on 10,000 ordinary
responses): see ``docs/design.md``; per call it is a pickle of the verdict and a pipe
round trip, about tens of microseconds, plus one fork per batch.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from specs_eval.core.records import ScoreResult

T = TypeVar("T")

#: default per-sample budget in seconds (an ordinary rules verdict takes well under 10 ms)
DEFAULT_SECONDS = 10.0

_OK, _RAISED = 0, 1
_HEADER = 8


def configured_seconds() -> float | None:
    """The per-sample budget scorers run under: ``SPECS_EVAL_SCORE_BUDGET_S`` (seconds; ``0`` turns it off),
    else ``DEFAULT_SECONDS``."""
    raw = os.environ.get("SPECS_EVAL_SCORE_BUDGET_S")
    if raw is None or not raw.strip():
        return DEFAULT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"SPECS_EVAL_SCORE_BUDGET_S={raw!r}: expected seconds (0 = no budget)") from None
    return value if value > 0 else None


def available() -> bool:
    """True when calls can be bounded (the platform can fork)."""
    return hasattr(os, "fork") and sys.platform != "win32"


def overrun(seconds: float) -> ScoreResult:
    """The verdict for a sample whose scorer ran past its budget: wrong, counted as ``error``."""
    return ScoreResult(score=0.0, correct=False, parse_status="error", method="time_budget",
                       details={"error": f"time budget exceeded ({seconds:g} s)"})


def _died(status: str) -> ScoreResult:
    return ScoreResult(score=0.0, correct=False, parse_status="error", method="time_budget",
                       details={"error": f"scorer process died ({status})"})


def _raised(message: str) -> ScoreResult:
    return ScoreResult(score=0.0, correct=False, parse_status="error", method="error", details={"error": message})


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _child(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], order: Sequence[int], fd: int) -> None:
    """Run in the forked worker: call ``fn`` for each index in ``order``, report each result."""
    code = 0
    try:
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # its own group, so a kill also reaches what the scorer started
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for i in order:
            try:
                kind, value = _OK, fn(*calls[i])
            except BaseException as e:  # reported to the parent as the sample's error
                kind, value = _RAISED, f"{type(e).__name__}: {e}"
            try:
                data = pickle.dumps((i, kind, value), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as e:
                data = pickle.dumps((i, _RAISED, f"unpicklable result: {type(e).__name__}: {e}"))
            _write_all(fd, len(data).to_bytes(_HEADER, "little") + data)
    except BaseException:  # the parent sees the pipe close and reports it
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class _Worker:
    """One forked worker and the read end of its pipe."""

    def __init__(self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], order: Sequence[int]) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns from _child
            os.close(read_fd)
            _child(fn, calls, order, write_fd)
        os.close(write_fd)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # also from here: no window where a kill misses the group
        self.pid, self.fd, self.buffer, self.alive = pid, read_fd, b"", True
        self.poller = select.poll()
        self.poller.register(read_fd, select.POLLIN | select.POLLHUP | select.POLLERR)

    def receive(self, seconds: float) -> tuple[int, int, Any] | str:
        """The next report, or ``"timeout"``, or a description of how the worker died."""
        deadline = time.monotonic() + seconds
        while True:
            if len(self.buffer) >= _HEADER:
                size = int.from_bytes(self.buffer[:_HEADER], "little")
                if len(self.buffer) >= _HEADER + size:
                    message = self.buffer[_HEADER:_HEADER + size]
                    self.buffer = self.buffer[_HEADER + size:]
                    return pickle.loads(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            if not self.poller.poll(max(1, int(remaining * 1000))):
                continue  # re-checks the deadline
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return self._exit_status()
            self.buffer += chunk

    def _exit_status(self) -> str:
        _, status = os.waitpid(self.pid, 0)
        self.alive = False
        os.close(self.fd)
        if os.WIFSIGNALED(status):
            return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
        return f"exit code {os.WEXITSTATUS(status)}"

    def kill(self) -> None:
        if not self.alive:
            return
        for target in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                target()
                break
            except (ProcessLookupError, PermissionError):
                continue
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.alive = False

    def finish(self) -> None:
        """Reap a worker that reported everything (it exits by itself)."""
        if self.alive:
            os.waitpid(self.pid, 0)
            os.close(self.fd)
            self.alive = False


def map_with_budget(fn: Callable[..., T], calls: Sequence[tuple[Any, ...]], seconds: float | None = DEFAULT_SECONDS,
                    *, on_overrun: Callable[[float], T] = overrun,  # type: ignore[assignment]
                    on_error: Callable[[str], T] = _raised,  # type: ignore[assignment]
                    on_death: Callable[[str], T] = _died,  # type: ignore[assignment]
                    stateful: bool = False) -> list[T]:
    """``[fn(*args) for args in calls]``, each call bounded by ``seconds``.

    A call that overruns yields ``on_overrun(seconds)``, one that raises
    ``on_error("Type: message")``, and a worker that dies ``on_death(how)``; by default
    these are ``error`` ``ScoreResult``s. ``seconds=None`` (or no ``fork``) runs inline.
    """
    n = len(calls)
    if seconds is None or not available():
        out: list[T] = []
        for args in calls:
            try:
                out.append(fn(*args))
            except Exception as e:
                out.append(on_error(f"{type(e).__name__}: {e}"))
        return out
    results: list[Any] = [None] * n
    done = [False] * n
    skipped: set[int] = set()  # overran or died: never run again
    nxt = 0
    while nxt < n:
        replay = [i for i in range(nxt) if i not in skipped] if stateful else []
        order = replay + list(range(nxt, n))
        worker = _Worker(fn, calls, order)
        try:
            for i in order:
                got = worker.receive(seconds)
                if isinstance(got, str):
                    skipped.add(i)
                    if not done[i]:
                        results[i] = on_overrun(seconds) if got == "timeout" else on_death(got)
                        done[i] = True
                    break
                _, kind, value = got
                if not done[i]:
                    results[i] = value if kind == _OK else on_error(value)
                    done[i] = True
            else:
                worker.finish()
        finally:
            worker.kill()
        nxt = next((i for i in range(n) if not done[i]), n)
    return results


def score_each(rows: Sequence[dict[str, Any]], responses: Sequence[Any],
               fn: Callable[[dict[str, Any], Any], ScoreResult], seconds: float | None = DEFAULT_SECONDS,
               stateful: bool = False) -> list[ScoreResult]:
    """``benchmarks.base.score_each`` with a per-sample time budget (same verdicts otherwise)."""
    return map_with_budget(fn, list(zip(rows, responses, strict=True)), seconds, stateful=stateful)


def call_with_budget(fn: Callable[..., ScoreResult], *args: Any, seconds: float | None = DEFAULT_SECONDS
                     ) -> ScoreResult:
    """One scorer call with a deadline (one fork): its verdict, or an ``error`` verdict."""
    return map_with_budget(fn, [args], seconds)[0]
