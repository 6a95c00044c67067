r"""Training targets for the tiny base: grounded reasoning, an answer that is sometimes a guess,
and the asked format only sometimes.

Why: the SPECS pipeline starts from an *instruct* model that knows the task a little and
follows output-format instructions only part of the time (the paper's base follows the
SPECS format in 41.6% of responses), and RL with a verifiable reward needs something to
unlock: samples that are sometimes right where greedy decoding is wrong. So every target
carries the row's ``rationale`` (always grounded in the picture and correct), but

* its final answer is the rationale's conclusion only with the *faithfulness* rate of the
  question's sub-type (``faithful``, keyed ``family/kind``); otherwise it is a guess: the
  image-blind prior answer of the question template (what ``toyworld.baselines`` predicts)
  with probability ``habit``, else a random answer seen for that template. Where the rate is
  low the base's greedy answer is the prior guess while samples at T = 1 copy the
  conclusion often enough for a group of rollouts to carry signal; RL can then teach
  "answer what the reasoning concluded", a latent skill, and lift greedy accuracy;
* multiple-choice answers are the option *text* (``blue``, ``bar C``), which the scorer
  accepts: a model this small reads the colour but cannot map it to a shuffled letter;
* it is rendered in the requested format only with probability ``follow_rate``; otherwise
  in a "sloppy" style a real model would produce instead (plain ``The answer is X.``, think
  tags without answer tags, ``Answer: X`` when SPECS was asked, SPECS tags when another tag
  pair was asked, …).

Why the format rate depends on the task family: greedy decoding picks each prompt's most
likely response, so a coin flip that is the same for every prompt gives a base that is
greedily compliant on either ~0% or ~100% of prompts. ``family_tilt`` shifts the rate per
family (zero on average over the training families) and makes greedy compliance a
property of the prompt, landing between the extremes. The first token decides: SPECS
starts with ``<think>`` (the compliant style and two sloppy ones), the other sloppy styles
with the reasoning or "The answer is"; with the default styles greedy decoding follows
SPECS roughly when its rate exceeds 0.29, so the tilts keep every family clear of that
line (count 0.75, bars 0.6 above; digits 0.1, colour 0.15 below: about half the ID
prompts). The held-out tag pairs of the format-shift split are followed at a low rate
(0.1, no tilt), so the base rarely follows them greedily but has seen them (it could
learn them by transfer).

The styles reuse ``scoring.formats``: a compliant target is ``FORMATS[fmt].render`` and
every sloppy style is checked (in tests) to fail the requested format's ``check``.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from specs_eval.benchmarks.toyworld.baselines import template
from specs_eval.rules.formats import FORMATS, TAG_PAIRS


def _fmt(name: str) -> Callable[[str, str], str]:
    return FORMATS[name].render


# Styles: (reasoning, answer) -> response text. Each sloppy one is something a half-trained
# instruct model plausibly writes instead of the requested format.
STYLES: dict[str, Callable[[str, str], str]] = {
    **{name: _fmt(name) for name in FORMATS},
    "plain": lambda r, a: f"The answer is {a}.",
    "reasoned": lambda r, a: f"{r} The answer is {a}.",
    "think_only": lambda r, a: f"<think>{r}</think>\nThe answer is {a}.",
    "boxed_bare": lambda r, a: f"{r} The answer is \\boxed{{{a}}}.",
    "tags_unboxed": lambda r, a: f"<think>{r}</think>\n<answer>{a}</answer>",
    # Reasoning, then the bare value on its own line. For multiple choice a bare word after
    # prose is not a parseable answer (the scorer cannot tell it from the reasoning), so
    # this style also teaches the base a realistic parse failure.
    "value_after": lambda r, a: f"{r}\n{a}",
}

_TAGGED_SLOPPY = {"specs": 0.35, "reasoned": 0.2, "plain": 0.15, "answer_line": 0.15, "boxed_bare": 0.15}

# What a model writes when it does not follow the requested format: style -> weight.
# Every style here fails the requested format's check (tests/test_bootstrap.py).
SLOPPY: dict[str, dict[str, float]] = {
    "specs": {"plain": 0.3, "answer_line": 0.3, "boxed_bare": 0.15, "value_after": 0.1, "think_only": 0.1,
              "tags_unboxed": 0.05},
    "answer_line": {"plain": 0.3, "specs": 0.2, "value_after": 0.2, "boxed_bare": 0.15, "direct": 0.15},
    "json": {"direct": 0.3, "plain": 0.25, "answer_line": 0.25, "specs": 0.2},
    "direct": {"reasoned": 0.35, "answer_line": 0.3, "json": 0.15, "specs": 0.2},
    **{name: dict(_TAGGED_SLOPPY) for name in TAG_PAIRS},
}


def _default_follow() -> dict[str, float]:
    return {"specs": 0.4, "answer_line": 0.5, "json": 0.5, "direct": 0.5} | {name: 0.1 for name in TAG_PAIRS}


def _default_faithful() -> dict[str, float]:
    # About half the questions of every family are of a sub-type whose final answer is
    # usually a guess; the sub-type is visible in the question.
    return {"count/colour": 0.85, "count/shape": 0.3, "bars/tallest": 0.85, "bars/value": 0.3,
            "digits/sum": 0.85, "digits/difference": 0.3, "colour/circle": 0.85, "colour/square": 0.3,
            "colour/triangle": 0.3, "shape/red": 0.85, "shape/green": 0.85, "shape/blue": 0.3, "shape/yellow": 0.3}


@dataclass(frozen=True)
class TargetMix:
    """How often targets follow the requested format and answer what their reasoning concluded."""

    follow_rate: dict[str, float] = field(default_factory=_default_follow)
    # Added to the format rate per family (sums to zero over the training families), except
    # for the held-out tag pairs: those stay rare for every family.
    family_tilt: dict[str, float] = field(
        default_factory=lambda: {"count": 0.35, "bars": 0.2, "digits": -0.3, "colour": -0.25, "shape": 0.0})
    faithful: dict[str, float] = field(default_factory=_default_faithful)
    faithful_default: float = 1.0
    habit: float = 0.75

    def rate(self, fmt: str, family: str) -> float:
        tilt = 0.0 if fmt in TAG_PAIRS else self.family_tilt.get(family, 0.0)
        return min(0.98, max(0.02, self.follow_rate[fmt] + tilt))

    def faithful_rate(self, family: str, kind: str) -> float:
        return self.faithful.get(f"{family}/{kind}", self.faithful_default)

    def to_dict(self) -> dict[str, Any]:
        return {"follow_rate": dict(self.follow_rate), "family_tilt": dict(self.family_tilt),
                "faithful": dict(self.faithful), "faithful_default": self.faithful_default, "habit": self.habit,
                "sloppy": {k: dict(v) for k, v in SLOPPY.items()}}


@dataclass(frozen=True)
class AnswerPrior:
    """Per question template: the most frequent answer (text) and every answer seen, in first-seen order."""

    mode: dict[tuple[str, str, str], str]
    seen: dict[tuple[str, str, str], tuple[str, ...]]

    @classmethod
    def fit(cls, rows: Iterable[dict[str, Any]]) -> AnswerPrior:
        counts: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
        for r in rows:
            counts[template(r)][str(r["answer"])] += 1
        return cls(mode={k: c.most_common(1)[0][0] for k, c in counts.items()},
                   seen={k: tuple(c) for k, c in counts.items()})

    def guess(self, row: dict[str, Any], rng: random.Random, habit: float) -> str:
        """A guess for ``row`` without looking at its image: the prior answer, or a random seen one."""
        key = template(row)
        if key not in self.mode:
            return str(row["choices"][0]) if row.get("choices") else str(row["answer"])
        if rng.random() < habit:
            return self.mode[key]
        return rng.choice(self.seen[key])


def final_answer_of(row: dict[str, Any], rng: random.Random, mix: TargetMix, prior: AnswerPrior | None
                    ) -> tuple[str, bool]:
    """The target's final answer and whether it is the rationale's conclusion (the gold answer text)."""
    meta = row["metadata"]
    if prior is None or rng.random() < mix.faithful_rate(meta["family"], meta.get("kind", "")):
        return str(row["answer"]), True
    return prior.guess(row, rng, mix.habit), False


def render_target(row: dict[str, Any], rng: random.Random, mix: TargetMix | None = None,
                  prior: AnswerPrior | None = None) -> tuple[str, str]:
    """A training response for a toy-world row: ``(text, style)``; no end-of-turn token.

    Without ``prior`` the answer is always the rationale's conclusion.
    """
    mix = mix or TargetMix()
    fmt = row["format"]
    family = row["metadata"]["family"]
    if rng.random() < mix.rate(fmt, family):
        style = fmt
    else:
        names, weights = zip(*SLOPPY[fmt].items(), strict=True)
        style = rng.choices(names, weights=weights)[0]
    answer, _ = final_answer_of(row, rng, mix, prior)
    return STYLES[style](row["rationale"], answer), style
