"""Scoring one MEGA-Bench query: parse the response, score every field, aggregate.

Mirrors ``EvaluationProcessor.process`` / ``evaluate_field`` of the official
evaluator (TIGER-AI-Lab/MEGA-Bench ``megabench/evaluation_processor.py``, commit
1233a31):

1. the task's ``response_parse_function`` parses the response (``parsers.py``);
2. every field of the gold answer is scored with its ``field_score_function``
   metric; ``##`` fields and fields without a metric are skipped; the gold value is
   unquoted once (``evaluate_as_string``); program judge, planning and point-in-box
   get ``eval_context``; constrained generation gets the whole parsed response;
3. ``global_aux_metrics`` score the whole parsed response against the whole answer;
4. the field scores are aggregated (``aggregate.aggregate_fields``).

Outcomes beyond upstream's: a metric that raises scores 0 (upstream's rule) and the
error is kept; a metric that cannot run here is *unavailable* (left out of the
aggregation, counted); an unknown metric name is a configuration error listed in
the results. ``evaluate_query`` never raises.
"""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import dataclass, field
from typing import Any

from specs_eval.rules.megabench import registry
from specs_eval.rules.megabench.aggregate import aggregate_fields, clean_number
from specs_eval.rules.megabench.conversions import evaluate_as_string
from specs_eval.rules.megabench.judge import OpenSetJudge
from specs_eval.rules.megabench.metrics.base import MetricUnavailable
from specs_eval.rules.megabench.parsers import ParsedResponse, parse_response


def literal_field(value: Any, what: str) -> Any:
    """A row field stored as the string form of a Python literal (dicts pass through)."""
    if isinstance(value, dict | list):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    try:
        return ast.literal_eval(value)
    except Exception as e:
        raise ValueError(f"{what} is not a Python literal: {type(e).__name__}: {e}") from None


@dataclass
class QueryScore:
    """Everything the official evaluator records for one query, plus what it could not do."""

    task_name: str
    eval_type: str
    query_score: float  # −1 when no field was valid
    fields: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    parsed: Any = None
    parser: str = ""
    parse_ok: bool = True
    unavailable: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    config_errors: list[str] = field(default_factory=list)
    unknown_metrics: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def not_scored(self) -> bool:
        """The official score cannot be computed here: a field is unavailable (no judge, a
        missing dependency), a metric name is unknown, or the row's scoring config is broken."""
        return bool(self.unavailable or self.unknown_metrics or self.config_errors)

    @property
    def score(self) -> float:
        """The query's contribution to the task score: −1 counts as 0."""
        q = self.query_score
        return 0.0 if q != q or q < 0 else min(1.0, float(q))

    def official_scores(self) -> dict[str, Any]:
        """``scores`` as in the official ``data_with_scores.json``."""
        return {"field": {k: clean_number(v) for k, v in self.fields.items()},
                "info": _jsonable(self.info), "query": clean_number(self.query_score)}


def _jsonable(obj: Any) -> Any:
    try:
        return json.loads(json.dumps(obj, default=str, allow_nan=False))
    except ValueError:
        return json.loads(json.dumps(obj, default=str).replace("NaN", "null"))


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    return float(value)


def evaluate_query(row: dict[str, Any], response: str, judge: OpenSetJudge | None = None,
                   images: list[Any] | None = None) -> QueryScore:
    """Score one response to one MEGA-Bench row (HF schema). Never raises."""
    task = str(row.get("task_name", ""))
    try:
        metric_info = literal_field(row.get("metric_info"), "metric_info")
        eval_type = registry.eval_type(metric_info) if isinstance(metric_info, dict) else "rule"
    except ValueError as e:
        return QueryScore(task, "rule", -1.0, config_errors=[str(e)])
    result = QueryScore(task, eval_type, -1.0)
    try:
        _evaluate(row, response, metric_info, result, judge or OpenSetJudge(None), images or [])
    except Exception as e:  # a configuration problem of this row: reported, not scored
        result.config_errors.append(f"{type(e).__name__}: {e}")
        result.fields.clear()
        result.query_score = -1.0
    return result


def _evaluate(row: dict[str, Any], response: str, metric_info: dict[str, Any], result: QueryScore,
              judge: OpenSetJudge, images: list[Any]) -> None:
    correct_answer = literal_field(row.get("answer"), "answer")
    if not isinstance(correct_answer, dict):
        raise ValueError(f"answer must be a dict of fields, got {type(correct_answer).__name__}")
    eval_context = literal_field(row.get("eval_context"), "eval_context")
    field_metrics: dict[str, Any] = metric_info.get("field_score_function") or {}
    aux_metrics: dict[str, Any] = metric_info.get("global_aux_metrics") or {}
    parsed: ParsedResponse = parse_response(metric_info.get("response_parse_function"), response or "",
                                            correct_answer)
    result.parsed, result.parser, result.parse_ok = parsed.obj, parsed.parser, parsed.ok
    result.warnings.extend(parsed.notes)
    response_obj = parsed.obj
    question = str(row.get("query_text", ""))

    def score_field(name: str, metric_name: Any, correct_value: Any, obj: Any) -> None:
        try:
            spec = registry.lookup(metric_name)
        except registry.UnknownMetric:
            result.unknown_metrics.append(str(metric_name))
            result.errors[name] = f"unknown metric {metric_name!r}"
            return
        if spec is None:
            if not str(name).startswith("##"):
                result.info.setdefault("_skipped", {})[name] = f"no metric ({metric_name!r})"
            return
        correct_value = evaluate_as_string(correct_value)
        value = obj.get(name) if isinstance(obj, dict) else obj
        try:
            if spec.call == "judge":
                score, info = judge.score(spec.id, value, correct_answer, images, question, eval_context,
                                          metric_info, correct_value)
                result.info[name] = info
            elif spec.call == "whole":
                score, info = spec.fn(obj, eval_context)  # type: ignore[misc]
                result.info[name] = info
            elif spec.call == "context":
                out = spec.fn(value, eval_context)  # type: ignore[misc]
                if isinstance(out, tuple):
                    score, result.info[name] = out
                else:
                    score = out
            else:
                score = spec.fn(value, correct_value)  # type: ignore[misc]
            result.fields[name] = _as_number(score)
        except MetricUnavailable as e:
            result.unavailable[name] = f"{spec.id}: {e}"
        except Exception as e:
            result.fields[name] = 0.0
            result.errors[name] = f"{spec.id}: {type(e).__name__}: {str(e)[:300]}"

    for name, correct_value in correct_answer.items():
        score_field(name, field_metrics.get(name), correct_value, response_obj)
    if aux_metrics:
        whole = copy.deepcopy(response_obj)
        aux_obj = dict(response_obj) if isinstance(response_obj, dict) else {}
        for name, metric_name in aux_metrics.items():
            aux_obj[name] = whole
            score_field(name, metric_name, correct_answer, aux_obj)
    aggregation = metric_info.get("aggregation") or {}
    result.query_score, warnings = aggregate_fields(result.fields, aggregation.get("function"),
                                                    aggregation.get("field_weights"))
    for w in warnings:
        (result.config_errors if w.startswith("unsupported aggregation") else result.warnings).append(w)
