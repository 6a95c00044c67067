"""Terminal tables and the run report hook used by ``specs-eval run``.

Why here: ``run`` prints a results table per split and writes a report next to the
results, but the report itself is a pure function of stored files that lives in
``analysis.report``; this module only calls it, so nothing in the engine depends on
how reports look.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from specs_eval.core.io import atomic_write_text
from specs_eval.core.metrics import METRICS, stored_value
from specs_eval.core.records import RunResults


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def results_table(results: RunResults, title: str = "") -> Table:
    """One row per benchmark and split, one column per registered metric marked ``terminal``."""
    # No vertical rules and no wrapping: the table fits 80 columns (a pipe or CI log) without
    # truncating benchmark or split names into "toywor…".
    table = Table(title=title or results.run_name, title_justify="left", box=box.SIMPLE_HEAD,
                  padding=(0, 1), pad_edge=False, collapse_padding=True)
    shown = [m for m in METRICS.values() if m.terminal]
    for col in ("benchmark", "split", "n", *(m.label for m in shown)):
        table.add_column(col, justify="left" if col in ("benchmark", "split") else "right", no_wrap=True,
                         min_width=len(col))
    for bname, b in results.benchmarks.items():
        for split, sm in b.splits.items():
            cells = [stored_value(sm, m.name) for m in shown]
            table.add_row(bname, split, str(sm.n_samples),
                          *(_pct(v) if m.percent else ("—" if v is None else f"{v:.1f}") for m, v in zip(shown, cells, strict=True)))
    return table


def print_results(results: RunResults, console: Console, title: str = "") -> None:
    console.print(results_table(results, title))
    for w in results.warnings:
        console.print(f"[yellow]warning: {w}[/yellow]")


def passk_table(run_dir: Path, n_boot: int = 1000, title: str = "") -> Table | None:
    """pass@k (unbiased, %) with 95% item-bootstrap intervals per split, for runs with n > 1 samples per prompt
    (``None`` otherwise). Computed by ``analysis`` from ``samples.jsonl``, as the report does."""
    from analysis import load_run, samples_frame, split_exploration
    from analysis.frames import split_frame

    run = load_run(run_dir)
    df = samples_frame([run])
    rows = []
    keys = run.split_keys()
    if run.results is not None:  # the order of the results table above it
        keys = [(b, sp) for b, br in run.results.benchmarks.items() for sp in br.splits if (b, sp) in keys]
    for bench, split in keys:
        ex = split_exploration(split_frame(df, run.name, bench, split), run.name, bench, split, n_boot=n_boot)
        if len(ex.pass_at_k) > 1:
            rows.append((bench, split, ex))
    if not rows:
        return None
    ks = sorted({k for _, _, ex in rows for k in ex.pass_at_k})
    table = Table(title=title or f"{run.name}: pass@k (%, unbiased; 95% CI over items)", title_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    for col in ("benchmark", "split", "items×n", *(f"pass@{k}" for k in ks)):
        table.add_column(col, justify="left" if col in ("benchmark", "split") else "right", no_wrap=True)
    for bench, split, ex in rows:
        cells = []
        for k in ks:
            v, ci = ex.pass_at_k.get(k), ex.pass_at_k_ci.get(k)
            cells.append("—" if v is None else f"{100 * v:.1f}" + (f" [{100 * ci[0]:.0f}–{100 * ci[1]:.0f}]"
                                                                   if ci else ""))
        table.add_row(bench, split, f"{ex.n_items}×{ex.n_min}", *cells)
    return table


def write_run_report(run_dirs: Sequence[Path], out: Path) -> Path:
    """Write the single-file offline HTML report of run directories (``analysis.report``).

    The first directory is the baseline of the comparison. Only the HTML is written here
    (the run directory layout stays as documented); ``specs-eval report`` also writes the
    JSON and Markdown companions.
    """
    from analysis.report import ReportOptions, build_report
    from specs_eval.benchmarks.images import report_sources

    atomic_write_text(out, build_report(list(run_dirs), options=ReportOptions(**report_sources())).html)
    return out
