"""Scoring a predictions file end to end (the body of ``specs-eval score``), importable for tests.

Why not in the CLI module: tests, the run engine and notebooks call the same function; the
CLI only parses options and prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specs_eval.benchmarks import get_benchmark
from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_json, atomic_write_jsonl
from specs_eval.core.prompt import row_hash
from specs_eval.core.records import GenerationRecord, RunResults, SplitMetrics
from specs_eval.run.predictions import read_predictions
from specs_eval.run.scoring import benchmark_results, score_generations


@dataclass
class ScoreSummary:
    benchmark: str
    split: str
    profile: str
    metrics: SplitMetrics
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def score_file(*, benchmark_name: str, predictions: str | Path, out_dir: Path, data: str | Path | None = None,
               split: str | None = None, profile: str | None = None, variant: str = "official",
               strict: bool = False, judge: Any = None) -> ScoreSummary:
    bench = get_benchmark(benchmark_name)
    profile = bench.check_profile(profile)
    bench.check_variant(variant)
    if profile in bench.judge_profiles and judge is None:
        raise SpecsError(f"profile {profile!r} of {benchmark_name} needs a judge: pass --judge-url and --judge-model")
    bench.judge = judge
    split = split or (bench.default_splits[0] if bench.default_splits else next(iter(bench.splits)))
    loaded = bench.load_for_scoring(split, data=data)
    warnings: list[str] = []
    info = loaded.info
    warnings += [f"{benchmark_name} {split}: {note}" for note in info.notes]
    if info.expected_rows is not None and info.rows != info.expected_rows:
        warnings.append(f"{benchmark_name} {split}: the data has {info.rows} rows, the published split has "
                        f"{info.expected_rows}; scores cover this subset only")
    rows_by_id = {bench.row_id(r): r for r in loaded.rows}
    pf = read_predictions(predictions)
    warnings += [f"skipped {x}" for x in pf.problems]
    warnings += pf.notes
    unknown = [p for p in pf.predictions if p.id not in rows_by_id]
    if unknown:
        shown = ", ".join(repr(p.id) for p in unknown[:5])
        warnings.append(f"{len(unknown)} prediction(s) with ids not in {benchmark_name} {split} skipped: {shown}"
                        f"{' …' if len(unknown) > 5 else ''}")
    known = [p for p in pf.predictions if p.id in rows_by_id]
    missing = len(rows_by_id) - len({p.id for p in known})
    if missing:
        warnings.append(f"{missing} of {len(rows_by_id)} {benchmark_name} {split} items have no prediction; "
                        "accuracy is over the scored items only")
    if not known:
        raise SpecsError(f"no prediction matches an id of {benchmark_name} {split} "
                         f"(expected ids like {next(iter(rows_by_id), '?')!r})")
    if strict and (pf.problems or unknown or missing):
        raise SpecsError("input problems with --strict:\n  " + "\n  ".join(warnings))
    gens = [
        GenerationRecord(benchmark=bench.name, split=split, id=p.id, doc_hash=row_hash(rows_by_id[p.id]),
                         prompt_hash="", prompt="", response=p.response,
                         finish_reason=p.finish_reason)  # type: ignore[arg-type]
        for p in known
    ]
    extractions = {p.id: p.extraction for p in known if p.extraction is not None}
    samples = score_generations(bench, rows_by_id, gens, variant=variant, profiles=[profile], extractions=extractions)
    results = benchmark_results(bench, samples)
    n_err = sum(1 for s in samples if s.parse_status == "error")
    if n_err:
        reasons = sorted({str(s.scores[profile].details.get("error", ""))[:120] for s in samples
                          if s.parse_status == "error"})
        warnings.append(f"{n_err} sample(s) could not be scored (status 'error', counted as wrong): "
                        + "; ".join(reasons[:3]))
    run = RunResults(run_name=out_dir.name, benchmarks={bench.name: results}, warnings=warnings)
    files = [atomic_write_jsonl(out_dir / "samples.jsonl", samples), atomic_write_json(out_dir / "results.json", run)]
    files += bench.write_extra_outputs(split, samples, out_dir)
    atomic_write_json(out_dir / "datasets.json", [info])
    return ScoreSummary(benchmark=bench.name, split=split, profile=profile, metrics=results.splits[split],
                        warnings=warnings, files=files)
