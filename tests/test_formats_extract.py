"""Output-format checks and shared answer extraction: behaviour on known cases, totality on any text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specs_eval.rules import extract as ex
from specs_eval.rules.formats import FORMATS, detect_format, specs_structure_ok

GOOD = "<think>two circles</think>\n<answer>The answer is \\boxed{2}</answer>"


@pytest.mark.parametrize(
    "text, ok",
    [
        (GOOD, True),
        ("  " + GOOD + "\n", True),
        ("<think>a</think><answer>\\boxed{B}</answer>", True),
        ("<think>a</think><answer>2</answer>", False),  # no boxed answer
        ("pre <think>a</think><answer>\\boxed{2}</answer>", False),  # text before <think>
        ("<think>a</think><answer>\\boxed{2}</answer> post", False),
        ("<think>a</think><think>b</think><answer>\\boxed{2}</answer>", False),  # duplicated tag
        ("<answer>\\boxed{2}</answer><think>a</think>", False),  # wrong order
        ("<think> </think><answer>\\boxed{2}</answer>", False),  # empty think
        ("two circles. The answer is \\boxed{2}", False),
    ],
)
def test_specs_format(text, ok):
    assert FORMATS["specs"].check(text) is ok


def test_other_formats_and_detection():
    assert FORMATS["answer_line"].extract("Count them.\nAnswer: 3") == "3"
    assert FORMATS["answer_line"].extract("Answer: 3\nthen more") is None
    assert FORMATS["json"].extract('{"answer": "B"}') == "B"
    assert FORMATS["json"].extract('{"answer": 3}') == "3"
    assert FORMATS["json"].extract('{"answer": 3, "why": 1}') is None
    assert FORMATS["direct"].extract("3.5") == "3.5"
    assert FORMATS["direct"].extract("<think>x</think> 3") is None
    assert detect_format(GOOD) == "specs"
    assert detect_format("blah\nAnswer: B") == "answer_line"
    # structure alone (the RL format reward's shape) without a boxed answer
    assert specs_structure_ok("<think>a</think><answer>2</answer>")


@pytest.mark.parametrize(
    "text, answer, method",
    [
        (GOOD, "2", "answer_tag_boxed"),
        ("<think>x</think><answer>B</answer>", "B", "answer_tag"),
        ("so \\boxed{\\frac{1}{2}} done", "\\frac{1}{2}", "boxed"),
        ('here: {"answer": "red"}', "red", "json"),
        ("work\nAnswer: 4.5", "4.5", "answer_line"),
        ("**Answer:** C", "C", "answer_line"),
        ("I think the answer is 7.", "7", "answer_is"),
        ("<final>12</final>", "12", "final_tag"),
        ("", None, "empty"),
        ("no idea", None, "none"),
    ],
)
def test_final_answer(text, answer, method):
    assert ex.final_answer(text) == (answer, method)


def test_numbers_letters_lists_think():
    assert ex.numbers("1,000 and -2.5 then 3.") == ["1000", "-2.5", "3"]
    assert ex.option_letter("(C)", 4) == "C"
    assert ex.option_letter("E", 4) is None
    assert ex.list_literal("coords [1, 2.5, -3]") == "[1, 2.5, -3]"
    assert ex.strip_think("<think>long</think> final") == "final"
    assert ex.strip_think("dangling</think> final") == "final"
    assert ex.last_boxed("\\boxed{a{b}c} and \\boxed{d}") == "d"
    assert ex.last_boxed("\\boxed{unclosed") is None


def test_megabyte_response_is_bounded():
    text = "blah " * 400_000 + "\nAnswer: 9"
    assert ex.final_answer(text) == ("9", "answer_line")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_no_extractor_or_checker_raises(text):
    ex.final_answer(text)
    ex.numbers(text)
    ex.list_literal(text)
    ex.option_letter(text, 5)
    ex.strip_think(text)
    for fmt in FORMATS.values():
        fmt.check(text)
        fmt.extract(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["<think>", "</think>", "<answer>", "</answer>", "\\boxed{", "}", "{", "x", "1",
                                 "Answer:", "\n", '{"answer": ', '"'])).map("".join))
def test_no_raise_on_tag_soup(text):
    ex.final_answer(text)
    for fmt in FORMATS.values():
        fmt.check(text)
