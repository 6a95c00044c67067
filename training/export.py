"""``specs-train export``: the RL data and reward in verl / EasyR1 formats, for users moving to Ray.

Why export rather than re-implement: beyond a node or two, Ray-based RL (verl, EasyR1)
scales rollouts better than trl. Users keep the same prompts (built by the same
``Benchmark.build_prompt``, with ``<image>`` where each image goes) and the same reward
(``training.rewards``: format 0.5 + the benchmark scorer's accuracy 1.0), so a
run moved to verl optimises exactly what the harness measures.

Written files:

  train.parquet / val.parquet   verl: data_source, prompt (chat messages), images, ability,
                                reward_model {style, ground_truth}, extra_info {index, split,
                                row_json, prompt_variant}; EasyR1: images, problem, answer
                                (the answer column is the JSON row the scorer needs)
  reward.py                     ``compute_score`` for either framework (imports specs-eval)
  README.md                     the command-line settings that point the framework at them
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import click

from specs_eval.core.io import atomic_write_text
from training.config import DataConfig, PipelineConfig
from training.data import PromptItem, load_items
from training.rewards import row_for_reward

REWARD_MODULE = '''"""Reward for verl / EasyR1, written by `specs-train export`: the specs-eval scorers.

Needs `pip install specs-eval` (the core install: no torch) on every worker.
"""
from training.rewards import compute_score as _verl_compute_score
from training.rewards import easyr1_compute_score


def compute_score(*args, **kwargs):
    """verl calls (data_source, solution_str, ground_truth, extra_info); EasyR1 calls (reward_inputs)."""
    if "reward_inputs" in kwargs:
        return easyr1_compute_score(kwargs.pop("reward_inputs"), **kwargs)
    if args and isinstance(args[0], list):
        return easyr1_compute_score(args[0], **kwargs)
    return _verl_compute_score(*args, **kwargs)
'''

README = """# RL data exported by specs-train ({fmt})

Prompts: {n_train} train / {n_val} val rows of {source}, prompt variant `{variant}`.
Reward: `reward.py:compute_score` = 0.5 × SPECS format + 1.0 × the benchmark scorer's accuracy.

{usage}
"""

VERL_USAGE = """```bash
python3 -m verl.trainer.main_ppo algorithm.adv_estimator=grpo \\
  data.train_files=$PWD/train.parquet data.val_files=$PWD/val.parquet data.image_key=images \\
  custom_reward_function.path=$PWD/reward.py custom_reward_function.name=compute_score \\
  actor_rollout_ref.rollout.n=8 actor_rollout_ref.actor.use_kl_loss=False \\
  actor_rollout_ref.actor.clip_ratio_low=0.2 actor_rollout_ref.actor.clip_ratio_high=0.28 ...
```"""

EASYR1_USAGE = """```bash
python3 -m verl.trainer.main config=examples/config.yaml \\
  data.train_files=$PWD/train.parquet data.val_files=$PWD/val.parquet \\
  data.prompt_key=problem data.answer_key=answer data.image_key=images \\
  worker.reward.reward_function=$PWD/reward.py:compute_score worker.rollout.n=8 ...
```"""


def item_record(item: PromptItem, index: int, fmt: Literal["verl", "easyr1"]) -> dict[str, Any]:
    images = list(item.prompt.images)
    text = item.prompt.text
    if fmt == "verl":
        msgs: list[dict[str, str]] = []
        if item.prompt.system:
            msgs.append({"role": "system", "content": item.prompt.system})
        msgs.append({"role": "user", "content": text})
        return {
            "data_source": item.benchmark, "prompt": msgs, "images": images, "ability": "visual_reasoning",
            "reward_model": {"style": "rule", "ground_truth": str(item.row.get("answer", ""))},
            "extra_info": {"index": index, "split": item.split, "id": item.id, "row_json": row_for_reward(item.row),
                           "prompt_variant": item.variant},
        }
    payload = {"benchmark": item.benchmark, "prompt_variant": item.variant, "row": json.loads(row_for_reward(item.row))}
    return {"images": images, "problem": text, "answer": json.dumps(payload, sort_keys=True)}


def write_parquet(records: list[dict[str, Any]], path: Path) -> int:
    import datasets

    ds = datasets.Dataset.from_list(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    ds.to_parquet(str(tmp))
    tmp.replace(path)
    return len(records)


def export_rl(config: PipelineConfig, out: Path, fmt: Literal["verl", "easyr1"], stage: str = "rl",
              val_limit: int = 200) -> dict[str, int]:
    """Write train/val parquet files, ``reward.py`` and a README into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    data = config.stage_data(stage)
    items, _info = load_items(data, cache_dir=out / ".data")
    n_train = write_parquet([item_record(it, i, fmt) for i, it in enumerate(items)], out / "train.parquet")
    val_items: list[PromptItem] = []
    if config.eval.tasks and config.eval.tasks[0].splits:
        t = config.eval.tasks[0]
        vd = DataConfig(benchmark=t.benchmark, split=t.splits[0], path=t.data, limit=min(val_limit, t.limit or val_limit),
                        prompt_variant=t.prompt_variant, seed=config.eval.seed)
        val_items, _ = load_items(vd, cache_dir=out / ".data")
    n_val = write_parquet([item_record(it, i, fmt) for i, it in enumerate(val_items)], out / "val.parquet") \
        if val_items else 0
    atomic_write_text(out / "reward.py", REWARD_MODULE)
    atomic_write_text(out / "README.md", README.format(fmt=fmt, n_train=n_train, n_val=n_val,
                                                       source=f"{data.benchmark}/{data.split}", variant=data.prompt_variant,
                                                       usage=VERL_USAGE if fmt == "verl" else EASYR1_USAGE))
    return {"train": n_train, "val": n_val}


@click.command()
@click.option("--format", "fmt", type=click.Choice(["verl", "easyr1"]), required=True)
@click.option("--preset", default="tiny", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--stage", type=click.Choice(["zero-rl", "rl"]), default="rl", show_default=True,
              help="Whose RL data to export.")
@click.option("--out", required=True, type=click.Path(path_type=Path))
def export(fmt, preset, overrides, stage, out) -> None:
    """Export the RL prompts and the reward for verl or EasyR1.

    \b
    Example:
      specs-train export --format verl --preset qwen2.5-vl-7b --out runs/verl-data
    """
    from training.config import load_config, preset_path

    config = load_config(str(preset_path(preset)), list(overrides))
    counts = export_rl(config, out, fmt, stage)
    click.echo(f"{fmt}: {counts['train']} train and {counts['val']} val rows, reward.py and README.md in {out}")
