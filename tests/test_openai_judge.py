"""The OpenAI-compatible client and the cached judge, against a loopback HTTP server.

The server below stands in for GPT-4 / an API judge, which cannot run here (no network):
it speaks the chat-completions wire format on 127.0.0.1 and can be told to fail first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from specs_eval.backends.openai_client import OpenAIClient, OpenAIError, image_part
from specs_eval.benchmarks.mathvista import MathVista
from specs_eval.core.records import Response
from specs_eval.run.judges import OpenAIJudge
from tests.conftest import mathvista_row


class Server:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_with: list[int] = []  # statuses to return before succeeding
        self.answer = "B"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if server.fail_with:
                    status = server.fail_with.pop(0)
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "nope"}')
                    return
                payload = {"model": body["model"], "usage": {"total_tokens": 3},
                           "choices": [{"message": {"role": "assistant", "content": server.answer},
                                        "finish_reason": "stop"}]}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def client(url: str) -> OpenAIClient:
    return OpenAIClient(url, api_key="sk-test", timeout_s=5, max_retries=3, backoff_s=0.0, sleep=lambda s: None)


def test_only_openai_fields_are_sent(server: Server) -> None:
    result = client(server.url).chat("judge-model", [{"role": "user", "content": "hi"}], max_tokens=5, temperature=0.0)
    assert result.text == "B"
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert set(req["body"]) == {"model", "messages", "max_tokens", "temperature"}
    assert req["auth"] == "Bearer sk-test"
    with pytest.raises(ValueError):
        client(server.url).chat("m", [], foo=1)


def test_retries_5xx_and_429_but_not_4xx(server: Server) -> None:
    server.fail_with = [500, 429]
    assert client(server.url).chat("m", [{"role": "user", "content": "x"}]).text == "B"
    assert len(server.requests) == 3
    server.fail_with = [401]
    with pytest.raises(OpenAIError) as e:
        client(server.url).chat("m", [{"role": "user", "content": "x"}])
    assert e.value.status == 401 and len(server.requests) == 4  # no retry


def test_connection_errors_are_retried_then_reported() -> None:
    sleeps: list[float] = []
    c = OpenAIClient("http://127.0.0.1:9/v1", timeout_s=1, max_retries=2, backoff_s=0.5, sleep=sleeps.append)
    with pytest.raises(OpenAIError):
        c.chat("m", [{"role": "user", "content": "x"}])
    assert sleeps == [0.5, 1.0]  # exponential backoff


def test_judge_cache_hits_and_failures_are_not_cached(server: Server, tmp_path: Path) -> None:
    judge = OpenAIJudge(client(server.url), "gpt-x", cache_dir=tmp_path)
    msgs = [{"role": "user", "content": "extract"}]
    first = judge.complete(msgs, max_tokens=16)
    second = judge.complete(msgs, max_tokens=16)
    assert (first.raw, first.cached, second.raw, second.cached) == ("B", False, "B", True)
    assert judge.calls == 1 and len(server.requests) == 1
    assert judge.complete(msgs, max_tokens=32).cached is False  # max_tokens is part of the key
    server.fail_with = [400]
    bad = judge.complete([{"role": "user", "content": "other"}])
    assert bad.raw is None and "400" in (bad.error or "")
    server.fail_with = []
    assert judge.complete([{"role": "user", "content": "other"}]).raw == "B"  # retried next time


def test_mathvista_judge_profile_end_to_end(server: Server, tmp_path: Path) -> None:
    bench = MathVista()
    bench.judge = OpenAIJudge(client(server.url), "gpt-x", cache_dir=tmp_path)
    row = mathvista_row("1")
    [res] = bench.score([row], [Response(id="1", text="It is the second fruit.")], "judge")
    assert res.correct and res.details["judge_id"].startswith("gpt-x@") and res.details["judge_raw"] == "B"
    server.fail_with = [400]
    [res] = bench.score([row], [Response(id="1", text="Some other text.")], "judge")
    assert res.parse_status == "error" and not res.correct  # never silently rule-scored


def test_image_part_is_a_data_uri() -> None:
    from PIL import Image

    part = image_part(Image.new("RGB", (2, 2)))
    assert part["type"] == "image_url" and part["image_url"]["url"].startswith("data:image/png;base64,")
