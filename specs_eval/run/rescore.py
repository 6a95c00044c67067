"""Scoring a predictions file end to end (the body of ``specs-eval score``), importable for tests.

Why a full run folder: a scored folder is compared, reported and merged like any run, so it
carries the same files (``manifest.json`` with the data's content hash, the scoring
settings, the library versions and where the responses came from; ``samples.jsonl``;
``results.json``; ``official/<benchmark>/<split>/`` side files) and ``manifest.origin =
"scored"`` says its decoding settings are unknown. Scoring another benchmark or split into
the same folder adds it (a model's MathVista and MMMU scores in one run); scoring a split
that is there again replaces it (a re-score under another profile). Several profiles per
call: the first is the headline, like ``run --profile a,b``.

Why not in the CLI module: tests, the run engine and notebooks call the same function; the
CLI only parses options and prints.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specs_eval import __version__
from specs_eval.benchmarks import get_benchmark
from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_json, atomic_write_jsonl, read_jsonl
from specs_eval.core.prompt import row_hash
from specs_eval.core.records import (
    SCHEMA_VERSION,
    DatasetInfo,
    GenerationRecord,
    GenerationSettings,
    ModelInfo,
    RunManifest,
    RunResults,
    SampleRecord,
    SplitMetrics,
    TaskSpec,
)
from specs_eval.run.predictions import read_predictions
from specs_eval.run.scoring import benchmark_results, score_generations

MANIFEST, SAMPLES, RESULTS, DATASETS = "manifest.json", "samples.jsonl", "results.json", "datasets.json"


@dataclass
class ScoreSummary:
    benchmark: str
    split: str
    profile: str
    metrics: SplitMetrics
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    #: (benchmark, split) pairs the folder holds after this call
    contents: list[tuple[str, str]] = field(default_factory=list)


def _profiles(bench: Any, profile: str | list[str] | None) -> list[str]:
    names = profile.split(",") if isinstance(profile, str) else list(profile or [None])
    out = [bench.check_profile(p.strip() if isinstance(p, str) else p) for p in names]
    if len(set(out)) != len(out):
        raise SpecsError(f"profile listed twice: {','.join(out)}")
    return out


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _existing(out_dir: Path) -> tuple[RunManifest | None, list[SampleRecord], list[str]]:
    """What a folder holds before scoring into it: a score folder's manifest, samples and warnings."""
    mpath = out_dir / MANIFEST
    if not mpath.exists():
        if (out_dir / SAMPLES).exists():
            raise SpecsError(f"{out_dir} holds samples but no manifest.json (an older score folder?): "
                             "score into a new folder")
        return None, [], []
    try:
        obj = json.loads(mpath.read_text(encoding="utf-8"))
        if obj.get("schema_version") != SCHEMA_VERSION:
            raise SpecsError(f"{mpath}: schema version {obj.get('schema_version')} is not {SCHEMA_VERSION}; "
                             "score into a new folder")
        manifest = RunManifest.model_validate(obj)
    except (OSError, ValueError) as e:
        raise SpecsError(f"{mpath}: not a readable manifest ({e}); score into a new folder") from None
    if manifest.origin != "scored":
        raise SpecsError(f"{out_dir} is a `specs-eval run` folder (its responses were generated there); score into "
                         "another folder, or combine folders with `specs-eval merge SRC… --out DEST`")
    samples = [SampleRecord.model_validate(d) for d in read_jsonl(out_dir / SAMPLES)] \
        if (out_dir / SAMPLES).exists() else []
    warnings: list[str] = []
    if (out_dir / RESULTS).exists():
        warnings = RunResults.model_validate_json((out_dir / RESULTS).read_text(encoding="utf-8")).warnings
    return manifest, samples, warnings


def score_file(*, benchmark_name: str, predictions: str | Path, out_dir: Path, data: str | Path | None = None,
               split: str | None = None, profile: str | list[str] | None = None, variant: str = "official",
               strict: bool = False, judge: Any = None, run_name: str | None = None, model: str | None = None,
               command: list[str] | None = None) -> ScoreSummary:
    """Score ``predictions`` for one benchmark split into the run folder ``out_dir`` (created or extended)."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    bench = get_benchmark(benchmark_name)
    profiles = _profiles(bench, profile)
    bench.check_variant(variant)
    needs = [p for p in profiles if p in bench.judge_profiles]
    if needs and judge is None:
        raise SpecsError(f"profile {needs[0]!r} of {benchmark_name} needs a judge: pass --judge-url and --judge-model")
    bench.judge = judge
    split = split or (bench.default_splits[0] if bench.default_splits else next(iter(bench.splits)))
    bench.check_split(split)
    previous, old_samples, old_warnings = _existing(out_dir)
    kept = [s for s in old_samples if (s.benchmark, s.split) != (bench.name, split)]
    other = {s.profile for s in kept if s.benchmark == bench.name}
    if other and other != {profiles[0]}:
        raise SpecsError(f"{out_dir} holds {bench.name} scored with headline profile {', '.join(sorted(other))}; "
                         f"score {split} with it first (--profile {sorted(other)[0]},…) or use another folder")
    loaded = bench.load_for_scoring(split, data=data)
    warnings: list[str] = []
    info = loaded.info
    warnings += [f"{benchmark_name} {split}: {note}" for note in info.notes]
    if info.expected_rows is not None and info.rows != info.expected_rows:
        warnings.append(f"the data has {info.rows} rows, the published split has {info.expected_rows}; scores cover "
                        "this subset only")
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
    samples = score_generations(bench, rows_by_id, gens, variant=variant, profiles=profiles, extractions=extractions)
    n_err = sum(1 for s in samples if s.parse_status == "error")
    if n_err:
        reasons = sorted({str(s.scores[profiles[0]].details.get("error", ""))[:120] for s in samples
                          if s.parse_status == "error"})
        warnings.append(f"{n_err} sample(s) could not be scored (status 'error', counted as wrong): "
                        + "; ".join(reasons[:3]))
    warnings = [f"{bench.name}/{split}: {w}" for w in warnings]
    # the folder's other splits keep their samples and warnings; this split's are replaced
    scope = f"{bench.name}/{split}: "
    all_warnings = [w for w in old_warnings if not w.startswith(scope)] + warnings
    all_samples = kept + samples
    by_bench: dict[str, list[SampleRecord]] = defaultdict(list)
    for s in all_samples:
        by_bench[s.benchmark].append(s)
    results_by_bench = {name: benchmark_results(bench if name == bench.name else get_benchmark(name), ss)
                        for name, ss in by_bench.items()}

    task = TaskSpec(benchmark=bench.name, split=split, prompt_variant=variant, profile=",".join(profiles),
                    data=None if data is None else str(data))
    tasks = [t for t in (previous.tasks if previous else []) if (t.benchmark, t.set_name) != (bench.name, split)]
    datasets = [d for d in (previous.datasets if previous else []) if (d.benchmark, d.split) != (bench.name, split)]
    preds_src = dict((previous.model.endpoint.get("predictions") or {}) if previous else {})
    preds_src[f"{bench.name}/{split}"] = {"file": Path(predictions).name, "sha256": _file_sha256(Path(predictions)),
                                          "lines": len(pf.predictions)}
    name = out_dir.name
    model_name = model or (previous.model.name if previous else None) or run_name or name
    roles = {**(previous.split_roles if previous else {})}
    if bench.split_roles():
        roles[bench.name] = bench.split_roles()
    tasks.append(task)
    datasets.append(info)
    manifest = RunManifest(
        toolkit_version=__version__,
        run_name=name,
        display_name=run_name if run_name and run_name != name else (previous.display_name if previous else None),
        status="complete",
        created=previous.created if previous else _now(),
        finished=_now(),
        config_hash=_config_hash(tasks, datasets, preds_src),
        model=ModelInfo(name=model_name, path=Path(predictions).name, backend="predictions",
                        endpoint={"predictions": dict(sorted(preds_src.items()))}),
        generation=GenerationSettings(),
        tasks=tasks,
        datasets=datasets,
        split_roles=roles,
        origin="scored",
        libraries=_libraries(),
        command=list(command if command is not None else ["specs-eval", *sys.argv[1:]]),
        wall_s=round(time.perf_counter() - t0, 3),
    )
    run = RunResults(run_name=name, model=model_name, benchmarks=results_by_bench, warnings=all_warnings)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [atomic_write_jsonl(out_dir / SAMPLES, all_samples), atomic_write_json(out_dir / RESULTS, run)]
    files += bench.write_extra_outputs(split, samples, out_dir / "official" / bench.name / split)
    files.append(atomic_write_json(out_dir / DATASETS, [d.model_dump(mode="json") for d in datasets]))
    files.append(atomic_write_json(out_dir / MANIFEST, manifest))
    return ScoreSummary(benchmark=bench.name, split=split, profile=profiles[0],
                        metrics=results_by_bench[bench.name].splits[split], warnings=warnings, files=files,
                        profiles=profiles, contents=sorted({(t.benchmark, t.set_name) for t in tasks}))


def _config_hash(tasks: list[TaskSpec], datasets: list[DatasetInfo], preds: dict[str, Any]) -> str:
    """What determines a score folder's numbers: the tasks (profiles, variant), the data, the responses."""
    payload = {"tasks": sorted((t.model_dump() for t in tasks), key=lambda d: (d["benchmark"], d["split"])),
               "data": sorted((d.benchmark, d.split, d.content_hash) for d in datasets),
               "predictions": {k: v["sha256"] for k, v in sorted(preds.items())}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _libraries() -> dict[str, str]:
    """The versions that decide scores (no torch: nothing was generated here)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "specs-eval": __version__}
    for pkg in ("datasets", "pillow", "numpy", "sympy", "latex2sympy2_extended", "math-verify"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out
