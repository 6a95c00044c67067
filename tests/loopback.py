"""Loopback helpers for the OpenAI-backend tests: a noisy micro VLM and a fault-injecting proxy.

The *noisy* model is the micro Qwen2.5-VL with its non-embedding weights redrawn from
N(0, 0.3): the stock untrained model answers every prompt with the same newlines, which would
make "the server's text equals HFBackend's" true for any prompt or image. The noisy one writes
different text for different prompts *and* for the same prompt with a different image, so
equality proves the server saw the same tokens and pixels.

``FaultProxy`` sits between the backend and the real ``transformers serve``: every response the
backend parses is the real server's, except where a test asks the proxy to break it (an HTTP
error, malformed JSON, a body cut off mid-way, a hang, a delay). Nothing here speaks the
chat-completions protocol on its own.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def make_noisy_model(src: Path, out: Path, std: float = 0.3, seed: int = 0) -> Path:
    import shutil

    import torch
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(src)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and "embed" not in name:
                p.normal_(0.0, std)
    model.save_pretrained(out)
    for f in src.iterdir():
        if f.is_file() and not (out / f.name).exists():
            shutil.copyfile(f, out / f.name)
    return out


def make_text_only_model(vlm: Path, out: Path) -> Path:
    """A tiny Qwen2 *language* model with the VLM's tokenizer and chat template (it cannot see images)."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(vlm)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
    cfg_path = out / "tokenizer_config.json"  # a plain tokenizer: no VLM processor class for AutoProcessor to find
    tok_cfg = json.loads(cfg_path.read_text())
    tok_cfg.pop("processor_class", None)
    cfg_path.write_text(json.dumps(tok_cfg, indent=2))
    return out


class FaultProxy:
    """HTTP proxy on 127.0.0.1 to ``upstream`` (a server root URL) that can break responses on request.

    ``faults`` is consumed one entry per POST (``None``: forward unchanged); ``default`` applies when
    it is empty. Faults: ``"status:N"`` (answer HTTP N), ``"malformed"`` (200 with invalid JSON),
    ``"truncate"`` (the real body, cut off half-way), ``"hang"`` (say nothing for ``hang_s``, then
    close), ``"empty"`` (200 with no choices). ``delay_s`` delays every forwarded response.
    """

    def __init__(self, upstream: str, hang_s: float = 3.0):
        self.upstream = upstream.rstrip("/")
        self.faults: list[str | None] = []
        self.default: str | None = None
        self.delay_s = 0.0
        self.hang_s = hang_s
        self.posts = 0
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, length: int | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True

            def _forward(self, method: str, body: bytes | None) -> tuple[int, bytes]:
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method=method,
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        return r.status, r.read()
                except urllib.error.HTTPError as e:
                    return e.code, e.read()

            def do_GET(self) -> None:
                self._send(*self._forward("GET", None))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with proxy._lock:
                    proxy.posts += 1
                    proxy.bodies.append(json.loads(body))
                    fault = proxy.faults.pop(0) if proxy.faults else proxy.default
                if fault == "hang":
                    time.sleep(proxy.hang_s)
                    self.close_connection = True
                    return
                if fault is not None and fault.startswith("status:"):
                    self._send(int(fault.split(":")[1]), b'{"error": {"message": "injected"}}')
                    return
                if fault == "malformed":
                    self._send(200, b'{"choices": [{"message": {"content": "x"')
                    return
                if fault == "empty":
                    self._send(200, b'{"choices": []}')
                    return
                status, data = self._forward("POST", body)
                if proxy.delay_s:
                    time.sleep(proxy.delay_s)
                if fault == "truncate":
                    self._send(status, data[: len(data) // 2], length=len(data))
                    return
                self._send(status, data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, client_address: None  # clients that hang up are expected
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ScriptedServer:
    """A loopback OpenAI-compatible endpoint that misbehaves on request, one *mode* per POST.

    Why scripted instead of the real server: these are the failures a real server shows only when
    broken or hostile (a body that drips a byte at a time, JSON nested 100 000 deep, ``choices`` as
    an object, the caller's ``Authorization`` header echoed in an error), which ``transformers
    serve`` cannot be made to produce. Valid answers follow the chat-completions shape, with
    ``usage.prompt_tokens`` growing with the number of images so the backend's start-up probe passes.

    ``modes`` is consumed one per POST (``default`` when empty). Modes: ``ok``, ``slow_drip``
    (a valid body, one byte every ``drip_s``), ``deep``, ``dict_choices``, ``bad_usage``,
    ``bad_index``, ``not_json``, ``echo_auth`` (HTTP 400 whose body repeats the Authorization
    header), ``retry_after:S`` (429 with ``Retry-After: S``), ``retry_after_date`` (503 with an
    HTTP-date one second ahead), ``huge`` (an endless 200 body), ``status:N``, ``hang``.
    """

    def __init__(self, default: str = "ok", answer: str = "The answer is B.", drip_s: float = 0.5,
                 hang_s: float = 5.0):
        self.default = default
        self.modes: list[str] = []
        self.answer = answer
        self.drip_s = drip_s
        self.hang_s = hang_s
        self.posts = 0
        self.seen: list[dict[str, Any]] = []  # {"body", "authorization", "mode", "t"}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with server._lock:
                    server.posts += 1
                    mode = server.modes.pop(0) if server.modes else server.default
                    server.seen.append({"body": body, "authorization": self.headers.get("Authorization"),
                                        "mode": mode, "t": time.monotonic()})
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(mode, body)

            def _answer(self, mode: str, body: dict[str, Any]) -> None:
                if mode == "hang":
                    time.sleep(server.hang_s)
                    self.close_connection = True
                    return
                if mode.startswith("status:"):
                    self._send(int(mode.split(":")[1]), b'{"error": {"message": "injected"}}')
                    return
                if mode.startswith("retry_after:"):
                    self._send(429, b'{"error": "slow down"}', {"Retry-After": mode.split(":", 1)[1]})
                    return
                if mode == "retry_after_date":
                    import email.utils

                    when = email.utils.formatdate(time.time() + 1.0, usegmt=True)
                    self._send(503, b'{"error": "busy"}', {"Retry-After": when})
                    return
                if mode == "echo_auth":
                    msg = {"error": {"message": f"invalid request; headers: Authorization: "
                                                f"{self.headers.get('Authorization')}"}}
                    self._send(400, json.dumps(msg).encode())
                    return
                if mode == "not_json":
                    self._send(200, b"<html>502 bad gateway</html>")
                    return
                if mode == "deep":
                    self._send(200, b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
                    return
                if mode == "huge":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()  # no length: the body runs until the client hangs up
                    chunk = b" " * 65536
                    try:
                        for _ in range(100_000):
                            self.wfile.write(chunk)
                    finally:
                        self.close_connection = True
                    return
                payload = server.completion(body)
                if mode == "dict_choices":
                    payload["choices"] = {"0": payload["choices"][0]}
                elif mode == "bad_usage":
                    payload["usage"] = [1, 2, 3]
                elif mode == "bad_index":
                    payload["choices"] = [dict(payload["choices"][0], index="first"), payload["choices"][0]]
                data = json.dumps(payload).encode()
                if mode == "slow_drip":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    for i in range(len(data)):
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                        time.sleep(server.drip_s)
                    return
                self._send(200, data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, client_address: None
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """A valid chat completion: prompt tokens grow with the images, one choice per ``n``."""
        n_images = sum(1 for m in body.get("messages", []) if isinstance(m.get("content"), list)
                       for p in m["content"] if isinstance(p, dict) and p.get("type") == "image_url")
        n = int(body.get("n") or 1)
        return {"id": "x", "object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": i, "message": {"role": "assistant", "content": self.answer},
                             "finish_reason": "stop"} for i in range(n)],
                "usage": {"prompt_tokens": 10 + 100 * n_images, "completion_tokens": 5, "total_tokens": 15}}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
