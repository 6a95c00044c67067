"""LaTeX → sympy for the numeric and LaTeX-equality metrics, plus a safe arithmetic evaluator.

Upstream calls ``sympy.parsing.latex.parse_latex``, which needs
``antlr4-python3-runtime`` **4.11** exactly. Environments that also carry
``latex2sympy2_extended`` / ``math-verify`` have antlr 4.13, under which sympy's
parser refuses to load. So the backend is chosen once, in this order, and recorded
in each field's info: sympy's ANTLR parser if it works, else ``latex2sympy2_extended``
(the same ANTLR LaTeX grammar lineage: numbers, ``\\frac``, powers, thousands
separators agree on the cases we test), else the metric is *unavailable*.

Upstream then ``eval()``s the sympy string form (in a subprocess, 5 s limit) to get
a number. Evaluating model output as code is not acceptable here, so
``safe_arith`` evaluates only numeric literals, ``+ - * / // % **`` (bounded),
parentheses, tuples, lists and the name ``E`` (upstream's module global, 2.718);
anything else (``sqrt(2)``, names) fails as it does upstream with a NameError.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable
from typing import Any

from specs_eval.rules.megabench.metrics.base import INSTALL_HINT, MetricUnavailable

#: inputs longer than this skip LaTeX parsing (upstream relies on a timeout instead)
MAX_LATEX_CHARS = 2000


class LatexParseError(Exception):
    """The backend could not parse the text (upstream: LaTeXParsingError / SympifyError)."""


@functools.cache
def backend() -> tuple[str, Callable[[str], Any]] | None:
    """``(name, parse)`` of the first working LaTeX parser, or ``None``."""
    try:
        from sympy.parsing.latex import parse_latex

        parse_latex("1")
        return "sympy-antlr", parse_latex
    except Exception:
        pass
    try:
        from latex2sympy2_extended import latex2sympy

        latex2sympy("1")
        return "latex2sympy2_extended", latex2sympy
    except Exception:
        return None


def parse_latex(text: str) -> Any:
    """Parse with the chosen backend; ``LatexParseError`` on failure, unavailable if none."""
    chosen = backend()
    if chosen is None:
        raise MetricUnavailable(
            f"unavailable: {INSTALL_HINT} (needs sympy and a LaTeX parser: antlr4-python3-runtime==4.11 "
            "or latex2sympy2_extended)"
        )
    if len(text) > MAX_LATEX_CHARS:
        raise LatexParseError(f"longer than {MAX_LATEX_CHARS} characters")
    try:
        return chosen[1](text)
    except MetricUnavailable:
        raise
    except Exception as e:  # the backends raise many types; all mean "not parseable"
        raise LatexParseError(f"{type(e).__name__}: {e}") from None


def backend_name() -> str | None:
    chosen = backend()
    return chosen[0] if chosen else None


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_MAX_POW = 4096


class ArithError(Exception):
    pass


def safe_arith(expression: str) -> Any:
    """Evaluate a small arithmetic expression; ``ArithError`` on anything else."""
    if len(expression) > MAX_LATEX_CHARS:
        raise ArithError("too long")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise ArithError(str(e)) from None
    return _eval(tree.body, 0)


def _eval(node: ast.AST, depth: int) -> Any:
    if depth > 100:
        raise ArithError("too deep")
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | complex) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id == "E":
        return 2.718
    if isinstance(node, ast.Tuple):
        return tuple(_eval(e, depth + 1) for e in node.elts)
    if isinstance(node, ast.List):
        return [_eval(e, depth + 1) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, depth + 1))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, depth + 1), _eval(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            if isinstance(right, int | float) and abs(right) > _MAX_POW:
                raise ArithError("exponent too large")
            if isinstance(left, int) and abs(left) > 2**64 and isinstance(right, int) and right > 64:
                raise ArithError("power too large")
        try:
            return _BINOPS[type(node.op)](left, right)
        except Exception as e:
            raise ArithError(f"{type(e).__name__}: {e}") from None
    raise ArithError(f"not arithmetic: {type(node).__name__}")
