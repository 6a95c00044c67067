"""HF backend vs raw batched ``model.generate``: same model, inputs and batch size.

Why: the backend adds chat templating, image processing, finish-reason detection, decoding and
(opt-in) per-token statistics around ``generate``. The goal is ≥ 0.98× the raw throughput, so
that correctness features cost nothing measurable. The variants run interleaved in one process
(one round = every variant once, in turn), so machine noise hits them alike; each variant's
ratio is taken within each round and the median over rounds is reported, with a 95% bootstrap
interval over rounds (the rounds resampled 2000 times):

* ``raw``: ``model.generate`` on inputs encoded before timing starts (its best case);
* ``raw (again)``: the same function timed a second time in each round: its ratio is the
  noise floor of this machine (how far two identical runs differ);
* ``backend, prepared``: ``HFBackend.generate`` on inputs prepared before timing (what the
  backend adds around ``generate`` itself: sampling set-up, finish reasons, decoding);
* ``backend``: ``HFBackend.generate`` batch after batch, each batch prepared in line;
* ``backend+prefetch``: the engine's path: batch k + 1 is prepared (``HFBackend.prepare``) in a
  background thread while batch k generates (``specs_eval.backends.prefetch``).

It also prints the ceiling any prefetching can reach here: the first batch cannot be prepared
while something else generates, so ``raw / (raw + one batch's preparation)`` bounds every
backend variant that prepares its own inputs.

    python benchmarks/hf_backend_throughput.py [--model tiny-base] [--n-prompts 128] [--batch-size 32]

Time it on an otherwise idle machine: the prefetch thread needs a core the model is not using.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time


def median_interval(values: list[float], n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the median of ``values`` (resampled with replacement)."""
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(n_boot))
    return meds[int(0.025 * n_boot)], meds[int(0.975 * n_boot) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny-base")
    ap.add_argument("--n-prompts", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=5, help="rounds (every variant once per round)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from specs_eval.backends.hf import HFBackend
    from specs_eval.backends.prefetch import prefetched
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

    def count(outs: list) -> int:
        return sum(o.n_tokens or 0 for row in outs for o in row)

    def run_backend() -> int:
        return sum(count(backend.generate(b, settings, seed=0)) for b in batches)

    def run_prepared() -> int:
        return sum(count(backend.generate(b, settings, seed=0, prepared=enc)) for b, enc in zip(batches, encoded, strict=True))

    def run_prefetch() -> int:
        return sum(count(backend.generate(b, settings, seed=0, prepared=enc))
                   for b, enc in prefetched(batches, backend.prepare))

    def run_raw() -> int:
        n = 0
        for enc in encoded:
            with torch.inference_mode():
                out = backend.model.generate(**enc, max_new_tokens=args.max_new_tokens, do_sample=False,
                                             pad_token_id=backend.pad_id, eos_token_id=backend.eos_ids)
            gen = out[:, enc["input_ids"].shape[1]:]
            n += int((~torch.isin(gen, torch.tensor([*backend.eos_ids, backend.pad_id]))).sum())
        return n

    variants = (("raw", run_raw), ("raw (again)", run_raw), ("backend, prepared", run_prepared),
                ("backend", run_backend), ("backend+prefetch", run_prefetch))
    for _, fn in variants:  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k, _ in variants}
    prep: list[float] = []
    tokens: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, fn in variants:
            t0 = time.perf_counter()
            tokens[name] = fn()
            times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        backend.prepare(batches[0])
        prep.append(time.perf_counter() - t0)
    # per round: the variant's throughput over raw's in the same round (same tokens, so a time ratio)
    ratios = {k: [(tokens[k] / t) / (tokens["raw"] / r) for t, r in zip(times[k], times["raw"], strict=True)] for k in times}
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{'variant':18s} {'tokens':>7s} {'median s':>9s} {'tok/s':>9s} {'vs raw':>7s} {'95% interval':>15s}")
    for k, _ in variants:
        lo, hi = median_interval(ratios[k])
        print(f"{k:18s} {tokens[k]:7d} {med[k]:9.3f} {tokens[k] / med[k]:9.1f} {statistics.median(ratios[k]):7.3f} "
              f"{lo:7.3f} – {hi:.3f}")
    prep_s = statistics.median(prep)
    ceiling = statistics.median([r / (r + p) for r, p in zip(times["raw"], prep, strict=True)])
    print(f"one batch's preparation: {prep_s * 1000:.0f} ms (median); ceiling for a backend that prepares its own "
          f"inputs: {ceiling:.3f} x raw (the first batch cannot overlap anything)")
    print(f"goal: backend+prefetch >= 0.98 x raw ({args.n_prompts} prompts, batch {args.batch_size}, "
          f"{args.threads} torch threads, {args.repeats} rounds)")


if __name__ == "__main__":
    main()
