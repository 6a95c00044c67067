"""The optional consistency check of chosen responses by an LLM judge (off by default).

Why optional and explicit: the paper kept a chosen response only if Gemini-2.5-flash
judged its reasoning consistent with its answer (+1.9 average points in its ablation).
A judge is a paid, drifting, external dependency, so it is off unless configured
(``distill.judge``: any OpenAI-compatible endpoint and model), its id and every verdict
count are recorded in the stage manifest, and a failed call never lets a sample through.
The client and its disk cache are the toolkit's (``specs_eval.backends.openai_client`` /
``specs_eval.run.judges``); this module only writes the question and reads the answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from specs_eval.core.judge import Judge
from training.config import JudgeConfig
from training.manifest import StageError
from training.pairs import Candidate, JudgeFn

CONSISTENCY_PROMPT = (
    "You are checking a worked solution to a visual question.\n\n"
    "Question:\n{question}\n\n"
    "Solution:\n{response}\n\n"
    "Is the reasoning (inside <think>) consistent with the final answer (inside <answer>): does it lead to "
    "that answer without contradicting it? Reply with exactly one word: YES or NO."
)
_VERDICT = re.compile(r"\b(YES|NO)\b", re.IGNORECASE)


def make_judge(cfg: JudgeConfig, cache_dir: Path) -> Judge:
    """The configured OpenAI-compatible judge with its disk cache."""
    try:
        from specs_eval.backends.openai_client import OpenAIClient
        from specs_eval.run.judges import OpenAIJudge
    except ImportError:
        raise StageError("distill", "distill.judge needs specs_eval.backends.openai_client and specs_eval.run.judges, "
                         "which this installation lacks; turn the judge off or update specs-eval") from None
    assert cfg.base_url and cfg.model
    client = OpenAIClient(cfg.base_url, api_key_env=cfg.api_key_env, timeout_s=cfg.timeout_s)
    return OpenAIJudge(client, cfg.model, cache_dir=cache_dir)


def parse_verdict(raw: str | None) -> bool | None:
    """YES → True, NO → False, anything else → None (counted as a judge error)."""
    if not raw:
        return None
    m = _VERDICT.search(raw)
    return None if m is None else m.group(1).upper() == "YES"


def consistency_fn(judge: Judge, questions: dict[str, str], images: dict[str, list[Any]] | None = None,
                   max_tokens: int = 16) -> JudgeFn:
    """A pair-builder judge: asks ``judge`` whether each candidate's reasoning supports its answer."""

    def check(c: Candidate) -> bool | None:
        content: list[dict[str, Any]] = []
        if images and images.get(c.id):
            from specs_eval.backends.openai_client import image_part

            content.extend(image_part(img) for img in images[c.id])
        content.append({"type": "text", "text": CONSISTENCY_PROMPT.format(question=questions.get(c.id, ""),
                                                                          response=c.text)})
        verdict = judge.complete([{"role": "user", "content": content}], max_tokens=max_tokens)
        return parse_verdict(verdict.raw) if verdict.ok else None

    return check
