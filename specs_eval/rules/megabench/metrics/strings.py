"""String metrics: exact (with the single-letter rule), simple, case-insensitive, near, multi-ref.

Re-implements ``exact_str_match.py``, ``simple_str_match.py``,
``exact_str_match_case_insensitive.py``, ``near_str_match.py``,
``normalized_similarity_damerau_levenshtein.py``, ``multi_ref_phrase.py`` and
``positive_int_match.py`` of the official evaluator (lmms-eval copy, commits
4bb2f27 / 4b0640c / 2bb5e98 / c21cca8; ``positive_int_match.py`` as vendored in
VLMEvalKit). Rules that decide scores:

* exact: when the gold is one letter and the response is longer, the response is
  first reduced to its leading letter (``"(B) cat"`` → ``"B"``; note ``"Apple"`` →
  ``"A"`` too, as upstream).
* simple: spaces, hyphens, newlines, tabs and periods removed, lower-cased, then exact.
* near: articles "the"/"a" dropped, accents transliterated (unidecode), lower-cased,
  normalised Damerau-Levenshtein similarity, 0 below 0.9 (partial credit above).
* positive_int: −1 (an *invalid* field, ignored by aggregation) when gold and
  response are both ≤ 0.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from specs_eval.rules.megabench.conversions import str_to_iterable
from specs_eval.rules.megabench.jsonish import extract_code_block_content
from specs_eval.rules.megabench.metrics.base import require

NEAR_MATCH_CUTOFF = 0.9
_SINGLE_LETTER = re.compile(r"^\(?([A-Za-z])\)?(?:\s*\.\s*|\.)?(.*)")


def parse_single_letter(s: str) -> str:
    match = _SINGLE_LETTER.match(s)
    return match.group(1) if match else s


def exact_str_match(response: Any, correct: Any) -> int:
    if not isinstance(response, str):
        response = str(response)
    if not isinstance(correct, str):
        correct = str(correct)
    if len(correct) == 1 and correct.isalpha() and len(response) > 1:
        response = parse_single_letter(response)
    return 1 if response == correct else 0


def code_result_exact_str_match(response: Any, correct: Any) -> int:
    correct, _ = extract_code_block_content(correct, is_ascii_art=True, should_remove_surrounding_whitespace=False)
    return exact_str_match(response, correct)


def _simplify(s: str) -> str:
    return s.replace(" ", "").replace("-", "").replace("\n", "").replace("\t", "").replace(".", "").lower()


def simple_str_match(response: Any, correct: str) -> int:
    if not isinstance(response, str):
        response = str(response)
    return exact_str_match(_simplify(response), _simplify(correct))


def exact_str_match_case_insensitive(response: Any, correct: Any) -> int:
    if not isinstance(response, str) and isinstance(correct, str):
        return 0
    return exact_str_match(response.lower(), correct.lower())


def normalized_similarity_damerau_levenshtein(response: Any, correct: Any) -> float:
    if not isinstance(response, str) and isinstance(correct, str):
        return 0
    from rapidfuzz.distance import DamerauLevenshtein

    return DamerauLevenshtein.normalized_similarity(response, correct)


def remove_def_indef_articles(text: str) -> str:
    return " ".join(t for t in text.split(" ") if t.lower() not in {"the", "a"})


def near_str_match(response: Any, correct: Any, threshold: float = NEAR_MATCH_CUTOFF) -> float:
    if not isinstance(response, str) or not isinstance(correct, str):
        return 0
    unidecode = require("unidecode", "Unidecode")
    from rapidfuzz.distance import DamerauLevenshtein

    def approximate(text: str) -> str:
        return unidecode.unidecode(remove_def_indef_articles(text)).lower()

    return DamerauLevenshtein.normalized_similarity(approximate(response), approximate(correct),
                                                    score_cutoff=threshold)


def replace_potential_chinese_comma(text: str) -> str:
    return text.replace("，", ",")


def multi_ref_phrase(response: Any, targets: str) -> int:
    """1 when the response simple-matches any reference of the gold's list."""
    refs = str_to_iterable(list, replace_potential_chinese_comma(targets))
    for ref in refs:
        if simple_str_match(response, ref if isinstance(ref, str) else str(ref)):
            return 1
    return 0


def positive_int_match(response: Any, correct: Any) -> int:
    try:
        response_obj = ast.literal_eval(response)
    except (SyntaxError, ValueError):
        return 0
    if not correct:
        return 0
    correct_obj = ast.literal_eval(correct)
    if not isinstance(correct_obj, int):
        raise ValueError(f"positive_int_match needs an integer gold answer, got {correct!r}")
    if not isinstance(response_obj, int):
        return 0
    if correct_obj <= 0 and response_obj <= 0:
        return -1
    return 1 if response_obj == correct_obj else 0
