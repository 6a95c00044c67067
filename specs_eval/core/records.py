"""Typed records for everything specs-eval stores on disk.

Why one module: the run engine, the scorers, the importers and the report all read
and write the same files. Keeping their shapes in one place (with a schema version on
every stored file) is what lets a report refuse a run directory from an older schema
instead of silently mis-reading it.

Files of a run directory (see docs/design.md):
  manifest.json      RunManifest      provenance, written at start, finalised at end
  generations.jsonl  GenerationRecord append-only, one line per (task, id, sample_idx)
  samples.jsonl      SampleRecord     scored generations, rewritten atomically
  results.json       RunResults       aggregated metrics per benchmark / split
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from specs_eval.core.study import GFStudySpec

SCHEMA_VERSION = 1

ParseStatus = Literal["ok", "fallback", "failed", "empty", "error"]
FinishReason = Literal["stop", "length", "error"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScoreResult(_Record):
    """The verdict of one scoring profile on one response.

    ``score`` is in [0, 1] (partial credit is allowed, e.g. MEGA-Bench); ``correct`` is
    ``score == 1`` for binary scorers. ``extracted`` is the raw answer the parser found,
    ``prediction`` the normalised form that was compared with the gold answer, and
    ``parse_status`` says how it was found: ``ok`` (a rule matched), ``fallback`` (an
    official fallback such as MMMU's random choice decided), ``failed`` (nothing
    parseable), ``empty`` (empty response) or ``error`` (the scorer raised; counted).
    """

    score: float
    correct: bool
    prediction: str | None = None
    extracted: str | None = None
    parse_status: ParseStatus = "ok"
    method: str = ""
    format_ok: bool | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def error(cls, exc: BaseException) -> ScoreResult:
        """The verdict for a scorer that raised: wrong, counted as ``error``, with the reason kept."""
        return cls(score=0.0, correct=False, parse_status="error", method="error",
                   details={"error": f"{type(exc).__name__}: {exc}"})


class Response(_Record):
    """What a scorer needs from a generation: the text and how it ended.

    ``extraction`` carries an answer extracted elsewhere (e.g. MathVista's published
    LLM extraction); the official MathVista profile scores it as given.
    """

    id: str
    text: str
    extraction: str | None = None
    finish_reason: FinishReason = "stop"

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


class TokenStats(_Record):
    """Per-response decoding statistics used by the exploration metrics.

    ``nucleus_mean`` is the mean size of the top-p (``top_p``) nucleus over generated
    tokens: the rollout branching factor of one rollout. ``entropy_mean`` is the mean
    next-token entropy in nats. ``approx`` names the approximation when they were
    estimated from top-k log-probs rather than the full distribution (then both means
    are lower bounds, and ``n_censored`` counts positions whose nucleus exceeded the
    top k; see ``backends/topk.py``).
    """

    n_tokens: int
    nucleus_mean: float
    entropy_mean: float
    top_p: float = 0.95
    approx: str | None = None
    n_censored: int | None = None


class GenerationRecord(_Record):
    """One generated response, as written by the run engine (append-only)."""

    schema_version: int = SCHEMA_VERSION
    benchmark: str
    split: str
    id: str
    sample_idx: int = 0
    doc_hash: str
    prompt_hash: str
    prompt: str
    image_hashes: list[str] = Field(default_factory=list)
    response: str
    finish_reason: FinishReason = "stop"
    n_prompt_tokens: int | None = None
    n_tokens: int | None = None
    latency_s: float | None = None
    token_stats: TokenStats | None = None
    error: str | None = None
    shard: str | None = None

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.benchmark, self.split, self.id, self.sample_idx)


class SampleRecord(_Record):
    """One scored response: a line of ``samples.jsonl``.

    ``prediction`` / ``correct`` / ``score`` repeat the default profile's verdict so a
    reader needs no knowledge of profiles; ``scores`` holds every computed profile.
    ``meta`` carries the benchmark fields that breakdowns group by.
    """

    schema_version: int = SCHEMA_VERSION
    benchmark: str
    split: str
    id: str
    sample_idx: int = 0
    doc_hash: str = ""
    prompt_hash: str = ""
    prompt: str = ""
    target: str = ""
    response: str
    finish_reason: FinishReason = "stop"
    n_tokens: int | None = None
    token_stats: TokenStats | None = None
    error: str | None = None
    profile: str
    prediction: str | None
    correct: bool
    score: float
    parse_status: ParseStatus = "ok"
    format_ok: bool | None = None
    scores: dict[str, ScoreResult] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


class DatasetInfo(_Record):
    """Provenance of the rows a run or a scoring pass used."""

    benchmark: str
    split: str
    source: Literal["toyworld", "hf", "local"]
    hf_id: str | None = None
    #: the revision actually read: a pinned commit, an HF cache snapshot's name, or None (a local copy)
    revision: str | None = None
    #: the revision the toolkit pins for this dataset (None: none pinned)
    pinned_revision: str | None = None
    config: str | None = None
    path: str | None = None
    #: data files read, relative to ``path`` (or the snapshot folder)
    files: list[str] | None = None
    rows: int
    content_hash: str
    seed: int | None = None
    expected_rows: int | None = None
    #: rows left out by ``--skip-bad-rows``: reason -> count, and the first few rows with their problem
    skipped: dict[str, int] = Field(default_factory=dict)
    skipped_rows: list[str] = Field(default_factory=list)
    #: what a reader of the numbers should know about the data (a subset, an unpinned revision, …)
    notes: list[str] = Field(default_factory=list)
    #: True when the split's gold answers are not in the data (predictions go to a submission file)
    answers_withheld: bool | None = None


class SplitMetrics(_Record):
    """Headline numbers of one (benchmark, split) under one scoring profile."""

    n: int
    n_samples: int
    #: mean score of the scored samples; ``None`` when none could be scored (e.g. no judge)
    accuracy: float | None
    format_compliance: float | None = None
    parse_failure_rate: float = 0.0
    fallback_rate: float = 0.0
    truncation_rate: float = 0.0
    error_rate: float = 0.0
    mean_response_tokens: float | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    breakdowns: dict[str, dict[str, dict[str, float]]] = Field(default_factory=dict)


class BenchmarkResults(_Record):
    profile: str
    splits: dict[str, SplitMetrics]
    official: dict[str, Any] = Field(default_factory=dict)


class RunResults(_Record):
    """``results.json``: aggregated metrics of a run or of a scoring pass."""

    schema_version: int = SCHEMA_VERSION
    run_name: str
    model: str | None = None
    benchmarks: dict[str, BenchmarkResults]
    warnings: list[str] = Field(default_factory=list)


class ModelInfo(_Record):
    name: str
    path: str
    backend: str
    weights_hash: str | None = None
    chat_template_hash: str | None = None
    processor: dict[str, Any] = Field(default_factory=dict)
    dtype: str | None = None
    device: str | None = None
    #: remote/engine backends: where and how outputs were produced (base URL, served model name,
    #: whether the server honoured ``n`` and returned log-probs, parallel settings)
    endpoint: dict[str, Any] = Field(default_factory=dict)


class GenerationSettings(_Record):
    """Decoding settings, always explicit and recorded (no hidden top_p defaults)."""

    max_new_tokens: int = 96
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int | None = None
    n: int = 1
    seed: int = 0
    batch_size: int = 32
    record_token_stats: bool = False
    stats_top_p: float = 0.95

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


class TaskSpec(_Record):
    benchmark: str
    split: str
    prompt_variant: str = "official"
    profile: str | None = None
    limit: int | None = None
    data: str | None = None
    data_seed: int = 0  # generated benchmarks only; independent of the sampling seed
    #: the split name the samples are recorded under when it is not ``split`` (a study's format-shift set
    #: ``split@variant``: one run can then hold the same split asked two ways); None: ``split``
    label: str | None = None

    @property
    def set_name(self) -> str:
        """The split name of this task's records (``label`` or ``split``)."""
        return self.label or self.split


class RunManifest(_Record):
    """``manifest.json``: everything needed to explain why two numbers differ."""

    schema_version: int = SCHEMA_VERSION
    toolkit_version: str
    run_name: str
    status: Literal["running", "complete", "failed", "interrupted"] = "running"
    created: str
    finished: str | None = None
    config_hash: str
    model: ModelInfo
    generation: GenerationSettings
    tasks: list[TaskSpec]
    datasets: list[DatasetInfo] = Field(default_factory=list)
    #: benchmark -> {"id": [...], "ood": [...]}: the benchmark's default ID/OOD split roles when the run was made
    #: (all of them, also splits this run skipped), so analysis needs no benchmark code to compute GF
    split_roles: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    #: the GF study spec the run evaluated (``run --study``): which of its sets are ID and OOD, weights, Ψ
    study: GFStudySpec | None = None
    #: how the outputs came to be: ``generated`` by ``specs-eval run``, or ``scored`` from a predictions
    #: file by ``specs-eval score`` (then ``generation`` holds defaults, not the settings that produced them)
    origin: Literal["generated", "scored"] = "generated"
    #: a name given with ``--run-name`` that is not the folder's; None: the run is named after its folder
    display_name: str | None = None
    libraries: dict[str, str] = Field(default_factory=dict)
    command: list[str] = Field(default_factory=list)
    wall_s: float | None = None
    error: str | None = None
