"""LLM judges: the interface every judge-using scorer codes against.

Why an interface first: three features need a judge (MathVista's ``judge``
extraction profile, MEGA-Bench's open-ended set, the distillation consistency
filter). They must share one explicit, recorded, cached client and must never fall
back silently to another scoring rule when the judge fails. The concrete client over
an OpenAI-compatible endpoint implements ``Judge``; tests may pass any object with the
same method (the real judges, GPT-4o and Gemini, cannot run offline).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class JudgeVerdict(BaseModel):
    """One judge call: what was asked, what came back, and from where."""

    model_config = ConfigDict(extra="forbid")

    judge_id: str  # e.g. "gpt-4o-2024-08-06@https://api.openai.com/v1"
    request_hash: str
    raw: str | None  # the judge's raw text; None when the call failed
    cached: bool = False
    error: str | None = None
    usage: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.raw is not None and self.error is None


@runtime_checkable
class Judge(Protocol):
    """Anything that can answer a judging prompt.

    ``messages`` are OpenAI chat messages (text and ``image_url`` parts). Calls are
    deterministic (temperature 0) and cached by request hash by implementations.
    """

    judge_id: str

    def complete(self, messages: list[dict[str, Any]], *, max_tokens: int = 256) -> JudgeVerdict: ...
