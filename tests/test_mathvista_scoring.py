"""MathVista: official normalisation, the rules extractor branch by branch, profiles and breakdowns."""

from __future__ import annotations

import pytest

from specs_eval.benchmarks.mathvista import MathVista
from specs_eval.core.judge import JudgeVerdict
from specs_eval.core.records import Response
from specs_eval.rules import mathvista as mv
from tests.conftest import mathvista_row

MC = mathvista_row("1")  # choices apple, pear, fig, plum; answer pear
INT = mathvista_row("2", question_type="free_form", answer_type="integer", choices=None, answer="14")
FLT = mathvista_row("3", question_type="free_form", answer_type="float", choices=None, answer="1.45", precision=2.0)
LST = mathvista_row("4", question_type="free_form", answer_type="list", choices=None, answer="[2007, 2008]")


@pytest.mark.parametrize(("text", "row", "expected"), [
    ("B", MC, "B"),                                    # bare letter
    ("(B) pear", MC, "B"),                             # (X)
    ("pear", MC, "B"),                                 # exact choice text (official quick rule)
    ("Reasoning...\nThe answer is (C).", MC, "C"),     # "answer is"
    ("<think>maybe A</think><answer>\\boxed{D}</answer>", MC, "D"),  # <answer> + \boxed{}
    ("I think it is option B overall", MC, "B"),       # "option X"
    ("Clearly this picture shows a fig.", MC, "C"),    # the only choice text in the last sentence
    ("So the total is 14.", INT, "14"),                # last sentence number
    ("The answer is 2.50.", FLT, "2.50"),              # decimal point is not a sentence end
    ("x = 3 + 4 = 7", INT, "7"),                       # number after the last "="
    ("There are **4** people over 60.", INT, "4"),     # bold number
    ("\\boxed{1.45}", FLT, "1.45"),                    # boxed
    ("The peak is [2007, 2008].", LST, "[2007, 2008]"),  # list literal
])
def test_rules_extract_branches(text: str, row: dict, expected: str) -> None:
    assert mv.rules_extract(text, row)[0] == expected


def test_rules_refuses_to_guess() -> None:
    assert mv.rules_extract("", MC) == (None, "empty")
    assert mv.rules_extract("I cannot tell from the image.", MC)[0] is None
    assert mv.rules_extract("no digits here", INT)[0] is None


def test_official_normalisation() -> None:
    # letter → choice text; "(B) text" → B; nearest choice by edit distance; int cast; precision rounding
    assert mv.official_normalize("B", MC) == "pear"
    assert mv.official_normalize("(b) whatever", MC) == "pear"
    assert mv.official_normalize("figs", MC) == "fig"       # distance 1 to "fig"
    # empty → distance to each choice is its length (5, 4, 3, 4): "fig" (MathVista issue #19)
    assert mv.official_normalize("", MC) == "fig"
    assert mv.official_normalize("", MC, ignore_empty=True) is None
    assert mv.official_normalize("14.0", INT) == "14"
    assert mv.official_normalize("1.4499", FLT) == "1.45"
    assert mv.official_normalize("many", INT) is None
    assert mv.official_normalize("[2007, 2008]", LST) == "[2007, 2008]"


def test_official_quick_rules() -> None:
    assert mv.official_quick_extract("", MC) == ""
    assert mv.official_quick_extract("pear", MC) == "pear"
    assert mv.official_quick_extract(" 14 ", INT) == "14"  # int() accepts surrounding spaces
    assert mv.official_quick_extract("1.45", FLT) == "1.45"
    assert mv.official_quick_extract("The answer is B", MC) is None


def test_official_profile_scores_given_extraction_and_never_guesses() -> None:
    b = MathVista()
    res = b.score([MC, INT, MC], [Response(id="1", text="whatever", extraction="B"),
                                  Response(id="2", text="14"),
                                  Response(id="1", text="long reasoning, answer B")], "official")
    assert [r.correct for r in res[:2]] == [True, True]
    assert res[0].method == "given_extraction" and res[1].method == "official_quick_rules"
    assert res[2].parse_status == "error" and res[2].method == "needs_llm_extraction"


class FakeJudge:
    """Stands in for the official GPT extractor; records what it was asked."""

    judge_id = "fake@test"

    def __init__(self, raw: str | None, error: str | None = None) -> None:
        self.raw, self.error, self.prompts = raw, error, []

    def complete(self, messages, *, max_tokens=256):  # type: ignore[no-untyped-def]
        self.prompts.append(messages[0]["content"])
        return JudgeVerdict(judge_id=self.judge_id, request_hash="h", raw=self.raw, error=self.error)


def test_judge_profile_uses_official_prompt_and_marks_failures() -> None:
    b = MathVista()
    b.judge = FakeJudge("B")
    [ok] = b.score([MC], [Response(id="1", text="The second one.")], "judge")
    assert ok.correct and ok.details["judge_raw"] == "B"
    assert b.judge.prompts[0].endswith("The second one.\n\nExtracted answer: ")
    assert "Please read the following example." in b.judge.prompts[0]
    b.judge = FakeJudge(None, error="HTTP 500")
    [bad] = b.score([MC], [Response(id="1", text="The second one.")], "judge")
    assert bad.parse_status == "error" and not bad.correct and bad.prediction is None


def test_official_breakdown_layout() -> None:
    from specs_eval.core.records import SampleRecord

    b = MathVista()
    rows = [MC, INT]
    samples = [SampleRecord(benchmark="mathvista", split="testmini", id=r["pid"], response="", profile="rules",
                            prediction=None, correct=c, score=float(c), meta=b.meta(r))
               for r, c in zip(rows, [True, False], strict=True)]
    out = b.official_breakdown(samples)
    assert out["average"] == {"accuracy": 0.5, "correct": 1, "total": 2}
    assert out["question_type"]["multi_choice"]["accuracy"] == 1.0
    assert out["skills"]["numeric commonsense"]["total"] == 2  # multi-label key counts each sample once per skill
