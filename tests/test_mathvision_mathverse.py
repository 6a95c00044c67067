"""MathVision official rules and MathVerse profiles (hand-derived cases)."""

from __future__ import annotations

from specs_eval.benchmarks.mathverse import MathVerse
from specs_eval.benchmarks.mathvision import MathVision
from specs_eval.core.judge import JudgeVerdict
from specs_eval.core.records import Response
from specs_eval.rules import mathvision as mvr

ROW = {"id": "7", "question": "How many?", "options": ["1", "2", "3", "4", "5"], "answer": "C", "subject": "counting",
       "level": 2}
OPEN = {"id": "8", "question": "Area?", "options": [], "answer": "\\frac{1}{2}", "subject": "metric geometry - area",
        "level": 3}


def test_mathvision_extraction_rules() -> None:
    assert mvr.extract_model_answer("Reasoning.\nThe answer is C.") == "c"  # trailing " C." → "C", lower-cased
    assert mvr.extract_model_answer("so \\boxed{0.5}") == "\\frac{1}{2}"    # _strip_string: 0.5 → \frac{1}{2}
    assert mvr.extract_model_answer("the answer is 12.5") == "12.5"


def test_mathvision_official_scoring() -> None:
    b = MathVision()
    res = b.score([ROW, ROW, OPEN, OPEN], [Response(id="a", text="\\boxed{C}"), Response(id="b", text="\\boxed{3}"),
                                           Response(id="c", text="\\boxed{0.50}"), Response(id="d", text="")])
    # "3" equals the gold option text ("C" → options[2] = "3"); 0.50 and 1/2 agree to 2 decimals
    assert [r.correct for r in res] == [True, True, True, False]
    assert res[3].parse_status == "empty"
    assert b.prompt_text(ROW).endswith("How many?\n(A) 1\n(B) 2\n(C) 3\n(D) 4\n(E) 5\n")
    assert b.prompt_text(dict(ROW, options=list("ABCDE"))).endswith("How many?\n")


class Judge:
    judge_id = "fake"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    def complete(self, messages, *, max_tokens=256):  # type: ignore[no-untyped-def]
        return JudgeVerdict(judge_id="fake", request_hash="h", raw=self.answers.pop(0))


def test_mathverse_profiles() -> None:
    b = MathVerse()
    mc = {"sample_index": "1", "question": "q", "answer": "B", "question_type": "multi-choice",
          "problem_version": "Vision Only", "metadata": {"subject": "plane geometry", "subfield": "angle"}}
    ff = dict(mc, sample_index="2", answer="\\frac{1}{2}", question_type="free-form")
    res = b.score([mc, ff], [Response(id="1", text="The answer is (B)."), Response(id="2", text="\\boxed{0.5}")])
    assert [r.correct for r in res] == [True, True]  # math-verify: 0.5 == 1/2
    [q] = b.score([ff], [Response(id="2", text="x", extraction="0.5")], "quick_match")
    assert not q.correct  # quick match is exact string equality
    b.judge = Judge(["0.5", "Judgement: 1"])
    [o] = b.score([ff], [Response(id="2", text="long")], "official")
    assert o.correct and o.extracted == "0.5"
    b.judge = Judge(["maybe"])
    [e] = b.score([ff], [Response(id="2", text="long", extraction="0.5")], "official")
    assert e.parse_status == "error"
