"""The report's tables as Markdown (lm-eval style), for PRs, issues and a paper's appendix draft.

Why: a reviewer reads the numbers in a PR comment without opening the HTML. Built from
the same data dict, so it cannot disagree with the page. Every text that comes from a run
(names, titles, split names, flag messages) is escaped: ``<``, ``>`` and ``&`` as HTML
entities (a Markdown viewer renders raw HTML) and Markdown's own punctuation with a
backslash, so a run named ``<svg onload=…>`` or ``**x**`` shows as written.
"""

from __future__ import annotations

from typing import Any

from analysis.leaderboard import format_value

_MD = str.maketrans({"\\": "\\\\", "`": "\\`", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]", "|": "\\|",
                     "#": "\\#", "<": "&lt;", ">": "&gt;", "&": "&amp;", "\n": " ", "\r": " "})


def md(s: Any) -> str:
    """Any text as literal Markdown (no markup, no raw HTML, one line)."""
    return str(s).translate(_MD)


def _n(v: float | None, nd: int = 1, sign: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:+.{nd}f}" if sign else f"{v:.{nd}f}"


def _ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f" [{lo:.1f}, {hi:.1f}]"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(head), "|" + "---|" * len(head), *(_row(r) for r in rows)]


def render_markdown(data: dict[str, Any]) -> str:
    o = data["options"]
    base = data["baseline"]
    runs = [r["name"] for r in data["runs"]]
    lines = [f"## {md(data['title'])}", "",
             f"Ψ = {md(o['metric'])} (%), {o['level'] * 100:g}% bootstrap CI over items ({o['n_boot']} resamples); "
             f"baseline: {md(base) if base else '—'}. Δ = paired difference in points.", ""]
    head = ["Benchmark", "Split", "Role"]
    for r in runs:
        head.append(md(r) + (" (baseline)" if r == base else ""))
        if base is not None and r != base:
            head.append(f"Δ {md(r)}")
    rows = []
    for h in data["headline"]:
        row = [md(h["benchmark"]), md(h["split"]), md(h["role"])]
        for r in runs:
            c = h["cells"].get(r)
            row.append("—" if c is None or c["value"] is None else _n(c["value"]) + _ci(c["lo"], c["hi"])
                       + (" ⚠" if c["warnings"] else ""))
            if base is not None and r != base:
                d = h["deltas"].get(r)
                if d is None:
                    row.append("—")
                elif d["status"] == "refused":
                    row.append("refused")
                else:
                    star = "\\*" if d["significant"] else ""
                    row.append(f"{_n(d['delta'], sign=True)}{star}{_ci(d['lo'], d['hi'])}" + (" ⚠" if d["warnings"] else ""))
        rows.append(row)
    lines += _table(head, rows)
    lines.append("")
    lines.append("`*` interval excludes 0. ⚠ see flags.")
    if data["gf"]:
        g0 = data["gf"][0]["config"]
        lines += ["", f"### Generalization Factor (β = {g0['beta']:g}, Ψ = {md(g0['metric'])}, points)", ""]
        rows = []
        for g in data["gf"]:
            c = g["config"]
            where = md(c["benchmark"]) + (f" (study {md(c['study'])})" if c.get("study") and c["study"] != c["benchmark"]
                                          else "")
            roles = (f"{md(', '.join(c['id_splits']))} → "
                     + md(", ".join(f"{s}×{c['ood_weights'][s]:g}" for s in c["ood_splits"])))
            if g["status"] == "refused":
                rows.append([where, md(g["candidate"]), roles, "—", "—", "refused", "not computed"])
                continue
            gci = g.get("gamma_ci") or [None, None]
            rows.append([where, md(g["candidate"]), roles, _n(g["g_id"], sign=True) + _ci(*(g.get("g_id_ci") or [None, None])),
                         _n(g["g_ood"], sign=True) + _ci(*(g.get("g_ood_ci") or [None, None])),
                         f"**{_n(g['gamma'])}**{_ci(gci[0], gci[1])}", md(g["note"])])
        lines += _table(["Sets", "Candidate", "ID → OOD × α", "G_ID", "G_OOD", "Γ", "note"], rows)
    flags = [f for f in data["flags"] if f["severity"] != "info"]
    if flags:
        lines += ["", "### Flags", ""] + [f"- **{f['severity']}** {md(f['message'])}" for f in flags]
    unverified = [u for c in data.get("checks") or [] for u in c["unverified"]]
    if unverified:
        lines += ["", "Data not verified (no dataset or item content hashes on one side): "
                  + "; ".join(md(u) for u in unverified) + "."]
    lb = data.get("leaderboard")
    if lb:
        lines += ["", f"### Leaderboard: {md(lb['title'])}", ""]
        lines += _table(["Model", *(md(c["label"]) for c in lb["columns"]), "provenance"],
                        [[md(r["label"]), *(format_value(r["values"].get(c["key"]), r["kind"], lb["value_kind"])
                                            for c in lb["columns"]), md(r["provenance"])] for r in lb["rows"]])
    lines += _appendix(data, runs, base)
    if data.get("study"):
        from analysis.study import study_markdown

        lines += ["", "#" + study_markdown(data["study"]).rstrip("\n")]
    return "\n".join(lines) + "\n"


def _appendix(data: dict[str, Any], runs: list[str], base: str | None) -> list[str]:
    """ID/OOD positions, pass@k with intervals, and per-category tables."""
    out: list[str] = []
    sc = [s for s in data.get("role_scatter") or [] if s["points"]]
    if sc:
        out += ["", "### ID vs OOD (Ψ %, 95% CI)", ""]
        rows = []
        for s in sc:
            c = s["config"]
            where = md(f"study {c['study']}" if c.get("study") else c["benchmark"])
            for p in s["points"]:
                rows.append([where, md(p["run"]), _n(p.get("psi_id")) + _ci(*(p.get("psi_id_ci") or [None, None])),
                             _n(p.get("psi_ood")) + _ci(*(p.get("psi_ood_ci") or [None, None]))])
        out += _table(["Sets", "Run", "Ψ_ID", "Ψ_OOD"], rows)
    ex = [e for e in data.get("exploration") or [] if len(e["pass_at_k"]) > 1]
    if ex:
        ks = sorted({int(k) for e in ex for k in e["pass_at_k"]})
        out += ["", "### pass@k (%, unbiased, 95% item-bootstrap CI)", ""]
        rows = []
        for e in ex:
            cis = e.get("pass_at_k_ci") or {}
            rows.append([md(e["run"]), md(f"{e['benchmark']}/{e['split']}"), f"{e['n_items']}×{e['n_min']}",
                         *(_n(e["pass_at_k"].get(str(k))) + _ci(*(cis.get(str(k)) or [None, None]))
                           if str(k) in e["pass_at_k"] else "—" for k in ks)])
        out += _table(["Run", "Split", "items×n", *(f"pass@{k}" for k in ks)], rows)
    for b in data.get("breakdowns") or []:
        out += ["", f"### {md(b['benchmark'])}/{md(b['split'])} by {md(b['key'])} "
                f"({md(data['options']['metric'])} %, 95% CI)", ""]
        head = [md(b["key"]), "items"]
        for r in runs:
            head.append(md(r))
            if base is not None and r != base:
                head.append(f"Δ {md(r)}")
        rows = []
        for row in b["rows"]:
            cells = [md(row["category"]), str(row["n_items"])]
            for r in runs:
                c = row["cells"].get(r)
                cells.append("—" if c is None or c["value"] is None else _n(c["value"]) + _ci(c["lo"], c["hi"]))
                if base is not None and r != base:
                    cells.append(_n(row["delta"].get(r), sign=True))
            rows.append(cells)
        out += _table(head, rows)
    return out
