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

_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_ANSWER_TAG_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_ANSWER_IS_RE = re.compile(
    # the phrase ends at a sentence-final period (not a decimal point), a newline or the end
    r"(?:final answer|the answer|answer)\s*(?:is|:)\s*[:\s]*([^\n]+?)\s*(?:\.(?=\s|$)|\n|$)", re.IGNORECASE
)
_FINAL_TAG_RE = re.compile(r"<final>(.*?)</final>", re.DOTALL | re.IGNORECASE)
_NUMBER_RE = re.compile(r"-?\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|-?\.\d+")
_LETTER_PAREN_RE = re.compile(r"\(([A-Z])\)")
_BARE_LETTER_RE = re.compile(r"^\(?([A-Z])\)?[.:)]?$")


def tail(text: str, n: int = MAX_SCAN) -> str:
    """The last ``n`` characters: enough for any final answer, bounded in cost."""
    return text if len(text) <= n else text[-n:]


def strip_think(text: str) -> str:
    """Remove complete ``<think>…</think>`` blocks; an unclosed one removes nothing.

    Keeping the raw text beside this is the caller's job (records store both).
    """
    if "</think>" in text and "<think>" not in text:
        # Some models omit the opening tag (the template opened it): drop up to the close.
        return text.split("</think>", 1)[1].strip()
    return _THINK_RE.sub("", text).strip()


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
    found = _ANSWER_TAG_RE.findall(tail(text))
    return found[-1].strip() if found else None


def final_tag(text: str) -> str | None:
    found = _FINAL_TAG_RE.findall(tail(text))
    return found[-1].strip() if found else None


def answer_line(text: str) -> str | None:
    """The value after the last ``Answer:`` that starts a line (bold allowed)."""
    t = tail(text).rstrip()
    matches = list(re.finditer(r"(?:^|\n)[ \t]*\**[ \t]*answer[ \t]*\**[ \t]*:[ \t]*\**[ \t]*([^\n]*)", t, re.I))
    if not matches:
        return None
    value = matches[-1].group(1).strip().strip("*").strip()
    return value or None


def answer_is(text: str) -> str | None:
    """The phrase after the last "the answer is" / "answer:" anywhere in the text."""
    found = _ANSWER_IS_RE.findall(tail(text))
    if not found:
        return None
    value = found[-1].strip().strip("*$ ").rstrip(".")
    return value or None


def json_answer(text: str, key: str = "answer") -> str | None:
    """``key`` of the last JSON object in the text (code fences allowed)."""
    t = tail(text)
    t = re.sub(r"```(?:json)?", "", t)
    end = t.rfind("}")
    while end >= 0:
        start = t.rfind("{", 0, end)
        while start >= 0:
            try:
                obj = json.loads(t[start : end + 1])
            except (ValueError, RecursionError):
                start = t.rfind("{", 0, start)
                continue
            if isinstance(obj, dict) and key in obj:
                v = obj[key]
                return v if isinstance(v, str) else json.dumps(v)
            break
        end = t.rfind("}", 0, end)
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


def answer_view(text: str) -> str:
    r"""The SPECS answer view: ``\boxed{}`` in ``<answer>``, else ``<answer>`` content, else think-stripped text."""
    tag = answer_tag(text)
    if tag is not None:
        boxed = last_boxed(tag)
        return boxed if boxed is not None else tag
    return strip_think(text)
