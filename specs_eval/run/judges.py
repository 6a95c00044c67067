"""``OpenAIJudge``: a ``specs_eval.core.judge.Judge`` over any OpenAI-compatible endpoint, cached on disk.

Why a disk cache keyed by request hash: judge calls cost money and drift over time; a
rescoring of the same outputs with the same judge must cost nothing and give the same
verdicts. The key covers the judge id (model @ base URL), the messages and
``max_tokens``; temperature is fixed at 0. Only successful answers are cached, so a
failed call is retried on the next run instead of being remembered as a failure.

Why a circuit breaker: a judge that is down, out of quota or misconfigured fails every
call, and each call retries with backoff; without a breaker a run spends minutes per sample
and then reports an accuracy made of judge errors with exit 0. After ``max_failures_in_a_row``
consecutive failed calls the judge stops calling (every later verdict is an immediate error),
and ``judge_failure`` tells the caller to fail the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

from specs_eval.backends.openai_client import OpenAIClient, OpenAIError
from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_json
from specs_eval.core.judge import JudgeVerdict

logger = logging.getLogger(__name__)
#: consecutive failed judge calls before the breaker opens; each call itself retries 429/5xx/resets
#: ``JUDGE_RETRIES`` times (timeouts are not retried: a hung judge stays hung)
DEFAULT_MAX_FAILURES = 3
JUDGE_RETRIES = 2


def request_hash(judge_id: str, messages: list[dict[str, Any]], max_tokens: int) -> str:
    blob = json.dumps({"judge_id": judge_id, "messages": messages, "max_tokens": max_tokens, "temperature": 0},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class OpenAIJudge:
    """Deterministic (temperature 0) judge calls with an on-disk JSON cache and a circuit breaker."""
    def __init__(self, client: OpenAIClient, model: str, cache_dir: str | Path | None = None,
                 max_failures_in_a_row: int = DEFAULT_MAX_FAILURES):
        self.client = client
        self.model = model
        self.judge_id = f"{model}@{client.display_url}"
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.calls = 0  # network calls made (cache misses), for reports and tests
        self.max_failures_in_a_row = max(1, max_failures_in_a_row)
        self.failures_in_a_row = 0
        self.open_reason: str | None = None  # set when the breaker opened: no more calls
        self._lock = threading.Lock()

    @property
    def tripped(self) -> bool:
        return self.open_reason is not None

    def _cache_path(self, key: str) -> Path | None:
        return self.cache_dir / key[:2] / f"{key}.json" if self.cache_dir is not None else None

    def complete(self, messages: list[dict[str, Any]], *, max_tokens: int = 256) -> JudgeVerdict:
        key = request_hash(self.judge_id, messages, max_tokens)
        path = self._cache_path(key)
        if path is not None and path.exists():
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
                return JudgeVerdict(judge_id=self.judge_id, request_hash=key, raw=entry["raw"], cached=True,
                                    usage=entry.get("usage") or {})
            except (OSError, ValueError, KeyError):
                pass  # a corrupt cache entry is ignored and overwritten
        with self._lock:
            if self.open_reason is not None:
                return JudgeVerdict(judge_id=self.judge_id, request_hash=key, raw=None, error=self.open_reason)
            self.calls += 1
        try:
            result = self.client.chat(self.model, messages, max_tokens=max_tokens, temperature=0.0)
        except OpenAIError as e:
            return self._failed(key, str(e))
        if result.text is None:
            return self._failed(key, "the judge returned no message content")
        with self._lock:
            self.failures_in_a_row = 0
        if path is not None:
            atomic_write_json(path, {"judge_id": self.judge_id, "raw": result.text, "usage": result.usage,
                                     "max_tokens": max_tokens})
        return JudgeVerdict(judge_id=self.judge_id, request_hash=key, raw=result.text, usage=result.usage)

    def _failed(self, key: str, error: str) -> JudgeVerdict:
        error = self.client.redact(error)
        with self._lock:
            self.failures_in_a_row += 1
            if self.open_reason is None and self.failures_in_a_row >= self.max_failures_in_a_row:
                self.open_reason = (f"judge {self.judge_id} failed {self.failures_in_a_row} times in a row and was "
                                    f"stopped (last error: {error[:200]})")
                logger.error(self.open_reason)
        return JudgeVerdict(judge_id=self.judge_id, request_hash=key, raw=None, error=error)


def judge_failure(judge: object) -> str | None:
    """Why a run must fail because of its judge (its circuit breaker opened), or None."""
    reason = getattr(judge, "open_reason", None)
    return reason if isinstance(reason, str) else None


def judge_from_options(url: str | None, model: str | None, key_env: str = "OPENAI_API_KEY",
                       cache: str | None = None, timeout: float = 60.0,
                       max_failures: int = DEFAULT_MAX_FAILURES) -> OpenAIJudge | None:
    """The judge the CLI's ``--judge-*`` options describe (``None`` when no URL is given)."""
    import os

    if url is None:
        return None
    if not model:
        raise SpecsError("--judge-url needs --judge-model (the judge is recorded per sample)")
    cache_dir = cache or os.environ.get("SPECS_EVAL_JUDGE_CACHE") or str(Path.home() / ".cache/specs-eval/judge")
    client = OpenAIClient(url, api_key_env=key_env, timeout_s=timeout, max_retries=JUDGE_RETRIES, retry_timeouts=False)
    return OpenAIJudge(client, model, cache_dir, max_failures_in_a_row=max_failures)
