"""Media files named by rows (MEGA-Bench), read from a folder or straight out of a zip archive.

Why: MEGA-Bench keeps its images and videos in one 9 GB ``data.zip`` beside the parquet
files; rows name them by relative paths (``./data/<task>/<file>``). Users may unpack it
(the MEGA-Bench README: ``unzip data.zip``) or not: both work, the archive is read member by
member and never unpacked to the working directory. Either way a row's path must stay inside
the media folder or archive (no absolute paths, no ``..`` out of it, no URLs:
``benchmarks.datapaths``).
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from typing import Any

from specs_eval.benchmarks import datapaths
from specs_eval.core.errors import BenchmarkError

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class MediaStore:
    """Read media by the relative path a row gives, from ``folder`` or from the zip ``archive``."""

    def __init__(self, folder: str | Path | None = None, archive: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.archive = Path(archive) if archive is not None else None
        self._zip: zipfile.ZipFile | None = None
        self._names: set[str] | None = None

    def __repr__(self) -> str:
        return f"MediaStore({self.describe()})"

    def describe(self) -> str:
        return str(self.archive) if self.archive is not None else str(self.folder)

    # -- paths ---------------------------------------------------------------------------------
    def member(self, rel: str, what: str) -> str:
        """A row's media path as a normalised member name; refused when it would leave the store."""
        text = str(rel)
        if datapaths.is_url(text):
            raise BenchmarkError(f"{what}: {text[:200]!r} is a URL; MEGA-Bench media are files in data.zip")
        name = posixpath.normpath(text.replace("\\", "/"))
        if name.startswith("/") or name == ".." or name.startswith("../"):
            raise BenchmarkError(f"{what}: {text[:200]!r} points outside the media folder {self.describe()}; "
                                 "refusing to read it")
        return name

    def _archive(self) -> zipfile.ZipFile:
        if self._zip is None:
            assert self.archive is not None
            try:
                self._zip = zipfile.ZipFile(self.archive)
            except (OSError, zipfile.BadZipFile) as e:
                raise BenchmarkError(f"{self.archive}: cannot open the media archive ({type(e).__name__}: {e}); "
                                     "it is incomplete or corrupt: download it again") from None
            self._names = set(self._zip.namelist())
        return self._zip

    def path(self, rel: str, what: str) -> Path:
        """The confined file of ``rel`` in the media folder (folder stores only)."""
        if self.folder is None:
            raise BenchmarkError(f"{what}: {rel!r} names a media file but no media folder is known; set "
                                 "MEGABENCH_MEDIA_ROOT or keep data.zip (or its unpacked data/) beside the parquet files")
        self.member(rel, what)
        return datapaths.resolve_in(rel, self.folder, what)

    def problem(self, rel: str, what: str) -> str | None:
        """Why ``rel`` cannot be read (checked without decoding it); ``None``: it is there."""
        try:
            name = self.member(rel, what)
            if self.archive is not None:
                self._archive()
                assert self._names is not None
                if name in self._names or any(n.startswith(name + "/") for n in self._names):
                    return None
                return f"{rel!r} is not in {self.archive.name}"
            p = self.path(rel, what)
            return None if p.exists() else f"media file not found: {rel} (in {self.folder})"
        except BenchmarkError as e:
            return str(e).removeprefix(f"{what}: ")

    # -- reading -------------------------------------------------------------------------------
    def image(self, rel: str, what: str) -> Any:
        if self.archive is not None:
            return datapaths.open_image(self._read(rel, what), what)
        p = self.path(rel, what)
        if not p.is_file():
            raise BenchmarkError(f"{what}: media file not found: {rel} (in {self.folder})")
        return datapaths.open_image(p, what)

    def _read(self, rel: str, what: str) -> bytes:
        name = self.member(rel, what)
        z = self._archive()
        try:
            info = z.getinfo(name)
        except KeyError:
            raise BenchmarkError(f"{what}: {rel!r} is not in {self.archive}") from None
        if info.file_size > datapaths.policy().max_image_bytes * 16:
            raise BenchmarkError(f"{what}: {rel!r} is {info.file_size:,} bytes in the archive; too large to read")
        try:
            return z.read(info)
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise BenchmarkError(f"{what}: cannot read {rel!r} from {self.archive} ({type(e).__name__}: {e})") from None

    def frame_members(self, rel: str, what: str) -> list[str] | None:
        """Frame images of a video stored as a folder of frames inside the archive (``None``: not a folder)."""
        name = self.member(rel, what)
        self._archive()
        assert self._names is not None
        frames = sorted(n for n in self._names if n.startswith(name + "/") and n.lower().endswith(FRAME_SUFFIXES))
        return frames or None

    def video_bytes(self, rel: str, what: str) -> bytes:
        return self._read(rel, what)


def media_store(root: str | Path | None) -> MediaStore:
    """A store over ``root``: a zip archive file, or a folder (``None``: no media known)."""
    if root is None:
        return MediaStore()
    p = Path(root)
    if p.is_file() and zipfile.is_zipfile(p):
        return MediaStore(archive=p)
    return MediaStore(folder=p)
