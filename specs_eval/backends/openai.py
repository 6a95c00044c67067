"""OpenAI-compatible generation backend: any chat-completions server (vLLM serve, SGLang,
``transformers serve``, hosted APIs) behind the same ``Backend`` protocol as ``HFBackend``.

Why these pieces, each measured against a real server (``transformers serve``, tests/test_openai_backend.py):

* **Transport**: the shared client (``specs_eval.backends.openai_client``, on httpx2): a total deadline per
  attempt, bounded retries with backoff or ``Retry-After`` on 429/5xx/timeouts/resets, validated
  responses, secrets redacted from errors, only OpenAI fields in the body (strict servers answer 422
  to anything else). Images go as base64 PNG ``image_url`` parts: lossless, so the server sees the
  pixels ``HFBackend`` sees.
* **Bounded concurrency**: requests of one engine batch run on ``concurrency`` daemon worker
  threads. Daemon threads, so Ctrl-C never waits for a hung request: pending requests are
  cancelled, in-flight ones abandoned, and the engine keeps every batch already logged.
* **Failures**: the client retries 429, 5xx, timeouts, cut-off bodies and connection errors
  with backoff. What still fails then becomes that sample's ``error`` (counted in ``error_rate``;
  the run goes on), as do 4xx answers (e.g. an oversized request) and malformed or invalid JSON
  or a message without content. But an *unreachable* server, or ``max_failures_in_a_row`` failures
  in a row, stops the run with a clear error instead: an outage is not a property of the samples.
  The log keeps every finished batch; the same command resumes, and generates the samples that
  failed again (``--retry-errors``, the default).
* **Start-up probe**: before the first batch, one 1-token request with a small image checks the
  server is reachable, the key is accepted and the model name is served, and (with a text-only
  twin request) that the image reached the model: ``transformers serve`` silently drops image
  parts for text-only models.
* **n samples**: ``n`` is sent; servers that ignore it (``transformers serve``) return one choice,
  which is detected by the number of choices, recorded (``ModelInfo.endpoint["n_honoured"]``), and
  the missing samples are requested one by one with distinct seeds.
* **Seeds**: a sampling request's seed is derived from (run seed, prompt hash, sample index), not
  from batch position, so outputs and cache keys do not depend on batch size, concurrency or resume.
* **Token statistics**: with ``record_token_stats`` the request asks for ``logprobs`` /
  ``top_logprobs=k``; servers that return them (vLLM) give ``TokenStats`` estimated from the top k
  (``backends/topk.py``); servers that ignore them (``transformers serve``) give none, recorded in
  ``endpoint["logprobs"]``.
* **Response cache** (on disk, keyed by the SHA-256 of model name + request body): a response is
  stored only when it is reproducible by construction, i.e. greedy (temperature 0) or sampled with
  the seed in the body. The base URL is *not* part of the key (a restarted local server changes
  port), so the model name must identify the weights. A cache also makes Ctrl-C cheap: responses
  that finished inside an interrupted batch are replayed on resume.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

import click

from specs_eval.backends.base import LOGPROBS_K, BackendOption, BackendOptions, Output
from specs_eval.backends.openai_client import (
    RETRY_STATUS,
    ChatResult,
    OpenAIClient,
    OpenAIError,
    image_part,
    text_part,
)
from specs_eval.backends.topk import token_stats_from_topk
from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_json, clean_stale_tmp
from specs_eval.core.prompt import Prompt, render_messages
from specs_eval.core.records import GenerationSettings, ModelInfo

CACHE_VERSION = 1


def prompt_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """OpenAI chat messages for a prompt: parts in order, images as base64 PNG data URIs."""
    return render_messages(prompt, lambda img: image_part(img, fmt="PNG"), system_as_text=True)


def sample_seed(run_seed: int, prompt_hash: str, sample_idx: int) -> int:
    h = hashlib.sha256(f"{run_seed}:{prompt_hash}:{sample_idx}".encode()).digest()
    return int.from_bytes(h[:4], "big") >> 1  # < 2**31: accepted by every server


def request_params(settings: GenerationSettings, seed: int | None, n: int, logprobs_k: int) -> dict[str, Any]:
    """Chat-completions parameters for one request (OpenAI fields only)."""
    if settings.top_k is not None:
        raise SpecsError("top_k is not an OpenAI chat-completions field; the openai backend cannot send it "
                         "(leave --top-k unset, or use the hf/vllm backend)")
    params: dict[str, Any] = {"max_tokens": settings.max_new_tokens}
    if settings.greedy:
        params["temperature"] = 0.0
    else:
        params.update(temperature=settings.temperature, top_p=settings.top_p, seed=seed)
    if n > 1:
        params["n"] = n
    if settings.record_token_stats:
        params.update(logprobs=True, top_logprobs=logprobs_k)
    return params


def choice_output(choice: dict[str, Any], result: ChatResult, settings: GenerationSettings, n_choices: int,
                  logprobs_k: int) -> Output:
    """One ``Output`` from one choice of a chat-completions response."""
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        return Output(text="", finish_reason="error", error="malformed response: a choice has no message")
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if content is None and not reasoning:
        return Output(text="", finish_reason="error", error="the server returned no message content")
    text = content or ""
    if reasoning:  # servers with a reasoning parser split <think> off; put it back where the model wrote it
        text = f"<think>{reasoning}</think>{text}"
    raw_finish = choice.get("finish_reason")
    if raw_finish == "length":
        finish = "length"
    elif raw_finish in ("content_filter",):
        return Output(text=text, finish_reason="error", error=f"finish_reason {raw_finish}")
    else:
        finish = "stop"
    usage = result.usage or {}
    positions = _logprob_positions(choice.get("logprobs"))
    n_tokens: int | None
    if positions is not None:
        n_tokens = len(positions)
    elif n_choices == 1 and isinstance(usage.get("completion_tokens"), int):
        n_tokens = int(usage["completion_tokens"])
    else:
        n_tokens = None  # usage sums over choices: no per-choice count
    if n_tokens is not None and finish == "stop":
        # servers count the end-of-turn token (transformers serve and vLLM do); HFBackend's n_tokens stops before it
        n_tokens = max(0, n_tokens - 1)
    stats = None
    if settings.record_token_stats and positions:
        stats = token_stats_from_topk(positions, settings.stats_top_p, logprobs_k)
    prompt_tokens = usage.get("prompt_tokens")
    return Output(text=text, finish_reason=finish, n_prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int)
                  else None, n_tokens=n_tokens, token_stats=stats)


def _logprob_positions(logprobs: Any) -> list[list[float]] | None:
    """Top-k log-probs per generated position from a choice's ``logprobs`` (None: not returned)."""
    if not isinstance(logprobs, dict) or not isinstance(logprobs.get("content"), list):
        return None
    out = []
    for pos in logprobs["content"]:
        if not isinstance(pos, dict):
            return None
        tops = pos.get("top_logprobs") or []
        lps = [t["logprob"] for t in tops if isinstance(t, dict) and isinstance(t.get("logprob"), int | float)]
        if not lps and isinstance(pos.get("logprob"), int | float):
            lps = [pos["logprob"]]
        out.append(lps)
    return out


class _DaemonPool:
    """A fixed set of daemon worker threads. Unlike ThreadPoolExecutor, exit never waits for them."""

    def __init__(self, workers: int):
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"openai-{i}") for i in range(workers)]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fut, fn = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as e:  # delivered to the caller
                fut.set_exception(e)

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        fut: Future[Any] = Future()
        self._queue.put((fut, fn))
        return fut

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put(None)


class _Transient(Exception):
    """A request failed after all retries with an error that waiting might fix: stop the run."""


class OpenAIBackend(BackendOptions):
    """Generation through an OpenAI-compatible ``/chat/completions`` endpoint (see module doc)."""

    name = "openai"
    #: outputs do not depend on which prompts share a batch (one request per prompt, per-prompt seeds):
    #: a resumed run sends only the missing prompts
    batch_independent = True
    options = (
        BackendOption("--base-url", "base_url", "openai: the server's /v1 URL, e.g. http://127.0.0.1:8000/v1 "
                      "(env OPENAI_BASE_URL).", envvar="OPENAI_BASE_URL"),
        BackendOption("--api-key-env", "api_key_env", "openai: environment variable that holds the API key (the key "
                      "is never stored).", default="OPENAI_API_KEY"),
        BackendOption("--concurrency", "concurrency", "openai: requests in flight at once.",
                      type=click.IntRange(min=1), default=8),
        BackendOption("--request-timeout", "timeout_s", "openai: total seconds one attempt may take, from connecting "
                      "to the last byte (a slow-dripping server is cut off too).",
                      type=click.FloatRange(min=1.0), default=300.0),
        BackendOption("--max-retries", "max_retries", "openai: retries (with backoff) of a 429/5xx/timeout/connection "
                      "error.", type=click.IntRange(min=0), default=4),
        BackendOption("--cache-dir", "cache_dir", "openai: on-disk response cache (default: OUT/.openai-cache).",
                      type=click.Path(path_type=Path)),
        BackendOption("--no-cache", "no_cache", "openai: no response cache.", is_flag=True, default=False),
        LOGPROBS_K,
    )

    @classmethod
    def resolve_options(cls, values: dict[str, Any], out: Path) -> dict[str, Any]:
        if not values.get("base_url"):
            raise SpecsError("--backend openai needs --base-url (or OPENAI_BASE_URL), e.g. http://127.0.0.1:8000/v1; "
                             "`specs-eval serve -m MODEL` starts a local server")
        no_cache = values.pop("no_cache", False)
        values["cache_dir"] = None if no_cache else str(values.get("cache_dir") or Path(out) / ".openai-cache")
        return values

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 8, timeout_s: float = 300.0, max_retries: int = 4, backoff_s: float = 1.0,
                 cache_dir: str | Path | None = None, logprobs_k: int = 20, probe: bool = True,
                 max_failures_in_a_row: int = 16, client: OpenAIClient | None = None):
        if not base_url and client is None:
            raise SpecsError("the openai backend needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        if concurrency < 1:
            raise SpecsError("--concurrency must be at least 1")
        self.model = model
        self._owns_client = client is None
        self.client = client or OpenAIClient(str(base_url), api_key_env=api_key_env, timeout_s=timeout_s,
                                             max_retries=max_retries, backoff_s=backoff_s)
        self.concurrency = concurrency
        self.cache_dir = Path(cache_dir) if cache_dir else None
        if self.cache_dir is not None:  # shared by runs without a lock: only files no live writer can own
            clean_stale_tmp(self.cache_dir, min_age_s=3600)
        self.logprobs_k = logprobs_k
        self.n_honoured: bool | None = None
        self.max_failures_in_a_row = max_failures_in_a_row
        self._failures_in_a_row = 0
        self.calls = 0  # network requests made (cache misses)
        self.cache_hits = 0
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self.info = ModelInfo(name=model, path=model, backend="openai",
                              endpoint={"base_url": self.client.display_url, "concurrency_limit": concurrency})
        if probe:
            self.probe()
        self._pool = _DaemonPool(concurrency)

    # ----- start-up check -----

    def probe(self) -> None:
        """One tiny request with and without an image: reachable, authorised, model served, images used."""
        from PIL import Image

        img = Image.new("RGB", (56, 56), (255, 255, 255))
        with_image = [{"role": "user", "content": [image_part(img), text_part("ping")]}]
        text_only = [{"role": "user", "content": [text_part("ping")]}]
        try:
            a = self.client.chat(self.model, with_image, max_tokens=1, temperature=0.0)
            b = self.client.chat(self.model, text_only, max_tokens=1, temperature=0.0)
        except OpenAIError as e:
            hint = ""
            if e.status is None:
                hint = " — is the server running? (a local one: `specs-eval serve -m MODEL`)"
            elif e.status in (401, 403):
                hint = " — check the API key (--api-key-env names the variable that holds it)"
            elif e.status in (400, 404, 422):
                hint = (f" — is {self.model!r} the name the server serves (transformers serve: exactly its model "
                        "argument), and does the model accept images?")
            raise SpecsError(f"start-up check of {self.client.display_url} failed: {e}{hint}") from None
        served = a.model
        self.info.endpoint["served_model"] = served
        pa, pb = (a.usage or {}).get("prompt_tokens"), (b.usage or {}).get("prompt_tokens")
        if isinstance(pa, int) and isinstance(pb, int):
            if pa <= pb:
                raise SpecsError(f"the server at {self.client.display_url} ignored an image part ({pa} prompt tokens "
                                 f"with an image, {pb} without): {self.model!r} does not take images there")
            self.info.endpoint["image_checked"] = True

    # ----- generation -----

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int = 0) -> list[list[Output]]:
        """``settings.n`` outputs per prompt. ``seed`` (the engine's batch seed) is unused: seeds are per prompt."""
        if not prompts:
            return []
        if settings.n > 1 and settings.greedy:
            raise SpecsError("n > 1 samples per prompt needs sampling: set --temperature above 0")
        request_params(settings, None, 1, self.logprobs_k)  # validate settings before any request
        messages = [prompt_messages(p) for p in prompts]
        hashes = [p.hash() for p in prompts]
        results: list[list[Output | None]] = [[None] * settings.n for _ in prompts]
        futures: dict[Future[Any], tuple[int, int, int]] = {}

        def submit(i: int, first: int, count: int) -> None:
            s = sample_seed(settings.seed, hashes[i], first) if not settings.greedy else None
            params = request_params(settings, s, count, self.logprobs_k)
            fut = self._pool.submit(lambda: self._request(messages[i], params, settings))
            futures[fut] = (i, first, count)

        one_by_one = settings.n > 1 and self.n_honoured is False
        for i in range(len(prompts)):
            if one_by_one:
                for j in range(settings.n):
                    submit(i, j, 1)
            else:
                submit(i, 0, settings.n)
        try:
            while futures:
                for done in _wait_any(futures):
                    i, first, count = futures.pop(done)
                    try:
                        outs = done.result()
                    except _Transient as e:
                        raise SpecsError(
                            f"the server at {self.client.display_url} keeps failing ({e}); every finished batch is "
                            "kept: run the same command again to resume") from None
                    if isinstance(outs, Output):  # a per-sample error: every sample of this request gets it
                        for j in range(first, first + count):
                            results[i][j] = outs
                        continue
                    if count > 1:
                        with self._lock:
                            if self.n_honoured is None:
                                self.n_honoured = len(outs) >= count
                                self.info.endpoint["n_honoured"] = self.n_honoured
                        for j in range(first + len(outs), first + count):  # n ignored: the rest one by one
                            submit(i, j, 1)
                    for k, o in enumerate(outs[:count]):
                        results[i][first + k] = o
        except BaseException:
            for f in futures:
                f.cancel()  # queued requests never start; running ones are abandoned (daemon threads)
            raise
        if settings.record_token_stats and "logprobs" not in self.info.endpoint:
            self.info.endpoint["logprobs"] = any(o is not None and o.token_stats is not None
                                                 for row in results for o in row)
        return [[o if o is not None else Output(text="", finish_reason="error", error="no response")
                 for o in row] for row in results]

    def _request(self, messages: list[dict[str, Any]], params: dict[str, Any],
                 settings: GenerationSettings) -> list[Output] | Output:
        """One request (or a cache hit): its choices as Outputs, or one error Output for its sample(s)."""
        if self._cancel.is_set():
            raise _Transient("cancelled")
        body = self.client.request_body(self.model, messages, **params)
        key = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "body": body}, sort_keys=True,
                                        ensure_ascii=False).encode("utf-8")).hexdigest()
        cacheable = self.cache_dir is not None and (params.get("temperature") == 0.0 or params.get("seed") is not None)
        result = self._cache_get(key) if cacheable else None
        if result is None:
            with self._lock:
                self.calls += 1
            try:
                result = self.client.chat(self.model, messages, **params)
            except OpenAIError as e:
                if e.unreachable:
                    raise _Transient(str(e)) from None  # nothing later in the run can succeed either
                if e.retryable or e.status in RETRY_STATUS:
                    with self._lock:
                        self._failures_in_a_row += 1
                        if self._failures_in_a_row >= self.max_failures_in_a_row:
                            raise _Transient(f"{self._failures_in_a_row} requests in a row failed; last: {e}") from None
                return Output(text="", finish_reason="error", error=str(e)[:500])
            with self._lock:
                self._failures_in_a_row = 0
            if not result.choices:
                return Output(text="", finish_reason="error", error="malformed response: no choices")
            if cacheable:
                self._cache_put(key, result)
        else:
            with self._lock:
                self.cache_hits += 1
        choices = sorted(result.choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
        return [choice_output(c, result, settings, len(choices), self.logprobs_k) for c in choices]

    # ----- cache -----

    def _cache_path(self, key: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cache_get(self, key: str) -> ChatResult | None:
        p = self._cache_path(key)
        if not p.exists():
            return None
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
            return ChatResult(text=None, finish_reason=None, usage=d.get("usage") or {}, model=d.get("model"),
                              choices=d["choices"])
        except (OSError, ValueError, KeyError):
            return None  # a corrupt entry is ignored and overwritten

    def _cache_put(self, key: str, result: ChatResult) -> None:
        atomic_write_json(self._cache_path(key), {"v": CACHE_VERSION, "model": result.model, "usage": result.usage,
                                                  "choices": result.choices})

    def close(self) -> None:
        self._cancel.set()
        self._pool.shutdown()
        if self._owns_client:
            self.client.close()


def _wait_any(futures: dict[Future[Any], Any]) -> list[Future[Any]]:
    """Block until at least one future is done and return the done ones (Ctrl-C interrupts the wait)."""
    done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
    return list(done)
