"""In-process toy-world evaluation of a model that is still in memory.

Why not ``specs-eval run``: training wants a number every few hundred steps without
writing a run directory or reloading weights. This module keeps to the same inputs and
rules as the harness, so its numbers agree with a real run on the same items: prompts
come from ``ToyWorld.build_prompt`` and the checkpoint's chat template, responses are
scored by ``score_toy``, and format compliance is ``FORMATS[requested].check``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from specs_eval.benchmarks.toy import ToyWorld, score_toy
from specs_eval.benchmarks.toyworld import world
from specs_eval.core.records import GenerationSettings
from specs_eval.rules.formats import FORMATS

# The benchmark's default item seed, so numbers match ``specs-eval run`` on the same items.
EVAL_SEED = 0
MAX_NEW_TOKENS = ToyWorld.default_max_new_tokens

_BENCH = ToyWorld()


def prompt_text(processor: Any, row: dict[str, Any]) -> str:
    """The chat-formatted prompt for a row, exactly as evaluation builds it (training targets follow it)."""
    from specs_eval.backends.hf import chat_text

    return chat_text(processor, _BENCH.build_prompt(row, "official"))


def generate(
    model: Any,
    processor: Any,
    rows: Sequence[dict[str, Any]],
    *,
    n: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = MAX_NEW_TOKENS,
    batch_size: int = 64,
) -> list[list[str]]:
    """``n`` responses per row through the harness's own HF backend (same prompts, same decoding):
    greedy when ``temperature`` is 0, else plain sampling (no top-k/top-p).

    The global torch RNG is restored afterwards, so an evaluation in the middle of training
    does not change the training run's random stream.
    """
    import torch

    from specs_eval.backends.hf import HFBackend

    backend = HFBackend.from_loaded(model, processor, device=str(model.device))
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature, top_p=1.0,
                                  top_k=0 if temperature > 0 else None, n=n)
    was_training = model.training
    model.eval()
    out: list[list[str]] = []
    try:
        with torch.random.fork_rng(devices=[]):
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                outs = backend.generate([_BENCH.build_prompt(r, "official") for r in chunk], settings,
                                        seed=EVAL_SEED + start)
                out += [[o.text for o in row] for row in outs]
    finally:
        model.train(was_training)
    return out


@dataclass
class SplitScore:
    """Greedy accuracy and format compliance on one split, overall and per task family."""

    split: str
    n: int
    accuracy: float
    format_compliance: float
    parse_failure_rate: float
    by_family: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "accuracy": self.accuracy, "format_compliance": self.format_compliance,
                "parse_failure_rate": self.parse_failure_rate, "by_family": self.by_family}


def score_split(split: str, rows: Sequence[dict[str, Any]], texts: Sequence[str]) -> SplitScore:
    acc: dict[str, list[float]] = defaultdict(list)
    fmt: dict[str, list[float]] = defaultdict(list)
    failed = 0
    for row, text in zip(rows, texts, strict=True):
        res = score_toy(row, text)
        family = row["metadata"]["family"]
        acc[family].append(res.score)
        fmt[family].append(float(FORMATS[_BENCH.requested_format(row, "official")].check(text)))
        failed += res.parse_status in ("failed", "empty")
    n = len(texts)
    all_acc = [x for v in acc.values() for x in v]
    all_fmt = [x for v in fmt.values() for x in v]
    return SplitScore(
        split=split,
        n=n,
        accuracy=_mean(all_acc),
        format_compliance=_mean(all_fmt),
        parse_failure_rate=round(failed / n, 4) if n else 0.0,
        by_family={f: {"n": len(acc[f]), "accuracy": _mean(acc[f]), "format_compliance": _mean(fmt[f])}
                   for f in sorted(acc)},
    )


def evaluate(model: Any, processor: Any, split: str = "id", n: int = 64, seed: int = EVAL_SEED,
             batch_size: int = 64) -> SplitScore:
    """Greedy evaluation on the first ``n`` items of a toy-world split."""
    rows = world.generate_split(split, n, seed)
    texts = [r[0] for r in generate(model, processor, rows, batch_size=batch_size)]
    return score_split(split, rows, texts)


def sample_diversity(model: Any, processor: Any, split: str = "id", n_items: int = 64, k: int = 4,
                     temperature: float = 1.0, seed: int = EVAL_SEED) -> dict[str, Any]:
    """How different ``k`` sampled responses to the same prompt are.

    Later stages need this: GRPO learns nothing from a group of identical rollouts, and
    pass@k only exceeds pass@1 when samples differ.
    """
    rows = world.generate_split(split, n_items, seed)
    groups = generate(model, processor, rows, n=k, temperature=temperature, batch_size=max(1, 64 // k))
    pairs = differ = any_differ = distinct = 0
    acc: list[float] = []
    fmt: list[float] = []
    for row, texts in zip(rows, groups, strict=True):
        distinct += len(set(texts))
        any_differ += len(set(texts)) > 1
        for i in range(k):
            for j in range(i + 1, k):
                pairs += 1
                differ += texts[i] != texts[j]
        acc += [score_toy(row, t).score for t in texts]
        fmt += [float(FORMATS[row["format"]].check(t)) for t in texts]
    return {
        "split": split, "n_items": n_items, "k": k, "temperature": temperature,
        "items_with_differing_samples": round(any_differ / n_items, 4),
        "pairs_differing": round(differ / pairs, 4) if pairs else 0.0,
        "mean_distinct_per_item": round(distinct / n_items, 3),
        "sampled_accuracy": _mean(acc),
        "sampled_format_compliance": _mean(fmt),
    }


def pass_at_k(model: Any, processor: Any, split: str = "id", n_items: int = 64, k: int = 8,
              temperature: float = 1.0, seed: int = EVAL_SEED) -> dict[str, Any]:
    """pass@1 and pass@k of ``k`` samples per item at ``temperature``, overall and per task family.

    Why: GRPO learns only from groups whose rollouts disagree, and RL can lift greedy
    accuracy only towards what sampling already finds; so a base is useful when pass@1 is
    not tiny and pass@k is well above its greedy accuracy. ``mixed`` is the share of items
    whose k samples are neither all right nor all wrong (groups that carry a signal).
    """
    rows = world.generate_split(split, n_items, seed)
    groups = generate(model, processor, rows, n=k, temperature=temperature, batch_size=max(1, 64 // k))
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row, texts in zip(rows, groups, strict=True):
        right = [score_toy(row, t).score for t in texts]
        for key in (row["metadata"]["family"], "all"):
            per[key]["pass@1"].append(sum(right) / k)
            per[key][f"pass@{k}"].append(float(any(right)))
            per[key]["mixed"].append(float(0 < sum(right) < k))
    summary = {key: {"n": len(v["pass@1"])} | {m: _mean(x) for m, x in v.items()} for key, v in per.items()}
    return {"split": split, "n_items": n_items, "k": k, "temperature": temperature,
            **summary.pop("all"), "by_family": dict(sorted(summary.items()))}


def _mean(xs: Sequence[float]) -> float:
    return round(sum(xs) / len(xs), 4) if xs else 0.0
