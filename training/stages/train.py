"""The training half of the training stages, run inside each (possibly distributed) worker.

Why one module for GRPO, DPO and SFT: they share everything around the trainer — model
and processor loading, the CPU/GPU precision profile, global → per-device batch maths,
resume from the last complete checkpoint, ``metrics.jsonl``, pre-flight checks, and an
atomic ``model/`` folder. Only the dataset and the trl config differ. Nothing here
decides *whether* to train; ``training.stages.base`` does, in the pipeline's process.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from specs_eval.core.io import read_jsonl
from training.callbacks import METRICS_FILE, grpo_trainer_class, make_metrics_callback, truncate_metrics
from training.config import (
    ColdStartConfig,
    ConfigError,
    GRPOStageConfig,
    PipelineConfig,
    derive_batch,
    trl_kwargs,
)
from training.data import dpo_rows, load_items, sft_rows, to_dataset
from training.manifest import StageError
from training.methods import COLD_START_METHODS
from training.pairs import PairRecord

CHECKPOINTS = "checkpoints"
MODEL_DIR = "model"
PREFLIGHT_EXAMPLES = 4


def world() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment (1 process when not launched)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def last_checkpoint(ckpt_dir: Path, world_size: int | None = None) -> Path | None:
    """The newest *complete* checkpoint: ``trainer_state.json`` (rank 0 writes it last) and the weights, and,
    when it can be told, every rank's RNG state (ranks save theirs without waiting for each other, so a
    kill can leave a checkpoint whose other ranks' files are missing: its resume would not be exact)."""
    if not ckpt_dir.exists():
        return None
    done, exact = [], []
    world_size = world_size or world()[1]
    for p in ckpt_dir.glob("checkpoint-*"):
        try:
            step = int(p.name.split("-")[-1])
        except ValueError:
            continue
        if (p / "trainer_state.json").exists() and any(p.glob("*.safetensors")):
            done.append((step, p))
            rng = [p / "rng_state.pth"] if world_size == 1 else [p / f"rng_state_{r}.pth" for r in range(world_size)]
            if all(f.exists() for f in rng):
                exact.append((step, p))
    if exact:
        return max(exact)[1]
    return max(done)[1] if done else None  # e.g. the process count changed: resumable, not exactly


#: the package each tracker needs (transformers' integrations import them lazily)
TRACKER_PACKAGES = {"wandb": "wandb", "tensorboard": ("tensorboard", "tensorboardX"), "trackio": "trackio",
                    "mlflow": "mlflow", "comet_ml": "comet_ml", "clearml": "clearml", "dvclive": "dvclive",
                    "swanlab": "swanlab"}


def check_trackers(report_to: list[str], stage: str) -> None:
    """Every tracker named in ``report_to`` is installed (none is a dependency of specs-eval)."""
    import importlib.util

    for name in report_to:
        if name == "none":
            continue
        pkgs = TRACKER_PACKAGES.get(name, name)
        pkgs = (pkgs,) if isinstance(pkgs, str) else pkgs
        if not any(importlib.util.find_spec(p) is not None for p in pkgs):
            raise ConfigError(f"stage {stage}: report_to={name} needs the {' or '.join(pkgs)} package, which is not "
                              f"installed (pip install {pkgs[0]}); or set report_to=none")


def common_args(config: PipelineConfig, stage_cfg: Any, stage_dir: Path) -> dict[str, Any]:
    """TrainingArguments shared by every stage: precision profile, saving, logging, seed, and the
    stage's own trl settings (``training.config.TrlField``), passed under their trl names."""
    rt = config.runtime
    cpu = rt.device == "cpu"
    args: dict[str, Any] = {
        "output_dir": str(stage_dir / CHECKPOINTS),
        "use_cpu": cpu,
        "bf16": bool(rt.bf16 and not cpu),
        "gradient_checkpointing": bool(rt.gradient_checkpointing and not cpu),
        "run_name": f"{config.name}/{stage_dir.name}",
        "seed": rt.seed,
        "data_seed": rt.seed,
        **trl_kwargs(stage_cfg),
        "save_strategy": "steps",
        "dataloader_num_workers": 0,
        "ddp_find_unused_parameters": False,  # every parameter (vision tower included) is used each step
        "disable_tqdm": True,
    }
    if args["gradient_checkpointing"]:
        args["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    from transformers import TrainingArguments

    if "activation_checkpointing" in TrainingArguments.__dataclass_fields__:  # transformers >= 5.2x renamed it
        for old, new in (("gradient_checkpointing", "activation_checkpointing"),
                         ("gradient_checkpointing_kwargs", "activation_checkpointing_kwargs")):
            if old in args:
                args[new] = args.pop(old)
    report_to = list(getattr(stage_cfg, "report_to", None) or ["none"])
    args["report_to"] = report_to if report_to != ["none"] else "none"
    if "tensorboard" in report_to:
        import transformers

        if "logging_dir" in transformers.TrainingArguments.__dataclass_fields__:
            args["logging_dir"] = str(stage_dir / "tensorboard")
        else:  # transformers 5 reads the folder from the environment
            os.environ["TENSORBOARD_LOGGING_DIR"] = str(stage_dir / "tensorboard")
    # GRPO stages count max_steps in their steps_unit; trl's max_steps counts optimizer steps
    steps = getattr(stage_cfg, "optimizer_steps", stage_cfg.max_steps)
    if steps and steps > 0:
        args["max_steps"] = steps
    else:
        args["num_train_epochs"] = stage_cfg.num_train_epochs
    return args


def _load(model_ref: str, config: PipelineConfig) -> tuple[Any, Any]:
    import torch

    from specs_eval.models.loading import load_model

    dtype = "bfloat16" if (config.runtime.bf16 and config.runtime.device != "cpu") else "float32"
    model, processor, _ = load_model(model_ref, device="cpu", dtype=dtype)
    model.train()
    if config.runtime.device == "cpu":
        torch.set_num_threads(max(1, (config.runtime.threads or torch.get_num_threads()) // world()[1]))
    return model, processor


def grpo_args(cfg: GRPOStageConfig, config: PipelineConfig, stage: str, stage_dir: Path,
              nproc: int | None = None) -> dict[str, Any]:
    """GRPOConfig keyword arguments for a stage (global batches split over ``nproc`` processes)."""
    nproc = nproc or world()[1]
    per_device, accum = derive_batch(cfg.global_batch_size, nproc, config.runtime.per_device_micro_batch,
                                     f"stage {stage}: global_batch_size")
    if cfg.generation_batch_size % cfg.global_batch_size:
        raise ConfigError(f"stage {stage}: prompts_per_generation × num_generations = {cfg.generation_batch_size} "
                          f"must be a multiple of global_batch_size {cfg.global_batch_size}")
    args = common_args(config, cfg, stage_dir)
    args.update(per_device_train_batch_size=per_device, gradient_accumulation_steps=accum,
                generation_batch_size=cfg.generation_batch_size, remove_unused_columns=False)
    args.update(cfg.trainer_overrides)
    return args


def _grpo_config(cfg: GRPOStageConfig, config: PipelineConfig, stage: str, stage_dir: Path) -> Any:
    from trl import GRPOConfig

    return _make(GRPOConfig, grpo_args(cfg, config, stage, stage_dir), stage)


def _make(cls: type, args: dict[str, Any], stage: str) -> Any:
    try:
        return cls(**args)
    except (TypeError, ValueError) as e:
        raise StageError(stage, f"invalid trainer settings: {e}") from None


def quiet_libraries() -> None:
    """Library chatter off (progress bars, deprecation notices): our own lines say what happens."""
    import warnings

    import transformers
    from huggingface_hub.utils import disable_progress_bars

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(trl|transformers|accelerate|torch)\b.*")
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    disable_progress_bars()
    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:
        pass


def _echo(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _train(trainer: Any, stage: str, stage_dir: Path, keep_optimizer_state: bool = False) -> dict[str, Any]:
    """Train (resuming from the last complete checkpoint), save ``model/`` atomically, then drop the
    resume-only state from the checkpoints unless ``keep_optimizer_state``."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)  # our progress lines replace its dictionary dumps
    trainer.remove_callback(ProgressCallback)
    rank, _ = world()
    ckpt = last_checkpoint(stage_dir / CHECKPOINTS)
    resumed = None
    if ckpt is not None:
        step = int(json.loads((ckpt / "trainer_state.json").read_text())["global_step"])
        if rank == 0:
            truncate_metrics(stage_dir / METRICS_FILE, step)
        resumed = ckpt.name
    elif rank == 0 and (stage_dir / METRICS_FILE).exists():
        (stage_dir / METRICS_FILE).unlink()
    t0 = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    tmp = stage_dir / (MODEL_DIR + ".tmp")
    if rank == 0 and tmp.exists():
        shutil.rmtree(tmp)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp))
    trainer.accelerator.wait_for_everyone()
    if rank == 0:
        final = stage_dir / MODEL_DIR
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    metrics = {k: v for k, v in (out.metrics or {}).items() if isinstance(v, int | float)}
    metrics["global_step"] = int(trainer.state.global_step)
    metrics["train_s"] = round(time.perf_counter() - t0, 3)
    usage = checkpoint_usage(stage_dir)
    if rank == 0 and not keep_optimizer_state:
        usage["optimizer_state_freed_bytes"] = drop_resume_state(stage_dir)
        usage.update({k: v for k, v in checkpoint_usage(stage_dir).items() if k != "kept"})
    return {"metrics": metrics, "resumed_from": resumed, "checkpoints": usage}


#: what only a resume reads: with the stage finished, it is dead weight (2x the weights for Adam)
RESUME_ONLY = ("optimizer.pt", "scheduler.pt", "rng_state*.pth", "optimizer*.bin", "optimizer_*", "global_step*")


def drop_resume_state(stage_dir: Path) -> int:
    """Delete optimizer, scheduler and RNG state from a finished stage's checkpoints; returns bytes freed.

    The weights stay (the GF study evaluates intermediate checkpoints); a finished stage is
    never resumed (its manifest is complete; ``--redo`` starts it over).
    """
    freed = 0
    for ckpt in (stage_dir / CHECKPOINTS).glob("checkpoint-*"):
        for pattern in RESUME_ONLY:
            for f in ckpt.glob(pattern):
                if f.is_dir():
                    freed += _size(f)
                    shutil.rmtree(f)
                elif f.is_file():
                    freed += f.stat().st_size
                    f.unlink()
    return freed


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def checkpoint_usage(stage_dir: Path) -> dict[str, Any]:
    """What the stage's checkpoints and model take on disk (reported in the manifest and the log)."""
    ckpts = sorted((stage_dir / CHECKPOINTS).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1])
                   if p.name.split("-")[-1].isdigit() else -1)
    sizes = {p.name: _size(p) for p in ckpts}
    return {"kept": list(sizes), "bytes": sum(sizes.values()), "largest_bytes": max(sizes.values(), default=0),
            "model_bytes": _size(stage_dir / MODEL_DIR)}


def describe_usage(usage: dict[str, Any]) -> str:
    mb = 2 ** 20
    freed = usage.get("optimizer_state_freed_bytes")
    return (f"{len(usage['kept'])} checkpoint(s) kept, {usage['bytes'] / mb:.1f} MB "
            f"(largest {usage['largest_bytes'] / mb:.1f} MB), model {usage['model_bytes'] / mb:.1f} MB"
            + (f"; {freed / mb:.1f} MB of optimizer/RNG state dropped (stage finished)" if freed else ""))


def _trainer_config(args: Any) -> dict[str, Any]:
    """The resolved trl config for the manifest (JSON-able values, no machine paths)."""
    d = args.to_dict()
    out = {}
    for k, v in d.items():
        if k in ("output_dir", "logging_dir") or k.startswith("hub_") or k.startswith("push_to_hub"):
            continue
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            v = str(v)
        out[k] = v
    return out


def summarize_metrics(stage_dir: Path) -> dict[str, Any]:
    """First and last values of the main logged series (for the manifest and the summary)."""
    rows = list(read_jsonl(stage_dir / METRICS_FILE))
    steps = [r for r in rows if "loss" in r or "reward" in r]
    if not steps:
        return {}
    keys = ["loss", "reward", "rewards/format_reward/mean", "rewards/accuracy_reward/mean", "frac_reward_zero_std",
            "groups/all_correct_rate", "groups/all_wrong_rate", "entropy", "completions/mean_length",
            "completions/clipped_ratio", "clip_ratio/region_mean", "clip_ratio/low_mean", "clip_ratio/high_mean",
            "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
            "logps/chosen", "logps/rejected", "mean_token_accuracy"]
    out: dict[str, Any] = {"logged_steps": len(steps)}
    for k in keys:
        vals = [r[k] for r in steps if r.get(k) is not None]
        if vals:
            out[k] = {"first": vals[0], "last": vals[-1]}
            if k.startswith("clip_ratio/"):  # 0 on each rollout's first (on-policy) step: the mean says more
                out[k]["mean"] = sum(vals) / len(vals)
    return out


def grpo_units(cfg: GRPOStageConfig, pool_rows: int | None = None) -> dict[str, Any]:
    """Both step units of a GRPO stage, the prompts it sees and its epochs over ``pool_rows`` prompts."""
    out: dict[str, Any] = {"steps_unit": cfg.steps_unit, "max_steps": cfg.max_steps,
                           "optimizer_steps": cfg.optimizer_steps, "rollout_steps": cfg.rollout_steps,
                           "optimizer_steps_per_rollout": cfg.optimizer_steps_per_rollout,
                           "prompts_per_rollout": cfg.prompts_per_generation,
                           "completions_per_rollout": cfg.generation_batch_size,
                           "completions_per_optimizer_step": cfg.global_batch_size}
    if cfg.max_steps > 0:
        out["prompts_seen"] = cfg.prompts_seen
        out["completions_seen"] = cfg.rollout_steps * cfg.generation_batch_size
        if pool_rows:
            out["pool_prompts"] = pool_rows
            out["epochs_over_pool"] = cfg.prompts_seen / pool_rows
    return out


def _has_images(items: list[Any]) -> bool:
    """Whether any prompt has an image (RL-pool rows record their image sizes; others: the first prompt)."""
    if all("image_sizes" in i.row for i in items):
        return any(i.row["image_sizes"] for i in items)
    return bool(items[0].prompt.images)


def train_grpo(stage: str, stage_dir: Path, config: PipelineConfig, inputs: dict[str, str]) -> dict[str, Any]:
    from specs_eval.models.loading import resolve_model
    from training import grid, preflight
    from training.data import grpo_dataset, load_data
    from training.rewards import AccuracyReward, format_reward

    cfg: GRPOStageConfig = config.stage_config(stage)  # type: ignore[assignment]
    check_trackers(cfg.report_to, stage)
    args = _grpo_config(cfg, config, stage, stage_dir)
    loaded = load_data(config.stage_data(stage), cache_dir=stage_dir.parent / ".data")
    items, info = loaded.items, loaded.info
    model, processor = _load(inputs["model"], config)
    preflight.check_chat_template(processor, stage, inputs["model"])
    preflight.check_token_ids(processor, model.config, stage, inputs["model"])
    has_images = _has_images(items)
    guard = grid.check_vllm_guard(stage, cfg.use_vllm, cfg.vllm_mode, has_images, processor, cfg.vllm_guard, _echo)
    spec = None
    if has_images and grid.resolve_snap(cfg.snap_images, cfg.use_vllm):
        spec = grid.processor_grid(processor)
        own = grid.checkpoint_grid(resolve_model(inputs["model"]))
        spec = spec.intersect(own) if own is not None else spec
    dataset = grpo_dataset(items, spec)
    examples = [dataset[i] for i in range(min(PREFLIGHT_EXAMPLES, len(dataset)))]
    pf = preflight.check_grpo_prompts(processor, model.config, examples, stage, cfg.max_completion_length,
                                      cfg.vllm_max_model_length)
    pf.update(guard)
    if cfg.use_vllm and has_images:
        own = grid.checkpoint_grid(resolve_model(inputs["model"])) or grid.processor_grid(processor)
        pf.update(grid.vllm_prompt_preflight(processor, examples, own, stage))
    pf["images_snapped_to"] = list(vars(spec).values()) if spec is not None else None
    judge = None
    if cfg.reward_judge.enabled:
        from training.reward_judge import make_reward_judge

        judge = make_reward_judge(cfg.reward_judge, stage_dir / "judge_cache", stage)
    accuracy = AccuracyReward(judge=judge, detection_iou=cfg.detection_iou)
    trainer_cls = grpo_trainer_class()
    trainer = trainer_cls(model=model, processing_class=processor, reward_funcs=[format_reward, accuracy],
                          args=args, train_dataset=dataset,
                          callbacks=[make_metrics_callback(stage_dir / METRICS_FILE, stage, _echo)])
    result = _train(trainer, stage, stage_dir, cfg.keep_optimizer_state)
    _echo(f"{stage}: {describe_usage(result['checkpoints'])}")
    units = grpo_units(cfg, len(items))
    units["optimizer_steps_done"] = result["metrics"]["global_step"]
    units["rollout_steps_done"] = result["metrics"]["global_step"] / cfg.optimizer_steps_per_rollout
    result.update(trainer_config=_trainer_config(args), preflight=pf, data=info.model_dump(),
                  data_report=loaded.report, units=units,
                  batch={"per_device": args.per_device_train_batch_size,
                         "gradient_accumulation_steps": args.gradient_accumulation_steps,
                         "processes": world()[1], "generation_batch_size": args.generation_batch_size})
    if judge is not None:
        result["reward_judge"] = {"judge_id": judge.judge_id, **judge.totals,
                                  **cfg.reward_judge.model_dump(exclude={"api_key_env"})}
    return result


def load_pairs(path: Path, stage: str) -> list[PairRecord]:
    if not path.exists():
        raise StageError(stage, f"no preference pairs at {path}; run the distill stage first (or pass --pairs)")
    try:
        pairs = [PairRecord.model_validate(r) for r in read_jsonl(path)]
    except ValueError as e:
        raise StageError(stage, f"malformed pairs file {path}: {str(e).splitlines()[0]}") from None
    if not pairs:
        raise StageError(stage, f"{path} holds zero preference pairs; the distill stage's filters kept none "
                         "(sample more: distill.samples_per_prompt, data.limit)")
    return pairs


def cold_start_args(cfg: ColdStartConfig, config: PipelineConfig, stage_dir: Path, nproc: int | None = None
                    ) -> dict[str, Any]:
    """SFTConfig (method ``sft``) or DPOConfig keyword arguments for the cold start.

    ``dpo+sft`` is trl's ``loss_type=["sigmoid", "sft"]`` with ``loss_weights=[1, λ]``
    (λ = 0 is plain DPO). A DPO forward holds chosen and rejected, so half the micro batch.
    """
    nproc = nproc or world()[1]
    method = COLD_START_METHODS[cfg.method]
    micro = config.runtime.per_device_micro_batch
    if method.trainer == "dpo":
        micro = max(1, micro // 2)
    per_device, accum = derive_batch(cfg.global_batch_size, nproc, micro, "stage cold-start: global_batch_size")
    args = {**common_args(config, cfg, stage_dir), "per_device_train_batch_size": per_device,
            "gradient_accumulation_steps": accum, "max_length": cfg.max_length, **method.trainer_args(cfg)}
    args.update(cfg.trainer_overrides)
    return args


def train_cold_start(stage: str, stage_dir: Path, config: PipelineConfig, inputs: dict[str, str]) -> dict[str, Any]:
    from training import preflight
    from training.config import DataConfig

    cfg: ColdStartConfig = config.cold_start
    check_trackers(cfg.report_to, stage)
    pairs_path = Path(inputs["pairs"])
    pairs = load_pairs(pairs_path, stage)
    data_file = pairs_path.parent / "pairs_data.json"
    data = (DataConfig.model_validate(json.loads(data_file.read_text())) if data_file.exists()
            else config.stage_data("distill"))
    wanted = {p.id for p in pairs}
    items, info = load_items(data, cache_dir=stage_dir.parent / ".data")
    by_id = {i.id: i for i in items if i.id in wanted}
    missing = sorted(wanted - set(by_id))
    if missing:
        raise StageError(stage, f"{len(missing)} pair prompt(s) (e.g. {missing[0]}) are not in the data "
                         f"{data.benchmark}/{data.split}; the pairs were built from other data")
    drift = [p.id for p in pairs if p.prompt_hash and p.prompt_hash != by_id[p.id].prompt_hash]
    if drift:
        raise StageError(stage, f"{len(drift)} pair prompt(s) (e.g. {drift[0]}) differ from the prompts the pairs "
                         "were sampled with (data or prompt changed); rerun distill")
    model, processor = _load(inputs["model"], config)
    preflight.check_chat_template(processor, stage, inputs["model"])
    preflight.check_token_ids(processor, model.config, stage, inputs["model"])
    callbacks = [make_metrics_callback(stage_dir / METRICS_FILE, stage, _echo)]
    args_dict = cold_start_args(cfg, config, stage_dir)
    if COLD_START_METHODS[cfg.method].trainer == "sft":
        from trl import SFTConfig, SFTTrainer

        from training.exact_resume import resumable

        args = _make(SFTConfig, args_dict, stage)
        dataset = to_dataset(sft_rows(pairs, by_id))
        trainer = resumable(SFTTrainer)(model=model, processing_class=processor, args=args, train_dataset=dataset,
                             callbacks=callbacks)
        what = f"{min(PREFLIGHT_EXAMPLES, len(dataset))} SFT examples"
    else:
        from trl import DPOConfig, DPOTrainer

        from training.exact_resume import resumable

        args = _make(DPOConfig, args_dict, stage)
        dataset = to_dataset(dpo_rows(pairs, by_id))
        trainer = resumable(DPOTrainer)(model=model, processing_class=processor, args=args, train_dataset=dataset,
                             callbacks=callbacks)
        what = f"{min(PREFLIGHT_EXAMPLES, len(dataset))} preference pairs"
    per_device, accum, nproc = args.per_device_train_batch_size, args.gradient_accumulation_steps, world()[1]
    examples = [dataset[i] for i in range(min(PREFLIGHT_EXAMPLES, len(dataset)))]
    pf = preflight.check_collated(trainer.data_collator, examples, processor, model.config, stage, cfg.max_length, what)
    result = _train(trainer, stage, stage_dir, cfg.keep_optimizer_state)
    _echo(f"{stage}: {describe_usage(result['checkpoints'])}")
    result.update(trainer_config=_trainer_config(args), preflight=pf, data=info.model_dump(),
                  examples=len(dataset), pairs=len(pairs),
                  batch={"per_device": per_device, "gradient_accumulation_steps": accum, "processes": nproc})
    return result
