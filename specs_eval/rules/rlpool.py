r"""Rules for the paper's RL pool (Orsta-Data-47k, ViRL39K): what kind each gold answer is, and how to score it.

Why one module: both datasets keep their gold answers in ``\boxed{}`` and their options
inside the question text, and a reward that treats every answer as free text would give
credit for a matching word and none for ``(B)`` against ``B``. So each row's gold is first
*classified*, and each kind has its own rule:

* ``mc``: the gold is one option letter (A-K), with the options usually listed in the
  question (``Choices:\n(A) …``). Scored as a letter: the last ``\boxed{}`` of the response
  must hold that letter (``B``, ``(B)``, ``B.``, ``B: text``) or exactly the text of that
  option. VL-Rethinker's reward (TIGER-AI-Lab/VL-Rethinker, ``experience_maker.py::handle_boxed``)
  also compares letters, never the option text as free text.
* ``yesno``: yes/no/true/false; the boxed word must be the same (case-insensitive).
* ``math``: everything ``math_verify`` can compare: the Orsta authors' ``mathverify`` rule
  (MiniMax-AI/One-RL-to-See-Them-All @ 39bcf0d ``reward_server/verify.py::MathVerifyVerifier``):
  both lower-cased, the gold parsed with ``extraction_mode="first_match"``, the response with
  one LaTeX extraction config (``boxed="all"``, boxed tried first, no anchor-free fallback,
  ``units=True``, no ``nits``/``malformed_operators``), then ``math_verify.verify``. As there,
  a bare ``42`` without ``\boxed{}`` scores 0.
* ``text``: a word or phrase (``Tuesday``, ``red kite``). ``math_verify`` would reduce it to a
  product of symbols or a string match, i.e. free-text scoring by accident; these rows are
  **not** scored by rules (``not_scored``), counted, and left out of training unless an LLM
  judge is configured (``training/rewards.py``).
* ``detection`` / ``grounding``: box lists, scored by ``rules/detection.py``.

Every scorer is total: it returns a verdict for any response text and never raises.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from specs_eval.rules.extract import last_boxed, tail

LETTERS = "ABCDEFGHIJK"
KINDS = ("mc", "yesno", "math", "text", "detection", "grounding")
#: kinds the rules score without a judge
RULE_KINDS = ("mc", "yesno", "math", "detection", "grounding")

# "(A) text" / "A. text" / "A: text" / "A) text" at the start of a line
_OPTION_LINE = re.compile(r"^\s*(?:\(([A-K])\)|([A-K])[.:)])\s*(\S.*?)\s*$")
_LETTER_ANSWER = re.compile(r"^\s*\(?\s*([A-K])\s*\)?\s*(?:[.:)]\s*.*|\s+.*)?$", re.DOTALL)
_BARE_LETTER = re.compile(r"^\s*\(?\s*([A-K])\s*\)?\s*\.?\s*$")
_YESNO = {"yes": "yes", "no": "no", "true": "true", "false": "false"}
_LATEX_CMD = re.compile(r"\\[A-Za-z]+")
_TEXT_WRAP = re.compile(r"\\(?:text|mathrm|textbf|mbox|operatorname)\s*\{([^{}]*)\}")
_WORD = re.compile(r"[A-Za-z]{2,}")
# words that occur in math answers without making them free text (units and function names)
_MATH_WORDS_TEXT = """
cm mm km dm nm um m2 cm2 mm2 km2 kg mg ml kl mol sec min hr hrs hours hour minutes minute seconds second
deg degree degrees rad radians radian units unit sq ft in yd mi lb lbs oz gal pt qt mph kmh kph pa kpa mpa hz khz
mhz kw kwh mw mj kj cal kcal ohm ohms mv ma ev dollars dollar cents cent yuan pi infty inf infinity sin cos tan
cot sec csc arcsin arccos arctan sinh cosh tanh log ln lg exp sqrt frac dfrac tfrac cdot times div pm mp le ge leq
geq ne neq approx circ angle triangle perp parallel cup cap emptyset varnothing mathbb left right
"""
MATH_WORDS = frozenset(_MATH_WORDS_TEXT.split())


def gold_content(gold: Any) -> str:
    r"""The answer inside a gold ``\boxed{…}`` (the whole stripped string when there is none)."""
    s = "" if gold is None else str(gold).strip()
    inner = last_boxed(s) if "\\boxed" in s or "\\fbox" in s else None
    return (inner if inner is not None else s).strip().strip("$").strip()


def parse_options(question: str) -> dict[str, str]:
    """Options listed in the question text, letter -> text, when they form A, B, C… in order.

    Recognises ``(A) text``, ``A. text``, ``A: text`` and ``A) text`` lines (ViRL39K writes
    ``Choices:\\n(A) …``); an empty dict when fewer than two consecutive options are found.
    """
    runs: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in (question or "").splitlines():
        m = _OPTION_LINE.match(line)
        if not m:
            continue
        letter, text = m.group(1) or m.group(2), m.group(3)
        if letter == "A":
            if current:
                runs.append(current)
            current = {"A": text}
        elif current and len(current) < len(LETTERS) and letter == LETTERS[len(current)]:
            current[letter] = text
    if current:
        runs.append(current)
    runs = [r for r in runs if len(r) >= 2]
    return runs[-1] if runs else {}


def is_free_text(answer: str) -> bool:
    """Whether a gold answer is words rather than maths (``Tuesday`` yes; ``35^\\circ``, ``5 cm``, ``x=3`` no)."""
    s = _TEXT_WRAP.sub(r" \1 ", answer)
    s = _LATEX_CMD.sub(" ", s)
    words = [w.lower() for w in _WORD.findall(s)]
    return any(w not in MATH_WORDS for w in words)


@lru_cache(maxsize=4096)
def _math_gold(gold: str) -> Any:
    from math_verify import parse

    try:
        return parse(gold.lower(), extraction_mode="first_match")
    except Exception:
        return []


def classify(gold: Any, question: str = "") -> str:
    """The kind of a reasoning row's gold answer: ``mc``, ``yesno``, ``math`` or ``text`` (see the module doc)."""
    content = gold_content(gold)
    if not content:
        return "text"
    if _BARE_LETTER.match(content):
        return "mc"
    if content.lower().rstrip(".") in _YESNO:
        return "yesno"
    if is_free_text(content):
        return "text"
    raw = str(gold) if "\\boxed" in str(gold) else f"\\boxed{{{content}}}"
    return "math" if _math_gold(raw) else "text"


def boxed_letter(text: str, options: dict[str, str]) -> str | None:
    r"""The option letter in the last ``\boxed{}`` of a response (a letter form, or exactly one option's text)."""
    content = last_boxed(tail(text or ""))
    if content is None:
        return None
    content = _TEXT_WRAP.sub(r"\1", content).strip()
    m = _LETTER_ANSWER.match(content)
    if m:
        return m.group(1)
    low = content.strip().rstrip(".").lower()
    hits = [k for k, v in options.items() if v.strip().rstrip(".").lower() == low]
    return hits[0] if len(hits) == 1 else None


def score_mc(text: str, gold: Any, options: dict[str, str]) -> tuple[bool, str | None]:
    want = _BARE_LETTER.match(gold_content(gold))
    got = boxed_letter(text, options)
    return bool(want and got and got == want.group(1)), got


def score_yesno(text: str, gold: Any) -> tuple[bool, str | None]:
    content = last_boxed(tail(text or ""))
    if content is None:
        return False, None
    got = _TEXT_WRAP.sub(r"\1", content).strip().rstrip(".").lower()
    return got == gold_content(gold).lower().rstrip("."), got


_PRED_CONFIG: Any = None


def _pred_config() -> Any:
    global _PRED_CONFIG
    if _PRED_CONFIG is None:
        from latex2sympy2_extended import NormalizationConfig
        from math_verify import LatexExtractionConfig

        _PRED_CONFIG = [LatexExtractionConfig(
            normalization_config=NormalizationConfig(nits=False, malformed_operators=False, basic_latex=True,
                                                     boxed="all", units=True),
            boxed_match_priority=0, try_extract_without_anchor=False)]
    return _PRED_CONFIG


def score_math(text: str, gold: Any) -> tuple[bool, str | None]:
    """The Orsta authors' ``mathverify`` accuracy (see the module doc); never raises."""
    from math_verify import parse, verify

    raw = str(gold) if "\\boxed" in str(gold) else f"\\boxed{{{gold_content(gold)}}}"
    gold_parsed = _math_gold(raw)
    if not gold_parsed:
        return False, None
    try:
        pred = parse(tail(text or "").lower(), extraction_config=_pred_config(), extraction_mode="first_match")
    except Exception:
        return False, None
    if not pred:
        return False, None
    try:
        return bool(verify(gold_parsed, pred)), str(pred[-1])
    except Exception:
        return False, str(pred[-1])


# ---------------------------------------------------------------- free-text golds: the judge's question

#: tokens a YES/NO verdict needs (a word and an end-of-turn)
JUDGE_MAX_TOKENS = 8
EQUIVALENCE_PROMPT = (
    "You are grading a student's final answer to a question against the reference answer.\n\n"
    "Question:\n{question}\n\n"
    "Reference answer: {gold}\n\n"
    "Student's response:\n{response}\n\n"
    "Does the student's final answer mean the same as the reference answer? Ignore the reasoning, case, "
    "articles and formatting. Reply with exactly one word: YES or NO."
)
_VERDICT = re.compile(r"\b(YES|NO)\b", re.IGNORECASE)
_MAX_RESPONSE_CHARS = 4000


def final_answer_text(text: str) -> str:
    r"""What the judge sees of a response: its last ``\boxed{}``, else its tail (bounded)."""
    boxed = last_boxed(tail(text or ""))
    return boxed if boxed is not None else (text or "")[-_MAX_RESPONSE_CHARS:]


def equivalence_prompt(question: str, gold: str, response: str) -> str:
    return EQUIVALENCE_PROMPT.format(question=question.replace("<image>", "").strip(), gold=gold,
                                     response=final_answer_text(response))


def parse_equivalence(raw: str | None) -> bool | None:
    """YES → True, NO → False, anything else (both, neither, empty) → None."""
    if not raw:
        return None
    found = {m.upper() for m in _VERDICT.findall(raw)}
    return None if len(found) != 1 else found.pop() == "YES"
