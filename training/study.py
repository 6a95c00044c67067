"""``specs-train study gf``: the paper's Generalization Factor study as one resumable command.

Why built from the pipeline's stages: the study is the pipeline's cold start run three
ways (SFT on chosen, DPO, DPO + λ·SFT) from one base model and one set of self-distilled
pairs, over several seeds, each optionally continued by the same GRPO budget. Reusing
``run_pipeline`` (base eval, zero-RL, distill), ``run_stage`` (cold start, RL) and
``evaluate_model`` (every eval, an ordinary ``specs-eval`` run directory) means the study
skips finished work and resumes an interrupted stage exactly as the pipeline does, and
every number can be recomputed from the folder by ``analysis.study.collect_study``.

  <out>/study_plan.json   the study config and where every eval and stage lives (written first)
  <out>/study.json        every number (``analysis.study.collect_study``), + summary.md, report.html
  <out>/shared/           a pipeline folder: 00-base (the GF baseline), 01-zero-rl, 02-distill (pairs)
  <out>/runs/<method>-s<seed>/03-cold-start/   checkpoints every ``eval_every`` steps, all kept
  <out>/runs/<method>-s<seed>/curve/eval/…     the eval of each intermediate checkpoint
  <out>/runs/<method>-s<seed>/04-rl/           the downstream GRPO run and its eval
  <out>/passk/eval/passk-<model>/              n samples per item with token statistics

Seeds vary the cold start's and RL's training seed (data order) and the eval sampling
seed; the pairs, the base eval and the eval items are shared, so methods and seeds are
compared on the same items.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_json, atomic_write_text
from specs_eval.core.metrics import PSI_METRICS
from specs_eval.core.study import GFStudySpec, StudySet
from training.config import PRESETS_DIR, ConfigError, PipelineConfig, apply_overrides, preset_path
from training.manifest import invocation
from training.methods import COLD_START_METHODS, check_method

STUDY_PRESETS_DIR = PRESETS_DIR / "study"
QUICK_OVERLAY = STUDY_PRESETS_DIR / "_gf-quick.yaml"


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StudyRL(_Cfg):
    """The downstream GRPO run after each cold start (the pipeline's ``rl`` stage, fewer steps)."""
    enabled: bool = True
    max_steps: int = Field(20, ge=1)


class StudyPassK(_Cfg):
    """pass@k and rollout branching factor of the base and the cold-start models (paper §6.6)."""
    enabled: bool = True
    models: list[str] = Field(default_factory=lambda: ["base", "sft", "dpo"],
                              description="base and/or cold-start methods (their first seed's final model)")
    split: str | None = Field(None, description="a set of the GF spec, by label or BENCHMARK:LABEL "
                              "(default: its first ID set)")
    limit: int = Field(32, ge=1)
    n: int = Field(64, ge=2, description="samples per item; pass@k for k up to n")
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int | None = Field(None, ge=1, description="default: the study eval's")
    stats_top_p: float = Field(0.95, gt=0, le=1, description="nucleus of the rollout branching factor")
    batch_size: int = Field(256, ge=1, description="samples per generate call")


class GFStudyConfig(_Cfg):
    """One GF study: which pipeline, methods, seeds, steps, sets and what follows the cold start.

    The ID and OOD sets, their weights, Ψ and β come from a GF study spec (``gf``: a shipped
    name in ``specs_eval/benchmarks/studies/``, a YAML file, or the spec inline), the same
    spec ``specs-eval run --study`` takes; ``metric`` and ``beta`` override the spec's.
    """
    schema_version: int = 1
    name: str = "gf"
    description: str = ""
    preset: str = Field("tiny", description="the pipeline preset the stages use")
    pipeline: dict[str, Any] = Field(default_factory=dict, description="overrides of the pipeline preset (nested)")
    methods: list[str] = Field(default_factory=lambda: list(COLD_START_METHODS),
                               description="cold-start methods (training.methods)")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    steps: int = Field(25, ge=1, description="cold-start optimizer steps (the paper's figure: 25)")
    eval_every: int = Field(5, ge=1, description="evaluate a checkpoint every this many steps")
    gf: GFStudySpec = Field(description="the GF study spec: ID/OOD sets, weights α, Ψ, β (shipped name, YAML file "
                            "or mapping; default toy-format)")
    eval_limit: int | None = Field(100, ge=1, description="items per eval set (sets with their own limit keep it)")
    eval_max_new_tokens: int | None = Field(None, ge=1)
    metric: str = Field("format_compliance", description="Ψ of the ID/OOD curves and of Γ (a metric marked psi "
                        "in specs_eval.core.metrics); given, it overrides the spec's, else it is the spec's")
    final_metric: str = Field("accuracy", description="post-RL performance: mean over the eval sets")
    beta: float = Field(2.0, gt=0, description="GF β; given, it overrides the spec's, else it is the spec's")
    n_boot: int = Field(1000, ge=0, description="bootstrap resamples of each Γ interval")
    rl: StudyRL = Field(default_factory=StudyRL)
    passk: StudyPassK = Field(default_factory=StudyPassK)
    jobs: int = Field(1, ge=1, description="independent units (cold starts, RL runs, pass@k evals) run side by side "
                      "in this many processes, the pipeline's threads shared between them; it does not change "
                      "what is computed, so a study may resume with another value")

    @model_validator(mode="before")
    @classmethod
    def _spec(cls, data: Any) -> Any:
        """Load the spec (default ``toy-format``) and apply ``metric``/``beta``; both then mirror the spec."""
        if not isinstance(data, dict):
            return data
        from specs_eval.benchmarks.study import load_spec

        data = dict(data)
        try:
            spec = load_spec(data.get("gf") or "toy-format")
            upd = {k: data[k] for k in ("metric", "beta") if data.get(k) is not None}
            if upd:
                spec = load_spec({**spec.model_dump(mode="json"), **upd})
        except SpecsError as e:
            raise ValueError(str(e)) from None
        data.update(gf=spec, metric=spec.metric, beta=spec.beta)
        return data

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        return [check_method(m) for m in v]

    @field_validator("metric", "final_metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if v not in PSI_METRICS:
            raise ValueError(f"unknown metric {v!r}; known: {', '.join(PSI_METRICS)}")
        return v

    @model_validator(mode="after")
    def _check(self) -> GFStudyConfig:
        if not self.methods or len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods must be a non-empty list without repeats, got {self.methods}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be a non-empty list without repeats, got {self.seeds}")
        if self.eval_every > self.steps:
            raise ValueError(f"eval_every ({self.eval_every}) is larger than steps ({self.steps})")
        if self.passk.enabled:
            self.passk_set()
        bad = [m for m in self.passk.models if m != "base" and m not in self.methods]
        if self.passk.enabled and bad:
            raise ValueError(f"passk.models {bad} are not among the study's methods {self.methods} (or 'base')")
        return self

    def passk_set(self) -> StudySet:
        """The spec's set that pass@k samples (``passk.split``: a label or BENCHMARK:LABEL; default the first ID set)."""
        want = self.passk.split
        for _, s in self.gf.sets():
            if want is None or want in (s.label, s.ref):
                return s
        raise ValueError(f"passk.split {want!r} is not a set of the GF spec ({', '.join(s.ref for _, s in self.gf.sets())})")

    def curve_steps(self) -> list[int]:
        """0 (the base model), every ``eval_every`` steps, and the last step."""
        steps = list(range(0, self.steps, self.eval_every))
        return [*steps, self.steps]

    def work(self) -> dict[str, Any]:
        """The settings that decide the results: everything but the free-text description and ``jobs``."""
        return self.model_dump(mode="json", exclude={"description", "jobs"})

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.work(), sort_keys=True).encode()).hexdigest()[:16]


def slug(method: str) -> str:
    return method.replace("+", "-")


def study_preset_path(name_or_path: str) -> Path:
    return preset_path(name_or_path, STUDY_PRESETS_DIR, "study preset")


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_study_config(preset: str, overrides: list[str] | tuple[str, ...] = (), quick: bool = False) -> GFStudyConfig:
    """A study preset (name in ``training/presets/study/`` or a YAML path), the quick overlay, ``--set`` overrides."""
    path = study_preset_path(preset)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if quick:
            data = _deep_merge(data, yaml.safe_load(QUICK_OVERLAY.read_text(encoding="utf-8")) or {})
    except yaml.YAMLError as e:
        raise ConfigError(f"study preset {path}: not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"study preset {path}: expected a mapping at the top level")
    data = apply_overrides(data, list(overrides))
    try:
        return GFStudyConfig.model_validate(data)
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"])
            msgs.append(f"unknown key {loc!r}" if err["type"] == "extra_forbidden" else
                        (f"{loc}: {err['msg']}" if loc else err["msg"]))
        raise ConfigError(f"study config: {'; '.join(msgs)}") from None


def pipeline_config(study: GFStudyConfig, quick: bool, *extra: str) -> PipelineConfig:
    """The pipeline config every stage of the study uses (study eval, cold-start steps, RL budget)."""
    from training.commands import build_config, flatten_overrides

    items = [*flatten_overrides(study.pipeline),
             "eval.tasks=[]",
             f"eval.study={json.dumps(eval_spec(study))}",
             'eval.after=["base", "cold-start", "rl"]',
             f"cold_start.max_steps={study.steps}",
             f"cold_start.save_steps={study.eval_every}",
             "cold_start.save_total_limit=null",  # every checkpoint is a point of the curves
             f"rl.max_steps={study.rl.max_steps}",
             *extra]
    if study.eval_max_new_tokens:
        items.append(f"eval.max_new_tokens={study.eval_max_new_tokens}")
    return build_config(study.preset, tuple(items), None, None, (), quick=quick)


def eval_spec(study: GFStudyConfig) -> dict[str, Any]:
    """The spec every study eval runs (and records): the study's, with ``eval_limit`` items per set."""
    spec = study.gf.model_dump(mode="json")
    if study.eval_limit is not None:
        spec["limit"] = study.eval_limit
    return spec


def _plan(study: GFStudyConfig, out: Path, pairs_given: bool, quick: bool) -> dict[str, Any]:
    runs = []
    for seed in study.seeds:
        for m in study.methods:
            d = f"runs/{slug(m)}-s{seed}"
            curve: list[dict[str, Any]] = []
            for step in study.curve_steps():
                if step == 0:
                    curve.append({"step": 0, "eval": None})
                elif step == study.steps:
                    curve.append({"step": step, "eval": f"{d}/03-cold-start/eval/{slug(m)}-s{seed}-cold"})
                else:
                    curve.append({"step": step, "eval": f"{d}/curve/eval/{slug(m)}-s{seed}-step{step:03d}"})
            runs.append({"method": m, "seed": seed, "dir": d, "curve": curve,
                         "rl_dir": f"{d}/04-rl" if study.rl.enabled else None,
                         "rl_eval": f"{d}/04-rl/eval/{slug(m)}-s{seed}-rl" if study.rl.enabled else None})
    passk = [{"model": m, "eval": f"passk/eval/passk-{slug(m)}"} for m in study.passk.models] \
        if study.passk.enabled else []
    return {"schema_version": 1, "kind": "gf-study", "name": study.name, "config_hash": study.hash(),
            "quick": quick, "pairs_given": pairs_given, "command": invocation(),
            "config": study.model_dump(mode="json"), "base_eval": "shared/00-base/eval/00-base",
            "runs": runs, "passk": passk, "wall_s": None}


def run_study(study: GFStudyConfig, out: Path, pairs: Path | None = None, quick: bool = False,
              log: Callable[[str], None] = print, report: bool = True) -> dict[str, Any]:
    """Run (or resume) the whole study; returns the collected numbers (also in ``study.json``)."""
    from training.pipeline import run_pipeline

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = _plan(study, out, pairs is not None, quick)
    plan_file = out / "study_plan.json"
    if plan_file.exists():
        old = json.loads(plan_file.read_text(encoding="utf-8"))
        old_work = {k: v for k, v in (old.get("config") or {}).items() if k not in ("description", "jobs")}
        if (old_work, old.get("quick"), old.get("pairs_given")) != (study.work(), quick, pairs is not None):
            raise SpecsError(f"{out} holds a study with another config (or --quick/--pairs); use another --out "
                             "or delete the folder to start over")
        plan["wall_s"] = old.get("wall_s")
        prior_wall = float(old.get("wall_s") or 0.0)
    else:
        prior_wall = 0.0
    atomic_write_json(plan_file, plan)
    base_cfg = pipeline_config(study, quick)
    if pairs is not None:
        pairs = pairs / "pairs.jsonl" if pairs.is_dir() else pairs
        if not pairs.is_file():
            raise SpecsError(f"--pairs {pairs}: no such pairs file (give a distill stage folder or its pairs.jsonl)")
    # 1. shared: base eval (the GF baseline), and zero-RL + distill unless pairs were given
    log(f"── study {study.name}: shared stages in {out / 'shared'}")
    shared_cfg = base_cfg.model_copy(deep=True)
    shared_cfg.eval.after = ["base"]
    if pairs is not None:
        shared_cfg.zero_rl.enabled = False
        shared_cfg.distill.enabled = False
    run_pipeline(shared_cfg, out / "shared", until="base" if pairs is not None else "distill", log=log)
    pairs_path = pairs if pairs is not None else out / "shared" / "02-distill" / "pairs.jsonl"
    work = _Work(study=study.model_dump(mode="json"), out=str(out), quick=quick, pairs=str(pairs_path),
                 threads=_threads_per_job(base_cfg.runtime.threads, study.jobs))
    if study.jobs == 1:
        for i, r in enumerate(plan["runs"], 1):  # 2. cold starts, with an eval of every checkpoint
            _cold_start(work, r, f"[{i}/{len(plan['runs'])}] ", log)
        for e in plan["passk"]:  # 3. pass@k and RBF of the base and cold-start models
            _passk(work, e, log)
        if study.rl.enabled:  # 4. the same GRPO budget after each cold start
            for i, r in enumerate(plan["runs"], 1):
                _rl(work, r, f"[{i}/{len(plan['runs'])}] ", log)
    else:
        _run_side_by_side(work, plan, study, log)
    plan["wall_s"] = round(prior_wall + time.perf_counter() - t0, 1)
    atomic_write_json(plan_file, plan)
    from analysis.study import collect_study, study_markdown

    data = collect_study(out)
    atomic_write_json(out / "study.json", data)
    atomic_write_text(out / "summary.md", study_markdown(data))
    if report:
        write_study_report(out, study, log)
    return data


@dataclass(frozen=True)
class _Work:
    """What every unit of the study's work needs, in a form a spawned worker process can take."""
    study: dict[str, Any]
    out: str
    quick: bool
    pairs: str
    threads: int | None = None  # torch threads per job (None: the preset's)

    def config(self) -> GFStudyConfig:
        return GFStudyConfig.model_validate(self.study)

    def run_cfg(self, method: str, seed: int) -> PipelineConfig:
        extra = [f"cold_start.method={method}", f"runtime.seed={seed}", f"eval.seed={seed}"]
        if self.threads:
            extra.append(f"runtime.threads={self.threads}")
        return pipeline_config(self.config(), self.quick, *extra)

    def ctx(self, stage: str, d: Path, cfg: PipelineConfig, inputs: dict[str, str], run_name: str,
            log: Callable[[str], None]) -> Any:
        from training.stages.base import StageContext, file_ref, model_ref

        out = Path(self.out)
        refs = {k: file_ref("pairs", Path(v), out) if k == "pairs" else model_ref(v, out) for k, v in inputs.items()}
        return StageContext(stage=stage, dir=d, config=cfg, inputs=inputs, run_name=run_name, evaluate=True,
                            log=log, input_refs=refs)


def _threads_per_job(threads: int | None, jobs: int) -> int | None:
    """Jobs side by side share the cores: each gets its share (at least one thread)."""
    if jobs == 1:
        return None
    import os

    return max(1, (threads or os.cpu_count() or 1) // jobs)


def _cold_start(work: _Work, r: dict[str, Any], tag: str, log: Callable[[str], None]) -> None:
    """One cold start (method, seed) and the eval of each of its intermediate checkpoints (the GF curves)."""
    from training.stages.base import run_stage
    from training.stages.evaluate import evaluate_model
    from training.stages.train import CHECKPOINTS

    study, out = work.config(), Path(work.out)
    m, seed, d = r["method"], r["seed"], out / r["dir"]
    cfg = work.run_cfg(m, seed)
    log(f"── {tag}cold start {m}, seed {seed} → {r['dir']}")
    stage_dir = d / "03-cold-start"
    run_stage(work.ctx("cold-start", stage_dir, cfg, {"model": study_base(work), "pairs": work.pairs},
                       f"{slug(m)}-s{seed}-cold", log))
    for c in r["curve"]:
        if c["step"] in (0, study.steps):
            continue
        ev = out / c["eval"]
        if (ev / "results.json").exists() and _complete(ev):
            continue
        ckpt = stage_dir / CHECKPOINTS / f"checkpoint-{c['step']}"
        if not (ckpt / "config.json").exists():
            raise SpecsError(f"{ckpt} is missing, so step {c['step']} of {m} seed {seed} cannot be evaluated; "
                             f"delete {stage_dir} to train it again")
        log(f"   {tag}eval of checkpoint {c['step']}")
        evaluate_model(str(ckpt), d / "curve", ev.name, cfg, log=log)


def study_base(work: _Work) -> str:
    return pipeline_config(work.config(), work.quick).base_model


def _passk_model(work: _Work, model: str) -> str:
    from training.stages.train import MODEL_DIR

    study = work.config()
    if model == "base":
        return study_base(work)
    return str(Path(work.out) / f"runs/{slug(model)}-s{study.seeds[0]}" / "03-cold-start" / MODEL_DIR)


def _passk(work: _Work, e: dict[str, Any], log: Callable[[str], None]) -> None:
    """pass@k with token statistics (RBF) of one model: the base or a method's first-seed cold start."""
    from training.stages.evaluate import evaluate_model

    study, out = work.config(), Path(work.out)
    ev = out / e["eval"]
    if (ev / "results.json").exists() and _complete(ev):
        return
    pk, ps = study.passk, study.passk_set()
    task = {"benchmark": ps.benchmark, "splits": [ps.split], "limit": pk.limit,
            "prompt_variant": ps.variant or study.gf.prompt_variant}
    pk_cfg = pipeline_config(study, work.quick, f"eval.tasks={json.dumps([task])}", "eval.study=null",
                             f"eval.n={pk.n}", f"eval.temperature={pk.temperature}", f"eval.top_p={pk.top_p}",
                             f"eval.batch_size={pk.batch_size}", f"eval.seed={study.seeds[0]}",
                             *([f"eval.max_new_tokens={pk.max_new_tokens}"] if pk.max_new_tokens else []),
                             *([f"runtime.threads={work.threads}"] if work.threads else []))
    log(f"── pass@k: {e['model']} ({pk.limit} items × {pk.n} samples, token statistics)")
    evaluate_model(_passk_model(work, e["model"]), out / "passk", ev.name, pk_cfg, log=log,
                   record_token_stats=True, stats_top_p=pk.stats_top_p)


def _rl(work: _Work, r: dict[str, Any], tag: str, log: Callable[[str], None]) -> None:
    """The study's GRPO budget after one cold start, and its eval."""
    from training.stages.base import run_stage
    from training.stages.train import MODEL_DIR

    study, d = work.config(), Path(work.out) / r["dir"]
    m, seed = r["method"], r["seed"]
    log(f"── {tag}RL after {m}, seed {seed} ({study.rl.max_steps} steps)")
    run_stage(work.ctx("rl", d / "04-rl", work.run_cfg(m, seed), {"model": str(d / "03-cold-start" / MODEL_DIR)},
                       f"{slug(m)}-s{seed}-rl", log))


def _job(kind: str, work: _Work, entry: dict[str, Any], tag: str) -> str:
    """One unit of work in a spawned worker process; its log lines go to stdout with the unit's tag."""
    def log(msg: str) -> None:
        print(f"{tag}{msg}", flush=True)

    if kind == "passk":
        _passk(work, entry, log)
    else:
        (_cold_start if kind == "cold" else _rl)(work, entry, "", log)
    return tag


def _run_side_by_side(work: _Work, plan: dict[str, Any], study: GFStudyConfig, log: Callable[[str], None]) -> None:
    """Run the study's independent units in ``study.jobs`` worker processes, each with its share of threads.

    Why processes with passive OpenMP waiting: two torch jobs on two cores with the default
    spin-waiting slow each other several-fold; with ``OMP_WAIT_POLICY=PASSIVE`` and one thread each
    they run at nearly full speed side by side. A cold start's RL run starts once that cold start is
    done; a method's pass@k once its first seed's cold start is. Every unit is a resumable stage or
    eval, so a crash loses at most the units that were running.
    """
    import multiprocessing
    import os
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read by each worker's OpenMP at start
    if work.threads:
        os.environ["OMP_NUM_THREADS"] = str(work.threads)
    runs, total = plan["runs"], len(plan["runs"])
    log(f"── {study.jobs} jobs side by side, {work.threads} torch thread(s) each, OMP_WAIT_POLICY="
        f"{os.environ['OMP_WAIT_POLICY']}")
    passk_wait = {e["model"]: e for e in plan["passk"]}
    pending: dict[Future[str], tuple[str, dict[str, Any]]] = {}
    with ProcessPoolExecutor(study.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        def submit(kind: str, entry: dict[str, Any], tag: str) -> None:
            pending[pool.submit(_job, kind, work, entry, tag)] = (kind, entry)

        if "base" in passk_wait:
            submit("passk", passk_wait.pop("base"), "[pass@k base] ")
        for i, r in enumerate(runs, 1):
            submit("cold", r, f"[{i}/{total} {slug(r['method'])}-s{r['seed']}] ")
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    kind, entry = pending.pop(fut)
                    log(f"   done: {fut.result().strip()} ({kind})")
                    if kind != "cold":
                        continue
                    i = runs.index(entry) + 1
                    if study.rl.enabled:
                        submit("rl", entry, f"[{i}/{total} {slug(entry['method'])}-s{entry['seed']} rl] ")
                    if entry["seed"] == study.seeds[0] and entry["method"] in passk_wait:
                        submit("passk", passk_wait.pop(entry["method"]), f"[pass@k {entry['method']}] ")
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _complete(run_dir: Path) -> bool:
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8")).get("status") == "complete"
    except (OSError, ValueError):
        return False


def write_study_report(out: Path, study: GFStudyConfig, log: Callable[[str], None] = print) -> Path | None:
    """``report.html`` (+ .json, .md) of the study folder, through ``specs-eval report``'s builder."""
    try:
        from analysis.report import ReportOptions, build_report, write_report
        from specs_eval.benchmarks.images import report_sources

        opts = ReportOptions(title=f"GF study {study.name}", metric=study.metric, study=study.gf, n_boot=1000,
                             **report_sources())
        rep = build_report([out], [], opts)
        return write_report(rep, out / "report.html")["html"]
    except Exception as e:  # the report is a view; study.json holds the numbers
        log(f"report not written ({type(e).__name__}: {e}); the numbers are in summary.md")
        return None


# ---------------------------------------------------------------------------------------------
# command line


@click.group("study")
def study() -> None:
    """Studies over the pipeline's stages: `gf`, the Generalization Factor study (paper §6.4–6.6)."""


@study.command("gf")
@click.option("--preset", default="gf-tiny", show_default=True,
              help="Study preset (training/presets/study/NAME.yaml) or a YAML file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a study setting, e.g. --set seeds=[0,1] or --set pipeline.runtime.threads=4.")
@click.option("--quick", is_flag=True, help="A few steps, items and samples: checks the machinery (≤ 10 min on "
              "2 cores), not a result.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Study folder (rerun to resume).")
@click.option("--pairs", type=click.Path(exists=True, path_type=Path),
              help="Use these pairs (a distill stage folder or pairs.jsonl) instead of running zero-RL + distill.")
@click.option("--rl/--no-rl", "rl", default=None, help="Continue each cold start with GRPO (default: per preset).")
@click.option("--seeds", help="Comma-separated seeds (default: per preset).")
@click.option("--no-report", is_flag=True, help="Skip report.html (study.json and summary.md are always written).")
@click.option("--jobs", type=click.IntRange(min=1), help="Independent cold starts, RL runs and pass@k evals side by "
              "side in this many processes, the threads shared (default: per preset; 1 = one after another).")
def gf(preset: str, overrides: tuple[str, ...], quick: bool, out: Path, pairs: Path | None, rl: bool | None,
       seeds: str | None, no_report: bool, jobs: int | None) -> None:
    """SFT vs DPO vs DPO+SFT cold starts from the same pairs: ID/OOD/GF curves over seeds, downstream RL,
    GF vs post-RL fit, pass@k and rollout branching factor, in one report.

    \b
    Examples:
      specs-train study gf --out runs/gf-study                  # toy world, tiny base, 18 min on 2 cores
      specs-train study gf --quick --out runs/gf-quick          # the machinery in a few minutes
      specs-train study gf --out runs/gf --pairs runs/specs-tiny/02-distill --no-rl
      specs-train study gf --out runs/gf7b --set preset=qwen2.5-vl-7b --set gf=qwen2.5-vl-7b-format ...
    """
    from training.commands import _log, _quiet

    items = list(overrides)
    if rl is not None:
        items.append(f"rl.enabled={str(rl).lower()}")
    if jobs is not None:
        items.append(f"jobs={jobs}")
    if seeds:
        try:
            items.append(f"seeds={json.dumps([int(s) for s in seeds.split(',') if s.strip()])}")
        except ValueError:
            raise click.BadParameter(f"expected comma-separated integers, got {seeds!r}", param_hint="--seeds") \
                from None
    cfg = load_study_config(preset, items, quick)
    _quiet()
    n = len(cfg.methods) * len(cfg.seeds)
    _log(f"study gf {cfg.name}{' (quick)' if quick else ''} → {out}: {len(cfg.methods)} methods × "
         f"{len(cfg.seeds)} seeds = {n} cold starts of {cfg.steps} steps, eval every {cfg.eval_every}"
         + (f", then {cfg.rl.max_steps} RL steps each" if cfg.rl.enabled else "")
         + (f"; {cfg.jobs} jobs side by side" if cfg.jobs > 1 else ""))
    run_study(cfg, out, pairs, quick, log=_log, report=not no_report)
    click.echo((out / "summary.md").read_text(encoding="utf-8"))
    if not no_report and (out / "report.html").exists():
        click.echo(f"report: {out / 'report.html'}")
