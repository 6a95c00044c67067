"""Loading MEGA-Bench rows (hub or local files) and the per-task keyword metadata.

Why: rows stay exactly as stored in ``TIGER-Lab/MEGA-Bench`` (strings untouched,
``answer`` / ``metric_info`` / ``eval_context`` / media lists kept as their string
forms; parsed copies are derived on demand), so the official rules read what the
official evaluator reads. VLMEvalKit's conversion collapses whitespace; we never do.

Sources (``benchmarks.snapshot``):
* the hub at the pinned ``REVISION`` (the HF cache first, then only ``<config>/test-*.parquet``
  is downloaded: ``data.zip`` is 9 GB);
* ``--data SNAPSHOT``: the repo as downloaded (``core/``, ``open/``, ``core_single_image/``,
  ``open_single_image/`` + ``data.zip``), or its HF cache folder;
* ``--data FILE`` (``.jsonl`` / ``.json`` / ``.parquet`` / ``save_to_disk`` folder) in the same schema.

Media: ``media_root`` (or ``$MEGABENCH_MEDIA_ROOT``: a folder containing ``data/…``, or the
``data.zip`` itself); else ``data/`` or ``data.zip`` beside the parquet folders, read from the
archive without unpacking (``benchmarks.media``); else the data file's folder.

Task keywords (skills, input_format, output_format, num_input, app) come from an
``all_task_meta.json`` file (the official ``megabench/tools/all_task_meta.json``):
beside the data file, or ``$MEGABENCH_TASK_META``.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

from specs_eval.benchmarks.snapshot import Layout, SplitFiles, shard_files
from specs_eval.core.errors import BenchmarkError

HF_ID = "TIGER-Lab/MEGA-Bench"
#: pinned dataset revision: TIGER-Lab/MEGA-Bench@8107ecd6 ("Update README.md"; the four config folders and
#: data.zip unchanged since the 2024-10-18 upload, read on the hub's tree/commit pages). Override with
#: ``MegaBench(revision=...)`` or SPECS_EVAL_MEGABENCH_REVISION.
REVISION = os.environ.get("SPECS_EVAL_MEGABENCH_REVISION", "8107ecd6c1971ab2edf7d6e640cbf6c9f1799209")
CONFIGS = ("core", "open", "core_single_image", "open_single_image")
#: (tasks, queries) per config, from the official result files (docs/megabench.md)
EXPECTED = {"core": (440, 6531), "open": (65, 1158), "core_single_image": (273, 4108),
            "open_single_image": (42, 808)}
REQUIRED_FIELDS = ("id", "task_name", "task_description", "example_text", "query_text", "global_media",
                   "example_media", "query_media", "answer", "metric_info", "eval_context")
META_FILE = "all_task_meta.json"


def media_list(value: Any) -> list[str]:
    """A media column (string form of a list of relative paths) as a list."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError) as e:
        raise BenchmarkError(f"media field is not a list literal: {str(value)[:80]!r} ({e})") from None
    if not isinstance(parsed, list | tuple):
        raise BenchmarkError(f"media field is not a list: {str(value)[:80]!r}")
    return [str(v) for v in parsed]


def layout(revision: str | None = REVISION) -> Layout:
    """``<config>/test-*.parquet`` per config (all shards present), as on the hub."""

    def files(root: Path, split: str) -> SplitFiles | None:
        if not any((root / c).is_dir() for c in CONFIGS):
            return None
        return SplitFiles(shard_files(root / split, "test", f"{HF_ID} {split}"))

    return Layout(HF_ID, revision, files, lambda split: [f"{split}/test-*.parquet"])


def media_source(root: Path) -> Path:
    """Where a snapshot keeps its media: an unpacked ``data/`` folder (its parent), else ``data.zip``."""
    if (root / "data").is_dir():
        return root
    if (root / "data.zip").is_file():
        return root / "data.zip"
    return root


def check_rows(rows: list[dict[str, Any]], where: str) -> None:
    for n, row in enumerate(rows):
        missing = [k for k in REQUIRED_FIELDS if k not in row]
        if missing:
            raise BenchmarkError(f"{where}: row {n} ({row.get('id', '?')}) lacks field(s) {', '.join(missing)}")


def load_hub(config: str, revision: str = REVISION) -> list[dict[str, Any]]:
    """Rows of one config from the hub at a pinned revision (needs network or a warm HF cache)."""
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - datasets is a core dependency
        raise BenchmarkError(f"loading {HF_ID} needs the datasets package ({e})") from None
    try:
        ds = datasets.load_dataset(HF_ID, config, split="test", revision=revision)
    except Exception as e:
        raise BenchmarkError(
            f"cannot load {HF_ID} config {config!r} at revision {revision!r} ({type(e).__name__}: {e}); "
            "offline? pass --data with a local copy in the same schema"
        ) from None
    return [dict(r) for r in ds]


def find_task_meta(data: str | Path | None) -> Path | None:
    """``all_task_meta.json`` beside the data, or ``$MEGABENCH_TASK_META``."""
    env = os.environ.get("MEGABENCH_TASK_META")
    if env:
        return Path(env)
    if data is not None:
        p = Path(data)
        for folder in (p if p.is_dir() else p.parent, (p if p.is_dir() else p.parent).parent):
            if (folder / META_FILE).exists():
                return folder / META_FILE
    return None


def load_task_meta(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """Task name → keyword metadata; ``{}`` when no file is known."""
    if path is None:
        return {}
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BenchmarkError(f"cannot read task metadata {p}: {e}") from None
    if not isinstance(data, dict):
        raise BenchmarkError(f"{p}: expected an object keyed by task name")
    return data


def is_video_file(path: str) -> bool:
    """Same rule as upstream: the MIME type guessed from the extension starts with video."""
    import mimetypes

    mime, _ = mimetypes.guess_type(path)
    return bool(mime and mime.startswith("video"))


def is_single_image_task(meta: dict[str, Any] | None) -> bool:
    return bool(meta) and meta.get("num_input") == "1-image"
