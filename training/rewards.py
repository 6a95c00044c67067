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
  row_json, benchmark, prompt_variant, **kw)`` (an ``AccuracyReward``, optionally with a
  judge term for free-text golds, ``training/reward_judge.py``); the dataset carries
  ``row_json`` (the row without its images, as JSON), ``benchmark`` and ``prompt_variant``
  columns, which trl passes to reward functions as keyword lists.
* verl: ``compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)``.
* EasyR1: ``easyr1_compute_score(reward_inputs)``: a list (batch) or one dict (sequential),
  ``{"overall", "format", "accuracy", "not_scored"}`` per response.
* ``framework_compute_score(*args, **kwargs)`` dispatches between the last two (the
  exported ``reward.py``).

The accuracy reward is the verdict's ``correct`` (1.0 or 0), except on the RL-pool
benchmarks, whose authors give partial credit (IoU for detection): there it is the score.
A verdict the rules could not give (``details.not_scored``: a free-text gold) is ``None``
for trl (no accuracy term for that sample; counted) and ``not_scored: 1`` for verl/EasyR1.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from specs_eval.benchmarks import get_benchmark
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.records import Response, ScoreResult
from specs_eval.rules.formats import FORMATS, TRAINED_FORMAT

FORMAT_REWARD = 0.5
ACCURACY_REWARD = 1.0
#: benchmark whose rules score rows of an unregistered data source (MathVista-schema rows)
FALLBACK_BENCHMARK = "toyworld"
#: benchmarks whose reward is the scorer's partial credit (their authors' IoU verifier), not only 0/1
PARTIAL_CREDIT = ("orsta", "virl39k")


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


def _verdicts(texts: Sequence[str], rows: Sequence[Any], benchmarks: Sequence[str | None] | None,
              variants: Sequence[str | None] | None, strict: bool, extra: dict[str, Any] | None = None
              ) -> list[ScoreResult]:
    """The benchmark's verdict on each response, grouped by benchmark and scored batch-wise in order,
    exactly as the run engine does (official rules may depend on the order of a scoring pass).

    ``extra`` keys are added to every row before scoring (the detection threshold and progress).
    """
    n = len(texts)
    benchmarks = list(benchmarks) if benchmarks is not None else [None] * n
    variants = list(variants) if variants is not None else [None] * n
    if not (len(rows) == len(benchmarks) == len(variants) == n):
        raise ValueError(f"accuracy reward: {n} completions but {len(rows)} rows")
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i, b in enumerate(benchmarks):
        groups[b].append(i)
    out: list[ScoreResult | None] = [None] * n
    for name, idx in groups.items():
        bench = _benchmark(name, strict)
        parsed = [{**_row(rows[i]), **(extra or {})} for i in idx]
        responses = [Response(id=str(i), text=bench.scoring_text(texts[i], variants[i] or "official")) for i in idx]
        for i, r in zip(idx, bench.score(parsed, responses, None), strict=True):
            out[i] = r
    return out  # type: ignore[return-value]


def accuracy_scores(texts: Sequence[str], rows: Sequence[Any], benchmarks: Sequence[str | None] | None = None,
                    variants: Sequence[str | None] | None = None, strict: bool = True) -> list[bool]:
    """Whether each response is correct under its benchmark's headline scorer."""
    return [bool(v.correct) for v in _verdicts(texts, rows, benchmarks, variants, strict)]


def reward_value(verdict: ScoreResult, benchmark: str | None) -> float | None:
    """The accuracy reward of one verdict: ``None`` when the rules did not score it (free text).

    RL-pool benchmarks give partial credit where their authors' verifier does (IoU for
    detection): the reward is ``1.0 × score``. Every other benchmark rewards ``correct``.
    """
    if not_scored(verdict):
        return None
    if benchmark in PARTIAL_CREDIT:
        return ACCURACY_REWARD * float(verdict.score)
    return ACCURACY_REWARD if verdict.correct else 0.0


def not_scored(verdict: ScoreResult) -> bool:
    return bool(verdict.details.get("not_scored"))


def progress(trainer_state: Any) -> float | None:
    """Training progress in [0, 1] from trl's ``trainer_state`` (None when unknown)."""
    step, total = getattr(trainer_state, "global_step", None), getattr(trainer_state, "max_steps", None)
    return None if not total or step is None else min(1.0, step / total)


class AccuracyReward:
    """trl reward: the benchmark scorer's verdict, with an optional judge term for free-text golds.

    Returns, per completion, ``1.0`` (correct), ``0.0`` (wrong), the partial credit of an
    RL-pool detection row, or ``None`` (trl: no accuracy reward for this sample) when the
    rules cannot verify the gold and no judge answered. Each call logs through trl's
    ``log_metric``: ``accuracy/not_scored`` (share of completions the rules left unscored)
    and, with a judge, ``judge/requests``, ``judge/failures``, ``judge/cached``, ``judge/yes``.
    """

    __name__ = "accuracy_reward"

    def __init__(self, judge: Any = None, detection_iou: str = "dynamic"):
        self.judge = judge
        self.detection_iou = detection_iou

    def __call__(self, completions: Sequence[Any], row_json: Sequence[Any], benchmark: Sequence[str] | None = None,
                 prompt_variant: Sequence[str] | None = None, trainer_state: Any = None, log_metric: Any = None,
                 prompts: Sequence[Any] | None = None, **kwargs: Any) -> list[float | None]:
        texts = [completion_text(c) for c in completions]
        extra = {"_iou_threshold": self.detection_iou, "_progress": progress(trainer_state)}
        verdicts = _verdicts(texts, row_json, benchmark, prompt_variant, True, extra)
        names = list(benchmark) if benchmark is not None else [None] * len(texts)
        values = [reward_value(v, b) for v, b in zip(verdicts, names, strict=True)]
        open_idx = [i for i, v in enumerate(verdicts) if not_scored(v)]
        if log_metric is not None and texts:
            log_metric("accuracy/not_scored", len(open_idx) / len(texts))
        if self.judge is not None and open_idx:
            judged = self.judge.judge([(names[i], _row(row_json[i]), texts[i]) for i in open_idx])
            for i, ok in zip(open_idx, judged.verdicts, strict=True):
                values[i] = None if ok is None else (ACCURACY_REWARD if ok else 0.0)
            if log_metric is not None:
                for k, v in judged.metrics().items():
                    log_metric(k, v)
        return values


accuracy_reward = AccuracyReward()


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """trl reward: 0.5 for a response in the SPECS format, else 0."""
    return [FORMAT_REWARD if format_ok(completion_text(c)) else 0.0 for c in completions]


# ---------------------------------------------------------------- verl and EasyR1


def _verl_row(ground_truth: Any, extra_info: dict[str, Any] | None) -> dict[str, Any]:
    info = extra_info or {}
    if info.get("row_json"):
        return _row(info["row_json"])
    return {"pid": str(info.get("index", "0")), "answer": str(ground_truth), "answer_type": "text",
            "question_type": "free_form", "choices": None}


def _framework_scores(texts: Sequence[str], rows: Sequence[dict[str, Any]], benches: Sequence[str | None],
                      variants: Sequence[str | None], iou_threshold: str | float) -> list[dict[str, float]]:
    """``format``, ``accuracy`` and ``not_scored`` per response (the same keys every time: verl takes the
    keys of the first sample for the whole batch). A response the rules cannot score gets accuracy 0
    *and* ``not_scored`` 1, so the framework's logged metrics show it."""
    verdicts = _verdicts(texts, rows, benches, variants, False, {"_iou_threshold": iou_threshold})
    out = []
    for text, v, b in zip(texts, verdicts, benches, strict=True):
        fmt = FORMAT_REWARD if format_ok(text) else 0.0
        value = reward_value(v, b)
        out.append({"format": fmt, "accuracy": value or 0.0, "not_scored": float(value is None)})
    return out


def compute_score(data_source: str | None = None, solution_str: str | None = None, ground_truth: Any = None,
                  extra_info: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, float]:
    """verl reward (``reward.custom_reward_function.name=compute_score``): ``{"score", "format", "accuracy",
    "not_scored"}``.

    verl 0.9 calls it with keywords only (``data_source``, ``solution_str``, ``ground_truth``,
    ``extra_info``, plus ``reward_kwargs`` from its config and, with a reward-model router,
    ``reward_router_address``/``reward_model_tokenizer``: hence ``**kwargs``); its offline
    ``main_eval`` calls the first three positionally. ``data_source`` names the benchmark
    (unregistered sources are scored by the MathVista-schema rules); ``extra_info["row_json"]``
    carries the full row, else a free-form row is built from ``ground_truth``. ``iou_threshold``
    (a ``reward_kwargs`` entry) sets the detection threshold (default ``average``).
    """
    if solution_str is None:
        raise TypeError("compute_score needs solution_str (verl passes data_source, solution_str, ground_truth, "
                        "extra_info)")
    info = extra_info or {}
    (s,) = _framework_scores([solution_str], [_verl_row(ground_truth, info)], [data_source],
                             [info.get("prompt_variant")], kwargs.get("iou_threshold", "average"))
    return {"score": s["format"] + s["accuracy"], **s}


def _easyr1_parse(item: Any) -> tuple[str, dict[str, Any], str | None, str | None]:
    if not isinstance(item, dict) or "response" not in item:
        raise TypeError(f"an EasyR1 reward input is a dict with 'response', 'response_length' and 'ground_truth'; "
                        f"got {type(item).__name__}")
    gt = item.get("ground_truth")
    try:
        payload = json.loads(gt) if isinstance(gt, str) else gt
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "row" in payload:
        return str(item["response"]), payload["row"], payload.get("benchmark"), payload.get("prompt_variant")
    return str(item["response"]), _verl_row(gt, None), None, None


def easyr1_compute_score(reward_inputs: Any, **kwargs: Any) -> Any:
    """EasyR1 reward: a list of inputs (``REWARD_TYPE = "batch"``) → a list of scores; one input dict
    (``"sequential"``) → one score. Each score is ``{"overall", "format", "accuracy", "not_scored"}``.

    Inputs are ``{"response", "response_length", "ground_truth"}`` (EasyR1 main
    ``verl/workers/reward/function.py``); our export writes the row as JSON into the answer
    column that becomes ``ground_truth`` (``{"benchmark", "prompt_variant", "row"}``); a plain
    string ground truth is scored as a free-form answer.
    """
    single = isinstance(reward_inputs, dict)
    items = [reward_inputs] if single else list(reward_inputs)
    parsed = [_easyr1_parse(i) for i in items]
    scores = _framework_scores([p[0] for p in parsed], [p[1] for p in parsed], [p[2] for p in parsed],
                               [p[3] for p in parsed], kwargs.get("iou_threshold", "average"))
    out = [{"overall": s["format"] + s["accuracy"], **s} for s in scores]
    return out[0] if single else out


def framework_compute_score(*args: Any, **kwargs: Any) -> Any:
    """One entry point for verl and both EasyR1 call styles (the exported ``reward.py`` calls this).

    A list first argument → EasyR1 batch; a dict → EasyR1 sequential; anything else → verl
    (keywords, or positional ``data_source, solution_str, ground_truth[, extra_info]``).
    """
    first = args[0] if args else kwargs.pop("reward_inputs", kwargs.pop("reward_input", None))
    if isinstance(first, dict) and "response" in first:
        return easyr1_compute_score(first, **kwargs)
    if isinstance(first, list | tuple):
        return easyr1_compute_score(first, **kwargs)
    if first is not None and args:
        return compute_score(*args, **kwargs)
    return compute_score(**kwargs)


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
