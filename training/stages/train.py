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

from specs_eval.io import read_jsonl
from training.callbacks import METRICS_FILE, grpo_trainer_class, make_metrics_callback, truncate_metrics
from training.config import ColdStartConfig, ConfigError, GRPOStageConfig, PipelineConfig, derive_batch
from training.data import dpo_rows, grpo_rows, load_items, sft_rows, to_dataset
from training.manifest import StageError
from training.pairs import PairRecord

CHECKPOINTS = "checkpoints"
MODEL_DIR = "model"
PREFLIGHT_EXAMPLES = 4


def world() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment (1 process when not launched)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def last_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest *complete* checkpoint (``trainer_state.json`` is written last by the Trainer)."""
    if not ckpt_dir.exists():
        return None
    done = []
    for p in ckpt_dir.glob("checkpoint-*"):
        try:
            step = int(p.name.split("-")[-1])
        except ValueError:
            continue
        if (p / "trainer_state.json").exists() and any(p.glob("*.safetensors")):
            done.append((step, p))
    return max(done)[1] if done else None


def common_args(config: PipelineConfig, stage_cfg: Any, stage_dir: Path) -> dict[str, Any]:
    """TrainingArguments shared by every stage: precision profile, saving, logging, seed."""
    rt = config.runtime
    cpu = rt.device == "cpu"
    args: dict[str, Any] = {
        "output_dir": str(stage_dir / CHECKPOINTS),
        "use_cpu": cpu,
        "bf16": bool(rt.bf16 and not cpu),
        "gradient_checkpointing": bool(rt.gradient_checkpointing and not cpu),
        "report_to": "none",
        "seed": rt.seed,
        "data_seed": rt.seed,
        "learning_rate": stage_cfg.learning_rate,
        "lr_scheduler_type": stage_cfg.lr_scheduler_type,
        "warmup_steps": stage_cfg.warmup_steps,
        "weight_decay": stage_cfg.weight_decay,
        "max_grad_norm": stage_cfg.max_grad_norm,
        "logging_steps": stage_cfg.logging_steps,
        "save_strategy": "steps",
        "save_steps": stage_cfg.save_steps,
        "save_total_limit": stage_cfg.save_total_limit,
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
    if stage_cfg.max_steps and stage_cfg.max_steps > 0:
        args["max_steps"] = stage_cfg.max_steps
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
    args.update(
        per_device_train_batch_size=per_device, gradient_accumulation_steps=accum,
        generation_batch_size=cfg.generation_batch_size, num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length, temperature=cfg.temperature, top_p=cfg.top_p,
        epsilon=cfg.epsilon, epsilon_high=cfg.epsilon_high, beta=cfg.beta, loss_type=cfg.loss_type,
        scale_rewards=cfg.scale_rewards, mask_truncated_completions=cfg.mask_truncated_completions,
        reward_weights=list(cfg.reward_weights), remove_unused_columns=False,
        use_vllm=cfg.use_vllm, vllm_mode=cfg.vllm_mode,
        vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
        vllm_tensor_parallel_size=cfg.vllm_tensor_parallel_size, vllm_enable_sleep_mode=cfg.vllm_enable_sleep_mode,
        vllm_server_timeout=cfg.vllm_server_timeout,
    )
    if cfg.vllm_server_base_url:
        args["vllm_server_base_url"] = cfg.vllm_server_base_url
    if cfg.vllm_max_model_length:
        args["vllm_max_model_length"] = cfg.vllm_max_model_length
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


def _train(trainer: Any, stage: str, stage_dir: Path) -> dict[str, Any]:
    """Train (resuming from the last complete checkpoint) and save ``model/`` atomically."""
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
    return {"metrics": metrics, "resumed_from": resumed}


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


def train_grpo(stage: str, stage_dir: Path, config: PipelineConfig, inputs: dict[str, str]) -> dict[str, Any]:
    from specs_eval.scoring.rewards import accuracy_reward, format_reward
    from training import preflight

    cfg: GRPOStageConfig = config.stage_config(stage)  # type: ignore[assignment]
    args = _grpo_config(cfg, config, stage, stage_dir)
    items, info = load_items(config.stage_data(stage), cache_dir=stage_dir.parent / ".data")
    dataset = to_dataset(grpo_rows(items))
    model, processor = _load(inputs["model"], config)
    preflight.check_chat_template(processor, stage, inputs["model"])
    preflight.check_token_ids(processor, model.config, stage, inputs["model"])
    pf = preflight.check_grpo_prompts(processor, model.config, [dataset[i] for i in range(min(PREFLIGHT_EXAMPLES,
                                      len(dataset)))], stage, cfg.max_completion_length, cfg.vllm_max_model_length)
    trainer_cls = grpo_trainer_class()
    trainer = trainer_cls(model=model, processing_class=processor, reward_funcs=[format_reward, accuracy_reward],
                          args=args, train_dataset=dataset,
                          callbacks=[make_metrics_callback(stage_dir / METRICS_FILE, stage, _echo)])
    result = _train(trainer, stage, stage_dir)
    result.update(trainer_config=_trainer_config(args), preflight=pf, data=info.model_dump(),
                  batch={"per_device": args.per_device_train_batch_size,
                         "gradient_accumulation_steps": args.gradient_accumulation_steps,
                         "processes": world()[1], "generation_batch_size": args.generation_batch_size})
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
    micro = config.runtime.per_device_micro_batch
    if cfg.method != "sft":
        micro = max(1, micro // 2)
    per_device, accum = derive_batch(cfg.global_batch_size, nproc, micro, "stage cold-start: global_batch_size")
    args = {**common_args(config, cfg, stage_dir), "per_device_train_batch_size": per_device,
            "gradient_accumulation_steps": accum, "max_length": cfg.max_length}
    if cfg.method != "sft":
        losses, weights = (["sigmoid", "sft"], [1.0, cfg.sft_weight]) if (
            cfg.method == "dpo+sft" and cfg.sft_weight > 0) else (["sigmoid"], [1.0])
        args.update(beta=cfg.beta, loss_type=losses, loss_weights=weights)
    args.update(cfg.trainer_overrides)
    return args


def train_cold_start(stage: str, stage_dir: Path, config: PipelineConfig, inputs: dict[str, str]) -> dict[str, Any]:
    from training import preflight
    from training.config import DataConfig

    cfg: ColdStartConfig = config.cold_start
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
    if cfg.method == "sft":
        from trl import SFTConfig, SFTTrainer

        args = _make(SFTConfig, args_dict, stage)
        dataset = to_dataset(sft_rows(pairs, by_id))
        trainer = SFTTrainer(model=model, processing_class=processor, args=args, train_dataset=dataset,
                             callbacks=callbacks)
        what = f"{min(PREFLIGHT_EXAMPLES, len(dataset))} SFT examples"
    else:
        from trl import DPOConfig, DPOTrainer

        args = _make(DPOConfig, args_dict, stage)
        dataset = to_dataset(dpo_rows(pairs, by_id))
        trainer = DPOTrainer(model=model, processing_class=processor, args=args, train_dataset=dataset,
                             callbacks=callbacks)
        what = f"{min(PREFLIGHT_EXAMPLES, len(dataset))} preference pairs"
    per_device, accum, nproc = args.per_device_train_batch_size, args.gradient_accumulation_steps, world()[1]
    examples = [dataset[i] for i in range(min(PREFLIGHT_EXAMPLES, len(dataset)))]
    pf = preflight.check_collated(trainer.data_collator, examples, processor, model.config, stage, cfg.max_length, what)
    result = _train(trainer, stage, stage_dir)
    result.update(trainer_config=_trainer_config(args), preflight=pf, data=info.model_dump(),
                  examples=len(dataset), pairs=len(pairs),
                  batch={"per_device": per_device, "gradient_accumulation_steps": accum, "processes": nproc})
    return result
