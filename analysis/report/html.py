"""The single-file offline HTML view of a report's data.

Design (design-anchors §3): the comparison question is answered first by a plain HTML
headline table (readable with JavaScript blocked), then GF, the leaderboard, charts,
exploration/stuckness, training curves, all metrics, diff-only provenance and the
per-sample drill-down. plotly.js is inlined once in ``<head>``; every figure is a
``to_html(full_html=False, include_plotlyjs=False)`` fragment; the report data is
embedded once as ``<script type="application/json">``. All model text goes through
``html.escape``; no resource is loaded from the network and there is no timestamp
outside the provenance table.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from analysis.leaderboard import format_value as lb_value
from analysis.report.figures import all_figures, study_figures
from analysis.study import band_parts, study_spec
from specs_eval.core.metrics import METRICS as METRIC_REGISTRY

CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dde5;--bg:#fff;--soft:#f5f7fa;--pos:#1a7f37;--neg:#c62828;
--warn:#9a6700;--refuse:#8250df}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0;padding:24px 32px}
p,ul,.flags{max-width:1200px}.fig{max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;padding-top:8px;border-top:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}.meta{color:var(--muted);margin:2px 0}
nav{margin:10px 0 0;font-size:13px}nav a{margin-right:12px;color:#3558a8}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 8px;vertical-align:top}th{background:var(--soft);text-align:left}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.ci{display:block;color:var(--muted);font-size:11px}.p{display:block;color:var(--muted);font-size:11px}
td.pos{color:var(--pos);background:#eefbf1}td.neg{color:var(--neg);background:#fdeeee}
td.refused{color:var(--refuse);text-align:center}.tag{font-size:11px;border-radius:3px;padding:0 4px;
background:#e8ecf4;color:#374151;margin-left:4px}.tag.base{background:#dbe7ff}
.flags{border:1px solid #f0d48a;background:#fff8e6;padding:8px 12px;border-radius:6px;margin:14px 0}
.flags.clean{border-color:#bfe3c8;background:#f0fbf3}.flags.unverified{border-color:#d0d7e2;background:#f6f8fb}
.flags li{margin:2px 0}.sev{font-weight:600;font-size:11px;text-transform:uppercase;margin-right:6px}
.sev.refuse{color:var(--refuse)}.sev.warn{color:var(--warn)}.sev.info{color:var(--muted)}
.warnmark{color:var(--warn);cursor:help}
tr.measured td{background:#f3f8ff}.prov{font-size:11px;color:var(--muted)}
.fig{border:1px solid var(--line);border-radius:6px;margin:10px 0;padding:4px}
details{margin:6px 0}summary{cursor:pointer}
.dd-item{border:1px solid var(--line);border-radius:6px;padding:8px;margin:8px 0;display:grid;
grid-template-columns:140px 1fr 1fr;gap:10px}
.dd-item img{width:128px;height:auto;image-rendering:pixelated;border:1px solid var(--line)}
.dd-item pre{white-space:pre-wrap;word-break:break-word;background:var(--soft);padding:6px;margin:4px 0;
font-size:12px;max-height:260px;overflow:auto}.ok{color:var(--pos)}.bad{color:var(--neg)}
.note{color:var(--muted);font-size:12px}.scroll{overflow-x:auto;max-width:100%;margin:6px 0 10px}
.scroll>table{margin:0}input#dd-filter{padding:4px 6px;width:280px}
footer{margin-top:40px;color:var(--muted);font-size:12px}
"""

JS = """
(function(){
  var f=document.getElementById('dd-filter');
  if(f){f.addEventListener('input',function(){var v=f.value.toLowerCase();
    document.querySelectorAll('article.dd-item').forEach(function(a){
      a.style.display=(!v||a.textContent.toLowerCase().indexOf(v)>=0)?'':'none';});});}
  var e=document.getElementById('dd-expand');
  if(e){e.addEventListener('click',function(){document.querySelectorAll('details.dd-block').forEach(
    function(d){d.open=true;});});}
  var dl=document.getElementById('dl-json');
  if(dl){dl.addEventListener('click',function(){
    var txt=document.getElementById('report-data').textContent;
    dl.href=URL.createObjectURL(new Blob([txt],{type:'application/json'}));});}
  document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){
    var tb=th.closest('table').tBodies[0];var rows=Array.prototype.slice.call(tb.rows);
    var dir=th.dataset.dir==='asc'?-1:1;th.dataset.dir=dir===1?'asc':'desc';
    rows.sort(function(a,b){var x=a.cells[i].dataset.v||a.cells[i].textContent,y=b.cells[i].dataset.v||b.cells[i].textContent;
      var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny)){return dir*(nx-ny);}return dir*x.localeCompare(y);});
    rows.forEach(function(r){tb.appendChild(r);});});});
})();
"""


def e(x: Any) -> str:
    return escape("" if x is None else str(x), quote=True)


def num(v: float | None, nd: int = 1, sign: bool = False) -> str:
    if v is None:
        return "—"
    return f"{v:+.{nd}f}" if sign else f"{v:.{nd}f}"


def ci(lo: float | None, hi: float | None, nd: int = 1) -> str:
    if lo is None or hi is None:
        return ""
    return f' <span class="ci">[{lo:.{nd}f}, {hi:.{nd}f}]</span>'


def pval(p: float | None, test: str | None, floor: float | None = None) -> str:
    if p is None:
        return ""
    if floor is not None and p <= floor + 1e-9:
        s = f"p≤{floor:.3g}"
    else:
        s = "p<0.001" if p < 0.001 else f"p={p:.3f}"
    t = {"mcnemar_exact": "McNemar", "paired_bootstrap": "paired bootstrap"}.get(test or "", test or "")
    return f' <span class="p">{s} ({e(t)})</span>'


def warnmark(messages: list[str]) -> str:
    if not messages:
        return ""
    return f' <span class="warnmark" title="{e("; ".join(messages))}">⚠</span>'


# ---------------------------------------------------------------------------------------------


def _header(data: dict[str, Any]) -> str:
    o = data["options"]
    prof = f" (profile {o['profile']})" if o["profile"] else ""
    runs = []
    for r in data["runs"]:
        tag = '<span class="tag base">baseline</span>' if r["role"] == "baseline" else ""
        status = "" if r["status"] in (None, "complete") else f' <span class="tag">{e(r["status"])}</span>'
        runs.append(f"<li><b>{e(r['name'])}</b>{tag}{status} <span class=\"note\">dir {e(r['dir'])} · model "
                    f"{e(r['model'])} · {r['n_samples']} samples</span></li>")
    for f in data["not_loaded"]:
        runs.append(f"<li><b>{e(f['dir'])}</b> <span class=\"tag\">not loaded</span></li>")
    return (f"<header><h1>{e(data['title'])}</h1>"
            f"<p class=\"meta\">Ψ = <b>{e(o['metric'])}</b>{e(prof)} · baseline <b>{e(data['baseline'] or '—')}</b>"
            f" · {o['level'] * 100:g}% percentile bootstrap intervals over items ({o['n_boot']} resamples, seed "
            f"{o['seed']}) · GF β = {o['beta']:g} · values in %</p><ul class=\"meta\">{''.join(runs)}</ul>"
            "<nav>" + ('<a href="#study">GF study</a>' if data.get("study") else "") + "<a href=\"#headline\">Headline</a><a href=\"#gf\">GF</a><a href=\"#leaderboard\">Leaderboard</a>"
            "<a href=\"#charts\">Charts</a><a href=\"#breakdowns\">Categories</a><a href=\"#exploration\">Exploration</a><a href=\"#training\">Training</a>"
            "<a href=\"#metrics\">All metrics</a><a href=\"#provenance\">Provenance</a>"
            "<a href=\"#drilldown\">Disagreements</a><a href=\"#\" id=\"dl-json\" download=\"report-data.json\">"
            "Download data (JSON)</a></nav></header>")


def _flags(data: dict[str, Any]) -> str:
    main = [f for f in data["flags"] if f["severity"] in ("refuse", "warn")]
    info = [f for f in data["flags"] if f["severity"] == "info"]

    def li(f: dict[str, Any]) -> str:
        return f'<li><span class="sev {e(f["severity"])}">{e(f["severity"])}</span>{e(f["message"])}</li>'

    checks = data.get("checks") or []
    unverified = [u for c in checks for u in c["unverified"]]
    n_checked = sum(len(c["checked"]) for c in checks)
    if not main and not checks:
        body = "<p><b>Nothing was compared</b> (one run, or no baseline), so no comparability checks ran.</p>"
        cls = "flags unverified"
    elif not main and unverified:
        body = ("<p><b>No comparability problems found, but the data could not be verified everywhere.</b> Item ids and "
                f"scoring profiles were compared; dataset or item content hashes were compared in {n_checked} split "
                f"comparison(s) and could <b>not</b> be checked in {len(unverified)}:</p>"
                f"<ul>{''.join(f'<li>{e(u)}</li>' for u in unverified)}</ul>")
        cls = "flags unverified"
    elif not main:
        body = (f"<p><b>No comparability problems found.</b> Same items, same data (content hashes compared in all "
                f"{n_checked} split comparison(s)) and the same scoring profile.</p>")
        cls = "flags clean"
    else:
        body = (f"<p><b>{len(main)} flag(s)</b>: refused comparisons show “refused”; flagged numbers carry ⚠.</p>"
                f"<ul>{''.join(li(f) for f in main)}</ul>")
        cls = "flags"
    if info:
        body += f"<details><summary>{len(info)} note(s)</summary><ul>{''.join(li(f) for f in info)}</ul></details>"
    return f'<section id="flags" class="{cls}">{body}</section>'


def _headline(data: dict[str, Any]) -> str:
    runs = data["runs"]
    base = data["baseline"]
    head = ["<th>Benchmark</th><th>Split</th><th>Role</th>"]
    for r in runs:
        tag = ' <span class="tag base">baseline</span>' if r["name"] == base else ""
        head.append(f"<th>{e(r['name'])}{tag}</th>")
        if base is not None and r["name"] != base:
            head.append(f"<th>Δ {e(r['name'])} − {e(base)}</th>")
    body = []
    for h in data["headline"]:
        tds = [f"<td>{e(h['benchmark'])}</td><td>{e(h['split'])}</td><td>{e(h['role'])}</td>"]
        for r in runs:
            c = h["cells"].get(r["name"])
            if c is None or c["value"] is None:
                note = "" if c is None else c.get("note") or ""
                tds.append(f'<td class="num" title="{e(note)}">—<span class="ci">{e(note)}</span></td>')
            else:
                n = f' <span class="ci">n={c["n_items"]}' + (f'×{c["n_samples"] // max(1, c["n_items"])}'
                                                             if c["n_samples"] != c["n_items"] else "") + "</span>"
                tds.append(f'<td class="num" data-v="{c["value"]}">{num(c["value"])}{warnmark(c["warnings"])}'
                           f'{ci(c["lo"], c["hi"])}{n}</td>')
            if base is not None and r["name"] != base:
                d = h["deltas"].get(r["name"])
                if d is None:
                    tds.append('<td class="num">—</td>')
                elif d["status"] == "refused":
                    tds.append(f'<td class="refused" title="{e("; ".join(d["reasons"]))}">refused</td>')
                else:
                    cls = "num" + ((" pos" if d["delta"] > 0 else " neg") if d["significant"] else "")
                    tds.append(f'<td class="{cls}" data-v="{d["delta"]}">{num(d["delta"], sign=True)}'
                               f'{warnmark(d["warnings"])}{ci(d["lo"], d["hi"])}{pval(d["p_value"], d["test"], d.get("p_floor"))}'
                               "</td>")
        body.append(f"<tr>{''.join(tds)}</tr>")
    o = data["options"]
    return (f'<section id="headline"><h2>Headline: {e(o["metric"])} (%) per benchmark and split</h2>'
            f'<table class="headline"><thead><tr>{"".join(head)}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            '<p class="note">Δ = candidate − baseline in points on the same items, with a paired bootstrap interval; '
            "green/red only where the interval excludes 0. p: exact McNemar test (one 0/1 sample per item) or paired "
            "bootstrap. No correction for multiple comparisons.</p></section>")


def _gf(data: dict[str, Any]) -> str:
    if not data["gf"]:
        why = ("needs a baseline and at least one candidate" if data["baseline"] is None or len(data["runs"]) < 2
               else "no benchmark has ID/OOD split roles")
        return f'<section id="gf"><h2>Generalization Factor</h2><p class="note">Not computed: {e(why)}.</p></section>'
    rows = []
    for g in data["gf"]:
        c = g["config"]
        ood = ", ".join(f"{s}×{c['ood_weights'][s]:g}" for s in c["ood_splits"])
        if g["status"] == "refused":
            msgs = "; ".join(f["message"] for f in g["flags"] if f["severity"] == "refuse")
            rows.append(f"<tr><td>{e(c['benchmark'])}</td><td>{e(g['candidate'])}</td><td>{e(', '.join(c['id_splits']))}"
                        f"</td><td>{e(ood)}</td><td class=\"refused\" colspan=\"3\" title=\"{e(msgs)}\">refused</td>"
                        f"<td>{e(msgs)}</td></tr>")
            continue
        cls = "num" + (" pos" if g["status"] == "ok" and g["gamma_ci"] and g["gamma_ci"][0] > 0 else "")
        mark = ' <span class="warnmark">⚠</span>' if g["status"] != "ok" else ""
        gci = g.get("gamma_ci") or [None, None]
        rows.append(
            f"<tr><td>{e(c['benchmark'])}</td><td>{e(g['candidate'])}</td><td>{e(', '.join(c['id_splits']))}</td>"
            f"<td>{e(ood)}</td>"
            f"<td class=\"num\">{num(g['g_id'], sign=True)}{ci(*(g.get('g_id_ci') or [None, None]))}</td>"
            f"<td class=\"num\">{num(g['g_ood'], sign=True)}{ci(*(g.get('g_ood_ci') or [None, None]))}</td>"
            f"<td class=\"{cls}\"><b>{num(g['gamma'])}</b>{mark}{ci(gci[0], gci[1])}</td><td>{e(g['note'])}"
            + (f"<span class=\"ci\">P*(a gain ≤ 0) = {g['p_gamma_zero']:.3f}</span>" if g.get("p_gamma_zero") else "")
            + "</td></tr>")
    g0 = data["gf"][0]["config"]
    return (f'<section id="gf"><h2>Generalization Factor (vs {e(data["baseline"])})</h2>'
            "<table class=\"gf\"><thead><tr><th>Benchmark</th><th>Candidate</th><th>ID splits</th>"
            "<th>OOD splits × weight</th><th>G_ID (points)</th><th>G_OOD (points)</th><th>Γ</th><th>Note</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p class=\"note\">Γ = (1+β²)·G_ID·G_OOD / (β²·G_ID + G_OOD), β = {g0['beta']:g}, Ψ = {e(g0['metric'])}; "
            f"{e(g0['rule'])}. Split roles: {e(g0['roles_source'])}. Intervals: paired bootstrap over items per split."
            "</p></section>")


def _band(b: dict[str, Any] | None, nd: int = 1) -> str:
    """A seed band cell: mean, 95% t interval over seeds, min–max."""
    parts = band_parts(b, nd)
    if parts is None:
        return "—"
    mean, ci, rng = parts
    out = mean
    if ci:
        out += f' <span class="ci">t95 [{ci}]</span>'
    if rng:
        out += f' <span class="ci">range {rng} (n={b["n"]})</span>'
    return out


def _study(data: dict[str, Any]) -> str:
    """The GF study: headline Γ per method over seeds, curves, Γ vs post-RL, pass@k/RBF, RL stuckness."""
    st = data.get("study")
    if not st:
        return ""
    cfg = st["config"]
    spec = study_spec(cfg)
    figs = study_figures(data)
    head = []
    for h in st["headline"]:
        alt = " · ".join(f"{k}: {num((h['gamma_by_metric'].get(k) or {}).get('mean'))}"
                         for k in ("accuracy", "format_compliance", "strict_accuracy"))
        head.append(f"<tr><td><b>{e(h['method'])}</b></td><td class='num'>{_band(h['gamma'])}</td>"
                    f"<td class='num'>{_band(h['psi_id'])}</td><td class='num'>{_band(h['psi_ood'])}</td>"
                    f"<td class='num'>{_band(h['post_rl'])}</td><td class='note'>{e(alt)}</td></tr>")
    pts = []
    for p in sorted(st["points"], key=lambda p: (p["method"], p["seed"], p["step"])):
        gci = p.get("gamma_ci") or [None, None]
        pts.append(f"<tr><td>{e(p['method'])}</td><td>{p['seed']}</td><td class='num'>{p['step']}</td>"
                   f"<td class='num'>{num(p['psi_id'])}</td><td class='num'>{num(p['psi_ood'])}</td>"
                   f"<td class='num'>{num(p['g_id'], sign=True)}</td><td class='num'>{num(p['g_ood'], sign=True)}"
                   f"</td><td class='num'><b>{num(p['gamma'])}</b>{ci(gci[0], gci[1])}</td>"
                   f"<td>{e(p['status'])}</td></tr>")
    con_rows = "".join(
        f"<tr><td>{e(c['b'])} − {e(c['a'])}</td><td class='num'>{c['step']}</td><td class='num'>"
        f"{_band(c['gamma_diff'])}</td><td class='note'>{e(', '.join(f'{x:+.1f}' for x in c['diffs']))}</td></tr>"
        for c in st.get("contrasts") or [])
    sc = st.get("scatter")
    fit = ""
    if sc:
        f, fm = sc["fit"], sc["fit_means"]
        r2 = "undefined" if f["r2"] is None else f"{f['r2']:.3f}"
        r2m = "undefined" if fm["r2"] is None else f"{fm['r2']:.3f}"
        fit = (f"<p>Γ at step {cfg['steps']} vs post-RL {e(cfg['final_metric'])}: <b>R² = {r2}</b> over {f['n']} "
               f"method-seed points (slope {num(f['slope'], 3)}); R² = {r2m} over the {fm['n']} method means. The "
               "paper reports R² = 0.864 over three points.</p>")
    ex_rows = []
    for x in st.get("exploration") or []:
        rbf, ent = x.get("rbf") or {}, x.get("token_entropy") or {}
        pk = x["pass_at_k"]
        ks = [k for k in ("1", "8", "64") if k in pk] or list(pk)[:3]
        ex_rows.append(f"<tr><td>{e(x['model'])}</td><td>{e(x['split'])}</td><td class='num'>{x['n_items']}×"
                       f"{x['n_samples']}</td><td class='num'>"
                       + " · ".join(f"@{k} {num(pk[k])}" for k in ks) + "</td>"
                       f"<td class='num'>{num(rbf.get('value'), 3)}{ci(rbf.get('lo'), rbf.get('hi'), 3)}</td>"
                       f"<td class='num'>{num(ent.get('value'), 3)}</td></tr>")
    rl_rows = []
    for r in st["runs"]:
        s = r.get("stuckness")
        if not s:
            continue

        def fl(k: str, mul: float = 100.0, s: dict[str, Any] = s) -> str:
            a, b = s.get(f"{k}_first"), s.get(f"{k}_last")
            return (f"{num(None if a is None else mul * a)} → {num(None if b is None else mul * b)}")

        post = (r.get("post_rl") or {}).get("mean")
        rl_rows.append(f"<tr><td>{e(r['method'])}</td><td>{r['seed']}</td><td class='num'>{s.get('steps')}</td>"
                       f"<td class='num'>{fl('zero_variance_rate')}</td><td class='num'>{fl('all_correct_rate')}</td>"
                       f"<td class='num'>{fl('all_wrong_rate')}</td><td class='num'>{fl('reward', 1.0)}</td>"
                       f"<td class='num'>{fl('entropy', 1.0)}</td><td class='num'>{num(post)}</td></tr>")
    miss = (f"<p class='note'>Not (yet) available: {e(', '.join(st['missing']))}.</p>" if st.get("missing") else "")
    wall = f" · wall time {st['wall_s'] / 60:.1f} min" if st.get("wall_s") else ""
    return (
        f'<section id="study"><h2>GF study {e(st.get("name") or "")}</h2>'
        f"<p class='meta'>{e(', '.join(cfg['methods']))} cold starts from the same pairs, seeds {e(cfg['seeds'])}, "
        f"{cfg['steps']} steps, eval every {cfg['eval_every']}; Ψ = <b>{e(spec.metric)}</b> on spec {e(spec.name)}: "
        f"ID {e(', '.join(s.ref for s in spec.id))} vs OOD "
        f"{e(', '.join(s.ref + (f' ×{s.weight:g}' if s.weight != 1 else '') for s in spec.ood))} "
        f"({cfg['eval_limit']} items per set); Γ with β = {spec.beta:g}, gains over the base model{wall}.</p>{miss}"
        "<h3>Γ per method at the last cold-start step</h3><table class='study'><thead><tr><th>Method</th><th>Γ</th>"
        f"<th>Ψ_ID</th><th>Ψ_OOD</th><th>post-RL {e(cfg['final_metric'])}</th><th>mean Γ by Ψ</th></tr></thead><tbody>"
        f"{''.join(head)}</tbody></table><p class='note'>Mean over seeds; t95 = 95% Student-t interval over seeds "
        "(training randomness only: all seeds use the same pairs and eval items); range = min–max. Per-checkpoint "
        f"item-bootstrap intervals are in the table below.</p>{fit}{_figs(figs)}"
        + ("<details><summary>Γ differences between methods, paired by seed</summary><table class='sortable'>"
           "<thead><tr><th>b − a</th><th>Step</th><th>Γ(b) − Γ(a)</th><th>per seed</th></tr></thead>"
           f"<tbody>{con_rows}</tbody></table></details>" if con_rows else "")
        + (f"<h3>Exploration of the cold-start models</h3><table><thead><tr><th>Model</th><th>Split</th>"
           "<th>items×samples</th><th>pass@k (%)</th><th>RBF (tokens)</th><th>token entropy (nats)</th></tr></thead>"
           f"<tbody>{''.join(ex_rows)}</tbody></table>" if ex_rows else "")
        + (f"<h3>Downstream RL: stuckness</h3><table class='sortable'><thead><tr><th>Method</th><th>Seed</th>"
           "<th>steps</th><th>zero-variance groups (%)</th><th>all correct (%)</th><th>all wrong (%)</th><th>reward</th>"
           "<th>entropy</th><th>post-RL (%)</th></tr></thead>"
           f"<tbody>{''.join(rl_rows)}</tbody></table><p class='note'>first → last 20% of logged RL steps; a "
           "zero-variance group gives GRPO no gradient.</p>" if rl_rows else "")
        + "<details><summary>Every checkpoint</summary><table class='sortable'><thead><tr><th>Method</th>"
        "<th>Seed</th><th>Step</th><th>Ψ_ID</th><th>Ψ_OOD</th><th>G_ID</th><th>G_OOD</th><th>Γ [95% item bootstrap]"
        f"</th><th>status</th></tr></thead><tbody>{''.join(pts)}</tbody></table></details></section>")


def _leaderboard(data: dict[str, Any]) -> str:
    lb = data.get("leaderboard")
    if not lb:
        names = ", ".join(f"<code>{e(n)}</code>" for n in data.get("leaderboards_available") or [])
        return ('<section id="leaderboard"><h2>Leaderboard</h2><p class="note">None chosen (use '
                f"<code>--leaderboard NAME</code>; shipped: {names}; <code>specs-eval report --list-leaderboards</code> "
                "describes them).</p></section>")
    head = "".join(f"<th>{e(c['label'])}</th>" for c in lb["columns"])
    rows = []
    for r in lb["rows"]:
        cls = ' class="measured"' if r["kind"] == "measured" else ""
        cells = "".join(f'<td class="num">{lb_value(r["values"].get(c["key"]), r["kind"], lb["value_kind"])}</td>'
                        for c in lb["columns"])
        note = f'<span class="ci">{e(r["note"])}</span>' if r.get("note") else ""
        rows.append(f"<tr{cls}><td>{e(r['label'])}{note}</td>{cells}<td class=\"prov\">{e(r['provenance'])}</td></tr>")
    src = lb["source"]
    notes = "".join(f"<li>{e(n)}</li>" for n in lb["notes"])
    missing = ("" if lb["measured_cells"] else "<p class=\"note\">None of your runs measured these columns "
               "(different benchmarks or splits); measured rows show —.</p>")
    return (f'<section id="leaderboard"><h2>Leaderboard: {e(lb["title"])}</h2>'
            f'<div class="scroll"><table><thead><tr><th>Model</th>{head}<th>Provenance</th></tr></thead><tbody>'
            f'{"".join(rows)}</tbody></table></div>'
            f"{missing}<p class=\"note\">Published: {e(src['citation'])}, {e(src['location'])} ({e(src['url'])}); "
            f"{e(src['how'])}. Precision: {e(lb['precision'])}. Unit: {e(lb['unit'])}.</p><ul class=\"note\">{notes}</ul>"
            "</section>")


def _figs(figs: list[dict[str, str]]) -> str:
    return "".join(f'<div class="fig">{f["html"]}</div>' for f in figs)


def _exploration(data: dict[str, Any], figs: list[dict[str, str]]) -> str:
    ex = data["exploration"]
    if not ex:
        return '<section id="exploration"><h2>Exploration and stuckness</h2><p class="note">No samples.</p></section>'
    cols = [("pass@1", 1), ("pass@k", 1), ("exploration_gap", 1), ("majority@k", 1), ("unsolvable@k", 1),
            ("zero_variance@k", 1), ("all_correct@k", 1), ("all_wrong@k", 1), ("distinct_answers", 2),
            ("answer_entropy", 2), ("rbf", 2), ("token_entropy", 2), ("format_stickiness", 1),
            ("shift_compliance", 1)]
    head = "".join(f"<th>{e(c)}</th>" for c, _ in cols)
    rows = []
    for x in ex:
        cells = []
        for c, nd in cols:
            m = x["metrics"].get(c)
            cells.append('<td class="num">—</td>' if m is None else
                         f'<td class="num" data-v="{m["value"]}">{num(m["value"], nd)}{ci(m["lo"], m["hi"], nd)}</td>')
        n = f"{x['n_items']}×{x['n_min']}" if x["n_min"] == x["n_max"] else f"{x['n_items']}×{x['n_min']}–{x['n_max']}"
        rows.append(f"<tr><td>{e(x['run'])}</td><td>{e(x['benchmark'])}/{e(x['split'])}</td><td>{n}</td>"
                    f"<td>{x['k'] or '—'}</td>{''.join(cells)}</tr>")
    return ('<section id="exploration"><h2>Exploration and stuckness</h2>'
            '<div class="scroll"><table class="sortable"><thead><tr><th>Run</th><th>Split</th><th>items×samples</th>'
            f"<th>k</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            '<p class="note">Rates in %; exploration gap = pass@k − pass@1 (points); group rates are unbiased k-subset '
            "estimates (a GRPO group of k samples); zero variance = all k rewarded the same (all-correct + all-wrong "
            "for 0/1 rewards); distinct answers and answer entropy (nats) over the n samples of a prompt; RBF = mean "
            "top-p nucleus size per token; format stickiness = share of format-shift answers kept in the trained "
            "format; shift compliance = share following the requested format. Definitions: docs/metrics.md.</p>"
            f"{_figs(figs)}</section>")


def _training(data: dict[str, Any], figs: list[dict[str, str]]) -> str:
    t = data.get("training")
    if not t:
        return ('<section id="training"><h2>Training</h2><p class="note">No training run directories given '
                "(<code>--training DIR</code>).</p></section>")
    st = "".join(f"<tr><td>{e(s['run'])}</td><td>{e(s['stage_dir'])}</td><td>{e(s['stage'])}</td><td class=\"num\">"
                 f"{s['steps']}</td><td>{e(', '.join(f'{k}={v}' for k, v in s['manifest'].items()))}</td></tr>"
                 for s in t["stages"])
    gs = "".join(
        f"<tr><td>{e(g['run'])}</td><td>{e(g['stage'])}</td><td class=\"num\">{g['first_step']}–{g['last_step']}</td>"
        + "".join(f"<td class=\"num\">{num(None if g[f'{k}_first'] is None else 100 * g[f'{k}_first'])} → "
                  f"{num(None if g[f'{k}_last'] is None else 100 * g[f'{k}_last'])}</td>"
                  for k in ("zero_variance_rate", "all_correct_rate", "all_wrong_rate"))
        + f"<td>{e(g['source'])}</td></tr>" for g in t["group_summary"])
    group = ("<h3>GRPO group statistics (first → last 20% of logged steps, %)</h3><table><thead><tr><th>Run</th>"
             "<th>Stage</th><th>Steps</th><th>zero variance</th><th>all correct</th><th>all wrong</th><th>Source</th>"
             f"</tr></thead><tbody>{gs}</tbody></table>") if gs else ""
    return (f'<section id="training"><h2>Training</h2><table><thead><tr><th>Run</th><th>Folder</th><th>Stage</th>'
            f"<th>Logged steps</th><th>Manifest</th></tr></thead><tbody>{st}</tbody></table>{group}{_figs(figs)}"
            "</section>")


def _breakdowns(data: dict[str, Any], figs: list[dict[str, Any]]) -> str:
    """Ψ per category of each benchmark's official breakdown (results.json's keys), per run, with intervals."""
    bds = data.get("breakdowns") or []
    if not bds:
        return ('<section id="breakdowns"><h2>Per-category results</h2><p class="note">No breakdown keys in the runs\' '
                "results.json.</p></section>")
    runs = [r["name"] for r in data["runs"]]
    base = data["baseline"]
    fig_by_title = {f["title"]: f for f in figs}
    parts = []
    for b in bds:
        head = "".join(f"<th>{e(r)}</th>" + (f"<th>Δ {e(r)}</th>" if base is not None and r != base else "")
                       for r in runs)
        rows = []
        for row in b["rows"]:
            cells = []
            for r in runs:
                c = row["cells"].get(r)
                if c is None or c["value"] is None:
                    cells.append('<td class="num">—</td>')
                else:
                    cells.append(f'<td class="num" data-v="{c["value"]}">{num(c["value"])}{ci(c["lo"], c["hi"])}'
                                 f'<span class="ci">n={c["n_items"]}</span></td>')
                if base is not None and r != base:
                    d = row["delta"].get(r)
                    cells.append(f'<td class="num" data-v="{d}">{num(d, sign=True)}</td>' if d is not None else
                                 '<td class="num">—</td>')
            rows.append(f"<tr><td>{e(row['category'])}</td><td class=\"num\">{row['n_items']}</td>{''.join(cells)}</tr>")
        title = f"{b['benchmark']}/{b['split']} by {b['key']}"
        fig = fig_by_title.get(title)
        opened = " open" if b["chart"] else ""
        parts.append(f'<details class="breakdown"{opened}><summary><b>{e(b["benchmark"])}/{e(b["split"])}</b>'
                     f"{' (' + e(b['role']) + ')' if b['role'] else ''} by <b>{e(b['key'])}</b> — "
                     f"{len(b['rows'])} categories</summary><table class=\"sortable breakdown\"><thead><tr>"
                     f"<th>{e(b['key'])}</th><th>items</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
                     + (_figs([fig]) if fig else "") + "</details>")
    o = data["options"]
    return ('<section id="breakdowns"><h2>Per-category results (official breakdowns)</h2>'
            f'<p class="note">{e(o["metric"])} (%) per category of each benchmark\'s official breakdown keys, with 95% '
            "item-bootstrap intervals; Δ = candidate − baseline in points (no test: categories are small). An item with "
            "several labels (MathVista skills) counts in each. Tables are also in report.md and report.tex.</p>"
            + "".join(parts) + "</section>")


def _metrics(data: dict[str, Any]) -> str:
    """One column per registered metric (``specs_eval.core.metrics``): scores with intervals, then rates."""
    registry = list(METRIC_REGISTRY.values())
    rows = []
    for m in data["metrics"]:
        cells = []
        for metric in registry:
            v = m.get(metric.name)
            if v is None:
                cells.append('<td class="num">—</td>')
            elif isinstance(v, dict):
                cells.append(f'<td class="num" data-v="{v["value"]}">{num(v["value"])}{ci(v["lo"], v["hi"])}</td>')
            else:
                cells.append(f'<td class="num">{num(v)}</td>')
        rows.append(f"<tr><td>{e(m['run'])}</td><td>{e(m['benchmark'])}/{e(m['split'])}</td><td>{e(m['role'])}</td>"
                    f"<td class=\"num\">{m['n_items']}</td><td class=\"num\">{m['n_samples']}</td>{''.join(cells)}</tr>")
    head = "".join(f'<th title="{e(metric.description)}">{e(metric.name)}</th>' for metric in registry)
    return ('<section id="metrics"><h2>All metrics per run and split (%; tokens as counts)</h2><div class="scroll">'
            '<table class="sortable">'
            f"<thead><tr><th>Run</th><th>Split</th><th>Role</th><th>items</th><th>samples</th>{head}</tr></thead><tbody>"
            f"{''.join(rows)}</tbody></table></div></section>")


def _prov_table(keys: list[dict[str, Any]], runs: list[str]) -> str:
    head = "".join(f"<th>{e(r)}</th>" for r in runs)
    rows = "".join(f"<tr><td><code>{e(k['key'])}</code></td>" + "".join(f"<td>{e(k['values'].get(r))}</td>"
                                                                         for r in runs) + "</tr>" for k in keys)
    return f'<div class="scroll"><table><thead><tr><th>Key</th>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _provenance(data: dict[str, Any]) -> str:
    p = data["provenance"]
    runs = [r["name"] for r in data["runs"]]
    diff = [k for k in p["keys"] if k["differs"]]
    if len(runs) < 2:
        shown = '<p class="note">One run: all keys are listed below.</p>'
    elif diff:
        shown = f"<h3>Keys that differ ({len(diff)})</h3>{_prov_table(diff, runs)}"
    else:
        shown = '<p class="note">No provenance key differs between the runs.</p>'
    return (f'<section id="provenance"><h2>Provenance</h2>{shown}<details><summary>All {len(p["keys"])} keys</summary>'
            f"{_prov_table(p['keys'], runs)}</details></section>")


def _sample_block(label: str, side: dict[str, Any]) -> str:
    mean = "—" if side["mean_score"] is None else f"{side['mean_score']:.2f}"
    parts = [f"<h4>{e(label)} <span class=\"note\">mean score {mean}</span></h4>"]

    def one(s: dict[str, Any]) -> str:
        verdict = '<span class="ok">✓</span>' if s["correct"] else '<span class="bad">✗</span>'
        fmt = "" if s["format_ok"] is None else (" · format ok" if s["format_ok"] else " · format not followed")
        err = f" · error: {e(s['error'])}" if s["error"] else ""
        shown = e(s["extracted"] if s["extracted"] is not None else s["prediction"])
        if s["prediction"] is not None and s["extracted"] is not None and s["prediction"] != s["extracted"]:
            shown += f" → {e(s['prediction'])}"
        score = f"score {s['score']:.2f}" if s.get("scored", True) else "not scored"
        return (f"<div>{verdict} <span class=\"note\">#{s['sample_idx']} · extracted <b>{shown}</b> · "
                f"{score} · {e(s['parse_status'])}{fmt}{err}</span><pre>{e(s['response'])}</pre></div>")

    samples = side["samples"]
    parts.append(one(samples[0]))
    if len(samples) > 1:
        preds = ", ".join(f"{'✓' if s['correct'] else '✗'}{s['prediction'] if s['prediction'] is not None else '∅'}"
                          for s in samples[1:])
        parts.append(f"<details><summary>{len(samples) - 1} more sample(s): {e(preds)}</summary>"
                     f"{''.join(one(s) for s in samples[1:])}</details>")
    return f"<div>{''.join(parts)}</div>"


def _drilldown(data: dict[str, Any]) -> str:
    blocks = data["drilldown"]
    if not blocks:
        return ('<section id="drilldown"><h2>Disagreements</h2><p class="note">None to show (needs a baseline and a '
                "candidate on the same items).</p></section>")
    out = []
    for b in blocks:
        if b["total"] == 0:
            continue
        if b["direction"] == "candidate_only":
            what = f"{b['candidate']} right, {b['baseline']} wrong"
        else:
            what = f"{b['baseline']} right, {b['candidate']} wrong"
        items = []
        for it in b["items"]:
            img = (f'<img alt="image of {e(it["id"])}" src="{e(it["thumbnail"])}">' if it.get("thumbnail") else "")
            items.append(
                f'<article class="dd-item"><div><b>{e(it["id"])}</b><br>{img}<div class="note">{e(it["thumbnail_note"])}'
                f'</div><div class="note">target <b>{e(it["target"])}</b></div><details><summary>prompt</summary>'
                f"<pre>{e(it['prompt'])}</pre></details></div>"
                f"{_sample_block(b['baseline'], it['baseline'])}{_sample_block(b['candidate'], it['candidate'])}</article>")
        more = f" (showing {b['shown']})" if b["shown"] < b["total"] else ""
        out.append(f'<details class="dd-block"><summary><b>{e(b["benchmark"])}/{e(b["split"])}</b>: {e(what)} — '
                   f"{b['total']} item(s){more}</summary>{''.join(items)}</details>")
    return ('<section id="drilldown"><h2>Disagreements between runs</h2><p class="note">Items solved (mean score ≥ 0.5 '
            "over the prompt's samples) by one run and not the other; most different first; capped per split "
            f"({data['options']['max_disagreements']}, <code>--max-disagreements</code>).</p>"
            '<p><input id="dd-filter" type="search" placeholder="filter items (needs JavaScript)"> '
            '<button id="dd-expand" type="button">expand all</button></p>' + "".join(out) + "</section>")


def embedded_json(data: dict[str, Any]) -> str:
    """The data for the page's ``<script type="application/json">``: drill-down texts and thumbnails left out
    (they are in the page itself), and ``<``, ``>``, ``&`` escaped so no text can close the script element."""
    slim = dict(data)
    slim["drilldown"] = [{k: v for k, v in b.items() if k != "items"} | {"ids": [i["id"] for i in b["items"]]}
                         for b in data["drilldown"]]
    s = json.dumps(slim, ensure_ascii=False, separators=(",", ":"))
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def plotly_bundle() -> str:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    return js.replace("</script", "<\\/script")


def scrollable(body: str) -> str:
    """Every table in its own horizontal scroller: a wide table scrolls inside the page instead of being cut
    off or widening it (model text is escaped, so only our own markup contains ``<table``)."""
    body = body.replace('<div class="scroll"><table', "<table").replace("</table></div>", "</table>")
    body = re.sub(r"<table(?=[ >])", '<div class="scroll"><table', body)
    return body.replace("</table>", "</table></div>")


def render_html(data: dict[str, Any]) -> str:
    """The whole page. Deterministic: same data, same bytes."""
    figs = all_figures(data)
    body = scrollable("".join([
        _header(data), _flags(data), _study(data), _headline(data), _gf(data), _leaderboard(data),
        f'<section id="charts"><h2>Charts</h2>{_figs(figs["charts"])}</section>',
        _breakdowns(data, figs["breakdowns"]), _exploration(data, figs["exploration"]), _training(data, figs["training"]), _metrics(data),
        _provenance(data), _drilldown(data),
        f"<footer>specs-eval {e(data['toolkit_version'])} · report schema {data['schema_version']} · "
        "self-contained: no network access needed.</footer>",
    ]))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(data['title'])}</title><style>{CSS}</style>"
            f"<script type=\"text/javascript\">{plotly_bundle()}</script></head><body>{body}"
            f"<script type=\"application/json\" id=\"report-data\">{embedded_json(data)}</script>"
            f"<script>{JS}</script></body></html>\n")
