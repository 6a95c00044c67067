"""The benchmark interface every benchmark implements.

Why an abstract class and not a YAML task: each benchmark's official scorer has logic
(MMMU's seeded random fallback, MathVista's normalisation, MEGA-Bench's metric zoo)
that must live in code; what is declarative (splits and their expected row counts,
scoring profiles, breakdown keys) is class data so the CLI can list and validate it.

A benchmark turns rows of its own schema into prompts, and scores responses with
named profiles. Rows stay in the benchmark's real schema (MathVista ``pid`` …,
MMMU ``id`` …) end to end, so official rules can read every field they need.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.records import DatasetInfo, Response, ScoreResult


class BenchmarkError(Exception):
    """A user-facing problem with benchmark data: the message names the culprit."""


@dataclass
class Prompt:
    """An ordered multimodal user turn: text parts and images, plus an optional system turn.

    ``parts`` is a list of ``{"type": "text", "text": …}`` and ``{"type": "image",
    "index": i}`` entries; ``images[i]`` is the PIL image. Backends render it with the
    model's chat template (HF) or as OpenAI content parts.
    """

    parts: list[dict[str, Any]]
    images: list[Any] = field(default_factory=list)
    system: str | None = None

    @property
    def text(self) -> str:
        """The text of the prompt, with ``<image>`` where an image goes (for logs and hashes)."""
        return "".join(p["text"] if p["type"] == "text" else "<image>" for p in self.parts)

    def messages(self) -> list[dict[str, Any]]:
        """HF chat messages with the PIL images inline."""
        content: list[dict[str, Any]] = []
        for p in self.parts:
            if p["type"] == "text":
                content.append({"type": "text", "text": p["text"]})
            else:
                content.append({"type": "image", "image": self.images[p["index"]]})
        msgs: list[dict[str, Any]] = []
        if self.system:
            msgs.append({"role": "system", "content": [{"type": "text", "text": self.system}]})
        msgs.append({"role": "user", "content": content})
        return msgs

    def hash(self) -> str:
        """Hash of the text and pixels: two prompts with equal hashes are the same input."""
        h = hashlib.sha256((self.system or "").encode() + b"\0" + self.text.encode())
        for img in self.images:
            h.update(image_hash(img).encode())
        return h.hexdigest()[:16]

    @classmethod
    def simple(cls, text: str, images: Sequence[Any] = (), system: str | None = None) -> Prompt:
        """Images first, then the text: the layout of single-image benchmarks."""
        parts: list[dict[str, Any]] = [{"type": "image", "index": i} for i in range(len(images))]
        parts.append({"type": "text", "text": text})
        return cls(parts=parts, images=list(images), system=system)


def score_each(rows: Sequence[dict[str, Any]], responses: Sequence[Response],
               fn: Callable[[dict[str, Any], Response], ScoreResult]) -> list[ScoreResult]:
    """Score aligned rows and responses one by one, in order.

    A scorer that raises on one row yields a counted ``error`` verdict for that row, never
    a crash mid-file (every benchmark's ``score`` goes through here).
    """
    out = []
    for row, resp in zip(rows, responses, strict=True):
        try:
            out.append(fn(row, resp))
        except Exception as e:
            out.append(ScoreResult.error(e))
    return out


def image_hash(img: Any) -> str:
    try:
        return hashlib.sha256(img.tobytes() + repr((img.size, img.mode)).encode()).hexdigest()[:16]
    except AttributeError:
        return hashlib.sha256(repr(img).encode()).hexdigest()[:16]


def row_hash(row: dict[str, Any]) -> str:
    """Stable hash of a row's JSON-able fields (images hashed by pixels)."""
    h = hashlib.sha256()
    for k in sorted(row):
        v = row[k]
        h.update(k.encode() + b"=")
        if hasattr(v, "tobytes"):
            h.update(image_hash(v).encode())
        elif isinstance(v, bytes | bytearray):
            h.update(hashlib.sha256(v).digest())
        else:
            h.update(json.dumps(v, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


@dataclass
class LoadedSplit:
    rows: list[dict[str, Any]]
    info: DatasetInfo


class Benchmark(ABC):
    """Base class of all benchmarks. Subclasses set the class data and four methods."""

    name: ClassVar[str]
    id_field: ClassVar[str] = "id"
    #: known splits and their expected row counts (None: not fixed)
    splits: ClassVar[dict[str, int | None]] = {}
    default_splits: ClassVar[tuple[str, ...]] = ()
    profiles: ClassVar[tuple[str, ...]] = ("official",)
    default_profile: ClassVar[str] = "official"
    prompt_variants: ClassVar[tuple[str, ...]] = ("official", "specs")
    #: metadata keys that results are broken down by
    breakdown_keys: ClassVar[tuple[str, ...]] = ()
    #: splits that play the in-distribution / out-of-distribution roles by default
    id_splits: ClassVar[tuple[str, ...]] = ()
    ood_splits: ClassVar[tuple[str, ...]] = ()
    default_max_new_tokens: ClassVar[int] = 1024
    #: splits whose gold answers are withheld (scored by the benchmark's server from a submission file)
    answers_withheld: ClassVar[tuple[str, ...]] = ()
    #: a few words per profile for `specs-eval ls` and help texts, e.g. that a default is not the official scorer
    profile_notes: ClassVar[dict[str, str]] = {}
    #: profiles that need ``self.judge`` (an object implementing ``specs_eval.judge.Judge``)
    judge_profiles: ClassVar[tuple[str, ...]] = ()
    #: the judge used by ``judge_profiles``; set by the CLI (``--judge-url``) or by tests
    judge: Any = None

    @abstractmethod
    def load(
        self, split: str, data: str | Path | None = None, limit: int | None = None, seed: int = 0
    ) -> LoadedSplit:
        """Rows of ``split`` from the hub (pinned revision) or from local files in the same schema."""

    @abstractmethod
    def build_prompt(self, row: dict[str, Any], variant: str = "official") -> Prompt:
        """The prompt for a row. ``official`` reproduces the benchmark's own prompt."""

    @abstractmethod
    def score(
        self, rows: Sequence[dict[str, Any]], responses: Sequence[Response], profile: str | None = None
    ) -> list[ScoreResult]:
        """Score aligned rows and responses under a profile, in file order.

        Batch-shaped on purpose: official rules such as MMMU's seeded random fallback
        depend on the order of the whole scoring pass.
        """

    def row_id(self, row: dict[str, Any]) -> str:
        return str(row[self.id_field])

    def target(self, row: dict[str, Any]) -> str:
        """The gold answer as a string, for logs and reports."""
        return str(row.get("answer", ""))

    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        """Fields stored with each sample for breakdowns (JSON-able)."""
        return {}

    def requested_format(self, row: dict[str, Any], variant: str) -> str | None:
        """The output format the prompt asked for (a key of ``scoring.formats.FORMATS``)."""
        return "specs" if variant == "specs" else None

    def official_breakdown(self, records: Sequence[Any]) -> dict[str, Any]:
        """The official script's aggregate layout (e.g. MMMU subject → discipline)."""
        return {}

    def submission(self, split: str, samples: Sequence[Any]) -> dict[str, Any] | None:
        """The official submission file for a split with withheld answers (``None``: none defined)."""
        return None

    def write_extra_outputs(self, split: str, samples: Sequence[Any], out_dir: Path) -> list[Path]:
        """Official side files for a scored split (e.g. ``submission.json`` when answers are withheld).

        ``specs-eval score`` writes them into its output folder and ``specs-eval run`` into
        ``<run>/official/<benchmark>/<split>/``; benchmarks add their own (MEGA-Bench's
        evaluator files) by overriding and calling ``super()``.
        """
        from specs_eval.io import atomic_write_json

        files: list[Path] = []
        if split in self.answers_withheld:
            sub = self.submission(split, samples)
            if sub is not None:
                files.append(atomic_write_json(Path(out_dir) / "submission.json", sub))
        return files

    def check_profile(self, profile: str | None) -> str:
        profile = profile or self.default_profile
        if profile not in self.profiles:
            raise BenchmarkError(
                f"benchmark {self.name!r} has no scoring profile {profile!r}; known: {', '.join(self.profiles)}"
            )
        return profile

    def check_split(self, split: str) -> None:
        if self.splits and split not in self.splits:
            raise BenchmarkError(
                f"benchmark {self.name!r} has no split {split!r}; known: {', '.join(self.splits)}"
            )

    def check_variant(self, variant: str) -> None:
        if variant not in self.prompt_variants:
            raise BenchmarkError(
                f"benchmark {self.name!r} has no prompt variant {variant!r}; known: {', '.join(self.prompt_variants)}"
            )
