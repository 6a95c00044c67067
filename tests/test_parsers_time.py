"""Every public parser and scorer finishes in bounded time on adversarial text.

Why: one crafted or looping response must not stall an evaluation or an RL step. The
cases the hardening issue measured on the former code (shared 2-core machine):
``json_answer`` on ``{a}`` x 6667: 68 s; a 21k-character response under MathVista
``rules``: killed at 120 s; ``</think>`` + ``<think>`` x 150k through ``strip_think``:
still running at 600 s; MEGA-Bench ``Answer: ((((9**4096)**64)**64)**64)``: over 120 s;
``[`` x 30000: 79 s; MMMU 50,000 digits: 97 s. Each is in ``CORPUS`` below, with more
of the same families, and hypothesis adds long repetitions of tokens that drive
backtracking (nested brackets, repeated tags, digits, LaTeX, whitespace runs).

How: every call runs in the time-budget module's forked worker (so a regression fails
after three times its bound instead of hanging the suite); the worker times the call
itself, and each call must take less than ``BOUND_S``: ordinary calls take
milliseconds, so the bound leaves room for a busy machine, and every former case
exceeded it many times over. The one exception is MEGA-Bench's sympy LaTeX equality,
held to upstream's own 15 s limit (``SYMPY_BOUND_S``).
"""

from __future__ import annotations

import ast
import contextlib
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specs_eval.benchmarks.mathverse import MathVerse
from specs_eval.benchmarks.mathvision import MathVision
from specs_eval.benchmarks.mathvista import MathVista
from specs_eval.benchmarks.mmmu import MMMU
from specs_eval.benchmarks.toy import ToyWorld, score_toy
from specs_eval.core.records import Response
from specs_eval.rules import answers, budget, formats, mmmu
from specs_eval.rules import extract as ex
from specs_eval.rules import mathverse as mvs
from specs_eval.rules import mathvision as mvr
from specs_eval.rules import mathvista as mv
from specs_eval.rules.extract import answer_view
from specs_eval.rules.megabench import conversions, jsonish, parsers, registry
from specs_eval.rules.megabench.evaluate import evaluate_query
from specs_eval.rules.megabench.metrics import constrained, latex
from tests.conftest import mathvista_row, mmmu_row
from tests.megabench import mb_fixture
from training import rewards

BOUND_S = 2.0

MV_ROWS = {
    "mc": mathvista_row("1"),
    "int": mathvista_row("2", question_type="free_form", answer_type="integer", choices=None, answer="14"),
    "float": mathvista_row("3", question_type="free_form", answer_type="float", choices=None, answer="1.45",
                           precision=2.0),
    "list": mathvista_row("4", question_type="free_form", answer_type="list", choices=None, answer="[1, 2]"),
}
MMMU_ROWS = [mmmu_row("validation_Art_1"),
             mmmu_row("validation_Art_2", question_type="open", options="[]", answer="12000")]
MATHVISION_ROW = {"id": "1", "question": "q", "options": ["1", "2", "3", "4", "5"], "answer": "C", "subject": "s",
                  "level": 1}
MATHVISION_FREE = {"id": "2", "question": "q", "options": [], "answer": "\\frac{1}{2}", "subject": "s", "level": 1}
MATHVERSE_ROWS = [{"sample_index": "1", "question": "q", "answer": "B", "question_type": "multi-choice",
                   "problem_version": "Vision Only"},
                  {"sample_index": "2", "question": "q", "answer": "\\frac{1}{2}", "question_type": "free-form",
                   "problem_version": "Vision Only"}]
#: MEGA-Bench fixture rows with a rule metric (the program judge runs code, the judges need a model)
MB_ROWS = [r for r in mb_fixture.rows()
           if registry.eval_type(ast.literal_eval(r["metric_info"])) == "rule" and "program_judge" not in r["metric_info"]]
MB_VALUE_METRICS = sorted(k for k, spec in registry.METRICS.items() if spec.call == "value")


def _responses(text: str, n: int) -> list[Response]:
    return [Response(id=str(i), text=text, extraction=text) for i in range(n)]


def _flip(fn: Callable[[str, Any], Any]) -> Callable[[Any, str], Any]:
    return lambda row, text: fn(text, row)


def _score(bench: Any, rows: list[dict[str, Any]], profile: str, text: str) -> Any:
    return bench.score(rows, _responses(text, len(rows)), profile)


def _mb_parse(parser: str, text: str) -> Any:
    return parsers.parse_response(parser, text, {"answer": "x"})


def _mb_constraint(name: str, value: str, text: str) -> Any:
    return constrained.check_constraint(text, name, value)


def _mb_query(row: dict[str, Any], text: str) -> Any:
    return evaluate_query(row, text)


def _mb_metric(name: str) -> Callable[[str], Any]:
    """One call of a value metric against a gold answer of its kind."""
    spec = registry.METRICS[name]
    gold = "\\frac{x}{2}" if spec.family in ("latex", "numbers") else "[1, 2]"
    return lambda t: spec.fn(t, gold)  # type: ignore[misc]


#: the public parsing and scoring entry points, each applied to one response text
ENTRY_POINTS: dict[str, Callable[[str], Any]] = {
    # shared extraction (toy world, MathVista rules, MathVerse rules, RL rewards)
    **{f"extract.{f.__name__}": f for f in (
        ex.strip_think, ex.last_boxed, ex.answer_tag, ex.final_tag, ex.answer_line, ex.answer_is, ex.json_answer,
        ex.numbers, ex.last_number, ex.list_literal, ex.final_answer)},
    "extract.option_letter": lambda t: ex.option_letter(t, 5),
    # output formats (format reward, format compliance)
    **{f"formats.{k}.check": f.check for k, f in formats.FORMATS.items()},
    **{f"formats.{k}.extract": f.extract for k, f in formats.FORMATS.items()},
    "formats.detect_format": formats.detect_format,
    "engine.answer_view": answer_view,
    "answers.normalize": lambda t: (answers.normalize(t, choices=["apple", "pear"], question_type="multi_choice",
                                                      answer_type="text"),
                                    answers.normalize(t, choices=None, question_type="free_form",
                                                      answer_type="float", precision=2)),
    # MathVista
    **{f"mathvista.rules_extract.{k}": partial(_flip(mv.rules_extract), r) for k, r in MV_ROWS.items()},
    "mathvista.official_quick_extract": lambda t: [mv.official_quick_extract(t, r) for r in MV_ROWS.values()],
    **{f"MathVista.score.{p}": partial(_score, MathVista(), list(MV_ROWS.values()), p) for p in ("rules", "official")},
    # MMMU
    "mmmu.mc_candidates": lambda t: [mmmu.mc_candidates(t, ["A", "B", "C", "D"],
                                                        {"A": "apple tree", "B": "pear", "C": "fig", "D": "plum"}, s)
                                     for s in ("official", "lmms-eval")],
    "mmmu.parse_open_response": mmmu.parse_open_response,
    "mmmu.eval_open": lambda t: mmmu.eval_open("12000", mmmu.parse_open_response(t)),
    "mmmu.vlmevalkit_infer": lambda t: mmmu.vlmevalkit_infer(t, {"A": "apple", "B": "pear"}),
    **{f"MMMU.score.{p}": partial(_score, MMMU(), MMMU_ROWS, p) for p in MMMU.profiles},
    # MATH-Vision, MathVerse
    "mathvision.extract_model_answer": mvr.extract_model_answer,
    "mathvision.is_equal.number": lambda t: mvr.is_equal(t, "1"),
    "mathvision.is_equal.tuple": lambda t: mvr.is_equal(t, "(1,2)"),
    "mathvision.is_equal.extracted": lambda t: mvr.is_equal(mvr.extract_model_answer(t), "\\frac{1}{2}"),
    "MathVision.score": partial(_score, MathVision(), [MATHVISION_ROW, MATHVISION_FREE], "official"),
    "mathverse.extract_letter": mvs.extract_letter,
    "MathVerse.score.rules": partial(_score, MathVerse(), MATHVERSE_ROWS, "rules"),
    # toy world and the RL rewards built on it
    "toy.score_toy": lambda t: [score_toy(r, t) for r in MV_ROWS.values()],
    "ToyWorld.score": partial(_score, ToyWorld(), list(MV_ROWS.values()), "rules"),
    "rewards.format_reward": lambda t: rewards.format_reward([t]),
    "rewards.accuracy_scores": lambda t: rewards.accuracy_scores([t] * 2, [MV_ROWS["mc"], MV_ROWS["int"]],
                                                                 ["toyworld", "toyworld"]),
    # MEGA-Bench parsers, conversions, every value metric, and whole queries
    **{f"megabench.parse_response.{p}": partial(_mb_parse, p) for p in parsers.KNOWN_PARSERS},
    "megabench.parse_json": jsonish.parse_json,
    "megabench.conversions": lambda t: (conversions.str_to_list(t), conversions.str_to_set(t),
                                        conversions.cast_to_dict(t), conversions.str_to_bboxes(t),
                                        conversions.parse_bboxes_from_xml(t)),
    **{f"megabench.metric.{m}": _mb_metric(m) for m in MB_VALUE_METRICS},
    "megabench.constraint.poetry_meter": partial(_mb_constraint, "poetry_meter", "iambic"),
    "megabench.constraint.syllables": partial(_mb_constraint, "syllables", "[5,7][7]"),
    **{f"megabench.evaluate_query.{r['task_name']}.{r['id']}": partial(_mb_query, r) for r in MB_ROWS},
}

#: the former worst cases (see the module docstring), and more of each family
CORPUS: dict[str, str] = {
    "json_braces": "{a}" * 6667,
    "think_flood_1mb": "</think>" + "<think>" * 150_000,
    "answer_is_long_line": "the answer is x" + " " * 21_000 + "y",
    "answer_tags": "<answer>" * 2_700,
    "power_tower": "Answer: ((((9**4096)**64)**64)**64)",
    "latex_tower": "Answer: $9^{9^{9^{9}}}$",
    "factorial": "Answer: 99999999!",
    "open_brackets": "[" * 30_000,
    "digits": "1" * 50_000,
    "digits_comma": "1" * 50_000 + ",",
    "digits_exp": "1" * 50_000 + "e",
    "spaces_after_newline": "\n" + " " * 20_000 + "x",
    "stars": "\n" + " *" * 10_000 + "x",
    "open_boxed": "\\boxed{" * 2_800,
    "oxed": "oxed{" * 4_000,
    "tuple": "(" + "1," * 10_000 + "1)",
    "list_digits": "[1," * 6_600,
    "inline_math": "\\(" * 10_000,
    "environments": "\\begin{" * 2_800,
    "overlines": "\\overline{" * 2_000 + "}",
    "blank_lines": "\n " * 25 + "x",
    "fence_spaces": "```" + " " * 20_000,
    "fence_newlines": "```" + "\n" * 20_000 + "x",
    "json_strings": '{"a":"' * 3_300,
    "nested_json_strings": '["[]",' * 3_300,
    "escaped_quotes": '\\"' * 10_000,
    "backslashes": "\\" * 20_000,
    "answer_colons": "Answer: " * 2_500,
    "options": "option " * 2_800,
    "sentences": "a. " * 6_600,
    "equals": "= 1 " * 5_000,
    "minus_ones": "-1" * 10_000,
    "frac": "\\frac{1}{" * 2_200,
    # ambiguous stresses: the former meter search took 2.7 s on these 25 words
    "iambic_line": " ".join(["record", "present", "object"] * 8 + ["beautiful"]),
}


def _timed(name: str, text: str) -> float:
    """Seconds one entry point takes on ``text`` (raising is allowed, hanging is not)."""
    start = time.perf_counter()
    with contextlib.suppress(Exception):
        ENTRY_POINTS[name](text)
    return time.perf_counter() - start


def _warm_up() -> None:
    """Imports and caches (sympy, the LaTeX backend) load here, not inside a timed call."""
    for name in ENTRY_POINTS:
        for text in ("x", "Answer: \\frac{1}{2}", "<think>a</think><answer>\\boxed{B}</answer>"):
            _timed(name, text)


_warm_up()


#: MEGA-Bench's LaTeX equality is sympy's ``Expr.equals`` (a simplification plus numeric
#: probes), which takes seconds on some symbolic input of a few hundred characters
#: (``e-e-…``: 1-4 s); upstream bounds it with a 15 s alarm, which we keep (it works in the
#: scorer's main thread and in the budget's worker), so those entries are held to that
SYMPY_BOUND_S = latex.LATEX_TIMEOUT_S + 3


def _uses_sympy_equality(name: str) -> bool:
    return "latex_expr_equality" in name or name.startswith("megabench.evaluate_query.fx_latex")


def slow_calls(texts: dict[str, str], names: list[str] | None = None) -> list[tuple[str, str, float]]:
    """``(entry point, input, seconds)`` of every call at or over its bound (inf: killed)."""
    names = names or list(ENTRY_POINTS)
    slow = []
    for group, bound in (([n for n in names if not _uses_sympy_equality(n)], BOUND_S),
                         ([n for n in names if _uses_sympy_equality(n)], SYMPY_BOUND_S)):
        calls = [(n, t) for t in texts.values() for n in group]
        labels = [(n, k) for k in texts for n in group]
        took = budget.map_with_budget(_timed, calls, 3 * bound, on_overrun=lambda s: math.inf,
                                      on_error=lambda m: math.inf, on_death=lambda m: math.inf)
        slow += [(n, k, t) for (n, k), t in zip(labels, took, strict=True) if t >= bound]
    return slow


def test_corpus_names_every_entry_point_family() -> None:
    families = {name.split(".")[0] for name in ENTRY_POINTS}
    assert {"extract", "formats", "engine", "answers", "mathvista", "MathVista", "mmmu", "MMMU", "mathvision",
            "MathVision", "mathverse", "MathVerse", "toy", "ToyWorld", "rewards", "megabench"} <= families
    assert len(MB_ROWS) >= 20 and len(MB_VALUE_METRICS) >= 40


#: megabytes of text go through the run engine and every extractor; MEGA-Bench's BLEU and
#: Chinese GLEU tokenise the whole response (linear, but about 1 and 5 µs a character:
#: the per-sample time budget bounds those), so 1 MB inputs skip the MEGA-Bench entries
MEGABYTE_CASES = {"think_flood_1mb"}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_adversarial_corpus_is_bounded(case: str) -> None:
    names = [n for n in ENTRY_POINTS if not (case in MEGABYTE_CASES and n.startswith("megabench"))]
    assert slow_calls({case: CORPUS[case]}, names) == []


def test_the_budget_guard_catches_a_hang() -> None:
    """The harness itself can fail: a call that never returns is reported, not waited for."""
    ENTRY_POINTS["_hang"] = lambda t: time.sleep(60)
    try:
        start = time.monotonic()
        assert slow_calls({"x": "x"}, ["_hang"]) == [("_hang", "x", math.inf)]
        assert time.monotonic() - start < 3 * BOUND_S + 5
    finally:
        del ENTRY_POINTS["_hang"]


TOKENS = ["{", "}", "[", "]", "(", ")", "{a}", "<think>", "</think>", "<answer>", "</answer>", "<final>",
          "\\boxed{", "oxed{", "\\frac{", "\\(", "\\[", "\\begin{", "\\overline{", "^{", "9^", "!", "1", "0", ",",
          ".", "e", "-", " ", "\n", "\t", "*", "**", "$", "`", "```", '"', "'", "\\", ":", "Answer:", "answer is ",
          "the answer is ", "option ", "(A)", " B ", "=", "%", "&"]

LONG_TEXT = st.tuples(
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=3),
    st.integers(min_value=500, max_value=8_000),
    st.text(max_size=30),
).map(lambda t: ("".join(t[0]) * t[1])[:20_000] + t[2])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LONG_TEXT)
def test_generated_long_texts_are_bounded(text: str) -> None:
    assert slow_calls({"generated": text}) == []
