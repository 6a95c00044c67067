"""One prepared check of the GPU paths (≤ 10 minutes on any CUDA machine), for docs/backends.md.

What it checks, on the shipped tiny Qwen2.5-VL (no download needed):

1. ``hf`` backend, greedy, the same toy-world items: CUDA bf16 and CUDA fp32 against the CPU fp32
   result (identical texts, accuracy). bf16 may flip a few greedy tokens; fp32 should not.
2. One GRPO step (``zero-rl``) and one DPO + λ·SFT step (``cold-start``) of the tiny model under CUDA
   with bf16, through the real stage code (status, loss, reward, wall time).
3. The ``hf`` backend's throughput on CUDA against raw batched ``model.generate`` (same inputs).
4. Only when vLLM is installed: a real vLLM engine's prompt length for one image prompt, given the
   unexpanded ids (what a fixed trl sends) and the processor-expanded ids (what trl 1.16 colocate
   sends), against the HF processor's count (``training/grid.py``'s guard).

    python benchmarks/gpu_checks.py [--out gpu_checks.json] [--items 64] [--skip-vllm]

Every section prints one line and goes into the JSON; a failing section is recorded and the
others still run. Exit status 1 when a section failed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS: dict[str, Any] = {}
DEVICE = "cuda"  # --device cpu: a smoke run of this script's code paths on a machine without a GPU


def section(name: str, fn: Callable[[], dict[str, Any]]) -> None:
    t0 = time.perf_counter()
    try:
        out = fn()
        out["ok"] = out.get("ok", True)
    except Exception as e:
        out = {"ok": False, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-2000:]}
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    RESULTS[name] = out
    shown = {k: v for k, v in out.items() if k not in ("trace", "texts")}
    print(f"[{'ok' if out['ok'] else 'FAIL'}] {name}: {json.dumps(shown, default=str)}", flush=True)


def environment() -> dict[str, Any]:
    import torch
    import transformers
    import trl

    info: dict[str, Any] = {"torch": torch.__version__, "transformers": transformers.__version__,
                            "trl": trl.__version__, "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
        info["bf16_supported"] = torch.cuda.is_bf16_supported()
    try:
        import vllm

        info["vllm"] = vllm.__version__
    except ImportError:
        info["vllm"] = None
    info["ok"] = bool(info["cuda"]) or DEVICE == "cpu"
    return info


def hf_parity(items: int, max_new_tokens: int) -> dict[str, Any]:
    import torch

    from specs_eval.backends.hf import HFBackend
    from specs_eval.benchmarks import get_benchmark
    from specs_eval.core.records import GenerationSettings, Response

    bench = get_benchmark("toyworld")
    rows = bench.load("id", limit=items).rows
    prompts = [bench.build_prompt(r, "official") for r in rows]
    settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=32)

    def run(device: str, dtype: str) -> tuple[list[str], float]:
        backend = HFBackend("tiny-base", device=device, dtype=dtype)
        texts = []
        for i in range(0, len(prompts), 32):
            texts += [outs[0].text for outs in backend.generate(prompts[i:i + 32], settings, seed=0)]
        verdicts = bench.score(rows, [Response(id=str(k), text=t) for k, t in enumerate(texts)], None)
        del backend
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return texts, sum(v.correct for v in verdicts) / len(verdicts)

    cpu, acc_cpu = run("cpu", "float32")
    out: dict[str, Any] = {"items": items, "accuracy_cpu_fp32": acc_cpu}
    for dtype in ("float32", "bfloat16"):
        gpu, acc = run(DEVICE, dtype)
        out[f"identical_texts_{DEVICE}_{dtype}"] = sum(a == b for a, b in zip(cpu, gpu, strict=True))
        out[f"accuracy_{DEVICE}_{dtype}"] = acc
    out["ok"] = out[f"identical_texts_{DEVICE}_float32"] >= items - 2  # fp32 kernels may differ on a near-tie
    return out


def stage_step(stage: str, work: Path) -> dict[str, Any]:
    from specs_eval.rules.formats import FORMATS
    from training.commands import build_config
    from training.config import DataConfig
    from training.data import load_items
    from training.pairs import PairRecord
    from training.stages.base import StageContext, file_ref, model_ref, run_stage

    gpu = DEVICE == "cuda"
    common = (f"runtime.device={DEVICE}", f"runtime.bf16={str(gpu).lower()}", "runtime.launch=none",
              f"runtime.threads={'null' if gpu else 1}", "data.limit=8")
    if stage == "zero-rl":
        cfg = build_config("tiny", (*common, "zero_rl.max_steps=1"), None, None, (), quick=True)
        inputs = {"model": "tiny-base"}
    else:
        items, _ = load_items(DataConfig(limit=8))
        lines = []
        for i in items:
            chosen = FORMATS["specs"].render(i.row["rationale"], i.row["answer_token"])
            rejected = FORMATS["answer_line"].render(i.row["rationale"], i.row["answer_token"])
            lines.append(PairRecord(pair_id=f"{i.id}#0", id=i.id, chosen=chosen, rejected=rejected,
                                    rejected_original=chosen, rule="answer_prefix", mode="decoupled",
                                    chosen_source="gpu-check", chosen_sample_idx=0, rejected_sample_idx=1,
                                    benchmark="toyworld", split="train", prompt_hash=i.prompt_hash).model_dump_json())
        pairs = work / "pairs.jsonl"
        pairs.write_text("\n".join(lines) + "\n")
        cfg = build_config("tiny", (*common, "cold_start.max_steps=1", "cold_start.global_batch_size=8",
                                    "distill.data.limit=8"), None, None, (), quick=True)
        inputs = {"model": "tiny-base", "pairs": str(pairs)}
    refs = {k: file_ref("pairs", Path(v)) if k == "pairs" else model_ref(v) for k, v in inputs.items()}
    m = run_stage(StageContext(stage=stage, dir=work / stage, config=cfg, inputs=inputs, log=lambda s: None,
                               input_refs=refs))
    train = m.metrics.get("train", {})
    curve = m.metrics.get("train_curve", {})
    return {"ok": m.status == "complete", "status": m.status, "global_step": train.get("global_step"),
            "train_s": train.get("train_s"), "bf16": m.trainer_config.get("bf16"),
            "loss": (curve.get("loss") or {}).get("last"), "reward": (curve.get("reward") or {}).get("last"),
            "error": m.error}


def throughput(n_prompts: int, repeats: int) -> dict[str, Any]:
    import torch

    from specs_eval.backends.hf import HFBackend
    from specs_eval.benchmarks import get_benchmark
    from specs_eval.core.records import GenerationSettings

    bench = get_benchmark("toyworld")
    prompts = [bench.build_prompt(r) for r in bench.load("id", limit=n_prompts).rows]
    backend = HFBackend("tiny-base", device=DEVICE, dtype="bfloat16" if DEVICE == "cuda" else "float32")
    settings = GenerationSettings(max_new_tokens=48, batch_size=32)
    batches = [prompts[i:i + 32] for i in range(0, len(prompts), 32)]
    encoded = [backend.encode(b) for b in batches]

    def run_backend() -> int:
        return sum(o.n_tokens or 0 for b in batches for outs in backend.generate(b, settings, seed=0) for o in outs)

    def run_raw() -> int:
        n = 0
        for enc in encoded:
            with torch.inference_mode():
                out = backend.model.generate(**enc, max_new_tokens=48, do_sample=False, pad_token_id=backend.pad_id,
                                             eos_token_id=backend.eos_ids)
            gen = out[:, enc["input_ids"].shape[1]:]
            n += int((~torch.isin(gen, torch.tensor([*backend.eos_ids, backend.pad_id], device=gen.device))).sum())
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        return n

    run_backend(), run_raw()
    times: dict[str, list[float]] = {"backend": [], "raw": []}
    tokens: dict[str, int] = {}
    for _ in range(repeats):
        for name, fn in (("raw", run_raw), ("backend", run_backend)):
            t0 = time.perf_counter()
            tokens[name] = fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = (tokens["backend"] / med["backend"]) / (tokens["raw"] / med["raw"])
    return {"prompts": n_prompts, "tok_s_backend": round(tokens["backend"] / med["backend"], 1),
            "tok_s_raw": round(tokens["raw"] / med["raw"], 1), "ratio": round(ratio, 3)}


def vllm_prompt_lengths() -> dict[str, Any]:
    from PIL import Image
    from vllm import LLM, SamplingParams

    from specs_eval.models.loading import load_processor, resolve_model
    from training import grid

    path = resolve_model("tiny-base")
    proc = load_processor(path)
    image = Image.new("RGB", (333, 225), (200, 30, 30))
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many shapes?"}]}]
    hf = grid.hf_prompt(proc, msgs, [image])
    text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    unexpanded = proc.tokenizer(text, add_special_tokens=False)["input_ids"]
    llm = LLM(model=path, max_model_len=2048, gpu_memory_utilization=0.2, limit_mm_per_prompt={"image": 2},
              enforce_eager=True)
    sp = SamplingParams(max_tokens=1, temperature=0.0)
    out = {}
    for name, ids in (("unexpanded", unexpanded), ("expanded_trl_1_16", hf)):
        res = llm.generate([{"prompt_token_ids": ids, "multi_modal_data": {"image": image}}], sp, use_tqdm=False)
        out[f"vllm_len_{name}"] = len(res[0].prompt_token_ids)
    out["hf_len"] = len(hf)
    out["model_len"] = grid.vllm_prompt_length(proc, msgs, [image], grid.processor_grid(proc))
    out["ok"] = out["vllm_len_unexpanded"] == out["hf_len"] == out["model_len"]
    out["double_expansion_seen"] = out["vllm_len_expanded_trl_1_16"] > out["hf_len"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("gpu_checks.json"))
    ap.add_argument("--items", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--throughput-prompts", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-vllm", action="store_true")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="cpu: smoke-run the script's code paths without a GPU (numbers mean nothing)")
    args = ap.parse_args()
    global DEVICE
    DEVICE = args.device
    t0 = time.perf_counter()
    section("environment", environment)
    if DEVICE == "cuda" and not RESULTS["environment"].get("cuda"):
        print("no CUDA device: nothing to check", file=sys.stderr)
        args.out.write_text(json.dumps(RESULTS, indent=1, default=str))
        return 1
    section(f"hf_cpu_vs_{DEVICE}", lambda: hf_parity(args.items, args.max_new_tokens))
    with tempfile.TemporaryDirectory() as tmp:
        section(f"grpo_step_{DEVICE}", lambda: stage_step("zero-rl", Path(tmp)))
        section(f"dpo_step_{DEVICE}", lambda: stage_step("cold-start", Path(tmp)))
    section(f"hf_throughput_{DEVICE}", lambda: throughput(args.throughput_prompts, args.repeats))
    if not args.skip_vllm and RESULTS["environment"].get("vllm"):
        section("vllm_prompt_length", vllm_prompt_lengths)
    else:
        RESULTS["vllm_prompt_length"] = {"ok": True, "skipped": "vLLM not installed" if not args.skip_vllm
                                         else "--skip-vllm"}
    RESULTS["total_s"] = round(time.perf_counter() - t0, 1)
    args.out.write_text(json.dumps(RESULTS, indent=1, default=str))
    print(f"total {RESULTS['total_s']} s; results in {args.out}")
    return 0 if all(v.get("ok", True) for v in RESULTS.values() if isinstance(v, dict)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
