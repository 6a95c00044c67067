"""ViRL39K (``TIGER-Lab/ViRL39K``), VL-Rethinker's RL data, as published.

Layout (dataset card; TIGER-AI-Lab/VL-Rethinker ``openrlhf/datasets/prompts_dataset.py``):
``39Krelease.parquet`` and ``images.zip`` at the root. Columns ``question`` (one ``<image>``
per image, options inline as ``Choices:\\n(A) …``), ``answer`` (``\\boxed{…}``; option letters
for multiple choice), ``image`` (relative paths ``images/…`` *inside* ``images.zip``),
``qid``, ``category``, ``source``, ``PassRate_32BTrained``, ``PassRate_7BBase``.

Images are read from the archive member by member (never unpacked into the working
directory); an ``images/`` folder beside the parquet (an unzipped copy) is used when present.
``datasets.load_dataset(FOLDER)`` would pick its ``imagefolder`` builder because of the
archive and return only an ``image`` column, so the parquet is read directly.
"""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.benchmarks.rlpool import RLPoolBenchmark, SkipRow, decode_image, image_size, read_parquet
from specs_eval.core.errors import BenchmarkError

PARQUET = "39Krelease.parquet"
ARCHIVE = "images.zip"
REQUIRED_COLUMNS = ("question", "answer", "image")

_ARCHIVES: dict[str, tuple[zipfile.ZipFile, frozenset[str]]] = {}
_LOCK = threading.Lock()


def open_archive(path: Path) -> tuple[zipfile.ZipFile, frozenset[str]]:
    """The archive and its member names, opened once per process; a bad archive is an error naming it."""
    key = str(path.resolve())
    with _LOCK:
        if key not in _ARCHIVES:
            try:
                z = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as e:
                raise BenchmarkError(f"cannot open {path} ({type(e).__name__}: {e}); the archive is incomplete or "
                                     "corrupt: download it again") from None
            _ARCHIVES[key] = (z, frozenset(z.namelist()))
        return _ARCHIVES[key]


def read_member(path: Path, member: str) -> bytes:
    z, _ = open_archive(path)
    with _LOCK:  # one ZipFile handle is not safe to read from several threads at once
        return z.read(member)


class ViRL39K(RLPoolBenchmark):
    name: ClassVar[str] = "virl39k"
    hf_id: ClassVar[str] = "TIGER-Lab/ViRL39K"
    revision_env: ClassVar[str] = "SPECS_EVAL_VIRL39K_REVISION"
    id_field: ClassVar[str] = "qid"
    published_rows: ClassVar[int | None] = 38_870  # dataset card
    breakdown_keys: ClassVar[tuple[str, ...]] = ("kind", "source", "category")

    def read_snapshot(self, root: Path, split: str) -> Iterator[dict[str, Any]]:
        if root.is_file():
            files, base = [root], root.parent
        else:
            files, base = ([root / PARQUET] if (root / PARQUET).exists() else sorted(root.glob("*.parquet"))), root
        if not files:
            raise BenchmarkError(f"{root}: no {PARQUET} (nor any .parquet file); not a ViRL39K snapshot (expected "
                                 f"{PARQUET} and {ARCHIVE} at the root, as on the hub)")
        archive = base / ARCHIVE
        unzipped = (base / "images").is_dir()
        for path in files:
            rows = read_parquet(path, base)
            if rows:
                missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
                if missing:
                    raise BenchmarkError(f"{path.name} in {base}: no column(s) {missing}; not a ViRL39K file "
                                         f"(columns: {sorted(rows[0])})")
            needs_images = any(r.get("image") for r in rows)
            if needs_images and not unzipped:
                if not archive.exists():
                    raise BenchmarkError(f"{archive} is missing: ViRL39K keeps its images in {ARCHIVE} beside "
                                         f"{path.name}; download it into {base}")
                open_archive(archive)  # a corrupt archive fails here, once, naming the file
            for i, row in enumerate(rows):
                row["_key"] = str(row.get("qid") or f"{path.name}#{i}")
                row["_root"] = str(base)
                yield row

    def question(self, row: dict[str, Any]) -> str:
        q = row.get("question")
        return q if isinstance(q, str) else ""

    def gold(self, row: dict[str, Any]) -> str | None:
        return row.get("answer")

    def _paths(self, row: dict[str, Any]) -> list[str]:
        value = row.get("image")
        if value is None:
            return []
        if isinstance(value, str):
            return [value] if value else []
        return [str(p) for p in value if p]

    def _bytes(self, row: dict[str, Any], rel: str) -> bytes:
        base = Path(row.get("_root") or ".")
        member = rel[2:] if rel.startswith("./") else rel
        on_disk = base / member
        if on_disk.is_file():
            return on_disk.read_bytes()
        archive = base / ARCHIVE
        if not archive.exists():
            raise SkipRow("missing_image", f"{member}: not in {base} and no {ARCHIVE}")
        _, names = open_archive(archive)
        if member not in names:
            raise SkipRow("missing_image", f"{ARCHIVE} has no member {member}")
        return read_member(archive, member)

    def check_images(self, row: dict[str, Any]) -> list[tuple[int, int]]:
        return [image_size(self._bytes(row, rel), rel) for rel in self._paths(row)]

    def images(self, row: dict[str, Any]) -> list[Any]:
        out = []
        for rel in self._paths(row):
            try:
                data = self._bytes(row, rel)
            except SkipRow as e:
                raise BenchmarkError(f"virl39k row {row.get('_key')}: {e.detail}") from None
            out.append(decode_image(data, f"virl39k row {row.get('_key')}: {rel}"))
        return out

    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**super().meta(row), "category": row.get("category")}
