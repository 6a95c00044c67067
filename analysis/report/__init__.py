"""Comparison reports: pure functions of stored run (and training) directories.

Why pure: reports are never emitted from inside eval or training loops (design-anchors
§3.3); ``build_report`` reads files and returns strings, ``write_report`` writes them.

    from analysis.report import build_report, write_report
    rep = build_report(["runs/base", "runs/specs"])
    write_report(rep, "report.html")   # + report.json, report.md, report.tex, report_figures/*.svg|png
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.report.data import REPORT_SCHEMA_VERSION, ReportOptions, build_report_data
from analysis.report.html import render_html
from analysis.report.latex import render_latex
from analysis.report.markdown import render_markdown


@dataclass
class Report:
    data: dict[str, Any]
    html: str
    markdown: str
    latex: str = ""

    @property
    def json(self) -> str:
        """The JSON companion: the full data without thumbnails (they are only useful in the page)."""
        slim = dict(self.data)
        slim["drilldown"] = [b | {"items": [{k: v for k, v in i.items() if k != "thumbnail"} for i in b["items"]]}
                             for b in self.data["drilldown"]]
        return json.dumps(slim, ensure_ascii=False, indent=1) + "\n"


def build_report(inputs: Sequence[Any], training: Sequence[Any] = (), options: ReportOptions | None = None) -> Report:
    data = build_report_data(inputs, training, options)
    return Report(data=data, html=render_html(data), markdown=render_markdown(data), latex=render_latex(data))


def write_report(report: Report, out: str | Path, json_path: str | Path | None = None,
                 md_path: str | Path | None = None, figures: Sequence[str] = ()) -> dict[str, Any]:
    """Write the HTML and, next to it, ``<stem>.json``, ``<stem>.md`` and ``<stem>.tex``; with ``figures``
    (``("svg", "png")``) also ``<stem>_figures/<figure id>.<fmt>`` (``static.export_figures``: needs kaleido).

    Returns the paths, plus ``figures`` = ``{"written": [...], "skipped": reason or None}``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Any] = {"html": out, "json": Path(json_path) if json_path else out.with_suffix(".json"),
                             "md": Path(md_path) if md_path else out.with_suffix(".md"), "tex": out.with_suffix(".tex")}
    paths["html"].write_text(report.html, encoding="utf-8")
    paths["json"].write_text(report.json, encoding="utf-8")
    paths["md"].write_text(report.markdown, encoding="utf-8")
    paths["tex"].write_text(report.latex or render_latex(report.data), encoding="utf-8")
    paths["figures"] = {"written": [], "skipped": None}
    if figures:
        from analysis.report.figures import all_figures, study_figures
        from analysis.report.static import export_figures

        figs = [f for group in all_figures(report.data).values() for f in group] + study_figures(report.data)
        paths["figures"] = export_figures(figs, out.parent / f"{out.stem}_figures", figures)
    return paths


__all__ = ["REPORT_SCHEMA_VERSION", "Report", "ReportOptions", "build_report", "build_report_data", "render_html",
           "render_latex", "render_markdown", "write_report"]
