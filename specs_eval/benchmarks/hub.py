"""Loading real benchmark splits from the Hugging Face hub or from local copies.

Why one helper: every real benchmark must (1) load a pinned revision, (2) accept a local
file in the same schema instead (``--data``), (3) record id, revision, split, row count
and content hash, and (4) refuse a hub split whose row count differs from the published
one — the silent dataset swaps reported against lmms-eval (#1077) are exactly that.
Local files may legitimately be subsets (fixtures, shards); for them a count mismatch
is recorded in ``DatasetInfo.expected_rows`` and surfaced as a warning by the CLI.

Nothing here runs at import time, and ``datasets`` is imported only when a hub split is
actually requested (tests never touch the network).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from specs_eval.benchmarks.base import LoadedSplit
from specs_eval.benchmarks.local import content_hash, read_rows
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.records import DatasetInfo


def load_hub_rows(hf_id: str, config: str | None, split: str, revision: str | None) -> list[dict[str, Any]]:
    """Rows of one hub split at ``revision`` (images decoded by ``datasets``)."""
    try:
        import datasets

        ds = datasets.load_dataset(hf_id, config, split=split, revision=revision)
    except Exception as e:  # network, auth, missing config: one clear line
        where = f"{hf_id}" + (f" config {config}" if config else "") + f" split {split} @ {revision or 'main'}"
        raise BenchmarkError(
            f"cannot load {where} from the Hugging Face hub ({type(e).__name__}: {e}); "
            "pass --data PATH with a local copy in the same schema"
        ) from None
    return [dict(r) for r in ds]


def hashable_view(row: dict[str, Any]) -> dict[str, Any]:
    """The part of a row the content hash covers: everything but our private ``_`` keys."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def finish_load(
    *,
    benchmark: str,
    split: str,
    rows: list[dict[str, Any]],
    source: str,
    expected: int | None,
    limit: int | None,
    hf_id: str | None = None,
    config: str | None = None,
    revision: str | None = None,
    path: str | Path | None = None,
    validate: Callable[[int, dict[str, Any]], None] | None = None,
) -> LoadedSplit:
    """Check the count, validate rows, apply ``limit``, hash and describe the split."""
    if source == "hf" and expected is not None and len(rows) != expected:
        raise BenchmarkError(
            f"{hf_id} split {split!r} has {len(rows)} rows, expected {expected}: the dataset changed "
            f"(revision {revision or 'main'}); refusing to score against different data"
        )
    if validate is not None:
        for n, r in enumerate(rows):
            validate(n, r)
    if limit is not None:
        rows = rows[: max(0, limit)]
    info = DatasetInfo(
        benchmark=benchmark,
        split=split,
        source=source,  # type: ignore[arg-type]
        hf_id=hf_id,
        revision=revision,
        config=config,
        path=str(path) if path is not None else None,
        rows=len(rows),
        content_hash=content_hash([hashable_view(r) for r in rows]),
        expected_rows=expected,
    )
    return LoadedSplit(rows=rows, info=info)


def read_local(data: str | Path, id_field: str) -> tuple[list[dict[str, Any]], Path]:
    """Rows of a local data path plus the folder relative image paths resolve against."""
    rows = read_rows(data, id_field)
    base = Path(data) if Path(data).is_dir() else Path(data).parent
    for r in rows:
        r.setdefault("_base_dir", str(base))
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
