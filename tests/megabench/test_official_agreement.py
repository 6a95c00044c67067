"""Cases where our MEGA-Bench metrics once disagreed with the official evaluator, hand-checked.

Official source: TIGER-AI-Lab/MEGA-Bench (read at ee324ab; both files last changed in
2c29afc), ``megabench/metrics/scoring/general_numerical_match.py`` and
``megabench/metrics/scoring/latex_expr_equality.py``, which call sympy's
``parse_latex`` (requirements pin sympy 1.13.2 and antlr4-python3-runtime 4.11.0).
The grammar that decides both cases is sympy's ``parsing/latex/LaTeX.g4``::

    number: DIGIT+ (',' DIGIT DIGIT DIGIT)* ('.' DIGIT+)?;
    math: relation;                      (no EOF: parsing stops at the first token it cannot use)

and ``convert_atom`` turns a number into ``sympy.Number(text.replace(",", ""))``.
Each expected value below is derived from those lines (see the comment beside it), and
was confirmed by running the official code with its pinned dependencies.
"""

from __future__ import annotations

import pytest

from specs_eval.rules.megabench.metrics import latex_backend as lb
from specs_eval.rules.megabench.metrics.latex import latex_expr_equality, text_with_latex_expr_equality
from specs_eval.rules.megabench.metrics.numbers import general_single_numerical_match, number_it


def test_latex_is_parsed_by_sympys_grammar() -> None:
    """The agreement below needs sympy's grammar (its entry point or the same grammar under
    the installed ANTLR runtime), not the latex2sympy2_extended fallback."""
    assert lb.backend_name() in ("sympy-antlr", "sympy-antlr-grammar")


@pytest.mark.parametrize(("response", "gold", "expected"), [
    # clean_units drops "$" -> "1,000"; `number` takes "1,000" and convert_atom removes the
    # comma: 1000, within 1 % of 1000 -> 1.0 (we used to evaluate "1,000" as the tuple (1, 0): 0.0)
    ("$1,000", "1000", 1.0),
    ("$1,234.56", "1234.56", 1.0),  # number with decimals: 1234.56
    ("¥12,345", "12345", 1.0),  # "¥" dropped by clean_units too
    ("x = $1,000,000", "1000000", 1.0),  # parse_assignment keeps "$1,000,000"
    ("$1,000", "1200", 0.0),  # 1000 is outside 1 % of 1200
    # "1, 2": `number` is "1", then `math: relation` stops at ","; 1 == 1 -> 1.0
    ("1, 2", "1", 1.0),
    # "1,00": "," is not followed by three digits, so the number is "1": 1 != 100 -> 0.0
    ("1,00", "100", 0.0),
])
def test_thousands_separators_in_numerical_match(response: str, gold: str, expected: float) -> None:
    assert general_single_numerical_match(response, gold) == expected


def test_number_it_reads_thousands_like_upstream() -> None:
    assert number_it("$1,000") == 1000
    assert number_it("[1, 2]") == [1, 2]  # sympy cannot parse a list; upstream's eval gives the list


@pytest.mark.parametrize(("response", "gold", "expected"), [
    # ".5": `number` must start with a DIGIT, so sympy raises LaTeXParsingError and upstream
    # falls back to SimpleStrMatch("\frac{1}{2}", ".5") -> "\frac{1}{2}" vs "5" -> 0
    # (the latex2sympy2_extended fallback reads .5 as 0.5 and said 1)
    ("$\\frac{1}{2}$", "$.5$", 0),
    ("$.5$", "$\\frac{1}{2}$", 0),
    # "\frac12" is `frac: CMD_FRAC (upperd = DIGIT | ...) (lowerd = DIGIT | ...)`: 1/2, and
    # (1/2).equals(0.5) -> 1 (the fallback grammar failed on it and string-matched: 0)
    ("$\\frac12$", "$0.5$", 1),
    ("$\\frac{1}{2}$", "$0.5$", 1),  # Pow(2, -1).equals(Float(0.5))
    ("$\\frac{1}{3}$", "$0.333$", 0),  # 1/3 - 0.333 != 0
    ("The answer is $\\frac{3}{4}$", "The answer is $0.75$", 1),  # text parts simple-match, LaTeX equal
])
def test_fraction_against_decimal_in_text_with_latex(response: str, gold: str, expected: int) -> None:
    assert text_with_latex_expr_equality(response, gold) == expected


def test_percent_is_not_latex_upstream() -> None:
    # "50\%": "\%" is no token of the grammar -> LaTeXParsingError -> SimpleStrMatch -> 0
    assert latex_expr_equality("\\frac{1}{2}", "50\\%") == 0
