"""No parser raises on arbitrary text (hypothesis), and the scoring stack imports no torch."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specs_eval.benchmarks.mathverse import MathVerse
from specs_eval.benchmarks.mathvision import MathVision
from specs_eval.benchmarks.mathvista import MathVista
from specs_eval.benchmarks.mmmu import MMMU
from specs_eval.core.records import Response
from specs_eval.rules import mathvision as mvr
from specs_eval.rules import mmmu as rules
from tests.conftest import mathvista_row, mmmu_row

TOKENS = ["\\boxed{", "<answer>", "</answer>", "<think>", "</think>", "is ", "the answer is ", "(A)", " B ", "=",
          "1,000", "3.14", "\\frac{1}{2}", "**", "\n", "Answer: ", "[1, 2]", "{", "}", "$", "."]
TEXT = st.lists(st.sampled_from(TOKENS) | st.text(max_size=20), max_size=25).map("".join)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXT)
def test_mmmu_parsers_total(text: str) -> None:
    rules.mc_candidates(text, ["A", "B", "C"], {"A": "x", "B": "y", "C": text[:5]})
    rules.parse_open_response(text)
    rules.eval_open(text or "g", rules.parse_open_response(text))
    rules.parse_options(text)
    rules.parse_gold(text)
    rules.can_infer_option(text, ["A", "B"])
    for profile in MMMU.profiles:
        res = MMMU().score([mmmu_row("validation_Art_1"), mmmu_row("validation_Art_2", question_type="open",
                                                                   options="[]", answer="5")],
                           [Response(id="a", text=text), Response(id="b", text=text)], profile)
        assert all(r.parse_status != "error" for r in res)


@SETTINGS
@given(TEXT)
def test_mathvista_total(text: str) -> None:
    rows = [mathvista_row("1"), mathvista_row("2", question_type="free_form", answer_type="integer", choices=None,
                                              answer="3"),
            mathvista_row("3", question_type="free_form", answer_type="float", choices=None, answer="1.5",
                          precision=1.0),
            mathvista_row("4", question_type="free_form", answer_type="list", choices=None, answer="[1, 2]")]
    for profile in ("rules", "official"):
        res = MathVista().score(rows, [Response(id=r["pid"], text=text, extraction=text) for r in rows], profile)
        assert all(r.parse_status != "error" for r in res)


@SETTINGS
@given(TEXT)
def test_mathvision_and_mathverse_total(text: str) -> None:
    mvr.extract_model_answer(text)
    mvr.is_equal(text, "1")
    row = {"id": "1", "question": "q", "options": ["1", "2", "3", "4", "5"], "answer": "C", "subject": "s", "level": 1}
    [r] = MathVision().score([row], [Response(id="1", text=text)])
    assert r.parse_status != "error"
    vrow = {"sample_index": "1", "question": "q", "answer": "B", "question_type": "multi-choice",
            "problem_version": "Vision Only"}
    frow = dict(vrow, answer="\\frac{1}{2}", question_type="free-form")
    res = MathVerse().score([vrow, frow], [Response(id="1", text=text), Response(id="2", text=text)], "rules")
    assert all(r.parse_status != "error" for r in res)


def test_scoring_stack_imports_no_torch() -> None:
    code = ("import sys\n"
            "import specs_eval.benchmarks.mmmu, specs_eval.benchmarks.mathvista, specs_eval.benchmarks.mathvision\n"
            "import specs_eval.benchmarks.mathverse, specs_eval.run.rescore, specs_eval.cli.score\n"
            "import specs_eval.run.judges, specs_eval.run.importers, specs_eval.cli.importer\n"
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
