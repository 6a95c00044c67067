"""Deterministic answer extraction shared by every rules-based scorer and the RL reward.

Why here and only here: lmms-eval carries 37 copies of its multiple-choice parser; we
keep one tested set of primitives that the toy-world scorer, the MathVista ``rules``
profile and the RL accuracy reward all call. Every function is total: it returns
``None`` (or an empty list) on text it cannot use and never raises, whatever the input.
"""

from __future__ import annotations

import json
import re

# Responses can be megabytes long (a model stuck in a loop); extraction only ever needs
# the tail, so bound the work by looking at the last characters.
MAX_SCAN = 20_000

# Tags are found with one forward scan each (``_blocks``), not with ``<t>(.*?)</t>``
# regexes: those rescan the rest of the text from every unclosed opening tag, which is
# quadratic (``</think>`` + ``<think>`` x 150k took more than 10 minutes).
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
_FINAL_OPEN = re.compile(r"<final>", re.IGNORECASE)
_FINAL_CLOSE = re.compile(r"</final>", re.IGNORECASE)
# "the answer is …" is matched in two steps (``answer_is``): this head, then a linear scan
# for where the phrase ends, with exactly the result of the former single regex
# ``(?:final answer|the answer|answer)\s*(?:is|:)\s*[:\s]*([^\n]+?)\s*(?:\.(?=\s|$)|\n|$)``
# (the phrase ends at a sentence-final period, not a decimal point, a newline or the end),
# whose nested whitespace quantifiers backtracked quadratically on long lines.
_ANSWER_IS_HEAD = re.compile(r"(?:final answer|the answer|answer)\s*(?:is|:)", re.IGNORECASE)
_COLONS_AND_SPACE = re.compile(r"[:\s]*")
_SPACE_RUN = re.compile(r"\s*")
# ``[ \t]*\**[ \t]*`` written so that each character has one way to match (same language,
# same greedy capture), which keeps the scan linear on long runs of spaces.
_ANSWER_LINE_RE = re.compile(
    r"(?:^|\n)[ \t]*(?:\*+[ \t]*)?answer[ \t]*(?:\*+[ \t]*)?:[ \t]*(?:\*+[ \t]*)?([^\n]*)", re.IGNORECASE
)
_NUMBER_RE = re.compile(r"-?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|-?\.\d+")
_LETTER_PAREN_RE = re.compile(r"\(([A-Z])\)")
_BARE_LETTER_RE = re.compile(r"^\(?([A-Z])\)?[.:)]?$")


def tail(text: str, n: int = MAX_SCAN) -> str:
    """The last ``n`` characters: enough for any final answer, bounded in cost."""
    return text if len(text) <= n else text[-n:]


def _blocks(text: str, open_re: re.Pattern[str], close_re: re.Pattern[str]) -> list[tuple[int, int, int, int]]:
    """``(start, inner_start, inner_end, end)`` of each complete block, left to right.

    The same blocks as ``re.finditer(open + "(.*?)" + close, text, re.DOTALL)``: from each
    opening tag to the first closing tag after it, non-overlapping. An opening tag with no
    closing tag after it ends the scan (no later opening tag can have one either), so the
    cost is one pass over the text.
    """
    out = []
    pos = 0
    while True:
        o = open_re.search(text, pos)
        if o is None:
            return out
        c = close_re.search(text, o.end())
        if c is None:
            return out
        out.append((o.start(), o.end(), c.start(), c.end()))
        pos = c.end()


def strip_think(text: str) -> str:
    """Remove complete ``<think>…</think>`` blocks; an unclosed one removes nothing.

    Keeping the raw text beside this is the caller's job (records store both). Linear in
    the length of the text.
    """
    if "</think>" in text and "<think>" not in text:
        # Some models omit the opening tag (the template opened it): drop up to the close.
        return text.split("</think>", 1)[1].strip()
    blocks = _blocks(text, _THINK_OPEN, _THINK_CLOSE)
    if not blocks:
        return text.strip()
    kept, pos = [], 0
    for start, _, _, end in blocks:
        kept.append(text[pos:start])
        pos = end
    kept.append(text[pos:])
    return "".join(kept).strip()


def _last_block(text: str, open_re: re.Pattern[str], close_re: re.Pattern[str]) -> str | None:
    found = _blocks(text, open_re, close_re)
    if not found:
        return None
    _, a, b, _ = found[-1]
    return text[a:b]


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{…}`` (or ``\fbox{…}``), with nested braces balanced."""
    text = tail(text)
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if idx < 0:
        return None
    i = text.find("{", idx)
    if i < 0:
        # "\boxed 5" form
        m = re.match(r"\\(?:boxed|fbox)\s+([^\s$]+)", text[idx:])
        return m.group(1) if m else None
    depth = 0
    for j in range(i, len(text)):
        c = text[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j].strip()
    return None


def answer_tag(text: str) -> str | None:
    """Content of the last complete ``<answer>…</answer>`` block."""
    found = _last_block(tail(text), _ANSWER_OPEN, _ANSWER_CLOSE)
    return found.strip() if found is not None else None


def final_tag(text: str) -> str | None:
    found = _last_block(tail(text), _FINAL_OPEN, _FINAL_CLOSE)
    return found.strip() if found is not None else None


def answer_line(text: str) -> str | None:
    """The value after the last ``Answer:`` that starts a line (bold allowed)."""
    t = tail(text).rstrip()
    matches = list(_ANSWER_LINE_RE.finditer(t))
    if not matches:
        return None
    value = matches[-1].group(1).strip().strip("*").strip()
    return value or None


def _phrase_end(t: str, start: int) -> int:
    r"""End of the shortest non-empty phrase from ``start`` that a sentence end follows.

    A sentence end is optional whitespace then a newline, a period followed by whitespace
    or the end, or the end of the text (the regex ``([^\n]+?)\s*(?:\.(?=\s|$)|\n|$)``).
    A whitespace run is examined once: inside it the answer cannot change.
    """
    n, i = len(t), start + 1
    while i < n:
        c = t[i]
        if c.isspace():
            j = _SPACE_RUN.match(t, i).end()
            if "\n" in t[i:j] or j >= n or (t[j] == "." and (j + 1 >= n or t[j + 1].isspace())):
                return i
            i = j
            continue
        if c == "." and (i + 1 >= n or t[i + 1].isspace()):
            return i
        i += 1
    return n


def _answer_is_phrases(t: str) -> list[str]:
    """Every phrase the former ``_ANSWER_IS_RE.findall`` returned, in order, in linear time."""
    out: list[str] = []
    pos, n = 0, len(t)
    while True:
        head = _ANSWER_IS_HEAD.search(t, pos)
        if head is None:
            return out
        q = head.end()
        start = _COLONS_AND_SPACE.match(t, q).end()
        if start < n:
            end = _phrase_end(t, start)
            out.append(t[start:end])
            pos = end  # what follows the phrase up to the match's end is whitespace or "."
            continue
        # Only colons and whitespace follow the head: the regex then settles on the last
        # character that is not a newline (or fails here and moves on).
        last = next((i for i in range(n - 1, q - 1, -1) if t[i] != "\n"), None)
        if last is None:
            pos = head.start() + 1
            continue
        out.append(t[last : last + 1])
        return out


def answer_is(text: str) -> str | None:
    """The phrase after the last "the answer is" / "answer:" anywhere in the text."""
    found = _answer_is_phrases(tail(text))
    if not found:
        return None
    value = found[-1].strip().strip("*$ ").rstrip(".")
    return value or None


#: total characters the JSON decoder may examine per character of text in ``json_answer``
JSON_WORK_FACTOR = 64
_JSON = json.JSONDecoder()
# where an object can start: "{" then optional JSON whitespace then a key or "}"
_OBJECT_START = re.compile(r'\{[ \t\n\r]*["}]')


def json_answer(text: str, key: str = "answer") -> str | None:
    """``key`` of the last JSON object in the text (code fences allowed).

    "Last" means: among the substrings that start with ``{`` and end with ``}`` and parse
    as JSON, the one that ends last (the shortest of those if several end there); if it
    is an object with ``key``, its value, else the next one ending earlier, and so on.

    Each ``{`` is decoded once (a JSON value has one parse from a given start, so
    ``text[s:e]`` parses exactly when decoding from ``s`` stops at ``e``), instead of
    trying every ``{``/``}`` pair (cubic: ``{a}`` x 6667 took 68 s). Bound: when the
    decoder has examined ``JSON_WORK_FACTOR`` times the text's length without an answer
    (only crafted input gets there), the search stops and returns ``None``.
    """
    t = tail(text)
    t = re.sub(r"```(?:json)?", "", t)
    n = len(t)
    best: dict[int, tuple[int, object]] = {}  # end -> (largest start, value)
    budget = JSON_WORK_FACTOR * n + 100_000
    for m in _OBJECT_START.finditer(t):  # any other "{" cannot start a JSON object
        start = m.start()
        try:
            obj, end = _JSON.raw_decode(t, start)
            budget -= end - start
            best[end] = (start, obj)
        except json.JSONDecodeError as e:
            budget -= max(1, e.pos - start)
        except (ValueError, RecursionError):
            budget -= n - start
        if budget < 0:
            return None
    for end in sorted(best, reverse=True):
        obj = best[end][1]
        if isinstance(obj, dict) and key in obj:
            v = obj[key]
            return v if isinstance(v, str) else json.dumps(v)
    return None


def numbers(text: str) -> list[str]:
    """All numbers in the text, commas removed, in order."""
    out = []
    for m in _NUMBER_RE.finditer(tail(text)):
        s = m.group(0).replace(",", "")
        if s in {"-", ".", "-."}:
            continue
        if s.endswith(".") and s.count(".") == 1:
            s = s[:-1]
        out.append(s)
    return out


def last_number(text: str) -> str | None:
    found = numbers(text)
    return found[-1] if found else None


def option_letter(text: str, n_choices: int) -> str | None:
    """A bare option letter answer: ``B``, ``(B)``, ``B.``, or the last ``(X)`` in text."""
    letters = {chr(ord("A") + i) for i in range(max(0, min(n_choices, 26)))}
    s = text.strip()
    m = _BARE_LETTER_RE.match(s)
    if m and m.group(1) in letters:
        return m.group(1)
    found = [x for x in _LETTER_PAREN_RE.findall(tail(s)) if x in letters]
    return found[-1] if found else None


def list_literal(text: str) -> str | None:
    """The last ``[a, b, …]`` literal of numbers, normalised as ``[a, b]``."""
    found = re.findall(r"\[([^\[\]]{0,400})\]", tail(text))
    for body in reversed(found):
        parts = [p.strip() for p in body.split(",")]
        if parts and all(re.fullmatch(r"-?\d+(?:\.\d+)?", p) for p in parts):
            return "[" + ", ".join(parts) + "]"
    return None


def final_answer(text: str) -> tuple[str | None, str]:
    """Best-effort final answer from any known output convention.

    Returns ``(answer, method)``. Order: ``\\boxed{}`` (inside ``<answer>`` first),
    ``<answer>`` tags, JSON ``{"answer": …}``, ``<final>`` tags, an ``Answer:`` line,
    "the answer is …". ``(None, "none")`` when nothing matched; callers decide on
    type-specific fallbacks (last number, bare letter) themselves.
    """
    if not text or not text.strip():
        return None, "empty"
    tag = answer_tag(text)
    if tag is not None:
        boxed = last_boxed(tag)
        if boxed is not None:
            return boxed, "answer_tag_boxed"
        return _clean(tag), "answer_tag"
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed, "boxed"
    js = json_answer(text)
    if js is not None:
        return js.strip(), "json"
    fin = final_tag(text)
    if fin is not None:
        return fin, "final_tag"
    line = answer_line(text)
    if line is not None:
        return _clean(line), "answer_line"
    phrase = answer_is(text)
    if phrase is not None:
        return _clean(phrase), "answer_is"
    return None, "none"


def _clean(s: str) -> str:
    s = s.strip()
    m = re.fullmatch(r"(?:the answer is|answer is)\s*[:\s]*(.+?)\.?", s, flags=re.IGNORECASE | re.DOTALL)
    if m:
        s = m.group(1)
    s = s.strip().strip("$").strip()
    return s.rstrip(".").strip()


# --------------------------------------------------------------------------- prose answers
# Primitives for responses that state their answer in a sentence instead of a convention
# ("There are two cars.", "No, A is not larger than B.", "I cannot see the image.").
# All are linear-time: plain alternations, no nested quantifiers, and callers pass tails.

_SMALL_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS_WORDS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORD_RE = re.compile(
    r"\b(?:(" + "|".join(_TENS_WORDS) + r")(?:[\s-](" + "|".join(_SMALL_NUMBER_WORDS[1:10]) + r"))?"
    r"|(" + "|".join(_SMALL_NUMBER_WORDS) + r")|(hundred))\b",
    re.IGNORECASE,
)

_PRONOUN_ONE_RE = re.compile(r"\b(?:the|this|that|which|each|every|any|no|some|another|a)\s+$", re.IGNORECASE)


def number_words(text: str) -> list[str]:
    """Numbers written as English words (``zero`` … ``ninety-nine``, ``hundred``), as digit strings, in order."""
    out = []
    text = tail(text)
    for m in _NUMBER_WORD_RE.finditer(text):
        tens, unit, small, hundred = m.groups()
        if small and small.lower() == "one" and _PRONOUN_ONE_RE.search(text, max(0, m.start() - 12), m.start()):
            continue  # "the one on the left", "no one": a pronoun, not a count
        if tens:
            value = 20 + 10 * _TENS_WORDS.index(tens.lower())
            if unit:
                value += _SMALL_NUMBER_WORDS.index(unit.lower())
        elif small:
            value = _SMALL_NUMBER_WORDS.index(small.lower())
        else:
            value = 100 if hundred else 0
        out.append(str(value))
    return out


_REFUSAL_RE = re.compile(
    r"\bas an ai\b|\bas a (?:text-based |large )?(?:ai|language model)\b|\bi(?:'m| am) (?:sorry|unable|not able)\b"
    r"|^\W*sorry\b|\bi (?:cannot|can't|can not|could not|couldn't|do not|don't) "
    r"(?:see|view|access|process|analy[sz]e|interpret|read|help|determine|answer|tell|provide|know)\b"
    r"|\b(?:not|no|without|lacks?|lacking|insufficient|missing) (?:[\w-]+ ){0,2}(?:information|context|data|details)\b"
    r"|\b(?:question|text|image|problem|prompt|figure|graph|chart|diagram|picture|photo|description|table|data)"
    r"(?: provided| given| shown)? (?:does not|doesn't|do not|don't|did not|didn't) (?:provide|give|include|contain|specify|mention|state|show)\b"
    r"|\b(?:cannot|can't|can not|unable to|impossible to|not possible to) (?:be )?"
    r"(?:determined?|answered?|answer|provided?|calculated?|identified?|tell|say|know|decide|compared?)\b"
    r"|\bplease provide\b|\bcould you (?:please )?(?:provide|describe|send)\b"
    r"|\b(?:question|problem|prompt) (?:is|seems|appears) (?:to be )?(?:incomplete|unclear|ambiguous|not clear|"
    r"missing|invalid|not valid|nonsensical|subjective|too vague)\b"
    r"|\bquestion is (?:incorrect|not specific)\b|\bis missing (?:the|a|an|some) \w+",
    re.IGNORECASE,
)
_NO_OPTION_RE = re.compile(
    r"\bnone of the (?:given |provided |answer |listed )?(?:options|choices|answers|answer choices)\b"
    r"|\bnot (?:one of|among|in|available in|listed in|present in|included in|provided in|given in|an option in)"
    r" the (?:given |provided |answer |listed )?(?:options|choices)\b"
    r"|\b(?:option|choice|answer) is not (?:listed|available|given|provided|among|in|one of)\b"
    r"|\bno (?:correct |such |matching )?(?:option|choice|answer choice)\b"
    r"|\b(?:options|choices) (?:do not|don't) (?:match|include|contain)\b"
    r"|\bmistake in the (?:question|problem|options|choices)\b"
    r"|\bnone of (?:them|these|\(?[A-Z]\)?(?:\s*(?:,|or|and)\s*\(?[A-Z]\)?)+) (?:is|are) (?:correct|right)\b",
    re.IGNORECASE,
)


def is_refusal(sentence: str) -> bool:
    """The sentence declines to answer (no image access, missing information, an invalid question)."""
    return _REFUSAL_RE.search(sentence[:2_000]) is not None


def says_no_option_fits(sentence: str) -> bool:
    """The sentence says that none of the offered choices is the answer."""
    return _NO_OPTION_RE.search(sentence[:2_000]) is not None


_SENTENCE_RE = re.compile(r"\n+|(?<=[.!?])\s+(?=[A-Z*(\"'])")


def sentences(text: str) -> list[str]:
    """Sentences and lines of ``text`` (split at newlines and at ``.``/``!``/``?`` before a capital)."""
    return [s.strip() for s in _SENTENCE_RE.split(tail(text)) if s.strip()]


_CONTINUATION_RE = re.compile(r"\n[ \t]*(?:\**)(?:Question|Hint|Problem|Choices)[ \t]*\**[ \t]*:", re.IGNORECASE)


def cut_continuation(text: str) -> str:
    """Drop a new ``Question:``/``Hint:`` block that a model appended after its answer (few-shot continuation).

    Only a block that follows some answer text is cut; a response that *starts* with an echo is kept.
    """
    first = len(text) - len(text.lstrip())
    for m in _CONTINUATION_RE.finditer(text):
        if m.start() > first:
            return text[: m.start()].rstrip()
    return text


_PLEASANTRY_RE = re.compile(
    r"[^\w\n]*(?:i hope (?:this|that)|hope this|let me know|please let me know|is there anything|do you have (?:any )?other"
    r"|do you want (?:to|me)|feel free|i am happy to|i'm happy to|happy to help|if you have any)",
    re.IGNORECASE,
)
# "Here is a table …" after an answer: what follows restates data, it does not answer.
_SUPPLEMENT_RE = re.compile(
    r"[^\w\n]*here(?: is|'s| are) (?:a |an |the )?(?:complete |full |quick |simple |more detailed )?"
    r"(?:table|breakdown|summary|chart|code|python|list of|visual|graph)\b",
    re.IGNORECASE,
)
_SENTENCE_GAP_RE = re.compile(r"(?<=[.!?])\s+|\n+")


def drop_pleasantries(text: str) -> str:
    """Cut chat boilerplate after an answer: closing courtesies and a trailing "Here is a table …" supplement.

    Only a part that follows some other text is cut, so a response that is all
    boilerplate comes back unchanged.
    """
    cut = len(text)
    first = len(text) - len(text.lstrip())  # text before a position is non-blank iff the position is past this
    for m in _SENTENCE_GAP_RE.finditer(text):
        start = m.end()
        if m.start() > first and (_PLEASANTRY_RE.match(text, start) or _SUPPLEMENT_RE.match(text, start)):
            cut = m.start()
            break
    return text[:cut].rstrip()

def answer_view(text: str) -> str:
    r"""The SPECS answer view: ``\boxed{}`` in ``<answer>``, else ``<answer>`` content, else think-stripped text."""
    tag = answer_tag(text)
    if tag is not None:
        boxed = last_boxed(tag)
        return boxed if boxed is not None else tag
    return strip_think(text)
