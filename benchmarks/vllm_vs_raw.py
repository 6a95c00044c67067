"""vLLM backend vs raw vLLM on the same engine, prompts and sampling settings (GPU only; goal ≥ 0.9×).

Why: the backend adds per-prompt seeds, message building, and the mapping of every output
(finish reason, token counts, optional top-k statistics) around ``LLM.chat``. Both variants use
the *same* ``LLM`` instance and the same chat messages (PIL images), so the ratio isolates the
adapter's cost. They alternate over ``--repeats`` rounds so that thermal and cache effects hit both.

    python benchmarks/vllm_vs_raw.py --model Qwen/Qwen2.5-VL-7B-Instruct [--n-prompts 256] [--token-stats]

Where vLLM or a GPU is missing it prints why it cannot run and exits 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="Qwen/Qwen2.5-VL-7B-Instruct")
    ap.add_argument("--n-prompts", type=int, default=256)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tp", type=int, default=1)
    ap.add_argument("--token-stats", action="store_true", help="also request top-20 log-probs (both variants)")
    args = ap.parse_args()

    if importlib.util.find_spec("vllm") is None:
        print("cannot run: vLLM is not installed (pip install -e '.[vllm]' on a GPU machine)")
        return
    import torch

    if not torch.cuda.is_available():
        print("cannot run: no CUDA device")
        return

    from specs_eval.backends.vllm import VLLMBackend, chat_messages, prompt_seed, sampling_kwargs
    from specs_eval.benchmarks import get_benchmark
    from specs_eval.core.records import GenerationSettings

    bench = get_benchmark("toyworld")
    prompts = [bench.build_prompt(r) for r in bench.load("id", limit=args.n_prompts).rows]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=len(prompts),
                                  record_token_stats=args.token_stats)
    backend = VLLMBackend(args.model, tp=args.tp)
    llm = backend.llm
    from vllm import SamplingParams

    conversations = [chat_messages(p) for p in prompts]
    params = [SamplingParams(**sampling_kwargs(settings, prompt_seed(settings.seed, p.hash()), backend.logprobs_k))
              for p in prompts]

    def run_backend() -> int:
        return sum(o[0].n_tokens or 0 for o in backend.generate(prompts, settings))

    def run_raw() -> int:
        outs = llm.chat(conversations, sampling_params=params, use_tqdm=False)
        return sum(len(r.outputs[0].token_ids) for r in outs)

    run_raw(), run_backend()  # warm-up (CUDA graphs, caches)
    times: dict[str, list[float]] = {"raw": [], "backend": []}
    tokens: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, fn in (("raw", run_raw), ("backend", run_backend)):
            t0 = time.perf_counter()
            tokens[name] = fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in ("raw", "backend"):
        print(f"{k:8s} {len(prompts)} prompts  median {med[k]:.3f} s  {len(prompts) / med[k]:8.1f} prompts/s")
    ratio = med["raw"] / med["backend"]  # same prompts and outputs: a ratio of prompt throughputs
    print(f"ratio backend/raw throughput: {ratio:.3f}  (goal >= 0.9)")
    print(f"(tokens: raw {tokens['raw']} incl. EOS, backend {tokens['backend']} excl. EOS)")


if __name__ == "__main__":
    main()
