"""MathVista-style answer normalisation, shared by MathVista and the toy world.

Why shared: the toy world's rows are MathVista-schema rows, so the same
normalisation (option letter → choice text, ``int(float(x))`` for integers,
``round(x, precision)`` for floats, ``str`` for lists, then string equality with the
gold) decides both. ``nearest_choice=True`` reproduces the official Levenshtein
fallback for multiple choice (``get_most_similar``: the first choice at minimal edit
distance), which turns *any* text — even an empty one — into some choice; the
specs-eval rules profiles keep it off and count such responses as parse failures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rapidfuzz.distance import Levenshtein

_PAREN_LETTER = re.compile(r"\(([a-zA-Z])\)")


def most_similar(prediction: str, choices: Sequence[str]) -> str:
    """The official ``get_most_similar``: first choice with minimal Levenshtein distance."""
    distances = [Levenshtein.distance(prediction, str(c)) for c in choices]
    return str(choices[distances.index(min(distances))])


def normalize(
    extraction: Any,
    *,
    choices: Sequence[str] | None,
    question_type: str,
    answer_type: str,
    precision: Any = None,
    nearest_choice: bool = True,
    ignore_empty: bool = False,
) -> str | None:
    """Normalise an extracted answer the way MathVista's ``normalize_extracted_answer`` does.

    Returns ``None`` when the extraction cannot be normalised (and, with
    ``nearest_choice=False``, when a multiple-choice extraction is neither a valid
    letter nor, case-insensitively, one of the choice texts).
    """
    if question_type == "multi_choice":
        choices = [str(c) for c in (choices or [])]
        if not choices:
            return None
        text = extraction.strip() if isinstance(extraction, str) else ("" if extraction is None else str(extraction))
        if ignore_empty and not text:
            return None
        letter = _PAREN_LETTER.findall(text)
        if letter:
            text = letter[0].upper()
        letters = [chr(ord("A") + i) for i in range(len(choices))]
        if text in letters:
            return choices[letters.index(text)]
        if nearest_choice:
            return most_similar(text, choices)
        lowered = {c.strip().lower(): c for c in choices}
        return lowered.get(text.strip().lower())
    if extraction is None:
        return None
    if answer_type == "integer":
        try:
            return str(int(float(extraction)))
        except (ValueError, TypeError, OverflowError):
            return None
    if answer_type == "float":
        try:
            return str(round(float(extraction), int(precision)))
        except (ValueError, TypeError, OverflowError):
            return None
    if answer_type == "list":
        try:
            return str(extraction)
        except Exception:
            return None
    # free-form text answers: compared as stripped strings
    return str(extraction).strip()


def safe_equal(prediction: str | None, answer: Any) -> bool:
    """The official comparison: plain equality of the normalised prediction and the gold string."""
    try:
        return prediction is not None and prediction == answer
    except Exception:
        return False
