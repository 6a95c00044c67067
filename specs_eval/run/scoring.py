"""From generations to scored samples and per-split results — shared by `run` and `score`.

Why one engine: `specs-eval run` (which generates) and `specs-eval score` (which only
reads saved outputs) must produce byte-identical ``samples.jsonl`` and
``results.json`` for the same responses. Both call ``score_generations`` and
``benchmark_results``; nothing else computes headline numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from specs_eval.benchmarks.base import Benchmark
from specs_eval.core.metrics import split_metrics
from specs_eval.core.records import (
    BenchmarkResults,
    GenerationRecord,
    Response,
    SampleRecord,
    ScoreResult,
)
from specs_eval.rules.formats import FORMATS, TRAINED_FORMAT


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
            text=benchmark.scoring_text(g.response, variant),
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
