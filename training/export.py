"""``specs-train export``: the RL data and reward in verl / EasyR1 formats, for users moving to Ray.

Why export rather than re-implement: beyond a node or two, Ray-based RL (verl, EasyR1)
scales rollouts better than trl. Users keep the same prompts (built by the same
``Benchmark.build_prompt``, with ``<image>`` where each image goes) and the same reward
(``training.rewards``: format 0.5 + the benchmark scorer's accuracy 1.0), so a run moved to
verl optimises exactly what the harness measures. The RL-pool data (Orsta-Data-47k,
ViRL39K) is exported with the same rows, kind filters and skips as the trl stages.

What each framework expects, as read in its source (sources in ``docs/training.md``):

* **verl 0.9** reads the reward from ``reward.custom_reward_function.path/.name`` (verl PR
  5255). The old top-level ``custom_reward_function.*`` key is still accepted by its config
  but *ignored* by ``verl.trainer.main_ppo`` in 0.9 (only the fully-async entry point
  migrates it), so the README shows the current key. verl calls ``compute_score`` with
  keywords (``data_source, solution_str, ground_truth, extra_info`` + config
  ``reward_kwargs``) and takes the keys of the first result for the whole batch: ours always
  returns the same keys. Its trainer config defaults ``data.max_prompt_length`` to 512 with
  ``truncation: error``; image prompts exceed that, so the export counts every prompt's tokens
  at verl's image bounds and says what to set. ``RLHFDataset`` asserts one ``<image>`` per
  image; the export checks that before writing.
* **EasyR1** calls the reward with a list (``batch``) or one dict (``sequential``), chosen by the
  module's ``REWARD_TYPE`` (main, since PR 558) or by ``worker.reward.reward_type`` (<= v0.3.2);
  the exported function accepts both and returns ``overall``/``format``/``accuracy``.

Written files:

  train.parquet / val.parquet   verl: data_source, prompt (chat messages), images, ability,
                                reward_model {style, ground_truth}, extra_info {index, split, id,
                                row_json, prompt_variant}; EasyR1: images, problem, answer
                                (the answer column is the JSON row the scorer needs)
  reward.py                     ``compute_score`` (and ``main``) for either framework; imports specs-eval
  export.json                   counts, data report (skips, exclusions), prompt lengths, warnings
  README.md                     the command-line settings that point the framework at them
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import click

from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_json, atomic_write_text
from specs_eval.rules.vision_grid import QWEN25_VL_7B, GridSpec, grid_size
from training.config import DataConfig, PipelineConfig
from training.data import POOL_BENCHMARKS, DataError, PromptItem, load_data
from training.rewards import row_for_reward

Format = Literal["verl", "easyr1"]
#: verl 0.9.1's trainer config (``trainer/config/data/legacy_data.yaml``): max_prompt_length 512, truncation error
VERL_MAX_PROMPT_LENGTH = 512
#: EasyR1's ``examples/config.yaml`` sets 2048 (its dataclass default is 512)
EASYR1_MAX_PROMPT_LENGTH = 2048
#: verl resizes images with qwen-vl-utils' defaults: factor 28, 4..16384 tokens per image
VERL_IMAGE_GRID = QWEN25_VL_7B
#: EasyR1 first resizes images proportionally into [min_pixels, max_pixels] (its data config defaults)
EASYR1_PIXELS = (262144, 4194304)
WRITE_CHUNK = 256

REWARD_MODULE = '''"""Reward for verl / EasyR1, written by `specs-train export`: the specs-eval scorers.

Needs `pip install specs-eval` (the core install: no torch) on every worker.

* verl 0.9: reward.custom_reward_function.path=<this file> reward.custom_reward_function.name=compute_score
  (verl calls it with keywords; extra config values arrive through reward_kwargs, e.g. iou_threshold).
* EasyR1: worker.reward.reward_function=<this file>:compute_score. REWARD_TYPE below is read by EasyR1
  main; on EasyR1 <= v0.3.2 set worker.reward.reward_type instead. Both "batch" (a list of
  {response, response_length, ground_truth}) and "sequential" (one such dict) work.
"""
from training.rewards import framework_compute_score

REWARD_NAME = "specs"
REWARD_TYPE = "batch"


def compute_score(*args, **kwargs):
    """verl: keywords (data_source, solution_str, ground_truth, extra_info); EasyR1: a list or one dict."""
    return framework_compute_score(*args, **kwargs)


main = compute_score  # EasyR1's default name when the reward path has no ":function"
'''

README = """# RL data exported by specs-train ({fmt})

Prompts: {n_train} train / {n_val} val rows of {source}, prompt variant `{variant}`.
Reward: `reward.py:compute_score` = 0.5 × SPECS format + 1.0 × the benchmark scorer's accuracy
(partial IoU credit on detection rows); every call returns `format`, `accuracy` and `not_scored`
as well.

{usage}

Prompt lengths (text + image tokens, counted with the processor of `{model}` at the framework's
image bounds): {lengths}
{warnings}
"""

VERL_USAGE = """```bash
python3 -m verl.trainer.main_ppo algorithm.adv_estimator=grpo \\
  data.train_files=$PWD/train.parquet data.val_files=$PWD/val.parquet data.image_key=images \\
  data.max_prompt_length={max_prompt} \\
  reward.custom_reward_function.path=$PWD/reward.py reward.custom_reward_function.name=compute_score \\
  actor_rollout_ref.rollout.n=8 actor_rollout_ref.actor.use_kl_loss=False \\
  actor_rollout_ref.actor.clip_ratio_low=0.2 actor_rollout_ref.actor.clip_ratio_high=0.28 ...
```

* The reward key is `reward.custom_reward_function.*` (verl >= 0.7.1). The old top-level
  `custom_reward_function.path` is still accepted by verl 0.9's config but **ignored** by
  `verl.trainer.main_ppo` (it falls back to its built-in scorers, which fail on our data sources).
* `data.max_prompt_length` (verl's default 512, `truncation: error`) must cover the longest prompt;
  `actor_rollout_ref.rollout.prompt_length` follows it."""

EASYR1_USAGE = """```bash
python3 -m verl.trainer.main config=examples/config.yaml \\
  data.train_files=$PWD/train.parquet data.val_files=$PWD/val.parquet \\
  data.prompt_key=problem data.answer_key=answer data.image_key=images data.max_prompt_length={max_prompt} \\
  worker.reward.reward_function=$PWD/reward.py:compute_score worker.rollout.n=8 ...
```

* `reward.py` sets `REWARD_TYPE = "batch"` (EasyR1 main); on EasyR1 <= v0.3.2 add
  `worker.reward.reward_type=batch` (or `sequential`: the same function handles one dict)."""


class ExportError(SpecsError):
    """A row that the target framework would reject, named before anything is written."""


def item_record(item: PromptItem, index: int, fmt: Format, benchmark: Any = None, prompt: Any = None
                ) -> dict[str, Any]:
    prompt = prompt if prompt is not None else item.prompt
    images = [img.convert("RGB") if getattr(img, "mode", "RGB") != "RGB" else img for img in prompt.images]
    text = prompt.text
    if text.count("<image>") != len(images):
        raise ExportError(f"row {item.benchmark}/{item.id}: {text.count('<image>')} <image> placeholders for "
                          f"{len(images)} images ({fmt} pairs them one to one); the question text itself holds "
                          "'<image>'")
    if fmt == "verl":
        msgs: list[dict[str, str]] = []
        if prompt.system:
            msgs.append({"role": "system", "content": prompt.system})
        msgs.append({"role": "user", "content": text})
        target = benchmark.target(item.row) if benchmark is not None else str(item.row.get("answer", ""))
        return {
            "data_source": item.benchmark, "prompt": msgs, "images": images, "ability": "visual_reasoning",
            "reward_model": {"style": "rule", "ground_truth": str(target)},
            "extra_info": {"index": index, "split": item.split, "id": item.id, "row_json": row_for_reward(item.row),
                           "prompt_variant": item.variant},
        }
    payload = {"benchmark": item.benchmark, "prompt_variant": item.variant, "row": json.loads(row_for_reward(item.row))}
    return {"images": images, "problem": text, "answer": json.dumps(payload, sort_keys=True)}


def features(fmt: Format) -> Any:
    import datasets

    images = datasets.List(datasets.Image())
    if fmt == "verl":
        s = datasets.Value("string")
        return datasets.Features({
            "data_source": s, "prompt": datasets.List({"role": s, "content": s}), "images": images, "ability": s,
            "reward_model": {"style": s, "ground_truth": s},
            "extra_info": {"index": datasets.Value("int64"), "split": s, "id": s, "row_json": s, "prompt_variant": s},
        })
    return datasets.Features({"images": images, "problem": datasets.Value("string"), "answer": datasets.Value("string")})


def write_parquet(records: Iterable[dict[str, Any]], path: Path, fmt: Format) -> int:
    """Write records in chunks (images encoded as they come: never all in memory), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    feats = features(fmt)
    schema = feats.arrow_schema
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    n = 0
    chunk: list[dict[str, Any]] = []
    try:
        with pq.ParquetWriter(str(tmp), schema) as writer:
            for rec in records:
                chunk.append(feats.encode_example(rec))
                if len(chunk) >= WRITE_CHUNK:
                    writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                    n, chunk = n + len(chunk), []
            if chunk:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                n += len(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a rejected row leaves no half-written file behind
        raise
    tmp.replace(path)
    return n


# ---------------------------------------------------------------- prompt lengths


def framework_image_tokens(width: int, height: int, fmt: Format, model_grid: GridSpec) -> int:
    """Image tokens the framework's pipeline gives an image of this size."""
    if fmt == "verl":  # qwen-vl-utils fetch_image: smart_resize with its own bounds; the processor keeps it
        h, w = grid_size(height, width, VERL_IMAGE_GRID)
        return model_grid.tokens(*grid_size(h, w, model_grid))
    lo, hi = EASYR1_PIXELS  # EasyR1 process_image: proportional int() resize into [lo, hi], then the processor
    area = width * height
    if area > hi or area < lo:
        factor = ((hi if area > hi else lo) / area) ** 0.5
        width, height = int(width * factor), int(height * factor)
    return model_grid.tokens(*grid_size(height, width, model_grid))


class PromptCounter:
    """Counts a prompt's tokens as the framework's dataset will: the chat text + each image's tokens."""

    def __init__(self, processor: Any, fmt: Format):
        from training.grid import processor_grid

        self.processor = processor
        self.fmt = fmt
        self.grid = processor_grid(processor)

    def __call__(self, item: PromptItem, prompt: Any = None) -> int:
        from specs_eval.core.prompt import render_messages

        prompt = prompt if prompt is not None else item.prompt
        text = self.processor.apply_chat_template(render_messages(prompt), add_generation_prompt=True, tokenize=False)
        tok = getattr(self.processor, "tokenizer", self.processor)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        pads = ids.count(self.processor.image_token_id)
        return len(ids) - pads + sum(framework_image_tokens(im.width, im.height, self.fmt, self.grid)
                                     for im in prompt.images)


def prompt_counter(model: str, fmt: Format, processor_path: str | None = None) -> tuple[PromptCounter | None, str | None]:
    """A prompt-length counter from the model's processor, or (None, why not)."""
    try:
        from specs_eval.models.loading import load_processor, resolve_model

        return PromptCounter(load_processor(resolve_model(processor_path or model)), fmt), None
    except Exception as e:  # offline hub id, no torch: the export still works, without lengths
        return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def length_advice(lengths: list[int], fmt: Format) -> tuple[int, str | None]:
    """(the ``data.max_prompt_length`` to set, a warning when the framework's default is too short)."""
    default = VERL_MAX_PROMPT_LENGTH if fmt == "verl" else EASYR1_MAX_PROMPT_LENGTH
    if not lengths:
        return default, None
    longest = max(lengths)
    need = max(default, -(-longest // 64) * 64)  # rounded up to a multiple of 64
    over = sum(1 for n in lengths if n > default)
    if not over:
        return default, None
    where = "verl's default" if fmt == "verl" else "EasyR1's examples/config.yaml"
    return need, (f"{over} of {len(lengths)} prompts exceed {where} data.max_prompt_length={default} (longest: "
                  f"{longest} tokens); set data.max_prompt_length={need}")


# ---------------------------------------------------------------- the export


def _pool_only(data: DataConfig) -> bool:
    """Whether every source of the data is an RL-pool dataset (which has a held-out split)."""
    from training.data import detect_layout, pool_hub_ids

    if data.hf_id:
        refs = [data.hf_id] if isinstance(data.hf_id, str) else list(data.hf_id)
        known = pool_hub_ids()
        return all(r in known or detect_layout(r) is not None for r in refs)
    return not data.columns and data.benchmark in POOL_BENCHMARKS


def _val_data(config: PipelineConfig, data: DataConfig, val_limit: int) -> DataConfig | None:
    """The validation prompts: the held-out slice of the same RL pool, else the first eval task."""
    if data.split == "train" and _pool_only(data):
        return data.model_copy(update={"split": "heldout", "limit": val_limit})
    if config.eval.tasks and config.eval.tasks[0].splits:
        t = config.eval.tasks[0]
        return DataConfig(benchmark=t.benchmark, split=t.splits[0], path=t.data, limit=min(val_limit, t.limit or val_limit),
                          prompt_variant=t.prompt_variant, seed=config.eval.seed)
    return None


def export_rl(config: PipelineConfig, out: Path, fmt: Format, stage: str = "rl", val_limit: int = 200,
              processor: str | None = None, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write train/val parquet files, ``reward.py``, ``export.json`` and a README into ``out``."""
    from specs_eval.benchmarks import get_benchmark

    out.mkdir(parents=True, exist_ok=True)
    data = config.stage_data(stage)
    if data.free_text == "judge":
        raise ExportError(f"stage {stage}: data.free_text=judge: the exported reward scores by rules only (no judge "
                          "in verl/EasyR1 workers); export with data.free_text=exclude")
    loaded = load_data(data, cache_dir=out / ".data")
    val = _val_data(config, data, val_limit)
    val_items: list[PromptItem] = []
    warnings: list[str] = []
    if val is not None:
        try:
            val_items = load_data(val, cache_dir=out / ".data").items
        except DataError as e:
            warnings.append(f"no validation rows ({e})")
    counter, why_not = prompt_counter(config.base_model, fmt, processor)
    lengths: dict[str, list[int]] = {"train": [], "val": []}
    benches = {name: get_benchmark(name) for name in {i.benchmark for i in [*loaded.items, *val_items]}}

    def records(items: list[PromptItem], split: str) -> Iterable[dict[str, Any]]:
        for i, it in enumerate(items):
            prompt = it.prompt  # built once per row: the record and its length
            rec = item_record(it, i, fmt, benches[it.benchmark], prompt)
            if counter is not None:
                lengths[split].append(counter(it, prompt))
            yield rec

    n_train = write_parquet(records(loaded.items, "train"), out / "train.parquet", fmt)
    n_val = write_parquet(records(val_items, "val"), out / "val.parquet", fmt) if val_items else 0
    all_lengths = lengths["train"] + lengths["val"]
    max_prompt, warning = length_advice(all_lengths, fmt)
    warnings += [warning] if warning else []
    if counter is None:
        warnings.append(f"prompt lengths not counted (processor of {processor or config.base_model} not available: "
                        f"{why_not}); pass --processor FOLDER, or check that data.max_prompt_length covers your "
                        "longest image prompt")
    for w in warnings:
        if log is not None:
            log(f"warning: {w}")
    length_text = (f"longest {max(all_lengths)}, median {sorted(all_lengths)[len(all_lengths) // 2]} tokens"
                   if all_lengths else "not counted")
    usage = (VERL_USAGE if fmt == "verl" else EASYR1_USAGE).format(max_prompt=max_prompt)
    atomic_write_text(out / "reward.py", REWARD_MODULE)
    source = ", ".join(dict.fromkeys(f"{i.benchmark}/{i.split}" for i in loaded.items))
    atomic_write_text(out / "README.md", README.format(
        fmt=fmt, n_train=n_train, n_val=n_val, source=source, variant=data.prompt_variant, usage=usage,
        model=processor or config.base_model, lengths=length_text,
        warnings="".join(f"\n**Warning:** {w}\n" for w in warnings)))
    summary = {"schema_version": 1, "format": fmt, "train": n_train, "val": n_val, "data": loaded.info.model_dump(),
               "data_report": loaded.report, "max_prompt_length": max_prompt,
               "prompt_tokens": {"longest": max(all_lengths) if all_lengths else None, "counted": len(all_lengths)},
               "warnings": warnings}
    atomic_write_json(out / "export.json", summary)
    return summary


@click.command()
@click.option("--format", "fmt", type=click.Choice(["verl", "easyr1"]), required=True)
@click.option("--preset", default="tiny", show_default=True)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--stage", type=click.Choice(["zero-rl", "rl"]), default="rl", show_default=True,
              help="Whose RL data to export.")
@click.option("--processor", help="A local model folder whose processor counts the prompt tokens (default: the "
              "preset's base model).")
@click.option("--out", required=True, type=click.Path(path_type=Path))
def export(fmt, preset, overrides, stage, processor, out) -> None:
    """Export the RL prompts and the reward for verl or EasyR1.

    \b
    Examples:
      specs-train export --format verl --preset qwen2.5-vl-7b --out runs/verl-data
      specs-train export --format easyr1 --preset tiny --set data.hf_id=DOWNLOADS/ViRL39K --out runs/easyr1
    """
    from training.config import load_config, preset_path

    config = load_config(str(preset_path(preset)), list(overrides))
    s = export_rl(config, out, fmt, stage, processor=processor,
                  log=lambda m: click.secho(m, err=True, fg="yellow"))
    click.echo(f"{fmt}: {s['train']} train and {s['val']} val rows, reward.py and README.md in {out}; "
               f"data.max_prompt_length={s['max_prompt_length']}")
