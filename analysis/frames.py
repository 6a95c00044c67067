"""Run directories into pandas: one row per sample, one row per run and split.

Why this is the only reader: the report, ``gf_from_runs`` and a user's notebook must see
the same numbers, so all of them load runs here. The loader reads exactly the files
``docs/design.md`` documents (``manifest.json``, ``samples.jsonl``, ``results.json``,
optionally ``generations.jsonl`` for image hashes), checks every file's
``schema_version`` before parsing (an older or newer schema is refused with a message,
never half-read), and recomputes split metrics from ``samples.jsonl``: if
``results.json`` disagrees, the run is flagged and the samples win.

Headline numbers are computed from samples, not copied from ``results.json``, because
confidence intervals and paired tests need the per-sample data anyway.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from analysis.errors import RunLoadError
from analysis.flags import Flag
from analysis.metrics import METRICS as SCORE_METRICS
from analysis.metrics import item_sums, metric_column
from analysis.stats import bootstrap_ratio
from specs_eval.core.metrics import METRICS, sample_value, split_metrics
from specs_eval.core.records import (
    SCHEMA_VERSION,
    DatasetInfo,
    RunManifest,
    RunResults,
    SampleRecord,
    SplitMetrics,
    TaskSpec,
)

MANIFEST_FILE = "manifest.json"
SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"
GENERATIONS_FILE = "generations.jsonl"

SplitKey = tuple[str, str]  # (benchmark, split)


@dataclass
class Run:
    """A loaded run directory. ``samples`` are in file order; ``flags`` are load-time caveats."""

    path: Path
    name: str
    manifest: RunManifest | None
    results: RunResults | None
    samples: list[SampleRecord]
    image_hashes: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    declared_splits: list[SplitKey] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    _metrics: dict[SplitKey, SplitMetrics] = field(default_factory=dict, repr=False)

    def split_samples(self, benchmark: str, split: str) -> list[SampleRecord]:
        return [s for s in self.samples if s.benchmark == benchmark and s.split == split]

    def metrics(self, benchmark: str, split: str) -> SplitMetrics:
        """Every registered metric of one split, computed from the samples once per loaded run."""
        key = (benchmark, split)
        if key not in self._metrics:
            self._metrics[key] = split_metrics(self.split_samples(benchmark, split))
        return self._metrics[key]

    def split_keys(self) -> list[SplitKey]:
        """(benchmark, split) pairs that have samples or were declared (manifest/results), sorted."""
        keys = {(s.benchmark, s.split) for s in self.samples} | set(self.declared_splits)
        return sorted(keys)

    def dataset(self, benchmark: str, split: str) -> DatasetInfo | None:
        """The rows behind a recorded split (a study set ``split@variant`` reads its split's rows)."""
        if self.manifest is None:
            return None
        task = self.task(benchmark, split)
        real = task.split if task is not None else split
        for d in self.manifest.datasets:
            if d.benchmark == benchmark and d.split == real:
                return d
        return None

    def task(self, benchmark: str, split: str) -> TaskSpec | None:
        """The task whose samples are recorded under ``split`` (``TaskSpec.set_name``)."""
        if self.manifest is None:
            return None
        for t in self.manifest.tasks:
            if t.benchmark == benchmark and t.set_name == split:
                return t
        return None

    def profile(self, benchmark: str) -> str | None:
        for s in self.samples:
            if s.benchmark == benchmark:
                return s.profile
        if self.results and benchmark in self.results.benchmarks:
            return self.results.benchmarks[benchmark].profile
        return None


def _where(path: Path, line: int | None = None) -> str:
    where = f"{path.parent.name}/{path.name}"
    return f"{where}:{line}" if line is not None else where


def _check_version(obj: Any, path: Path, line: int | None = None) -> None:
    where = _where(path, line)
    if not isinstance(obj, dict):
        raise RunLoadError(f"{where}: expected a JSON object")
    v = obj.get("schema_version")
    if v is None:
        raise RunLoadError(f"{where}: no schema_version field; this specs-eval reads schema version {SCHEMA_VERSION} "
                           "(written by a pre-release version? re-score it with `specs-eval score`)")
    if v != SCHEMA_VERSION:
        age = "an older" if isinstance(v, int) and v < SCHEMA_VERSION else "a newer"
        hint = ("re-score it with this version (`specs-eval score`)" if age == "an older"
                else "upgrade specs-eval to read it")
        raise RunLoadError(f"{where}: schema version {v!r} is {age} schema than this specs-eval reads "
                           f"({SCHEMA_VERSION}); {hint}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise RunLoadError(f"{_where(path)}: cannot read ({type(e).__name__}: {e})") from None


def _validation_message(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err.get("loc", ())) or "(root)"
    return f"{loc}: {err.get('msg')}"


def _read_samples(path: Path) -> list[SampleRecord]:
    samples: list[SampleRecord] = []
    seen: dict[tuple[str, str, str, int], int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise RunLoadError(f"{_where(path)}: cannot read ({type(e).__name__}: {e})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise RunLoadError(f"{_where(path, n)}: not valid JSON ({e}); samples.jsonl is written atomically, "
                               "so the file is damaged: re-score the run") from None
        _check_version(obj, path, n)
        try:
            rec = SampleRecord.model_validate(obj)
        except ValidationError as e:
            raise RunLoadError(f"{_where(path, n)}: not a valid sample record ({_validation_message(e)})") from None
        key = (rec.benchmark, rec.split, rec.id, rec.sample_idx)
        if key in seen:
            raise RunLoadError(f"{_where(path, n)}: duplicate sample {key} (first on line {seen[key]}); "
                               "counting it twice would bias every metric")
        seen[key] = n
        samples.append(rec)
    return samples


def _read_image_hashes(path: Path, flags: list[Flag], scope: str) -> dict[tuple[str, str, str], list[str]]:
    """Image hashes per item from ``generations.jsonl`` (optional: only thumbnails use them)."""
    out: dict[tuple[str, str, str], list[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        flags.append(Flag("info", "generations_unreadable", f"generations.jsonl ignored ({type(e).__name__})", scope))
        return out
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            if n == len(lines):  # a torn last line from a crash, as the run engine documents
                continue
            flags.append(Flag("info", "generations_unreadable",
                              f"generations.jsonl line {n} is not JSON; image hashes ignored", scope))
            return {}
        if not isinstance(obj, dict) or obj.get("schema_version") != SCHEMA_VERSION:
            flags.append(Flag("info", "generations_schema",
                              "generations.jsonl has another schema version; image hashes ignored", scope))
            return {}
        key = (str(obj.get("benchmark")), str(obj.get("split")), str(obj.get("id")))
        hashes = obj.get("image_hashes") or []
        if isinstance(hashes, list) and key not in out:
            out[key] = [str(h) for h in hashes]
    return out


def load_run(path: str | Path, name: str | None = None) -> Run:
    """Read a run directory, refusing unreadable or other-schema files with a clear message.

    Required: ``samples.jsonl``. Optional: ``manifest.json`` (provenance), ``results.json``
    (cross-checked against the samples), ``generations.jsonl`` (image hashes for
    thumbnails). Problems that do not make numbers wrong become ``Run.flags``.
    """
    p = Path(path)
    if not p.is_dir():
        raise RunLoadError(f"{p}: not a run directory (no such folder)")
    samples_path = p / SAMPLES_FILE
    if not samples_path.is_file():
        hint = (" (it has generations.jsonl: the run is not scored yet; score it with `specs-eval score`)"
                if (p / GENERATIONS_FILE).is_file() else "")
        raise RunLoadError(f"{p.name}: no {SAMPLES_FILE}; not a finished specs-eval run directory{hint}")

    manifest = None
    if (p / MANIFEST_FILE).is_file():
        obj = _read_json(p / MANIFEST_FILE)
        _check_version(obj, p / MANIFEST_FILE)
        try:
            manifest = RunManifest.model_validate(obj)
        except ValidationError as e:
            raise RunLoadError(f"{_where(p / MANIFEST_FILE)}: not a valid manifest ({_validation_message(e)})") from None
    results = None
    if (p / RESULTS_FILE).is_file():
        obj = _read_json(p / RESULTS_FILE)
        _check_version(obj, p / RESULTS_FILE)
        try:
            results = RunResults.model_validate(obj)
        except ValidationError as e:
            raise RunLoadError(f"{_where(p / RESULTS_FILE)}: not a valid results file ({_validation_message(e)})") from None
    samples = _read_samples(samples_path)

    # a run is named after its folder (a renamed folder shows its new name), unless a name was given on purpose
    run_name = name or (manifest.display_name if manifest else None) or p.name
    scope = f"run:{run_name}"
    flags: list[Flag] = []
    image_hashes = _read_image_hashes(p / GENERATIONS_FILE, flags, scope) if (p / GENERATIONS_FILE).is_file() else {}

    declared: set[SplitKey] = set()
    if manifest is None:
        flags.append(Flag("info", "no_manifest", "no manifest.json: provenance unknown, comparisons cannot check "
                          "dataset hashes or settings", scope))
    else:
        declared |= {(t.benchmark, t.set_name) for t in manifest.tasks}
        if manifest.status != "complete":
            flags.append(Flag("warn", "run_incomplete", f"run status is {manifest.status!r}: numbers cover only the "
                              "samples finished so far", scope))
        if manifest.error:
            flags.append(Flag("warn", "run_error", f"run recorded an error: {manifest.error}", scope))
    if results is not None:
        declared |= {(b, s) for b, br in results.benchmarks.items() for s in br.splits}
        for w in results.warnings:
            flags.append(Flag("info", "results_warning", w, scope))

    profiles: dict[str, set[str]] = defaultdict(set)
    for s in samples:
        profiles[s.benchmark].add(s.profile)
    for bench, ps in profiles.items():
        if len(ps) > 1:
            raise RunLoadError(f"{p.name}/{SAMPLES_FILE}: samples of {bench} were scored with several headline "
                               f"profiles ({', '.join(sorted(ps))}); re-score the run with one profile")

    run = Run(path=p, name=run_name, manifest=manifest, results=results, samples=samples,
              image_hashes=image_hashes, declared_splits=sorted(declared), flags=flags)
    run.flags.extend(_consistency_flags(run))
    return run


def _consistency_flags(run: Run) -> list[Flag]:
    """Empty splits, generation errors, and ``results.json`` numbers that the samples do not reproduce."""
    flags: list[Flag] = []
    by_split: dict[SplitKey, list[SampleRecord]] = defaultdict(list)
    for s in run.samples:
        by_split[(s.benchmark, s.split)].append(s)
    for key in run.split_keys():
        scope = f"{key[0]}/{key[1]}"
        got = by_split.get(key, [])
        if not got:
            flags.append(Flag("refuse", "empty_split", f"{run.name}: {scope} is declared but has no samples; "
                              "no numbers are computed for it", scope))
            continue
        errors = sum(s.error is not None for s in got)
        if errors:
            flags.append(Flag("warn", "generation_errors", f"{run.name}: {errors} of {len(got)} samples in {scope} "
                              "failed to generate and count as wrong", scope))
        if run.results is None or key[0] not in run.results.benchmarks:
            continue
        stored = run.results.benchmarks[key[0]].splits.get(key[1])
        if stored is None:
            flags.append(Flag("info", "results_missing_split", f"{run.name}: results.json has no entry for {scope}; "
                              "numbers are computed from samples.jsonl", scope))
            continue
        fresh = run.metrics(*key)
        diffs = []
        for attr in ("n", "n_samples", "accuracy", "format_compliance"):
            a, b = getattr(stored, attr), getattr(fresh, attr)
            if (a is None) != (b is None) or (a is not None and abs(float(a) - float(b)) > 1e-9):
                diffs.append(f"{attr} {a} vs {b}")
        if diffs:
            flags.append(Flag("warn", "results_mismatch", f"{run.name}: results.json disagrees with samples.jsonl for "
                              f"{scope} ({'; '.join(diffs)}); the report uses samples.jsonl", scope))
    return flags


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    return [p if isinstance(p, Run) else load_run(p) for p in paths]


# ---------------------------------------------------------------------------------------------
# DataFrames

SAMPLE_COLUMNS = (
    "run", "benchmark", "split", "id", "sample_idx", "profile", "score", "scored", "correct", "format_ok",
    "parse_status", "extracted", "prediction", "target", "finish_reason", "n_tokens", "error", "has_error",
    "nucleus_mean", "entropy_mean", "stats_top_p", "stats_approx", "requested_format", "in_trained_format",
    "doc_hash", "prompt_hash", "prompt", "response",
)


def _sample_row(run_name: str, s: SampleRecord) -> dict[str, Any]:
    ts = s.token_stats
    head = s.scores.get(s.profile)
    row: dict[str, Any] = {
        "run": run_name,
        "benchmark": s.benchmark,
        "split": s.split,
        "id": s.id,
        "sample_idx": s.sample_idx,
        "profile": s.profile,
        "score": float(s.score),
        "scored": not (head is not None and head.details.get("not_scored")),
        "correct": bool(s.correct),
        "format_ok": s.format_ok,
        "parse_status": s.parse_status,
        "extracted": head.extracted if head is not None else None,
        "prediction": s.prediction,
        "target": s.target,
        "finish_reason": s.finish_reason,
        "n_tokens": s.n_tokens,
        "error": s.error,
        "has_error": s.error is not None,
        "nucleus_mean": ts.nucleus_mean if ts else None,
        "entropy_mean": ts.entropy_mean if ts else None,
        "stats_top_p": ts.top_p if ts else None,
        "stats_approx": ts.approx if ts else None,
        "requested_format": s.meta.get("requested_format"),
        "in_trained_format": s.meta.get("in_trained_format"),
        "doc_hash": s.doc_hash,
        "prompt_hash": s.prompt_hash,
        "prompt": s.prompt,
        "response": s.response,
    }
    for prof, r in s.scores.items():
        row[f"score.{prof}"] = float("nan") if r.details.get("not_scored") else float(r.score)
        row[f"correct.{prof}"] = bool(r.correct)
        row[f"prediction.{prof}"] = r.prediction
    for m in METRICS.values():
        row[metric_column(m.name)] = sample_value(m, s)
        if m.per_profile:
            for prof, r in s.scores.items():
                row[metric_column(m.name, prof)] = m.value(s, r)
    for k, v in s.meta.items():
        if k not in ("requested_format", "in_trained_format"):
            row[f"meta.{k}"] = v
    return row


def samples_frame(runs: Sequence[Run | str | Path]) -> pd.DataFrame:
    """One row per sample of every run, in run order then file order.

    Fixed columns are ``SAMPLE_COLUMNS``; then ``score.<profile>`` / ``correct.<profile>`` /
    ``prediction.<profile>`` for every scoring profile stored, ``metric.<name>`` (and
    ``metric.<name>.<profile>``) with each registered metric's per-sample value
    (``specs_eval.core.metrics``), and ``meta.<key>`` for each benchmark metadata field. ``format_ok`` and ``in_trained_format`` are nullable booleans
    (missing when no format was requested / the sample is not a format-shift sample).
    """
    loaded = load_runs(runs)
    rows = [_sample_row(r.name, s) for r in loaded for s in r.samples]
    df = pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(SAMPLE_COLUMNS))
    for col in ("format_ok", "in_trained_format"):
        df[col] = df[col].astype("boolean")
    for col in ("nucleus_mean", "entropy_mean", "stats_top_p", "n_tokens"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    extra = sorted(c for c in df.columns if c not in SAMPLE_COLUMNS)
    return df[list(SAMPLE_COLUMNS) + extra]


def split_frame(df: pd.DataFrame, run: str, benchmark: str, split: str) -> pd.DataFrame:
    """The rows of one (run, benchmark, split)."""
    m = (df["run"] == run) & (df["benchmark"] == benchmark) & (df["split"] == split)
    return df.loc[m]


def splits_frame(
    runs: Sequence[Run | str | Path],
    metrics: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per run and split: item/sample counts, each metric with a bootstrap CI (fractions in [0, 1]).

    Columns: ``run, benchmark, split, n_items, n_samples, errors`` then, per metric (default:
    every registered score), ``<metric>``, ``<metric>_lo``, ``<metric>_hi`` (NaN where the
    metric is undefined, e.g. format compliance when no format was requested).
    """
    metrics = list(metrics) if metrics is not None else list(SCORE_METRICS)
    loaded = load_runs(runs)
    df = samples_frame(loaded)
    out = []
    for r in loaded:
        for bench, split in r.split_keys():
            part = split_frame(df, r.name, bench, split)
            row: dict[str, Any] = {"run": r.name, "benchmark": bench, "split": split,
                                   "n_items": int(part["id"].nunique()), "n_samples": len(part),
                                   "errors": int(part["has_error"].sum()) if len(part) else 0}
            for metric in metrics:
                t = item_sums(part, metric)
                if len(t) == 0:
                    row[metric] = row[f"{metric}_lo"] = row[f"{metric}_hi"] = float("nan")
                    continue
                est = bootstrap_ratio(t["s"].to_numpy(), t["m"].to_numpy(), n_boot=n_boot,
                                      seed=(seed, r.name, bench, split, metric), level=level)
                row[metric], row[f"{metric}_lo"], row[f"{metric}_hi"] = est.value, est.lo, est.hi
            out.append(row)
    return pd.DataFrame(out)
