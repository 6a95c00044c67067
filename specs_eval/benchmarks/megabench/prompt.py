"""The official MEGA-Bench prompt: task description, one demonstration, the query, media inline.

Mirrors the official model classes (TIGER-AI-Lab/MEGA-Bench
``megabench/models/openai.py`` ``prepare_context`` / ``prepare_query_content`` and
``base_model.py`` ``_process_text_and_media``, commit 8e587a8): each of
``task_description`` + ``global_media``, ``example_text`` + ``example_media`` and
``query_text`` + ``query_media`` is split at its ``<image>`` / ``<video>``
placeholders; text chunks are stripped (empty ones dropped) and each placeholder is
replaced by its medium, in order. A video becomes ``<video frames start>``, its
sampled frames, ``<video frames end>``. At most 4 demonstration images are sent
(upstream's ``max_demo_num_image``).

Video sampling (the only choice we make): frames are sampled uniformly, at most
``MAX_QUERY_VIDEO_FRAMES`` (64, lmms-eval's ``max_video_subsample_frame``) per
global/query video and ``DEMO_VIDEO_FRAMES`` (4, upstream's demonstration budget) per
demonstration video; the counts are recorded in the prompt's media log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specs_eval.benchmarks.local import load_image
from specs_eval.benchmarks.media import MediaStore, media_store
from specs_eval.benchmarks.megabench.loader import is_video_file, media_list
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.prompt import Prompt

MAX_DEMO_IMAGES = 4
MAX_QUERY_VIDEO_FRAMES = 64
DEMO_VIDEO_FRAMES = 4
VIDEO_START = "<video frames start>"
VIDEO_END = "<video frames end>"
_PLACEHOLDER = re.compile(r"(<image>|<video>)")
_FRAME_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


@dataclass
class MediaLog:
    """What went into a prompt: images per section and, per video, sampled/total frames."""

    images: int = 0
    videos: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped_demo_images: int = 0


def uniform_indices(total: int, n: int) -> list[int]:
    """``n`` frame indices spread evenly over ``total`` (all when ``total <= n``)."""
    if total <= n:
        return list(range(total))
    if n <= 1:
        return [0]
    return [round(i * (total - 1) / (n - 1)) for i in range(n)]


def video_frames(path: Path, max_frames: int) -> tuple[list[Any], int]:
    """Sampled RGB frames of a video and its total frame count.

    A folder of frame images (sorted by name) is accepted as an already-decoded video;
    files are decoded with PyAV or OpenCV when one is installed.
    """
    from PIL import Image

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _FRAME_SUFFIXES)
        if not files:
            raise BenchmarkError(f"video folder {path} has no frame images")
        return [load_image(files[i].name, path, what=f"frame of {path}") for i in
                uniform_indices(len(files), max_frames)], len(files)
    if not path.exists():
        raise BenchmarkError(f"video not found: {path}")
    try:
        import av

        with av.open(str(path)) as container:
            frames = [f.to_image().convert("RGB") for f in container.decode(video=0)]
        return [frames[i] for i in uniform_indices(len(frames), max_frames)], len(frames)
    except ImportError:
        pass
    except Exception as e:
        raise BenchmarkError(f"cannot decode video {path}: {type(e).__name__}: {e}") from None
    try:
        import cv2
    except ImportError:
        raise BenchmarkError(
            f"video {path}: decoding needs PyAV or opencv-python-headless (or pass a folder of frames)"
        ) from None
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if total <= 0:
        raise BenchmarkError(f"cannot read video {path}")
    out = []
    for i in uniform_indices(total, max_frames):
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, frame = cap.read()
        if ok:
            out.append(Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
    cap.release()
    return out, total


def _archive_video(store: MediaStore, rel: str, max_frames: int, what: str) -> tuple[list[Any], int]:
    """A video read out of ``data.zip``: a folder of frame images, or a video file decoded by PyAV in memory."""
    import io

    frames = store.frame_members(rel, what)
    if frames is not None:
        return [store.image(f, what) for f in (frames[i] for i in uniform_indices(len(frames), max_frames))], len(frames)
    data = store.video_bytes(rel, what)
    try:
        import av
    except ImportError:
        raise BenchmarkError(f"{what}: video {rel} inside {store.describe()} needs PyAV to be read without "
                             "unpacking (or unzip data.zip and point MEGABENCH_MEDIA_ROOT at it)") from None
    try:
        with av.open(io.BytesIO(data)) as container:
            decoded = [f.to_image().convert("RGB") for f in container.decode(video=0)]
    except Exception as e:
        raise BenchmarkError(f"{what}: cannot decode video {rel} ({type(e).__name__}: {e})") from None
    return [decoded[i] for i in uniform_indices(len(decoded), max_frames)], len(decoded)


def _section(text: str, media: list[str], root: Path | MediaStore | None, demo: bool, parts: list[dict[str, Any]],
             images: list[Any], log: MediaLog, what: str) -> None:
    store = root if isinstance(root, MediaStore) else media_store(root)
    chunks = _PLACEHOLDER.split(text or "")
    n_placeholders = sum(1 for c in chunks if c in ("<image>", "<video>"))
    if n_placeholders != len(media):
        raise BenchmarkError(f"{what}: {n_placeholders} media placeholders but {len(media)} media paths")
    k = demo_images = 0
    for chunk in chunks:
        if chunk in ("<image>", "<video>"):
            rel = media[k]
            k += 1
            if is_video_file(rel):
                budget = DEMO_VIDEO_FRAMES if demo else MAX_QUERY_VIDEO_FRAMES
                if store.archive is not None:
                    frames, total = _archive_video(store, rel, budget, f"{what} video {rel}")
                else:
                    frames, total = video_frames(store.path(rel, f"{what} video {rel}"), budget)
                log.videos[rel] = {"sampled_frames": len(frames), "total_frames": total}
                parts.append({"type": "text", "text": VIDEO_START})
                for frame in frames:
                    parts.append({"type": "image", "index": len(images)})
                    images.append(frame)
                parts.append({"type": "text", "text": VIDEO_END})
            else:
                if demo and demo_images >= MAX_DEMO_IMAGES:
                    log.skipped_demo_images += 1
                    continue
                images.append(store.image(rel, f"{what} image {rel}"))
                parts.append({"type": "image", "index": len(images) - 1})
                demo_images += demo
            log.images = len(images)
        elif chunk.strip():
            parts.append({"type": "text", "text": chunk.strip()})


def official_prompt(row: dict[str, Any], media_root: Path | MediaStore | None) -> tuple[Prompt, MediaLog]:
    """The official interleaved prompt of one row."""
    parts: list[dict[str, Any]] = []
    images: list[Any] = []
    log = MediaLog()
    rid = row.get("id", "?")
    _section(row.get("task_description", ""), media_list(row.get("global_media")), media_root, False, parts,
             images, log, f"row {rid} task description")
    _section(row.get("example_text", ""), media_list(row.get("example_media")), media_root, True, parts,
             images, log, f"row {rid} example")
    _section(row.get("query_text", ""), media_list(row.get("query_media")), media_root, False, parts, images,
             log, f"row {rid} query")
    return Prompt(parts=parts, images=images), log
