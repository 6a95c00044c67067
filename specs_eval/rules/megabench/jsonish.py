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


def extract_code_block_content(
    response: str,
    code_type: str | None = None,
    is_ascii_art: bool = False,
    should_remove_surrounding_whitespace: bool = True,
) -> tuple[str, bool]:
    """The content of the first fenced code block, and whether one was found."""
    if code_type:
        pattern = rf"```{re.escape(code_type)}\s*\n*(.*?)\s*```"
    elif is_ascii_art:
        if not response.strip() or len(response) > 10000:
            response = response.rstrip()
        if should_remove_surrounding_whitespace:
            pattern = r"```\w*(?:\s*\n+)?(.*?)\s*```"
        else:
            pattern = r"```\w*(?:\s*\n+)?(.*?)(?:\n+\s*)?```"
    else:
        pattern = r"```\w*\s*\n*(.*?)\s*```"
    match = re.search(pattern, response, flags=re.DOTALL)
    if match:
        return (match.group(1), True) if is_ascii_art else (match.group(1).strip(), True)
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


def find_json_candidates(s: str) -> list[str]:
    """Non-overlapping substrings the upstream recursive pattern would match, in order."""
    partners = _brace_partners(s)
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
            j, last = i + 1, -1
            while j < n:
                cj = s[j]
                if cj == "{":
                    if j not in partners:
                        break
                    j = partners[j] + 1
                    continue
                if cj == "}":
                    break
                if cj == "]":
                    last = j
                j += 1
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


def parse_json(response: str) -> Any:
    """The last JSON object/array (or Python literal) found in the text.

    Returns ``{}`` (or ``[]`` when the text starts with ``[``) when nothing parses,
    exactly as upstream; callers distinguish "nothing" from an empty literal.
    """
    text = extract_answer_at_beginning_of_line(response)
    text, _ = extract_code_block_content(text, "json")
    valid: list[Any] = []
    for candidate in find_json_candidates(text):
        cand = candidate.replace('\\"', "__DOUBLE_QUOTE__").replace("\\'", "__SINGLE_QUOTE__")
        for lit in _STRING_LITERAL.findall(cand):
            inner = lit[1:-1].replace("__DOUBLE_QUOTE__", '"').replace("__SINGLE_QUOTE__", "'")
            try:
                parsed = json.loads(inner)
            except (ValueError, RecursionError):
                continue
            if isinstance(parsed, dict | list):
                cand = cand.replace(lit, json.dumps(parsed))
        cand = cand.replace("__DOUBLE_QUOTE__", '\\"').replace("__SINGLE_QUOTE__", "\\'")
        try:
            valid.append(json.loads(cand))
        except (ValueError, RecursionError):
            with contextlib.suppress(ValueError, RecursionError):
                valid.append(json.loads(_SINGLE_QUOTE.sub('"', cand)))
        ok, value = _literal(cand)
        if ok:
            valid.append(value)
            continue
        ok, value = _literal(cand.replace('\\"', '\\\\"').replace("\\'", "\\\\'"))
        if ok:
            valid.append(value)
    if valid:
        return valid[-1]
    return [] if text.startswith("[") else {}
