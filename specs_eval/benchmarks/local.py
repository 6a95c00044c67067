"""Reading benchmark rows from local files in the benchmark's own schema.

Why: nothing may be downloaded at run time here, and users keep pre-fetched copies
of datasets. ``--data PATH`` accepts ``.jsonl``, ``.json`` (a list, or a dict keyed by
id), ``.parquet``, or a ``datasets.save_to_disk`` directory. Images may be PIL
images, ``{"bytes": …, "path": …}`` dicts (the HF ``Image`` feature), raw bytes,
base64 strings / data URIs, or paths relative to the data file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from specs_eval.core.errors import BenchmarkError
from specs_eval.core.prompt import row_hash


def read_rows(path: str | Path, id_field: str | None = None) -> list[dict[str, Any]]:
    """All rows of a local data file or directory, in file order."""
    p = Path(path)
    if not p.exists():
        raise BenchmarkError(f"data path not found: {p}")
    try:
        if p.is_dir():
            return _read_dir(p)
        suffix = p.suffix.lower()
        if suffix == ".jsonl":
            return _read_jsonl(p)
        if suffix == ".json":
            return _read_json(p, id_field)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(p).to_pylist()
    except BenchmarkError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise BenchmarkError(f"cannot read data file {p}: {type(e).__name__}: {e}") from None
    raise BenchmarkError(f"unsupported data file {p}: expected .jsonl, .json, .parquet or a save_to_disk folder")


def _read_jsonl(p: Path) -> list[dict[str, Any]]:
    rows = []
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise BenchmarkError(f"{p}:{n}: not valid JSON ({e})") from None
            if not isinstance(row, dict):
                raise BenchmarkError(f"{p}:{n}: expected a JSON object per line")
            rows.append(row)
    return rows


def _read_json(p: Path, id_field: str | None) -> list[dict[str, Any]]:
    data = json.loads(p.read_text(encoding="utf-8"))
    if isinstance(data, list):
        rows = data
    elif isinstance(data, dict):
        rows = []
        for key, value in data.items():
            if not isinstance(value, dict):
                raise BenchmarkError(f"{p}: entry {key!r} is not an object")
            row = dict(value)
            if id_field and id_field not in row:
                row[id_field] = key
            rows.append(row)
    else:
        raise BenchmarkError(f"{p}: expected a list of rows or a dict keyed by id")
    if not all(isinstance(r, dict) for r in rows):
        raise BenchmarkError(f"{p}: every row must be a JSON object")
    return rows


def _read_dir(p: Path) -> list[dict[str, Any]]:
    if (p / "dataset_info.json").exists() or (p / "state.json").exists() or (p / "dataset_dict.json").exists():
        import datasets

        ds = datasets.load_from_disk(str(p))
        if isinstance(ds, datasets.DatasetDict):
            if len(ds) != 1:
                raise BenchmarkError(f"{p}: a DatasetDict with splits {list(ds)}; point --data at one split")
            ds = next(iter(ds.values()))
        return [dict(r) for r in ds]
    files = sorted(list(p.glob("*.jsonl")) + list(p.glob("*.parquet")))
    if not files:
        raise BenchmarkError(f"{p}: no save_to_disk dataset, .jsonl or .parquet files in this folder")
    rows: list[dict[str, Any]] = []
    for f in files:
        rows.extend(read_rows(f))
    return rows


def content_hash(rows: list[dict[str, Any]]) -> str:
    """Order-sensitive hash of rows (images by their bytes/pixels)."""
    h = hashlib.sha256()
    for r in rows:
        h.update(row_hash(r).encode())
    return h.hexdigest()[:16]


def load_image(value: Any, base_dir: Path | None = None, what: str = "image") -> Any:
    """Decode one image value into an RGB PIL image, or raise a one-line BenchmarkError."""
    from PIL import Image, UnidentifiedImageError

    try:
        if value is None:
            raise BenchmarkError(f"{what}: missing")
        if isinstance(value, Image.Image):
            img = value
        elif isinstance(value, dict):
            if value.get("bytes"):
                img = Image.open(io.BytesIO(value["bytes"]))
            elif value.get("path"):
                return load_image(value["path"], base_dir, what)
            else:
                raise BenchmarkError(f"{what}: neither bytes nor path")
        elif isinstance(value, bytes | bytearray):
            img = Image.open(io.BytesIO(value))
        elif isinstance(value, str):
            if value.startswith("data:"):
                img = Image.open(io.BytesIO(base64.b64decode(value.split(",", 1)[1])))
            else:
                path = Path(value)
                if not path.is_absolute() and base_dir is not None:
                    path = base_dir / path
                if path.exists():
                    img = Image.open(path)
                elif len(value) > 256:
                    img = Image.open(io.BytesIO(base64.b64decode(value, validate=True)))
                else:
                    raise BenchmarkError(f"{what}: file not found: {path}")
        else:
            raise BenchmarkError(f"{what}: unsupported value of type {type(value).__name__}")
        img.load()
        return img.convert("RGB")
    except BenchmarkError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, binascii.Error) as e:
        raise BenchmarkError(f"{what}: unreadable or corrupt image ({type(e).__name__}: {e})") from None
