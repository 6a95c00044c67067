"""Reading benchmark rows from local files in the benchmark's own schema.

Why: nothing may be downloaded at run time here, and users keep pre-fetched copies
of datasets. ``--data PATH`` accepts ``.jsonl``, ``.json`` (a list, or a dict keyed by
id), ``.parquet``, a ``datasets.save_to_disk`` directory, a folder of ``.jsonl``/``.parquet``
files, or a benchmark's hub snapshot (``specs_eval.benchmarks.snapshot``). Images may be
PIL images, ``{"bytes": …, "path": …}`` dicts (the HF ``Image`` feature), raw bytes,
base64 strings / data URIs, or paths relative to the data folder; a path never leaves that
folder and a URL is fetched only when allowed (``specs_eval.benchmarks.datapaths``).

Every row keeps its origin (file and row/line number) so a validation error can name both.
Files are read as UTF-8 (a leading byte-order mark is accepted); a byte that is not UTF-8
is an error naming the file and line. Fields starting with ``_`` are the toolkit's own
(e.g. ``_base_dir``) and are refused in data files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specs_eval.benchmarks import datapaths
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.prompt import row_hash

_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")
NEWLINE = b"\n"


@dataclass(frozen=True)
class Origin:
    """Where a row was read: a file and a 0-based row index (``line`` for JSON Lines, 1-based)."""

    file: str
    index: int
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else f"{self.file} row {self.index}"


def read_rows(path: str | Path, id_field: str | None = None) -> list[dict[str, Any]]:
    """All rows of a local data file or directory, in file order."""
    return read_rows_with_origin(path, id_field)[0]


def read_rows_with_origin(path: str | Path, id_field: str | None = None) -> tuple[list[dict[str, Any]], list[Origin]]:
    """Rows of a local data file or directory and, per row, where it was read."""
    p = Path(path)
    if not p.exists():
        raise BenchmarkError(f"data path not found: {p}")
    try:
        if p.is_dir():
            rows, origins = _read_dir(p)
        else:
            suffix = p.suffix.lower()
            if suffix == ".jsonl":
                rows, origins = _read_jsonl(p)
            elif suffix == ".json":
                rows, origins = _read_json(p, id_field)
            elif suffix == ".parquet":
                rows = read_parquet(p)
                origins = [Origin(str(p), i) for i in range(len(rows))]
            else:
                raise BenchmarkError(f"unsupported data file {p}: expected .jsonl, .json, .parquet, a "
                                     "save_to_disk folder or a benchmark's hub snapshot folder")
    except BenchmarkError:
        raise
    except (OSError, ValueError) as e:
        raise BenchmarkError(f"cannot read data file {p}: {type(e).__name__}: {e}") from None
    refuse_private_fields(rows, origins)
    return rows, origins


def refuse_private_fields(rows: list[dict[str, Any]], origins: list[Origin]) -> None:
    """Fields starting with ``_`` steer the toolkit (``_base_dir``): a data file may not set them."""
    for row, origin in zip(rows, origins, strict=True):
        private = [k for k in row if isinstance(k, str) and k.startswith("_")]
        if private:
            raise BenchmarkError(f"{origin}: field {private[0]!r} is reserved for the toolkit (fields starting with "
                                 "'_' are never read from data files); remove it")


def _decode(data: bytes, p: Path, line: int | None = None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        where = f"{p}:{line}" if line is not None else f"{p}: line {data.count(NEWLINE, 0, e.start) + 1}"
        raise BenchmarkError(f"{where}: not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); "
                             "save the file as UTF-8") from None


def _read_jsonl(p: Path) -> tuple[list[dict[str, Any]], list[Origin]]:
    rows, origins = [], []
    with p.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark is not part of line 1's JSON
                raw = raw[3:]
            line = _decode(raw, p, n)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError) as e:
                raise BenchmarkError(f"{p}:{n}: not valid JSON ({str(e)[:120]})") from None
            if not isinstance(row, dict):
                raise BenchmarkError(f"{p}:{n}: expected a JSON object per line, got {type(row).__name__}")
            rows.append(row)
            origins.append(Origin(str(p), len(rows) - 1, n))
    return rows, origins


def _read_json(p: Path, id_field: str | None) -> tuple[list[dict[str, Any]], list[Origin]]:
    data = p.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        parsed = json.loads(_decode(data, p))
    except (ValueError, RecursionError) as e:
        raise BenchmarkError(f"{p}: not valid JSON ({str(e)[:120]})") from None
    if isinstance(parsed, list):
        rows = parsed
        for n, r in enumerate(rows):
            if not isinstance(r, dict):
                raise BenchmarkError(f"{p} row {n}: every row must be a JSON object, got {type(r).__name__}")
    elif isinstance(parsed, dict):
        rows = []
        for key, value in parsed.items():
            if not isinstance(value, dict):
                raise BenchmarkError(f"{p}: entry {key!r} is not an object")
            row = dict(value)
            if id_field and id_field not in row:
                row[id_field] = key
            rows.append(row)
    else:
        raise BenchmarkError(f"{p}: expected a list of rows or a dict keyed by id")
    return rows, [Origin(str(p), i) for i in range(len(rows))]


def read_parquet(p: Path) -> list[dict[str, Any]]:
    """Rows of one parquet file through ``datasets`` (streaming: no Arrow copy in the cache; images stay
    encoded ``{bytes, path}`` dicts until a prompt needs them). A file cut short names the file."""
    import datasets

    try:
        ds = datasets.load_dataset("parquet", data_files={"rows": [str(p)]}, split="rows", streaming=True)
        return [dict(r) for r in ds.decode(False)]
    except Exception as e:  # ArrowInvalid / OSError from a truncated or foreign file
        raise BenchmarkError(f"{p}: cannot read this parquet file ({type(e).__name__}: {str(e)[:160]}); "
                             "it is incomplete or corrupt: download it again") from None


def _read_dir(p: Path) -> tuple[list[dict[str, Any]], list[Origin]]:
    if (p / "dataset_info.json").exists() or (p / "state.json").exists() or (p / "dataset_dict.json").exists():
        import datasets

        try:
            ds = datasets.load_from_disk(str(p))
        except Exception as e:
            raise BenchmarkError(f"{p}: cannot read this save_to_disk folder ({type(e).__name__}: {e})") from None
        if isinstance(ds, datasets.DatasetDict):
            if len(ds) != 1:
                raise BenchmarkError(f"{p}: a DatasetDict with splits {list(ds)}; point --data at one split")
            ds = next(iter(ds.values()))
        rows = [dict(r) for r in ds.to_iterable_dataset().decode(False)]
        return rows, [Origin(str(p), i) for i in range(len(rows))]
    files = sorted(list(p.glob("*.jsonl")) + list(p.glob("*.parquet")))
    if not files:
        raise BenchmarkError(f"{p}: no save_to_disk dataset, .jsonl or .parquet files in this folder, and not a "
                             "benchmark's hub snapshot (see docs/data.md for the layouts each benchmark reads)")
    rows: list[dict[str, Any]] = []
    origins: list[Origin] = []
    for f in files:
        r, o = read_rows_with_origin(f)
        rows.extend(r)
        origins.extend(o)
    return rows, origins


def content_hash(rows: list[dict[str, Any]]) -> str:
    """Order-sensitive hash of rows (images by their bytes/pixels)."""
    h = hashlib.sha256()
    for r in rows:
        h.update(row_hash(r).encode())
    return h.hexdigest()[:16]


def load_image(value: Any, base_dir: str | Path | None = None, what: str = "image") -> Any:
    """Decode one image value into an RGB PIL image, or raise a one-line BenchmarkError.

    A path is read only inside ``base_dir`` (the data folder), a URL only when allowed
    (``datapaths.configure(allow_urls=True)``), and an image only within the size limits.
    """
    from PIL import Image

    if value is None:
        raise BenchmarkError(f"{what}: missing")
    if isinstance(value, Image.Image):
        return value if value.mode == "RGB" else value.convert("RGB")
    if isinstance(value, dict):
        if value.get("bytes"):
            return datapaths.open_image(bytes(value["bytes"]), what)
        if value.get("path"):
            return load_image(str(value["path"]), base_dir, what)
        raise BenchmarkError(f"{what}: neither bytes nor path")
    if isinstance(value, bytes | bytearray):
        return datapaths.open_image(bytes(value), what)
    if isinstance(value, str):
        if value.startswith("data:"):
            return datapaths.open_image(_b64(value.split(",", 1)[-1], what), what)
        if datapaths.is_url(value):
            return datapaths.open_image(datapaths.fetch_url(value, what), what)
        if _looks_base64(value):
            return datapaths.open_image(_b64(value, what), what)
        path = datapaths.resolve_in(value, base_dir, what)
        if not path.is_file():
            raise BenchmarkError(f"{what}: file not found: {value} (in {base_dir})")
        return datapaths.open_image(path, what)
    raise BenchmarkError(f"{what}: unsupported value of type {type(value).__name__}")


_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM", b"II*\x00", b"MM\x00*")


def _looks_base64(value: str) -> bool:
    """Only base64 characters (a file name has a ``.``) and long, or decoding to an image's magic bytes:
    an embedded image, not a path."""
    if _BASE64.fullmatch(value) is None:
        return False
    if len(value) > 256:
        return True
    try:
        head = base64.b64decode(value[:16] + "=" * (-len(value[:16]) % 4))
    except (binascii.Error, ValueError):
        return False
    return head.startswith(_MAGIC)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as e:
        raise BenchmarkError(f"{what}: not valid base64 ({e})") from None


def image_ref_error(value: Any, base_dir: str | Path | None, what: str) -> str | None:
    """Why an image value cannot be read, checked without decoding it (load-time validation); ``None``: fine.

    Embedded bytes are taken as they are (decoding errors surface when the prompt is built); a path must
    name an existing file inside the data folder; a URL must be allowed.
    """
    from PIL import Image

    try:
        if value is None:
            return "missing"
        if isinstance(value, Image.Image | bytes | bytearray):
            return None
        if isinstance(value, dict):
            if value.get("bytes"):
                return None
            if value.get("path"):
                return image_ref_error(str(value["path"]), base_dir, what)
            return "neither bytes nor path"
        if isinstance(value, str):
            if value.startswith("data:") or _looks_base64(value):
                return None
            if datapaths.is_url(value):
                if not datapaths.policy().allow_urls:
                    return f"{value[:120]!r} is a URL (pass --allow-urls to permit fetching it)"
                if datapaths.offline():
                    return f"{value[:120]!r} is a URL and offline mode is set"
                return None
            path = datapaths.resolve_in(value, base_dir, what)
            return None if path.is_file() else f"file not found: {value} (in {base_dir})"
        return f"unsupported value of type {type(value).__name__}"
    except BenchmarkError as e:
        return str(e).removeprefix(f"{what}: ")
