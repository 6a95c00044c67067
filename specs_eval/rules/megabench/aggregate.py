"""MEGA-Bench aggregation: field → query → task → subset, and keyword statistics.

Re-implements the aggregation of the official evaluator and leaderboard tools
(TIGER-AI-Lab/MEGA-Bench ``megabench/metrics/aggregation/{mean,min}_agg.py``,
``evaluation_processor.py``, ``tools/derive_breakdown_results.py`` and
``tools/analysis_utils.py``, commits 2bb5e98 / 1233a31 / 139dc0b / 5f5a8ca):

* query score: fields with a negative (invalid) score are dropped; the rest are
  combined by the weighted mean (``aggregation.field_weights``) or the minimum;
  no valid field gives −1;
* task score: the sum of the non-negative query scores divided by the number of
  queries (so −1 counts as 0); ``mean_task_score`` in the official files;
* macro mean: mean of task scores (the leaderboard number); micro mean: all query
  scores over all queries;
* core / open: rule-scored vs LLM-judged tasks; ``overall`` = the two macro means
  weighted by their task counts (only when both are present, as upstream);
* keyword stats per dimension (``skills`` multi-label, ``input_format``,
  ``output_format``, ``num_input`` reported as ``input_num``, ``app``): ``count``
  tasks, ``num_samples`` = queries + 1 demonstration per task that has one, and
  ``average_score`` = the unweighted mean of task scores.

Tasks whose queries could not all be scored (no judge, a metric unavailable here)
are kept out of every mean and listed under ``not_scored``: a number computed with
them as zeros would not be the official number.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KEYWORD_DIMENSIONS = (("skills", "skills"), ("input_format", "input_format"),
                      ("output_format", "output_format"), ("num_input", "input_num"), ("app", "app"))
SINGLE_IMAGE = "1-image"


def _valid(score: Any) -> bool:
    try:
        return float(score) >= 0  # NaN compares False: dropped, as ``s >= 0`` upstream
    except (TypeError, ValueError):
        return False


def aggregate_fields(scores: Mapping[str, float], function: str | None,
                     weights: Mapping[str, float] | None) -> tuple[float, list[str]]:
    """The query score from field scores, and any configuration warnings."""
    warnings: list[str] = []
    valid = {f: float(s) for f, s in scores.items() if _valid(s)}
    if not valid:
        return -1.0, warnings
    name = (function or "").lower()
    if name == "min":
        return min(valid.values()), warnings
    if name != "mean":
        warnings.append(f"unsupported aggregation function {function!r}")
        return -1.0, warnings
    weights = weights or {}
    total_w, total = 0.0, 0.0
    for f, s in valid.items():
        if f not in weights:
            warnings.append(f"no weight for field {f!r}; used 1")
        w = float(weights.get(f, 1))
        total_w += w
        total += w * s
    if total_w == 0:
        warnings.append("field weights sum to zero")
        return -1.0, warnings
    return total / total_w, warnings


@dataclass
class TaskResult:
    """One task's official numbers."""

    name: str
    eval_type: str  # "rule" (core) or "llm" (open)
    query_scores: list[float]
    num_demo: int = 1
    not_scored: int = 0  # queries that could not be scored here
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_query(self) -> int:
        return len(self.query_scores)

    @property
    def scored(self) -> bool:
        return self.not_scored == 0 and self.num_query > 0

    @property
    def task_score(self) -> float:
        return sum(s for s in self.query_scores if _valid(s))

    @property
    def mean_task_score(self) -> float:
        return self.task_score / self.num_query if self.num_query else 0.0


def subset_summary(tasks: Iterable[TaskResult]) -> dict[str, Any] | None:
    """``num_eval_tasks``, ``num_eval_samples``, macro and micro mean of scored tasks."""
    tasks = [t for t in tasks if t.scored]
    if not tasks:
        return None
    n_q = sum(t.num_query for t in tasks)
    return {
        "num_eval_tasks": len(tasks),
        "num_eval_samples": n_q,
        "macro_mean_score": sum(t.mean_task_score for t in tasks) / len(tasks),
        "micro_mean_score": sum(t.task_score for t in tasks) / n_q if n_q else 0.0,
    }


def model_summary(tasks: Iterable[TaskResult]) -> dict[str, Any]:
    """Upstream ``calculate_model_summary`` plus micro means and what was not scored."""
    tasks = list(tasks)
    core = subset_summary(t for t in tasks if t.eval_type == "rule")
    open_ = subset_summary(t for t in tasks if t.eval_type == "llm")
    overall = None
    if core and open_:
        n = core["num_eval_tasks"] + open_["num_eval_tasks"]
        overall = (core["macro_mean_score"] * core["num_eval_tasks"]
                   + open_["macro_mean_score"] * open_["num_eval_tasks"]) / n
    scored = [t for t in tasks if t.scored]
    n_q = sum(t.num_query for t in scored)
    return {
        "core": core,
        "open": open_,
        "overall_score": overall,
        "overall_micro_mean_score": sum(t.task_score for t in scored) / n_q if n_q else None,
        "not_scored": {
            "core": sorted(t.name for t in tasks if t.eval_type == "rule" and not t.scored),
            "open": sorted(t.name for t in tasks if t.eval_type == "llm" and not t.scored),
        },
    }


def keyword_stats(tasks: Iterable[TaskResult]) -> dict[str, dict[str, dict[str, Any]]]:
    """Upstream ``derive_keyword_stats`` over scored tasks that have metadata."""
    stats: dict[str, dict[str, dict[str, Any]]] = {out: defaultdict(
        lambda: {"count": 0, "total": 0.0, "num_samples": 0, "tasks": []}) for _, out in KEYWORD_DIMENSIONS}
    for t in tasks:
        if not t.scored or not t.meta:
            continue
        n_samples = t.num_query + t.num_demo
        for key, out in KEYWORD_DIMENSIONS:
            value = t.meta.get(key)
            values = value if isinstance(value, list) else ([value] if value else [])
            for v in values:
                entry = stats[out][str(v)]
                entry["count"] += 1
                entry["total"] += t.mean_task_score
                entry["num_samples"] += n_samples
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for dim, entries in stats.items():
        result[dim] = {}
        for kw, e in sorted(entries.items()):
            result[dim][kw] = {"count": e["count"], "num_samples": e["num_samples"], "tasks": [],
                               "average_score": e["total"] / e["count"] if e["count"] else 0.0}
    return result


def clean_number(x: Any) -> Any:
    """JSON-safe numbers: NaN/inf become ``None``, numpy scalars plain floats."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return x
    if math.isnan(f) or math.isinf(f):
        return None
    return int(f) if isinstance(x, bool | int) and not isinstance(x, bool) else f
