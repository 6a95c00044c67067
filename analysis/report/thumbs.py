"""Drill-down thumbnails: re-create a sample's image, verify it against the run, embed it.

Why re-create: a run directory stores only image *hashes* (images can be large and
licensed), and a report must never point at absolute local paths (they break when the
file moves). Re-creating an item's images needs benchmark code, which analysis does not
import: the caller passes an ``ItemImages`` (the CLI passes
``specs_eval.benchmarks.images.BenchmarkImages``: the toy world regenerates its rows; other
benchmarks need ``--data BENCHMARK=PATH``).

The re-created image is shown only if its hash equals the hash recorded in
``generations.jsonl`` (or, when no hash was recorded, if the row's query text occurs in the
stored prompt, and the thumbnail is then labelled unverified). Otherwise the drill-down
shows "no thumbnail" with the reason. Thumbnails are ≤ 128 px PNG data URIs.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any, Protocol

from analysis.frames import Run
from specs_eval.core.prompt import image_hash
from specs_eval.core.records import DatasetInfo

THUMB_PX = 128


class ItemImages(Protocol):
    """Re-creates one item: ``(images, row)``, or ``(None, reason)`` when it cannot."""

    def __call__(self, benchmark: str, split: str, item_id: str, variant: str, dataset: DatasetInfo | None
                 ) -> tuple[list[Any] | None, Any]: ...


@dataclass(frozen=True)
class Thumb:
    uri: str | None
    note: str


def to_data_uri(img: Any, px: int = THUMB_PX) -> str:
    im = img.convert("RGB")
    im.thumbnail((px, px))
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class ThumbnailSource:
    """Finds, verifies and caches thumbnails for (run, benchmark, split, id)."""

    def __init__(self, item_images: ItemImages | None = None, enabled: bool = True) -> None:
        self.item_images = item_images
        self.enabled = enabled
        self._cache: dict[tuple[str, str, str, str], Thumb] = {}

    def get(self, run: Run, benchmark: str, split: str, item_id: str, prompt: str) -> Thumb:
        key = (run.name, benchmark, split, item_id)
        if key not in self._cache:
            self._cache[key] = self._make(run, benchmark, split, item_id, prompt)
        return self._cache[key]

    def _make(self, run: Run, benchmark: str, split: str, item_id: str, prompt: str) -> Thumb:
        if not self.enabled:
            return Thumb(None, "thumbnails disabled")
        if self.item_images is None:
            return Thumb(None, "no thumbnail: no image source given")
        task = run.task(benchmark, split)  # a study set ``split@variant`` re-creates its split's row
        try:
            images, row = self.item_images(benchmark, task.split if task else split, item_id,
                                           task.prompt_variant if task else "official", run.dataset(benchmark, split))
        except Exception as e:  # a thumbnail must never take the report down
            return Thumb(None, f"no thumbnail ({type(e).__name__})")
        if images is None:
            return Thumb(None, row if isinstance(row, str) else "no thumbnail")
        if not images:
            return Thumb(None, "no image in this item")
        recorded = run.image_hashes.get((benchmark, split, item_id))
        if recorded:
            if image_hash(images[0]) != recorded[0]:
                return Thumb(None, "no thumbnail: the re-created image does not match the run's image hash")
            return Thumb(to_data_uri(images[0]), "re-created from the benchmark, hash verified")
        query = str(row.get("query") or row.get("question") or "") if isinstance(row, dict) else ""
        if query and query in prompt:
            return Thumb(to_data_uri(images[0]), "re-created from the benchmark (no image hash recorded: unverified)")
        return Thumb(None, "no thumbnail: cannot verify the re-created image (no image hash recorded)")
