"""A small, typed client for OpenAI-compatible chat completions (stdlib only).

Why our own: judges (MathVista extraction, MathVerse scoring, MEGA-Bench open tasks) and
the OpenAI generation backend all talk to "any OpenAI-compatible endpoint" (OpenAI,
vLLM, SGLang, a local server). They need the same few guarantees, and nothing else:

* explicit timeouts; retries with exponential backoff (honouring ``Retry-After``) on
  429, 5xx and connection errors; **no** retry on other 4xx (a bad key or a bad request
  does not get better by waiting);
* requests carry only OpenAI chat-completions fields (``model``, ``messages``,
  ``max_tokens``, ``temperature``, ``top_p``, ``n``, ``seed``, ``stop``, ``logprobs``,
  ``top_logprobs``), so strict servers accept them;
* the API key comes from an environment variable and is never logged or stored.

Using ``urllib`` keeps the scoring install free of HTTP dependencies.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ALLOWED_FIELDS = ("max_tokens", "temperature", "top_p", "n", "seed", "stop", "logprobs", "top_logprobs")
RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class OpenAIError(Exception):
    """A chat-completions call failed; ``status`` is the HTTP status (None: no response)."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after: float | None = None  # seconds the server asked us to wait
        self.timeout = False  # no answer within timeout_s (the server is there but slow or hung)
        self.unreachable = False  # no connection at all (refused, reset, DNS): nothing is serving there


@dataclass
class ChatResult:
    """The first choice of a completion, plus what the server said about it."""

    text: str | None
    finish_reason: str | None
    usage: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    choices: list[dict[str, Any]] = field(default_factory=list)


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def image_part(image: Any, fmt: str = "PNG", detail: str | None = None) -> dict[str, Any]:
    """An ``image_url`` content part with the image inline as a base64 data URI.

    ``image`` may be a PIL image or encoded bytes (PNG/JPEG as they are).
    """
    if isinstance(image, bytes | bytearray):
        data = bytes(image)
        mime = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"
    else:
        buf = io.BytesIO()
        image.save(buf, format=fmt)
        data = buf.getvalue()
        mime = f"image/{fmt.lower()}"
    url: dict[str, Any] = {"url": f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"}
    if detail:
        url["detail"] = detail
    return {"type": "image_url", "image_url": url}


class OpenAIClient:
    """POST ``{base_url}/chat/completions`` with retries; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep

    def request_body(self, model: str, messages: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
        """The JSON body: ``model``, ``messages`` and the allowed, non-None parameters only."""
        unknown = sorted(k for k in params if k not in ALLOWED_FIELDS)
        if unknown:
            raise ValueError(f"not an OpenAI chat-completions field: {', '.join(unknown)}")
        body: dict[str, Any] = {"model": model, "messages": messages}
        body.update({k: v for k, v in params.items() if v is not None})
        return body

    def chat(self, model: str, messages: list[dict[str, Any]], **params: Any) -> ChatResult:
        body = json.dumps(self.request_body(model, messages, **params)).encode("utf-8")
        attempt = 0
        while True:
            try:
                return self._post(body)
            except OpenAIError as e:
                if not e.retryable or attempt >= self.max_retries:
                    raise
                delay = e.retry_after
                if delay is None:
                    delay = min(self.max_backoff_s, self.backoff_s * (2**attempt))
                attempt += 1
                self._sleep(float(delay))

    def _post(self, body: bytes) -> ChatResult:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode("utf-8", "replace") if e.fp is not None else ""
            err = OpenAIError(f"HTTP {e.code} from {self.base_url}: {detail}", status=e.code,
                              retryable=e.code in RETRY_STATUS)
            retry_after = e.headers.get("Retry-After") if e.headers else None
            if retry_after is not None and retry_after.strip().replace(".", "", 1).isdigit():
                err.retry_after = min(self.max_backoff_s, float(retry_after))
            raise err from None
        except http.client.HTTPException as e:  # e.g. IncompleteRead: the body was cut off
            raise OpenAIError(f"broken HTTP response from {self.base_url}: {type(e).__name__}: {e}", status=None,
                              retryable=True) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
            err = OpenAIError(f"cannot reach {self.base_url}: {e}", status=None, retryable=True)
            reason = getattr(e, "reason", e)
            err.timeout = isinstance(reason, TimeoutError) or "timed out" in str(e)
            err.unreachable = not err.timeout
            raise err from None
        try:
            data = json.loads(payload)
            choices = data.get("choices") or []
            first = choices[0] if choices else {}
            message = first.get("message") or {}
            content = message.get("content")
            if isinstance(content, list):  # some servers return content parts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return ChatResult(text=content, finish_reason=first.get("finish_reason"), usage=data.get("usage") or {},
                              model=data.get("model"), choices=choices)
        except (ValueError, AttributeError, TypeError) as e:
            raise OpenAIError(f"malformed response from {self.base_url}: {e}", retryable=False) from None
