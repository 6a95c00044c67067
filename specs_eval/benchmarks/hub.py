"""Loading real benchmark splits: pinned hub revisions, downloaded snapshots and local copies, validated.

Why one helper: every real benchmark must (1) load a pinned revision, (2) accept a local
copy instead (``--data``: the hub snapshot as downloaded, the HF cache, or a file in the
same schema; ``benchmarks.snapshot``), (3) record id, revision actually read, split, files,
row count and content hash, (4) refuse a pinned split whose row count differs from the
published one — the silent dataset swaps reported against lmms-eval (#1077) are exactly
that — and (5) validate every row against the benchmark's schema (``benchmarks.schemas``):
a bad row is a one-line error naming file, row and field, or, with ``--skip-bad-rows``, a
counted skip recorded in ``DatasetInfo.skipped``. Never a silent drop, never a wrong gold.

Local copies may legitimately be subsets (fixtures, shards, one MMMU subject); for them a
count mismatch is recorded in ``DatasetInfo.expected_rows``/``notes`` and surfaced as a
warning by the CLI.

Nothing here runs at import time, and ``datasets``/``huggingface_hub`` are imported only
when rows are actually read (tests never touch the network).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from specs_eval.benchmarks import datapaths
from specs_eval.benchmarks.base import LoadedSplit
from specs_eval.benchmarks.local import Origin, content_hash
from specs_eval.benchmarks.schemas import check_row
from specs_eval.benchmarks.snapshot import Layout, Located, locate
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.records import DatasetInfo

#: skipped rows listed by id in ``DatasetInfo.skipped_rows`` (the count per reason is always complete)
SHOWN_SKIPS = 20


def hashable_view(row: dict[str, Any]) -> dict[str, Any]:
    """The part of a row the content hash covers: everything but our private ``_`` keys."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


@dataclass
class Checks:
    """What a benchmark checks on each row at load."""

    schema: type[BaseModel] | None = None
    #: whether the split's gold answers must be present (False for splits whose answers are withheld)
    answers_required: bool = True
    #: a row's image/media problem (``None``: fine), checked on the rows kept after ``limit``
    images: Callable[[dict[str, Any]], str | None] | None = None


def split_tag_filter(rows: list[dict[str, Any]], origins: list[Origin], split: str,
                     tag: Callable[[dict[str, Any]], Any], where: str, known: Any = None
                     ) -> tuple[list[dict[str, Any]], list[Origin], list[str]]:
    """Keep the rows tagged ``split``.

    Untagged data is one split's file (all rows kept); a split no row is tagged with is an error
    listing the tags the data has (issue 16: a typo used to take every row). An untagged row in a
    file of one tag belongs to that split; in a file of several tags it is ambiguous: an error.
    """
    tags = [tag(r) for r in rows]
    present = sorted({str(t) for t in tags if t not in (None, "")})
    if not present:
        return rows, origins, []
    if split not in present:
        raise BenchmarkError(f"{where}: no row has split {split!r}; the split tags in the data are: "
                             f"{', '.join(present[:12])}")
    untagged = [i for i, t in enumerate(tags) if t in (None, "")]
    if untagged and len(present) > 1:
        raise BenchmarkError(f"{where}: {origins[untagged[0]]} has no split tag (metadata.split) in data holding "
                             f"several splits ({', '.join(present[:12])}); tag it")
    keep = [i for i, t in enumerate(tags) if str(t) == split or t in (None, "")]
    return [rows[i] for i in keep], [origins[i] for i in keep], []


def finish_load(
    *,
    benchmark: str,
    split: str,
    rows: list[dict[str, Any]],
    source: str,
    expected: int | None,
    limit: int | None,
    id_field: str = "id",
    origins: list[Origin] | None = None,
    checks: Checks | None = None,
    hf_id: str | None = None,
    config: str | None = None,
    revision: str | None = None,
    pinned_revision: str | None = None,
    path: str | Path | None = None,
    files: list[str] | None = None,
    notes: list[str] | None = None,
    answers_withheld: bool | None = None,
    validate: Callable[[int, dict[str, Any]], None] | None = None,
) -> LoadedSplit:
    """Check the count, validate rows (skip or fail), apply ``limit``, hash and describe the split."""
    notes = list(notes or [])
    origins = origins if origins is not None else [Origin(f"{hf_id or benchmark}:{split}", i) for i in range(len(rows))]
    if source == "hf" and expected is not None and len(rows) != expected:
        raise BenchmarkError(
            f"{hf_id} split {split!r} has {len(rows)} rows, expected {expected}: the dataset changed "
            f"(revision {revision or 'main'}); refusing to score against different data"
        )
    if validate is not None:
        for n, r in enumerate(rows):
            validate(n, r)
    skipped: dict[str, int] = {}
    skipped_rows: list[str] = []
    skip = datapaths.policy().skip_bad_rows

    def bad(origin: Origin, row: dict[str, Any], problem: str) -> None:
        rid = row.get(id_field, "?") if isinstance(row, dict) else "?"
        where = f"{benchmark} {split}: {origin} ({id_field}={str(rid)[:80]})"
        if not skip:
            raise BenchmarkError(f"{where}: {problem} (fix the data, or pass --skip-bad-rows to skip and count "
                                 "such rows)")
        reason = problem.split(":", 1)[0] if ":" in problem else problem
        skipped[reason] = skipped.get(reason, 0) + 1
        if len(skipped_rows) < SHOWN_SKIPS:
            skipped_rows.append(f"{where}: {problem}"[:300])

    if checks is not None and checks.schema is not None:
        kept, kept_o = [], []
        for r, o in zip(rows, origins, strict=True):
            problem = check_row(checks.schema, r, checks.answers_required)
            if problem is None:
                kept.append(r)
                kept_o.append(o)
            else:
                bad(o, r, problem)
        rows, origins = kept, kept_o
    if limit is not None:
        rows, origins = rows[: max(0, limit)], origins[: max(0, limit)]
    if checks is not None and checks.images is not None:
        kept, kept_o = [], []
        for r, o in zip(rows, origins, strict=True):
            problem = checks.images(r)
            if problem is None:
                kept.append(r)
                kept_o.append(o)
            else:
                bad(o, r, problem)
        rows, origins = kept, kept_o
    if skipped:
        notes.append(f"{sum(skipped.values())} bad row(s) skipped: "
                     + ", ".join(f"{k} ({v})" for k, v in sorted(skipped.items())))
    info = DatasetInfo(
        benchmark=benchmark,
        split=split,
        source=source,  # type: ignore[arg-type]
        hf_id=hf_id,
        revision=revision,
        pinned_revision=pinned_revision,
        config=config,
        path=str(path) if path is not None else None,
        files=files or None,
        rows=len(rows),
        content_hash=content_hash([hashable_view(r) for r in rows]),
        expected_rows=expected,
        skipped=skipped,
        skipped_rows=skipped_rows,
        notes=notes,
        answers_withheld=answers_withheld,
    )
    return LoadedSplit(rows=rows, info=info)


def load_located(*, benchmark: str, split: str, data: str | Path | None, layout: Layout, id_field: str,
                 expected: int | None, limit: int | None, checks_for: Callable[[Located], Checks],
                 tag: Callable[[dict[str, Any]], Any] | None = None, config: str | None = None,
                 prepare: Callable[[Located], None] | None = None,
                 answers_withheld: Callable[[Located], bool | None] | None = None) -> LoadedSplit:
    """Locate ``split`` (``snapshot.locate``), filter by split tag, set each row's data folder, validate.

    ``checks_for`` builds the checks once the rows are known (e.g. whether answers are withheld),
    ``prepare`` adapts rows in place (ids to strings, an answer file's ``ground_truth``).
    """
    loc = locate(data, split, layout, id_field)
    if tag is not None and loc.kind in ("file", "folder"):
        loc.rows, loc.origins, more = split_tag_filter(loc.rows, loc.origins, split, tag,
                                                       f"{benchmark} {data}")
        loc.notes += more
    if prepare is not None:
        prepare(loc)
    notes = list(loc.notes)
    for r in loc.rows:
        r["_base_dir"] = str(loc.root)
    source = "hf" if data is None else "local"
    withheld = answers_withheld(loc) if answers_withheld is not None else None
    if withheld:
        notes.append(f"answers withheld in this copy of {split}: predictions are written to a submission file "
                     "and not scored here")
    return finish_load(benchmark=benchmark, split=split, rows=loc.rows, origins=loc.origins, source=source,
                       expected=expected, limit=limit, id_field=id_field, checks=checks_for(loc),
                       hf_id=loc.hf_id, config=config, revision=loc.revision, pinned_revision=layout.pinned,
                       path=data, files=loc.files, notes=notes, answers_withheld=withheld)


def read_local(data: str | Path, id_field: str) -> tuple[list[dict[str, Any]], Path]:
    """Rows of a local data path plus the folder relative image paths resolve against (kept for callers
    that read plain files; benchmarks use :func:`load_located`)."""
    from specs_eval.benchmarks.local import read_rows

    rows = read_rows(data, id_field)
    base = Path(data) if Path(data).is_dir() else Path(data).parent
    for r in rows:
        r["_base_dir"] = str(base)
    return rows, base


def require_fields(benchmark: str, fields: tuple[str, ...], id_field: str) -> Callable[[int, dict[str, Any]], None]:
    """A row validator: every row has ``fields``; the message names the row and what is missing."""

    def check(n: int, row: dict[str, Any]) -> None:
        missing = [k for k in fields if k not in row]
        if missing:
            raise BenchmarkError(
                f"{benchmark}: row {n} ({id_field}={row.get(id_field, '?')}) lacks field(s) {', '.join(missing)}"
            )

    return check


def mark_withheld(verdict: Any) -> Any:
    """A verdict on a row whose gold answer is withheld: not scored (left out of accuracy, counted in
    ``extra.n_not_scored``), never a silent zero."""
    details = {**verdict.details, "not_scored": True, "gold_withheld": True}
    return verdict.model_copy(update={"details": details, "correct": False, "score": 0.0})
