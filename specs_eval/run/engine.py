"""The run engine: load tasks, generate with a backend, log every sample, score, summarise.

Why it is built around an append-only log: evaluation of a 7B model over thousands
of samples gets killed (pre-emption, OOM, Ctrl-C). Every finished batch is fsynced to
``generations.jsonl`` before the next starts, and re-running the same command skips
what is there, so a killed run resumes with nothing lost or duplicated. Scoring is a
pure function of that log (``scoring.engine``), so ``samples.jsonl`` and
``results.json`` are rewritten atomically at the end and never seen half-written.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from specs_eval import __version__
from specs_eval.benchmarks import get_benchmark
from specs_eval.benchmarks.base import Benchmark, LoadedSplit
from specs_eval.core.errors import BenchmarkError, SpecsError
from specs_eval.core.io import JsonlAppender, atomic_write_json, atomic_write_jsonl, read_jsonl
from specs_eval.core.prompt import image_hash, row_hash
from specs_eval.core.records import (
    SCHEMA_VERSION,
    GenerationRecord,
    GenerationSettings,
    ModelInfo,
    RunManifest,
    RunResults,
    SampleRecord,
    TaskSpec,
)
from specs_eval.core.study import GFStudySpec
from specs_eval.run.scoring import benchmark_results, score_generations

MANIFEST, GENERATIONS, SAMPLES, RESULTS, REPORT = (
    "manifest.json", "generations.jsonl", "samples.jsonl", "results.json", "report.html")


@dataclass
class RunConfig:
    """Everything that defines a run. Its hash decides whether a run directory can be resumed."""

    model: str
    tasks: list[TaskSpec]
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    backend: str = "hf"
    backend_options: dict[str, Any] = field(default_factory=dict)
    out: Path = Path("runs")
    run_name: str | None = None
    overwrite: bool = False
    shard: tuple[int, int] | None = None  # (index, count): this process handles rows with index % count == index
    judge: Any = None  # a specs_eval.core.judge.Judge for judge profiles / MEGA-Bench's open set (not hashed)
    #: the GF study spec the tasks came from (``run --study``), recorded in the manifest (roles only: not hashed)
    study: GFStudySpec | None = None

    def resolved_name(self) -> str:
        if self.run_name:
            return self.run_name
        base = Path(self.model.rstrip("/")).name or self.model
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in base)


@dataclass
class LoadedTask:
    spec: TaskSpec
    benchmark: Benchmark
    split: LoadedSplit
    profiles: list[str]

    @property
    def rows_by_id(self) -> dict[str, dict[str, Any]]:
        return {self.benchmark.row_id(r): r for r in self.split.rows}


@dataclass
class RunOutcome:
    run_dir: Path
    results: RunResults
    manifest: RunManifest
    generated: int
    resumed: int


def load_tasks(tasks: Sequence[TaskSpec], judge: Any = None) -> list[LoadedTask]:
    """Resolve benchmarks and load their rows; validation errors name the task.

    Generated benchmarks (the toy world) draw their items from ``TaskSpec.data_seed``,
    which is independent of the sampling seed: runs that differ only in ``--seed``
    evaluate the same items and can be compared sample by sample.
    """
    loaded = []
    seen: set[tuple[str, str]] = set()
    for t in tasks:
        if (t.benchmark, t.set_name) in seen:
            raise SpecsError(f"{t.benchmark}/{t.set_name} is listed twice: one run records each split once "
                             "(a study names a second prompt variant of a split as SPLIT@VARIANT)")
        seen.add((t.benchmark, t.set_name))
        bench = get_benchmark(t.benchmark)
        bench.check_split(t.split)
        bench.check_variant(t.prompt_variant)
        profiles = [bench.check_profile(p) for p in (t.profile.split(",") if t.profile else [None])]
        needs = [p for p in profiles if p in bench.judge_profiles]
        if needs and judge is None:
            raise SpecsError(f"profile {needs[0]!r} of {t.benchmark} needs a judge: pass --judge-url and --judge-model")
        bench.judge = judge
        split = bench.load(t.split, data=t.data, limit=t.limit, seed=t.data_seed)
        if not split.rows:
            raise BenchmarkError(f"{t.benchmark}/{t.split}: no rows to evaluate")
        ids = [bench.row_id(r) for r in split.rows]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise BenchmarkError(f"{t.benchmark}/{t.split}: duplicate id {dup!r} in the data")
        loaded.append(LoadedTask(t, bench, split, profiles))
    return loaded


# Backend options that change how fast or where outputs are produced, not what they are: a run may
# resume with different values (a restarted local server on a new port, more concurrency, another TP size).
TRANSPORT_OPTIONS = frozenset({"threads", "base_url", "api_key_env", "concurrency", "timeout_s", "max_retries",
                               "cache_dir", "probe", "tp", "gpu_memory_utilization"})


def config_hash(config: RunConfig, tasks: Sequence[LoadedTask]) -> str:
    """Hash of what determines the outputs: model, backend settings, decoding, and the exact data."""
    payload = {
        "model": config.model,
        "backend": config.backend,
        "backend_options": {k: v for k, v in sorted(config.backend_options.items()) if k not in TRANSPORT_OPTIONS},
        "generation": config.generation.model_dump(),
        "tasks": [
            # a task without a label hashes as before labels existed (resumable runs keep their hash)
            {"spec": t.spec.model_dump(exclude={"profile"} | ({"label"} if t.spec.label is None else set())),
             "data": t.split.info.content_hash} for t in tasks
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "specs-eval": __version__}
    for pkg in ("torch", "transformers", "tokenizers", "trl", "accelerate", "datasets", "pillow", "numpy", "vllm"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _batch_seed(seed: int, keys: Sequence[str]) -> int:
    h = hashlib.sha256(f"{seed}:{keys[0] if keys else ''}".encode()).digest()
    return int.from_bytes(h[:4], "big")


class RunDir:
    """Paths and state of one run directory."""

    def __init__(self, path: Path):
        self.path = path

    def file(self, name: str) -> Path:
        return self.path / name

    def manifest(self) -> RunManifest | None:
        p = self.file(MANIFEST)
        if not p.exists():
            return None
        data = json.loads(p.read_text(encoding="utf-8"))
        if data.get("schema_version") != SCHEMA_VERSION:
            raise SpecsError(f"{p}: schema version {data.get('schema_version')} is not {SCHEMA_VERSION}; "
                             "use a new --out or --overwrite")
        return RunManifest.model_validate(data)

    def generations(self, repair: bool = False) -> list[GenerationRecord]:
        return [GenerationRecord.model_validate(d) for d in read_jsonl(self.file(GENERATIONS), repair=repair)]


def run_eval(
    config: RunConfig,
    progress: Callable[[int, int], None] | None = None,
    backend: Any = None,
    command: Sequence[str] | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> RunOutcome:
    """Run (or resume) an evaluation and write the run directory. Returns its results."""
    t0 = time.perf_counter()
    seed = config.generation.seed
    tasks = load_tasks(config.tasks, judge=config.judge)
    chash = config_hash(config, tasks)
    run_dir = RunDir(Path(config.out) / config.resolved_name())
    if config.shard is not None:
        run_dir = RunDir(run_dir.path / f"shard-{config.shard[0]}-of-{config.shard[1]}")
    run_dir.path.mkdir(parents=True, exist_ok=True)
    previous = run_dir.manifest()
    if previous is not None and (config.overwrite or previous.config_hash != chash):
        if not config.overwrite:
            raise SpecsError(
                f"{run_dir.path} holds a different run (config {previous.config_hash} vs {chash}); "
                "pass --overwrite to replace it or --run-name to keep both"
            )
        for name in (GENERATIONS, SAMPLES, RESULTS, REPORT, MANIFEST):
            run_dir.file(name).unlink(missing_ok=True)
        previous = None
    existing = run_dir.generations(repair=True) if previous is not None else []
    done = {g.key for g in existing}

    n = config.generation.n
    work: list[tuple[LoadedTask, dict[str, Any]]] = []
    for t in tasks:
        for idx, row in enumerate(t.split.rows):
            if config.shard is not None and idx % config.shard[1] != config.shard[0]:
                continue
            rid = t.benchmark.row_id(row)
            if any((t.spec.benchmark, t.spec.set_name, rid, j) not in done for j in range(n)):
                work.append((t, row))
    total = sum(1 for t in tasks for i, _ in enumerate(t.split.rows)
                if config.shard is None or i % config.shard[1] == config.shard[0]) * n

    model_info = previous.model if previous is not None else ModelInfo(
        name=config.model, path=config.model, backend=config.backend)
    if work and backend is None:
        from specs_eval.backends.base import make_backend

        log(f"loading model {config.model} ({config.backend})")
        backend = make_backend(config.backend, config.model, **config.backend_options)
    if backend is not None:
        model_info = backend.info
    manifest = RunManifest(
        toolkit_version=__version__,
        run_name=config.resolved_name(),
        status="running",
        created=previous.created if previous is not None else _now(),
        config_hash=chash,
        model=model_info,
        generation=config.generation,
        tasks=[t.spec for t in tasks],
        datasets=[t.split.info for t in tasks],
        split_roles={t.benchmark.name: roles for t in tasks if (roles := t.benchmark.split_roles())},
        study=config.study,
        libraries=library_versions(),
        command=list(command if command is not None else sys.argv),
    )
    atomic_write_json(run_dir.file(MANIFEST), manifest)

    generated = 0
    if progress:
        progress(total - len(work) * n, total)
    try:
        with JsonlAppender(run_dir.file(GENERATIONS)) as log_file:
            by_task: dict[int, list[dict[str, Any]]] = defaultdict(list)
            order = []
            for t, row in work:
                if id(t) not in by_task:
                    order.append(t)
                by_task[id(t)].append(row)
            per_batch = max(1, config.generation.batch_size // n)
            for t in order:
                for batch in _chunks(by_task[id(t)], per_batch):
                    records = _generate_batch(t, batch, backend, config.generation, seed)
                    records = [r for r in records if r.key not in done]
                    log_file.write_many(records)
                    generated += len(records)
                    if progress:
                        progress(total - len(work) * n + generated, total)
    except BaseException as e:
        manifest.status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        manifest.error = None if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {e}"
        manifest.wall_s = round(time.perf_counter() - t0, 3)
        atomic_write_json(run_dir.file(MANIFEST), manifest)
        raise
    finally:
        if backend is not None and work:
            backend.close()

    if backend is not None:
        manifest.model = backend.info  # backends learn things while generating (e.g. whether a server honours n)
    results, _ = score_run_dir(run_dir.path, tasks, log=log)
    manifest.status = "complete"
    manifest.finished = _now()
    manifest.wall_s = round(time.perf_counter() - t0, 3)
    atomic_write_json(run_dir.file(MANIFEST), manifest)
    return RunOutcome(run_dir.path, results, manifest, generated, len(existing))


def _generate_batch(task: LoadedTask, rows: Sequence[dict[str, Any]], backend: Any, settings: GenerationSettings,
                    seed: int) -> list[GenerationRecord]:
    """Generate one batch; a row whose prompt cannot be built becomes an error record."""
    bench, spec = task.benchmark, task.spec
    prompts, ok_rows, records = [], [], []
    for row in rows:
        rid = bench.row_id(row)
        try:
            prompt = bench.build_prompt(row, spec.prompt_variant)
        except (BenchmarkError, KeyError, ValueError, TypeError, OSError) as e:
            msg = str(e) if isinstance(e, BenchmarkError) else f"{type(e).__name__}: {e}"
            for j in range(settings.n):
                records.append(GenerationRecord(
                    benchmark=spec.benchmark, split=spec.set_name, id=rid, sample_idx=j, doc_hash=row_hash(row),
                    prompt_hash="", prompt="", response="", finish_reason="error", error=msg))
            continue
        prompts.append(prompt)
        ok_rows.append(row)
    if prompts:
        t0 = time.perf_counter()
        outputs = backend.generate(prompts, settings, seed=_batch_seed(seed, [bench.row_id(r) for r in ok_rows]))
        latency = (time.perf_counter() - t0) / max(1, len(prompts) * settings.n)
        for row, prompt, outs in zip(ok_rows, prompts, outputs, strict=True):
            for j, o in enumerate(outs):
                records.append(GenerationRecord(
                    benchmark=spec.benchmark, split=spec.set_name, id=bench.row_id(row), sample_idx=j,
                    doc_hash=row_hash(row), prompt_hash=prompt.hash(), prompt=prompt.text,
                    image_hashes=[image_hash(i) for i in prompt.images], response=o.text,
                    finish_reason="error" if o.error else o.finish_reason, n_prompt_tokens=o.n_prompt_tokens,
                    n_tokens=o.n_tokens, latency_s=round(latency, 5), token_stats=o.token_stats, error=o.error))
    order = {bench.row_id(r): i for i, r in enumerate(rows)}
    records.sort(key=lambda r: (order[r.id], r.sample_idx))
    return records


def score_run_dir(path: Path, tasks: Sequence[LoadedTask], log: Callable[[str], None] = lambda s: None
                  ) -> tuple[RunResults, list[SampleRecord]]:
    """Score a run directory's generations and write ``samples.jsonl`` and ``results.json``."""
    run_dir = RunDir(path)
    gens = run_dir.generations()
    by_task: dict[tuple[str, str], list[GenerationRecord]] = defaultdict(list)
    for g in gens:
        by_task[(g.benchmark, g.split)].append(g)
    all_samples: list[SampleRecord] = []
    per_bench: dict[str, list[SampleRecord]] = defaultdict(list)
    benches: dict[str, Benchmark] = {}
    warnings = []
    for t in tasks:
        rows_by_id = t.rows_by_id
        order = {rid: i for i, rid in enumerate(rows_by_id)}
        task_gens = [g for g in by_task.get((t.spec.benchmark, t.spec.set_name), []) if g.id in rows_by_id]
        unknown = [g.id for g in by_task.get((t.spec.benchmark, t.spec.set_name), []) if g.id not in rows_by_id]
        if unknown:
            warnings.append(f"{t.spec.benchmark}/{t.spec.set_name}: {len(unknown)} logged ids are not in the data")
        task_gens.sort(key=lambda g: (order[g.id], g.sample_idx))
        samples = score_generations(t.benchmark, rows_by_id, task_gens, t.spec.prompt_variant, t.profiles)
        t.benchmark.write_extra_outputs(t.spec.split, samples, path / "official" / t.spec.benchmark / t.spec.set_name)
        all_samples.extend(samples)
        per_bench[t.spec.benchmark].extend(samples)
        benches[t.spec.benchmark] = t.benchmark
    results = RunResults(
        run_name=path.name,
        model=(run_dir.manifest().model.name if run_dir.manifest() else None),
        benchmarks={name: benchmark_results(benches[name], s) for name, s in per_bench.items()},
        warnings=warnings,
    )
    atomic_write_jsonl(run_dir.file(SAMPLES), all_samples)
    atomic_write_json(run_dir.file(RESULTS), results)
    return results, all_samples
