"""MEGA-Bench response parsers: from a model's text to ``{field: value}``.

Re-implements ``metrics/parsing/answer_str_parse.py``, ``json_parse.py``,
``dummy_parse.py`` and ``common/utils.py`` of the official evaluator (lmms-eval copy,
commits aff0acd / 4b0640c / 2bb5e98), and the way
``evaluation_processor.py`` calls them:

* ``answer_string``: the text after the **last** ``Answer:`` (also ``**Answer:**``),
  a fenced code block unwrapped, extra paragraphs dropped for single-line golds,
  JSON-looking content parsed (and re-serialised with ``str()``), else one layer of
  string quotes removed. Used when the answer has a single field.
* ``ascii_answer_string`` / ``verbatim_answer_string``: the same for whitespace-
  sensitive answers (ASCII art); the verbatim variant keeps leading/trailing spaces.
* ``json``: the whole response parsed as JSON (nested JSON strings too); when that
  fails, every gold field receives the raw response (upstream's fallback).
* ``dummy``: the stripped response, passed through.

Unknown parser names behave as upstream's ``unsupported``: the JSON parser without
the raw-text fallback. Every function is total on any string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from specs_eval.rules.megabench.conversions import evaluate_as_string
from specs_eval.rules.megabench.jsonish import extract_code_block_content, parse_json

SINGLE_FIELD_PARSERS = ("answer_string", "ascii_answer_string", "verbatim_answer_string")
KNOWN_PARSERS = (*SINGLE_FIELD_PARSERS, "json", "dummy")

_MULTI_CHOICE_LINE = re.compile(
    r"^(?:(?:[a-zA-Z0-9_-]+)(?:,\s*[a-zA-Z0-9_-]+)*|(?:[a-zA-Z0-9_-]+)\.|\((?:[a-zA-Z0-9_-]+)\)$)"
)


def keep_the_last_answer(s: str) -> str:
    """Lower-case ``answer:`` becomes ``Answer:``, then every ``Answer:`` but the last is removed."""
    s = s.replace("answer:", "Answer:")
    last = s.rfind("Answer:")
    if last == -1:
        return s
    return s[:last].replace("Answer:", "") + s[last:]


def extract_answer_content(response: str, is_ascii_art: bool = False,
                           should_remove_surrounding_whitespace: bool = True) -> str:
    """The content after the last ``Answer:`` (bold form first), whitespace handled per variant."""
    response = keep_the_last_answer(response)
    if is_ascii_art:
        match = re.search(r"\*\*?Answer:(.*?)\*\*?|\bAnswer:(.*)", response, re.DOTALL)
    else:
        match = re.search(r"\*\*?Answer:\s*(.*?)\*\*?|\bAnswer:\s*(.*)", response, re.DOTALL)
    if match:
        response = match.group(1) or match.group(2) or ""
    if is_ascii_art:
        response = re.sub(r"^\s*$(\n^\s*$)+", "", response, flags=re.MULTILINE)
        if should_remove_surrounding_whitespace:
            response = response.rstrip()
        else:
            response = _drop_trailing_blank_lines(response)
        response = re.sub(r"^(\s*\n)+", "", response)
    else:
        response = response.strip()
    return response


def _drop_trailing_blank_lines(s: str) -> str:
    r"""Upstream's ``re.sub(r"(\n\s*)+$", "", s)`` without its exponential backtracking.

    The pattern matches exactly from the first newline of the text's trailing whitespace
    to the end (it cannot reach the end from any other newline), so that is cut.
    Upstream's regex took 4 s on 22 lines of ``"\n "`` followed by text.
    """
    nl = s.find("\n", len(s.rstrip()))
    return s[:nl] if nl >= 0 else s


def _is_multiline_answer(text: str) -> bool:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "":
            return not (i + 1 < len(lines) and lines[i + 1].strip() == "")
    return False


def drop_additional_text(result: str) -> str:
    """Keep only the first paragraph when it looks like a short single-line answer."""
    first = result.split("\n\n")[0].strip()
    looks_short = _MULTI_CHOICE_LINE.search(first)
    if looks_short and first != "" and not _is_multiline_answer(result):
        return first
    return result


def parse_answer_string(response: str | None, *, is_ascii_art: bool = False,
                        should_remove_surrounding_whitespace: bool = True,
                        is_single_line_ans: bool | None = None) -> str:
    """Upstream ``AnswerStrParse._parse``: always returns a string."""
    if response is None:
        response = ""
    content = extract_answer_content(response, is_ascii_art, should_remove_surrounding_whitespace)
    content, is_code = extract_code_block_content(
        content, is_ascii_art=is_ascii_art,
        should_remove_surrounding_whitespace=should_remove_surrounding_whitespace)
    if not is_code and is_single_line_ans and not is_ascii_art:
        content = drop_additional_text(content)
    if content.startswith("{") or content.startswith("["):
        obj = parse_json(content)
        if obj == {}:
            if "{}" not in content:
                return content
        elif obj == [] and "[]" not in content:
            return content
        return str(obj)
    value = evaluate_as_string(content)
    return value if isinstance(value, str) else content


def parse_json_response(response: str) -> Any:
    """Upstream ``JsonParse.parse``: the parsed object, dict values unquoted once."""
    parsed = parse_json(response)
    if isinstance(parsed, dict):
        for key, val in parsed.items():
            parsed[key] = evaluate_as_string(val)
    return parsed


@dataclass
class ParsedResponse:
    """What a parser made of one response."""

    obj: Any  # {field: value} for single-field and JSON parsers; a string for ``dummy``
    parser: str
    ok: bool = True  # False: the JSON parser failed and the raw text was used per field
    notes: list[str] = field(default_factory=list)


def parse_response(parser: str | None, response: str, correct_answer: dict[str, Any]) -> ParsedResponse:
    """Parse one response for one query, as ``evaluation_processor.process`` does.

    ``correct_answer`` gives the field names (``##``-prefixed ones are metadata) and,
    for single-field parsers, whether the gold answer spans one line.
    """
    name = (parser or "unsupported").lower()
    answer_fields = [f for f in correct_answer if not str(f).startswith("##")]
    if name in SINGLE_FIELD_PARSERS:
        if len(answer_fields) != 1:
            raise ValueError(f"parser {name!r} needs exactly one answer field, the answer has {answer_fields}")
        key = answer_fields[0]
        gold = correct_answer[key]
        is_single_line = "\n" not in (gold if isinstance(gold, str) else str(gold))
        value = parse_answer_string(
            response,
            is_ascii_art=name != "answer_string",
            should_remove_surrounding_whitespace=name != "verbatim_answer_string",
            is_single_line_ans=is_single_line,
        )
        return ParsedResponse({key: value}, name)
    if name == "dummy":
        return ParsedResponse((response or "").strip(), name)
    obj = parse_json_response(response or "")
    notes = [] if name == "json" else [f"unknown parser {parser!r}: parsed as JSON without fallback"]
    if name == "json" and (not isinstance(obj, dict) or not obj):
        return ParsedResponse(dict.fromkeys(correct_answer, response), name, ok=False, notes=notes)
    return ParsedResponse(obj, name, notes=notes)
