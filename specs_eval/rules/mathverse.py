"""MathVerse ``rules`` profile: deterministic extraction plus math-verify equivalence.

Why math-verify: the official stage-2 judge counts an answer correct when "the meaning is
expressed in the same way" (``0.5`` vs ``\\frac{1}{2}``); ``math_verify.verify`` is the
deterministic form of that test for mathematical expressions. Multi-choice answers are
option letters (the choices live in the question text), compared exactly.
"""

from __future__ import annotations

import re
from typing import Any

from specs_eval.core.records import ScoreResult
from specs_eval.rules import extract as ex

_LETTER = re.compile(r"^\(?([A-H])\)?(?:[.:)\s]|$)")
_MAX_VERIFY_CHARS = 300
#: a power tower (``9^{9^9}``, ``(9^{99})^{99}``, ``9**9**9``), a 4+-digit exponent, or a
#: factorial of a 4+-digit number or of a factorial
_BLOWUP = re.compile(r"\^\s*\{?\s*-?\d{4,}|\^\s*\{[^{}]*\^|\^\s*\(?\s*\d+\s*\^"
                     r"|\d\s*\^\s*\{?\s*\d+\s*\}?\s*\)\s*\^|\*\*\s*\(?[^()]*\*\*|\d{4,}\s*!|!\s*!")


def extract_letter(text: str) -> str | None:
    phrase, _ = ex.final_answer(text)
    for cand in ([phrase] if phrase else []) + [ex.strip_think(text)]:
        s = cand.strip().strip("*$ ")
        m = _LETTER.match(s)
        if m:
            return m.group(1)
        letter = ex.option_letter(s, 8)
        if letter is not None:
            return letter
    return None


def math_equal(pred: str, gold: str) -> bool:
    """Exact string match, else ``math_verify.verify`` (bounded input; never raises)."""
    if pred.strip() == gold.strip():
        return True
    if len(pred) > _MAX_VERIFY_CHARS or len(gold) > _MAX_VERIFY_CHARS:
        return False
    if _BLOWUP.search(pred) or _BLOWUP.search(gold):
        # math-verify's parser evaluates powers and factorials as it reads them: a tower or
        # 99999999! would run into its 2 s limits (and has none outside the main thread)
        return False
    try:
        from math_verify import parse, verify

        g = parse(gold if "$" in gold else f"${gold}$", parsing_timeout=2)
        p = parse(pred if "$" in pred else f"${pred}$", parsing_timeout=2)
        return bool(g and p and verify(g, p, timeout_seconds=2))
    except Exception:
        return False


def score_rules(row: dict[str, Any], text: str) -> ScoreResult:
    if not text or not text.strip():
        return ScoreResult(score=0.0, correct=False, parse_status="empty", method="empty")
    gold = str(row.get("answer", "")).strip()
    if str(row.get("question_type")) == "multi-choice":
        letter = extract_letter(text)
        if letter is None:
            return ScoreResult(score=0.0, correct=False, parse_status="failed", method="none")
        ok = letter == gold
        return ScoreResult(score=float(ok), correct=ok, prediction=letter, extracted=letter, method="letter")
    phrase, method = ex.final_answer(text)
    if phrase is None:
        phrase, method = ex.last_number(ex.strip_think(text)), "last_number"
    if phrase is None:
        return ScoreResult(score=0.0, correct=False, parse_status="failed", method="none")
    ok = math_equal(phrase, gold)
    return ScoreResult(score=float(ok), correct=ok, prediction=phrase, extracted=phrase, method=method)
