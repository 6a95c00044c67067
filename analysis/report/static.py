"""Static SVG/PNG copies of the report's figures, for a paper or a slide, via plotly's own export.

Why plotly's export (kaleido) and not screenshots: the files are the same figures as the
page, vector (SVG) or raster (PNG), with no browser window. Kaleido drives a local
Chrome/Chromium headless, offline; it is an optional dependency (``pip install
'specs-eval[report-static]'``). Without it, or without a browser it can start, no figure is
written and the reason is returned (the Markdown and LaTeX tables are written regardless).
SVG files are not byte-identical between exports (plotly draws random clip-path ids); the
numbers in them are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

FORMATS = ("svg", "png")
WIDTH = 1000


def parse_formats(value: str) -> tuple[str, ...] | None:
    """``auto`` → every format (skipped quietly without kaleido), ``none`` → (), else a comma list."""
    v = value.strip().lower()
    if v == "auto":
        return None
    if v in ("none", ""):
        return ()
    out = tuple(x.strip() for x in v.split(",") if x.strip())
    bad = [x for x in out if x not in FORMATS]
    if bad:
        raise ValueError(f"unknown figure format(s) {', '.join(bad)}; use svg, png, both as svg,png, auto or none")
    return out


def export_figures(figs: Sequence[dict[str, Any]], folder: Path, formats: Sequence[str] = FORMATS
                   ) -> dict[str, Any]:
    """Write each figure as ``folder/<id>.<fmt>``; returns ``{"written": [paths], "skipped": reason | None}``."""
    figs = [f for f in figs if f.get("fig") is not None]
    if not figs or not formats:
        return {"written": [], "skipped": None if figs else "no figures"}
    try:
        import kaleido  # noqa: F401  (plotly's exporter; optional)
        import plotly.io as pio
    except ImportError:
        return {"written": [], "skipped": "kaleido is not installed (pip install 'specs-eval[report-static]'): "
                "no SVG/PNG figures; the Markdown and LaTeX tables are written"}
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for fmt in formats:
            paths = [folder / f"{f['id']}.{fmt}" for f in figs]
            pio.write_images([f["fig"] for f in figs], paths, format=fmt, width=WIDTH,
                             height=[int(f["fig"].layout.height or 450) for f in figs])
            written += paths
    except Exception as e:  # no browser, a sandbox refusing it… : the tables still stand
        return {"written": [p for p in written if p.exists()],
                "skipped": f"static export failed ({type(e).__name__}: {str(e)[:200]}); kaleido needs Chrome or "
                           "Chromium (e.g. apt-get install chromium)"}
    return {"written": written, "skipped": None}
