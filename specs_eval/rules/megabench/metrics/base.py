"""What every MEGA-Bench metric shares: the unavailable signal, lazy imports, time limits.

Why: a metric whose optional dependency (or local model, or network service) is
missing must say so, and the field must be counted as *unavailable* rather than
scored 0; any other exception inside a metric scores the field 0, exactly as the
official ``MetricType.match`` does (and the error text is kept in the field info).
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator
from types import ModuleType

INSTALL_HINT = "pip install specs-eval[megabench]"


class MetricUnavailable(Exception):
    """The metric cannot run here (missing package, model, service); the field is not scored."""


class MetricTimeout(Exception):
    """A metric ran past its time limit (upstream uses SIGALRM for the same purpose)."""


def require(module: str, pip_name: str | None = None) -> ModuleType:
    """Import an optional dependency or raise ``MetricUnavailable`` with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MetricUnavailable(
            f"unavailable: {INSTALL_HINT} (needs {pip_name or module}: {e})"
        ) from None


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``MetricTimeout`` after ``seconds`` where SIGALRM is usable (main thread, POSIX).

    Elsewhere the block simply runs unbounded: callers also bound their inputs' size.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise MetricTimeout(f"timed out after {seconds}s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
