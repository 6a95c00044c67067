"""Running model-written Python for ``program_judge``: opt-in only, inside a sandbox.

Why: MEGA-Bench's program judge executes the response as a program. Upstream does it
in a forked copy of the evaluator itself; a crafted response could then create files,
reach the network, read host files into the stored outputs and leave processes behind.
Here nothing runs unless the user opts in (``allow_program_execution``; the metric is
*unavailable* otherwise, never scored), and each test case runs as follows:

* a fresh ``python -I -S -B`` (no user site, no site-packages, no bytecode writes) with an
  empty environment, its cwd a new scratch directory that is deleted afterwards;
* where ``unshare`` can create user namespaces (Linux): in new **network** (no
  interface but a down loopback: no connection anywhere, host loopback included),
  **PID** and IPC namespaces, so every process the program starts dies with it
  (a ``setsid`` grandchild cannot outlive the deadline);
* its own session; at the deadline the whole process group is killed (SIGKILL), and on
  Linux it also dies with the scorer process (a time budget that kills the scorer);
* resource limits: the time limit in CPU seconds (at most ``CPU_LIMIT_S``; one more
  second and the kernel kills it), ``MEMORY_LIMIT_BYTES`` address space,
  ``FILE_LIMIT_BYTES`` per written file, 64 open files, no core dumps;
* a Python audit hook, installed before the program runs, refuses (``PermissionError``):
  creating processes (fork, exec, spawn, ``subprocess``, ``os.system``), signals to
  other processes, sockets, ``ctypes`` and ``_posixsubprocess``, opening files outside
  the scratch directory except for reading the standard library, and changing,
  listing or removing anything outside the scratch directory.

What is guaranteed: with namespaces, no network and no surviving processes, whatever
the program does; without them (``isolation()`` says which), the same only as far as
the audit hook holds. What is **not** guaranteed: the audit hook is a Python-level
check (PEP 578 says it is not a sandbox); a program that defeats it runs with the
evaluating user's file-system rights. Run untrusted responses in a container or VM.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

CPU_LIMIT_S = 2
MEMORY_LIMIT_BYTES = 1 << 30
FILE_LIMIT_BYTES = 16 << 20
#: extra wall-clock time for interpreter and namespace start-up on a loaded machine
STARTUP_ALLOWANCE_S = 5.0
RESULT_MARKER = "@@MEGABENCH_RESULT@@"

_allowed = False

_RUNNER = r'''
import builtins, io, json, os, sys
code_path, input_path = sys.argv[1], sys.argv[2]
with open(code_path, encoding="utf-8") as f:
    code = f.read()
with open(input_path, encoding="utf-8") as f:
    lines = iter(json.load(f))
def _input(prompt=None):
    return next(lines)
builtins.input = _input

_scratch = os.path.realpath(os.getcwd())
_stdlib = tuple({os.path.realpath(os.path.dirname(os.__file__)),
                 os.path.realpath(os.path.dirname(json.__file__)),
                 os.path.realpath(os.path.dirname(getattr(sys.modules.get("_json"), "__file__", "") or os.__file__))})
_BLOCKED = frozenset({
    "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
    "os.kill", "os.killpg", "os.putenv", "os.unsetenv", "socket.__new__", "socket.connect", "socket.bind",
    "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
    "sys._current_frames", "gc.get_referrers", "gc.get_objects",
})
_BLOCKED_IMPORTS = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "gc", "_xxsubinterpreters"})
_PATH_EVENTS = frozenset({"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink",
                          "os.link", "os.truncate", "os.utime", "os.chdir", "shutil.rmtree", "os.chflags",
                          "os.lchflags", "os.setxattr", "os.removexattr"})
_LIST_EVENTS = frozenset({"os.listdir", "os.scandir"})
_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

def _inside(path, roots):
    try:
        if isinstance(path, int):
            return True  # an already open descriptor
        real = os.path.realpath(os.fsdecode(path))
    except Exception:
        return False
    return any(real == r or real.startswith(r + os.sep) for r in roots)

def _refuse(event):
    raise PermissionError(f"blocked by the program_judge sandbox: {event}")

def _hook(event, args):
    if event in _BLOCKED or event.startswith("ctypes."):
        _refuse(event)
    if event == "import" and args and str(args[0]).split(".")[0] in _BLOCKED_IMPORTS:
        _refuse(f"import {args[0]}")
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        if path is None:
            return
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & _WRITE)
        if not _inside(path, (_scratch,) if writes else (_scratch,) + _stdlib):
            _refuse(f"open {path!r}")
    elif event in _PATH_EVENTS or event in _LIST_EVENTS:
        roots = (_scratch,) + _stdlib if event in _LIST_EVENTS else (_scratch,)
        for path in args[:2]:
            if isinstance(path, (str, bytes, os.PathLike)) and not _inside(path, roots):
                _refuse(f"{event} {path!r}")
    elif event == "object.__setattr__" and len(args) > 1 and args[1] in ("__code__", "__globals__"):
        _refuse("replacing a function's code")

import signal
def _out_of_cpu(signum, frame):
    sys.__stdout__.write("\n@@MEGABENCH_RESULT@@" + json.dumps(
        {"ok": False, "output": "ERROR: Code execution exceeded the time limit."}))
    sys.__stdout__.flush()
    os._exit(1)
if hasattr(signal, "SIGXCPU"):
    signal.signal(signal.SIGXCPU, _out_of_cpu)  # the soft CPU limit; the hard one kills

sys.addaudithook(_hook)

real_stdout = sys.stdout
buffer = io.StringIO()
sys.stdout = buffer
result = None
try:
    if 'if __name__ == "__main__":' in code:
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
    else:
        exec(code, {"__name__": "megabench_program", "__builtins__": builtins}, {})
except Exception as e:
    result = {"ok": False, "output": f"ERROR during execution: {e}"}
except BaseException as e:
    result = {"ok": False, "output": f"ERROR: the program exited ({type(e).__name__})"}
finally:
    sys.stdout = real_stdout
if result is None:
    result = {"ok": True, "output": buffer.getvalue().rstrip()}
real_stdout.write("\n@@MEGABENCH_RESULT@@" + json.dumps(result))
real_stdout.flush()
'''


def allow_program_execution(allowed: bool = True) -> None:
    """Opt in to (or out of) running responses as programs for ``program_judge``."""
    global _allowed
    if allowed and not _allowed:
        warnings.warn(
            "MEGA-Bench program_judge will run model-written Python programs on this machine, one process per "
            f"test case, in a sandbox ({isolation()}; audit hook; {CPU_LIMIT_S} s CPU, "
            f"{MEMORY_LIMIT_BYTES >> 20} MiB memory; scratch directory). The sandbox is not a security "
            "boundary for the file system: run untrusted responses in a container or VM.",
            stacklevel=2,
        )
    _allowed = allowed


def allowed() -> bool:
    return _allowed


@functools.cache
def _unshare_prefix() -> tuple[str, ...]:
    """The ``unshare`` command line that works here (user, net, PID, IPC namespaces), or ()."""
    exe = shutil.which("unshare")
    if exe is None or not sys.platform.startswith("linux"):
        return ()
    prefix = (exe, "--user", "--map-root-user", "--net", "--pid", "--ipc", "--fork", "--kill-child")
    try:
        probe = subprocess.run([*prefix, sys.executable, "-I", "-S", "-c", "print('ok')"], capture_output=True,
                               text=True, timeout=20, env={})
    except (OSError, subprocess.SubprocessError):
        return ()
    return prefix if probe.returncode == 0 and probe.stdout.strip() == "ok" else ()


def isolation() -> str:
    """``"namespaces"`` when programs run in new user/net/PID/IPC namespaces, else ``"none"``."""
    return "namespaces" if _unshare_prefix() else "none"


@functools.cache
def _set_parent_death_signal() -> Any:
    """Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, resolved in the parent (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, 1, signal.SIGKILL)


def _limits(cpu_s: int, die_with_parent: Any) -> None:  # pragma: no cover - runs in the child before exec
    if die_with_parent is not None:  # if the scorer is killed (a time budget), the program goes too
        die_with_parent()
    try:
        import resource
    except ImportError:
        return
    for name, soft, hard in (("RLIMIT_CPU", cpu_s, cpu_s + 1), ("RLIMIT_AS", MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES),
                             ("RLIMIT_FSIZE", FILE_LIMIT_BYTES, FILE_LIMIT_BYTES), ("RLIMIT_NOFILE", 64, 64),
                             ("RLIMIT_CORE", 0, 0)):
        limit = getattr(resource, name, None)
        if limit is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(limit, (soft, hard))


def run_python(code: str, input_lines: list[str], time_limit_s: float) -> str:
    """Run ``code`` with ``input()`` fed ``input_lines``: its right-stripped output, or ``ERROR…``."""
    with tempfile.TemporaryDirectory(prefix="megabench-judge-") as tmp:
        scratch = Path(tmp)
        (scratch / "program.py").write_text(code, encoding="utf-8")
        (scratch / "input.json").write_text(json.dumps(input_lines), encoding="utf-8")
        (scratch / "runner.py").write_text(_RUNNER, encoding="utf-8")
        cmd = [*_unshare_prefix(), sys.executable, "-I", "-S", "-B", "runner.py", "program.py", "input.json"]
        cpu_s = max(1, min(CPU_LIMIT_S, math.ceil(time_limit_s)))
        started = time.monotonic()
        try:
            proc = subprocess.Popen(cmd, cwd=tmp, env={}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=functools.partial(_limits, cpu_s, _set_parent_death_signal())
                                    if os.name == "posix" else None)
        except OSError as e:
            return f"ERROR: could not start the sandbox ({e})"
        try:
            out, _ = proc.communicate(timeout=time_limit_s + STARTUP_ALLOWANCE_S)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return "ERROR: Code execution exceeded the time limit."
        finally:
            _kill_group(proc)  # whatever it left in its group goes too
    text = out.decode("utf-8", errors="replace")
    marker = text.rfind(RESULT_MARKER)
    if marker < 0:
        # killed at the hard CPU limit (``unshare`` hides the signal) or past the wall clock
        if proc.returncode in {-getattr(signal, "SIGXCPU", 24), -signal.SIGKILL} \
                or time.monotonic() - started >= min(time_limit_s, cpu_s):
            return "ERROR: Code execution exceeded the time limit."
        return "ERROR: No output was produced before timeout."
    try:
        result = json.loads(text[marker + len(RESULT_MARKER):])
    except ValueError:
        return "ERROR: unreadable sandbox result."
    return str(result.get("output", ""))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.kill()
    with contextlib.suppress(Exception):
        proc.communicate(timeout=5)
