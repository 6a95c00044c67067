"""Presets, overrides, batch maths and launch profiles (no model)."""

from __future__ import annotations

import pytest

from training.config import ConfigError, derive_batch, list_presets, load_config
from training.launch import accelerate_command, list_profiles, resolve_profile


def test_presets_load_and_the_paper_preset_has_the_papers_values():
    assert {"tiny", "qwen2.5-vl-7b"} <= set(list_presets())
    tiny = load_config("tiny")
    assert tiny.runtime.device == "cpu" and not tiny.runtime.bf16 and not tiny.runtime.gradient_checkpointing
    p = load_config("qwen2.5-vl-7b")
    assert p.base_model == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert (p.cold_start.method, p.cold_start.sft_weight, p.cold_start.global_batch_size) == ("dpo+sft", 1.0, 64)
    assert (p.cold_start.learning_rate, p.cold_start.max_length) == (1e-6, 16384)
    for g in (p.zero_rl, p.rl):
        assert (g.prompts_per_generation, g.num_generations, g.global_batch_size) == (128, 8, 128)
        assert (g.learning_rate, g.max_completion_length, g.beta) == (1e-6, 10240, 0.0)
        assert g.epsilon_high > g.epsilon and g.use_vllm and g.loss_type == "dapo"
    assert p.rl.max_steps == 800 and p.runtime.bf16 and p.runtime.gradient_checkpointing
    assert set(p.data.hf_id) == {"One-RL-to-See-Them-All/Orsta-Data-47k", "TIGER-Lab/ViRL39K"}


def test_overrides_are_typed_and_unknown_keys_fail_with_a_hint():
    c = load_config("tiny", ["cold_start.method=sft", "rl.max_steps=7", "eval.after=[base, rl]",
                             "distill.judge.enabled=false"])
    assert c.cold_start.method == "sft" and c.rl.max_steps == 7 and c.eval.after == ["base", "rl"]
    with pytest.raises(ConfigError, match=r"unknown key 'cold_start.sft_wieght' \(did you mean 'cold_start.sft_weight'"):
        load_config("tiny", ["cold_start.sft_wieght=1"])
    with pytest.raises(ConfigError, match=r"cold_start\.method"):
        load_config("tiny", ["cold_start.method=ppo"])
    with pytest.raises(ConfigError, match=r"epsilon_high"):
        load_config("tiny", ["rl.epsilon_high=0.1"])
    with pytest.raises(ConfigError, match=r"key\.path=value"):
        load_config("tiny", ["rl.max_steps"])
    with pytest.raises(ConfigError, match=r"unknown preset 'tinny'.*did you mean 'tiny'"):
        load_config("tinny")
    with pytest.raises(ConfigError, match=r"judge\.base_url"):
        load_config("tiny", ["distill.judge.enabled=true"])


@pytest.mark.parametrize("global_batch", [1, 6, 16, 64, 96, 128])
@pytest.mark.parametrize("procs", [1, 2, 8])
@pytest.mark.parametrize("micro", [1, 4, 32])
def test_derive_batch_keeps_the_global_batch(global_batch, procs, micro):
    if global_batch % procs:
        with pytest.raises(ConfigError, match="not divisible"):
            derive_batch(global_batch, procs, micro)
        return
    per_device, accum = derive_batch(global_batch, procs, micro)
    assert per_device * procs * accum == global_batch
    assert 1 <= per_device <= micro


def test_stage_hash_changes_with_the_stage_config_only():
    a = load_config("tiny")
    b = load_config("tiny", ["rl.max_steps=3"])
    c = load_config("tiny", ["runtime.num_processes=2", "runtime.launch=cpu"])
    assert a.stage_hash("rl") != b.stage_hash("rl")
    assert a.stage_hash("cold-start") == b.stage_hash("cold-start")
    assert a.stage_hash("rl") == c.stage_hash("rl")  # how we launch does not change what we train


def test_profiles_resolve_by_name_and_the_command_hands_off_to_accelerate(tmp_path):
    assert {"cpu", "single_gpu", "multi_gpu", "zero2", "zero3", "fsdp2", "multi_node"} <= set(list_profiles())
    p = resolve_profile("zero3")
    assert p.name == "zero3.yaml"
    cmd = accelerate_command(p, 4, tmp_path, ["--main_process_port", "29555"])
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--num_processes") + 1] == "4" and cmd[-3:] == ["-m", "training.worker", str(tmp_path)]
    with pytest.raises(Exception, match="unknown accelerate profile"):
        resolve_profile("zero4")


def test_paper_preset_resolves_to_trainer_arguments_on_eight_processes(tmp_path):
    """What the 7B run hands trl: the paper's global batches over 8 GPUs, DAPO, vLLM, bf16."""
    from trl import DPOConfig, GRPOConfig

    from training.stages.train import cold_start_args, grpo_args

    c = load_config("qwen2.5-vl-7b")
    g = grpo_args(c.rl, c, "rl", tmp_path, nproc=8)
    assert g["per_device_train_batch_size"] * 8 * g["gradient_accumulation_steps"] == 128
    assert g["generation_batch_size"] == 128 * 8 and g["num_generations"] == 8
    # server mode: trl 1.16's colocate path double-expands image prompts (training/grid.py)
    assert (g["use_vllm"], g["vllm_mode"], g["bf16"], g["beta"], g["loss_type"]) == (True, "server", True, 0.0, "dapo")
    # the paper's 800 steps read as rollout steps: 8 optimizer steps of 128 completions each
    assert (g["epsilon"], g["epsilon_high"], g["learning_rate"], g["max_steps"]) == (0.2, 0.28, 1e-6, 6400)
    d = cold_start_args(c.cold_start, c, tmp_path, nproc=8)
    assert d["per_device_train_batch_size"] * 8 * d["gradient_accumulation_steps"] == 64
    assert (d["loss_type"], d["loss_weights"], d["beta"], d["max_length"]) == (["sigmoid", "sft"], [1.0, 1.0], 0.1, 16384)
    # trl 1.16 accepts every key (built here on CPU: bf16 and vLLM need a GPU only when training starts)
    cpu = {"use_cpu": True, "bf16": False}
    assert GRPOConfig(**{**g, **cpu}).use_vllm
    assert DPOConfig(**{**d, **cpu}).loss_weights == [1.0, 1.0]


def test_trl_fields_exist_in_the_trl_configs_they_go_to():
    """A ``TrlField`` is passed under its own name: a renamed trl field must fail here, not on a GPU."""
    import dataclasses

    from trl import DPOConfig, GRPOConfig, SFTConfig

    from training.config import ColdStartConfig, GRPOStageConfig, trl_kwargs

    def fields(cls):
        return {f.name for f in dataclasses.fields(cls)}

    grpo = trl_kwargs(GRPOStageConfig(vllm_server_base_url="http://127.0.0.1:8000", vllm_max_model_length=4096))
    assert len(grpo) >= 25 and set(grpo) <= fields(GRPOConfig), set(grpo) - fields(GRPOConfig)
    cold = trl_kwargs(ColdStartConfig())
    assert "learning_rate" in cold and set(cold) <= fields(DPOConfig) & fields(SFTConfig)
    # unset (None) settings leave trl's default
    assert "vllm_server_base_url" not in trl_kwargs(GRPOStageConfig())


def test_cold_start_methods_come_from_one_registry():
    from training.methods import COLD_START_METHODS

    for m in COLD_START_METHODS:
        assert load_config("tiny", [f"cold_start.method={m}"]).cold_start.method == m
    with pytest.raises(ConfigError, match="unknown cold-start method 'orpo'"):
        load_config("tiny", ["cold_start.method=orpo"])
