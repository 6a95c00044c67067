"""The run engine: load tasks, generate with a backend, log every sample, score, summarise.

Why it is built around an append-only log: evaluation of a 7B model over thousands
of samples gets killed (pre-emption, OOM, Ctrl-C). Every finished batch is fsynced to
``generations.jsonl`` before the next starts, and re-running the same command skips
what is there, so a killed run resumes with nothing lost or duplicated. Scoring is a
pure function of that log (``scoring.engine``), so ``samples.jsonl`` and
``results.json`` are rewritten atomically at the end and never seen half-written.

What makes a resume *exact* (equal to a run that was never interrupted), not just complete:

* one writer: the run folder is locked (``core.io.FolderLock``); a second ``run`` on the same
  folder is refused with the holder's pid, a lock left by a dead process is taken over;
* batches are cut from the full row list of each task, never from what is left, so a resumed
  batch holds the same rows (and the same padding) as the first attempt; a partly logged batch
  is generated again whole and only its missing samples are written;
* sampling seeds belong to the sample: each row's seed is derived from (run seed, benchmark,
  split, id) and each of its ``n`` samples from that and its index; no seed depends on where a
  batch starts;
* failed samples (``finish_reason == "error"``) are generated again on a rerun
  (``retry_errors``); the log keeps the old record, and the newest record of a key wins.

Batch ``k + 1`` is prepared (prompts built, images loaded, and, for backends with a
``prepare`` method, tokenised and image-processed) in a background thread while batch ``k``
generates.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
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
from specs_eval.backends.prefetch import prefetched
from specs_eval.benchmarks import get_benchmark
from specs_eval.benchmarks.base import Benchmark, LoadedSplit
from specs_eval.core.errors import BenchmarkError, SpecsError
from specs_eval.core.io import (
    FolderLock,
    JsonlAppender,
    atomic_write_json,
    atomic_write_jsonl,
    clean_stale_tmp,
    fault_point,
    read_jsonl,
)
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

logger = logging.getLogger(__name__)


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
    retry_errors: bool = True  # a rerun generates failed samples (finish_reason "error") again (not hashed)
    #: the GF study spec the tasks came from (``run --study``), recorded in the manifest (roles only: not hashed)
    study: GFStudySpec | None = None

    def resolved_name(self) -> str:
        """``--run-name``, else the model's last name component (a stage's ``…/04-rl/model`` gives ``04-rl``)."""
        if self.run_name:
            return self.run_name
        p = Path(self.model.rstrip("/"))
        base = (p.parent.name if p.name == "model" and p.parent.name else p.name) or self.model
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
    retried: int = 0  # failed samples generated again
    #: the warnings that make a CLI run exit non-zero (samples without a prompt, failed generations,
    #: splits where every sample failed); ``results.warnings`` holds them and the softer ones
    problems: list[str] = field(default_factory=list)


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
    if config.backend == "hf" and not config.generation.greedy:
        # sampled tokens come from per-sample generators since this version (not one seed per batch): a
        # sampled run begun by an older version must not be resumed with different sampling
        payload["sampler"] = "per-sample-generators-1"
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


def row_seed(seed: int, benchmark: str, split: str, row_id: str) -> int:
    """The sampling seed of one row (a backend derives each of its ``n`` samples' seeds from it and the index).

    A function of the run seed and the row's identity only: not of the batch, the batch size,
    the shard or where a resumed run restarts.
    """
    h = hashlib.sha256(json.dumps([seed, benchmark, split, row_id]).encode()).digest()
    return int.from_bytes(h[:8], "big") >> 1


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
        """The log, one record per key: a key logged again (a failed sample generated anew) keeps its
        first position and its newest record."""
        latest: dict[tuple[str, str, str, int], GenerationRecord] = {}
        for d in read_jsonl(self.file(GENERATIONS), repair=repair):
            g = GenerationRecord.model_validate(d)
            latest[g.key] = g
        return list(latest.values())


@dataclass
class _Batch:
    """One batch of one task: its rows (cut from the task's full row list) and the keys still missing."""

    task: LoadedTask
    rows: list[dict[str, Any]]
    missing: set[tuple[str, str, str, int]]


@dataclass
class _Prepared:
    """A batch made ready in the background: prompts, error records of rows without one, backend inputs."""

    rows: list[dict[str, Any]]
    prompts: list[Any]
    failed: list[GenerationRecord]
    order: list[str]  # every row id of the batch, in batch order
    inputs: Any = None


def run_eval(
    config: RunConfig,
    progress: Callable[[int, int], None] | None = None,
    backend: Any = None,
    command: Sequence[str] | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> RunOutcome:
    """Run (or resume) an evaluation and write the run directory. Returns its results."""
    tasks = load_tasks(config.tasks, judge=config.judge)
    run_dir = RunDir(Path(config.out) / config.resolved_name())
    if config.shard is not None:
        run_dir = RunDir(run_dir.path / f"shard-{config.shard[0]}-of-{config.shard[1]}")
    created = not run_dir.path.exists()
    lock = FolderLock(run_dir.path, what="`specs-eval run`",
                      command=" ".join(command if command is not None else sys.argv))
    with lock:
        if lock.took_over:
            logger.warning("%s: taking over the lock of a process that is gone (pid %s)", run_dir.path,
                           lock.took_over.get("pid"))
        for p in clean_stale_tmp(run_dir.path):
            logger.info("removed a temporary file left by a killed run: %s", p)
        try:
            return _run_locked(config, tasks, run_dir, progress, backend, command, log)
        except BaseException:
            if created and not run_dir.file(MANIFEST).exists():  # failed before it started (the model, the
                lock.path.unlink(missing_ok=True)                 # server): leave no empty run folder behind
                with contextlib.suppress(OSError):
                    run_dir.path.rmdir()
            raise


def _run_locked(config: RunConfig, tasks: list[LoadedTask], run_dir: RunDir, progress: Callable[[int, int], None]
                | None, backend: Any, command: Sequence[str] | None, log: Callable[[str], None]) -> RunOutcome:
    t0 = time.perf_counter()
    chash = config_hash(config, tasks)
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
    existing = {g.key: g for g in run_dir.generations(repair=True)} if previous is not None else {}
    failed_before = {k for k, g in existing.items() if g.finish_reason == "error"}
    done = set(existing) - (failed_before if config.retry_errors else set())

    n = config.generation.n
    per_batch = max(1, config.generation.batch_size // n)
    batches: list[_Batch] = []
    total = 0
    for t in tasks:
        rows = [row for idx, row in enumerate(t.split.rows)
                if config.shard is None or idx % config.shard[1] == config.shard[0]]
        total += len(rows) * n
        for chunk in _chunks(rows, per_batch):
            keys = {(t.spec.benchmark, t.spec.set_name, t.benchmark.row_id(r), j) for r in chunk for j in range(n)}
            if keys - done:
                batches.append(_Batch(t, list(chunk), keys - done))
    n_missing = sum(len(b.missing) for b in batches)
    retried = sum(len(b.missing & failed_before) for b in batches)
    logger.info("%s: %d of %d samples to generate in %d batches (%d in the log, %d of them failed before)",
                run_dir.path, n_missing, total, len(batches), len(existing), len(failed_before))

    model_info = previous.model if previous is not None else ModelInfo(
        name=config.model, path=config.model, backend=config.backend)
    if batches and backend is None:
        from specs_eval.backends.base import make_backend

        log(f"loading model {config.model} ({config.backend})")
        backend = make_backend(config.backend, config.model, **config.backend_options)
    if backend is not None:
        model_info = backend.info
    fault_point("run:loaded")
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
    if retried:
        log(f"generating {retried} failed sample(s) again (--no-retry-errors keeps them)")

    if backend is not None and getattr(backend, "batch_independent", False):
        # outputs do not depend on the batch (per-prompt seeds, one request per prompt): send only what is missing
        for b in batches:
            b.rows = [r for r in b.rows if any((b.task.spec.benchmark, b.task.spec.set_name, b.task.benchmark.row_id(r), j)
                                                in b.missing for j in range(n))]

    generated = 0
    if progress:
        progress(total - n_missing, total)
    try:
        with JsonlAppender(run_dir.file(GENERATIONS)) as log_file:
            prepare = _preparer(backend, config.generation)
            for batch, ready in prefetched(batches, prepare):
                records = _generate_batch(batch.task, ready, backend, config.generation, config.generation.seed)
                records = [r for r in records if r.key in batch.missing and not _same_error(existing.get(r.key), r)]
                log_file.write_many(records)
                fault_point("run:batch")
                generated += len(batch.missing)
                if progress:
                    progress(total - n_missing + generated, total)
    except BaseException as e:
        manifest.status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        manifest.error = None if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {e}"
        manifest.wall_s = round(time.perf_counter() - t0, 3)
        atomic_write_json(run_dir.file(MANIFEST), manifest)
        raise
    finally:
        if backend is not None and batches:
            backend.close()

    if backend is not None:
        manifest.model = backend.info  # backends learn things while generating (e.g. whether a server honours n)
    fault_point("run:generated")
    results, _, problems = _score_and_check(run_dir.path, tasks, log)
    manifest.status = "complete"
    manifest.finished = _now()
    manifest.wall_s = round(time.perf_counter() - t0, 3)
    from specs_eval.run.judges import judge_failure

    broken = judge_failure(config.judge)
    if broken:
        manifest.status = "failed"
        manifest.error = broken
    atomic_write_json(run_dir.file(MANIFEST), manifest)
    if broken:
        raise SpecsError(f"{broken}; the samples it could not judge are errors in {run_dir.path}. Fix the judge and "
                         "run the same command again (judge verdicts that succeeded are cached)")
    return RunOutcome(run_dir.path, results, manifest, generated, len(done), retried=retried, problems=problems)


def _same_error(old: GenerationRecord | None, new: GenerationRecord) -> bool:
    """A retried sample that failed again in the same way: not logged twice (the log would grow on every rerun)."""
    return (old is not None and old.finish_reason == "error" and new.finish_reason == "error"
            and old.error == new.error and old.prompt_hash == new.prompt_hash)


def _preparer(backend: Any, settings: GenerationSettings) -> Callable[[_Batch], _Prepared]:
    """Build a batch's prompts (loading its images) and, when the backend can, its model inputs."""
    prepare_inputs = getattr(backend, "prepare", None)

    def prepare(batch: _Batch) -> _Prepared:
        bench, spec = batch.task.benchmark, batch.task.spec
        rows, prompts, failed = [], [], []
        for row in batch.rows:
            rid = bench.row_id(row)
            try:
                prompt = bench.build_prompt(row, spec.prompt_variant)
            except (BenchmarkError, KeyError, ValueError, TypeError, OSError) as e:
                msg = str(e) if isinstance(e, BenchmarkError) else f"{type(e).__name__}: {e}"
                for j in range(settings.n):
                    failed.append(GenerationRecord(
                        benchmark=spec.benchmark, split=spec.set_name, id=rid, sample_idx=j, doc_hash=row_hash(row),
                        prompt_hash="", prompt="", response="", finish_reason="error",
                        error=f"{PROMPT_ERROR}: {msg}"))
                continue
            prompts.append(prompt)
            rows.append(row)
        inputs = prepare_inputs(prompts) if prompts and prepare_inputs is not None else None
        return _Prepared(rows, prompts, failed, [bench.row_id(r) for r in batch.rows], inputs)

    return prepare


#: how a row whose prompt could not be built (missing image file, bad field) is recorded
PROMPT_ERROR = "no prompt"


def _generate_batch(task: LoadedTask, ready: _Prepared, backend: Any, settings: GenerationSettings,
                    seed: int) -> list[GenerationRecord]:
    """Generate one prepared batch; rows whose prompt could not be built are already error records."""
    bench, spec = task.benchmark, task.spec
    records = list(ready.failed)
    if ready.prompts:
        kwargs: dict[str, Any] = {}
        if getattr(backend, "row_seeds", False):
            kwargs["seeds"] = [row_seed(seed, spec.benchmark, spec.set_name, bench.row_id(r)) for r in ready.rows]
        if ready.inputs is not None:
            kwargs["prepared"] = ready.inputs
        t0 = time.perf_counter()
        outputs = backend.generate(ready.prompts, settings, seed=seed, **kwargs)
        latency = (time.perf_counter() - t0) / max(1, len(ready.prompts) * settings.n)
        for row, prompt, outs in zip(ready.rows, ready.prompts, outputs, strict=True):
            for j, o in enumerate(outs):
                records.append(GenerationRecord(
                    benchmark=spec.benchmark, split=spec.set_name, id=bench.row_id(row), sample_idx=j,
                    doc_hash=row_hash(row), prompt_hash=prompt.hash(), prompt=prompt.text,
                    image_hashes=[image_hash(i) for i in prompt.images], response=o.text,
                    finish_reason="error" if o.error else o.finish_reason, n_prompt_tokens=o.n_prompt_tokens,
                    n_tokens=o.n_tokens, latency_s=round(latency, 5), token_stats=o.token_stats, error=o.error))
    order = {rid: i for i, rid in enumerate(ready.order)}
    records.sort(key=lambda r: (order[r.id], r.sample_idx))
    return records


def score_run_dir(path: Path, tasks: Sequence[LoadedTask], log: Callable[[str], None] = lambda s: None
                  ) -> tuple[RunResults, list[SampleRecord]]:
    """Score a run directory's generations and write ``samples.jsonl`` and ``results.json``."""
    results, samples, _ = _score_and_check(path, tasks, log)
    return results, samples


def split_checks(name: str, gens: Sequence[GenerationRecord], samples: Sequence[SampleRecord]
                 ) -> tuple[list[str], list[str]]:
    """``(warnings, problems)`` of one split: the numbers a reader must not take at face value.

    Problems (a CLI run exits non-zero on them unless ``--allow-errors``): no samples at all, samples
    whose prompt could not be built (a missing image file, a bad field), samples that failed to
    generate, a split where every sample failed. Warnings only: samples a scorer could not score.
    """
    problems: list[str] = []
    warnings: list[str] = []
    if not gens:
        problems.append(f"{name}: no samples (the data, --limit or shard left no rows); its numbers are not "
                        "measurements")
        return problems, problems
    no_prompt = [g for g in gens if g.finish_reason == "error" and not g.prompt_hash]
    failed = [g for g in gens if g.finish_reason == "error" and g.prompt_hash]
    if no_prompt:
        problems.append(f"{name}: {len(no_prompt)} of {len(gens)} samples have no prompt (first: id "
                        f"{no_prompt[0].id}: {_short(no_prompt[0].error)}); fix the data")
    if failed:
        problems.append(f"{name}: {len(failed)} of {len(gens)} samples failed to generate (first: id {failed[0].id}: "
                        f"{_short(failed[0].error)}); the same command generates them again")
    unscored = [s for s in samples if s.error is None and s.parse_status == "error"]
    if unscored:
        warnings.append(f"{name}: {len(unscored)} of {len(samples)} samples could not be scored (a scorer error, "
                        "counted in err%)")
    if samples and all(s.error is not None or s.parse_status == "error" for s in samples):
        problems.append(f"{name}: every sample failed; its accuracy is not a measurement")
    return problems + warnings, problems


def run_dir_problems(path: Path) -> list[str]:
    """``split_checks``' problems of a scored run folder, from its files (a merged ``--dp`` run)."""
    run_dir = RunDir(path)
    manifest = run_dir.manifest()
    if manifest is None:
        return [f"{path}: no manifest.json"]
    gens: dict[tuple[str, str], list[GenerationRecord]] = defaultdict(list)
    for g in run_dir.generations():
        gens[(g.benchmark, g.split)].append(g)
    samples: dict[tuple[str, str], list[SampleRecord]] = defaultdict(list)
    for d in read_jsonl(run_dir.file(SAMPLES)):
        s = SampleRecord.model_validate(d)
        samples[(s.benchmark, s.split)].append(s)
    problems = []
    for t in manifest.tasks:
        key = (t.benchmark, t.split)
        problems.extend(split_checks(f"{t.benchmark}/{t.split}", gens.get(key, []), samples.get(key, []))[1])
    return problems


def _short(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _score_and_check(path: Path, tasks: Sequence[LoadedTask], log: Callable[[str], None] = lambda s: None
                     ) -> tuple[RunResults, list[SampleRecord], list[str]]:
    run_dir = RunDir(path)
    gens = run_dir.generations()
    by_task: dict[tuple[str, str], list[GenerationRecord]] = defaultdict(list)
    for g in gens:
        by_task[(g.benchmark, g.split)].append(g)
    all_samples: list[SampleRecord] = []
    per_bench: dict[str, list[SampleRecord]] = defaultdict(list)
    benches: dict[str, Benchmark] = {}
    warnings: list[str] = []
    problems: list[str] = []
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
        w, p = split_checks(f"{t.spec.benchmark}/{t.spec.set_name}", task_gens, samples)
        warnings.extend(w)
        problems.extend(p)
        all_samples.extend(samples)
        per_bench[t.spec.benchmark].extend(samples)
        benches[t.spec.benchmark] = t.benchmark
    manifest = run_dir.manifest()
    results = RunResults(
        run_name=path.name,
        model=(manifest.model.name if manifest else None),
        benchmarks={name: benchmark_results(benches[name], s) for name, s in per_bench.items()},
        warnings=warnings,
    )
    atomic_write_jsonl(run_dir.file(SAMPLES), all_samples)
    fault_point("run:samples")
    atomic_write_json(run_dir.file(RESULTS), results)
    return results, all_samples, problems
