"""Drill-down thumbnails: re-create a sample's image from its benchmark, verify it, embed it.

Why re-create: a run directory stores only image *hashes* (images can be large and
licensed), and a report must never point at absolute local paths (they break when the
file moves). So:

* toy world (``source: toyworld``): the row is regenerated from its ``pid``
  (``<split>-<seed>-<index>``) and the manifest's dataset seed — the world is procedural;
* other benchmarks: only when the user passes ``--data BENCHMARK=PATH``; the row is
  loaded from that local copy and its prompt images are built by the benchmark.

The regenerated image is shown only if its hash equals the hash recorded in
``generations.jsonl`` (or, when no hash was recorded, if the row's query text occurs in the
stored prompt, and the thumbnail is then labelled unverified). Otherwise the drill-down
shows "no thumbnail" with the reason. Thumbnails are ≤ 128 px PNG data URIs.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from typing import Any

from analysis.frames import Run

THUMB_PX = 128
_PID_RE = re.compile(r"^(?P<split>[a-z_]+)-(?P<seed>\d+)-(?P<index>\d{6})$")


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

    def __init__(self, data_paths: dict[str, str] | None = None, enabled: bool = True) -> None:
        self.data_paths = dict(data_paths or {})
        self.enabled = enabled
        self._rows: dict[tuple[str, str], dict[str, dict[str, Any]] | None] = {}
        self._cache: dict[tuple[str, str, str, str], Thumb] = {}

    def get(self, run: Run, benchmark: str, split: str, item_id: str, prompt: str) -> Thumb:
        key = (run.name, benchmark, split, item_id)
        if key not in self._cache:
            self._cache[key] = self._make(run, benchmark, split, item_id, prompt)
        return self._cache[key]

    def _make(self, run: Run, benchmark: str, split: str, item_id: str, prompt: str) -> Thumb:
        if not self.enabled:
            return Thumb(None, "thumbnails disabled")
        try:
            images, row = self._images(run, benchmark, split, item_id)
        except Exception as e:  # a thumbnail must never take the report down
            return Thumb(None, f"no thumbnail ({type(e).__name__})")
        if images is None:
            return Thumb(None, row if isinstance(row, str) else "no thumbnail")
        if not images:
            return Thumb(None, "no image in this item")
        from specs_eval.benchmarks.base import image_hash

        recorded = run.image_hashes.get((benchmark, split, item_id))
        if recorded:
            if image_hash(images[0]) != recorded[0]:
                return Thumb(None, "no thumbnail: the re-created image does not match the run's image hash")
            return Thumb(to_data_uri(images[0]), "re-created from the benchmark, hash verified")
        query = str(row.get("query") or row.get("question") or "") if isinstance(row, dict) else ""
        if query and query in prompt:
            return Thumb(to_data_uri(images[0]), "re-created from the benchmark (no image hash recorded: unverified)")
        return Thumb(None, "no thumbnail: cannot verify the re-created image (no image hash recorded)")

    def _images(self, run: Run, benchmark: str, split: str, item_id: str) -> tuple[list[Any] | None, Any]:
        from specs_eval.benchmarks import get_benchmark

        bench = get_benchmark(benchmark)
        task = run.task(benchmark, split)
        variant = task.prompt_variant if task else "official"
        if benchmark in self.data_paths:
            rows = self._load(benchmark, split)
            if rows is None or item_id not in rows:
                return None, f"no thumbnail: {item_id} not found in --data for {benchmark}"
            row = rows[item_id]
        else:
            info = run.dataset(benchmark, split)
            m = _PID_RE.match(item_id)
            if benchmark != "toyworld" or m is None or m["split"] != split:
                return None, f"no thumbnail: pass --data {benchmark}=PATH to show images"
            if info is not None and info.source != "toyworld":
                return None, "no thumbnail: this run read the toy world from local files; pass --data"
            seed = info.seed if info is not None and info.seed is not None else int(m["seed"])
            from specs_eval.toyworld.world import make_item

            row = make_item(split, int(m["index"]), seed)
        return list(bench.build_prompt(row, variant).images), row

    def _load(self, benchmark: str, split: str) -> dict[str, dict[str, Any]] | None:
        key = (benchmark, split)
        if key not in self._rows:
            from specs_eval.benchmarks import get_benchmark

            bench = get_benchmark(benchmark)
            try:
                loaded = bench.load(split, data=self.data_paths[benchmark])
                self._rows[key] = {bench.row_id(r): r for r in loaded.rows}
            except Exception:
                self._rows[key] = None
        return self._rows[key]
