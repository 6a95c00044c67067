"""Finding JSON (or Python literals) inside free text, as MEGA-Bench's parsers do.

Re-implements ``parse_json``, ``extract_code_block_content`` and
``extract_answer_at_beginning_of_line`` of the official evaluator
(TIGER-AI-Lab/MEGA-Bench ``megabench/metrics/parsing/common/{parsers,utils}.py``;
read in the lmms-eval copy ``lmms_eval/tasks/megabench/metrics/parsing/common/``,
commits c21cca8 / 4b0640c).

One deliberate difference: upstream finds candidates with the third-party ``regex``
module's recursive pattern ``(\\{(?:[^{}]|(?R))*\\}|\\[(?:[^{}]|(?R))*\\])`` under a
0.1 s timeout, so its result can depend on machine speed for huge inputs. Here a
linear scanner reproduces what that pattern matches (balanced ``{…}`` objects; a
``[`` runs to the last ``]`` before an unbalanced brace) with no timeout and no
extra dependency. Everything is total: on any text these functions return a value.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from typing import Any

_STRING_LITERAL = re.compile(r'"(?:\\.|[^"\\])*"')
_SINGLE_QUOTE = re.compile(r"(?<!\w)\'|\'(?!\w)")


_WORD_RUN = re.compile(r"\w*")
_SPACE_RUN = re.compile(r"\s*")
_FENCE = "```"


def _space_run_start(text: str, end: int, floor: int) -> int:
    """Start of the whitespace run that ends at ``end`` (not before ``floor``)."""
    i = end
    while i > floor and text[i - 1].isspace():
        i -= 1
    return i


def _fenced_block(response: str, code_type: str | None, ascii_newline_head: bool, keep_trailing: bool
                  ) -> str | None:
    r"""The group of upstream's fenced-block regex, found in one forward pass; ``None``: no match.

    Upstream (``parsing/common/utils.py``) searches, with ``re.DOTALL``::

        ```{code_type}\s*\n*(.*?)\s*```            code_type given
        ```\w*\s*\n*(.*?)\s*```                    default
        ```\w*(?:\s*\n+)?(.*?)\s*```               ASCII art, surrounding whitespace removed
        ```\w*(?:\s*\n+)?(.*?)(?:\n+\s*)?```       ASCII art, whitespace kept

    Their whitespace quantifiers rescan long whitespace runs from every position
    (quadratic). The equivalent reading: the match opens at the first fence (if it does
    not close, no later fence can); the head takes the word after it and the
    whitespace (for ASCII art: up to and including the last newline of that
    whitespace); the content ends at the first fence after the head, less the
    whitespace before it (ASCII art keeping whitespace: less everything from the first
    newline of that whitespace).
    """
    opening = _FENCE + (code_type or "")
    o = response.find(opening)
    if o < 0:
        return None
    head = o + len(opening)
    if not code_type:
        head = _WORD_RUN.match(response, head).end()
    space_end = _SPACE_RUN.match(response, head).end()
    if ascii_newline_head:
        last_nl = response.rfind("\n", head, space_end)
        start = last_nl + 1 if last_nl >= 0 else head
    else:
        start = space_end
    close = response.find(_FENCE, start)
    if close < 0:
        return None
    end = _space_run_start(response, close, start)
    if keep_trailing:
        nl = response.find("\n", end, close)
        end = nl if nl >= 0 else close
    return response[start:end]


def extract_code_block_content(
    response: str,
    code_type: str | None = None,
    is_ascii_art: bool = False,
    should_remove_surrounding_whitespace: bool = True,
) -> tuple[str, bool]:
    """The content of the first fenced code block, and whether one was found (linear time)."""
    if code_type:
        found = _fenced_block(response, code_type, False, False)
    elif is_ascii_art:
        if not response.strip() or len(response) > 10000:
            response = response.rstrip()
        found = _fenced_block(response, None, True, not should_remove_surrounding_whitespace)
    else:
        found = _fenced_block(response, None, False, False)
    if found is not None:
        return (found, True) if is_ascii_art else (found.strip(), True)
    return response, False


def extract_answer_at_beginning_of_line(response: str) -> str:
    """Text after an ``Answer:`` / ``**Answer:`` that starts a line, else the stripped text."""
    match = re.search(r"^(?:\*\*Answer:|Answer:)\s*(.+)", response, re.MULTILINE)
    return match.group(1).strip() if match else response.strip()


def _brace_partners(s: str) -> dict[int, int]:
    """For every ``{`` that closes, the index of its ``}`` (other characters ignored)."""
    partners: dict[int, int] = {}
    stack: list[int] = []
    for i, c in enumerate(s):
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            partners[stack.pop()] = i
    return partners


def _last_bracket_reach(s: str, partners: dict[int, int]) -> list[int]:
    """For each index ``k``: the last ``]`` a scan starting at ``k`` passes before it stops.

    The scan (upstream's ``[...]`` alternative) steps over balanced ``{…}`` and stops at
    an unbalanced ``{`` or a ``}``; ``-1`` when it passes no ``]``. Computed right to left
    once, so each ``[`` costs O(1) (rescanning from every ``[`` was quadratic: ``[`` x
    30000 took 79 s).
    """
    n = len(s)
    reach = [-1] * (n + 1)
    for k in range(n - 1, -1, -1):
        c = s[k]
        if c == "{":
            end = partners.get(k)
            reach[k] = -1 if end is None else reach[end + 1]
        elif c == "}":
            reach[k] = -1
        elif c == "]":
            after = reach[k + 1]
            reach[k] = after if after >= 0 else k
        else:
            reach[k] = reach[k + 1]
    return reach


def find_json_candidates(s: str) -> list[str]:
    """Non-overlapping substrings the upstream recursive pattern would match, in order."""
    partners = _brace_partners(s)
    reach = _last_bracket_reach(s, partners) if "[" in s else []
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "{" and i in partners:
            end = partners[i]
            out.append(s[i : end + 1])
            i = end + 1
            continue
        if c == "[":
            last = reach[i + 1]
            if last >= 0:
                out.append(s[i : last + 1])
                i = last + 1
                continue
        i += 1
    return out


def _literal(text: str) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(text)
    except (SyntaxError, ValueError):
        return False, None
    except Exception:  # deep nesting, huge numbers: upstream would crash; we just fail
        return False, None


#: string-literal rewrites per candidate (see ``_candidate_values``)
MAX_NESTED_LITERALS = 256


def _candidate_values(candidate: str) -> list[Any]:
    """What upstream appends to its list of valid JSONs for one candidate (0, 1 or 2 values).

    Exact shortcuts: a second attempt on an unchanged string is skipped (same outcome), as
    is a literal rewritten before when nothing was rewritten since (``replace`` would find
    nothing). Cap: upstream rewrites every string literal that holds JSON with one
    ``str.replace`` over the whole candidate; here at most ``MAX_NESTED_LITERALS``
    rewrites per candidate, which bounds the work on crafted input (a real answer holds
    a handful of nested JSON strings).
    """
    cand = candidate.replace('\\"', "__DOUBLE_QUOTE__").replace("\\'", "__SINGLE_QUOTE__")
    rewritten_at: dict[str, int] = {}
    rewrites = 0
    for lit in _STRING_LITERAL.findall(cand):
        if rewritten_at.get(lit) == rewrites:
            continue
        if rewrites >= MAX_NESTED_LITERALS:
            break
        inner = lit[1:-1].replace("__DOUBLE_QUOTE__", '"').replace("__SINGLE_QUOTE__", "'")
        try:
            parsed = json.loads(inner)
        except (ValueError, RecursionError):
            continue
        if isinstance(parsed, dict | list):
            replacement = json.dumps(parsed)
            cand = cand.replace(lit, replacement)
            rewrites += 1
            if lit not in replacement:
                rewritten_at[lit] = rewrites
    cand = cand.replace("__DOUBLE_QUOTE__", '\\"').replace("__SINGLE_QUOTE__", "\\'")
    values: list[Any] = []
    try:
        values.append(json.loads(cand))
    except (ValueError, RecursionError):
        requoted = _SINGLE_QUOTE.sub('"', cand)
        if requoted != cand:
            with contextlib.suppress(ValueError, RecursionError):
                values.append(json.loads(requoted))
    ok, value = _literal(cand)
    if ok:
        values.append(value)
        return values
    escaped = cand.replace('\\"', '\\\\"').replace("\\'", "\\\\'")
    if escaped != cand:
        ok, value = _literal(escaped)
        if ok:
            values.append(value)
    return values


def parse_json(response: str) -> Any:
    """The last JSON object/array (or Python literal) found in the text.

    Returns ``{}`` (or ``[]`` when the text starts with ``[``) when nothing parses,
    exactly as upstream; callers distinguish "nothing" from an empty literal. Candidates
    are tried from the last one back, so the search stops at the first that parses
    (upstream parses all and keeps the last value: the same result).
    """
    text = extract_answer_at_beginning_of_line(response)
    text, _ = extract_code_block_content(text, "json")
    tried: set[str] = set()
    for candidate in reversed(find_json_candidates(text)):
        if candidate in tried:  # identical text, identical (failed) outcome
            continue
        values = _candidate_values(candidate)
        if values:
            return values[-1]
        tried.add(candidate)
    return [] if text.startswith("[") else {}
