"""RL step units: rollout vs optimizer steps named in the config, converted for trl, shown by `specs-train config`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from training.cli import cli
from training.config import ConfigError, GRPOStageConfig, load_config
from training.stages.train import grpo_args, grpo_units


def test_both_units_from_the_batch_shape():
    c = GRPOStageConfig(max_steps=800, steps_unit="rollout", prompts_per_generation=128, num_generations=8,
                        global_batch_size=128)
    assert (c.optimizer_steps_per_rollout, c.optimizer_steps, c.rollout_steps) == (8, 6400, 800)
    assert c.prompts_seen == 102_400
    o = c.model_copy(update={"steps_unit": "optimizer"})
    assert (o.optimizer_steps, o.rollout_steps, o.prompts_seen) == (800, 100, 12_800)
    mu = c.model_copy(update={"num_iterations": 2})  # each generation batch is used twice
    assert (mu.optimizer_steps_per_rollout, mu.optimizer_steps) == (16, 12_800)
    u = grpo_units(c, pool_rows=86_570)
    assert u["epochs_over_pool"] == pytest.approx(102_400 / 86_570)
    assert u["completions_seen"] == 819_200
    assert GRPOStageConfig(max_steps=-1).optimizer_steps == -1  # epochs decide


def test_trl_gets_optimizer_steps(tmp_path):
    c = load_config("qwen2.5-vl-7b")
    assert (c.rl.steps_unit, c.rl.max_steps) == ("rollout", 800)
    assert grpo_args(c.rl, c, "rl", tmp_path, nproc=8)["max_steps"] == 6400
    other = load_config("qwen2.5-vl-7b", ["rl.steps_unit=optimizer"])  # the other reading: one override
    assert grpo_args(other.rl, other, "rl", tmp_path, nproc=8)["max_steps"] == 800
    tiny = load_config("tiny")
    # tiny: 8 prompts x 8 rollouts = 64 completions, 16 per optimizer step -> 4 optimizer steps per rollout
    assert tiny.rl.optimizer_steps_per_rollout == 4 and grpo_args(tiny.rl, tiny, "rl", tmp_path, 1)["max_steps"] == 160
    with pytest.raises(ConfigError, match="steps_unit"):
        load_config("tiny", ["rl.steps_unit=epochs"])


def test_specs_train_config_prints_units_prompts_epochs_and_the_other_reading():
    out = CliRunner().invoke(cli, ["config", "--preset", "qwen2.5-vl-7b"])
    assert out.exit_code == 0, out.output
    text = out.output
    assert "800 rollout steps (steps_unit: rollout) = 6,400 optimizer steps (trl max_steps)" in text
    assert "128 prompts × 8 = 1024 completions = 8 optimizer step(s) of 128" in text
    assert "prompts seen: 102,400 (819,200 completions); 1.18 epochs over the pool of ≈86,570" in text
    assert "other reading: --set rl.steps_unit=optimizer → 800 optimizer steps, 12,800 prompts, 0.148 epochs" in text
    assert "25 rollout steps (steps_unit: rollout) = 200 optimizer steps" in text  # zero-RL
    tiny = CliRunner().invoke(cli, ["config", "--preset", "tiny"]).output
    assert "160 optimizer steps (steps_unit: optimizer) = 40 rollout steps" in tiny
    assert "each rollout step: 8 prompts × 8 = 64 completions = 4 optimizer step(s) of 16" in tiny
    assert "0.625 epochs over the pool of data.limit = 512" in tiny
    assert "other reading: --set rl.steps_unit=rollout → 640 optimizer steps, 1,280 prompts, 2.5 epochs" in tiny
