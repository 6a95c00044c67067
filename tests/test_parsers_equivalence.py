"""The linear-time rewrites return exactly what the former regexes (and upstream's) returned.

Why: the parsers were rewritten to stop quadratic or exponential backtracking
(tests/test_parsers_time.py); official scores must not move. Each oracle below is the
former expression, kept verbatim: the regex from our previous code or from the
official evaluator it re-implements (MEGA-Bench ``metrics/parsing/common/utils.py``,
``answer_str_parse.py``, ``general_numerical_match.py``, ``common/transformations.py``,
``latex_expr_equality.py``; MMMU ``eval_utils.py``; MATH-V ``evaluation/utils.py``). On
short texts the oracles are fast, and hypothesis draws those texts from the characters
each pattern cares about.
"""

from __future__ import annotations

import contextlib
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specs_eval.rules import extract as ex
from specs_eval.rules import formats, mmmu
from specs_eval.rules import mathvision as mvr
from specs_eval.rules.megabench import jsonish, parsers
from specs_eval.rules.megabench.metrics import latex, numbers

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def texts(*tokens: str, max_size: int = 14) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(tokens) | st.text(max_size=2), max_size=max_size).map("".join)


# ----------------------------------------------------------------- extract / formats (our former regexes)

def old_blocks(tag: str, text: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL | re.IGNORECASE)


def old_answer_is(text: str) -> str | None:
    found = re.findall(r"(?:final answer|the answer|answer)\s*(?:is|:)\s*[:\s]*([^\n]+?)\s*(?:\.(?=\s|$)|\n|$)",
                       ex.tail(text), re.IGNORECASE)
    if not found:
        return None
    value = found[-1].strip().strip("*$ ").rstrip(".")
    return value or None


def old_answer_line(text: str) -> str | None:
    t = ex.tail(text).rstrip()
    matches = list(re.finditer(r"(?:^|\n)[ \t]*\**[ \t]*answer[ \t]*\**[ \t]*:[ \t]*\**[ \t]*([^\n]*)", t, re.I))
    if not matches:
        return None
    value = matches[-1].group(1).strip().strip("*").strip()
    return value or None


def old_json_answer(text: str, key: str = "answer") -> str | None:
    t = re.sub(r"```(?:json)?", "", ex.tail(text))
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


TAG_TEXT = texts("<think>", "</think>", "<THINK>", "<answer>", "</answer>", "<final>", "</final>", "a", "\n")
PHRASE_TEXT = texts("answer", "Answer", "the ", "final ", " is", ":", " ", "\n", ".", "*", "$", "\t", "\u2028", "x")
JSON_TEXT = texts("{", "}", '"answer"', '"a"', ":", ",", "1", " ", '"', "\\", "[", "]", "null", "```json", "```",
                  '{"answer": 2}', '"}"')


@SETTINGS
@given(TAG_TEXT)
def test_tags_and_think_stripping(text: str) -> None:
    assert ex.strip_think(text) == (text.split("</think>", 1)[1].strip()
                                    if "</think>" in text and "<think>" not in text
                                    else re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL | re.I).strip())
    for tag, fn in (("answer", ex.answer_tag), ("final", ex.final_tag)):
        found = old_blocks(tag, text)
        assert fn(text) == (found[-1].strip() if found else None)


@SETTINGS
@given(PHRASE_TEXT)
def test_answer_phrases(text: str) -> None:
    assert ex.answer_is(text) == old_answer_is(text)
    assert ex.answer_line(text) == old_answer_line(text)


@SETTINGS
@given(JSON_TEXT)
def test_json_answer(text: str) -> None:
    assert ex.json_answer(text) == old_json_answer(text)


@SETTINGS
@given(texts("```", "```json", "json", " ", "\n", "\t", "a", "`"))
def test_json_format_fences(text: str) -> None:
    s = text.strip()
    assert formats._unfence(s) == re.sub(r"^```(?:json)?\s*|\s*```$", "", s)


# ----------------------------------------------------------------- MMMU (official number patterns)

@SETTINGS
@given(texts("1", "2", "0", ",", ".", "-", "e", "E", "+", " ", "a", "\n"))
def test_mmmu_numbers(text: str) -> None:
    official = (re.findall(r"-?\b\d{1,3}(?:,\d{3})+\b", text) + re.findall(r"-?\d+(?:\.\d+)?[eE][+-]?\d+", text)
                + re.findall(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])", text))
    assert mmmu.extract_numbers(text) == official


# ----------------------------------------------------------------- MATH-V

@SETTINGS
@given(texts("oxed{", "\\boxed{", "}", "{", "1", "\n", "x"))
def test_mathvision_boxed(text: str) -> None:
    found = re.findall(r"oxed{(.*)}", text, flags=re.S)
    assert mvr._boxed_content(text) == (found[-1] if found else None)


# ----------------------------------------------------------------- MEGA-Bench (official patterns)

FENCE_TEXT = texts("```", "`", "json", "py", "a", " ", "\n", "\t", "_", "é", "\r")


@SETTINGS
@given(FENCE_TEXT)
def test_megabench_code_blocks(text: str) -> None:
    cases = {
        ("json", False, True): rf"```{re.escape('json')}\s*\n*(.*?)\s*```",
        (None, False, True): r"```\w*\s*\n*(.*?)\s*```",
        (None, True, True): r"```\w*(?:\s*\n+)?(.*?)\s*```",
        (None, True, False): r"```\w*(?:\s*\n+)?(.*?)(?:\n+\s*)?```",
    }
    for (code_type, ascii_art, strip), pattern in cases.items():
        response = text
        if ascii_art and (not response.strip() or len(response) > 10000):
            response = response.rstrip()
        m = re.search(pattern, response, flags=re.DOTALL)
        expected = ((m.group(1) if ascii_art else m.group(1).strip(), True) if m else (response, False))
        assert jsonish.extract_code_block_content(text, code_type, ascii_art, strip) == expected


@SETTINGS
@given(texts("\n", " ", "\t", "x", "\r", "\x0c"))
def test_megabench_trailing_blank_lines(text: str) -> None:
    assert parsers._drop_trailing_blank_lines(text) == re.sub(r"(\n\s*)+$", "", text)


@SETTINGS
@given(texts("\\(", "\\)", "\\[", "\\]", "\\", "(", "x", "\n"))
def test_megabench_math_brackets(text: str) -> None:
    expected = re.sub(r"\\\[(.*?)\\\]", r"\1", re.sub(r"\\\((.*?)\\\)", r"\1", text))
    assert numbers.remove_latex_math_brackets(text) == expected


@SETTINGS
@given(texts("\\overline{", "}", "{", "_", "a", " ", "\\", "\n", "\\begin{", "\\end{", "[", "]"))
def test_megabench_latex_normalisation(text: str) -> None:
    assert latex.fix_overline_underscores(text) == re.sub(r"\\overline\{([^}]*)\}_([^{}\\ ]*)",
                                                          r"\\overline{\1_\2}", text)
    assert latex.remove_environments(text) == re.sub(r"\\(begin|end)\{.*?\}(?:\[[^\[\]]*\])?", "", text)


def _scan_json_candidates(s: str) -> list[str]:
    """The former candidate scan (rescans from every ``[``): the reference for the linear one."""
    partners = jsonish._brace_partners(s)
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c == "{" and i in partners:
            out.append(s[i : partners[i] + 1])
            i = partners[i] + 1
            continue
        if c == "[":
            j, last = i + 1, -1
            while j < n:
                if s[j] == "{":
                    if j not in partners:
                        break
                    j = partners[j] + 1
                    continue
                if s[j] == "}":
                    break
                if s[j] == "]":
                    last = j
                j += 1
            if last >= 0:
                out.append(s[i : last + 1])
                i = last + 1
                continue
        i += 1
    return out


@SETTINGS
@given(texts("{", "}", "[", "]", '"a"', ":", ",", "1", " ", '"[1]"', "'a'", "\\\"", "Answer: ", "\n", "x"))
def test_megabench_json_candidates(text: str) -> None:
    assert jsonish.find_json_candidates(text) == _scan_json_candidates(text)


def _upstream_parse_json(response: str) -> object:
    """Upstream ``parse_json``'s loop over candidates (every candidate, keep the last value)."""
    text, _ = jsonish.extract_code_block_content(jsonish.extract_answer_at_beginning_of_line(response), "json")
    valid: list[object] = []
    for candidate in _scan_json_candidates(text):
        cand = candidate.replace('\\"', "__DOUBLE_QUOTE__").replace("\\'", "__SINGLE_QUOTE__")
        for lit in re.findall(r'"(?:\\.|[^"\\])*"', cand):
            inner = lit[1:-1].replace("__DOUBLE_QUOTE__", '"').replace("__SINGLE_QUOTE__", "'")
            try:
                parsed = json.loads(inner)
            except ValueError:
                continue
            if isinstance(parsed, dict | list):
                cand = cand.replace(lit, json.dumps(parsed))
        cand = cand.replace("__DOUBLE_QUOTE__", '\\"').replace("__SINGLE_QUOTE__", "\\'")
        try:
            valid.append(json.loads(cand))
        except ValueError:
            with contextlib.suppress(ValueError):
                valid.append(json.loads(re.sub(r"(?<!\w)\'|\'(?!\w)", '"', cand)))
        ok, value = jsonish._literal(cand)
        if ok:
            valid.append(value)
            continue
        ok, value = jsonish._literal(cand.replace('\\"', '\\\\"').replace("\\'", "\\\\'"))
        if ok:
            valid.append(value)
    if valid:
        return valid[-1]
    return [] if text.startswith("[") else {}


@SETTINGS
@given(texts("{", "}", "[", "]", '"a"', "'a'", ":", ",", "1", " ", '"', "'", '\\"', "\\'", '"[1]"',
             '"{\\"k\\": 2}"', "Answer: ", "\n", "```json", "```", "True", "None", '"[]"', "{'a': '[1]'}"))
def test_megabench_parse_json(text: str) -> None:
    assert repr(jsonish.parse_json(text)) == repr(_upstream_parse_json(text))
