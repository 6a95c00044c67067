"""Open a local HTML file in headless Chromium over the DevTools protocol (a local pipe), offline.

Why the protocol and not ``--dump-dom``: it reports console errors, uncaught exceptions
and every network request the page attempts, and takes a screenshot, all from one load.
The browser is also cut off from the network (unresolvable hosts, a dead proxy), so a
page that needs the network fails visibly instead of passing by luck.

Chromium is found via ``$SPECS_EVAL_CHROMIUM`` or on PATH (``chromium``, ``chromium-browser``,
``google-chrome``, ``google-chrome-stable``); tests skip when none is found.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "devtools:")


def find_chromium() -> str | None:
    env = os.environ.get("SPECS_EVAL_CHROMIUM")
    if env:
        return env if Path(env).exists() else shutil.which(env)
    for n in NAMES:
        p = shutil.which(n)
        if p:
            return p
    return None


@dataclass
class PageResult:
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    evaluated: dict[str, Any] = field(default_factory=dict)
    screenshot: Path | None = None


class ChromiumClosed(RuntimeError):
    pass


class _Pipe:
    def __init__(self, proc: subprocess.Popen[bytes], w: int, r: int) -> None:
        self.proc, self.w, self.r = proc, w, r
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise ChromiumClosed("Chromium closed the DevTools pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 60) -> dict[str, Any]:
        i = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == i:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str, timeout: float = 60) -> dict[str, Any]:
        for k, m in enumerate(self.events):
            if m.get("method") == method:
                return self.events.pop(k)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read(deadline))
        except TimeoutError:
            pass


def open_offline(chromium: str, html: Path, screenshot: Path | None = None, evaluate: dict[str, str] | None = None,
                 width: int = 1400, height: int = 1000, timeout: float = 90, javascript: bool = True) -> PageResult:
    """Load ``html`` with the network cut off; collect errors, requests, JS evaluations and a screenshot."""
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    # Chromium reads commands on fd 3 and writes replies on fd 4. Move our ends above 9 first so
    # that dup2 to 3 and 4 in the child cannot clobber one with the other.
    child_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
    child_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    to_chrome_r, from_chrome_w = child_r, child_w

    def wire_fds() -> None:  # runs in the child between fork and exec
        os.dup2(child_r, 3)
        os.dup2(child_w, 4)

    profile = tempfile.mkdtemp(prefix="specs-chromium-")
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
            f"--window-size={width},{height}", "about:blank"]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(args, close_fds=False, preexec_fn=wire_fds, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log)
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    pipe = _Pipe(proc, to_chrome_w, from_chrome_r)
    result = PageResult()
    try:
        try:
            _drive(pipe, html, screenshot, evaluate, width, height, timeout, result, javascript)
        except (ChromiumClosed, TimeoutError) as e:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"{e}; Chromium output:\n{tail}") from None
    finally:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        os.close(to_chrome_w)
        os.close(from_chrome_r)
        shutil.rmtree(profile, ignore_errors=True)
    return result


def _drive(pipe: _Pipe, html: Path, screenshot: Path | None, evaluate: dict[str, str] | None, width: int,
           height: int, timeout: float, result: PageResult, javascript: bool = True) -> None:
    target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
    session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for m in ("Runtime.enable", "Log.enable", "Network.enable", "Page.enable"):
        pipe.call(m, session=session)
    pipe.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                      "mobile": False}, session=session)
    if not javascript:  # the page's own scripts do not run; Runtime.evaluate below still works
        pipe.call("Emulation.setScriptExecutionDisabled", {"value": True}, session=session)
    pipe.call("Page.navigate", {"url": html.resolve().as_uri()}, session=session, timeout=timeout)
    pipe.wait_event("Page.loadEventFired", timeout=timeout)
    pipe.drain(1.5)
    for name, expr in (evaluate or {}).items():
        r = pipe.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=session)
        result.evaluated[name] = r.get("result", {}).get("value")
    if screenshot is not None:
        shot = pipe.call("Page.captureScreenshot", {"format": "png"}, session=session, timeout=timeout)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        result.screenshot = screenshot
    pipe.drain(0.5)
    for m in pipe.events:
        method, p = m.get("method"), m.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            result.exceptions.append(str(d.get("exception", {}).get("description") or d.get("text")))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            result.console_errors.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            result.console_errors.append(str(p["entry"].get("text")) + " " + str(p["entry"].get("url", "")))
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            result.requests.append(url)
            if not url.startswith(LOCAL_SCHEMES):
                result.external_requests.append(url)
    with contextlib.suppress(OSError):
        pipe.send("Browser.close")
