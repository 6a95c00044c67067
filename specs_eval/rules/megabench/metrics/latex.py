"""LaTeX expression equality, alone and mixed with text.

Re-implements ``latex_expr_equality.py`` and ``common/transformations.py`` of the
official evaluator (lmms-eval copy, commits 2bb5e98 / aff0acd): both sides are
normalised (``\\bar`` → ``\\overline``, macrons → ``\\overline{}``, Greek letters →
LaTeX commands, math delimiters removed), parsed, and compared with sympy's
``equals``; when parsing fails (or times out after 15 s) the normalised strings are
compared with ``simple_str_match``. The text variant compares the text outside
``$…$`` with ``simple_str_match`` and the joined LaTeX parts with the above.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from specs_eval.rules.megabench.metrics import latex_backend as lb
from specs_eval.rules.megabench.metrics.base import MetricTimeout, time_limit
from specs_eval.rules.megabench.metrics.strings import simple_str_match

LATEX_TIMEOUT_S = 15.0

GREEK_TO_LATEX = {
    "α": "\\alpha", "β": "\\beta", "γ": "\\gamma", "δ": "\\delta", "ε": "\\epsilon", "ζ": "\\zeta",
    "η": "\\eta", "θ": "\\theta", "ι": "\\iota", "κ": "\\kappa", "λ": "\\lambda", "μ": "\\mu", "ν": "\\nu",
    "ξ": "\\xi", "ο": "\\omicron", "π": "\\pi", "ρ": "\\rho", "σ": "\\sigma", "τ": "\\tau",
    "υ": "\\upsilon", "φ": "\\phi", "χ": "\\chi", "ψ": "\\psi", "ω": "\\omega",
    "Α": "\\Alpha", "Β": "\\Beta", "Γ": "\\Gamma", "Δ": "\\Delta", "Ε": "\\Epsilon", "Ζ": "\\Zeta",
    "Η": "\\Eta", "Θ": "\\Theta", "Ι": "\\Iota", "Κ": "\\Kappa", "Λ": "\\Lambda", "Μ": "\\Mu",
    "Ν": "\\Nu", "Ξ": "\\Xi", "Ο": "\\Omicron", "Π": "\\Pi", "Ρ": "\\Rho", "Σ": "\\Sigma", "Τ": "\\Tau",
    "Υ": "\\Upsilon", "Φ": "\\Phi", "Χ": "\\Chi", "Ψ": "\\Psi", "Ω": "\\Omega",
}


def replace_macrons_with_latex_overline(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch.isalpha():
            decomposed = unicodedata.normalize("NFD", ch)
            if len(decomposed) > 1 and decomposed[1] == "\u0304":
                out.append(f"\\overline{{{decomposed[0]}}}")
            else:
                out.append(ch)
        elif ch != "\u0304":
            out.append(ch)
        elif out:
            out[-1] = f"\\overline{{{out[-1]}}}"
        else:  # upstream indexes result[-1] and raises on a leading combining macron
            raise IndexError("combining macron with nothing before it")
    return "".join(out)


_OVERLINE = "\\overline{"
_SUBSCRIPT_TAIL = re.compile(r"[^{}\\ ]*")
_ENVIRONMENT = re.compile(r"\\(?:begin|end)\{")
_OPTIONAL_ARG = re.compile(r"\[[^\[\]]*\]")


def fix_overline_underscores(text: str) -> str:
    r"""``re.sub(r"\\overline\{([^}]*)\}_([^{}\\ ]*)", r"\\overline{\1_\2}", text)`` in one pass.

    An ``\overline{`` can only match with the first ``}`` after it; that ``}`` is looked
    up once for all the openings before it (the regex rescanned from each: quadratic).
    """
    out: list[str] = []
    pos = search = 0
    close = -2
    while True:
        o = text.find(_OVERLINE, search)
        if o < 0:
            break
        body = o + len(_OVERLINE)
        if close < body:
            close = text.find("}", body)
            if close < 0:
                break
        if text.startswith("_", close + 1):
            end = _SUBSCRIPT_TAIL.match(text, close + 2).end()
            out.append(text[pos:o])
            out.append(f"{_OVERLINE}{text[body:close]}_{text[close + 2:end]}}}")
            pos = search = end
        else:
            search = o + 1
    out.append(text[pos:])
    return "".join(out)


def remove_environments(text: str) -> str:
    r"""``re.sub(r"\\(begin|end)\{.*?\}(?:\[[^\[\]]*\])?", "", text)`` in one pass.

    The braces close at the first ``}`` on the same line; an environment name left open
    on its line is kept, like every other one before that line's end.
    """
    out: list[str] = []
    pos = search = 0
    close = newline = -2
    while True:
        m = _ENVIRONMENT.search(text, search)
        if m is None:
            break
        body = m.end()
        if close < body:
            close = text.find("}", body)
            if close < 0:
                break
        if newline < body:
            newline = text.find("\n", body)
            if newline < 0:
                newline = len(text)
        if newline < close:
            search = newline + 1
            continue
        end = close + 1
        arg = _OPTIONAL_ARG.match(text, end)
        if arg:
            end = arg.end()
        out.append(text[pos : m.start()])
        pos = search = end
    out.append(text[pos:])
    return "".join(out)


def normalize_latex(text: str) -> str:
    text = text.replace("\\bar", "\\overline")
    text = replace_macrons_with_latex_overline(text)
    text = fix_overline_underscores(text)
    text = re.sub(r"[α-ωΑ-Ω]", lambda m: GREEK_TO_LATEX[m.group()] + " ", text)
    text = remove_environments(text)
    text = re.sub(r"\\\(|\\\)", "", text)
    return re.sub(r"\\\[|\\\]", "", text)


def latex_expr_equality(response: Any, targets: Any, timeout_s: float = LATEX_TIMEOUT_S) -> int:
    if not isinstance(response, str) or not isinstance(targets, str):
        return 0
    response, targets = normalize_latex(response), normalize_latex(targets)
    # upstream falls back to simple_str_match on LaTeXParsingError, SympifyError,
    # TypeError, NotImplementedError and its 15 s alarm; anything else scores the field 0
    fallback = (lb.LatexParseError, TypeError, NotImplementedError, MetricTimeout, *lb.sympy_errors())
    try:
        with time_limit(timeout_s):
            res_expr, tgt_expr = lb.parse_latex(response), lb.parse_latex(targets)
            if lb.too_big_to_evaluate(res_expr, tgt_expr):
                # a power tower: upstream's alarm cannot stop that arithmetic; take its timeout path
                raise MetricTimeout("numbers too large to evaluate")
            return 1 if res_expr.equals(tgt_expr) else 0
    except fallback:
        return simple_str_match(response, targets)


def separate_text_and_latex(text: str) -> tuple[list[str], list[str]]:
    plain, latex = [], []
    for part in re.split(r"(\$[^$]*\$)", text):
        if part.startswith("$") and part.endswith("$"):
            latex.append(part)
        else:
            plain.append(part.strip())
    return plain, latex


def join_latex(parts: list[str]) -> str:
    return " ".join(p[1:-1].strip().replace(",", "") for p in parts)


def text_with_latex_expr_equality(response: Any, targets: Any) -> int:
    if not isinstance(response, str) or not isinstance(targets, str):
        return 0
    tgt_text, tgt_latex = separate_text_and_latex(targets)
    res_text, res_latex = separate_text_and_latex(response)
    text_ok = simple_str_match("".join(res_text).replace(",", ""), "".join(tgt_text).replace(",", ""))
    latex_ok = latex_expr_equality(join_latex(res_latex), join_latex(tgt_latex))
    return 1 if text_ok and latex_ok else 0
