"""What a resume needs beyond what the HF Trainer restores, so resumed weights equal uninterrupted ones.

The Trainer's checkpoint restores optimizer, scheduler, the RNG states (python, numpy, torch)
and skips the batches already trained in the current epoch. Three things were missing
(measured on the micro model: killed after a checkpoint, the resumed run diverged at the next
step):

* **the weights** (every trainer). ``Trainer._load_from_checkpoint`` loads ``model.safetensors``
  with a non-strict ``load_state_dict``. transformers 5 saves Qwen2.5-VL under its legacy key
  names (``model.layers.*``, ``visual.*``) and keeps the new ones in memory
  (``model.language_model.*``, ``model.visual.*``), so *no* key matched and the resumed run
  silently continued from the base weights with the checkpoint's optimizer state.
  ``resumable(TrainerClass)`` loads the checkpoint through ``from_pretrained`` (which converts
  the names) and copies it in with a strict ``load_state_dict``: every tensor or an error.

* **data order across epochs.** ``RepeatSampler`` shuffles with its own generator, seeded once
  when the dataloader is built and advanced by every epoch. A resumed run builds a fresh
  sampler, so epoch ``e`` got epoch 0's order. ``EpochRepeatSampler`` takes the epoch from
  ``set_epoch`` (which the Trainer calls before every epoch, resumed or not) and replays its
  generator to that epoch: the uninterrupted order is unchanged, a resumed one matches it.
* **the micro-step counter** ``_step``, which decides when completions are generated and which
  slice of the buffered generation batch a micro-step uses. It restarts at 0 on resume; it is set
  back to ``global_step × gradient_accumulation_steps``. A checkpoint in the middle of a
  generation block (``num_iterations > 1`` or ``steps_per_generation`` larger than the
  accumulation) cannot be resumed exactly, because the buffered completions are not saved:
  that is logged as a warning.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def load_checkpoint_weights(model: Any, checkpoint: str) -> None:
    """Copy a checkpoint's weights into ``model`` exactly: ``from_pretrained`` (key conversion), strict load."""
    import torch

    target = getattr(model, "module", model)
    dtype = next(target.parameters()).dtype
    loaded = type(target).from_pretrained(checkpoint, dtype=dtype)
    with torch.no_grad():
        target.load_state_dict(loaded.state_dict(), strict=True)
    del loaded


def resumable(trainer_cls: type) -> type:
    """``trainer_cls`` whose resume loads the checkpoint's weights exactly (see the module docstring)."""

    class Resumable(trainer_cls):  # type: ignore[misc,valid-type]
        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):  # type: ignore[no-untyped-def]
            target = model if model is not None else self.model
            if hasattr(target, "peft_config") or self.is_deepspeed_enabled or self.is_fsdp_enabled:
                return super()._load_from_checkpoint(resume_from_checkpoint, model)
            logger.info("loading the weights of %s", resume_from_checkpoint)
            load_checkpoint_weights(target, resume_from_checkpoint)
            return None

    Resumable.__name__ = Resumable.__qualname__ = trainer_cls.__name__
    return Resumable


def epoch_repeat_sampler_class() -> type:
    """trl's ``RepeatSampler`` with ``set_epoch`` (see the module docstring)."""
    import torch
    from trl.trainer.utils import RepeatSampler

    class EpochRepeatSampler(RepeatSampler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.epoch: int | None = None
            self._iterations = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)

        def __iter__(self):  # type: ignore[no-untyped-def]
            epoch = self.epoch if self.epoch is not None else self._iterations
            self._iterations += 1
            self.epoch = None  # a later epoch without set_epoch counts on from here
            self._iterations = max(self._iterations, epoch + 1)
            if self.shuffle and self.seed is not None:
                self.generator.manual_seed(self.seed)
                for _ in range(epoch):  # the draws earlier epochs made
                    torch.randperm(self.num_samples, generator=self.generator)
            return super().__iter__()

    return EpochRepeatSampler


def restore_step_callback(trainer: Any) -> Any:
    """A callback that sets GRPO's micro-step counter after the Trainer loaded a checkpoint's state."""
    from transformers import TrainerCallback

    class RestoreGRPOStep(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            micro = int(state.global_step) * int(args.gradient_accumulation_steps)
            generate_every = int(args.steps_per_generation) * int(getattr(trainer, "num_iterations", 1))
            if micro and micro % generate_every:
                logger.warning("resuming at global step %d, inside a generation block of %d micro-steps: the "
                               "completions buffered before the checkpoint are generated again, so this resume is "
                               "not exact (save at multiples of %d steps)", state.global_step, generate_every,
                               generate_every // max(1, int(args.gradient_accumulation_steps)))
            trainer._step = micro

    return RestoreGRPOStep()
