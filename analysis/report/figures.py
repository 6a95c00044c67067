"""Plotly figures of a report, built from the report data dict only.

Why from the data dict: the charts then show exactly the numbers of the tables and of the
JSON companion. Each figure is rendered with ``to_html(full_html=False,
include_plotlyjs=False)`` and a fixed ``div_id`` (plotly's default is a random UUID), so
the page inlines plotly.js once and the output is deterministic.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}
TEMPLATE = "plotly_white"


def _html(fig: go.Figure, div_id: str, height: int = 360) -> str:
    fig.update_layout(template=TEMPLATE, height=height, margin={"l": 50, "r": 20, "t": 50, "b": 50},
                      legend={"orientation": "h", "y": -70 / height}, font={"family": "system-ui, sans-serif", "size": 12})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)


def _colours(data: dict[str, Any]) -> dict[str, str]:
    return {r["name"]: PALETTE[i % len(PALETTE)] for i, r in enumerate(data["runs"])}


def _err(cell: dict[str, Any]) -> tuple[float | None, float | None]:
    v, lo, hi = cell.get("value"), cell.get("lo"), cell.get("hi")
    if v is None or lo is None or hi is None:
        return None, None
    return hi - v, v - lo


def id_ood_bars(data: dict[str, Any]) -> list[dict[str, str]]:
    """Ψ per split and run with 95% intervals, one chart per benchmark."""
    out = []
    colours = _colours(data)
    metric = data["options"]["metric"]
    for bi, b in enumerate(data["benchmarks"]):
        rows = [h for h in data["headline"] if h["benchmark"] == b["name"]]
        fig = go.Figure()
        x = [f"{h['split']} ({h['role']})" if h["role"] else h["split"] for h in rows]
        for r in data["runs"]:
            cells = [h["cells"].get(r["name"], {}) for h in rows]
            errs = [_err(c) for c in cells]
            fig.add_bar(name=r["name"], x=x, y=[c.get("value") for c in cells], marker_color=colours[r["name"]],
                        error_y={"type": "data", "symmetric": False, "array": [e[0] for e in errs],
                                 "arrayminus": [e[1] for e in errs]})
        fig.update_layout(barmode="group", title=f"{b['name']}: {metric} (%) per split, 95% CI",
                          yaxis={"title": f"{metric} (%)", "range": [0, 100]})
        out.append({"id": f"fig-idood-{bi}", "title": f"{b['name']}: ID / OOD", "html": _html(fig, f"fig-idood-{bi}"), "fig": fig})
    return out


def gf_bars(data: dict[str, Any]) -> list[dict[str, str]]:
    gfs = [g for g in data["gf"] if g["status"] != "refused"]
    if not gfs:
        return []
    fig = go.Figure()
    labels = [f"{g['candidate']} ({g['config']['benchmark']})" for g in gfs]
    for key, name, colour in (("g_id", "G_ID", PALETTE[0]), ("g_ood", "G_OOD", PALETTE[1]), ("gamma", "Γ", PALETTE[2])):
        ys, up, down = [], [], []
        for g in gfs:
            v, ci = g[key], g.get(f"{key}_ci")
            ys.append(v)
            up.append(None if ci is None else ci[1] - v)
            down.append(None if ci is None else v - ci[0])
        fig.add_bar(name=name, x=labels, y=ys, marker_color=colour,
                    error_y={"type": "data", "symmetric": False, "array": up, "arrayminus": down})
    fig.update_layout(barmode="group", title=f"Gains over {data['baseline']} and Γ (β = {gfs[0]['config']['beta']:g}), "
                      "percentage points, 95% CI", yaxis={"title": "points"})
    return [{"id": "fig-gf", "title": "Generalization Factor", "html": _html(fig, "fig-gf"), "fig": fig}]


def passk_curves(data: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    colours = _colours(data)
    for bi, b in enumerate(data["benchmarks"]):
        ex = [e for e in data["exploration"] if e["benchmark"] == b["name"] and len(e["pass_at_k"]) > 1]
        splits = [s["split"] for s in b["splits"] if any(e["split"] == s["split"] for e in ex)]
        if not splits:
            continue
        fig = make_subplots(rows=1, cols=len(splits), subplot_titles=splits, shared_yaxes=True)
        shown: set[str] = set()
        for ci, split in enumerate(splits, 1):
            for e in ex:
                if e["split"] != split:
                    continue
                ks = [int(k) for k in e["pass_at_k"]]
                ys = list(e["pass_at_k"].values())
                cis = [(e.get("pass_at_k_ci") or {}).get(k) for k in e["pass_at_k"]]
                fig.add_scatter(x=ks, y=ys, mode="lines+markers", name=e["run"],
                                legendgroup=e["run"], showlegend=e["run"] not in shown,
                                line={"color": colours.get(e["run"])}, row=1, col=ci,
                                error_y={"type": "data", "symmetric": False,
                                         "array": [None if c is None else c[1] - y for c, y in zip(cis, ys, strict=True)],
                                         "arrayminus": [None if c is None else y - c[0]
                                                        for c, y in zip(cis, ys, strict=True)]})
                shown.add(e["run"])
            fig.update_xaxes(type="log", tickvals=ks, title_text="k", row=1, col=ci)
        fig.update_yaxes(title_text="pass@k (%)", row=1, col=1)
        fig.update_layout(title=f"{b['name']}: unbiased pass@k, 95% item-bootstrap CI")
        out.append({"id": f"fig-passk-{bi}", "title": f"{b['name']}: pass@k", "html": _html(fig, f"fig-passk-{bi}"), "fig": fig})
    return out


def group_bars(data: dict[str, Any]) -> list[dict[str, str]]:
    """Stacked all-correct / all-wrong shares of k-sample groups: GRPO groups with no learning signal."""
    out = []
    for bi, b in enumerate(data["benchmarks"]):
        ex = [e for e in data["exploration"] if e["benchmark"] == b["name"] and e["k"]]
        if not ex:
            continue
        x = [[e["split"] for e in ex], [e["run"] for e in ex]]
        fig = go.Figure()
        for key, name, colour in (("all_correct@k", "all k correct", PALETTE[2]),
                                  ("all_wrong@k", "all k wrong", PALETTE[3])):
            fig.add_bar(name=name, x=x, y=[(e["metrics"].get(key) or {}).get("value") for e in ex],
                        marker_color=colour)
        k = ex[0]["k"]
        fig.update_layout(barmode="stack", title=f"{b['name']}: zero-variance groups of k = {k} samples (%)",
                          yaxis={"title": "% of prompts", "range": [0, 100]})
        out.append({"id": f"fig-groups-{bi}", "title": f"{b['name']}: zero-variance groups",
                    "html": _html(fig, f"fig-groups-{bi}"), "fig": fig})
    return out


def rbf_bars(data: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    colours = _colours(data)
    for bi, b in enumerate(data["benchmarks"]):
        ex = [e for e in data["exploration"] if e["benchmark"] == b["name"] and e["metrics"].get("rbf")]
        if not ex:
            continue
        fig = make_subplots(rows=1, cols=2, subplot_titles=["rollout branching factor (tokens)",
                                                            "mean token entropy (nats)"])
        splits = [s["split"] for s in b["splits"]]
        for ci, key in enumerate(("rbf", "token_entropy"), 1):
            for r in data["runs"]:
                cells = {e["split"]: e["metrics"].get(key) or {} for e in ex if e["run"] == r["name"]}
                if not cells:
                    continue
                xs = [s for s in splits if s in cells]
                errs = [_err(cells[s]) for s in xs]
                fig.add_bar(name=r["name"], x=xs, y=[cells[s].get("value") for s in xs], legendgroup=r["name"],
                            showlegend=ci == 1, marker_color=colours[r["name"]], row=1, col=ci,
                            error_y={"type": "data", "symmetric": False, "array": [e[0] for e in errs],
                                     "arrayminus": [e[1] for e in errs]})
        fig.update_layout(barmode="group", title=f"{b['name']}: exploration from token statistics")
        out.append({"id": f"fig-rbf-{bi}", "title": f"{b['name']}: RBF and entropy", "html": _html(fig, f"fig-rbf-{bi}"), "fig": fig})
    return out


def training_curves(data: dict[str, Any]) -> list[dict[str, str]]:
    t = data.get("training")
    if not t or not t["curves"]:
        return []
    curves = t["curves"]
    cols = 3
    rows = (len(curves) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[c["key"] for c in curves], horizontal_spacing=0.1,
                        vertical_spacing=min(0.3, 0.6 / rows) if rows > 1 else 0.12)
    names = sorted({f"{s['run']}/{s['stage']}" for c in curves for s in c["series"]})
    colour = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    shown: set[str] = set()
    for i, c in enumerate(curves):
        r, col = i // cols + 1, i % cols + 1
        last = 1
        for s in c["series"]:
            n = f"{s['run']}/{s['stage']}"
            fig.add_scatter(x=s["step"], y=s["value"], mode="lines+markers" if len(s["step"]) < 30 else "lines",
                            name=n, legendgroup=n, showlegend=n not in shown, line={"color": colour[n]}, row=r, col=col)
            shown.add(n)
            last = max([last, *s["step"]])
        # optimizer steps are integers: ticks at whole steps only, about eight of them
        fig.update_xaxes(title_text="step", tickmode="linear", tick0=0, dtick=max(1, math.ceil(last / 8)),
                         tickformat="d", row=r, col=col)
        fig.update_yaxes(title_text=c["key"].split("/")[-1], title_font={"size": 10}, row=r, col=col)
    return [{"id": "fig-training", "title": "Training curves",
             "html": _html(fig, "fig-training", height=max(320, 260 * rows)), "fig": fig}]


def role_scatter(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Ψ_ID against Ψ_OOD of every run, with 95% item-bootstrap intervals, one chart per set of roles.

    Why: where a run sits (not only its gain) shows whether an OOD gain came with the ID gain or
    instead of it; points above the diagonal do better out of distribution than in it.
    """
    out = []
    colours = _colours(data)
    for i, sc in enumerate(data.get("role_scatter") or []):
        c = sc["config"]
        pts = [p for p in sc["points"] if p.get("psi_id") is not None and p.get("psi_ood") is not None]
        if not pts:
            continue
        fig = go.Figure()
        for p in pts:
            xi, yi = p.get("psi_id_ci"), p.get("psi_ood_ci")
            fig.add_scatter(x=[p["psi_id"]], y=[p["psi_ood"]], mode="markers+text", name=p["run"],
                            text=[p["run"]], textposition="top center", marker={"size": 11,
                                                                                 "color": colours.get(p["run"])},
                            error_x={"type": "data", "symmetric": False, "array": [None if xi is None else
                                                                                    xi[1] - p["psi_id"]],
                                     "arrayminus": [None if xi is None else p["psi_id"] - xi[0]]},
                            error_y={"type": "data", "symmetric": False, "array": [None if yi is None else
                                                                                    yi[1] - p["psi_ood"]],
                                     "arrayminus": [None if yi is None else p["psi_ood"] - yi[0]]})
        fig.add_scatter(x=[0, 100], y=[0, 100], mode="lines", name="Ψ_OOD = Ψ_ID", hoverinfo="skip",
                        line={"color": "#999", "dash": "dot", "width": 1})
        where = f"study {c['study']}" if c.get("study") else c["benchmark"]
        fig.update_layout(title=f"{where}: ID vs OOD {c['metric']} (%), 95% CI",
                          xaxis={"title": f"Ψ_ID: {', '.join(c['id_splits'])}", "range": [0, 100]},
                          yaxis={"title": "Ψ_OOD: " + ", ".join(s + (f"×{c['ood_weights'][s]:g}"
                                                                     if c["ood_weights"][s] != 1 else "")
                                                                for s in c["ood_splits"]), "range": [0, 100]})
        out.append({"id": f"fig-scatter-{i}", "title": f"{where}: ID vs OOD", "fig": fig,
                    "html": _html(fig, f"fig-scatter-{i}", 420)})
    return out


def breakdown_bars(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Ψ per category of a benchmark's official breakdown (MathVista task, MMMU discipline, MEGA-Bench
    application…), one horizontal bar per run with its 95% interval; keys with 3–12 categories."""
    out = []
    colours = _colours(data)
    metric = data["options"]["metric"]
    for i, b in enumerate(data.get("breakdowns") or []):
        if not b["chart"]:
            continue
        cats = [f"{r['category']} (n={r['n_items']})" for r in b["rows"]]
        fig = go.Figure()
        for run in data["runs"]:
            cells = [r["cells"].get(run["name"], {}) for r in b["rows"]]
            if not any(c.get("value") is not None for c in cells):
                continue
            errs = [_err(c) for c in cells]
            fig.add_bar(name=run["name"], y=cats, x=[c.get("value") for c in cells], orientation="h",
                        marker_color=colours[run["name"]],
                        error_x={"type": "data", "symmetric": False, "array": [e[0] for e in errs],
                                 "arrayminus": [e[1] for e in errs]})
        fig.update_layout(barmode="group", title=f"{b['benchmark']}/{b['split']}: {metric} (%) by {b['key']}, 95% CI",
                          xaxis={"title": f"{metric} (%)", "range": [0, 100]}, yaxis={"autorange": "reversed"})
        h = max(300, 60 + 26 * len(cats) * max(1, len(data["runs"])))
        out.append({"id": f"fig-breakdown-{i}", "title": f"{b['benchmark']}/{b['split']} by {b['key']}", "fig": fig,
                    "html": _html(fig, f"fig-breakdown-{i}", min(h, 900))})
    return out


def all_figures(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Figures by report section (each: ``id``, ``title``, ``html`` and the plotly ``fig``)."""
    return {
        "charts": id_ood_bars(data) + gf_bars(data) + role_scatter(data),
        "breakdowns": breakdown_bars(data),
        "exploration": passk_curves(data) + group_bars(data) + rbf_bars(data),
        "training": training_curves(data),
    }


# ---------------------------------------------------------------------------------------------
# GF study (analysis.study): curves with seed bands, Γ vs post-RL, pass@k, RBF


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def study_figures(data: dict[str, Any]) -> list[dict[str, str]]:
    """The GF study's figures, from ``data["study"]`` only (empty without a study)."""
    st = data.get("study")
    if not st:
        return []
    cfg = st["config"]
    methods = cfg["methods"]
    colour = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(methods)}
    out = []
    # 1. Ψ_ID, Ψ_OOD and Γ per step: mean over seeds, min–max band
    panels = (("psi_id", f"ID {cfg['metric']} (%)"), ("psi_ood", f"OOD {cfg['metric']} (%)"), ("gamma", "Γ (points)"))
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for _, t in panels])
    for ci, (key, _) in enumerate(panels, 1):
        for m in methods:
            rows = sorted((b for b in st["bands"] if b["method"] == m and b[key]["mean"] is not None),
                          key=lambda b: b["step"])
            if not rows:
                continue
            xs = [b["step"] for b in rows]
            lo = [b[key]["min"] for b in rows]
            hi = [b[key]["max"] for b in rows]
            fig.add_scatter(x=xs + xs[::-1], y=hi + lo[::-1], mode="lines", fill="toself",
                            fillcolor=_rgba(colour[m], 0.18),
                            line={"width": 0}, hoverinfo="skip", showlegend=False, legendgroup=m, row=1, col=ci)
            fig.add_scatter(x=xs, y=[b[key]["mean"] for b in rows], mode="lines+markers", name=m, legendgroup=m,
                            showlegend=ci == 1, line={"color": colour[m]}, row=1, col=ci)
        fig.update_xaxes(title_text="cold-start step", row=1, col=ci)
    n = max((b["n_seeds"] for b in st["bands"]), default=0)
    fig.update_layout(title=f"Cold start: ID / OOD {cfg['metric']} and Γ (β = {cfg['beta']:g}); mean over {n} "
                      "seed(s), band = min–max")
    out.append({"id": "fig-study-curves", "title": "GF curves", "html": _html(fig, "fig-study-curves", 400), "fig": fig})
    # 2. Γ at the last cold-start step vs post-RL performance
    sc = st.get("scatter")
    if sc and sc["points"]:
        fig = go.Figure()
        for m in methods:
            pts = [p for p in sc["points"] if p["method"] == m]
            if pts:
                fig.add_scatter(x=[p["gamma"] for p in pts], y=[p["post_rl"] for p in pts], mode="markers",
                                name=m, marker={"color": colour[m], "size": 10},
                                text=[f"{m} seed {p['seed']}" for p in pts])
        f = sc["fit"]
        xs = [p["gamma"] for p in sc["points"]]
        if f["slope"] is not None:
            x0, x1 = min(xs), max(xs)
            fig.add_scatter(x=[x0, x1], y=[f["intercept"] + f["slope"] * x0, f["intercept"] + f["slope"] * x1],
                            mode="lines", name="least-squares fit", line={"color": "#555", "dash": "dash"})
        r2 = "undefined" if f["r2"] is None else f"{f['r2']:.3f}"
        fig.update_layout(title=f"Γ at step {cfg['steps']} vs post-RL {cfg['final_metric']} (%): R² = {r2} "
                          f"over {f['n']} points", xaxis={"title": "Γ (points)"},
                          yaxis={"title": f"post-RL {cfg['final_metric']} (%)"})
        out.append({"id": "fig-study-scatter", "title": "Γ vs post-RL", "html": _html(fig, "fig-study-scatter"), "fig": fig})
    # 3. pass@k and RBF
    ex = st.get("exploration") or []
    if ex:
        fig = make_subplots(rows=1, cols=2, subplot_titles=["unbiased pass@k (%)",
                                                            f"rollout branching factor (top-p {cfg['passk']['stats_top_p']})"])
        models = [e["model"] for e in ex]
        mcol = {m: PALETTE[(i + 4) % len(PALETTE)] if m == "base" else colour.get(m, PALETTE[i % len(PALETTE)])
                for i, m in enumerate(models)}
        for e in ex:
            ks = [int(k) for k in e["pass_at_k"]]
            fig.add_scatter(x=ks, y=list(e["pass_at_k"].values()), mode="lines+markers", name=e["model"],
                            legendgroup=e["model"], line={"color": mcol[e["model"]]}, row=1, col=1)
        fig.update_xaxes(type="log", title_text="k", row=1, col=1)
        rb = [e for e in ex if e.get("rbf")]
        if rb:
            errs = [_err(e["rbf"]) for e in rb]
            fig.add_bar(x=[e["model"] for e in rb], y=[e["rbf"]["value"] for e in rb], showlegend=False,
                        marker_color=[mcol[e["model"]] for e in rb], row=1, col=2,
                        error_y={"type": "data", "symmetric": False, "array": [x[0] for x in errs],
                                 "arrayminus": [x[1] for x in errs]})
        fig.update_layout(title=f"Exploration of the cold-start models on {ex[0]['split']}: {ex[0]['n_items']} items × "
                          f"{ex[0]['n_samples']} samples")
        out.append({"id": "fig-study-passk", "title": "pass@k and RBF", "html": _html(fig, "fig-study-passk"), "fig": fig})
    return out
