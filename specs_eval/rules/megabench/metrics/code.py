"""``program_judge``: run the candidate Python program on the task's test cases.

Re-implements ``program_judge.py`` of the official evaluator (lmms-eval copy, commit
2bb5e98): for each ``{"input": [...lines], "expected": str}`` in
``eval_context["test_case"]``, the program runs with ``input()`` fed the lines and
``sys.stdout`` captured; the test passes when the captured output (right-stripped)
equals the expected output (right-stripped). Score = passed / total. As upstream,
code containing ``if __name__ == "__main__":`` runs as ``__main__``; other code runs
with separate globals and locals (so top-level functions cannot see each other, an
upstream quirk we keep); any exception, ``SystemExit`` or timeout fails the case.

Sandbox (upstream forks the evaluator process itself and ``exec``s the code in it):
each test case runs in a fresh ``python -I`` subprocess, in an empty temporary
directory, with an empty environment, its own session (the whole process group is
killed on timeout), and, where the ``resource`` module exists, limits of
``CPU_LIMIT_S`` CPU seconds, 1 GiB address space, 16 MiB written files and 64 open
files. ``socket`` is replaced by a stub that raises, which stops casual network use
but is **not** a security boundary: code can still reach the file system with the
evaluating user's rights and could re-import the real socket module. Run untrusted
responses in a container or VM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TIME_LIMIT_S = 2.0
#: extra wall-clock time for interpreter start-up on a loaded machine
STARTUP_ALLOWANCE_S = 5.0
CPU_LIMIT_S = 2
MEMORY_LIMIT_BYTES = 1 << 30
FILE_LIMIT_BYTES = 16 << 20

_RUNNER = r'''
import builtins, io, json, sys
code_path, input_path = sys.argv[1], sys.argv[2]
with open(code_path, encoding="utf-8") as f:
    code = f.read()
with open(input_path, encoding="utf-8") as f:
    lines = iter(json.load(f))
def _input(prompt=None):
    return next(lines)
builtins.input = _input
import socket
def _no_network(*args, **kwargs):
    raise OSError("network is disabled in the program_judge sandbox")
socket.socket = _no_network
socket.create_connection = _no_network
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


def _limits() -> None:  # pragma: no cover - runs in the child
    try:
        import resource
    except ImportError:
        return
    for name, value in (("RLIMIT_CPU", CPU_LIMIT_S), ("RLIMIT_AS", MEMORY_LIMIT_BYTES),
                        ("RLIMIT_FSIZE", FILE_LIMIT_BYTES), ("RLIMIT_NOFILE", 64), ("RLIMIT_CORE", 0)):
        limit = getattr(resource, name, None)
        if limit is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(limit, (value, value))


def run_program(code: str, input_lines: list[str], time_limit_s: float = TIME_LIMIT_S) -> str:
    """The program's right-stripped output, or an ``ERROR…`` string."""
    with tempfile.TemporaryDirectory(prefix="megabench-judge-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "program.py").write_text(code, encoding="utf-8")
        (tmp_path / "input.json").write_text(json.dumps(input_lines), encoding="utf-8")
        (tmp_path / "runner.py").write_text(_RUNNER, encoding="utf-8")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "runner.py", "program.py", "input.json"],
                cwd=tmp, env={}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_limits if os.name == "posix" else None,
            )
        except OSError as e:
            return f"ERROR: could not start the sandbox ({e})"
        try:
            out, _ = proc.communicate(timeout=time_limit_s + STARTUP_ALLOWANCE_S)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, AttributeError):
                proc.kill()
            proc.communicate()
            return "ERROR: Code execution exceeded the time limit."
    text = out.decode("utf-8", errors="replace")
    marker = text.rfind("@@MEGABENCH_RESULT@@")
    if marker < 0:
        killed = {-getattr(signal, "SIGXCPU", 24), -signal.SIGKILL}
        if proc.returncode in killed:
            return "ERROR: Code execution exceeded the time limit."
        return "ERROR: No output was produced before timeout."
    try:
        result = json.loads(text[marker + len("@@MEGABENCH_RESULT@@"):])
    except ValueError:
        return "ERROR: unreadable sandbox result."
    return str(result.get("output", ""))


def program_judge(response: Any, eval_context: dict[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """Share of test cases passed, and per-case results."""
    cases = eval_context["test_case"]
    if isinstance(cases, dict):
        cases = [cases]
    if not cases:
        return 0.0, []
    if not isinstance(response, str):  # upstream's child process dies before running anything
        return 0.0, [{"result": "Failed", "output": f"ERROR: no program ({type(response).__name__})"}]
    code = response
    passed, results = 0, []
    for case in cases:
        input_str = "\n".join(case["input"]) + "\n"
        output = run_program(code, input_str.splitlines())
        ok = output == str(case["expected"]).rstrip()
        passed += ok
        results.append({"input": case["input"], "expected": case["expected"], "output": output[:2000],
                        "result": "Passed" if ok else "Failed"})
    return passed / len(cases), results
