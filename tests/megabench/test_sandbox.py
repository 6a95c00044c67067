"""``program_judge`` runs responses only when allowed, and contains the escapes that worked before.

Each escape below succeeded against the former runner (hardening issue): a response
created a file and scored 100 %, a ``setsid`` child held the scorer 20 s past a 2 s
limit, a re-imported socket module reached a loopback server, and host files ended up
in stored outputs. Real processes and a real loopback server; nothing is mocked.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path

import mb_fixture
import pytest

from specs_eval.rules.megabench.evaluate import evaluate_query
from specs_eval.rules.megabench.metrics import code, sandbox
from specs_eval.rules.megabench.metrics.base import MetricUnavailable

NAMESPACES = sandbox.isolation() == "namespaces"


def test_off_unless_allowed_then_unavailable_not_scored() -> None:
    sandbox.allow_program_execution(False)
    with pytest.raises(MetricUnavailable, match="runs the response as a Python program"):
        code.program_judge("print(6)", {"test_case": [{"input": ["3"], "expected": "6"}]})
    q = evaluate_query(mb_fixture.row_of("fx_program"), "Answer: ```python\nprint(6)\n```")
    assert q.not_scored and "code" in q.unavailable and "code" not in q.fields


def test_opting_in_warns_what_it_does() -> None:
    sandbox.allow_program_execution(False)
    with pytest.warns(UserWarning, match="run model-written Python programs on this machine"):
        sandbox.allow_program_execution(True)
    q = evaluate_query(mb_fixture.row_of("fx_program"), "Answer: ```python\nprint(6)\n```")
    assert q.fields == {"code": 0.5} and not q.not_scored


def test_no_file_outside_the_scratch_directory(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    for program in (f"open({str(target)!r}, 'w').write('x')",
                    f"import os\nfd = os.open({str(target)!r}, os.O_CREAT | os.O_WRONLY)",
                    f"import pathlib\npathlib.Path({str(target)!r}).write_text('x')",
                    f"import shutil\nshutil.copy('runner.py', {str(target)!r})",
                    f"import os\nos.mkdir({str(tmp_path / 'dir')!r})"):
        out = code.run_program(program, [])
        assert out.startswith("ERROR") and "sandbox" in out, (program, out)
    assert list(tmp_path.iterdir()) == []
    # inside its own scratch directory a program may write (and the directory goes afterwards)
    assert code.run_program("open('note.txt', 'w').write('ok')\nprint(open('note.txt').read())", []) == "ok"


def test_a_host_file_never_reaches_the_output(tmp_path: Path) -> None:
    content = f"CONTENT-{uuid.uuid4()}"
    secret = tmp_path / "hidden.txt"
    secret.write_text(content)
    for program in (f"print(open({str(secret)!r}).read())",
                    f"import os\nprint(os.listdir({str(tmp_path)!r}))",
                    "print(open('/etc/hostname').read())",
                    "import os\nos.chdir('..')\nprint(os.listdir('.'))"):
        out = code.run_program(program, [])
        assert content not in out and "hidden.txt" not in out.replace(str(secret), "")
        assert out.startswith("ERROR") and "sandbox" in out, (program, out)


def _processes_with(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline and "pytest" not in cmdline:
                found.append(cmdline)
    return found


def test_no_process_outlives_the_deadline() -> None:
    marker = str(900000 + uuid.uuid4().int % 99999)
    programs = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(" + marker + ")\nprint('parent')",
        f"import subprocess\nsubprocess.Popen(['sleep', '{marker}'], start_new_session=True)\nprint('spawned')",
        f"import os\nos.system('setsid sleep {marker} &')",
        f"import os\nos.posix_spawn('/bin/sleep', ['sleep', '{marker}'], {{}})",
        "import _posixsubprocess",
        "import ctypes\nctypes.CDLL(None).fork()",
    )
    for program in programs:
        start = time.monotonic()
        out = code.run_program(program, [], time_limit_s=2.0)
        assert time.monotonic() - start < 2.0 + sandbox.STARTUP_ALLOWANCE_S + 2
        assert out.startswith("ERROR") and "sandbox" in out, (program, out)
    time.sleep(0.5)
    assert _processes_with(marker) == []


@pytest.mark.skipif(not NAMESPACES, reason="unshare cannot create namespaces here")
def test_the_pid_namespace_kills_a_setsid_grandchild() -> None:
    """The layer under the audit hook: even a process that escaped it dies with the program."""
    marker = str(800000 + uuid.uuid4().int % 99999)
    cmd = [*sandbox._unshare_prefix(), "/bin/sh", "-c", f"setsid sleep {marker} & sleep 0.2; echo started"]
    start = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, env={}).stdout
    assert out.strip() == "started" and time.monotonic() - start < 10
    time.sleep(0.5)
    assert _processes_with(marker) == []


class _Server:
    """A real TCP server on the host's loopback that records every connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=5)
        self.sock.close()


def test_no_connection_to_a_loopback_server() -> None:
    server = _Server()
    try:
        for program in (
            f"import socket\nsocket.create_connection(('127.0.0.1', {server.port}), timeout=2)\nprint('connected')",
            f"import importlib\ns = importlib.import_module('_socket')\nc = s.socket()\nc.connect(('127.0.0.1', {server.port}))",
            f"import sys\ndel sys.modules['socket']\nimport socket\nsocket.socket().connect(('127.0.0.1', {server.port}))",
            f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{server.port}/', timeout=2)",
        ):
            out = code.run_program(program, [])
            assert out.startswith("ERROR") and "connected" not in out, (program, out)
        time.sleep(0.3)
        assert server.accepted == 0
    finally:
        server.close()


@pytest.mark.skipif(not NAMESPACES, reason="unshare cannot create namespaces here")
def test_the_network_namespace_has_no_route_even_without_the_hook() -> None:
    server = _Server()
    try:
        probe = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {server.port}), timeout=2)\n"
                 "    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)")
        out = subprocess.run([*sandbox._unshare_prefix(), sys.executable, "-I", "-c", probe], capture_output=True,
                             text=True, timeout=20, env={}).stdout
        assert out.startswith("refused") and server.accepted == 0
    finally:
        server.close()


def test_memory_and_cpu_limits() -> None:
    assert code.run_program("x = bytearray(2 << 30)\nprint(len(x))", []).startswith("ERROR")
    start = time.monotonic()
    assert "time limit" in code.run_program("while True:\n    pass", [], time_limit_s=1.0)
    assert time.monotonic() - start < 1.0 + sandbox.STARTUP_ALLOWANCE_S + 2


def test_ordinary_programs_still_pass() -> None:
    program = ("import sys, math, itertools, collections, heapq, bisect, functools, re, fractions\n"
               "sys.setrecursionlimit(10000)\n"
               "from collections import namedtuple\n"
               "P = namedtuple('P', 'a b')\n"
               "a, b = map(int, input().split())\n"
               "print(P(a, b).a + P(a, b).b, math.gcd(a, b))")
    assert code.run_program(program, ["12 18"]) == "30 6"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sandbox.allow_program_execution(True)
    score, cases = code.program_judge("a = int(input())\nprint(a * 2)",
                                      {"test_case": [{"input": ["3"], "expected": "6"},
                                                     {"input": ["5"], "expected": "11"}]})
    assert score == 0.5 and [c["result"] for c in cases] == ["Passed", "Failed"]


def _processes_holding(marker: str) -> list[int]:
    """PIDs with an open file whose path contains ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = [str(fd.readlink()) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue
        if any(marker in link for link in links):
            found.append(int(proc.name))
    return found


def test_a_killed_scorer_takes_the_program_with_it() -> None:
    """The per-sample time budget kills the scorer; the sandboxed program must not linger."""
    from specs_eval.rules import budget

    marker = f"lock-{uuid.uuid4()}"
    program = f"f = open('{marker}', 'w')\nimport time\ntime.sleep(600)"
    [verdict] = budget.map_with_budget(code.run_program, [(program, [], 600.0)], seconds=2.0,
                                       on_overrun=lambda s: "overrun")
    assert verdict == "overrun"
    deadline = time.monotonic() + 5
    while _processes_holding(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_holding(marker) == []
