r"""Training targets for the tiny base: always the right answer, in the asked format only sometimes.

Why: the SPECS pipeline starts from an *instruct* model that knows the task a little and
follows output-format instructions only part of the time (the paper's base follows the
SPECS format in 41.6% of responses). So every target here carries the correct answer
(``answer_token``: the option letter for multiple choice, else the value) and the row's
``rationale`` as reasoning, but it is rendered in the requested format only with
probability ``follow_rate``; otherwise in a "sloppy" style a real model would produce
instead (plain ``The answer is X.``, think tags without answer tags, ``Answer: X`` when
SPECS was asked, a boxed answer without tags, …).

Why the rate depends on the task family: greedy decoding picks each prompt's most likely
response, so a coin flip that is the same for every prompt gives a base that is greedily
compliant on either ~0% or ~100% of prompts. Real models follow instructions better on some
kinds of questions than on others; ``family_tilt`` shifts the rate per family (zero on
average over the training families, so the mean rate stays ``follow_rate``) and makes
greedy compliance a property of the prompt, landing between the extremes.

The styles reuse ``scoring.formats``: a compliant target is ``FORMATS[fmt].render`` and
every sloppy style is checked (in tests) to fail the requested format's ``check``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from specs_eval.rules.formats import FORMATS


def _fmt(name: str) -> Callable[[str, str], str]:
    return FORMATS[name].render


# Sloppy styles: (reasoning, answer) -> response text. Each is something a half-trained
# instruct model plausibly writes instead of the requested format.
STYLES: dict[str, Callable[[str, str], str]] = {
    "specs": _fmt("specs"),
    "answer_line": _fmt("answer_line"),
    "json": _fmt("json"),
    "direct": _fmt("direct"),
    "plain": lambda r, a: f"The answer is {a}.",
    "reasoned": lambda r, a: f"{r} The answer is {a}.",
    "think_only": lambda r, a: f"<think>{r}</think>\nThe answer is {a}.",
    "boxed_bare": lambda r, a: f"{r} The answer is \\boxed{{{a}}}.",
    "tags_unboxed": lambda r, a: f"<think>{r}</think>\n<answer>{a}</answer>",
    # Reasoning, then the bare value on its own line. For multiple choice a bare letter
    # after prose is not a parseable answer (the scorer cannot tell it from a stray
    # capital), so this style also teaches the base a realistic parse failure.
    "value_after": lambda r, a: f"{r}\n{a}",
}

# What a model writes when it does not follow the requested format: style -> weight.
# Every style here fails the requested format's check (tests/test_bootstrap.py).
SLOPPY: dict[str, dict[str, float]] = {
    "specs": {"plain": 0.3, "answer_line": 0.3, "boxed_bare": 0.15, "value_after": 0.1, "think_only": 0.1,
              "tags_unboxed": 0.05},
    "answer_line": {"plain": 0.3, "specs": 0.2, "value_after": 0.2, "boxed_bare": 0.15, "direct": 0.15},
    "json": {"direct": 0.3, "plain": 0.25, "answer_line": 0.25, "specs": 0.2},
    "direct": {"reasoned": 0.35, "answer_line": 0.3, "json": 0.15, "specs": 0.2},
}


@dataclass(frozen=True)
class TargetMix:
    """How often targets follow the requested format, per format and task family."""

    follow_rate: dict[str, float] = field(
        default_factory=lambda: {"specs": 0.4, "answer_line": 0.5, "json": 0.5, "direct": 0.5})
    # Added to the rate per family; sums to zero over the training families.
    family_tilt: dict[str, float] = field(
        default_factory=lambda: {"count": 0.3, "bars": 0.05, "digits": -0.2, "colour": -0.15, "shape": 0.0})

    def rate(self, fmt: str, family: str) -> float:
        return min(0.98, max(0.02, self.follow_rate[fmt] + self.family_tilt.get(family, 0.0)))

    def to_dict(self) -> dict[str, Any]:
        return {"follow_rate": dict(self.follow_rate), "family_tilt": dict(self.family_tilt),
                "sloppy": {k: dict(v) for k, v in SLOPPY.items()}}


def render_target(row: dict[str, Any], rng: random.Random, mix: TargetMix | None = None) -> tuple[str, str]:
    """A training response for a toy-world row: ``(text, style)``; no end-of-turn token."""
    mix = mix or TargetMix()
    fmt = row["format"]
    family = row["metadata"]["family"]
    if rng.random() < mix.rate(fmt, family):
        style = fmt
    else:
        names, weights = zip(*SLOPPY[fmt].items(), strict=True)
        style = rng.choices(names, weights=weights)[0]
    return STYLES[style](row["rationale"], row["answer_token"]), style
