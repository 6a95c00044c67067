"""Published results as data, and placing measured runs beside them.

Why data and not a table in the docs: a report can then put a user's runs next to the
paper's numbers, with each cell saying where it came from. Files live in the
``leaderboards`` package (YAML, ``schema_version`` 1); ``leaderboards/README.md`` lists
sources and the precision of values read off figures. Published cells are always marked
"published (source)", measured cells "measured here"; a derived published column (an
average) is never filled for measured rows.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analysis.errors import AnalysisError

LEADERBOARD_SCHEMA_VERSION = 1


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source(_M):
    citation: str
    location: str
    url: str
    how: str


class Breakdown(_M):
    key: str
    value: str


class Column(_M):
    key: str
    label: str
    benchmark: str | None = None
    split: str | None = None
    metric: str | None = None
    breakdown: Breakdown | None = None
    derived: str | None = None


class Row(_M):
    model: str
    group: str | None = None
    role: str | None = None
    stage: str | None = None
    note: str | None = None
    values: dict[str, float | None]


class Leaderboard(_M):
    schema_version: int
    name: str
    title: str
    source: Source
    value_kind: Literal["table", "figure_bar_labels", "read_off_figure"]
    precision: str
    unit: str
    notes: list[str] = Field(default_factory=list)
    columns: list[Column]
    rows: list[Row]

    def label(self, row: Row) -> str:
        return f"{row.model} ({row.stage})" if row.stage else row.model

    @property
    def short_source(self) -> str:
        return f"SPECS paper, {self.source.location}" if "SPECS" in self.source.citation else self.source.location


def available() -> list[str]:
    """Names of the shipped leaderboards."""
    files = resources.files("leaderboards")
    return sorted(p.name[: -len(".yaml")] for p in files.iterdir() if p.name.endswith(".yaml"))


def load_leaderboard(name: str) -> Leaderboard:
    """A shipped leaderboard by name (see ``available()``)."""
    known = available()
    if name not in known:
        raise AnalysisError(f"unknown leaderboard {name!r}; known: {', '.join(known)}")
    text = resources.files("leaderboards").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or data.get("schema_version") != LEADERBOARD_SCHEMA_VERSION:
        raise AnalysisError(f"leaderboard {name!r}: schema version {data.get('schema_version') if isinstance(data, dict) else None!r}"
                            f", expected {LEADERBOARD_SCHEMA_VERSION}")
    try:
        lb = Leaderboard.model_validate(data)
    except ValidationError as e:
        raise AnalysisError(f"leaderboard {name!r} is malformed: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from None
    keys = {c.key for c in lb.columns}
    for r in lb.rows:
        unknown = set(r.values) - keys
        if unknown:
            raise AnalysisError(f"leaderboard {name!r}: row {r.model!r} has values for unknown columns {sorted(unknown)}")
    return lb


def format_value(v: float | None, kind: str, value_kind: str) -> str:
    """Published values as printed (prefixed ≈ when read off a figure); measured ones with 2 decimals."""
    if v is None:
        return "—"
    if kind == "measured":
        return f"{v:.2f}"
    return ("≈" if value_kind == "read_off_figure" else "") + f"{v:g}"


def place_runs(lb: Leaderboard, runs: list[str], lookup: Callable[[str, Column], float | None]) -> dict[str, Any]:
    """The leaderboard with measured rows appended: a JSON-able table the report renders.

    ``lookup(run, column)`` returns the run's value for a column in the leaderboard's unit
    (percent), or ``None`` when the run did not measure it.
    """
    cols = [{"key": c.key, "label": c.label, "benchmark": c.benchmark, "split": c.split, "metric": c.metric,
             "breakdown": c.breakdown.model_dump() if c.breakdown else None, "derived": c.derived}
            for c in lb.columns]
    rows: list[dict[str, Any]] = []
    for r in lb.rows:
        rows.append({"label": lb.label(r), "kind": "published", "provenance": f"published ({lb.short_source})",
                     "group": r.group, "role": r.role, "note": r.note,
                     "values": {c.key: r.values.get(c.key) for c in lb.columns}})
    matched = 0
    for run in runs:
        vals: dict[str, float | None] = {}
        for c in lb.columns:
            v = None if c.derived or c.benchmark is None else lookup(run, c)
            vals[c.key] = v
            matched += v is not None
        rows.append({"label": run, "kind": "measured", "provenance": "measured here", "group": None, "role": None,
                     "note": None, "values": vals})
    return {"name": lb.name, "title": lb.title, "source": lb.source.model_dump(), "value_kind": lb.value_kind,
            "precision": lb.precision, "unit": lb.unit, "notes": lb.notes, "columns": cols, "rows": rows,
            "measured_cells": matched}
