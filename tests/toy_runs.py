"""Build valid run directories from toy-world rows, for tests (not part of the package).

Why here: ``specs-eval run`` is being written in parallel; until it lands, tests need run
directories with exactly the documented files. This builder goes through the real toy
benchmark (rows, prompts, hashes) and the real scoring engine (``score_generations`` +
``benchmark_results``); only the model is replaced by responses we construct, so that
expected numbers can be computed by hand.

``decide(row, split, sample_idx) -> (correct, fmt)`` chooses each response: answer the
right ``answer_token`` or a wrong one, rendered in output format ``fmt`` (``None``: the
requested format; ``"garbage"``: unparseable text).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from specs_eval.benchmarks.toy import ToyWorld
from specs_eval.benchmarks.toyworld.world import EVAL_SPLITS, LETTERS
from specs_eval.core.prompt import image_hash, row_hash
from specs_eval.core.records import (
    GenerationRecord,
    GenerationSettings,
    ModelInfo,
    RunManifest,
    RunResults,
    TaskSpec,
    TokenStats,
)
from specs_eval.rules.formats import FORMATS
from specs_eval.run.scoring import benchmark_results, score_generations

Decision = tuple[bool, str | None]
Decide = Callable[[dict[str, Any], str, int], Decision]


def wrong_answer(row: dict[str, Any]) -> str:
    """A parseable answer that the toy scorer marks wrong."""
    if row.get("choices"):
        letter = row["answer_token"]
        return next(x for x in LETTERS[: len(row["choices"])] if x != letter)
    if row["answer_type"] == "float":
        return f"{float(row['answer']) + 1.5:.1f}"
    return str(int(row["answer"]) + 1)


def render(row: dict[str, Any], correct: bool, fmt: str | None) -> str:
    answer = row["answer_token"] if correct else wrong_answer(row)
    if fmt == "garbage":
        return "I cannot tell."
    fmt = fmt or row["format"]
    return FORMATS[fmt].render(row["rationale"], answer)


def unit(*key: Any) -> float:
    """A deterministic uniform number in [0, 1) from a key."""
    h = hashlib.sha256(repr(key).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def quality_decider(quality: dict[str, float], sticky: float = 0.0, seed: int = 0, garbage: float = 0.0) -> Decide:
    """Correct with probability ``quality[split]`` (items share a difficulty across runs, so runs correlate).

    On format-shift items, answers keep the trained SPECS format with probability ``sticky``.
    """

    def decide(row: dict[str, Any], split: str, sample_idx: int) -> Decision:
        difficulty = unit("difficulty", row["pid"])
        noise = unit("noise", seed, row["pid"], sample_idx)
        correct = 0.6 * difficulty + 0.4 * noise < quality.get(split, 0.5)
        fmt = None
        if split == "ood_format" and unit("sticky", seed, row["pid"], sample_idx) < sticky:
            fmt = "specs"
        if garbage and unit("garbage", seed, row["pid"], sample_idx) < garbage:
            fmt = "garbage"
        return correct, fmt

    return decide


def build_run(
    root: Path,
    name: str,
    decide: Decide,
    *,
    splits: Sequence[str] = EVAL_SPLITS,
    n_items: int = 20,
    n_samples: int = 1,
    data_seed: int = 0,
    token_stats: bool = True,
    errors: dict[str, int] | None = None,
    status: str = "complete",
    temperature: float | None = None,
    model_path: str | None = None,
    write_results: bool = True,
    write_generations: bool = True,
    empty_splits: Sequence[str] = (),
) -> Path:
    """Write ``root/name`` with manifest.json, generations.jsonl, samples.jsonl, results.json."""
    bench = ToyWorld()
    out = root / name
    out.mkdir(parents=True, exist_ok=True)
    gens: list[GenerationRecord] = []
    rows_by_id: dict[str, dict[str, Any]] = {}
    datasets = []
    errors = dict(errors or {})
    rng = random.Random(f"{name}:{data_seed}")
    for split in splits:
        loaded = bench.load(split, limit=n_items, seed=data_seed)
        datasets.append(loaded.info)
        if split in empty_splits:
            continue
        for row in loaded.rows:
            rows_by_id[row["pid"]] = row
            prompt = bench.build_prompt(row, "official")
            for k in range(n_samples):
                correct, fmt = decide(row, split, k)
                text = render(row, correct, fmt)
                err = None
                if errors.get(split, 0) > 0:
                    errors[split] -= 1
                    err, text = "RuntimeError: CUDA out of memory", ""
                stats = None
                if token_stats and err is None:
                    stats = TokenStats(n_tokens=max(1, len(text.split())), nucleus_mean=1.0 + 3 * rng.random(),
                                       entropy_mean=0.2 + rng.random(), top_p=0.95)
                gens.append(GenerationRecord(
                    benchmark=bench.name, split=split, id=row["pid"], sample_idx=k, doc_hash=row_hash(row),
                    prompt_hash=prompt.hash(), prompt=prompt.text, image_hashes=[image_hash(row["decoded_image"])],
                    response=text, finish_reason="error" if err else "stop", n_prompt_tokens=40,
                    n_tokens=None if err else len(text.split()), token_stats=stats, error=err))
    samples = score_generations(bench, rows_by_id, gens, variant="official")
    gen = GenerationSettings(max_new_tokens=96, n=n_samples,
                             temperature=temperature if temperature is not None else (1.0 if n_samples > 1 else 0.0),
                             top_p=1.0, record_token_stats=token_stats)
    manifest = RunManifest(
        toolkit_version="0.1.0", run_name=name, status=status, created="2025-01-01T00:00:00Z",
        finished="2025-01-01T00:01:00Z" if status == "complete" else None,
        config_hash=hashlib.sha256(name.encode()).hexdigest()[:16],
        model=ModelInfo(name=name, path=model_path or f"models/{name}", backend="hf", weights_hash=f"w-{name}",
                        chat_template_hash="tmpl-1", processor={"min_pixels": 3136, "max_pixels": 12544}),
        generation=gen,
        tasks=[TaskSpec(benchmark=bench.name, split=s, prompt_variant="official", profile="rules", limit=n_items)
               for s in splits],
        datasets=datasets, split_roles={bench.name: bench.split_roles()},  # as the run engine records them
        libraries={"specs-eval": "0.1.0"}, command=["specs-eval", "run", "--name", name],
        wall_s=60.0)
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    if write_generations:
        (out / "generations.jsonl").write_text("".join(g.model_dump_json() + "\n" for g in gens), encoding="utf-8")
    (out / "samples.jsonl").write_text("".join(s.model_dump_json() + "\n" for s in samples), encoding="utf-8")
    if write_results:
        results = RunResults(run_name=name, model=name,
                             benchmarks={bench.name: benchmark_results(bench, samples)} if samples else {})
        (out / "results.json").write_text(results.model_dump_json(indent=2), encoding="utf-8")
    return out


def rewrite_jsonl(path: Path, fn: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Apply ``fn`` to each line of a JSONL file (``None`` drops the line)."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = fn(json.loads(line))
        if obj is not None:
            lines.append(json.dumps(obj))
    path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")


# The three models of a typical comparison, loosely shaped like the paper's story: SFT gains ID
# but sticks to its trained format; DPO gains less ID but transfers OOD.
BASE = quality_decider({"id": 0.30, "ood_visual": 0.25, "ood_task": 0.20, "ood_format": 0.25}, sticky=0.1, seed=1)
SFT = quality_decider({"id": 0.85, "ood_visual": 0.60, "ood_task": 0.30, "ood_format": 0.45}, sticky=0.7, seed=2)
DPO = quality_decider({"id": 0.80, "ood_visual": 0.70, "ood_task": 0.40, "ood_format": 0.70}, sticky=0.1, seed=3)


def write_training_pipeline(root: Path, steps: int = 30) -> Path:
    """A synthetic ``specs-train`` pipeline directory: a DPO cold-start stage and a GRPO stage."""
    root.mkdir(parents=True, exist_ok=True)
    cold = root / "01-cold-start"
    rl = root / "02-rl"
    for d, stage in ((cold, "cold-start"), (rl, "rl")):
        d.mkdir(exist_ok=True)
        (d / "stage_manifest.json").write_text(json.dumps({"schema_version": 1, "stage": stage, "method": "dpo+sft"
                                                           if stage == "cold-start" else "grpo"}), encoding="utf-8")
    with (cold / "metrics.jsonl").open("w", encoding="utf-8") as f:
        for s in range(1, steps + 1):
            f.write(json.dumps({"schema_version": 1, "stage": "cold-start", "step": s, "loss": 1.0 / s,
                                "rewards/chosen": 0.05 * s, "rewards/rejected": -0.3 * s,
                                "rewards/margins": 0.35 * s}) + "\n")
    with (rl / "metrics.jsonl").open("w", encoding="utf-8") as f:
        for s in range(1, steps + 1):
            zv = 0.6 - 0.01 * s
            f.write(json.dumps({"schema_version": 1, "stage": "rl", "step": s, "loss": 0.001, "reward": 0.5 + 0.02 * s,
                                "reward_std": 0.3, "frac_reward_zero_std": zv, "entropy": 1.0 - 0.01 * s,
                                "completions/mean_length": 40 + s, "rewards/format_reward/mean": 0.45,
                                "groups/zero_variance_rate": zv, "groups/all_correct_rate": 0.1 + 0.005 * s,
                                "groups/all_wrong_rate": zv - 0.1 - 0.005 * s, "groups/n": 16}) + "\n")
    return root
