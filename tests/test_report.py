"""The comparison report: offline, single-file, deterministic, escaped, headline readable without JS."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser

import pytest

from analysis import splits_frame
from analysis.errors import AnalysisError
from analysis.report import ReportOptions, build_report, write_report
from specs_eval.benchmarks.images import report_sources
from tests.toy_runs import BASE, DPO, build_run, rewrite_jsonl

# benchmark code enters the report only through the options (thumbnails, roles of older runs)
OPTS = dict(n_boot=200, **report_sources())


class Page(HTMLParser):
    """Collects resource URLs, tables (cell text) and script blocks, the way a browser without JS sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.resources: list[tuple[str, str, str]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_script = False
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for attr in ("src", "href", "data", "poster", "srcset", "action"):
            if a.get(attr) is not None and not (tag == "a" and attr == "href"):
                self.resources.append((tag, attr, a[attr]))
        if tag == "link":
            self.resources.append((tag, "href", a.get("href") or ""))
        if tag == "script":
            self.scripts.append({"type": a.get("type"), "src": a.get("src"), "id": a.get("id")})
            self._in_script = True
        if tag == "table":
            self._table = (a.get("class") or "").split()[0] if a.get("class") else f"t{len(self.tables)}"
            self.tables.setdefault(self._table, [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None and not self._in_script:
            self._cell.append(data)


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def two_run_report(toy_run_dirs):
    return build_report([toy_run_dirs["base"], toy_run_dirs["dpo"]], options=ReportOptions(**OPTS))


def test_single_plotly_bundle_and_no_network_resources(two_run_report):
    html = two_run_report.html
    assert html.count("* plotly.js v") == 1
    page = parse(html)
    # every resource the page would load (script src, link href, img src, …) is inline
    assert page.resources and {tag for tag, _, _ in page.resources} == {"img"}
    for _tag, _attr, url in page.resources:
        assert url.startswith("data:image/png;base64,"), url
        assert not re.match(r"(https?:)?//", url)
    img_srcs = re.findall(r'<img [^>]*src="([^"]*)"', html)
    assert img_srcs and all(s.startswith("data:image/png;base64,") for s in img_srcs)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html.split("* plotly.js v")[0])  # no remote CSS
    assert all(s["src"] is None for s in page.scripts)
    json_blocks = [s for s in page.scripts if s["type"] == "application/json"]
    assert len(json_blocks) == 1 and json_blocks[0]["id"] == "report-data"


def test_headline_table_readable_without_js(two_run_report, toy_run_dirs):
    page = parse(two_run_report.html)
    table = page.tables["headline"]
    header, rows = table[0], table[1:]
    assert header[:5] == ["Benchmark", "Split", "Role", "base baseline", "dpo"]
    assert [r[1] for r in rows] == ["id", "ood_visual", "ood_task", "ood_format"]
    assert [r[2] for r in rows] == ["ID", "OOD", "OOD", "OOD"]
    sf = splits_frame([toy_run_dirs["base"], toy_run_dirs["dpo"]], n_boot=0).set_index(["run", "split"])
    for r in rows:
        base_txt, dpo_txt, delta_txt = r[3], r[4], r[5]
        assert base_txt.startswith(f"{100 * sf.loc[('base', r[1]), 'accuracy']:.1f} [")
        assert dpo_txt.startswith(f"{100 * sf.loc[('dpo', r[1]), 'accuracy']:.1f} [")
        d = 100 * (sf.loc[("dpo", r[1]), "accuracy"] - sf.loc[("base", r[1]), "accuracy"])
        assert delta_txt.startswith(f"{d:+.1f}")
    gf = page.tables["gf"]
    assert gf[0][:2] == ["Benchmark", "Candidate"] and gf[1][1] == "dpo"
    assert re.match(r"\d+\.\d \[\d+\.\d, \d+\.\d\]", gf[1][6])


def test_report_is_deterministic(toy_run_dirs, tmp_path):
    a = build_report([toy_run_dirs["base"], toy_run_dirs["dpo"]], options=ReportOptions(**OPTS))
    # same runs copied elsewhere: the output must not depend on where they live
    for n in ("base", "dpo"):
        shutil.copytree(toy_run_dirs[n], tmp_path / n)
    b = build_report([tmp_path / "base", tmp_path / "dpo"], options=ReportOptions(**OPTS))
    assert a.html == b.html and a.json == b.json and a.markdown == b.markdown
    p1 = write_report(a, tmp_path / "one" / "r.html")
    p2 = write_report(b, tmp_path / "two" / "r.html")
    for k in ("html", "json", "md"):
        assert p1[k].read_bytes() == p2[k].read_bytes()
    assert str(tmp_path) not in a.html and str(toy_run_dirs["base"].parent) not in a.html


def test_json_and_markdown_companions(two_run_report):
    data = json.loads(two_run_report.json)
    assert data["schema_version"] == 1 and data["kind"] == "specs-eval-report"
    g = data["gf"][0]
    assert g["config"]["metric"] == "accuracy" and g["config"]["beta"] == 2.0
    assert g["config"]["ood_splits"] == ["ood_visual", "ood_task", "ood_format"]
    assert data["options"]["n_boot"] == 200
    assert all("thumbnail" not in i for b in data["drilldown"] for i in b["items"])
    md = two_run_report.markdown
    assert "| toyworld | id | ID |" in md and "### Generalization Factor" in md
    h = data["headline"][0]
    assert f"{h['cells']['dpo']['value']:.1f}" in md.splitlines()[6]


def test_model_text_is_escaped(tmp_path):
    evil = "<script>alert('x')</script></script><img src=http://evil.example/x.png>&amp;"
    d = build_run(tmp_path, "evil", BASE, n_items=4, splits=("id",))
    base = build_run(tmp_path, "plain", DPO, n_items=4, splits=("id",))
    rewrite_jsonl(d / "samples.jsonl", lambda o: o | {"response": evil + o["response"], "correct": False,
                                                      "score": 0.0, "prediction": evil})
    (d / "results.json").unlink()
    rep = build_report([base, d], options=ReportOptions(n_boot=0, max_disagreements=5))
    html = rep.html
    assert "alert('x')" not in html.replace("alert(&#x27;x&#x27;)", "")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    page = parse(html)
    assert not any("evil.example" in u for _, _, u in page.resources)
    payload = html.split('<script type="application/json" id="report-data">', 1)[1].split("</script>", 1)[0]
    assert "</" not in payload and "<" not in payload
    json.loads(payload)  # still valid JSON


def test_thumbnails_are_verified_data_uris(two_run_report):
    items = [i for b in two_run_report.data["drilldown"] for i in b["items"]]
    assert items
    assert all(i["thumbnail"].startswith("data:image/png;base64,") for i in items)
    assert all("hash verified" in i["thumbnail_note"] for i in items)


def test_size_budget(two_run_report):
    size = len(two_run_report.html.encode())
    assert 4_500_000 < size < 6_500_000  # ≈ the plotly bundle once (4.8 MB) plus ~0.3 MB of report


# ---------------------------------------------------------------------------------------------
# Bad input: a clear message and a flagged report, never a wrong number

def flags(rep, code=None):
    return [f for f in rep.data["flags"] if code is None or f["code"] == code]


def test_old_schema_run_is_flagged_not_loaded(toy_run_dirs, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(toy_run_dirs["dpo"], old)
    rewrite_jsonl(old / "samples.jsonl", lambda o: o | {"schema_version": 0})
    rep = build_report([toy_run_dirs["base"], old], options=ReportOptions(**OPTS))
    assert rep.data["not_loaded"][0]["dir"] == "old"
    assert flags(rep, "run_not_loaded")[0]["severity"] == "refuse"
    assert "older schema" in rep.html and [r["name"] for r in rep.data["runs"]] == ["base"]
    # the baseline itself unreadable: no deltas, no GF
    rep = build_report([old, toy_run_dirs["base"]], options=ReportOptions(**OPTS))
    assert rep.data["baseline"] is None and rep.data["gf"] == [] and flags(rep, "baseline_not_loaded")
    with pytest.raises(AnalysisError, match="nothing to report"):
        build_report([old])


def test_different_item_sets_refused(tmp_path):
    a = build_run(tmp_path, "a", BASE, n_items=8)
    b = build_run(tmp_path, "b", DPO, n_items=6)
    rep = build_report([a, b], options=ReportOptions(**OPTS))
    assert all(h["deltas"]["b"]["status"] == "refused" for h in rep.data["headline"])
    assert rep.data["gf"][0]["status"] == "refused" and rep.data["gf"][0]["gamma"] is None
    assert "refused" in parse(rep.html).tables["headline"][1][5]
    rep = build_report([a, b], options=ReportOptions(common_items=True, **OPTS))
    assert all(h["deltas"]["b"]["status"] == "ok" and h["deltas"]["b"]["n_items"] == 6 for h in rep.data["headline"])
    assert flags(rep, "common_items_only")


def test_baseline_better_and_errors_and_empty_split(tmp_path):
    good = build_run(tmp_path, "good", DPO, n_items=8)
    worse = build_run(tmp_path, "worse", BASE, n_items=8, errors={"id": 3})
    rep = build_report([good, worse], options=ReportOptions(**OPTS))
    g = rep.data["gf"][0]
    assert g["gamma"] == 0.0 and g["status"] == "both_gains_nonpositive" and g["g_id"] < 0
    assert flags(rep, "gf_nonpositive_gain") and flags(rep, "generation_errors")
    id_cell = parse(rep.html).tables["headline"][1][4]
    assert "⚠" in id_cell
    empty = build_run(tmp_path, "empty", DPO, n_items=8, empty_splits=("ood_task",))
    rep = build_report([good, empty], options=ReportOptions(**OPTS))
    row = next(h for h in rep.data["headline"] if h["split"] == "ood_task")
    assert row["cells"]["empty"]["value"] is None and row["deltas"]["empty"]["status"] == "refused"
    assert rep.data["gf"][0]["status"] == "refused"


def test_different_data_and_settings_flagged(tmp_path):
    a = build_run(tmp_path, "a", BASE, n_items=6)
    b = build_run(tmp_path, "b", DPO, n_items=6, data_seed=1, temperature=0.7)
    rep = build_report([a, b], options=ReportOptions(**OPTS))
    assert flags(rep, "different_dataset")[0]["severity"] == "refuse"
    assert flags(rep, "different_generation")[0]["severity"] == "warn"
    assert all(h["deltas"]["b"]["status"] == "refused" for h in rep.data["headline"])


def test_leaderboard_and_training_sections(toy_run_dirs, training_dir):
    rep = build_report([toy_run_dirs["base"], toy_run_dirs["dpo"]], [training_dir],
                       ReportOptions(leaderboard="specs-table2", **OPTS))
    lb = rep.data["leaderboard"]
    assert {r["provenance"] for r in lb["rows"] if r["kind"] == "measured"} == {"measured here"}
    assert {r["provenance"] for r in lb["rows"] if r["kind"] == "published"} == {"published (SPECS paper, Table 2)"}
    assert "published (SPECS paper, Table 2)" in rep.html and "measured here" in rep.html
    assert rep.data["training"]["group_summary"][0]["stage"] == "rl"
    assert 'id="fig-training"' in rep.html
    # a training dir given positionally is recognised as such
    rep2 = build_report([toy_run_dirs["base"], toy_run_dirs["dpo"], training_dir], options=ReportOptions(**OPTS))
    assert rep2.data["training"] is not None and len(rep2.data["runs"]) == 2


def test_gf_figure_leaderboard_places_toy_runs(toy_run_dirs):
    rep = build_report([toy_run_dirs["base"], toy_run_dirs["dpo"]],
                       options=ReportOptions(leaderboard="specs-gf-figure", **OPTS))
    measured = {r["label"]: r["values"] for r in rep.data["leaderboard"]["rows"] if r["kind"] == "measured"}
    fc = splits_frame([toy_run_dirs["dpo"]], metrics=("format_compliance",), n_boot=0).set_index("split")
    assert measured["dpo"]["ood"] == pytest.approx(100 * fc.loc["ood_format", "format_compliance"], abs=1e-4)
    assert measured["dpo"]["gf"] is None


def test_warned_comparison_cells_are_marked(tmp_path):
    a = build_run(tmp_path, "a", BASE, n_items=6)
    b = build_run(tmp_path, "b", DPO, n_items=6, temperature=0.7)
    rep = build_report([a, b], options=ReportOptions(**OPTS))
    d = rep.data["headline"][0]["deltas"]["b"]
    assert d["status"] == "ok" and any("decoding settings differ" in w for w in d["warnings"])
    assert "⚠" in parse(rep.html).tables["headline"][1][5]
    assert "⚠" in rep.markdown


def test_single_run_and_training_only_reports(toy_run_dirs, training_dir):
    rep = build_report([toy_run_dirs["dpo"]], options=ReportOptions(**OPTS))
    assert rep.data["baseline"] == "dpo" and rep.data["gf"] == [] and rep.data["drilldown"] == []
    assert "Not computed: needs a baseline and at least one candidate" in rep.html
    assert len(parse(rep.html).tables["headline"]) == 5
    rep = build_report([], [training_dir], options=ReportOptions(**OPTS))
    assert rep.data["runs"] == [] and rep.data["training"]["stages"]
