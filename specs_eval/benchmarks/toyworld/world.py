"""The toy world: named, seeded splits of verifiable multimodal problems.

Why it exists: tests, the default ``specs-eval run`` and the ``tiny`` training preset
must run offline on a CPU, yet exercise the same code as MathVista. So every record is
a MathVista-schema row (``pid``, ``question``, ``choices``, ``answer`` as the choice
*text*, ``answer_type``, ``precision``, ``query``, ``metadata``…) with a PIL image in
``decoded_image``, and the same scorer stack serves both.

Splits (item ``i`` of split ``s`` under seed ``k`` depends only on ``(k, s, i)``):

* ``train``      pipeline training distribution: 4 families, plain visuals, SPECS format.
* ``id``         held-out items of that same distribution (a disjoint seed stream).
* ``ood_visual`` visual shift: unseen shades, backgrounds, sizes and pixel noise.
* ``ood_task``   task shift: the held-out ``shape`` family.
* ``ood_format`` format shift: the SPECS structure with held-out tag pairs
  (``<reasoning>``/``<final>``, ``<analysis>``/``<result>``, ``<scratchpad>``/``<output>``)
  that the pipeline never trains on; the base follows them rarely (the paper's GF study
  measures OOD this way, from a base near 1 % compliance).
* ``bootstrap``  the "instruction-tuning" mixture the tiny *base* model is trained on:
  all families and formats (the held-out tag pairs at a low follow rate), some shifted
  visuals. It is what makes the base an instruct-like model that follows each format
  only part of the time.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from specs_eval.benchmarks.toyworld import draw as d
from specs_eval.benchmarks.toyworld.families import FAMILIES, HELD_OUT_FAMILIES, TRAIN_FAMILIES, Problem
from specs_eval.rules.formats import FORMATS, TAG_PAIRS, TRAINED_FORMAT

BENCHMARK = "toyworld"
LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class SplitDef:
    families: tuple[str, ...]
    formats: tuple[str, ...]
    shifted_rate: float = 0.0
    size: int = 200
    family_weights: tuple[float, ...] | None = None
    format_weights: tuple[float, ...] | None = None


SHIFT_FORMATS = tuple(TAG_PAIRS)
SEEN_FORMATS = ("answer_line", "json", "direct")

SPLITS: dict[str, SplitDef] = {
    "train": SplitDef(TRAIN_FAMILIES, (TRAINED_FORMAT,), size=2000),
    "id": SplitDef(TRAIN_FAMILIES, (TRAINED_FORMAT,)),
    "ood_visual": SplitDef(TRAIN_FAMILIES, (TRAINED_FORMAT,), shifted_rate=1.0),
    "ood_task": SplitDef(HELD_OUT_FAMILIES, (TRAINED_FORMAT,)),
    "ood_format": SplitDef(TRAIN_FAMILIES, SHIFT_FORMATS),
    "bootstrap": SplitDef(
        TRAIN_FAMILIES + HELD_OUT_FAMILIES,
        (TRAINED_FORMAT, *SEEN_FORMATS, *SHIFT_FORMATS),
        shifted_rate=0.15,
        size=1_000_000,
        family_weights=(1.4, 1.0, 1.0, 0.8, 0.6),  # count is the hardest to learn, colour the easiest
        format_weights=(0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1),
    ),
}
# Words that carry an item's content (tokenizers keep them whole, see models.tiny.train_tokenizer).
CONTENT_WORDS = (*d.COLOURS, *d.SHAPES, *(s + "s" for s in d.SHAPES))
EVAL_SPLITS = ("id", "ood_visual", "ood_task", "ood_format")
OOD_SPLITS = ("ood_visual", "ood_task", "ood_format")


def item_rng(seed: int, split: str, index: int) -> random.Random:
    """A private RNG for one item: stable across Python versions and processes."""
    h = hashlib.sha256(f"specs-toyworld:{seed}:{split}:{index}".encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def hint_for(p: Problem) -> str:
    """MathVista's hint wording for the problem's answer type."""
    if p.choices:
        return "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
    if p.answer_type == "float":
        return (
            "Hint: Please answer the question requiring a floating-point number with one decimal place and "
            "provide the final value, e.g., 1.2, 1.3, 1.4, at the end."
        )
    return "Hint: Please answer the question requiring an integer answer and provide the final value, e.g., 1, 2, 3, at the end."


def build_query(p: Problem) -> str:
    """The MathVista-style ``query``: hint, question, lettered choices."""
    lines = [hint_for(p), f"Question: {p.question}"]
    if p.choices:
        lines.append("Choices:")
        lines += [f"({LETTERS[i]}) {c}" for i, c in enumerate(p.choices)]
    return "\n".join(lines)


def answer_token(p: Problem) -> str:
    """What a model should put in the answer slot: the option letter for MC, else the value."""
    if p.choices:
        return LETTERS[p.choices.index(p.answer)]
    return p.answer


def make_item(split: str, index: int, seed: int = 0) -> dict[str, Any]:
    """Item ``index`` of ``split``: a MathVista-schema row with a PIL ``decoded_image``."""
    try:
        spec = SPLITS[split]
    except KeyError:
        raise KeyError(f"unknown toy-world split {split!r}; known: {', '.join(SPLITS)}") from None
    rng = item_rng(seed, split, index)
    family = rng.choices(spec.families, weights=spec.family_weights)[0]
    shifted = rng.random() < spec.shifted_rate
    fmt_name = rng.choices(spec.formats, weights=spec.format_weights)[0]
    fmt = FORMATS[fmt_name]
    instruction = rng.choice(fmt.instructions)
    p = FAMILIES[family](rng, d.Style(shifted=shifted))
    pid = f"{split}-{seed}-{index:06d}"
    return {
        "pid": pid,
        "question": p.question,
        "choices": p.choices,
        "answer": p.answer,
        "answer_type": p.answer_type,
        "question_type": p.question_type,
        "precision": p.precision,
        "unit": None,
        "query": build_query(p),
        "format": fmt_name,
        "format_instruction": instruction,
        "answer_token": answer_token(p),
        "rationale": p.rationale,
        "image": f"images/{pid}.png",
        "decoded_image": p.image,
        "metadata": {
            "split": split,
            "source": BENCHMARK,
            "family": family,
            "kind": p.kind,
            "cells": p.cells,
            "task": p.task,
            "skills": p.skills,
            "shifted": shifted,
            "format": fmt_name,
            "language": "English",
            "category": "math-targeted-vqa" if family in ("digits", "bars") else "general-vqa",
            "img_width": d.SIZE,
            "img_height": d.SIZE,
        },
    }


def iter_split(split: str, n: int | None = None, seed: int = 0, start: int = 0) -> Iterator[dict[str, Any]]:
    """Items ``start … start+n-1`` of a split (``n`` defaults to the split's size)."""
    n = SPLITS[split].size if n is None else n
    for i in range(start, start + n):
        yield make_item(split, i, seed)


def generate_split(split: str, n: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    return list(iter_split(split, n, seed))


def record_hash(row: dict[str, Any]) -> str:
    """Content hash of a row: its text fields and its pixels (not PNG bytes, which vary by zlib)."""
    h = hashlib.sha256()
    for k in ("query", "format_instruction", "answer"):
        h.update(str(row.get(k)).encode())
        h.update(b"\0")
    img = row.get("decoded_image")
    if img is not None:
        h.update(img.tobytes())
    return h.hexdigest()
