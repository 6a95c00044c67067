"""The eval step: the harness itself (``specs_eval.run.engine.run_eval``) on a stage's model.

Why the engine and not a quick in-trainer eval: the outputs must be ordinary
``specs-eval`` run directories (manifest, generations, samples, results) so the report,
GF and pass@k code read pipeline checkpoints exactly as they read any other run, and a
killed eval resumes from its generation log like any other run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from specs_eval.core.metrics import METRICS, stored_value
from specs_eval.core.records import GenerationSettings, RunResults, TaskSpec
from training.config import PipelineConfig

EVAL_DIR = "eval"


def eval_tasks(config: PipelineConfig) -> list[TaskSpec]:
    """The eval's tasks, then the study spec's sets that the tasks do not already cover."""
    tasks = []
    for t in config.eval.tasks:
        for split in t.splits:
            tasks.append(TaskSpec(benchmark=t.benchmark, split=split, prompt_variant=t.prompt_variant, limit=t.limit,
                                  data=t.data, data_seed=t.data_seed))
    if config.eval.study is not None:
        from specs_eval.benchmarks.study import merge_tasks, study_tasks

        tasks = merge_tasks(tasks, study_tasks(config.eval.study))
    return tasks


def evaluate_model(model: str, stage_dir: Path, run_name: str, config: PipelineConfig,
                   log: Callable[[str], None] = print, overwrite: bool = False,
                   record_token_stats: bool = False, stats_top_p: float = 0.95) -> dict[str, Any]:
    """Run the configured eval on ``model``; returns ``{"run": relative dir, "results": {bench: {split: …}}}``.

    ``record_token_stats`` keeps per-token entropy and nucleus sizes (the rollout branching
    factor of the GF study's exploration numbers); off for ordinary stage evals.
    """
    from specs_eval.benchmarks import get_benchmark
    from specs_eval.run.engine import RunConfig, run_eval

    ev = config.eval
    tasks = eval_tasks(config)
    max_tokens = ev.max_new_tokens or max(get_benchmark(t.benchmark).default_max_new_tokens for t in tasks)
    settings = GenerationSettings(max_new_tokens=max_tokens, temperature=ev.temperature, top_p=ev.top_p, n=ev.n,
                                  seed=ev.seed, batch_size=ev.batch_size,
                                  record_token_stats=record_token_stats, stats_top_p=stats_top_p)
    rc = RunConfig(model=model, tasks=tasks, generation=settings, backend=ev.backend,
                   backend_options=backend_options(ev.backend, ev.backend_options, config),
                   out=stage_dir / EVAL_DIR, run_name=run_name, overwrite=overwrite, study=config.eval.study)
    outcome = run_eval(rc, command=["specs-train", "eval", run_name], log=log)
    return {"run": f"{EVAL_DIR}/{run_name}", "results": headline(outcome.results)}


def backend_options(backend: str, options: dict[str, Any], config: PipelineConfig) -> dict[str, Any]:
    """The run engine's backend options: the HF backend runs where training runs."""
    if backend == "hf":
        return {"device": config.runtime.device, "dtype": "auto", "threads": config.runtime.threads, **options}
    return dict(options)


def headline(results: RunResults) -> dict[str, dict[str, dict[str, Any]]]:
    """Per benchmark and split: ``n`` and every registered metric (``None`` where undefined, e.g. no
    sample could be scored), rounded to 4 digits."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for bench, br in results.benchmarks.items():
        out[bench] = {}
        for split, sm in br.splits.items():
            row: dict[str, Any] = {"n": sm.n_samples}
            for name in METRICS:
                v = stored_value(sm, name)
                row[name] = None if v is None else round(v, 4)
            out[bench][split] = row
    return out
