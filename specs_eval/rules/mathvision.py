"""MATH-Vision (``MathLLMs/MathVision``) official answer extraction and equality.

Upstream: ``mathllm/MATH-V`` @ 1d36118, ``evaluation/evaluate.py`` (extraction from the
response: trailing option letters, "the answer is", ``\\boxed{}``) and
``evaluation/utils.py`` (``find_math_answer``, ``_strip_string``, ``is_equal``).

One deliberate difference: the official ``is_equal`` evaluates LaTeX by
``eval(str(latex2sympy(s)))`` (Python ``eval`` of a SymPy string with ``from math import
*``). We parse with ``latex2sympy2_extended`` (the parser of ``math-verify``) and evaluate
the SymPy expression numerically — the same comparison (rounded to 2 decimals) without
``eval`` and with a size guard, so no input can hang or run code.
"""

from __future__ import annotations

import re
from typing import Any

_BIG_POWER = re.compile(r"\^\s*\{?\s*-?\d{3,}|\^[^^]*\^")


def is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except (ValueError, OverflowError):
        return False


def _fix_fracs(string: str) -> str:
    substrs = string.split("\\frac")
    new_str = substrs[0]
    for substr in substrs[1:]:
        new_str += "\\frac"
        if substr and substr[0] == "{":
            new_str += substr
            continue
        if len(substr) < 2:
            return string
        a, b = substr[0], substr[1]
        if b != "{":
            new_str += "{" + a + "}{" + b + "}" + substr[2:]
        else:
            new_str += "{" + a + "}" + b + substr[2:]
    return new_str


def _fix_a_slash_b(string: str) -> str:
    if len(string.split("/")) != 2:
        return string
    a, b = string.split("/")
    try:
        ia, ib = int(a), int(b)
    except ValueError:
        return string
    if string != f"{ia}/{ib}":
        return string
    return "\\frac{" + str(ia) + "}{" + str(ib) + "}"


def _fix_sqrt(string: str) -> str:
    if "\\sqrt" not in string:
        return string
    splits = string.split("\\sqrt")
    out = splits[0]
    for split in splits[1:]:
        if split and split[0] != "{":
            out += "\\sqrt{" + split[0] + "}" + split[1:]
        else:
            out += "\\sqrt" + split
    return out


def _strip_string(string: str) -> str:
    string = string.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    string = string.replace("tfrac", "frac").replace("dfrac", "frac")
    string = string.replace("\\left", "").replace("\\right", "")
    string = string.replace("^{\\circ}", "").replace("^\\circ", "")
    string = string.replace("\\$", "").replace("$", "")
    string = string.split("\\text{ ")[0]
    string = string.replace("\\%", "")  # upstream also replaces "\%" (the same two characters)
    string = string.replace(" .", " 0.").replace("{.", "{0.")
    if not string:
        return string
    if string[0] == ".":
        string = "0" + string
    if len(string.split("=")) == 2:
        string = string.split("=")[-1]
    if len(string.split("\\approx")) == 2:
        string = string.split("\\approx")[-1]
    if "sqrt" in string:
        string = _fix_sqrt(string)
    string = string.replace(" ", "")
    if "sqrt" in string:  # upstream guards _fix_fracs with the same test
        string = _fix_fracs(string)
    if string == "0.5":
        string = "\\frac{1}{2}"
    return _fix_a_slash_b(string)


def _boxed_content(s: str) -> str | None:
    """``re.findall(r"oxed{(.*)}", s, re.S)[-1]`` without the regex.

    The greedy ``.*`` runs to the last ``}`` of the text, so there is at most one match:
    from the first ``oxed{`` to the last ``}`` (the regex rescanned the text from every
    ``oxed{`` when no ``}`` followed: quadratic).
    """
    start = s.find("oxed{")
    end = s.rfind("}")
    if start < 0 or end < start + len("oxed{"):
        return None
    return s[start + len("oxed{") : end]


def find_math_answer(s: str) -> str:
    s = s.lower()
    if "{}" in s:
        s = s.replace("{}", "")
    ans = _boxed_content(s)
    if ans is None:
        ans = s
    if ans.find("}") != -1 and (ans.find("{") == -1 or ans.find("}") < ans.find("{")):
        ans = ans.split("}")[0]
    ans = ans.split("=")[-1].split("\\approx")[-1]
    ans = ans.replace(" ", "").replace("\\,", "").replace("∞", "\\infty")
    ans = ans.replace("+\\infty", "\\infty").replace("\\\\", "\\").replace("\n", "")
    ans = ans.replace("\\text", "").replace("\\mbox", "").replace("bmatrix", "pmatrix")
    ans = ans.replace("\\left", "").replace("\\right", "").replace("^{\\circ}", "")
    ans = ans.replace("^\\circ", "").replace("{m}^3", "").replace("m^3", "")
    ans = ans.replace("{units}", "").replace("units", "").replace("{km}", "").replace("km", "")
    return _strip_string(ans)


def extract_model_answer(response: str) -> str:
    """``evaluate.py``'s extraction of the final answer from a response (official order)."""
    model_answer = response.strip()
    for c in "ABCDE":
        if (model_answer.endswith(f" {c}.") or model_answer.endswith(f" ({c}).") or model_answer.startswith(f"{c}\n")
                or model_answer.startswith(f"({c})\n") or model_answer.startswith(f"({c}) {c}\n")):
            model_answer = c
    tail = model_answer.split("is ")[-1].rstrip(".")
    if is_number(tail):
        model_answer = tail
    if "oxed{" not in model_answer:
        for flag in ["the final answer is", "the answer is", "the correct answer is", "the answer should be"]:
            for f in (flag, flag.replace("the", "The")):
                raw = model_answer
                model_answer = model_answer.split(f)[-1].strip()
                if f in raw:
                    model_answer = model_answer.split("\n")[0].split(". ")[0]
    elif model_answer.count("oxed{") > 1:
        model_answer = "\\boxed{" + model_answer.split("oxed{")[-1]
    out = find_math_answer(model_answer)
    for x in "abcde":
        out = out.replace(f"({x})", x)
    for x in "abcde":
        out = out.replace("{" + x + "}", x)
    return out.rstrip(".").lstrip(":").strip()


def _numeric(s: str) -> float | None:
    """round(value, 2) of a LaTeX expression, or None (unparseable, symbolic, too big)."""
    if not s or len(s) > 200 or _BIG_POWER.search(s):
        return None
    try:
        from latex2sympy2_extended import latex2sympy

        expr = latex2sympy(s)
        if getattr(expr, "free_symbols", None):
            return None
        value = complex(expr.evalf(15))
        if value.imag:
            return None
        return round(value.real, 2)
    except Exception:
        return None


def _tuple_size(s: str) -> int:
    """How many elements ``_eval_tuple`` would evaluate (0: it leaves the string as is)."""
    if len(s) < 2 or (s[0], s[-1]) not in (("(", ")"), ("[", "]")):
        return 0
    n = s.count(",", 1, len(s) - 1) + 1
    return n if n > 1 else 0


def _eval_tuple(s: str) -> str:
    """``eval_tuple``: evaluate each element of ``(a,b)`` / ``[a,b]`` to 2 decimals."""
    if len(s) < 2:
        return s
    parts = s[1:-1].split(",")
    if len(parts) <= 1 or (s[0], s[-1]) not in (("(", ")"), ("[", "]")):
        return s
    out = []
    for sub in parts:
        if "infty" in sub or sub in ("a", "-a"):
            out.append(sub)
            continue
        v = _numeric(sub)
        if v is None:
            return s
        out.append(str(v))
    return s[0] + ",".join(out) + s[-1]


def is_equal(asw: Any, gt_asw: Any) -> bool:
    """The official ``is_equal``: case-insensitive string match, tuple match, then numeric match."""
    asw, gt_asw = str(asw).lower(), str(gt_asw).lower()
    if asw.replace(" ", "") == "" or gt_asw.replace(" ", "") == "":
        return False
    if gt_asw.strip() == asw.strip():
        return True
    # Evaluating a tuple's elements can only make the two strings equal when both have
    # the same number of elements (the evaluated form keeps the commas and brackets, and
    # a tuple string never has a single number's value), so an answer with another count
    # is left as is: its elements are not parsed one by one (a 20,000-element tuple took
    # minutes, and the official comparison cannot succeed).
    if _tuple_size(asw) == _tuple_size(gt_asw):
        asw, gt_asw = _eval_tuple(asw), _eval_tuple(gt_asw)
    if gt_asw == asw:
        return True
    a, b = _numeric(asw), _numeric(gt_asw)
    return a is not None and a == b
