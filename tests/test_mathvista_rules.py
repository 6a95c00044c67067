"""The judge-free MathVista ``rules`` extractor, one hand-written response per rule.

Every example here was written for this file (none is copied from a published run) and each
is one the extractor before these rules misread: it returned another value, or a guess where
the response states no answer. Parse failures are asserted by their reason (``refusal``,
``no_option``, ``program``), so a refusal can never be scored as a wrong guess by accident.
"""

from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner

from specs_eval.cli.ls import ls
from specs_eval.cli.run import run
from specs_eval.cli.score import score
from specs_eval.rules import extract as ex
from specs_eval.rules import mathvista as mv
from tests.conftest import mathvista_row

MC = mathvista_row("1", choices=["35°", "140°", "145°", "150°"], answer="140°")
YES_NO = mathvista_row("2", choices=["Yes", "No"], answer="No")
YES_NO["question"] = "Is Dark Cyan greater than Olive?"
FEWER = mathvista_row("3", choices=["Yes", "No"], answer="Yes")
FEWER["question"] = "Are there fewer red cubes than green spheres?"
LETTERS = mathvista_row("4", choices=["3", "5", "8", "11"], answer="8")
INT = mathvista_row("5", question_type="free_form", answer_type="integer", choices=None, answer="3")
INT["question"] = "How many bars have a value above 40?"
FLT = mathvista_row("6", question_type="free_form", answer_type="float", choices=None, answer="0.25", precision=2.0)
FLT["question"] = "What is the probability of drawing a red ball?"
PHYS = mathvista_row("7", question_type="free_form", answer_type="float", choices=None, answer="7100", precision=1.0)
PHYS["question"] = "What is the orbital period T in seconds?"


def extract(text: str, row: dict) -> str | None:
    return mv.rules_extract(text, row)[0]


# --------------------------------------------------------------------------- trimming

def test_few_shot_continuation_is_cut_at_the_next_question() -> None:
    text = ("The answer is (C) 8.\n\nQuestion: A square has side 4. What is its area?\nChoices:\n(A) 8\n(B) 16\n"
            "\nThe answer is (B) 16.")
    assert extract(text, LETTERS) == "C"


def test_chat_courtesy_and_trailing_table_are_not_read_as_the_answer() -> None:
    text = ("There are **3** bars above 40.\n\nHere is a table of all the bars:\n\n| bar | value |\n|---|---|\n"
            "| north | 52 |\n| south | 61 |\n\nI hope this helps! Let me know if you need 2 more examples.")
    assert mv.rules_extract(text, INT) == ("3", "bold_number")
    assert ex.drop_pleasantries("It is 7.\nI hope this helps.") == "It is 7."
    assert ex.drop_pleasantries("I hope this helps.") == "I hope this helps."  # nothing before it: kept


# --------------------------------------------------------------------------- parse failures, not guesses

@pytest.mark.parametrize("text", [
    "I'm sorry, but I cannot see the image you are referring to, so I can't tell which angle is larger.",
    "The question does not provide enough information to determine the measure of the angle. Please provide "
    "the figure.",
    "As an AI language model, I am unable to view images.",
])
def test_refusals_are_parse_failures(text: str) -> None:
    assert mv.rules_extract(text, MC) == (None, "refusal")


def test_a_refusal_that_mentions_the_question_numbers_is_not_a_number_answer() -> None:
    text = "Without the chart I cannot determine how many of the bars lie above 40. Please provide the chart."
    assert mv.rules_extract(text, INT) == (None, "refusal")
    # an "answer is" phrase without a value does not turn a refusal into an answer
    text = "The chart shows two panels, but it is not possible to determine the count, so the answer is unknown."
    assert mv.rules_extract(text, INT) == (None, "refusal")


def test_none_of_the_options_is_a_parse_failure_not_the_choice_mentioned_in_the_working() -> None:
    text = ("The exterior angle equals 180° - 35° = 145° minus the other angle, so x = 120°.\n"
            "However, 120° is not among the given choices, so none of the options matches.")
    assert mv.rules_extract(text, MC) == (None, "no_option")


def test_program_of_thought_code_is_a_parse_failure() -> None:
    text = ("bars = [12, 45, 67, 38, 41]\n\ndef count_above(values, limit):\n    return sum(1 for v in values "
            "if v > limit)\n\nprint(count_above(bars, 40))")
    assert mv.rules_extract(text, INT) == (None, "program")


# --------------------------------------------------------------------------- numbers

def test_bold_value_beats_later_details_but_step_headings_do_not_count() -> None:
    text = ("**Step 1:** read the bars. The tall bars are north, south and east, so the count is **3**.\n\n"
            "The south bar reaches 61 and the east bar 48.")
    assert mv.rules_extract(text, INT) == ("3", "bold_number")


def test_concluding_sentence_wins_over_a_later_remark() -> None:
    text = ("Bars: north 52, south 61, east 48, west 12.\nTherefore, the number of bars above the line is 3.\n"
            "The west bar is the shortest at 12.")
    assert mv.rules_extract(text, INT) == ("3", "conclusion_number")


def test_conclusion_inside_a_sentence() -> None:
    text = "The first reading was 5 and the second was 9, so the difference is 4 units.\nThe scale starts at 0."
    assert mv.rules_extract(text, INT) == ("4", "conclusion_number")


def test_value_after_the_last_copula_not_the_first_number_of_the_sentence() -> None:
    text = "In the 2 trials at 25 degrees the measured value of the probability is 0.25."
    assert extract(text, FLT) == "0.25"


def test_numbers_stated_in_the_question_are_passed_over() -> None:
    assert extract("Bars above 40 — 3 in total.", INT) == "3"
    assert extract("So there are 3 bars that have a value above 40.", INT) == "3"
    # ... but not the result of an equation, and an exponent is never the answer
    assert extract("The count is n = 40^2 / 40 = 40.", INT) == "40"


def test_number_words() -> None:
    assert mv.rules_extract("There are three bars that rise above the line.", INT) == ("3", "last_sentence_number")
    assert mv.rules_extract("Three", INT) == ("3", "number_word")
    assert extract("There are three bars above 40.", INT) == "3"  # the only digits are the question's
    assert extract("The answer is three.", INT) == "3"
    assert ex.number_words("twenty-one, the one on the left, seventy") == ["21", "70"]


def test_final_value_as_the_prompt_asks_wins_over_a_hedge() -> None:
    # The previous extractor read these values as "the last sentence's number"; they are asserted
    # with their rule because the hedge before them would now be a refusal.
    text = "Without a clearer image it is not possible to determine the exact count.\nFinal value: 3"
    assert mv.rules_extract(text, INT) == ("3", "final_value")
    text = "The chart does not show the labels clearly, so this is my best estimate.\n\n**3**"
    assert mv.rules_extract(text, INT) == ("3", "last_line_number")
    # a number printed by a program is not a stated answer
    text = "Counting with code:\n```\nprint(len([52, 61, 48]))\n```\n```\n3\n```\nThe count is 2 after all."
    assert mv.rules_extract(text, INT)[0] == "2"


def test_a_caveat_after_the_answer_is_not_a_refusal() -> None:
    text = ("The average wage in 2019 was 3,000 euros per month.\n"
            "These figures do not include bonuses or other benefits.")
    assert mv.rules_extract(text, INT) == ("3000", "last_sentence_number")


def test_a_bare_count_or_range_answers_with_its_last_number() -> None:
    assert mv.rules_extract("1, 2, 3", INT) == ("3", "number_sequence")
    assert extract("0 to 3", INT) == "3"


def test_latex_fraction_is_evaluated() -> None:
    assert extract("So $P = \\boxed{\\frac{1}{4}}$.", FLT) == "0.25"
    assert extract("1/4", FLT) == "0.25"


def test_scientific_notation_is_one_number() -> None:
    assert extract("The period is $T = 7.1 \\times 10^{3}$ s.", PHYS) == "7100"


def test_digits_inside_identifiers_are_not_numbers() -> None:
    assert extract("Model R2D2 scores 3 points", INT) == "3"


def test_unicode_minus() -> None:
    assert extract("The limit equals −3.", INT) == "-3"


# --------------------------------------------------------------------------- multiple choice

@pytest.mark.parametrize(("text", "expected"), [
    ("Dark Cyan is not greater than Olive.", "B"),                       # negated restatement
    ("Looking at the legend, Dark Cyan is smaller than Olive.", "B"),    # the opposite comparison
    ("Dark Cyan is greater than Olive.", "A"),                           # affirmative restatement
    ("No. The Olive bar is taller than the Dark Cyan one.", "B"),        # leading No
])
def test_yes_no_stated_as_a_sentence(text: str, expected: str) -> None:
    assert mv.rules_extract(text, YES_NO) == (expected, "yes_no_statement")


def test_yes_no_reads_the_comparison_the_question_asks_about() -> None:
    assert extract("There are fewer red cubes than green spheres.", FEWER) == "A"
    assert extract("There are more red cubes than green spheres.", FEWER) == "B"
    # a sentence that does not restate the question answers nothing
    assert mv.rules_extract("The chart has several coloured lines.", YES_NO) == (None, "none")


def test_stated_value_names_the_choice_with_its_unit() -> None:
    assert mv.rules_extract("The measure of angle ABC is 140.", MC) == ("B", "choice_value")
    assert extract("The answer is 140", MC) == "B"
    assert extract("\\boxed{145^\\circ}", MC) == "C"


def test_choice_text_without_its_article() -> None:
    row = mathvista_row("8", choices=["a polynomial", "a trigonometric function", "an exponential function"],
                        answer="a trigonometric function")
    assert extract("The answer is the trigonometric function.", row) == "B"


def test_answer_phrase_variants() -> None:
    text = "The answer to this question would be 3.\nThe remaining bars sit at 52 and 61."
    assert mv.rules_extract(text, INT) == ("3", "answer_variant")


def test_letter_verdict() -> None:
    assert mv.rules_extract("Option A would need a larger base. C is correct.", LETTERS) == ("C", "letter_verdict")
    assert mv.rules_extract("By my count none of A, B, C, D is correct.", LETTERS) == (None, "no_option")


# --------------------------------------------------------------------------- bounded work

@pytest.mark.parametrize("text", [
    "\\frac{1}{" * 20_000, "9" * 200_000, "x = " * 50_000, "(" * 100_000, "answer: " + " " * 100_000 + "x",
    "1 x 10^" * 30_000, "{" * 100_000, "Here is a table. " * 20_000, "one two " * 50_000,
])
@pytest.mark.parametrize("row", [MC, YES_NO, INT, FLT])
def test_adversarial_text_costs_linear_time(text: str, row: dict) -> None:
    # Each case took minutes with a quadratic scan; linear work takes milliseconds. The bound is
    # loose because the machine is shared.
    start = time.perf_counter()
    mv.rules_extract(text, row)
    assert time.perf_counter() - start < 5.0


# --------------------------------------------------------------------------- labels

def test_rules_is_labelled_judge_free_where_profiles_are_chosen() -> None:
    def flat(text: str) -> str:  # undo terminal wrapping ("judge-\n free")
        return re.sub(r"-\s+", "-", re.sub(r"\s+", " ", text))

    listing = flat(CliRunner().invoke(ls, []).output)
    assert "mathvista rules: judge-free, not official" in listing
    for command in (score, run):
        assert "`rules` is judge-free, not the official scorer" in flat(CliRunner().invoke(command, ["--help"]).output)
