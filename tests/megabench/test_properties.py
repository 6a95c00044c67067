"""Property tests: no parser or metric raises on arbitrary responses; scores stay in [0, 1]."""

from __future__ import annotations

import contextlib
import math

import mb_fixture
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specs_eval.rules.megabench.conversions import cast_to_dict, cast_to_set, str_to_list
from specs_eval.rules.megabench.evaluate import evaluate_query
from specs_eval.rules.megabench.jsonish import find_json_candidates, parse_json
from specs_eval.rules.megabench.parsers import KNOWN_PARSERS, parse_response

# text that looks like model output: answer lines, JSON-ish brackets, LaTeX, code fences
_pieces = st.sampled_from(["Answer:", "**Answer:**", "```", "```json\n", "{", "}", "[", "]", "(", ")", '"', "'",
                           "\\boxed{", "\\frac{1}{2}", "<point>0.5, 0.5</point>", "<box>0, 0, 1, 1</box>", ",", "\n",
                           "\n\n", "=", "%", "π", "None", "1e999", "-1", "0", "3.14", "x", "é", "##", "\\", ":"])
responses = st.one_of(st.text(max_size=200), st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=40)
                      .map("".join))
FAST_TASKS = [t for t in mb_fixture.TASKS if t not in ("fx_program", "fx_open_judge")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=responses, parser=st.sampled_from([*KNOWN_PARSERS, "weird"]))
def test_parsers_are_total(text, parser):
    parse_json(text)
    find_json_candidates(text)
    try:
        parse_response(parser, text, {"answer": "x\ny"})
        parse_response(parser, text, {"a": "1", "b": "2"})
    except ValueError as e:  # a single-field parser on a two-field answer: a config error, by design
        assert "exactly one answer field" in str(e)


@settings(max_examples=150, deadline=None)
@given(text=responses)
def test_conversions_never_hang(text):
    for fn in (str_to_list, cast_to_set, cast_to_dict):
        with contextlib.suppress(Exception):  # upstream lets these raise; the metric runner scores 0
            fn(text)


@pytest.mark.parametrize("task", FAST_TASKS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(text=responses)
def test_no_metric_raises(task, text):
    row = mb_fixture.row_of(task)
    q = evaluate_query(row, text)
    assert not q.config_errors, q.config_errors
    assert 0.0 <= q.score <= 1.0
    for v in q.fields.values():
        assert isinstance(v, float) and (math.isnan(v) or v >= -1.0)


@settings(max_examples=4, deadline=None)
@given(text=responses)
def test_program_judge_never_raises(text):
    q = evaluate_query(mb_fixture.row_of("fx_program"), text)
    assert 0.0 <= q.score <= 1.0 and not q.config_errors


_brackets = st.lists(st.sampled_from(["{", "}", "[", "]", "a", " ", '"', ","]), max_size=24).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_brackets)
def test_json_candidates_match_upstream_recursive_regex(text):
    """Our linear scanner finds what upstream's ``regex`` pattern (?R) finds."""
    regex = pytest.importorskip("regex")
    pattern = r"(\{(?:[^{}]|(?R))*\}|\[(?:[^{}]|(?R))*\])"
    assert find_json_candidates(text) == regex.findall(pattern, text)


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(["\\boxed{", "{", "}", "a", "1"]), max_size=10).map("".join))
def test_boxed_content_matches_upstream_regex(text):
    import re

    from specs_eval.rules.megabench.metrics.numbers import parse_boxed_content

    m = re.search(r"\\boxed\{((?:[^\{\}]+|\{[^\{\}]*\})*)\}", text)
    assert parse_boxed_content(text) == (m.group(1) if m else text)
