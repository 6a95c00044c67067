r"""RL rewards built from the benchmarks' own scorers: one scorer, two uses.

Why here and not in ``training/``: the reward *is* the evaluation metric. The format
reward is ``0.5`` exactly when ``FORMATS["specs"].check`` passes (the same check that
gives the format-compliance column of every results table and filters the chosen
preference responses); the accuracy reward is ``1.0`` exactly when the benchmark's own
``score`` says correct, on the same text the run engine scores for the same prompt
variant. So the reward cannot drift from what the harness reports, and this module
imports no torch: verl and EasyR1 workers can import it on their own.

Three adapters over the same two functions:

* trl: ``format_reward(completions, **kw)`` and ``accuracy_reward(completions,
  row_json, benchmark, prompt_variant, **kw)``; the dataset carries ``row_json`` (the
  row without its images, as JSON), ``benchmark`` and ``prompt_variant`` columns, which
  trl passes to reward functions as keyword lists.
* verl: ``compute_score(data_source, solution_str, ground_truth, extra_info)``.
* EasyR1: ``easyr1_compute_score(reward_inputs)``, a batch function returning
  ``{"overall", "format", "accuracy"}`` per response.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from specs_eval.benchmarks import get_benchmark
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.records import Response
from specs_eval.rules.formats import FORMATS, TRAINED_FORMAT

FORMAT_REWARD = 0.5
ACCURACY_REWARD = 1.0
#: benchmark whose rules score rows of an unregistered data source (MathVista-schema rows)
FALLBACK_BENCHMARK = "toyworld"


def completion_text(completion: Any) -> str:
    """The text of a trl completion: a string, or a list of messages (conversational)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        parts = []
        for m in completion:
            content = m.get("content") if isinstance(m, dict) else m
            if isinstance(content, list):
                parts.extend(p.get("text") or "" for p in content if isinstance(p, dict))
            else:
                parts.append(str(content or ""))
        return "".join(parts)
    if isinstance(completion, dict):
        return completion_text([completion])
    return str(completion)


def format_ok(text: str) -> bool:
    """The format reward's test: the SPECS format check, nothing else."""
    return FORMATS[TRAINED_FORMAT].check(text)


@lru_cache(maxsize=32)
def _benchmark(name: str | None, strict: bool = True) -> Any:
    """The scorer of a benchmark. Non-strict (verl/EasyR1 data sources we did not name):
    an unregistered name is scored by the MathVista-schema rules, as documented."""
    try:
        return get_benchmark(name or FALLBACK_BENCHMARK)
    except BenchmarkError:
        if strict:
            raise
        return get_benchmark(FALLBACK_BENCHMARK)


def _row(row: Any) -> dict[str, Any]:
    if isinstance(row, dict):
        return row
    if isinstance(row, str | bytes):
        return json.loads(row)
    raise TypeError(f"a reward row must be a dict or its JSON, not {type(row).__name__}")


def accuracy_scores(texts: Sequence[str], rows: Sequence[Any], benchmarks: Sequence[str | None] | None = None,
                    variants: Sequence[str | None] | None = None, strict: bool = True) -> list[bool]:
    """Whether each response is correct under its benchmark's headline scorer.

    Responses are grouped by benchmark and scored batch-wise in their order, exactly as
    the run engine does (official rules may depend on the order of a scoring pass).
    """
    n = len(texts)
    benchmarks = list(benchmarks) if benchmarks is not None else [None] * n
    variants = list(variants) if variants is not None else [None] * n
    if not (len(rows) == len(benchmarks) == len(variants) == n):
        raise ValueError(f"accuracy reward: {n} completions but {len(rows)} rows")
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i, b in enumerate(benchmarks):
        groups[b].append(i)
    out = [False] * n
    for name, idx in groups.items():
        bench = _benchmark(name, strict)
        parsed = [_row(rows[i]) for i in idx]
        responses = [Response(id=str(i), text=bench.scoring_text(texts[i], variants[i] or "official")) for i in idx]
        results = bench.score(parsed, responses, None)
        for i, r in zip(idx, results, strict=True):
            out[i] = bool(r.correct)
    return out


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """trl reward: 0.5 for a response in the SPECS format, else 0."""
    return [FORMAT_REWARD if format_ok(completion_text(c)) else 0.0 for c in completions]


def accuracy_reward(completions: Sequence[Any], row_json: Sequence[Any], benchmark: Sequence[str] | None = None,
                    prompt_variant: Sequence[str] | None = None, **kwargs: Any) -> list[float]:
    """trl reward: 1.0 when the benchmark's scorer says the response is correct, else 0."""
    texts = [completion_text(c) for c in completions]
    return [ACCURACY_REWARD if ok else 0.0 for ok in accuracy_scores(texts, row_json, benchmark, prompt_variant)]


def _verl_row(ground_truth: Any, extra_info: dict[str, Any] | None) -> dict[str, Any]:
    info = extra_info or {}
    if info.get("row_json"):
        return _row(info["row_json"])
    return {"pid": str(info.get("index", "0")), "answer": str(ground_truth), "answer_type": "text",
            "question_type": "free_form", "choices": None}


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None = None
                  ) -> dict[str, float]:
    """verl reward (``custom_reward_function.name=compute_score``): ``{"score", "format", "accuracy"}``.

    ``data_source`` names the benchmark whose scorer decides correctness (unregistered
    sources are scored by the MathVista-schema rules); ``extra_info["row_json"]`` carries
    the full row, else a free-form row is built from ``ground_truth``.
    """
    info = extra_info or {}
    fmt = FORMAT_REWARD if format_ok(solution_str) else 0.0
    acc = ACCURACY_REWARD if accuracy_scores([solution_str], [_verl_row(ground_truth, info)], [data_source],
                                             [info.get("prompt_variant")], strict=False)[0] else 0.0
    return {"score": fmt + acc, "format": fmt, "accuracy": acc}


def easyr1_compute_score(reward_inputs: Sequence[dict[str, Any]], **kwargs: Any) -> list[dict[str, float]]:
    """EasyR1 batch reward (``worker.reward.reward_function=reward.py:compute_score``).

    Each input has ``response`` and ``ground_truth``; our export writes the row as JSON
    into ``ground_truth`` (``{"benchmark", "prompt_variant", "row"}``) so the benchmark's
    scorer sees every field; a plain string ground truth is scored as a free-form answer.
    """
    texts, rows, benches, variants = [], [], [], []
    for item in reward_inputs:
        texts.append(str(item.get("response", "")))
        gt = item.get("ground_truth")
        try:
            payload = json.loads(gt) if isinstance(gt, str) else gt
        except ValueError:
            payload = None
        if isinstance(payload, dict) and "row" in payload:
            rows.append(payload["row"])
            benches.append(payload.get("benchmark"))
            variants.append(payload.get("prompt_variant"))
        else:
            rows.append(_verl_row(gt, None))
            benches.append(None)
            variants.append(None)
    acc = accuracy_scores(texts, rows, benches, variants, strict=False)
    out = []
    for text, ok in zip(texts, acc, strict=True):
        fmt = FORMAT_REWARD if format_ok(text) else 0.0
        a = ACCURACY_REWARD if ok else 0.0
        out.append({"overall": fmt + a, "format": fmt, "accuracy": a})
    return out


def row_for_reward(row: dict[str, Any]) -> str:
    """The JSON a reward needs of a row: every JSON-able field, images and private keys dropped."""
    keep = {}
    for k, v in row.items():
        if k.startswith("_") or k == "decoded_image" or hasattr(v, "tobytes") or isinstance(v, bytes | bytearray):
            continue
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        keep[k] = v
    return json.dumps(keep, sort_keys=True, ensure_ascii=False)
