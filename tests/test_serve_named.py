"""`specs-eval serve -m tiny-base` then `specs-eval run --backend openai -m tiny-base`: the issue's exact steps.

Before: HTTP 400 "Server is pinned to '<serving copy path>'", an empty run folder, and with the
path every served checkpoint's run folder was named `model`. Real processes throughout: the serve
command, `transformers serve` behind it, and the run command.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specs_eval.backends.serving import serve_available, served_name

from .conftest import REPO, run_cli

pytestmark = pytest.mark.skipif(serve_available() is not None, reason=str(serve_available()))


def test_serve_then_run_by_the_served_name(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    serve = subprocess.Popen([sys.executable, "-m", "specs_eval", "serve", "-m", "tiny-base", "--workdir",
                              str(tmp_path / "serve")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    try:
        lines = []
        deadline = time.time() + 240
        while time.time() < deadline:
            line = serve.stdout.readline()
            assert line or serve.poll() is None, "".join(lines)
            lines.append(line)
            if "specs-eval run --backend openai" in line:
                break
        printed = "".join(lines)
        assert "-m tiny-base" in printed, printed
        url = re.search(r"--base-url (\S+)", printed).group(1)
        copy = tmp_path / "serve" / "models" / "tiny-base"
        assert copy.is_dir() and not list(copy.glob("*.py"))  # no checkpoint code
        port = url.rsplit(":", 1)[1].split("/")[0]
        servers = [c for c in _cmdlines() if "transformers" in c and "serve" in c and port in c]
        assert len(servers) == 1 and "--trust-remote-code" not in servers[0], servers

        r = run_cli("run", "--backend", "openai", "--base-url", url, "-m", "tiny-base", "-s", "id", "--limit", "2",
                    "--max-new-tokens", "8", "--out", str(tmp_path / "runs"), "--no-report", "-q")
        assert r.returncode == 0, r.stderr
        run_dir = tmp_path / "runs" / "tiny-base"  # named after the served name, not `model`
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["model"]["name"] == "tiny-base" and manifest["model"]["endpoint"]["served_model"] == "tiny-base"
        assert len((run_dir / "samples.jsonl").read_text().splitlines()) == 2
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)


def _cmdlines() -> list[str]:
    out = []
    for p in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            out.append(p.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return out


def test_served_names():
    assert served_name("tiny-base") == "tiny-base"
    assert served_name("Qwen/Qwen2.5-VL-7B-Instruct") == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert served_name("./runs/x/04-rl/model") == "04-rl"
    assert served_name("/abs/path/ckpt-100") == "ckpt-100"
    assert served_name("../up/ckpt") == "ckpt" and served_name("org/m@main") == "m-main"
