"""From generations to scored samples and split metrics — shared by `run` and `score`.

Why one engine: `specs-eval run` (which generates) and `specs-eval score` (which only
reads saved outputs) must produce byte-identical ``samples.jsonl`` and
``results.json`` for the same responses. Both call ``score_generations`` and
``benchmark_results``; nothing else computes headline numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from specs_eval.benchmarks.base import Benchmark
from specs_eval.records import (
    BenchmarkResults,
    GenerationRecord,
    Response,
    SampleRecord,
    ScoreResult,
    SplitMetrics,
)
from specs_eval.scoring import extract as ex
from specs_eval.scoring.formats import FORMATS, TRAINED_FORMAT


def answer_view(text: str) -> str:
    r"""The SPECS answer view: ``\boxed{}`` in ``<answer>``, else ``<answer>`` content, else think-stripped text."""
    tag = ex.answer_tag(text)
    if tag is not None:
        boxed = ex.last_boxed(tag)
        return boxed if boxed is not None else tag
    return ex.strip_think(text)


def scoring_text(benchmark: Benchmark, text: str, variant: str) -> str:
    if variant == "specs" and getattr(benchmark, "uses_answer_view", True):
        return answer_view(text)
    return text


def score_generations(
    benchmark: Benchmark,
    rows_by_id: dict[str, dict[str, Any]],
    generations: Sequence[GenerationRecord],
    variant: str = "official",
    profiles: Sequence[str] | None = None,
    extractions: dict[str, str | None] | None = None,
) -> list[SampleRecord]:
    """Score generations (in their order) under each profile; the first profile is the headline."""
    profiles = list(profiles or [benchmark.default_profile])
    for p in profiles:
        benchmark.check_profile(p)
    rows = [rows_by_id[g.id] for g in generations]
    responses = [
        Response(
            id=g.id,
            text=scoring_text(benchmark, g.response, variant),
            extraction=(extractions or {}).get(g.id),
            finish_reason=g.finish_reason,
        )
        for g in generations
    ]
    by_profile: dict[str, list[ScoreResult]] = {}
    for p in profiles:
        results = benchmark.score(rows, responses, p)
        if len(results) != len(rows):
            raise RuntimeError(f"{benchmark.name}: scorer {p!r} returned {len(results)} results for {len(rows)} rows")
        by_profile[p] = results
    out = []
    for i, (g, row) in enumerate(zip(generations, rows, strict=True)):
        fmt = benchmark.requested_format(row, variant)
        format_ok = FORMATS[fmt].check(g.response) if fmt in FORMATS and g.error is None else None
        scores = {p: by_profile[p][i] for p in profiles}
        for s in scores.values():
            if s.format_ok is None:
                s.format_ok = format_ok
        head = scores[profiles[0]]
        if g.error is not None:
            head = ScoreResult(score=0.0, correct=False, parse_status="error", method="generation_error",
                               details={"error": g.error})
            scores = dict.fromkeys(profiles, head)
        meta = benchmark.meta(row)
        meta.setdefault("requested_format", fmt)
        if fmt not in (None, TRAINED_FORMAT) and g.error is None:
            meta["in_trained_format"] = FORMATS[TRAINED_FORMAT].check(g.response)
        out.append(
            SampleRecord(
                benchmark=g.benchmark,
                split=g.split,
                id=g.id,
                sample_idx=g.sample_idx,
                doc_hash=g.doc_hash,
                prompt_hash=g.prompt_hash,
                prompt=g.prompt,
                target=benchmark.target(row),
                response=g.response,
                finish_reason=g.finish_reason,
                n_tokens=g.n_tokens,
                token_stats=g.token_stats,
                error=g.error,
                profile=profiles[0],
                prediction=head.prediction,
                correct=head.correct,
                score=head.score,
                parse_status=head.parse_status,
                format_ok=format_ok,
                scores=scores,
                meta=meta,
            )
        )
    return out


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else 0.0


def split_metrics(samples: Sequence[SampleRecord], breakdown_keys: Sequence[str] = (), profile: str | None = None
                  ) -> SplitMetrics:
    """Headline metrics of one split; ``profile`` picks a non-headline profile's scores."""

    def verdict(s: SampleRecord) -> ScoreResult:
        if profile is not None and profile in s.scores:
            return s.scores[profile]
        if s.profile in s.scores:
            return s.scores[s.profile]
        return ScoreResult(score=s.score, correct=s.correct, prediction=s.prediction, parse_status=s.parse_status)

    verdicts = [verdict(s) for s in samples]
    # A verdict marked ``not_scored`` (e.g. MEGA-Bench's open set without a judge) has no
    # score: it is counted, never averaged in as a zero.
    scored = [not v.details.get("not_scored") for v in verdicts]
    n_not_scored = scored.count(False)
    n_items = len({s.id for s in samples})
    fmt_known = [s.format_ok for s in samples if s.format_ok is not None]
    tokens = [s.n_tokens for s in samples if s.n_tokens is not None]
    extra: dict[str, Any] = {}
    if n_not_scored:
        extra["n_not_scored"] = n_not_scored
    if fmt_known:
        extra["strict_accuracy"] = _mean(float(v.correct and bool(s.format_ok))
                                         for s, v, ok in zip(samples, verdicts, scored, strict=True) if ok)
    sticky = [s.meta["in_trained_format"] for s in samples if "in_trained_format" in s.meta]
    if sticky:
        extra["format_stickiness"] = _mean(float(x) for x in sticky)
    breakdowns: dict[str, dict[str, dict[str, float]]] = {}
    for key in breakdown_keys:
        groups: dict[str, list[float]] = defaultdict(list)
        for s, v, ok in zip(samples, verdicts, scored, strict=True):
            if not ok:
                continue
            value = s.meta.get(key)
            values = value if isinstance(value, list) else [value]
            for val in values:
                if val is not None:
                    groups[str(val)].append(v.score)
        if groups:
            breakdowns[key] = {k: {"n": len(g), "accuracy": _mean(g)} for k, g in sorted(groups.items())}
    n = len(samples)
    return SplitMetrics(
        n=n_items,
        n_samples=n,
        accuracy=_mean(v.score for v, ok in zip(verdicts, scored, strict=True) if ok) if any(scored) or not verdicts
        else None,
        format_compliance=_mean(float(x) for x in fmt_known) if fmt_known else None,
        parse_failure_rate=_mean(float(v.parse_status in ("failed", "empty")) for v in verdicts),
        fallback_rate=_mean(float(v.parse_status == "fallback") for v in verdicts),
        truncation_rate=_mean(float(s.finish_reason == "length") for s in samples),
        error_rate=_mean(float(s.error is not None or v.parse_status == "error") for s, v in zip(samples, verdicts, strict=True)),
        mean_response_tokens=_mean(tokens) if tokens else None,
        extra=extra,
        breakdowns=breakdowns,
    )


def benchmark_results(benchmark: Benchmark, samples: Sequence[SampleRecord]) -> BenchmarkResults:
    """Per-split metrics of one benchmark's samples, plus the official breakdown layout."""
    by_split: dict[str, list[SampleRecord]] = defaultdict(list)
    for s in samples:
        by_split[s.split].append(s)
    profile = samples[0].profile if samples else benchmark.default_profile
    return BenchmarkResults(
        profile=profile,
        splits={k: split_metrics(v, benchmark.breakdown_keys) for k, v in by_split.items()},
        official=benchmark.official_breakdown(samples),
    )
