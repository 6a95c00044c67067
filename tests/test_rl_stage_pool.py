"""GRPO stages on the paper's RL pool (Orsta-Data-47k + ViRL39K fixtures in their hub layouts) with the
untrained micro Qwen2.5-VL: both step units counted, the rows kept/excluded/skipped in the manifest,
the judge term through a misbehaving loopback judge, checkpoint limits and sizes, and ``report_to``.

Mechanics only: a few steps each; every expectation follows from the settings (2 rollout steps of
2 prompts x 4 completions, 4 completions per optimizer step -> 4 optimizer steps).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

from tests import hub_layouts as hl
from tests.test_reward_judge import MisbehavingJudge
from tests.test_train_stages import make_pairs, metrics, run
from training.commands import build_config
from training.config import ConfigError
from training.manifest import StageError, read_manifest

UNITS = ("rl.max_steps=2", "rl.steps_unit=rollout", "rl.prompts_per_generation=2", "rl.num_generations=4",
         "rl.global_batch_size=4", "rl.max_completion_length=8", "rl.save_steps=1", "runtime.threads=1")


def pool_config(model: Path, data: str, *extra: str) -> Any:
    return build_config("tiny", (f"base_model={model}", f"rl.data={data}", *UNITS, *extra), None, None, (), quick=True)


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("pool")
    return {"orsta": hl.make_orsta(base / "o").root, "virl39k": hl.make_virl39k(base / "v").root}


def test_grpo_on_the_rl_pool_counts_rollout_and_optimizer_steps(micro_model, pool, tmp_path, monkeypatch):
    import training.rewards as rewards

    calls: list[int] = []
    real = rewards.format_reward

    def format_reward(completions, **kw):  # counts generation batches: trl scores each rollout once
        calls.append(len(completions))
        return real(completions, **kw)

    monkeypatch.setattr(rewards, "format_reward", format_reward)
    data = f"{{hf_id: [{pool['orsta']}, {pool['virl39k']}], split: train, limit: null, prompt_variant: specs}}"
    out = tmp_path / "rl"
    m = run("rl", out, pool_config(micro_model, data), {"model": str(micro_model)})
    assert m.status == "complete"
    assert calls == [8, 8], "2 rollout steps of 2 prompts x 4 completions"
    assert m.metrics["train"]["global_step"] == 4, "8 completions per rollout / 4 per optimizer step"
    assert m.trainer_config["max_steps"] == 4
    u = m.metrics["units"]
    assert (u["steps_unit"], u["rollout_steps"], u["optimizer_steps"], u["prompts_seen"]) == ("rollout", 2, 4, 4)
    assert (u["optimizer_steps_done"], u["rollout_steps_done"], u["pool_prompts"]) == (4, 2.0, 15)
    assert u["epochs_over_pool"] == pytest.approx(4 / 15)
    # what was read, kept and excluded, per dataset (ViRL39K's free-text "Tuesday" row is excluded)
    orsta, virl = m.metrics["data_report"]["sources"]
    assert (orsta["benchmark"], orsta["kept"], orsta["excluded_kinds"]) == ("orsta", 9, {})
    assert (virl["benchmark"], virl["kept"], virl["excluded_kinds"]) == ("virl39k", 6, {"text": 1})
    assert orsta["kinds_kept"] == {"detection": 2, "grounding": 1, "math": 6}
    assert m.metrics["data"]["benchmark"] == "orsta+virl39k" and m.metrics["data"]["rows"] == 15
    # one checkpoint kept (save_total_limit 1), its size reported
    ck = m.metrics["checkpoints"]
    assert ck["kept"] == ["checkpoint-4"] and ck["bytes"] > ck["model_bytes"] > 0
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == ["checkpoint-4"]
    # the stage finished: the optimizer/RNG state (only a resume reads it) is dropped, the weights stay
    assert ck["optimizer_state_freed_bytes"] > ck["model_bytes"]
    assert not list((out / "checkpoints").rglob("optimizer.pt")) and list((out / "checkpoints").rglob("*.safetensors"))
    rows = metrics(out)
    assert all(r.get("accuracy/not_scored", 0.0) == 0.0 for r in rows if "accuracy/not_scored" in r)
    assert m.metrics["preflight"]["vllm_guard"] == "not applicable"


def test_the_judge_term_is_counted_in_the_step_metrics_and_recorded(micro_model, pool, tmp_path):
    server = MisbehavingJudge()
    try:
        # ViRL39K's 3 multiple-choice rows and its free-text row: 2 rollout steps of 2 prompts = every row once
        data = (f"{{hf_id: [{pool['virl39k']}], split: train, limit: null, kinds: [mc], free_text: judge, "
                "prompt_variant: specs}")
        judge = ("rl.reward_judge.enabled=true", f"rl.reward_judge.base_url={server.url}",
                 "rl.reward_judge.model=judge-model", "rl.reward_judge.max_retries=0",
                 "rl.reward_judge.max_failure_rate=1.0", "rl.reward_judge.max_concurrency=2")
        out = tmp_path / "rl"
        m = run("rl", out, pool_config(micro_model, data, *judge), {"model": str(micro_model)})
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
    assert m.status == "complete"
    rj = m.metrics["reward_judge"]
    assert rj["judge_id"] == f"judge-model@{server.url}" and rj["max_concurrency"] == 2 and "api_key_env" not in rj
    # the untrained model never writes "Tuesday": the judge answered (an unreadable reply, a failure) for each of
    # the free-text row's 4 completions, and each failure is counted, none turned into a reward
    assert rj["samples"] == 4 and rj["requests"] >= 1 and rj["failures"] == rj["requests"] == server.requests
    rows = [r for r in metrics(out) if "judge/requests" in r]
    assert rows and all("judge/failures" in r for r in rows)
    assert sum(r["accuracy/not_scored"] for r in metrics(out) if "accuracy/not_scored" in r) > 0
    assert m.metrics["data_report"]["sources"][0]["kinds_kept"] == {"mc": 3, "text": 1}
    assert server.max_in_flight <= 2


def test_a_missing_tracker_is_refused_before_training(micro_model, tmp_path):
    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here; the refusal needs it absent")
    pairs = make_pairs(tmp_path / "pairs.jsonl")
    cfg = build_config("tiny", (f"base_model={micro_model}", "cold_start.report_to=wandb", "cold_start.max_steps=1",
                                "runtime.threads=1"), None, None, (), quick=True)
    with pytest.raises((StageError, ConfigError), match=r"report_to=wandb needs the wandb package.*pip install wandb"):
        run("cold-start", tmp_path / "cold", cfg, {"model": str(micro_model), "pairs": str(pairs)})


@pytest.mark.skipif(not (importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX")),
                    reason="neither tensorboard nor tensorboardX is installed (both optional): the trl side of "
                           "report_to=tensorboard is checked only as configuration here")
def test_report_to_tensorboard_writes_event_files(micro_model, tmp_path):
    pairs = make_pairs(tmp_path / "pairs.jsonl")
    cfg = build_config("tiny", (f"base_model={micro_model}", "cold_start.report_to=tensorboard",
                                "cold_start.max_steps=2", "cold_start.global_batch_size=4", "runtime.threads=1"),
                       None, None, (), quick=True)
    out = tmp_path / "cold"
    m = run("cold-start", out, cfg, {"model": str(micro_model), "pairs": str(pairs)})
    assert m.status == "complete" and m.trainer_config["report_to"] == ["tensorboard"]
    assert list((out / "tensorboard").rglob("events.out.tfevents.*"))
    saved = read_manifest(out)
    assert saved.trainer_config["report_to"] == ["tensorboard"]


def test_report_to_reaches_trl_config(tmp_path):
    import dataclasses

    from trl import GRPOConfig

    from training.stages.train import grpo_args

    cfg = build_config("tiny", ("rl.report_to=[wandb, tensorboard]",), None, None, ())
    args = grpo_args(cfg.rl, cfg, "rl", tmp_path, nproc=1)
    assert args["report_to"] == ["wandb", "tensorboard"]
    assert "report_to" in {f.name for f in dataclasses.fields(GRPOConfig)}
    assert build_config("tiny", (), None, None, ()).rl.report_to == ["none"]
    with pytest.raises(ConfigError, match="unknown tracker"):
        build_config("tiny", ("rl.report_to=wandbb",), None, None, ())
    assert json.loads(json.dumps(args["report_to"])) == ["wandb", "tensorboard"]
