"""Data that cannot reach outside its folder: file paths, URLs and image sizes named by data rows.

Why: a row of a downloaded data file is data, not an instruction. Before this module an
absolute ``image`` path, ``../../x.png``, a per-row ``_base_dir`` or a MathVista
``decoded_image`` path read any file on the machine, a ``decoded_image`` URL was fetched
over HTTP even with ``HF_HUB_OFFLINE`` set, and a 20000×20000 PNG ended in a
``DecompressionBombError`` traceback (issue 15). Every image or media file a benchmark
reads goes through here:

* a path is resolved (symbolic links followed, ``..`` collapsed) against the data folder
  and must stay inside it; a file of an HF hub cache snapshot may also live in the repo's
  ``blobs/`` folder, because snapshot files are symbolic links into it;
* a URL (any ``scheme://``) is refused unless the user allowed URLs (``--allow-urls``,
  :func:`configure`), and never fetched when ``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` is set;
* an image larger than :data:`DataPolicy.max_image_pixels` pixels or
  :data:`DataPolicy.max_image_bytes` bytes is a one-line ``BenchmarkError``.

The policy is process-wide on purpose (the CLI sets it once from its flags, like logging),
so loaders and prompt builders several calls deep read the same rules.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from specs_eval.core.errors import BenchmarkError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "SPECS_EVAL_OFFLINE")


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class DataPolicy:
    """What data rows may make the toolkit read."""

    #: fetch ``http(s)://`` images named by rows (off: a URL is an error naming the row)
    allow_urls: bool = False
    #: rows that fail validation are skipped and counted in ``DatasetInfo.skipped`` instead of stopping the load
    skip_bad_rows: bool = False
    #: PIL's own default bomb limit (about 89.5 M pixels); real benchmark images are far below it
    max_image_pixels: int = _env_int("SPECS_EVAL_MAX_IMAGE_PIXELS", 89_478_485)
    max_image_bytes: int = _env_int("SPECS_EVAL_MAX_IMAGE_BYTES", 64 * 1024 * 1024)
    url_timeout_s: float = 30.0


_policy = DataPolicy()


def policy() -> DataPolicy:
    return _policy


def configure(**changes: Any) -> DataPolicy:
    """Change the process-wide policy (the CLI's ``--allow-urls`` / ``--skip-bad-rows``); returns the old one."""
    global _policy
    old = _policy
    _policy = replace(_policy, **changes)
    return old


@contextmanager
def using(**changes: Any) -> Iterator[DataPolicy]:
    """The policy with ``changes`` inside a ``with`` block (tests, library callers)."""
    global _policy
    old = configure(**changes)
    try:
        yield _policy
    finally:
        _policy = old


def offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in _OFFLINE_VARS)


def is_url(value: str) -> bool:
    return bool(_URL.match(value))


# ---------------------------------------------------------------------------------------------- paths


def allowed_roots(base: Path) -> list[Path]:
    """Folders a file named relative to ``base`` may resolve into: ``base`` and, inside an HF hub cache
    snapshot (``datasets--ORG--NAME/snapshots/<rev>/…``), the repo's ``blobs/``."""
    absolute = Path(os.path.abspath(base))
    roots = [absolute.resolve()]
    for parent in (absolute, *absolute.parents):
        if parent.parent.name == "snapshots" and parent.parent.parent.name.startswith(("datasets--", "models--")):
            roots.append((parent.parent.parent / "blobs").resolve())
            break
    return roots


def inside(path: Path, roots: list[Path]) -> bool:
    real = path.resolve()
    return any(real == r or real.is_relative_to(r) for r in roots)


def resolve_in(value: str | Path, base: str | Path | None, what: str) -> Path:
    """The file a row names, resolved against the data folder ``base``; refused when it lies outside.

    ``what`` names the row and field in the message (e.g. ``"image of 17"``).
    """
    text = str(value)
    if is_url(text):
        raise BenchmarkError(f"{what}: {text[:200]!r} is a URL, not a file in the data folder")
    if base is None:
        raise BenchmarkError(f"{what}: names a file ({text[:200]!r}) but the rows came with no data folder to "
                             "read it from; embed the image bytes or pass --data with the folder")
    base = Path(base)
    path = Path(text)
    candidate = path if path.is_absolute() else base / path
    try:
        ok = inside(candidate, allowed_roots(base))
    except (OSError, RuntimeError, ValueError) as e:  # symlink loops, names too long, NUL bytes
        raise BenchmarkError(f"{what}: cannot resolve {text[:200]!r} ({type(e).__name__}: {e})") from None
    if not ok:
        raise BenchmarkError(f"{what}: {text[:200]!r} points outside the data folder {base}; "
                             "files named by data rows must lie inside it (symbolic links out count as outside)")
    return candidate.resolve()


# ---------------------------------------------------------------------------------------------- URLs


def fetch_url(url: str, what: str) -> bytes:
    """Bytes of an ``http(s)`` URL named by a row, only when the policy allows URLs and we are online."""
    if not _policy.allow_urls:
        raise BenchmarkError(f"{what}: {url[:200]!r} is a URL; data rows may not make the toolkit download files "
                             "(pass --allow-urls to permit it)")
    if offline():
        raise BenchmarkError(f"{what}: {url[:200]!r} is a URL and offline mode is set "
                             f"({', '.join(v for v in _OFFLINE_VARS if os.environ.get(v))}); not fetched")
    if not url.lower().startswith(("http://", "https://")):
        raise BenchmarkError(f"{what}: only http(s) URLs can be fetched, not {url[:200]!r}")
    import urllib.error
    import urllib.request

    limit = _policy.max_image_bytes
    try:
        with urllib.request.urlopen(url, timeout=_policy.url_timeout_s) as resp:
            data = resp.read(limit + 1)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise BenchmarkError(f"{what}: cannot fetch {url[:200]!r} ({type(e).__name__}: {e})") from None
    if len(data) > limit:
        raise BenchmarkError(f"{what}: {url[:200]!r} is larger than {limit:,} bytes (SPECS_EVAL_MAX_IMAGE_BYTES)")
    return data


# ---------------------------------------------------------------------------------------------- images

_PIXELS = re.compile(r"\((\d+) pixels\)")


def open_image(source: bytes | Path, what: str) -> Any:
    """Decode image bytes or a file (already confined) into an RGB PIL image within the size limits."""
    from PIL import Image, UnidentifiedImageError

    limit_b, limit_px = _policy.max_image_bytes, _policy.max_image_pixels
    size = len(source) if isinstance(source, bytes | bytearray) else _file_size(source, what)
    if size > limit_b:
        raise BenchmarkError(f"{what}: {size:,} bytes exceeds the image limit of {limit_b:,} "
                             "(SPECS_EVAL_MAX_IMAGE_BYTES)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source)
            pixels = img.size[0] * img.size[1]
            if pixels > limit_px:
                raise BenchmarkError(f"{what}: {img.size[0]}×{img.size[1]} = {pixels:,} pixels exceeds the image "
                                     f"limit of {limit_px:,} (SPECS_EVAL_MAX_IMAGE_PIXELS)")
            img.load()
        return img.convert("RGB")
    except BenchmarkError:
        raise
    except Image.DecompressionBombError as e:
        m = _PIXELS.search(str(e))
        shown = f"{int(m.group(1)):,} pixels" if m else "its size"
        raise BenchmarkError(f"{what}: {shown} exceeds the image limit of {limit_px:,} "
                             "(SPECS_EVAL_MAX_IMAGE_PIXELS)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
        raise BenchmarkError(f"{what}: unreadable or corrupt image ({type(e).__name__}: {e})") from None


def _file_size(path: Path, what: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError as e:
        raise BenchmarkError(f"{what}: cannot read {path} ({type(e).__name__}: {e})") from None
