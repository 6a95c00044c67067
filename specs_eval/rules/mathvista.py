"""MathVista scoring: official normalisation, the official quick rules, and the ``rules`` extractor.

Upstream: ``lupantech/MathVista`` @ 53d5258, ``evaluation/extract_answer.py`` (quick rules
before the LLM: empty response → ``""``; a multiple-choice response that *is* a choice
text; an integer/float response that parses) and ``evaluation/calculate_score.py``
(``normalize_extracted_answer`` + ``safe_equal``, implemented in ``rules/answers.py``).

``rules_extract`` is specs-eval's judge-free extractor, built on the shared primitives of
``rules/extract.py``. It never maps arbitrary text to a choice: where the official
pipeline would ask GPT (and then fall back to the Levenshtein-nearest choice), it returns
``None`` and the sample counts as a parse failure. Its agreement with the published GPT
extractions is measured by ``benchmarks/mathvista_rules_agreement.py`` (docs/scoring.md).
"""

from __future__ import annotations

import bisect
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from specs_eval.rules import answers
from specs_eval.rules import extract as ex

_LEAD_LETTER = re.compile(r"^\(?([A-Z])\)?(?:\s*[.:),]\s*\S|\s+\(|\s*$)")
_OPTION_WORD = re.compile(r"\b(?:option|choice|letter)\s*(?:is\s*)?(?:letter\s*)?\(?([A-Z])\)?(?![\w])", re.IGNORECASE)
# "B is correct", "(C) is the right answer"
_LETTER_VERDICT = re.compile(
    r"(?:^|[\s(*])\(?([A-Z])\)?\**\s+(?:is|would be|seems to be) (?:the )?(?:correct|right|best|most (?:likely|accurate))\b")


# "the answer to the question is 1987", "the answer would be (C)": wordings ``final_answer`` does not cover.
_ANSWER_VARIANT = re.compile(
    r"\b(?:correct |final )?answer (?:to (?:the|this|your) question |for (?:the|this) question )?"
    r"(?:would be|should be|will be|is likely|is probably|is)\b[ \t:]*([^\n]{0,120}?)(?:\.(?=\s|$)|\n|$)",
    re.IGNORECASE)


def _letter_verdict(s: str, letters: list[str]) -> str | None:
    """The letter of the last affirmative "B is correct" (not "none of A, B, C, D is correct")."""
    for sentence in reversed(ex.sentences(s)):
        for m in reversed(list(_LETTER_VERDICT.finditer(sentence))):
            if m.group(1) in letters and not _NEGATION.search(sentence[: m.end()]) \
                    and not ex.says_no_option_fits(sentence) and "none" not in sentence[: m.start()].lower():
                return m.group(1)
    return None


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
    found = _numbers(s)
    return found[0] if found else None


# A number standing on its own: not the digit of an identifier (``x2``, ``person1_age``, ``R2D2``).
_STANDALONE_NUMBER = re.compile(r"(?<![A-Za-z_\d.])(?:-?\d[\d,]*\.?\d*|-?\.\d+)")
# ``7.1 \times 10^{3}``, ``3.4 x 10^-12``, ``2×10^5``: one number in scientific notation. (The lookbehind
# makes a match start only where a number starts, so a long digit run is scanned once, not once per digit.)
_SCIENTIFIC = re.compile(r"(?<![\d.])(-?\d+(?:\.\d+)?)\s*(?:\\times|\\cdot|×|x|\*)\s*10\s*\^\s*\{?\s*([-+−]?\d{1,3})\s*\}?")


def _sci_to_plain(m: re.Match[str]) -> str:
    try:
        value = Decimal(m.group(1)).scaleb(int(m.group(2).replace("−", "-")))
    except (InvalidOperation, ValueError):
        return m.group(0)
    return format(value.normalize(), "f")


def _numbers(s: str) -> list[str]:
    """Standalone numbers of ``s`` in order, commas dropped, scientific notation written out."""
    s = _SCIENTIFIC.sub(_sci_to_plain, ex.tail(s).replace("−", "-"))
    out = []
    for m in _STANDALONE_NUMBER.finditer(s):
        x = m.group(0).replace(",", "").rstrip(".")
        if x and x not in {"-", "."}:
            out.append(x)
    return out


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


_CONCLUSION = re.compile(
    r"^\W*(?:therefore|thus|hence|so\b|in conclusion|in total|in summary|overall|finally|consequently|this means)",
    re.IGNORECASE)
# A conclusion inside a sentence: "…, so the twig is about 2 inches long."
_INNER_CONCLUSION = re.compile(r"[,;]\s*(?:and\s+)?(?:therefore|thus|hence|so)\b", re.IGNORECASE)
# What links a subject to its value: "X is 5", "X = 5", "X ≈ 5", "X equals 5", "X: 5".
_COPULA = re.compile(r"\b(?:is|are|was|were|be|equals?|gives?|becomes?|remains?|has|have)\b|=|≈|:", re.IGNORECASE)
_QUESTION_WORD = re.compile(r"[a-z]{3,}")
_STOP = frozenset(["the", "and", "are", "is", "was", "were", "does", "did", "has", "have", "than", "that", "this", "what", "which", "how", "many", "much", "with", "from", "for", "there", "their", "its", "into", "onto", "per", "each"])


def _question_numbers(row: dict[str, Any]) -> set[str]:
    return {_canon(x) for x in _numbers(str(row.get("question") or ""))}


def _canon(x: str) -> str:
    try:
        return format(Decimal(x).normalize(), "f")
    except (InvalidOperation, ValueError):
        return x


def _sentence_number(sentence: str, avoid: set[str]) -> str | None:
    """The answer number of one sentence: bold, else the first after its last copula, else its first.

    Numbers that the question itself states (``avoid``: "how many bars are below 40?") are
    passed over while the sentence has another number; number words count where it has no other.
    """
    plain = _SCIENTIFIC.sub(_sci_to_plain, ex.tail(sentence).replace("−", "-"))
    spots = [(m.start(), x) for m in _STANDALONE_NUMBER.finditer(plain)
             if (x := m.group(0).replace(",", "").rstrip(".")) not in {"", "-", "."}
             and not plain[max(0, m.start() - 2): m.start()].endswith(("^", "^{"))]  # an exponent is no answer
    fresh = [(at, x) for at, x in spots if _canon(x) not in avoid]
    if not fresh:
        words = ex.number_words(plain)  # "There are two bars above 40."
        if words or not spots:
            return words[0] if words else None
        fresh = spots
    bold = [b for b in _BOLD.findall(plain) if _numbers(b)]
    if bold:
        return _numbers(bold[-1])[0]
    copulas = list(_COPULA.finditer(plain))
    all_starts = [at for at, _ in spots]
    if copulas and copulas[-1].group(0) in ("=", "≈"):
        k = bisect.bisect_left(all_starts, copulas[-1].end())
        if k < len(spots):  # "… = 10": the result of the last equation, even if the question states it
            return spots[k][1]
    # else the first fresh number after the last copula that has one ("there are 2 blocks that have 36 …")
    starts = [at for at, _ in fresh]
    for m in reversed(copulas):
        k = bisect.bisect_left(starts, m.end())
        if k < len(fresh):
            return fresh[k][1]
    return fresh[0][1]


# Bold text that labels a part of the reasoning ("**Step 1:**") rather than stating a value.
_HEADING = re.compile(r"^\W*(?:step|case|part|method|option|example|solution|note)\b", re.IGNORECASE)


def _prose_number(s: str, row: dict[str, Any]) -> tuple[str | None, str]:
    """The number a prose response answers with: a bold value, a concluding sentence, else the last sentence with one."""
    avoid = _question_numbers(row)
    sents = ex.sentences(s)
    for b in _BOLD.findall(s):
        found = _numbers(b)
        if found and len(b) <= 25 and not _HEADING.match(b):
            return found[0], "bold_number"
    has_number = [x for x in sents if _numbers(x) or ex.number_words(x)]
    for sentence in reversed(has_number):
        if _CONCLUSION.match(sentence):
            return _sentence_number(sentence, avoid), "conclusion_number"
        inner = list(_INNER_CONCLUSION.finditer(sentence))
        if inner and _numbers(sentence[inner[-1].end():]):
            return _sentence_number(sentence[inner[-1].end():], avoid), "conclusion_number"
    if has_number:
        return _sentence_number(has_number[-1], avoid), "last_sentence_number"
    return None, "none"


# MathVista's prompt asks for "the final value … at the end": "Final value: 2", or the value alone on the last line.
_FINAL_VALUE = re.compile(r"\bfinal (?:value|result|count|number)\s*(?:is|:|=)[ \t:*$]*([^\n]{0,80})", re.IGNORECASE)
_BARE_NUMBER_LINE = re.compile(r"[\s*$\\()\[\]{}]*(-?\d[\d,]*(?:\.\d+)?)[\s*$\\()\[\]{}.]*")


def _final_value(s: str) -> tuple[str, str] | None:
    """A value stated at the end as the prompt asks: after "final value is"/"Final value:", or a last line that is a number."""
    found = list(_FINAL_VALUE.finditer(s))
    if found:
        value = _first_number(found[-1].group(1))
        if value is not None:
            return value, "final_value"
    last_line = s.rstrip().rsplit("\n", 1)[-1]
    in_code = s.rstrip().endswith("```")  # a program's printed output is not a stated answer
    m = _BARE_NUMBER_LINE.fullmatch(last_line[:100]) if "\n" in s.strip() and not in_code else None
    return (m.group(1).replace(",", ""), "last_line_number") if m else None


def _is_refusal(s: str) -> bool:
    """The response declines: its first or last sentence is a refusal (image not visible, information missing)."""
    sents = ex.sentences(s)
    return bool(sents) and (ex.is_refusal(sents[0]) or ex.is_refusal(sents[-1]))


_SEQUENCE_GLUE = re.compile(r"(?:\s|,|;|\.|-|–|\band\b|\bto\b|\bor\b)*", re.IGNORECASE)


def _is_number_sequence(s: str) -> bool:
    """Only numbers joined by commas, "and", "to" or dashes ("1, 2, 3, 4, 5", "0 to 10"): a count or range."""
    rest = _STANDALONE_NUMBER.sub(" ", _SCIENTIFIC.sub(" ", s[:2_000]))
    return _SEQUENCE_GLUE.fullmatch(rest) is not None


_CODE_LINE = re.compile(r"^\s*(?:def |import |from \w+ import |print\(|return\b|for .+:$|if .+:$|else:|elif |"
                        r"[A-Za-z_][\w.]*(?:\[[^\]]*\])?\s*[-+*/]?=\s*\S|#|[\]}),]+;?$|['\"]?[\w ]+['\"]?:\s*\S.*,$)")


def _is_program(s: str) -> bool:
    """Program-of-thought output: mostly code lines. Its answer is what running it would print; rules do not run code."""
    lines = [x for x in s.splitlines() if x.strip()]
    if len(lines) < 3:
        return False
    code = sum(1 for x in lines if _CODE_LINE.match(x) or x.startswith(("    ", "\t")))
    return code * 10 >= len(lines) * 7 and any(x.lstrip().startswith(("print(", "def ", "import ")) for x in lines)


# "(E) 4.5": a listed option, not a statement of the answer.
_OPTION_LINE = re.compile(r"^\W*\(?[A-Z]{1,2}\)\s")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_TEXT_MACRO = re.compile(r"\\(?:text|mathrm|mbox)\{([^{}]*)\}")


def _squash(x: str) -> str:
    """A choice or stated value compared loosely: no article, spaces, ``$``, ``\\text{}``; ``\\circ`` as ``°``."""
    x = _TEXT_MACRO.sub(r"\1", _ARTICLE.sub("", x.strip()))
    x = x.replace("^\\circ", "°").replace("\\circ", "°").replace("^{°}", "°").replace("−", "-")
    return re.sub(r"\s+|\\[,!;]|\$", "", x).lower().rstrip(".")


def _value_parts(x: str) -> tuple[str, str] | None:
    """``(number, unit)`` when ``x`` is one number and an optional unit without digits (``140°``, ``5cm``)."""
    m = _STANDALONE_NUMBER.search(x)
    if m is None or m.start() > 0 or any(c.isdigit() for c in x[m.end():]):
        return None
    return _canon(m.group(0).replace(",", "").rstrip(".")), x[m.end():].rstrip(")")


def _choice_by_value(value: str, choices: list[str]) -> int | None:
    """Index of the only choice equal to ``value`` up to case, spaces, an article, or the value without its unit.

    ``140`` names the choice ``140°``, ``8.0`` names ``8``, ``3 π cm`` names ``3πcm``; ``8cm`` does not name ``8m``.
    """
    v = _squash(_clean(value))
    if not v:
        return None
    squashed = [_squash(str(c)) for c in choices]
    hits = [i for i, c in enumerate(squashed) if c == v]
    if hits:
        return hits[0] if len(hits) == 1 else None
    vp = _value_parts(v)
    if vp is None:
        return None
    hits = []
    for i, c in enumerate(squashed):
        cp = _value_parts(c)
        if cp is not None and cp[0] == vp[0] and (not vp[1] or cp[1] == vp[1]):
            hits.append(i)
    return hits[0] if len(hits) == 1 else None


_FRACTION = re.compile(r"(-?)\\d?frac\{(-?\d+(?:\.\d+)?)\}\{(\d+(?:\.\d+)?)\}|(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)")


def _fraction_value(s: str) -> str | None:
    """The decimal value of an answer that is one plain fraction: ``\\frac{1}{4}``, ``-\\dfrac{3}{2}``, ``1/3``."""
    m = _FRACTION.fullmatch(re.sub(r"\s+", "", _clean(s)).replace("−", "-"))
    if m is None:
        return None
    sign, num, den = (m.group(1), m.group(2), m.group(3)) if m.group(2) is not None else ("", m.group(4), m.group(5))
    try:
        value = Decimal(num) / Decimal(den)
    except (InvalidOperation, ZeroDivisionError):
        return None
    return str(float(-value if sign else value))


_YES_NO_LEAD = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|neither|nor|no)\b|n't\b", re.IGNORECASE)
_OPPOSITES = (
    ({"greater", "larger", "more", "higher", "bigger", "taller", "longer", "older", "heavier", "above"},
     {"less", "smaller", "fewer", "lower", "shorter", "younger", "lighter", "below"}),
    ({"maximum", "highest", "largest", "biggest", "greatest", "most", "max"},
     {"minimum", "lowest", "smallest", "least", "fewest", "min"}),
    ({"roughest"}, {"smoothest"}),
    ({"high"}, {"low"}),
)


def _yes_no(s: str, row: dict[str, Any]) -> str | None:
    """``yes``/``no`` from a statement that answers a yes/no question.

    A leading "Yes"/"No" wins. Otherwise the concluding (else first) sentence must restate the
    question: it shares most of the question's content words. It then answers "no" when it
    negates ("A is not greater than B") or swaps the question's comparison for its opposite
    ("A is less than B" to "Is A greater than B?"), and "yes" otherwise.
    """
    sents = ex.sentences(s)
    if not sents:
        return None
    for sentence in (sents[0], sents[-1]):
        m = _YES_NO_LEAD.match(sentence)
        if m:
            return m.group(1).lower()
    question = str(row.get("question") or "").lower()
    q_words = {w for w in _QUESTION_WORD.findall(question) if w not in _STOP}
    if not q_words:
        return None
    concluding = [x for x in sents if _CONCLUSION.match(x)]
    for sentence in ([concluding[-1]] if concluding else []) + [sents[0]]:
        low = sentence.lower()
        words = set(_QUESTION_WORD.findall(low))
        if len(q_words & words) * 3 < len(q_words) * 2:
            continue
        flip = bool(_NEGATION.search(low))
        for a, b in _OPPOSITES:
            for asked, other in ((a, b), (b, a)):
                if q_words & asked and not words & asked and words & other:
                    flip = not flip
        return "no" if flip else "yes"
    return None


def rules_extract(text: str, row: dict[str, Any]) -> tuple[str | None, str]:
    """Deterministic extraction: ``(extraction, method)`` or ``(None, reason)``. Never raises.

    Multiple choice yields the choice *letter*; numbers yield the number as written;
    lists yield ``[a, b]``. First the response is trimmed: a few-shot continuation
    (a new ``Question:``/``Hint:`` block) and chat courtesies after the answer are cut. Then:
    exact choice text / whole-response value; an explicit final-answer convention
    (``\\boxed{}``, ``<answer>``, JSON, "Answer:", "the answer is"); program-of-thought code,
    refusals and "none of the options" are parse failures (``program``, ``refusal``,
    ``no_option``), never guesses. For choices then the last ``(X)`` or "option X", a yes/no
    statement, the only choice text in the last sentence, a stated value equal to one
    choice's value; for numbers a bold number, the number of the concluding sentence, else of
    the last sentence with one (after its last "is"/"="; number words count); for lists the
    last list literal.
    """
    if not text or not text.strip():
        return None, "empty"
    t = ex.tail(ex.strip_think(text))
    s = ex.drop_pleasantries(ex.cut_continuation(t.strip())).strip()
    if not s:
        return None, "empty"
    qt, at = row.get("question_type"), row.get("answer_type")
    phrase, method = ex.final_answer(s)
    if phrase is None:
        found = list(_ANSWER_VARIANT.finditer(s))
        if found and found[-1].group(1).strip():
            phrase, method = _clean(found[-1].group(1)), "answer_variant"
    if qt == "multi_choice":
        choices = [str(c) for c in (row.get("choices") or [])]
        if not choices:
            return None, "no_choices"
        letters = [chr(ord("A") + i) for i in range(len(choices))]
        if s in choices:
            return letters[choices.index(s)], "choice_text"
        verdict = _letter_verdict(s, letters)
        whole = _mc_letter(s, choices) if len(s) <= 64 and verdict is None else None
        if whole is not None:
            return whole, "letter"
        if phrase is not None:
            letter = _mc_letter(phrase, choices)
            if letter is not None:
                return letter, method
            hit = _choice_by_value(phrase, choices)
            if hit is not None:
                return letters[hit], method + "_value"
        if _is_program(s):
            return None, "program"
        if verdict is not None:
            return verdict, "letter_verdict"
        letter = ex.option_letter(s, len(choices))
        if letter is not None:
            return letter, "paren_letter"
        m = list(_OPTION_WORD.finditer(s))
        if m and m[-1].group(1).upper() in letters:
            return m[-1].group(1).upper(), "option_word"
        if _is_refusal(s):  # reached only when no stated answer was found above
            return None, "refusal"
        none_choice = any(c.strip().lower() in ("none of the above", "none", "none of these") for c in choices)
        if not none_choice and any(ex.says_no_option_fits(x) for x in ex.sentences(s)[-3:]):
            return None, "no_option"
        if sorted(c.strip().lower() for c in choices) == ["no", "yes"]:
            yn = _yes_no(s, row)
            if yn is not None:
                return letters[[c.strip().lower() for c in choices].index(yn)], "yes_no_statement"
        text_hit = _choice_text_in(s, choices)
        if text_hit is not None:
            return letters[text_hit], "choice_text_in_response"
        statements = "\n".join(x for x in ex.sentences(s) if not _OPTION_LINE.match(x))
        value, _ = _prose_number(statements, row) if statements else (None, "none")
        hit = _choice_by_value(value, choices) if value is not None else None
        if hit is not None:
            return letters[hit], "choice_value"
        return None, "none"
    if at == "list":
        lit = ex.list_literal(phrase) if phrase is not None else None
        lit = lit or ex.list_literal(s)
        return (lit, "list") if lit is not None else (None, "none")
    # integer / float (and any other free-form type): a number
    if phrase is not None:
        num = _fraction_value(phrase) or _first_number(phrase)
        if num is None:
            words = ex.number_words(phrase)
            num = words[0] if words else None
        if num is not None:
            return num, method
    found = _numbers(s)
    if len(s) <= 32 and len(found) == 1 and not (_canon(found[0]) in _question_numbers(row) and ex.number_words(s)):
        return found[0], "number"
    fraction = _fraction_value(s) if len(s) <= 32 else None
    if fraction is not None:
        return fraction, "fraction"
    if len(s) <= 32 and not found:
        words = ex.number_words(s)
        if len(words) == 1:
            return words[0], "number_word"
    stated = _final_value(s)
    if stated is not None:
        return stated
    if _is_program(s):
        return None, "program"
    if _is_refusal(s):  # an "answer is …" phrase without a number does not answer ("… is not applicable")
        return None, "refusal"
    if len(found) >= 2 and _is_number_sequence(s):
        return found[-1], "number_sequence"
    return _prose_number(s, row)


def rules_normalize(extraction: str | None, row: dict[str, Any]) -> str | None:
    """Normalise a ``rules`` extraction as the official code would, without the nearest-choice fallback."""
    if extraction is None:
        return None
    if row.get("question_type") == "multi_choice":
        return answers.normalize(extraction, choices=row.get("choices") or None, question_type="multi_choice",
                                 answer_type="text", nearest_choice=False)
    return answers.normalize(extraction, choices=None, question_type="free_form",
                             answer_type=str(row.get("answer_type")), precision=row.get("precision"))
