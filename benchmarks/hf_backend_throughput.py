"""HF backend vs raw batched ``model.generate``: same model, inputs and batch size.

Why: the backend adds chat templating, finish-reason detection, decoding and (opt-in)
per-token statistics around ``generate``. The goal is ≥ 0.95× the raw throughput, so
that correctness features cost nothing measurable. Both variants run interleaved in
one process (alternating repeats), so machine noise hits them alike.

    python benchmarks/hf_backend_throughput.py [--model tiny-base] [--n-prompts 128] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-base")
    ap.add_argument("--n-prompts", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from specs_eval.backends.hf import HFBackend
    from specs_eval.benchmarks import get_benchmark
    from specs_eval.core.records import GenerationSettings

    torch.set_num_threads(args.threads)
    bench = get_benchmark("toyworld")
    rows = bench.load("id", limit=args.n_prompts).rows
    prompts = [bench.build_prompt(r) for r in rows]
    backend = HFBackend(args.model)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    batches = [prompts[i : i + args.batch_size] for i in range(0, len(prompts), args.batch_size)]
    encoded = [backend.encode(b) for b in batches]  # the raw variant gets pre-built inputs (its best case)

    def run_backend() -> int:
        n = 0
        for b in batches:
            for outs in backend.generate(b, settings, seed=0):
                n += sum(o.n_tokens or 0 for o in outs)
        return n

    def run_raw() -> int:
        n = 0
        for enc in encoded:
            with torch.inference_mode():
                out = backend.model.generate(**enc, max_new_tokens=args.max_new_tokens, do_sample=False,
                                             pad_token_id=backend.pad_id, eos_token_id=backend.eos_ids)
            gen = out[:, enc["input_ids"].shape[1]:]
            n += int((~torch.isin(gen, torch.tensor([*backend.eos_ids, backend.pad_id]))).sum())
        return n

    run_backend(), run_raw()  # warm-up
    times: dict[str, list[float]] = {"backend": [], "raw": []}
    tokens: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, fn in (("raw", run_raw), ("backend", run_backend)):
            t0 = time.perf_counter()
            tokens[name] = fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in ("raw", "backend"):
        print(f"{k:8s} {tokens[k]:7d} tokens  median {med[k]:.3f} s  {tokens[k] / med[k]:9.1f} tok/s")
    ratio = (tokens["backend"] / med["backend"]) / (tokens["raw"] / med["raw"])
    print(f"ratio backend/raw throughput: {ratio:.3f}  (goal >= 0.95)")


if __name__ == "__main__":
    main()
