"""Orsta-Data-47k (``One-RL-to-See-Them-All/Orsta-Data-47k``), the V-Triune/Orsta RL data, as published.

Layout (MiniMax-AI/One-RL-to-See-Them-All README, "Data Preparation"; schema in alibaba/ROLL's
VL RLVR guide): ``train/`` and ``test/`` folders of parquet files named
``{split}_{task}_{source}_{num}[_xN].parquet`` (``_x2``: duplicated puzzle data). Columns:
``data_source``, ``images`` (list of ``{bytes, path}``: embedded), ``prompt`` (chat messages;
the last user message holds the question with one ``<image>`` per image), ``ability``,
``reward_model`` (``ground_truth``: ``\\boxed{…}`` for ``verifier: mathverify``, an
``<answer>`` box list for ``verifier: detection``, plus ``verifier_parm``), ``extra_info``.

Row ids are ``<file relative to the snapshot>#<row index>`` (``extra_info.id`` is often null).
Scoring: ``mathverify`` rows by their gold's kind (``rules/rlpool.py``: letters, yes/no,
math-verify as the authors configure it, free text not scored); ``detection`` rows by the
authors' IoU verifier (``rules/detection.py``). The authors' own reward mixes accuracy and a
format term by ``accuracy_ratio``/``format_ratio``; specs-eval's RL reward is its own
(0.5 × SPECS format + 1.0 × this accuracy), so those two ratios are read but not used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.benchmarks.rlpool import RLPoolBenchmark, SkipRow, decode_image, image_size, read_parquet
from specs_eval.core.errors import BenchmarkError
from specs_eval.rules import detection as det
from specs_eval.rules import rlpool as rules

FILE_NAME = re.compile(r"^(train|test)_([a-z0-9]+)_(.+?)_(\d+)(?:_x\d+)?\.parquet$")
REQUIRED_COLUMNS = ("prompt", "images", "reward_model")
VERIFIERS = ("mathverify", "detection")


def task_of(file_name: str) -> str:
    """The task of an Orsta file name (``train_detection_v3det_4000.parquet`` → ``detection``)."""
    m = FILE_NAME.match(file_name)
    return m.group(2) if m else "unknown"


class Orsta(RLPoolBenchmark):
    name: ClassVar[str] = "orsta"
    hf_id: ClassVar[str] = "One-RL-to-See-Them-All/Orsta-Data-47k"
    revision_env: ClassVar[str] = "SPECS_EVAL_ORSTA_REVISION"
    published_rows: ClassVar[int | None] = 47_700  # "47.7K samples" (V-Triune paper §5.1.1), train + test
    splits: ClassVar[dict[str, int | None]] = {"train": None, "heldout": None, "test": None}
    breakdown_keys: ClassVar[tuple[str, ...]] = ("kind", "source", "task")

    def read_snapshot(self, root: Path, split: str) -> Iterator[dict[str, Any]]:
        folder = "test" if split == "test" else "train"
        if root.is_file():
            files, base = [root], root.parent.parent
        elif (root / folder).is_dir():
            files, base = sorted((root / folder).glob("*.parquet")), root
        elif any(root.glob(f"{folder}_*.parquet")):  # pointed at the train/ or test/ folder itself
            files, base = sorted(root.glob(f"{folder}_*.parquet")), root.parent
        else:
            files, base = [], root
        if not files:
            raise BenchmarkError(f"{root}: no {folder}/*.parquet files; not an Orsta-Data-47k snapshot (expected "
                                 "train/ and test/ folders of parquet files, as on the hub)")
        for path in files:
            rel = path.relative_to(base).as_posix() if path.is_relative_to(base) else path.name
            rows = read_parquet(path, base)
            if rows:
                missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
                if missing:
                    raise BenchmarkError(f"{rel} in {base}: no column(s) {missing}; not an Orsta-Data-47k file "
                                         f"(columns: {sorted(rows[0])})")
            for i, row in enumerate(rows):
                row["_key"] = f"{rel}#{i}"
                row["_task"] = task_of(path.name)
                row["_root"] = str(base)
                yield row

    # ------------------------------------------------------------------ fields

    def question(self, row: dict[str, Any]) -> str:
        msgs = [m for m in (row.get("prompt") or []) if isinstance(m, dict)]
        users = [m for m in msgs if m.get("role") == "user"]
        last = users[-1] if users else (msgs[-1] if msgs else {})
        content = last.get("content")
        return content if isinstance(content, str) else ""

    def gold(self, row: dict[str, Any]) -> str | None:
        rm = row.get("reward_model") or {}
        return rm.get("ground_truth")

    def verifier(self, row: dict[str, Any]) -> str | None:
        return (row.get("reward_model") or {}).get("verifier")

    def answer_kind(self, row: dict[str, Any]) -> str:
        verifier = self.verifier(row)
        if verifier == "detection":
            grounding = "ground" in str(row.get("_task", "")) or "ground" in str(row.get("ability", ""))
            return "grounding" if grounding else "detection"
        if verifier == "mathverify":
            return rules.classify(self.gold(row), self.question(row))
        return f"unsupported:{verifier}"

    def detection_settings(self, row: dict[str, Any]) -> det.DetectionSettings:
        return det.DetectionSettings.from_verifier_parm((row.get("reward_model") or {}).get("verifier_parm"))

    def check_row(self, row: dict[str, Any]) -> str:
        if self.verifier(row) not in VERIFIERS:
            raise SkipRow("unsupported_verifier", f"reward_model.verifier={self.verifier(row)!r}")
        if not isinstance(row.get("prompt"), list) or not self.question(row):
            raise SkipRow("no_question", "prompt has no user message with text")
        return super().check_row(row)

    def _image_values(self, row: dict[str, Any]) -> list[Any]:
        images = row.get("images")
        return list(images) if images is not None else []

    def _bytes(self, row: dict[str, Any], n: int, value: Any) -> bytes:
        what = f"{row.get('_key')}: images[{n}]"
        if isinstance(value, dict) and value.get("bytes"):
            return bytes(value["bytes"])
        path = value.get("path") if isinstance(value, dict) else value if isinstance(value, str) else None
        if path:
            candidate = Path(path) if Path(path).is_absolute() else Path(row.get("_root") or ".") / path
            if candidate.is_file():
                return candidate.read_bytes()
            raise SkipRow("missing_image", f"{what}: no bytes and no file {path}")
        raise SkipRow("missing_image", f"{what}: neither bytes nor path")

    def check_images(self, row: dict[str, Any]) -> list[tuple[int, int]]:
        return [image_size(self._bytes(row, n, v), f"images[{n}]") for n, v in enumerate(self._image_values(row))]

    def images(self, row: dict[str, Any]) -> list[Any]:
        out = []
        for n, value in enumerate(self._image_values(row)):
            try:
                data = self._bytes(row, n, value)
            except SkipRow as e:
                raise BenchmarkError(f"orsta row {row.get('_key')}: {e.detail}") from None
            out.append(decode_image(data, f"orsta row {row.get('_key')}: images[{n}]"))
        return out

    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        return {**super().meta(row), "task": row.get("_task")}
