"""MathVista scoring: official normalisation, the official quick rules, and the ``rules`` extractor.

Upstream: ``lupantech/MathVista`` @ 53d5258, ``evaluation/extract_answer.py`` (quick rules
before the LLM: empty response → ``""``; a multiple-choice response that *is* a choice
text; an integer/float response that parses) and ``evaluation/calculate_score.py``
(``normalize_extracted_answer`` + ``safe_equal``, implemented in ``scoring/answers.py``).

``rules_extract`` is specs-eval's judge-free extractor, built on the shared primitives of
``scoring/extract.py``. It never maps arbitrary text to a choice: where the official
pipeline would ask GPT (and then fall back to the Levenshtein-nearest choice), it returns
``None`` and the sample counts as a parse failure. Its agreement with the published GPT
extractions is measured by ``benchmarks/mathvista_rules_agreement.py`` (docs/scoring.md).
"""

from __future__ import annotations

import re
from typing import Any

from specs_eval.rules import answers
from specs_eval.rules import extract as ex

_LEAD_LETTER = re.compile(r"^\(?([A-Z])\)?(?:\s*[.:),]\s*\S|\s+\(|\s*$)")
_OPTION_WORD = re.compile(r"\b(?:option|choice|letter)\s*(?:is\s*)?(?:letter\s*)?\(?([A-Z])\)?(?![\w])", re.IGNORECASE)
_SENTENCE_SPLIT = re.compile(r"\n+|(?<=[.!?])\s+(?=[A-Z*])")
_BOLD = re.compile(r"\*\*([^*]{1,80})\*\*")


def official_quick_extract(response: str, row: dict[str, Any]) -> str | None:
    """The official rules that run before the LLM extractor; ``None`` means "an LLM is needed"."""
    if response == "":
        return ""
    choices = row.get("choices") or []
    if row.get("question_type") == "multi_choice" and response in choices:
        return response
    answer_type = row.get("answer_type")
    if answer_type == "integer":
        try:
            return str(int(response))
        except (ValueError, OverflowError):
            pass
    if answer_type == "float":
        try:
            return str(float(response))
        except (ValueError, OverflowError):
            pass
    return None


def official_normalize(extraction: Any, row: dict[str, Any], ignore_empty: bool = False) -> str | None:
    """``normalize_extracted_answer`` (Levenshtein-nearest choice included)."""
    return answers.normalize(
        extraction,
        choices=row.get("choices") or None,
        question_type=str(row.get("question_type")),
        answer_type=str(row.get("answer_type")),
        precision=row.get("precision"),
        nearest_choice=True,
        ignore_empty=ignore_empty,
    )


def _clean(s: str) -> str:
    s = s.strip().strip("*").strip()
    s = s.strip("$").strip()
    if s.startswith("\\(") and s.endswith("\\)"):
        s = s[2:-2].strip()
    s = re.sub(r"^\\text\{(.*)\}$", r"\1", s)
    return s.rstrip(".").strip()


def _mc_letter(s: str, choices: list[str]) -> str | None:
    """A choice letter stated by a short answer phrase: ``B``, ``(B)``, ``B.``, ``B: text``, a choice text."""
    s = _clean(s)
    if not s:
        return None
    n = len(choices)
    letters = [chr(ord("A") + i) for i in range(n)]
    letter = ex.option_letter(s, n)
    if letter is not None and (len(s) <= 4 or "(" in s):
        return letter
    m = _LEAD_LETTER.match(s)
    if m and m.group(1) in letters:
        return m.group(1)
    lowered = {str(c).strip().lower(): letters[i] for i, c in enumerate(choices)}
    hit = lowered.get(s.lower())
    if hit is not None:
        return hit
    if letter is not None:
        return letter
    m = _OPTION_WORD.search(s)
    if m and m.group(1).upper() in letters:
        return m.group(1).upper()
    return None


def _first_number(s: str) -> str | None:
    found = ex.numbers(s)
    return found[0] if found else None


def _choice_text_in(s: str, choices: list[str]) -> int | None:
    """Index of the only choice whose text occurs (as a word) in the last sentence, else in the whole text."""
    sentences = [x for x in _SENTENCE_SPLIT.split(s) if x.strip()]
    for scope in ([sentences[-1]] if sentences else []) + [s]:
        low = scope.lower()
        hits = [i for i, c in enumerate(choices)
                if c.strip() and re.search(r"(?<![\w])" + re.escape(c.strip().lower()) + r"(?![\w])", low)]
        if len(hits) == 1:
            return hits[0]
    return None


def _number_of_last_sentence(s: str) -> str | None:
    """The answer number of the last sentence that has one: bold, else after the last ``=``, else the first."""
    for sentence in reversed([x for x in _SENTENCE_SPLIT.split(s) if x.strip()]):
        if not ex.numbers(sentence):
            continue
        bold = [b for b in _BOLD.findall(sentence) if ex.numbers(b)]
        if bold:
            return ex.numbers(bold[-1])[0]
        if "=" in sentence:
            after = ex.numbers(sentence.rsplit("=", 1)[1])
            if after:
                return after[0]
        return ex.numbers(sentence)[0]
    return None


def rules_extract(text: str, row: dict[str, Any]) -> tuple[str | None, str]:
    """Deterministic extraction: ``(extraction, method)`` or ``(None, reason)``. Never raises.

    Multiple choice yields the choice *letter*; numbers yield the number as written;
    lists yield ``[a, b]``. Order: exact choice text / whole-response value, then an
    explicit final-answer convention (``\\boxed{}``, ``<answer>``, JSON, "Answer:",
    "the answer is"), then for choices the last ``(X)`` or "option X" in the text, for
    numbers the last number, for lists the last list literal.
    """
    if not text or not text.strip():
        return None, "empty"
    t = ex.tail(ex.strip_think(text))
    s = t.strip()
    if not s:
        return None, "empty"
    qt, at = row.get("question_type"), row.get("answer_type")
    phrase, method = ex.final_answer(s)
    if qt == "multi_choice":
        choices = [str(c) for c in (row.get("choices") or [])]
        if not choices:
            return None, "no_choices"
        letters = [chr(ord("A") + i) for i in range(len(choices))]
        if s in choices:
            return letters[choices.index(s)], "choice_text"
        whole = _mc_letter(s, choices) if len(s) <= 64 else None
        if whole is not None:
            return whole, "letter"
        if phrase is not None:
            letter = _mc_letter(phrase, choices)
            if letter is not None:
                return letter, method
        letter = ex.option_letter(s, len(choices))
        if letter is not None:
            return letter, "paren_letter"
        m = list(_OPTION_WORD.finditer(s))
        if m and m[-1].group(1).upper() in letters:
            return m[-1].group(1).upper(), "option_word"
        text_hit = _choice_text_in(s, choices)
        if text_hit is not None:
            return letters[text_hit], "choice_text_in_response"
        return None, "none"
    if at == "list":
        lit = ex.list_literal(phrase) if phrase is not None else None
        lit = lit or ex.list_literal(s)
        return (lit, "list") if lit is not None else (None, "none")
    # integer / float (and any other free-form type): a number
    if phrase is not None:
        num = _first_number(phrase)
        if num is not None:
            return num, method
    whole = _first_number(s) if len(s) <= 32 else None
    if whole is not None and len(ex.numbers(s)) == 1:
        return whole, "number"
    num = _number_of_last_sentence(s)
    return (num, "last_sentence_number") if num is not None else (None, "none")


def rules_normalize(extraction: str | None, row: dict[str, Any]) -> str | None:
    """Normalise a ``rules`` extraction as the official code would, without the nearest-choice fallback."""
    if extraction is None:
        return None
    if row.get("question_type") == "multi_choice":
        return answers.normalize(extraction, choices=row.get("choices") or None, question_type="multi_choice",
                                 answer_type="text", nearest_choice=False)
    return answers.normalize(extraction, choices=None, question_type="free_form",
                             answer_type=str(row.get("answer_type")), precision=row.get("precision"))
