"""Training stages on the (untrained) micro Qwen2.5-VL: cold-start methods, GRPO logging, eval, bad input.

Mechanics only: a handful of optimizer steps each. Expectations come from the method
(at step 1 the DPO policy equals its reference, so the DPO loss is ln 2 and the implicit
rewards are 0) or from the data (zero pairs, a missing file), never from a previous run.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from specs_eval.rules.formats import FORMATS
from training.commands import build_config
from training.config import DataConfig
from training.data import load_items
from training.manifest import StageError, read_manifest
from training.pairs import PairRecord
from training.stages.base import StageContext, file_ref, model_ref, run_stage


def config_for(model: Path, *overrides: str):
    return build_config("tiny", ("runtime.threads=2", f"base_model={model}", "data.limit=8",
                                 "distill.data.limit=8", *overrides), None, None, (), quick=True)


def make_pairs(path: Path, n: int = 8) -> Path:
    """Hand-written pairs: chosen in SPECS format, rejected the same reasoning with an answer line."""
    items, _ = load_items(DataConfig(limit=n))
    lines = []
    for i in items:
        chosen = FORMATS["specs"].render(i.row["rationale"], i.row["answer_token"])
        rejected = FORMATS["answer_line"].render(i.row["rationale"], i.row["answer_token"])
        lines.append(PairRecord(pair_id=f"{i.id}#0", id=i.id, chosen=chosen, rejected=rejected,
                                rejected_original=chosen, rule="answer_prefix", mode="decoupled",
                                chosen_source="test", chosen_sample_idx=0, rejected_sample_idx=1,
                                benchmark="toyworld", split="train", prompt_hash=i.prompt_hash).model_dump_json())
    path.write_text("\n".join(lines) + ("\n" if lines else ""))
    return path


def run(stage: str, out: Path, config, inputs: dict[str, str], evaluate: bool = False):
    refs = {k: file_ref("pairs", Path(v)) if k == "pairs" else model_ref(v) for k, v in inputs.items()}
    ctx = StageContext(stage=stage, dir=out, config=config, inputs=inputs, evaluate=evaluate, log=lambda s: None,
                       input_refs=refs)
    return run_stage(ctx)


def metrics(stage_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (stage_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("method,weight", [("sft", 1.0), ("dpo", 1.0), ("dpo+sft", 0.5)])
def test_cold_start_methods(micro_model, tmp_path, method, weight):
    pairs = make_pairs(tmp_path / "pairs.jsonl")
    cfg = config_for(micro_model, f"cold_start.method={method}", f"cold_start.sft_weight={weight}",
                     "cold_start.max_steps=2", "cold_start.global_batch_size=4")
    out = tmp_path / "cold"
    m = run("cold-start", out, cfg, {"model": str(micro_model), "pairs": str(pairs)})
    assert m.status == "complete" and m.steps_done == ["train"]
    assert (out / "model" / "config.json").exists() and m.outputs["model_hash"]
    rows = metrics(out)
    assert [r["step"] for r in rows if "loss" in r] == [1, 2]
    assert all(r["schema_version"] == 1 and r["stage"] == "cold-start" for r in rows)
    first = next(r for r in rows if "loss" in r)
    if method == "sft":
        assert "mean_token_accuracy" in first and "rewards/chosen" not in first
        assert m.metrics["examples"] == 8
    else:
        assert {"rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected"} <= set(first)
        # step 1: the policy is its reference, so implicit rewards are 0 and DPO's loss is ln 2
        assert first["rewards/chosen"] == pytest.approx(0, abs=1e-5)
        assert first["rewards/margins"] == pytest.approx(0, abs=1e-5)
        losses, weights = m.trainer_config["loss_type"], m.trainer_config["loss_weights"]
        if method == "dpo":
            assert (losses, weights) == (["sigmoid"], [1.0])
            assert first["loss"] == pytest.approx(math.log(2), abs=1e-3)
        else:
            assert (losses, weights) == (["sigmoid", "sft"], [1.0, 0.5])
            assert first["loss"] > math.log(2) + 0.1  # + λ · NLL of the chosen tokens
    assert m.metrics["preflight"]["images"] >= 1
    # a second run of the same stage is skipped
    again = run("cold-start", out, cfg, {"model": str(micro_model), "pairs": str(pairs)})
    assert again.attempts == 1 and again.finished == m.finished


def test_grpo_stage_writes_group_statistics(micro_model, tmp_path):
    # one optimizer step per rollout (4 prompts x 8 = 32 = the batch), so both steps generate and log groups
    cfg = config_for(micro_model, "zero_rl.max_steps=2", "zero_rl.max_completion_length=12",
                     "zero_rl.prompts_per_generation=4", "zero_rl.global_batch_size=32")
    out = tmp_path / "zero"
    m = run("zero-rl", out, cfg, {"model": str(micro_model)})
    assert m.status == "complete"
    rows = [r for r in metrics(out) if "reward" in r]
    assert len(rows) == 2
    keys = {"groups/zero_variance_rate", "groups/all_correct_rate", "groups/all_wrong_rate", "groups/n",
            "rewards/format_reward/mean", "rewards/accuracy_reward/mean", "reward_std", "frac_reward_zero_std",
            "entropy", "completions/mean_length", "completions/clipped_ratio"}
    for r in rows:
        assert keys <= set(r)
        assert r["groups/n"] == cfg.zero_rl.prompts_per_generation
        # groups of equal rewards share std 0: the per-completion and per-group shares agree
        assert r["groups/zero_variance_rate"] == pytest.approx(r["frac_reward_zero_std"])
        assert r["groups/all_correct_rate"] + r["groups/all_wrong_rate"] == pytest.approx(r["groups/zero_variance_rate"])
        assert r["completions/mean_length"] <= 12
    tc = m.trainer_config
    assert (tc["epsilon"], tc["epsilon_high"], tc["beta"], tc["loss_type"]) == (0.2, 0.28, 0.0, "dapo")
    assert tc["num_generations"] == cfg.zero_rl.num_generations and not tc["bf16"] and tc["use_cpu"]


def test_eval_stage_writes_a_run_directory(micro_model, tmp_path):
    cfg = config_for(micro_model)
    out = tmp_path / "ev"
    m = run("eval", out, cfg, {"model": str(micro_model)})
    run_dir = out / "eval" / "ev"
    assert (run_dir / "results.json").exists() and (run_dir / "manifest.json").exists()
    res = m.metrics["eval"]["results"]["toyworld"]
    assert set(res) == {"id", "ood_format"} and all(r["n"] == 4 for r in res.values())
    # the same model with other eval settings: evaluated again, not refused
    more = config_for(micro_model, "eval.tasks=[{benchmark: toyworld, splits: [id], limit: 3}]")
    m2 = run("eval", out, more, {"model": str(micro_model)})
    assert m2.attempts == 2 and set(m2.metrics["eval"]["results"]["toyworld"]) == {"id"}
    assert m2.metrics["eval"]["results"]["toyworld"]["id"]["n"] == 3
    assert run("eval", out, more, {"model": str(micro_model)}).attempts == 2  # unchanged: skipped


def test_zero_pairs_and_bad_pairs_name_the_stage(micro_model, tmp_path):
    cfg = config_for(micro_model, "cold_start.max_steps=1")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(StageError, match=r"stage cold-start: .*zero preference pairs"):
        run("cold-start", tmp_path / "c1", cfg, {"model": str(micro_model), "pairs": str(empty)})
    assert read_manifest(tmp_path / "c1").status == "failed"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"pair_id": 1}\n')
    with pytest.raises(StageError, match="stage cold-start: malformed pairs file"):
        run("cold-start", tmp_path / "c2", cfg, {"model": str(micro_model), "pairs": str(bad)})


def test_distill_with_no_usable_samples_fails_clearly(micro_model, tmp_path):
    # the untrained micro model never answers correctly in format: no chosen sample survives
    cfg = config_for(micro_model, "distill.samples_per_prompt=2", "distill.data.limit=3", "distill.max_new_tokens=8")
    with pytest.raises(StageError, match=r"stage distill: 0 preference pairs after filtering"):
        run("distill", tmp_path / "d", cfg, {"base": str(micro_model), "chosen_model": str(micro_model)})
    m = read_manifest(tmp_path / "d")
    assert m.status == "failed" and "0 preference pairs" in m.error
    assert (tmp_path / "d" / "sampling" / "chosen" / "samples.jsonl").exists()


def test_preflight_catches_truncated_image_spans(micro_model, tmp_path):
    pairs = make_pairs(tmp_path / "pairs.jsonl", 4)
    cfg = config_for(micro_model, "cold_start.max_length=10", "cold_start.max_steps=1")
    with pytest.raises(StageError, match=r"stage cold-start: pre-flight .*max_length=10 is too short"):
        run("cold-start", tmp_path / "c", cfg, {"model": str(micro_model), "pairs": str(pairs)})
    assert not (tmp_path / "c" / "model").exists()


def test_preflight_unit_checks(micro_model):
    from specs_eval.models.loading import load_model
    from training import preflight

    model, proc, _ = load_model(str(micro_model))
    items, _ = load_items(DataConfig(limit=2))
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": i.prompt.text}]} for i in items]
    texts = [proc.apply_chat_template([m], add_generation_prompt=True, tokenize=False) for m in msgs]
    batch = proc(text=texts, images=[i.prompt.images[0] for i in items], padding=True, return_tensors="pt")
    stats = preflight.check_batch(batch, proc, model.config, "rl", "x")
    merge = proc.image_processor.merge_size
    assert stats["image_tokens"] == int(batch["image_grid_thw"].prod(-1).sum()) // merge**2
    cut = dict(batch, input_ids=batch["input_ids"][:, :12], attention_mask=batch["attention_mask"][:, :12])
    with pytest.raises(StageError, match="image tokens in the text but"):
        preflight.check_batch(cut, proc, model.config, "rl", "x", max_length=12)
    model.config.image_token_id = model.config.image_token_id + 1
    with pytest.raises(StageError, match="image token id"):
        preflight.check_token_ids(proc, model.config, "rl", "m")


def test_model_without_chat_template_is_refused(micro_model, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(micro_model, bare)
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    for name in ("tokenizer_config.json", "processor_config.json"):
        p = bare / name
        if p.exists():
            data = json.loads(p.read_text())
            data.pop("chat_template", None)
            p.write_text(json.dumps(data))
    pairs = make_pairs(tmp_path / "pairs.jsonl", 2)
    cfg = config_for(micro_model, "cold_start.max_steps=1")
    with pytest.raises(StageError, match=r"stage cold-start: .*chat template"):
        run("cold-start", tmp_path / "c", cfg, {"model": str(bare), "pairs": str(pairs)})


def test_bad_data_and_full_disk_name_the_stage(micro_model, tmp_path, monkeypatch):
    cfg = config_for(micro_model, "zero_rl.max_steps=1", f"data.path={tmp_path / 'missing.jsonl'}")
    with pytest.raises(StageError, match=r"stage zero-rl: .*data path not found"):
        run("zero-rl", tmp_path / "z1", cfg, {"model": str(micro_model)})
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"pid": "x", "query": "q"}\n')
    cfg = config_for(micro_model, "zero_rl.max_steps=1", f"data.path={broken}")
    with pytest.raises(StageError, match=r"stage zero-rl: .*lacks field"):
        run("zero-rl", tmp_path / "z2", cfg, {"model": str(micro_model)})

    import shutil as _sh
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(_sh, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    cfg = config_for(micro_model, "zero_rl.max_steps=1")
    with pytest.raises(StageError, match=r"stage zero-rl: needs about .* GiB free"):
        run("zero-rl", tmp_path / "z3", cfg, {"model": str(micro_model)})


def test_a_stage_refuses_a_folder_from_another_config(micro_model, tmp_path):
    pairs = make_pairs(tmp_path / "pairs.jsonl", 4)
    cfg = config_for(micro_model, "cold_start.max_steps=1", "cold_start.global_batch_size=4")
    run("cold-start", tmp_path / "c", cfg, {"model": str(micro_model), "pairs": str(pairs)})
    other = config_for(micro_model, "cold_start.max_steps=1", "cold_start.global_batch_size=4", "cold_start.beta=0.5")
    with pytest.raises(StageError, match="different config or inputs; pass --redo cold-start"):
        run("cold-start", tmp_path / "c", other, {"model": str(micro_model), "pairs": str(pairs)})
