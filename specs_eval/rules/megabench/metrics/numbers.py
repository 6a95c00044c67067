"""Numeric metrics: relative-difference ratio, general / boxed numerical match, RMSE variants.

Re-implements ``number_rel_diff_ratio.py``, ``general_numerical_match.py`` and
``mse.py`` of the official evaluator (lmms-eval copy, commits aff0acd / 59e9c32 /
1741440). The general numerical match:

1. remove ``\\( \\)`` / ``\\[ \\]`` math delimiters, keep what follows the first
   ``=``, ``≈`` or ``\\approx``;
2. clean units: π → 3.14 (``3π`` → ``3*3.14``), ``%`` → ``/100``, drop ``$ ¥ °C`` ,
   `` C`` and ``°``;
3. parse as LaTeX (see ``latex_backend``), take the number, or evaluate the
   arithmetic (tuples/lists allowed);
4. numbers match within a 1 % relative tolerance of the gold (``|gold| * 0.01``);
   lists match when sorted element-wise within tolerance (tuples never match, as
   upstream); if either side is not a number, fall back to ``simple_str_match``.

The boxed variant first takes the content of the first ``\\boxed{…}`` (one level of
nested braces) on both sides. Upstream bounds it with a 10 s SIGALRM and then falls
back to ``simple_str_match`` on the raw strings; so do we where SIGALRM is usable.
"""

from __future__ import annotations

import ast
import math
import re
from numbers import Number
from typing import Any

import numpy as np

from specs_eval.rules.megabench.conversions import str_to_list
from specs_eval.rules.megabench.metrics import latex_backend as lb
from specs_eval.rules.megabench.metrics.base import MetricTimeout, time_limit
from specs_eval.rules.megabench.metrics.strings import simple_str_match

RELATIVE_TOLERANCE = 0.01


def number_rel_diff_ratio(response: Any, correct: Any) -> float:
    """max(0, 1 − |pred − gold| / |gold|)."""
    try:
        pred = response if isinstance(response, Number) else ast.literal_eval(response)
        if not isinstance(pred, Number):
            return 0
        gt = ast.literal_eval(correct)
        return max(0, 1 - math.fabs((pred - gt) / gt))
    except (SyntaxError, ValueError):
        return 0


def within_eps(pred: float, gt: float) -> bool:
    eps = abs(gt) * RELATIVE_TOLERANCE
    return gt - eps <= pred <= gt + eps


def compare_two_numbers(p: Any, gt: Any) -> bool:
    try:
        if math.isnan(p):
            return False
        return within_eps(p, gt)
    except Exception:
        return False


def compare_two_list(pred: Any, gt: Any) -> bool:
    if not isinstance(pred, list) or len(pred) != len(gt):
        return False
    if any(not isinstance(x, int | float) for x in pred):
        return False
    return all(compare_two_numbers(p, g) for p, g in zip(sorted(pred), sorted(gt), strict=False))


def clean_units(pred_str: str) -> str:
    s = pred_str.replace("\\pi", "π")
    s = re.sub(r"(?<![\d}])\\?π", "3.14", s)
    s = re.sub(r"(\d)(\\?π)", r"\1*3.14", s)
    s = re.sub(r"\{(\\?π)\}", "3.14", s)
    s = re.sub(r"\*(\\?π)", "*3.14", s)
    s = s.replace("%", "/100").replace("$", "").replace("¥", "").replace("°C", "")
    return s.replace(" C", "").replace("°", "")


def floatify(num: Any) -> Any:
    try:
        value = float(num)
        return round(value) if value.is_integer() else value
    except Exception:
        return None


def _is_literal_sequence(s: str) -> bool:
    try:
        return isinstance(ast.literal_eval(s.strip()), list | tuple)
    except Exception:
        return False


def number_it(num: Any) -> Any:
    """A number (or list/tuple of numbers) from a string, upstream's way; ``None`` if not."""
    if isinstance(num, int | float):
        return num
    num = clean_units(num)
    # Upstream: ``try: num = str(parse_latex(num)) except Exception: pass``. With a backend
    # other than sympy's grammar, a Python list/tuple literal is kept from the parser (that
    # grammar turns ``[1, 2]`` into an interval where sympy's fails and upstream evaluates it).
    if lb.faithful() or not _is_literal_sequence(num):
        try:
            num = str(lb.parse_latex(num))
        except lb.MetricUnavailable:
            raise
        except Exception:
            pass
    value = floatify(num)
    if value is not None:
        return value
    try:
        value = lb.safe_arith(num)
    except lb.ArithError:
        return None
    if isinstance(value, list | tuple):
        return value
    return floatify(value)


def _unwrap(text: str, opening: str, closing: str) -> str:
    r"""``re.sub(opening + "(.*?)" + closing, r"\1", text)`` (no DOTALL) in one pass.

    Each opening pairs with the first closing after it on the same line; an opening with
    none leaves the rest of its line unchanged. The lookups only move forward (the
    regex rescanned a line from every unclosed opening: quadratic).
    """
    out: list[str] = []
    pos = search = 0
    close = newline = -2  # cached positions of the next closing and the next newline
    width = len(opening)
    while True:
        o = text.find(opening, search)
        if o < 0:
            break
        if close < o + width:
            close = text.find(closing, o + width)
            if close < 0:
                break
        if newline < o + width:
            newline = text.find("\n", o + width)
            if newline < 0:
                newline = len(text)  # no newline left: every closing is on this line
        if newline > close:
            out.append(text[pos:o])
            out.append(text[o + width : close])
            pos = search = close + len(closing)
        else:
            search = newline + 1
    out.append(text[pos:])
    return "".join(out)


def remove_latex_math_brackets(latex_str: str) -> str:
    """Upstream's two ``re.sub`` calls for ``\\( … \\)`` then ``\\[ … \\]``, in linear time."""
    return _unwrap(_unwrap(latex_str, "\\(", "\\)"), "\\[", "\\]")


def parse_assignment(expression: str) -> str:
    match = re.search(r"(?:=|≈|\\approx)\s*(.+)", expression)
    return match.group(1).strip() if match else expression


def general_single_numerical_match(response: Any, targets: Any) -> float:
    if not isinstance(response, str):
        response = str(response)
    response = parse_assignment(remove_latex_math_brackets(response))
    targets = parse_assignment(remove_latex_math_brackets(targets))
    res, tgt = number_it(response), number_it(targets)
    if res is not None and tgt is not None:
        if (isinstance(res, list) and isinstance(tgt, list)) or (isinstance(res, tuple) and isinstance(tgt, tuple)):
            return float(compare_two_list(res, tgt))
        return float(compare_two_numbers(res, tgt))
    return simple_str_match(response, targets)


def parse_boxed_content(text: str) -> str:
    r"""Content of the first ``\boxed{…}`` whose braces nest at most one level, else the text.

    Same result as upstream's regex ``\\boxed\{((?:[^\{\}]+|\{[^\{\}]*\})*)\}`` without
    its exponential backtracking on unclosed input.
    """
    start = text.find("\\boxed{")
    while start >= 0:
        i, n, ok = start + len("\\boxed{"), len(text), False
        j = i
        while j < n:
            c = text[j]
            if c == "}":
                ok = True
                break
            if c == "{":
                close = j + 1
                while close < n and text[close] not in "{}":
                    close += 1
                if close >= n or text[close] == "{":
                    break
                j = close + 1
                continue
            j += 1
        if ok:
            return text[i:j]
        start = text.find("\\boxed{", start + 1)
    return text


def boxed_single_numerical_match(response: Any, targets: Any, timeout_s: float = 10.0) -> float:
    if not isinstance(response, str):
        response = str(response)
    try:
        with time_limit(timeout_s):
            return general_single_numerical_match(parse_boxed_content(response), parse_boxed_content(targets))
    except MetricTimeout:
        return simple_str_match(response, targets)


def _mse(predicted: Any, target: Any) -> Any:
    return (predicted - target) ** 2


def normalized_rmse(response: Any, correct: Any, lo: float = 0.0, hi: float = 0.1) -> float:
    """1 − clip(RMSE, 0, 0.1) / 0.1 for single numbers."""
    try:
        rmse = np.clip(np.sqrt(_mse(ast.literal_eval(response), ast.literal_eval(correct))), lo, hi)
        return float(1 - (rmse - lo) / (hi - lo))
    except Exception:
        return 0


def angle_seq_float_rmse(response: Any, targets: Any, lo: float = 0.0, hi: float = 10.0) -> float:
    """1 − clip(mean |error|, 0, 10) / 10 for equal-length number sequences."""
    res_list, tgt_list = str_to_list(response), str_to_list(targets)
    if len(res_list) != len(tgt_list):
        return 0
    try:
        with np.errstate(all="ignore"):
            res, tgt = np.array(res_list), np.array(tgt_list)
            err = np.sqrt(_mse(res, tgt)).sum() / len(tgt_list)
    except Exception:
        return 0
    with np.errstate(all="ignore"):
        norm = 1 - (np.clip(err, lo, hi) - lo) / (hi - lo)
    return 0 if math.isnan(norm) else float(norm)
