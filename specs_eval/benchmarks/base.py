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

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.benchmarks.variants import PROMPT_VARIANTS
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.io import atomic_write_json
from specs_eval.core.prompt import Prompt, with_instruction
from specs_eval.core.records import DatasetInfo, Response, ScoreResult
from specs_eval.rules import budget


def score_each(rows: Sequence[dict[str, Any]], responses: Sequence[Response],
               fn: Callable[[dict[str, Any], Response], ScoreResult], *, bounded: bool = True,
               stateful: bool = False) -> list[ScoreResult]:
    """Score aligned rows and responses one by one, in order (every benchmark's ``score`` goes through here).

    A scorer that raises on one row yields a counted ``error`` verdict for that row, never a crash
    mid-file. Rules run under a per-sample time budget (``rules.budget``; ``SPECS_EVAL_SCORE_BUDGET_S``,
    default 10 s): an overrun is a counted ``error``, never a hang. ``bounded=False`` for scorers that
    call an LLM judge (it has its own deadlines and must not run in a forked worker); ``stateful`` for
    scorers whose later verdicts depend on earlier calls (MMMU's seeded random fallback).
    """
    return budget.score_each(rows, responses, fn, budget.configured_seconds() if bounded else None, stateful=stateful)


@dataclass
class LoadedSplit:
    rows: list[dict[str, Any]]
    info: DatasetInfo
    #: what the loader counted besides the rows (e.g. rows skipped per reason, rows per answer kind);
    #: JSON-able, written into training stage manifests
    report: dict[str, Any] = field(default_factory=dict)


class Benchmark(ABC):
    """Base class of all benchmarks. Subclasses set the class data and four methods."""

    name: ClassVar[str]
    id_field: ClassVar[str] = "id"
    #: known splits and their expected row counts (None: not fixed)
    splits: ClassVar[dict[str, int | None]] = {}
    default_splits: ClassVar[tuple[str, ...]] = ()
    profiles: ClassVar[tuple[str, ...]] = ("official",)
    default_profile: ClassVar[str] = "official"
    #: every registered variant (``benchmarks/variants.py``): official, specs and the format shifts
    prompt_variants: ClassVar[tuple[str, ...]] = tuple(PROMPT_VARIANTS)
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
    #: profiles that need ``self.judge`` (an object implementing ``specs_eval.core.judge.Judge``)
    judge_profiles: ClassVar[tuple[str, ...]] = ()
    #: the judge used by ``judge_profiles``; set by the CLI (``--judge-url``) or by tests
    judge: Any = None
    #: whether the ``specs`` variant's responses are scored on their answer view (``rules.extract.answer_view``)
    uses_answer_view: ClassVar[bool] = True

    @abstractmethod
    def load(
        self, split: str, data: str | Path | None = None, limit: int | None = None, seed: int = 0
    ) -> LoadedSplit:
        """Rows of ``split`` from the hub (pinned revision) or from local files in the same schema."""

    def load_for_scoring(self, split: str, data: str | Path | None = None) -> LoadedSplit:
        """Rows for ``specs-eval score``: only the fields the scorer reads are required (benchmarks whose
        prompts need more fields than their scorer override this; see ``benchmarks.schemas``)."""
        return self.load(split, data=data)

    @abstractmethod
    def official_prompt(self, row: dict[str, Any]) -> Prompt:
        """The benchmark's own prompt for a row, exactly as its official pipeline builds it."""

    def build_prompt(self, row: dict[str, Any], variant: str = "official") -> Prompt:
        """The prompt for a row under a prompt variant (``core.prompt.PROMPT_VARIANTS``).

        Every variant is the official prompt plus the variant's instruction, attached by the
        one template in ``core.prompt.with_instruction``; benchmarks only write ``official_prompt``.
        """
        self.check_variant(variant)
        prompt = self.official_prompt(row)
        instruction = PROMPT_VARIANTS[variant].instruction
        return with_instruction(prompt, instruction) if instruction else prompt

    def scoring_text(self, text: str, variant: str | None) -> str:
        """What the scorer reads of a response: the SPECS answer view under the ``specs`` variant, the
        answer as the requested format places it under a format-shift variant (``PromptVariant.answer_text``).

        Benchmarks whose official scorer reads whole responses set ``uses_answer_view = False``.
        """
        if self.uses_answer_view and variant in PROMPT_VARIANTS:
            return PROMPT_VARIANTS[variant].answer_text(text)
        return text

    @abstractmethod
    def score(
        self, rows: Sequence[dict[str, Any]], responses: Sequence[Response], profile: str | None = None
    ) -> list[ScoreResult]:
        """Score aligned rows and responses under a profile, in file order.

        Batch-shaped on purpose: official rules such as MMMU's seeded random fallback
        depend on the order of the whole scoring pass.
        """

    def regenerate(self, split: str, item_id: str, dataset: DatasetInfo | None) -> dict[str, Any] | str | None:
        """A generated benchmark's row re-created from its id (report thumbnails); ``None``: not generated,
        a string: why it cannot."""
        return None

    def split_roles(self) -> dict[str, list[str]]:
        """The default ID/OOD roles, as stored in a run's manifest (empty when the benchmark has none)."""
        return {"id": list(self.id_splits), "ood": list(self.ood_splits)} if self.id_splits or self.ood_splits else {}

    def row_id(self, row: dict[str, Any]) -> str:
        return str(row[self.id_field])

    def target(self, row: dict[str, Any]) -> str:
        """The gold answer as a string, for logs and reports."""
        return str(row.get("answer", ""))

    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        """Fields stored with each sample for breakdowns (JSON-able)."""
        return {}

    def requested_format(self, row: dict[str, Any], variant: str) -> str | None:
        """The output format the prompt asked for (a key of ``rules.formats.FORMATS``)."""
        v = PROMPT_VARIANTS.get(variant)
        return v.requested_format if v is not None else None

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
        if variant not in self.prompt_variants or variant not in PROMPT_VARIANTS:
            raise BenchmarkError(
                f"benchmark {self.name!r} has no prompt variant {variant!r}; known: {', '.join(self.prompt_variants)}"
            )
