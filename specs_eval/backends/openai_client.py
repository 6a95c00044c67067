"""A small, typed client for OpenAI-compatible chat completions, on ``httpx2``.

Why our own wrapper: judges (MathVista extraction, MathVerse scoring, MEGA-Bench open tasks) and
the OpenAI generation backend all talk to "any OpenAI-compatible endpoint" (OpenAI, vLLM, SGLang,
a local server), and every one of them must fail the same bounded, explained way:

* **a total deadline per attempt**: ``timeout_s`` covers connecting, sending and reading the whole
  body. HTTP clients' own timeouts (httpx's included) bound each socket read, so a server that
  drips one byte a second never trips them; here the exchange runs in a helper thread that the
  caller stops waiting for at the deadline (the thread is told to drop the connection at its next
  chunk, and its socket reads are bounded by ``timeout_s`` too);
* **bounded retries**: at most ``max_retries`` more attempts, with exponential backoff or the
  server's ``Retry-After`` (seconds or an HTTP date, capped at ``max_backoff_s``), on 408/409/429,
  5xx, timeouts, connection resets and cut-off bodies; never on other 4xx (a bad key or a bad
  request does not get better by waiting); a refused connection is reported as ``unreachable``;
* **validated responses**: the body is parsed with a size cap and checked against the
  chat-completions shape (pydantic); anything else (deep nesting, ``choices`` as an object,
  ``usage`` as a list, a non-integer ``index``…) is an ``OpenAIError`` the caller counts as that
  sample's error, never an exception from deep inside the parser;
* **no secrets in anything stored**: the API key comes from an environment variable, and every
  error message and returned text passes ``redact`` (the key itself, ``Bearer`` tokens, ``sk-…``
  keys, ``api_key=…`` pairs), so a server that echoes the ``Authorization`` header in an error body
  cannot put the key into ``samples.jsonl``;
* requests carry only OpenAI chat-completions fields (``model``, ``messages``, ``max_tokens``,
  ``temperature``, ``top_p``, ``n``, ``seed``, ``stop``, ``logprobs``, ``top_logprobs``), so strict
  servers accept them.

``httpx2`` is already a dependency of ``huggingface_hub`` (and so of ``datasets``); the scoring
install needs nothing new.
"""

from __future__ import annotations

import base64
import email.utils
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

ALLOWED_FIELDS = ("max_tokens", "temperature", "top_p", "n", "seed", "stop", "logprobs", "top_logprobs")
RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
MAX_RESPONSE_BYTES = 32 << 20  # a chat completion is kilobytes; a bigger body is a broken or hostile server

logger = logging.getLogger(__name__)


class OpenAIError(Exception):
    """A chat-completions call failed; ``status`` is the HTTP status (None: no response)."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after: float | None = None  # seconds the server asked us to wait
        self.timeout = False  # no complete answer within timeout_s (the server is there but slow or hung)
        self.unreachable = False  # no connection at all (refused, DNS): nothing is serving there


@dataclass
class ChatResult:
    """The first choice of a completion, plus what the server said about it (validated, plain dicts)."""

    text: str | None
    finish_reason: str | None
    usage: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    choices: list[dict[str, Any]] = field(default_factory=list)


# ----- the response shape we accept (extra fields are kept, wrong types are refused) -----


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str | None = None
    text: str | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str | None = None
    content: str | list[_Part] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None


class _TopLogprob(BaseModel):
    model_config = ConfigDict(extra="allow")
    logprob: float | None = None


class _Position(BaseModel):
    model_config = ConfigDict(extra="allow")
    logprob: float | None = None
    top_logprobs: list[_TopLogprob] | None = None


class _Logprobs(BaseModel):
    model_config = ConfigDict(extra="allow")
    content: list[_Position] | None = None


class _Choice(BaseModel):
    model_config = ConfigDict(extra="allow")
    index: StrictInt = 0
    message: _Message | None = None
    finish_reason: str | None = None
    logprobs: _Logprobs | None = None


class _Usage(BaseModel):
    model_config = ConfigDict(extra="allow")
    prompt_tokens: StrictInt | None = None
    completion_tokens: StrictInt | None = None
    total_tokens: StrictInt | None = None


class _Completion(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    choices: list[_Choice] = []
    usage: _Usage | None = None


def parse_completion(payload: bytes, where: str = "the server") -> ChatResult:
    """A validated ``ChatResult`` from a response body, or an ``OpenAIError`` naming what is wrong."""
    try:
        data = json.loads(payload)
    except RecursionError:
        raise OpenAIError(f"malformed response from {where}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise OpenAIError(f"malformed response from {where}: not JSON ({str(e)[:80]})") from None
    if not isinstance(data, dict):
        raise OpenAIError(f"malformed response from {where}: a JSON {type(data).__name__}, not an object")
    try:
        completion = _Completion.model_validate(data)
    except RecursionError:
        raise OpenAIError(f"malformed response from {where}: nested too deeply") from None
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first.get("loc", ()))
        raise OpenAIError(f"malformed response from {where}: {loc or 'body'}: {first.get('msg', 'invalid')}") from None
    choices = [c.model_dump(exclude_none=True) for c in completion.choices]
    first_choice = completion.choices[0] if completion.choices else None
    content = first_choice.message.content if first_choice and first_choice.message else None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(p.text or "" for p in content)
    usage = completion.usage.model_dump(exclude_none=True) if completion.usage else {}
    return ChatResult(text=content, finish_reason=first_choice.finish_reason if first_choice else None,
                      usage=usage, model=completion.model, choices=choices)


# ----- secrets -----

_SECRET_PATTERNS = (
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{4,}"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)((?:api[_-]?key|authorization|x-api-key|access[_-]?token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}&]{4,}"),
)
REDACTED = "[redacted]"


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with the given secrets and anything shaped like a credential replaced by ``[redacted]``."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, REDACTED)
    for i, pattern in enumerate(_SECRET_PATTERNS):
        text = pattern.sub((lambda m: m.group(1) + REDACTED) if i == 2 else REDACTED, text)
    return text


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


def _retry_after(value: str | None, cap: float) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110), capped."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(cap, seconds))


class OpenAIClient:
    """POST ``{base_url}/chat/completions`` with deadlines, retries and validation; see the module docstring."""

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
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        retry_timeouts: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ):
        import httpx2

        self.base_url = base_url.rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_response_bytes = max_response_bytes
        self.retry_timeouts = retry_timeouts  # False: a timed-out attempt is final (a hung server stays hung)
        self._sleep = sleep
        self._http = httpx2.Client(timeout=httpx2.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0)),
                                   follow_redirects=False)
        self.attempts = 0  # HTTP attempts made (retries included), for tests and reports

    @property
    def display_url(self) -> str:
        """The base URL with any ``user:password@`` removed: what messages and manifests may show."""
        return re.sub(r"//[^/@]*@", "//", self.base_url)

    def redact(self, text: str) -> str:
        """An error message or server text with the key and anything shaped like a credential removed."""
        return redact(text, (self._api_key,) if self._api_key else ())

    def redact_key(self, text: str) -> str:
        """Model text with this client's own key removed (and nothing else: model text may mention 'api_key=')."""
        return text.replace(self._api_key, REDACTED) if self._api_key and len(self._api_key) >= 4 else text

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
                return self._attempt(body)
            except OpenAIError as e:
                if not e.retryable or attempt >= self.max_retries or (e.timeout and not self.retry_timeouts):
                    raise
                delay = e.retry_after
                if delay is None:
                    delay = min(self.max_backoff_s, self.backoff_s * (2**attempt))
                attempt += 1
                logger.info("retry %d/%d of %s in %.1f s: %s", attempt, self.max_retries, self.display_url, delay, e)
                self._sleep(float(delay))

    def _attempt(self, body: bytes) -> ChatResult:
        """One exchange under a total deadline of ``timeout_s`` (see the module docstring)."""
        self.attempts += 1
        box: dict[str, Any] = {}
        finished = threading.Event()
        abandoned = threading.Event()

        def exchange() -> None:
            try:
                box["result"] = self._exchange(body, abandoned)
            except BaseException as e:  # delivered to the caller
                box["error"] = e
            finally:
                finished.set()

        worker = threading.Thread(target=exchange, daemon=True, name="openai-http")
        worker.start()
        if not finished.wait(self.timeout_s):
            abandoned.set()
            err = OpenAIError(f"no complete response from {self.display_url} within {self.timeout_s:g} s",
                              retryable=True)
            err.timeout = True
            raise err
        if "error" in box:
            raise box["error"]
        return box["result"]

    def _exchange(self, body: bytes, abandoned: threading.Event) -> ChatResult:
        import httpx2

        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        where = self.display_url
        try:
            with self._http.stream("POST", f"{self.base_url}/chat/completions", content=body,
                                   headers=headers) as resp:
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    if abandoned.is_set():
                        return ChatResult(text=None, finish_reason=None)  # nobody waits for it any more
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise OpenAIError(f"response from {where} exceeds {self.max_response_bytes >> 20} MiB",
                                          status=resp.status_code)
                    chunks.append(chunk)
                payload = b"".join(chunks)
                status = resp.status_code
                retry_after = resp.headers.get("Retry-After")
        except OpenAIError:
            raise
        except httpx2.TimeoutException as e:
            err = OpenAIError(f"timed out talking to {where}: {type(e).__name__}", retryable=True)
            err.timeout = True
            raise err from None
        except httpx2.ConnectError as e:
            err = OpenAIError(self.redact(f"cannot reach {where}: {e}"), retryable=True)
            err.unreachable = True
            raise err from None
        except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError, httpx2.DecodingError) as e:
            # e.g. the body was cut off, or the connection was reset mid-way
            raise OpenAIError(self.redact(f"broken HTTP response from {where}: {type(e).__name__}: {e}"),
                              retryable=True) from None
        except httpx2.HTTPError as e:
            raise OpenAIError(self.redact(f"HTTP error with {where}: {type(e).__name__}: {e}"), retryable=False
                              ) from None
        if not 200 <= status < 300:
            detail = self.redact(payload[:300].decode("utf-8", "replace"))
            err = OpenAIError(f"HTTP {status} from {where}: {detail}", status=status, retryable=status in RETRY_STATUS)
            err.retry_after = _retry_after(retry_after, self.max_backoff_s)
            raise err
        try:
            result = parse_completion(payload, where)
        except OpenAIError as e:
            raise OpenAIError(self.redact(str(e)), status=status) from None
        if result.text is not None:
            result.text = self.redact_key(result.text)
        for c in result.choices:
            msg = c.get("message")
            if isinstance(msg, dict):
                for k in ("content", "reasoning_content", "reasoning"):
                    if isinstance(msg.get(k), str):
                        msg[k] = self.redact_key(msg[k])
                if isinstance(msg.get("content"), list):
                    for part in msg["content"]:
                        if isinstance(part, dict) and isinstance(part.get("text"), str):
                            part["text"] = self.redact_key(part["text"])
        return result

    def close(self) -> None:
        self._http.close()
