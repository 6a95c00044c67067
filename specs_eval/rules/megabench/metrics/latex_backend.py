"""LaTeX → sympy for the numeric and LaTeX-equality metrics, plus a safe arithmetic evaluator.

Upstream calls ``sympy.parsing.latex.parse_latex``: sympy's ANTLR grammar, generated
for ``antlr4-python3-runtime`` **4.11**, which upstream pins. Environments that also
carry ``latex2sympy2_extended`` / ``math-verify`` have runtime 4.13, under which sympy's
entry point refuses to load (a version-string check). The backend is chosen once, in
this order, and recorded in each field's info:

1. ``sympy-antlr``: sympy's own ``parse_latex`` (runtime 4.11 installed);
2. ``sympy-antlr-grammar``: the same generated lexer and parser and sympy's own
   conversion, driven here under the installed runtime (the serialized grammar loads
   under 4.10+; only the version check is skipped). Same parse trees, same sympy
   objects: the official results, including its quirks (``1,000`` is 1000, ``1, 2``
   is 1, ``.5`` does not parse);
3. ``latex2sympy2_extended``: a different grammar (``.5`` parses, ``1, 2`` is a set),
   kept only as a last resort; its results differ from the official ones;
4. none: the metric is *unavailable*.

Upstream then ``eval()``s the sympy string form (in a subprocess, 5 s limit) to get
a number. Evaluating model output as code is not acceptable here, so
``safe_arith`` evaluates only numeric literals, ``True``/``False``, ``+ - * / // % **``,
parentheses, tuples, lists and the name ``E`` (upstream's module global, 2.718);
anything else (``sqrt(2)``, names) fails as it does upstream with a NameError.
Integers are bounded (``MAX_INT_BITS``): where upstream's evaluation would run into
its 5 s limit (a power tower), ours stops at once with the same outcome, "not a number".
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
from collections.abc import Callable
from typing import Any

from specs_eval.rules.megabench.metrics.base import INSTALL_HINT, MetricUnavailable

#: inputs longer than this skip LaTeX parsing (upstream relies on a timeout instead)
MAX_LATEX_CHARS = 2000


class LatexParseError(Exception):
    """The backend could not parse the text (upstream: LaTeXParsingError / SympifyError)."""


def _sympy_grammar() -> Callable[[str], Any]:
    """sympy's generated LaTeX lexer/parser and conversion, run under the installed ANTLR runtime.

    Parsing is two-stage, ANTLR's standard speed-up: SLL prediction first, full LL only if
    SLL reports a syntax error. ANTLR guarantees that an SLL parse without error is the
    tree LL would build, so results are sympy's; words of letters (implicit products)
    parse about 40 times faster (LL took 1.5 s on 140 characters of prose).
    """
    import antlr4
    from antlr4.atn.PredictionMode import PredictionMode
    from sympy.parsing.latex._antlr.latexlexer import LaTeXLexer
    from sympy.parsing.latex._antlr.latexparser import LaTeXParser
    from sympy.parsing.latex._parse_latex_antlr import MathErrorListener, convert_relation
    from sympy.parsing.latex.errors import LaTeXParsingError

    class _Lexer(LaTeXLexer):  # type: ignore[misc]
        def checkVersion(self, toolVersion: str) -> None:  # generated for 4.11; loads under 4.10+
            pass

    class _Parser(LaTeXParser):  # type: ignore[misc]
        def checkVersion(self, toolVersion: str) -> None:
            pass

    def relation(text: str, mode: Any) -> Any:
        errors = MathErrorListener(text)
        lexer = _Lexer(antlr4.InputStream(text))
        lexer.removeErrorListeners()
        lexer.addErrorListener(errors)
        parser = _Parser(antlr4.CommonTokenStream(lexer))
        parser.removeErrorListeners()
        parser.addErrorListener(errors)
        parser._interp.predictionMode = mode
        return parser.math().relation()

    def parse(text: str) -> Any:
        # the steps of sympy's parse_latex(text, strict=False)
        text = text.strip()
        try:
            tree = relation(text, PredictionMode.SLL)
        except LaTeXParsingError:
            tree = relation(text, PredictionMode.LL)
        return convert_relation(tree)

    return parse


def _works(parse: Callable[[str], Any]) -> bool:
    import sympy

    return parse("1") == 1 and parse("\\frac{1}{2}").equals(sympy.Rational(1, 2)) and parse("1,000") == 1000


@functools.cache
def backend() -> tuple[str, Callable[[str], Any]] | None:
    """``(name, parse)`` of the first working LaTeX parser, or ``None``."""
    try:
        from sympy.parsing.latex import parse_latex

        if _works(parse_latex):
            return "sympy-antlr", parse_latex
    except Exception:
        pass
    try:
        grammar = _sympy_grammar()
        if _works(grammar):
            return "sympy-antlr-grammar", grammar
    except Exception:
        pass
    try:
        from latex2sympy2_extended import latex2sympy

        latex2sympy("1")
        return "latex2sympy2_extended", latex2sympy
    except Exception:
        return None


def faithful() -> bool:
    """True when LaTeX is parsed by sympy's grammar, as upstream does."""
    name = backend_name()
    return name is not None and name.startswith("sympy-antlr")


def sympy_errors() -> tuple[type[BaseException], ...]:
    """What upstream treats as "not LaTeX": sympy's LaTeXParsingError and SympifyError."""
    from sympy.core.sympify import SympifyError
    from sympy.parsing.latex.errors import LaTeXParsingError

    return LaTeXParsingError, SympifyError


#: latex2sympy2_extended evaluates while it parses: refuse power towers and huge
#: exponents or factorials before it sees them (sympy's grammar builds unevaluated trees)
_EAGER_BLOWUP = re.compile(r"\^\s*\{?\s*-?\d{4,}|\^[^^]*\^|\d{4,}\s*!|!\s*!")


def parse_latex(text: str) -> Any:
    """Parse with the chosen backend; ``LatexParseError`` on failure, unavailable if none.

    With sympy's grammar, only its parse errors become ``LatexParseError``: any other
    exception propagates as it does upstream (the callers handle it as upstream does).
    """
    chosen = backend()
    if chosen is None:
        raise MetricUnavailable(
            f"unavailable: {INSTALL_HINT} (needs sympy and a LaTeX parser: antlr4-python3-runtime "
            "or latex2sympy2_extended)"
        )
    if len(text) > MAX_LATEX_CHARS:
        raise LatexParseError(f"longer than {MAX_LATEX_CHARS} characters")
    if chosen[0].startswith("sympy-antlr"):
        try:
            return chosen[1](text)
        except sympy_errors() as e:
            raise LatexParseError(f"{type(e).__name__}: {e}") from None
    if _EAGER_BLOWUP.search(text):
        raise LatexParseError("a power or factorial too large to evaluate")
    try:
        return chosen[1](text)
    except MetricUnavailable:
        raise
    except Exception as e:  # the fallback raises many types; all mean "not parseable"
        raise LatexParseError(f"{type(e).__name__}: {e}") from None


def backend_name() -> str | None:
    chosen = backend()
    return chosen[0] if chosen else None


#: log10 of the largest number ``too_big_to_evaluate`` lets sympy compute exactly
MAX_LOG10 = 100_000.0


def _leaf_log10(expr: Any) -> float:
    if expr.is_Integer:
        return int(abs(expr)).bit_length() * 0.30103
    if expr.is_Rational:
        return int(abs(expr.p)).bit_length() * 0.30103
    if expr.is_Float:
        value = float(expr)
        return math.log10(abs(value) + 1.0) if math.isfinite(value) else 400.0
    return 0.0  # symbols and constants


def _log10_bound(root: Any) -> float:
    """An upper bound on log10|value| of a sympy expression's numeric parts (0 for symbols).

    Iterative (parsed prose nests a product hundreds deep): each node is combined from its
    arguments' bounds, so a power ``b**e`` is ``log10 b * 10**log10 e``.
    """
    import sympy

    bound: dict[int, float] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        expr, ready = stack.pop()
        if not expr.args:
            bound[id(expr)] = _leaf_log10(expr)
            continue
        if not ready:
            stack.append((expr, True))
            stack.extend((a, False) for a in expr.args if id(a) not in bound)
            continue
        args = [bound[id(a)] for a in expr.args]
        if isinstance(expr, sympy.Pow):
            base, exp = args
            value = math.inf if exp > 15 else base * (10.0 ** exp) + 1.0
        elif isinstance(expr, sympy.factorial | sympy.factorial2 | sympy.binomial | sympy.gamma):
            n_mag = args[0]
            value = math.inf if n_mag > 15 else (10.0 ** n_mag) * max(n_mag, 1.0) + 1.0
        elif isinstance(expr, sympy.Mul):
            value = sum(args)
        else:
            value = max(args) + 1.0
        bound[id(expr)] = value
    return bound[id(root)]


def too_big_to_evaluate(*exprs: Any) -> bool:
    """True when evaluating would build a number beyond ``MAX_LOG10`` digits (a power tower,
    ``99999999!``): upstream's 15 s alarm cannot interrupt that arithmetic, so it hangs."""
    try:
        return any(_log10_bound(e) > MAX_LOG10 for e in exprs)
    except (AttributeError, TypeError, ValueError, OverflowError, RecursionError):
        return False


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
#: largest integer (in bits) ``safe_arith`` builds; about 315,000 decimal digits
MAX_INT_BITS = 1 << 20
#: longest list or tuple ``safe_arith`` builds by repetition
MAX_SEQUENCE = 100_000


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


def _check_size(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse results too large to build quickly (upstream's 5 s eval limit gives "not a number")."""
    if isinstance(op, ast.Pow) and type(left) is int and type(right) is int and right > 0 and abs(left) > 1 \
            and left.bit_length() * right > MAX_INT_BITS:
        raise ArithError("power too large")
    if isinstance(op, ast.Mult):
        if type(left) is int and type(right) is int and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise ArithError("product too large")
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, list | tuple) and type(times) is int and len(seq) * times > MAX_SEQUENCE:
                raise ArithError("sequence too long")


def _eval(node: ast.AST, depth: int) -> Any:
    if depth > 100:
        raise ArithError("too deep")
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | complex):
        return node.value  # True/False included: upstream's eval turns them into 1/0 later
    if isinstance(node, ast.Name) and node.id == "E":
        return 2.718
    if isinstance(node, ast.Tuple):
        return tuple(_eval(e, depth + 1) for e in node.elts)
    if isinstance(node, ast.List):
        return [_eval(e, depth + 1) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = _eval(node.operand, depth + 1)
        try:
            return _UNARY[type(node.op)](operand)
        except Exception as e:
            raise ArithError(f"{type(e).__name__}: {e}") from None
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, depth + 1), _eval(node.right, depth + 1)
        _check_size(node.op, left, right)
        try:
            return _BINOPS[type(node.op)](left, right)
        except Exception as e:
            raise ArithError(f"{type(e).__name__}: {e}") from None
    raise ArithError(f"not arithmetic: {type(node).__name__}")
