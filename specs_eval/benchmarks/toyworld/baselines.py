"""Image-blind baselines for the toy world: what a model scores without looking.

Why: "above chance" is only meaningful against the right chance. Uniform guessing over
multiple-choice options is a weak bar; a model can do much better by learning the answer
*prior* (the most frequent answer of each question template: counts are small, some colours
are asked about more often). ``prior_accuracy`` is that bar: for every question template
(family, question type, the question with numbers, colour and shape words masked) it
answers the most frequent training answer, never looking at the image. The shipped base's
numbers in the README are compared with both.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from specs_eval.benchmarks.toyworld.draw import COLOURS, SHAPES
from specs_eval.benchmarks.toyworld.world import EVAL_SPLITS, generate_split

_WORDS = sorted({*COLOURS, *SHAPES, *(s + "s" for s in SHAPES)}, key=len, reverse=True)
_WORD_RE = re.compile(r"\b(" + "|".join(map(re.escape, _WORDS)) + r")\b", re.IGNORECASE)
_NUM_RE = re.compile(r"\d+(?:\.\d+)?")


def template(row: dict[str, Any]) -> tuple[str, str, str]:
    """The question with its item-specific words masked: what an image-blind model can condition on."""
    q = _WORD_RE.sub("W", _NUM_RE.sub("#", row["question"]))
    return (row["metadata"]["family"], row["question_type"], q)


def gold(row: dict[str, Any]) -> str:
    """The answer as the prior predicts it: the answer text (for multiple choice the option text,
    which the scorer accepts; with shuffled options a constant letter would do worse), else the value."""
    return str(row["answer"])


def uniform_accuracy(rows: Sequence[dict[str, Any]]) -> float:
    """Expected accuracy of a uniform guess among the options (free-form answers count 0)."""
    if not rows:
        raise ValueError("no rows")
    return sum(1 / len(r["choices"]) if r["question_type"] == "multi_choice" else 0.0 for r in rows) / len(rows)


def fit_prior(train: Iterable[dict[str, Any]]) -> dict[tuple[str, str, str], str]:
    """The most frequent answer per template (ties broken by first seen, so it is deterministic)."""
    counts: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for r in train:
        counts[template(r)][gold(r)] += 1
    return {k: c.most_common(1)[0][0] for k, c in counts.items()}


def prior_accuracy(prior: dict[tuple[str, str, str], str], rows: Sequence[dict[str, Any]]) -> float:
    """Accuracy of answering each row with its template's prior answer; an unseen template
    (a held-out family) falls back to the expected uniform guess for multiple choice."""
    if not rows:
        raise ValueError("no rows")
    total = 0.0
    for r in rows:
        answer = prior.get(template(r))
        if answer is not None:
            total += answer == gold(r)
        elif r["question_type"] == "multi_choice":
            total += 1 / len(r["choices"])
    return total / len(rows)


def baselines(splits: Sequence[str] = EVAL_SPLITS, n: int = 200, train_n: int = 5000, seed: int = 0
              ) -> dict[str, dict[str, Any]]:
    """Uniform-guess and prior-only accuracy per split (and per task family under ``by_family``),
    on the same items ``specs-eval run`` scores by default."""
    prior = fit_prior(generate_split("train", train_n, seed=seed))
    out: dict[str, dict[str, Any]] = {}
    for s in splits:
        rows = generate_split(s, n, seed=seed)
        fams: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            fams[r["metadata"]["family"]].append(r)
        out[s] = {"n": len(rows), "uniform": uniform_accuracy(rows), "prior": prior_accuracy(prior, rows),
                  "by_family": {f: {"n": len(v), "uniform": uniform_accuracy(v), "prior": prior_accuracy(prior, v)}
                                for f, v in sorted(fams.items())}}
    return out
