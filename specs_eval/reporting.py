"""Terminal tables and the run report hook used by ``specs-eval run``.

Why here: ``run`` prints a results table per split and writes a report next to the
results, but the report itself is a pure function of stored files that lives in
``analysis.report``; this module only calls it, so nothing in the engine depends on
how reports look.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from specs_eval.records import RunResults


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def results_table(results: RunResults, title: str = "") -> Table:
    table = Table(title=title or results.run_name, title_justify="left")
    for col in ("benchmark", "split", "n", "acc%", "format%", "strict%", "noparse%", "trunc%", "err%"):
        table.add_column(col, justify="left" if col in ("benchmark", "split") else "right")
    for bname, b in results.benchmarks.items():
        for split, m in b.splits.items():
            table.add_row(bname, split, str(m.n_samples), _pct(m.accuracy), _pct(m.format_compliance),
                          _pct(m.extra.get("strict_accuracy")), _pct(m.parse_failure_rate),
                          _pct(m.truncation_rate), _pct(m.error_rate))
    return table


def print_results(results: RunResults, console: Console, title: str = "") -> None:
    console.print(results_table(results, title))
    for w in results.warnings:
        console.print(f"[yellow]warning: {w}[/yellow]")


def write_run_report(run_dirs: Sequence[Path], out: Path) -> Path:
    """Write the single-file HTML report for run directories (see ``analysis.report``)."""
    from specs_eval.io import atomic_write_text

    rows = []
    for d in run_dirs:
        res = RunResults.model_validate_json((Path(d) / "results.json").read_text(encoding="utf-8"))
        for bname, b in res.benchmarks.items():
            for split, m in b.splits.items():
                rows.append(f"<tr><td>{html.escape(res.run_name)}</td><td>{html.escape(bname)}</td>"
                            f"<td>{html.escape(split)}</td><td>{m.n_samples}</td><td>{_pct(m.accuracy)}</td>"
                            f"<td>{_pct(m.format_compliance)}</td></tr>")
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>specs-eval report</title></head><body>"
            "<h1>specs-eval report</h1><table border='1'><tr><th>run</th><th>benchmark</th><th>split</th><th>n</th>"
            "<th>accuracy %</th><th>format %</th></tr>" + "".join(rows) + "</table></body></html>\n")
    atomic_write_text(out, page)
    return out
