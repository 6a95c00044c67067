"""A report built from two toy-world runs opens in headless Chromium, offline, with no console errors.

Needs a Chromium binary (``chromium`` on PATH, or ``$SPECS_EVAL_CHROMIUM``); skipped otherwise.
CI: ``apt-get install -y chromium`` (Debian/Ubuntu) before running the tests.
"""

from __future__ import annotations

import pytest

from analysis.report import ReportOptions, build_report, write_report
from tests.browser import find_chromium, open_offline

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (install it, e.g. `apt-get install -y chromium`, or set SPECS_EVAL_CHROMIUM)",
)

CHECKS = {
    "figures": "document.querySelectorAll('.plotly-graph-div').length",
    "rendered": "document.querySelectorAll('.plotly-graph-div .main-svg').length",
    "plotly": "typeof Plotly === 'object' ? Plotly.version : null",
    "headline_cells": "document.querySelectorAll('table.headline td').length",
    "first_heading": "document.querySelector('h2').textContent",
    "data_runs": "JSON.parse(document.getElementById('report-data').textContent).runs.length",
    "filter": ("(function(){var f=document.getElementById('dd-filter');f.value='zzz-no-match';"
               "f.dispatchEvent(new Event('input'));return Array.prototype.filter.call("
               "document.querySelectorAll('article.dd-item'),function(a){return a.style.display!=='none'}).length})()"),
    # the appendix sections
    "breakdown_tables": "document.querySelectorAll('#breakdowns table.breakdown').length",
    "breakdown_charts": "document.querySelectorAll('#breakdowns .plotly-graph-div').length",
    "breakdown_first_row": ("Array.prototype.map.call(document.querySelector('#breakdowns table.breakdown tbody tr')"
                            ".cells,function(c){return c.textContent}).join('|')"),
    "scatter_points": ("(function(){var g=document.getElementById('fig-scatter-0');return g?g.data.filter("
                       "function(t){return t.mode==='markers+text'}).length:-1})()"),
    "passk_error_bars": ("(function(){var g=document.getElementById('fig-passk-0');return g?g.data.filter("
                         "function(t){return t.error_y&&t.error_y.array&&t.error_y.array.length}).length:-1})()"),
    "training_xtitle": ("(function(){var g=document.getElementById('fig-training');return g?g.layout.xaxis.title.text"
                        "+'|'+g.layout.xaxis.dtick:null})()"),
    # responsive: the page never scrolls sideways; wide tables scroll inside their own box
    "page_overflow": "document.documentElement.scrollWidth - window.innerWidth",
    "scrolling_tables": ("Array.prototype.filter.call(document.querySelectorAll('.scroll'),function(d){"
                         "return d.scrollWidth>d.clientWidth+1}).length"),
    "unwrapped_tables": ("Array.prototype.filter.call(document.querySelectorAll('table'),function(t){"
                         "return !t.parentElement.classList.contains('scroll')}).length"),
    "banner": "document.getElementById('flags').className",
}


def test_report_opens_offline_without_errors(toy_run_dirs, training_dir, tmp_path):
    rep = build_report([toy_run_dirs["base"], toy_run_dirs["dpo"]], [training_dir],
                       ReportOptions(n_boot=200, leaderboard="specs-gf-figure"))
    out = write_report(rep, tmp_path / "report.html")["html"]
    # a laptop-sized window: narrower than the all-metrics table
    res = open_offline(CHROMIUM, out, screenshot=tmp_path / "shot.png", evaluate=CHECKS, width=1100)
    assert res.exceptions == []
    assert res.console_errors == []
    assert res.external_requests == []
    assert res.requests and all(u.startswith(("file:", "data:")) for u in res.requests)
    ev = res.evaluated
    assert ev["plotly"] and ev["figures"] >= 5
    assert ev["rendered"] >= ev["figures"]  # every figure drew its SVG
    assert ev["headline_cells"] == 4 * 6
    assert ev["first_heading"].startswith("Headline")
    assert ev["data_runs"] == 2
    assert ev["filter"] == 0
    bds = rep.data["breakdowns"]
    assert ev["breakdown_tables"] == len(bds) and ev["breakdown_charts"] == sum(b["chart"] for b in bds)
    first = bds[0]["rows"][0]
    assert ev["breakdown_first_row"].startswith(f"{first['category']}|{first['n_items']}|")
    assert f"{first['cells']['base']['value']:.1f}" in ev["breakdown_first_row"]
    assert ev["scatter_points"] == 2  # base and dpo at (Ψ_ID, Ψ_OOD)
    assert ev["passk_error_bars"] >= 2
    assert ev["training_xtitle"].startswith("step|") and float(ev["training_xtitle"].split("|")[1]).is_integer()
    assert ev["page_overflow"] <= 1 and ev["scrolling_tables"] >= 1 and ev["unwrapped_tables"] == 0
    assert ev["banner"] == "flags clean"  # toy runs record dataset and item hashes
    png = (tmp_path / "shot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_a_page_that_needs_the_network_is_caught(tmp_path):
    # guard for the harness: a remote script must show up as an attempted external request
    page = tmp_path / "remote.html"
    page.write_text('<!DOCTYPE html><html><head><script src="https://cdn.example.org/x.js"></script></head>'
                    "<body><script>console.error('boom')</script></body></html>")
    res = open_offline(CHROMIUM, page)
    assert any("cdn.example.org" in u for u in res.external_requests)
    assert any("boom" in m for m in res.console_errors)


def test_headline_readable_with_javascript_disabled(toy_run_dirs, tmp_path):
    rep = build_report([toy_run_dirs["base"], toy_run_dirs["sft"]], options=ReportOptions(n_boot=100))
    out = write_report(rep, tmp_path / "nojs.html")["html"]
    res = open_offline(CHROMIUM, out, screenshot=tmp_path / "nojs.png", javascript=False, evaluate={
        "plotted": "document.querySelectorAll('.plotly-graph-div .main-svg').length",
        "cells": "Array.prototype.map.call(document.querySelectorAll('table.headline tr'), "
                 "function(r){return r.innerText}).join('\\n')",
    })
    assert res.evaluated["plotted"] == 0  # scripts really were off
    text = res.evaluated["cells"]
    first = rep.data["headline"][0]
    assert f"{first['cells']['base']['value']:.1f}" in text and f"{first['deltas']['sft']['delta']:+.1f}" in text
    assert res.external_requests == []
