"""The report's tables as LaTeX (``report.tex``), to ``\\input`` into a paper's appendix.

Why a file of its own: numbers copied by hand from an HTML page into a paper drift; these
tables come from the same data dict as the page and the Markdown. The file is a fragment
(no preamble): ``\\usepackage{booktabs}`` is all it needs. Every text from a run is
escaped for LaTeX. Intervals are the report's (95% item bootstrap unless ``--level``).
"""

from __future__ import annotations

from typing import Any

_TEX = str.maketrans({"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                      "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                      "<": r"\textless{}", ">": r"\textgreater{}", "\n": " ", "\r": " "})


def tex(s: Any) -> str:
    """Any text as literal LaTeX."""
    return str(s).translate(_TEX)


def _v(v: float | None, ci: list[float] | tuple[float | None, float | None] | None = None, sign: bool = False) -> str:
    if v is None:
        return "--"
    out = f"{v:+.1f}" if sign else f"{v:.1f}"
    if ci and ci[0] is not None and ci[1] is not None:
        out += rf"\,{{\scriptsize[{ci[0]:.1f}, {ci[1]:.1f}]}}"
    return out


def _table(caption: str, label: str, head: list[str], rows: list[list[str]]) -> list[str]:
    cols = "l" * min(len(head), 2) + "r" * max(0, len(head) - 2)
    return [r"\begin{table}[ht]", r"\centering", r"\small", rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
            " & ".join(head) + r" \\", r"\midrule", *(" & ".join(r) + r" \\" for r in rows), r"\bottomrule",
            r"\end{tabular}", rf"\caption{{{caption}}}", rf"\label{{{label}}}", r"\end{table}", ""]


def render_latex(data: dict[str, Any]) -> str:
    o = data["options"]
    base = data["baseline"]
    runs = [r["name"] for r in data["runs"]]
    level = f"{o['level'] * 100:g}\\%"
    out = [f"% {tex(data['title'])}", f"% specs-eval {tex(data['toolkit_version'])}, report schema "
           f"{data['schema_version']}; needs \\usepackage{{booktabs}}", ""]
    head = ["Benchmark", "Split", "Role", *(tex(r) for r in runs)]
    rows = [[tex(h["benchmark"]), tex(h["split"]), tex(h["role"]),
             *(_v((h["cells"].get(r) or {}).get("value"), [(h["cells"].get(r) or {}).get("lo"),
                                                          (h["cells"].get(r) or {}).get("hi")]) for r in runs)]
            for h in data["headline"]]
    out += _table(f"{tex(o['metric'])} (\\%) per benchmark and split, {level} item-bootstrap intervals"
                  + (f"; baseline {tex(base)}." if base else "."), "tab:headline", head, rows)
    if data["gf"]:
        rows = []
        for g in data["gf"]:
            c = g["config"]
            if g["status"] == "refused":
                rows.append([tex(c["benchmark"]), tex(g["candidate"]), "--", "--", "refused"])
                continue
            rows.append([tex(c["benchmark"]), tex(g["candidate"]), _v(g["g_id"], g.get("g_id_ci"), sign=True),
                         _v(g["g_ood"], g.get("g_ood_ci"), sign=True), _v(g["gamma"], g.get("gamma_ci"))])
        g0 = data["gf"][0]["config"]
        out += _table(f"Generalization Factor over {tex(base)} (points), $\\beta = {g0['beta']:g}$, "
                      f"$\\Psi$ = {tex(g0['metric'])}; paired bootstrap intervals; $\\Gamma = 0$ when a gain is "
                      "$\\le 0$.", "tab:gf", ["Sets", "Candidate", "$G_{ID}$", "$G_{OOD}$", "$\\Gamma$"], rows)
    ex = [e for e in data.get("exploration") or [] if len(e["pass_at_k"]) > 1]
    if ex:
        ks = sorted({int(k) for e in ex for k in e["pass_at_k"]})
        rows = [[tex(e["run"]), tex(f"{e['benchmark']}/{e['split']}"),
                 *(_v(e["pass_at_k"].get(str(k)), (e.get("pass_at_k_ci") or {}).get(str(k))) for k in ks)]
                for e in ex]
        out += _table(f"Unbiased pass@$k$ (\\%), {level} item-bootstrap intervals.", "tab:passk",
                      ["Run", "Split", *(f"@{k}" for k in ks)], rows)
    for i, b in enumerate(data.get("breakdowns") or []):
        head = [tex(b["key"]), "$n$", *(tex(r) for r in runs)]
        rows = [[tex(row["category"]), str(row["n_items"]),
                 *(_v((row["cells"].get(r) or {}).get("value"), [(row["cells"].get(r) or {}).get("lo"),
                                                                (row["cells"].get(r) or {}).get("hi")]) for r in runs)]
                for row in b["rows"]]
        out += _table(f"{tex(b['benchmark'])}/{tex(b['split'])}: {tex(o['metric'])} (\\%) by {tex(b['key'])}, "
                      f"{level} item-bootstrap intervals.", f"tab:breakdown-{i}", head, rows)
    return "\n".join(out)
