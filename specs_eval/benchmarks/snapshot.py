"""Finding a benchmark's data files in the layout users download: hub snapshots, the HF cache, plain files.

Why: ``--data`` must accept a benchmark exactly as ``hf download`` / ``snapshot_download``
leaves it (MMMU's 30 subject folders, MathVista's ``data/*.parquet``, MEGA-Bench's config
folders), and the hub cache (``datasets--ORG--NAME/snapshots/<rev>/…``), and must say which
revision it read. Before this module ``--data`` on the MMMU snapshot failed and one subject
folder silently stood in for the whole split (issue 13).

What this module decides (per benchmark, from its :class:`Layout`):

* which files hold a split (``MMMU/<Subject>/<split>-*.parquet`` …), in a stable order;
* that the copy is complete: every subject present, every shard ``k-of-n`` present, else a
  one-line error naming what is missing (one subject folder given on purpose is accepted and
  noted as a subset);
* the revision: an HF cache snapshot's folder name, the commit recorded by
  ``hf download --local-dir`` (``.cache/huggingface/download/*.metadata``), or "unknown";
* with no ``--data``: the pinned snapshot from the HF cache, else a download of just that
  split's files at the pinned revision (``huggingface_hub.snapshot_download``), refused offline.

Reading rows stays in ``benchmarks.local`` (parquet through ``datasets``); validation in
``benchmarks.hub.finish_load``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specs_eval.benchmarks import datapaths
from specs_eval.benchmarks.local import Origin, read_parquet, read_rows_with_origin, refuse_private_fields
from specs_eval.core.errors import BenchmarkError

_SHARD = re.compile(r"-(\d{5})-of-(\d{5})(?:-[0-9a-f]+)?\.parquet$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class Layout:
    """Where a benchmark's hub repo keeps a split.

    ``files(root, split)`` returns the split's files under a snapshot folder ``root`` (raising a
    ``BenchmarkError`` when the copy is incomplete), or ``None`` when ``root`` is not this layout.
    ``patterns(split)`` are the repo paths to download for the split.
    """

    hf_id: str
    pinned: str | None
    files: Callable[[Path, str], SplitFiles | None]
    patterns: Callable[[str], list[str]]


@dataclass
class SplitFiles:
    files: list[Path]
    notes: list[str] = field(default_factory=list)
    #: the split covers only part of the published data on purpose (one MMMU subject folder)
    subset: bool = False


@dataclass
class Located:
    """The rows of a split as read from disk, with where each came from."""

    rows: list[dict[str, Any]]
    origins: list[Origin]
    root: Path  # the data folder: relative paths in rows resolve here, and only inside it
    kind: str  # snapshot | hf-cache | file | folder
    hf_id: str | None = None
    revision: str | None = None
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    subset: bool = False


# ---------------------------------------------------------------------------------------------- shards


def shard_files(folder: Path, prefix: str, where: str) -> list[Path]:
    """``{prefix}-*.parquet`` in ``folder``; every ``-k-of-n`` shard must be there (a missing one is an error)."""
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.glob(f"{prefix}-*.parquet") if p.is_file() or p.is_symlink())
    groups: dict[int, set[int]] = {}
    for p in files:
        m = _SHARD.search(p.name)
        if m:
            groups.setdefault(int(m.group(2)), set()).add(int(m.group(1)))
    for n, have in groups.items():
        missing = sorted(set(range(n)) - have)
        if missing:
            names = ", ".join(f"{prefix}-{k:05d}-of-{n:05d}*.parquet" for k in missing[:3])
            raise BenchmarkError(f"{where}: incomplete download: {names} missing ({len(have)} of {n} shards in "
                                 f"{folder}); download the missing file(s) again")
    for p in files:
        if not p.exists():  # a dangling symlink: an HF cache whose blob was deleted
            raise BenchmarkError(f"{where}: {p} is a broken link (its blob is missing from the cache); download again")
    return files


# ---------------------------------------------------------------------------------------------- HF cache


def hub_cache_roots() -> list[Path]:
    """Folders an HF hub cache may live in (``HF_HUB_CACHE``, ``HF_HOME/hub``, the default)."""
    out = []
    if os.environ.get("HF_HUB_CACHE"):
        out.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        out.append(Path(os.environ["HF_HOME"]) / "hub")
    out.append(Path.home() / ".cache" / "huggingface" / "hub")
    return list(dict.fromkeys(out))


def repo_folder(hf_id: str) -> str:
    return "datasets--" + hf_id.replace("/", "--")


def _snapshot_of(repo_dir: Path, want: str | None) -> tuple[Path, str, list[str]]:
    """The snapshot folder of a cached repo: the pinned revision when cached, else ``refs/main``."""
    snaps = repo_dir / "snapshots"
    have = sorted(p.name for p in snaps.iterdir() if p.is_dir()) if snaps.is_dir() else []
    if not have:
        raise BenchmarkError(f"{repo_dir}: an HF cache folder with no snapshots; download the dataset again")
    if want and want in have:
        return snaps / want, want, []
    ref = repo_dir / "refs" / "main"
    rev = ref.read_text(encoding="utf-8").strip() if ref.is_file() else None
    if rev and rev in have:
        chosen = rev
    elif len(have) == 1:
        chosen = have[0]
    else:
        raise BenchmarkError(f"{repo_dir}: several snapshots ({', '.join(h[:12] for h in have)}) and no refs/main "
                             "naming one; point --data at snapshots/<revision>")
    notes = [f"revision {chosen} is not the pinned {want}"] if want and chosen != want else []
    return snaps / chosen, chosen, notes


def in_hf_cache(path: Path, hf_id: str, pinned: str | None) -> tuple[Path, str, str, list[str]] | None:
    """``(snapshot folder, revision, repo id, notes)`` when ``path`` is (inside) an HF hub cache, else ``None``.

    Accepts the cache root (``…/hub``), a repo folder (``datasets--ORG--NAME``), a snapshot
    (``…/snapshots/<rev>``) or a folder inside one (``…/snapshots/<rev>/Art``: then the snapshot
    folder is that subfolder).
    """
    p = Path(os.path.abspath(path))
    for parent in (p, *p.parents):
        if parent.parent.name == "snapshots" and parent.parent.parent.name.startswith("datasets--"):
            repo = parent.parent.parent.name.removeprefix("datasets--").replace("--", "/", 1)
            return p, parent.name, repo, []
    if p.name.startswith("datasets--") and (p / "snapshots").is_dir():
        snap, rev, notes = _snapshot_of(p, pinned)
        return snap, rev, p.name.removeprefix("datasets--").replace("--", "/", 1), notes
    if p.is_dir() and any(c.name.startswith("datasets--") for c in p.iterdir() if c.is_dir()):
        repo_dir = p / repo_folder(hf_id)
        if not repo_dir.is_dir():
            have = sorted(c.name for c in p.iterdir() if c.name.startswith("datasets--"))
            raise BenchmarkError(f"{p}: an HF hub cache without {hf_id} (it holds {', '.join(have[:8])}); "
                                 f"download it with `hf download {hf_id} --repo-type dataset`")
        snap, rev, notes = _snapshot_of(repo_dir, pinned)
        return snap, rev, hf_id, notes
    return None


def local_dir_revision(root: Path, files: Sequence[Path]) -> tuple[str | None, list[str]]:
    """The commit ``hf download --local-dir`` recorded for ``files`` (``.cache/huggingface/download``)."""
    meta = root / ".cache" / "huggingface" / "download"
    if not meta.is_dir():
        return None, []
    commits: set[str] = set()
    notes: list[str] = []
    for f in files:
        try:
            rel = f.relative_to(root)
        except ValueError:
            continue
        m = meta / f"{rel.as_posix()}.metadata"
        if not m.is_file():
            continue
        lines = m.read_text(encoding="utf-8", errors="replace").splitlines()
        if lines and _SHA.match(lines[0].strip()):
            commits.add(lines[0].strip())
            try:
                if len(lines) > 2 and f.stat().st_mtime > float(lines[2]) + 1:
                    notes.append(f"{rel} was modified after it was downloaded")
            except (OSError, ValueError):
                pass
    if len(commits) == 1:
        return commits.pop(), notes
    if commits:
        notes.append(f"files come from different revisions: {', '.join(sorted(c[:12] for c in commits))}")
    return None, notes


# ---------------------------------------------------------------------------------------------- locating


def locate(data: str | Path | None, split: str, layout: Layout, id_field: str | None) -> Located:
    """The rows of ``split`` from ``data`` (a file, folder, snapshot or HF cache) or, with ``data=None``,
    from the pinned revision (HF cache first, then a download of the split's files)."""
    if data is None:
        snap, notes = _pinned_snapshot(layout, split)
        loc = _read_snapshot(snap, split, layout, "hf-cache", layout.hf_id, layout.pinned)
        loc.notes[:0] = notes
        return loc
    path = Path(data)
    if not path.exists():
        raise BenchmarkError(f"data path not found: {path}")
    cached = in_hf_cache(path, layout.hf_id, layout.pinned) if path.is_dir() else None
    if cached is not None:
        snap, rev, repo, notes = cached
        loc = _read_snapshot(snap, split, layout, "hf-cache", repo, rev)
        loc.notes[:0] = notes
        return loc
    if path.is_dir() and layout.files(path, split) is not None:
        return _read_snapshot(path, split, layout, "snapshot", layout.hf_id, None)
    rows, origins = read_rows_with_origin(path, id_field)
    root = path if path.is_dir() else path.parent
    return Located(rows=rows, origins=origins, root=root, kind="folder" if path.is_dir() else "file",
                   files=[str(path)])


def _read_snapshot(root: Path, split: str, layout: Layout, kind: str, hf_id: str | None,
                   revision: str | None) -> Located:
    where = f"{layout.hf_id} snapshot {root}"
    found = layout.files(root, split)
    if found is None or not found.files:
        raise BenchmarkError(f"{where}: no files of split {split!r} in this folder "
                             f"(expected {', '.join(layout.patterns(split))}); see docs/data.md")
    notes = list(found.notes)
    if kind == "snapshot":
        revision, more = local_dir_revision(root, found.files)
        notes += more
        if revision is None:
            notes.append("revision unknown: a local copy outside the HF cache (download with `hf download "
                         f"{layout.hf_id} --repo-type dataset --revision {layout.pinned or 'main'}` to record it)")
    if layout.pinned and revision and revision != layout.pinned and not any("pinned" in n for n in notes):
        notes.append(f"revision {revision} is not the pinned {layout.pinned}")
    rows: list[dict[str, Any]] = []
    origins: list[Origin] = []
    for f in found.files:
        part = read_parquet(f) if f.suffix == ".parquet" else read_rows_with_origin(f)[0]
        rel = f.relative_to(root).as_posix() if f.is_relative_to(root) else str(f)
        rows.extend(part)
        origins.extend(Origin(rel, i) for i in range(len(part)))
    refuse_private_fields(rows, origins)
    return Located(rows=rows, origins=origins, root=root, kind=kind, hf_id=hf_id, revision=revision,
                   files=[f.relative_to(root).as_posix() if f.is_relative_to(root) else str(f) for f in found.files],
                   notes=notes, subset=found.subset)


def _pinned_snapshot(layout: Layout, split: str) -> tuple[Path, list[str]]:
    """The pinned snapshot folder from an HF cache, downloading the split's files if needed."""
    if layout.pinned:
        for cache in hub_cache_roots():
            snap = cache / repo_folder(layout.hf_id) / "snapshots" / layout.pinned
            if snap.is_dir() and layout.files(snap, split):
                return snap, []
    if datapaths.offline():
        raise BenchmarkError(
            f"{layout.hf_id}@{layout.pinned or 'main'}: split {split!r} is not in the HF cache and offline mode is "
            f"set; download it (`hf download {layout.hf_id} --repo-type dataset --revision "
            f"{layout.pinned or 'main'}`) or pass --data PATH (docs/data.md)")
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(layout.hf_id, repo_type="dataset", revision=layout.pinned or "main",
                                   allow_patterns=[*layout.patterns(split), "README.md"])
    except Exception as e:  # network, auth, unknown revision: one clear line
        first = str(e).splitlines()[0] if str(e) else ""
        raise BenchmarkError(
            f"cannot download {layout.hf_id}@{layout.pinned or 'main'} split {split!r} ({type(e).__name__}: "
            f"{first[:200]}); pass --data PATH with a downloaded copy (docs/data.md)") from None
    notes = [] if layout.pinned else ["revision not pinned: the hub's current main was loaded"]
    return Path(folder), notes


# ---------------------------------------------------------------------------------------------- layouts


def flat_layout(hf_id: str, pinned: str | None, folder: str, name: Callable[[str], str]) -> Layout:
    """``<folder>/<name(split)>-*.parquet`` (MathVista, MathVision, MEGA-Bench)."""

    def files(root: Path, split: str) -> SplitFiles | None:
        sub = root / folder if folder else root
        got = shard_files(sub, name(split), f"{hf_id} {split}")
        if got:
            return SplitFiles(got)
        if sub.is_dir() and any(sub.glob("*.parquet")):
            return SplitFiles([])  # this layout, but not this split
        return None

    def patterns(split: str) -> list[str]:
        return [f"{folder}/{name(split)}-*.parquet" if folder else f"{name(split)}-*.parquet"]

    return Layout(hf_id, pinned, files, patterns)


def single_file_layout(hf_id: str, pinned: str | None, file_of: Callable[[str], str]) -> Layout:
    """One parquet file per split at the repo root (MathVerse ``testmini.parquet``)."""

    def files(root: Path, split: str) -> SplitFiles | None:
        f = root / file_of(split)
        if f.is_file():
            return SplitFiles([f])
        return SplitFiles([]) if any(root.glob("*.parquet")) and (root / "README.md").exists() else None

    return Layout(hf_id, pinned, files, lambda split: [file_of(split)])


def subject_layout(hf_id: str, pinned: str | None, subjects: Sequence[str], per_split: dict[str, int | None]
                   ) -> Layout:
    """``<Subject>/<split>-*.parquet`` for every subject (MMMU). All subjects must be present; a single
    subject folder is accepted as a declared subset."""

    def files(root: Path, split: str) -> SplitFiles | None:
        if root.name in subjects and any(root.glob(f"{split}-*.parquet")):
            n = per_split.get(split)
            share = f" ({n // len(subjects)} of {n} items)" if n and n % len(subjects) == 0 else ""
            return SplitFiles(shard_files(root, split, f"{hf_id} {root.name}"),
                              [f"one subject folder ({root.name}) of {len(subjects)}{share}: scores cover this "
                               "subject only"], subset=True)
        present = [s for s in subjects if (root / s).is_dir()]
        if not present:
            return None
        out: list[Path] = []
        missing = []
        for s in subjects:
            got = shard_files(root / s, split, f"{hf_id} {s}")
            if got:
                out.extend(got)
            else:
                missing.append(s)
        if missing and len(missing) < len(subjects):
            raise BenchmarkError(
                f"{hf_id} snapshot {root}: incomplete: no {split} files for {len(missing)} of {len(subjects)} "
                f"subjects ({', '.join(missing[:6])}{' …' if len(missing) > 6 else ''}); download them "
                f"(`hf download {hf_id} --repo-type dataset`), or point --data at one subject folder to "
                "evaluate that subject alone")
        return SplitFiles(out)

    return Layout(hf_id, pinned, files, lambda split: [f"*/{split}-*.parquet"])
