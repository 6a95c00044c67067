"""The distill stage: sample, filter, corrupt and pair (paper-notes §3.4–3.6).

Why sampling goes through the run engine: each sampling pass is an ordinary
``specs-eval`` run directory (``sampling/chosen``, ``sampling/rejected``) with n samples
per prompt, scored by the benchmark's own scorer, resumable after a kill and readable by
every analysis tool. The pair rules then only read ``samples.jsonl``.

Both passes load the same prompts as the training stages (``data.seed`` is the run
engine's data seed); ``distill.seed`` seeds sampling, pairing and corruption. When chosen and rejected come from the same model (the "base model distill" ablation),
one sampling pass serves both and a sample is never paired with its own corruption.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from specs_eval.core.io import atomic_write_json, atomic_write_jsonl, read_jsonl
from specs_eval.core.records import GenerationSettings, SampleRecord, TaskSpec
from training.config import DataConfig, PipelineConfig
from training.manifest import StageError
from training.pairs import Candidate, JudgeFn, PairSet, build_pairs

SAMPLING_DIR = "sampling"
PAIRS_FILE = "pairs.jsonl"
PAIRS_DATA_FILE = "pairs_data.json"
REPORT_FILE = "filter_report.json"


def sampling_tasks(data: DataConfig, cache_dir: Path) -> list[TaskSpec]:
    """One run-engine task per dataset of the distill data, reading exactly the rows training reads
    (RL-pool sources through their row selection files, ``training.data.stage_sources``)."""
    from training.data import stage_sources

    return [TaskSpec(benchmark=src.benchmark, split=src.split, prompt_variant=data.prompt_variant, limit=limit,
                     data=src.data, data_seed=data.seed) for src, limit, _ in stage_sources(data, cache_dir)]


def sample(model: str, run_name: str, stage_dir: Path, config: PipelineConfig, log: Callable[[str], None]
           ) -> list[SampleRecord]:
    from specs_eval.run.engine import SAMPLES, RunConfig, run_eval

    d = config.distill
    data = config.stage_data("distill")
    from training.stages.evaluate import backend_options

    tasks = sampling_tasks(data, stage_dir.parent / ".data")
    settings = GenerationSettings(max_new_tokens=d.max_new_tokens, temperature=d.temperature, top_p=d.top_p,
                                  n=d.samples_per_prompt, seed=d.seed, batch_size=d.batch_size)
    rc = RunConfig(model=model, tasks=tasks, generation=settings, backend=d.backend,
                   backend_options=backend_options(d.backend, d.backend_options, config),
                   out=stage_dir / SAMPLING_DIR, run_name=run_name)
    outcome = run_eval(rc, command=["specs-train", "distill", run_name], log=log)
    return [SampleRecord.model_validate(r) for r in read_jsonl(outcome.run_dir / SAMPLES)]


def candidates(samples: list[SampleRecord]) -> list[Candidate]:
    return [Candidate(id=s.id, sample_idx=s.sample_idx, text=s.response, correct=bool(s.correct) and s.error is None,
                      truncated=s.finish_reason == "length") for s in samples if s.error is None]


def run_distill(stage_dir: Path, config: PipelineConfig, inputs: dict[str, str], log: Callable[[str], None],
                judge_fn: JudgeFn | None = None) -> dict[str, Any]:
    """Sample both sources, build the pairs, write ``pairs.jsonl`` + report; returns the stage metrics."""
    d = config.distill
    same = inputs["chosen_model"] == inputs["base"]
    chosen_samples = sample(inputs["chosen_model"], "chosen", stage_dir, config, log)
    rejected_samples = chosen_samples if same else sample(inputs["base"], "rejected", stage_dir, config, log)
    chosen_c, rejected_c = candidates(chosen_samples), candidates(rejected_samples)
    meta = {s.id: {"benchmark": s.benchmark, "split": s.split, "prompt_hash": s.prompt_hash} for s in chosen_samples}
    judge_id = None
    if judge_fn is None and d.judge.enabled:
        from training.data import load_items
        from training.judge import consistency_fn, make_judge

        judge = make_judge(d.judge, stage_dir / "judge_cache")
        judge_id = judge.judge_id
        items, _ = load_items(config.stage_data("distill"), cache_dir=stage_dir.parent / ".data")
        judge_fn = consistency_fn(judge, {i.id: i.prompt.text for i in items},
                                  {i.id: list(i.prompt.images) for i in items}, d.judge.max_tokens)
    result: PairSet = build_pairs(chosen_c, rejected_c, mode=d.pair_mode, pairs_per_prompt=d.pairs_per_prompt,
                                  seed=d.seed, judge=judge_fn, chosen_source=config.distill.chosen_from, meta=meta,
                                  distinct_samples=same)
    pairs = result.pairs
    report = result.report
    atomic_write_jsonl(stage_dir / PAIRS_FILE, pairs)
    atomic_write_json(stage_dir / PAIRS_DATA_FILE, config.stage_data("distill").model_dump(mode="json"))
    metrics = {**report.model_dump(), "losses": report.losses(), "judge": judge_id or ("injected" if judge_fn else None),
               "chosen_run": f"{SAMPLING_DIR}/chosen", "rejected_run": f"{SAMPLING_DIR}/{'chosen' if same else 'rejected'}"}
    atomic_write_json(stage_dir / REPORT_FILE, metrics)
    with (stage_dir / "metrics.jsonl").open("w", encoding="utf-8") as f:
        f.write(json.dumps({"schema_version": 1, "stage": "distill", "step": 0,
                            **{k: v for k, v in report.model_dump().items() if isinstance(v, int)}}) + "\n")
    log(f"distill: {report.pairs} pairs from {report.prompts} prompts (chosen kept {report.chosen_kept}/"
        f"{report.chosen_samples}, rejected kept {report.rejected_kept}/{report.rejected_samples})")
    if len(pairs) < d.min_pairs:
        raise StageError("distill", f"{len(pairs)} preference pairs after filtering (need {d.min_pairs}): "
                         f"chosen kept {report.chosen_kept}/{report.chosen_samples} samples, rejected kept "
                         f"{report.rejected_kept}/{report.rejected_samples}; sample more prompts (data.limit), more "
                         "samples (distill.samples_per_prompt) or train the zero-RL model longer")
    return metrics
