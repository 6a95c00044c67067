"""Per-step training metrics written to the stage directory, plus GRPO group statistics.

Why our own file and not only a tracker: the stuckness analysis (zero-variance groups,
entropy, clipped completions, DPO margins) must be computable offline from the run
directory, years later, without wandb. ``metrics.jsonl`` gets one JSON object per
logged step: ``{"schema_version", "stage", "step", …}`` with trl's keys as trl logs them.

GRPO's ``frac_reward_zero_std`` says how many groups carry no learning signal but not
why. ``group_stats`` splits zero-variance groups into all-correct (too easy) and
all-wrong (too hard) using the accuracy reward, from the rewards gathered over all
processes (so every rank computes the same numbers).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from specs_eval.core.io import atomic_write_text, read_jsonl

METRICS_FILE = "metrics.jsonl"
METRICS_SCHEMA_VERSION = 1


def group_stats(rewards: Any, num_generations: int, accuracy_index: int | None, weights: Any = None
                ) -> dict[str, float]:
    """Group statistics of a (completions × reward functions) tensor, groups of ``num_generations`` rows.

    * ``groups/zero_variance_rate``: share of groups whose weighted total reward is constant;
    * ``groups/all_correct_rate`` / ``groups/all_wrong_rate``: share of groups that are
      zero-variance and all correct / all wrong by the accuracy reward (with format 0.5 and
      accuracy 1.0 the total determines both, so these two add up to the zero-variance rate);
    * ``groups/n``: number of groups.
    """
    import torch

    r = torch.nan_to_num(rewards.float(), nan=0.0)
    w = torch.ones(r.shape[1], device=r.device) if weights is None else weights.to(r.device).float()
    total = (r * w.unsqueeze(0)).sum(dim=1).view(-1, num_generations)
    n = total.shape[0]
    if n == 0:
        return {"groups/n": 0.0}
    zero_var = (total.max(dim=1).values - total.min(dim=1).values).abs() < 1e-6
    out = {"groups/n": float(n), "groups/zero_variance_rate": zero_var.float().mean().item()}
    if accuracy_index is not None:
        acc = r[:, accuracy_index].view(-1, num_generations)
        all_correct = (acc > 0).all(dim=1) & zero_var
        all_wrong = (acc <= 0).all(dim=1) & zero_var
        out["groups/all_correct_rate"] = all_correct.float().mean().item()
        out["groups/all_wrong_rate"] = all_wrong.float().mean().item()
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        return _jsonable(v.item())
    return v


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop lines logged after ``last_step`` (a resumed stage re-logs them from its checkpoint)."""
    if not path.exists():
        return
    keep = [r for r in read_jsonl(path, repair=True) if int(r.get("step", 0)) <= last_step]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in keep))


# the series a progress line shows, with short labels
PROGRESS_KEYS = (("loss", "loss"), ("reward", "reward"), ("rewards/format_reward/mean", "format"),
                 ("rewards/accuracy_reward/mean", "acc"), ("frac_reward_zero_std", "zero-std"),
                 ("completions/mean_length", "len"), ("rewards/margins", "margin"), ("rewards/chosen", "r+"),
                 ("rewards/rejected", "r-"), ("mean_token_accuracy", "tok-acc"))


def progress_line(stage: str, step: int, max_steps: int, logs: dict[str, Any]) -> str:
    parts = [f"{label} {logs[k]:.3g}" for k, label in PROGRESS_KEYS if isinstance(logs.get(k), int | float)]
    return f"{stage} step {step}/{max_steps}: " + ", ".join(parts)


def make_metrics_callback(path: Path, stage: str, echo: Any = None) -> Any:
    """A ``TrainerCallback`` appending every ``on_log`` to ``path`` (main process only).

    ``echo`` (a ``str -> None``) also gets a one-line summary about ten times per stage,
    in place of the Trainer's dictionary dumps.
    """
    from transformers import TrainerCallback

    class MetricsJsonl(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if not state.is_world_process_zero or not logs:
                return
            every = max(1, (state.max_steps or 10) // 10)
            if echo is not None and any(k in logs for k, _ in PROGRESS_KEYS) and (
                    state.global_step % every == 0 or state.global_step == state.max_steps):
                echo(progress_line(stage, state.global_step, state.max_steps, logs))
            record = {"schema_version": METRICS_SCHEMA_VERSION, "stage": stage, "step": int(state.global_step),
                      "epoch": _jsonable(state.epoch)}
            record.update({k: _jsonable(v) for k, v in logs.items() if isinstance(v, int | float | bool)
                           or hasattr(v, "item")})
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
                os.fsync(f.fileno())

    return MetricsJsonl()


def grpo_trainer_class() -> type:
    """``GRPOTrainer`` that also logs ``groups/*`` statistics every generation batch."""
    from trl import GRPOTrainer

    from training.exact_resume import epoch_repeat_sampler_class, restore_step_callback, resumable

    sampler_cls = epoch_repeat_sampler_class()

    class SpecsGRPOTrainer(resumable(GRPOTrainer)):  # type: ignore[misc]
        """Also: exact resume (``training.exact_resume``): an epoch-aware sampler and the micro-step counter."""

        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            self.add_callback(restore_step_callback(self))

        def _get_train_sampler(self, dataset=None):  # type: ignore[no-untyped-def,override]
            sampler = super()._get_train_sampler(dataset)
            if type(sampler).__name__ != "RepeatSampler":
                return sampler
            return sampler_cls(data_source=sampler.data_source, mini_repeat_count=sampler.mini_repeat_count,
                               batch_size=sampler.batch_size, repeat_count=sampler.repeat_count,
                               shuffle=sampler.shuffle, seed=sampler.seed)

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[override]
            rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            mode = "train" if self.model.training else "eval"
            names = list(self.reward_func_names)
            acc = names.index("accuracy_reward") if "accuracy_reward" in names else None
            stats = group_stats(rewards, self.num_generations if mode == "train" else self.num_generations_eval,
                                acc, self.reward_weights)
            for k, v in stats.items():
                self._metrics[mode][k].append(v)
            return rewards

    return SpecsGRPOTrainer
