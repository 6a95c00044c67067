"""The report as a paper appendix: per-category breakdowns, pass@k intervals, LaTeX and Markdown tables,
static figures, honest data-verification banners, escaped names, training axes, the console pass@k."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from analysis.report import ReportOptions, build_report, write_report
from analysis.report.static import export_figures, parse_formats
from tests.toy_runs import BASE, DPO, build_run, rewrite_jsonl


@pytest.fixture(scope="module")
def rep(toy_run_dirs, training_dir):
    return build_report([toy_run_dirs["base"], toy_run_dirs["dpo"]], [training_dir], ReportOptions(n_boot=200))


def test_breakdowns_are_the_official_keys_and_match_results_json(rep, toy_run_dirs):
    bds = rep.data["breakdowns"]
    assert {(b["split"], b["key"]) for b in bds} >= {("id", "family"), ("ood_format", "format")}
    res = json.loads((toy_run_dirs["dpo"] / "results.json").read_text())["benchmarks"]["toyworld"]["splits"]
    for b in bds:
        stored = res[b["split"]]["breakdowns"][b["key"]]
        assert [r["category"] for r in b["rows"]] == sorted(stored)
        for row in b["rows"]:
            cell = row["cells"]["dpo"]
            assert cell["value"] == pytest.approx(100 * stored[row["category"]]["accuracy"], abs=1e-4)
            assert cell["lo"] <= cell["value"] <= cell["hi"]
            if row["cells"]["base"]["value"] is not None:
                assert row["delta"]["dpo"] == pytest.approx(cell["value"] - row["cells"]["base"]["value"], abs=1e-4)
        assert b["chart"] == (3 <= len(b["rows"]) <= 12)
    html = rep.html
    assert 'id="breakdowns"' in html and html.count('class="sortable breakdown"') == len(bds)
    assert sum(b["chart"] for b in bds) == len(re.findall(r'id="fig-breakdown-\d+"', html))


def test_passk_curves_carry_item_bootstrap_intervals(rep):
    ex = [e for e in rep.data["exploration"] if len(e["pass_at_k"]) > 1]
    assert ex
    for e in ex:
        assert set(e["pass_at_k_ci"]) == set(e["pass_at_k"])
        for k, v in e["pass_at_k"].items():
            lo, hi = e["pass_at_k_ci"][k]
            assert lo - 1e-9 <= v <= hi + 1e-9
        vals = list(e["pass_at_k"].values())
        assert vals == sorted(vals)  # unbiased pass@k is non-decreasing in k
    assert "pass@k (%, unbiased, 95% item-bootstrap CI)" in rep.markdown


def test_latex_and_markdown_tables_are_written_beside_the_html(rep, tmp_path):
    paths = write_report(rep, tmp_path / "appendix.html")
    tex = paths["tex"].read_text()
    assert paths["tex"].name == "appendix.tex" and tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}")
    assert r"\label{tab:headline}" in tex and r"\label{tab:gf}" in tex and r"\label{tab:passk}" in tex
    assert tex.count(r"\label{tab:breakdown-") == len(rep.data["breakdowns"])
    # one headline row per benchmark split, numbers as in the data
    h = rep.data["headline"][0]
    assert f"{h['cells']['base']['value']:.1f}" in tex and r"ood\_format" in tex
    md = paths["md"].read_text()
    assert "### ID vs OOD" in md and "by family" in md
    assert paths["figures"] == {"written": [], "skipped": None}  # no figures asked for


def test_static_figures_or_the_reason_why_not(rep, tmp_path):
    figs = [{"id": "fig-x", "fig": __import__("plotly.graph_objects", fromlist=["Figure"]).Figure()}]
    try:
        import kaleido  # noqa: F401
    except ImportError:
        got = export_figures(figs, tmp_path / "f")
        assert got["written"] == [] and "kaleido is not installed" in got["skipped"]
        assert not (tmp_path / "f").exists()
    else:  # pragma: no cover - only where the optional extra is installed
        paths = write_report(rep, tmp_path / "r.html", figures=("svg", "png"))
        written = paths["figures"]["written"]
        if paths["figures"]["skipped"]:
            pytest.skip(paths["figures"]["skipped"])
        assert {p.suffix for p in written} == {".svg", ".png"}
        assert all(p.parent.name == "r_figures" for p in written)
        assert (tmp_path / "r_figures" / "fig-scatter-0.svg").read_text().lstrip().startswith("<svg")
    assert parse_formats("auto") is None and parse_formats("none") == () and parse_formats("svg,png") == ("svg", "png")
    with pytest.raises(ValueError, match="unknown figure format"):
        parse_formats("pdf")


def test_run_names_are_escaped_in_markdown_and_latex(tmp_path):
    evil = "<svg onload=alert(1)> **b** |x| _y_ & 50%"
    a = build_run(tmp_path, "plain", BASE, n_items=4, splits=("id",))
    b = build_run(tmp_path, "evil", DPO, n_items=4, splits=("id",))
    b = b.rename(b.parent / evil)
    r = build_report([a, b], options=ReportOptions(n_boot=0))
    md, tex = r.markdown, r.latex
    assert "<svg" not in md and "&lt;svg onload=alert(1)&gt; \\*\\*b\\*\\* \\|x\\| \\_y\\_ &amp; 50%" in md
    assert "<svg" not in tex and r"\textless{}svg onload=alert(1)\textgreater{} **b** |x| \_y\_ \& 50\%" in tex
    assert "&lt;svg onload=alert(1)&gt;" in r.html and "<svg onload" not in r.html


def test_banner_is_green_only_when_the_data_was_verified(toy_run_dirs, tmp_path):
    clean = build_report([toy_run_dirs["base"], toy_run_dirs["dpo"]], options=ReportOptions(n_boot=0))
    assert all(not c["unverified"] for c in clean.data["checks"])
    assert 'class="flags clean"' in clean.html and "content hashes compared in all" in clean.html
    # copies without manifests and without item hashes: nothing says the data is the same
    copies = []
    for name in ("base", "dpo"):
        d = shutil.copytree(toy_run_dirs[name], tmp_path / name)
        (d / "manifest.json").unlink()
        rewrite_jsonl(d / "samples.jsonl", lambda o: o | {"doc_hash": ""})
        copies.append(d)
    r = build_report(copies, options=ReportOptions(n_boot=0))
    (chk,) = r.data["checks"]
    assert chk["checked"] == [] and len(chk["unverified"]) == 4
    assert 'class="flags clean"' not in r.html and "could <b>not</b> be checked in 4" in r.html
    assert "no manifest" in r.html and "Data not verified" in r.markdown
    one = build_report([toy_run_dirs["base"]], options=ReportOptions(n_boot=0))
    assert 'class="flags clean"' not in one.html and "Nothing was compared" in one.html


def test_training_axes_have_titles_and_integer_steps(rep):
    from analysis.report.figures import training_curves

    (tc,) = training_curves(rep.data)
    lay = tc["fig"].layout
    xaxes = [lay[k] for k in lay if k.startswith("xaxis")]
    assert xaxes and all(a.title.text == "step" for a in xaxes)
    assert all(isinstance(a.dtick, int) and a.dtick >= 1 and a.tickformat == "d" for a in xaxes)
    yaxes = [lay[k] for k in lay if k.startswith("yaxis")]
    assert all(a.title.text for a in yaxes)


def test_leaderboard_section_lists_the_shipped_ones(rep):
    from analysis.leaderboard import available

    assert rep.data["leaderboards_available"] == available()
    assert all(f"<code>{n}</code>" in rep.html for n in available()) and "--list-leaderboards" in rep.html


def test_console_passk_table(toy_run_dirs):
    from rich.console import Console

    from analysis import load_run, samples_frame, split_exploration
    from analysis.frames import split_frame
    from specs_eval.cli.tables import passk_table

    table = passk_table(toy_run_dirs["dpo"], n_boot=100)
    assert table is not None
    con = Console(record=True, width=160)
    con.print(table)
    text = con.export_text()
    run = load_run(toy_run_dirs["dpo"])
    ex = split_exploration(split_frame(samples_frame([run]), "dpo", "toyworld", "id"), "dpo", "toyworld", "id",
                           n_boot=100)
    line = next(x for x in text.splitlines() if " id " in f" {x} ")
    assert f"{100 * ex.pass_at_k[1]:.1f}" in line and f"{100 * ex.pass_at_k[4]:.1f}" in line and "24×4" in line
    assert "pass@4" in text


def test_console_passk_absent_with_one_sample(tmp_path):
    from specs_eval.cli.tables import passk_table

    d = build_run(tmp_path, "one", BASE, n_items=4, n_samples=1, splits=("id",))
    assert passk_table(Path(d)) is None
