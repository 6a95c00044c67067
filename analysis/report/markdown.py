"""The report's headline and GF as a Markdown summary (lm-eval style), for PRs and issues.

Why: a reviewer reads the numbers in a PR comment without opening the HTML. Built from
the same data dict, so it cannot disagree with the page.
"""

from __future__ import annotations

from typing import Any

from analysis.leaderboard import format_value


def _n(v: float | None, nd: int = 1, sign: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:+.{nd}f}" if sign else f"{v:.{nd}f}"


def _ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f" [{lo:.1f}, {hi:.1f}]"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    o = data["options"]
    base = data["baseline"]
    runs = [r["name"] for r in data["runs"]]
    lines = [f"## {_cell(data['title'])}", "",
             f"Ψ = {o['metric']} (%), {o['level'] * 100:g}% bootstrap CI over items ({o['n_boot']} resamples); "
             f"baseline: {base or '—'}. Δ = paired difference in points.", ""]
    head = ["Benchmark", "Split", "Role"]
    for r in runs:
        head.append(r + (" (baseline)" if r == base else ""))
        if base is not None and r != base:
            head.append(f"Δ {r}")
    lines += ["| " + " | ".join(_cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    for h in data["headline"]:
        row = [h["benchmark"], h["split"], h["role"]]
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
                    star = "*" if d["significant"] else ""
                    row.append(f"{_n(d['delta'], sign=True)}{star}{_ci(d['lo'], d['hi'])}" + (" ⚠" if d["warnings"] else ""))
        lines.append("| " + " | ".join(_cell(x) for x in row) + " |")
    lines.append("")
    lines.append("`*` interval excludes 0. ⚠ see flags.")
    if data["gf"]:
        g0 = data["gf"][0]["config"]
        lines += ["", f"### Generalization Factor (β = {g0['beta']:g}, Ψ = {g0['metric']}, points)", "",
                  "| Benchmark | Candidate | G_ID | G_OOD | Γ | note |", "|---|---|---|---|---|---|"]
        for g in data["gf"]:
            c = g["config"]
            if g["status"] == "refused":
                lines.append(f"| {c['benchmark']} | {_cell(g['candidate'])} | — | — | refused | not computed |")
                continue
            gci = g.get("gamma_ci") or [None, None]
            lines.append(f"| {c['benchmark']} | {_cell(g['candidate'])} | {_n(g['g_id'], sign=True)} | "
                         f"{_n(g['g_ood'], sign=True)} | **{_n(g['gamma'])}**{_ci(gci[0], gci[1])} | {_cell(g['note'])} |")
    flags = [f for f in data["flags"] if f["severity"] != "info"]
    if flags:
        lines += ["", "### Flags", ""] + [f"- **{f['severity']}** {_cell(f['message'])}" for f in flags]
    lb = data.get("leaderboard")
    if lb:
        lines += ["", f"### Leaderboard: {_cell(lb['title'])}", "",
                  "| Model | " + " | ".join(_cell(c["label"]) for c in lb["columns"]) + " | provenance |",
                  "|" + "---|" * (len(lb["columns"]) + 2)]
        for r in lb["rows"]:
            vals = [format_value(r["values"].get(c["key"]), r["kind"], lb["value_kind"]) for c in lb["columns"]]
            lines.append(f"| {_cell(r['label'])} | " + " | ".join(vals) + f" | {_cell(r['provenance'])} |")
    if data.get("study"):
        from analysis.study import study_markdown

        lines += ["", "#" + study_markdown(data["study"]).rstrip("\n")]
    return "\n".join(lines) + "\n"
