"""OpenAI backend at concurrency 1 vs 8 against a loopback ``transformers serve`` (same prompts, greedy).

Why: the backend's bounded concurrency is what makes it fast against servers that batch
(vLLM, SGLang, hosted APIs). ``transformers serve`` does not batch VLM requests: it runs one
``generate`` per request on a single inference thread, first in first out (measured,
serving-feasibility.md §1), so here the expected ratio is about 1×. The number this script
prints is therefore a check that concurrency costs nothing (no lock-step, no lost requests),
not a speed-up claim. Both settings run interleaved in one process, so machine noise hits both.

    python benchmarks/openai_concurrency.py [--model tiny-base|FOLDER] [--n-prompts 32] [--max-new-tokens 32]

Without ``--model`` it uses the shipped ``tiny-base`` when present, else builds the untrained
micro model (same architecture class) in a temporary folder. No cache: every request hits the server.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _micro_model(out: Path) -> Path:
    from specs_eval.benchmarks.toyworld.world import iter_split
    from specs_eval.models import tiny
    from specs_eval.rules.formats import FORMATS

    corpus = []
    for r in iter_split("bootstrap", 300):
        corpus.append(r["query"] + "\n" + r["format_instruction"])
        corpus.append(FORMATS[r["format"]].render(r["rationale"], r["answer_token"]))
    tok = tiny.train_tokenizer(corpus, 400)
    return tiny.save(tiny.build_model(tok, "micro", seed=0), tiny.build_processor(tok), out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--n-prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--server-threads", type=int, default=1)
    args = ap.parse_args()

    from specs_eval.backends.serving import serve_available

    reason = serve_available()
    if reason:
        print(f"cannot run: {reason}")
        return
    work = Path(tempfile.mkdtemp(prefix="openai-bench-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    from specs_eval.backends.openai import OpenAIBackend
    from specs_eval.backends.serving import local_server
    from specs_eval.benchmarks import get_benchmark
    from specs_eval.core.records import GenerationSettings
    from specs_eval.models.loading import shipped_models

    model = args.model or ("tiny-base" if "tiny-base" in shipped_models() else str(_micro_model(work / "micro")))
    bench = get_benchmark("toyworld")
    prompts = [bench.build_prompt(r) for r in bench.load("id", limit=args.n_prompts).rows]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.n_prompts)
    with local_server(model, workdir=work / "serve", threads=args.server_threads) as server:
        print(f"model {model}; transformers serve at {server.base_url} (ready in {server.startup_s:.1f} s, "
              f"{args.server_threads} torch thread)")
        backends = {c: OpenAIBackend(server.model, base_url=server.base_url, concurrency=c, probe=c == 1)
                    for c in (1, 8)}
        texts = {}
        for c, b in backends.items():  # warm-up, and the outputs must agree
            texts[c] = [o[0].text for o in b.generate(prompts, settings)]
        assert texts[1] == texts[8], "concurrency changed greedy outputs"
        times: dict[int, list[float]] = {1: [], 8: []}
        tokens: dict[int, int] = {}
        for _ in range(args.repeats):
            for c, b in backends.items():
                t0 = time.perf_counter()
                outs = b.generate(prompts, settings)
                times[c].append(time.perf_counter() - t0)
                tokens[c] = sum((o[0].n_tokens or 0) for o in outs)
        for b in backends.values():
            b.close()
    med = {c: statistics.median(v) for c, v in times.items()}
    for c in (1, 8):
        print(f"concurrency {c}: {len(prompts)} requests, {tokens[c]} tokens, median {med[c]:.3f} s, "
              f"{len(prompts) / med[c]:.1f} req/s, {tokens[c] / med[c]:.1f} tok/s")
    ratio = (tokens[8] / med[8]) / (tokens[1] / med[1])
    print(f"ratio concurrency 8 / concurrency 1 throughput: {ratio:.3f}  (transformers serve runs VLM requests one "
          "at a time, so about 1x is expected here; servers that batch, e.g. vLLM, gain)")


if __name__ == "__main__":
    main()
