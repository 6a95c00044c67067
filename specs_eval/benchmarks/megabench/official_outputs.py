"""The official evaluator's files, so users can cross-check with TIGER-AI-Lab/MEGA-Bench.

Layouts follow the official code (``task_processor.py`` for
``all_query_responses.json``; ``evaluation_processor.py`` for
``data_with_scores*.json``; ``tools/derive_breakdown_results.py`` and
``tools/analysis_utils.py`` for ``analysis/task_results.json`` and
``analysis/summary_and_keyword_stats.json``):

```
<out>/all_query_responses.json           [{task_name, global_description, global_images,
                                            example_info{image_paths, example_text},
                                            query_response[{response, correct_answer, global_idx,
                                                            task_idx, query_idx, images, query_text}]}]
<out>/data_with_scores_core.json         {"data": [... + scores{field, info, query}, task_score,
<out>/data_with_scores_open.json                    mean_task_score, eval_type], "summary": {...}}
<out>/analysis/task_results.json         [{name, score, eval_type, num_demo, num_query}]
<out>/analysis/summary_and_keyword_stats.json   {model_summary{core, open, overall_score}, keyword_stats}
```

Running the official ``evaluator.py --submission_file all_query_responses.json`` on
the first file must reproduce our ``data_with_scores*.json`` (bar unavailable
metrics); ``derive_breakdown_results.py --input_dir <out>`` reproduces the analysis
files. Tasks that could not be scored here are left out of the scored files and
listed in ``summary.not_scored``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specs_eval.benchmarks.megabench.loader import media_list
from specs_eval.rules.megabench.aggregate import TaskResult, keyword_stats, model_summary


@dataclass
class QueryRecord:
    """One scored query with what the official files need."""
    row: dict[str, Any]  # the benchmark row (HF schema)
    response: str
    correct_answer: Any
    scores: dict[str, Any] | None  # {"field", "info", "query"}; None when not scored here
    query_idx: int = 0


@dataclass
class TaskRecord:
    name: str
    eval_type: str
    queries: list[QueryRecord] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + replace), as the official ``_save_json_safe``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=4)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _task_entry(task: TaskRecord, with_scores: bool) -> dict[str, Any]:

    first = task.queries[0].row
    entry: dict[str, Any] = {
        "task_name": task.name,
        "global_description": first.get("task_description", ""),
        "global_images": media_list(first.get("global_media")),
        "example_info": {"image_paths": media_list(first.get("example_media")),
                         "example_text": first.get("example_text", "")},
        "query_response": [],
    }
    for q in task.queries:
        item: dict[str, Any] = {
            "response": q.response,
            "correct_answer": q.correct_answer,
            "global_idx": q.row.get("id"),
            "task_idx": q.query_idx,
            "query_idx": q.query_idx,
            "images": media_list(q.row.get("query_media")),
            "query_text": q.row.get("query_text", ""),
        }
        if with_scores and q.scores is not None:
            item["scores"] = q.scores
        entry["query_response"].append(item)
    return entry


def task_result(task: TaskRecord) -> TaskResult:
    num_demo = 1 if task.queries and (task.queries[0].row.get("example_text")
                                      or task.queries[0].row.get("example_media") not in (None, "", "[]")) else 0
    scores = [float(q.scores["query"]) if q.scores and q.scores.get("query") is not None else -1.0
              for q in task.queries]
    return TaskResult(task.name, task.eval_type, scores, num_demo=num_demo,
                      not_scored=sum(q.scores is None for q in task.queries), meta=task.meta)


def write_official_files(tasks: Sequence[TaskRecord], out_dir: str | Path) -> dict[str, str]:
    """Write the four official file kinds under ``out_dir``; returns their paths."""
    out = Path(out_dir)
    written: dict[str, str] = {}
    write_json(out / "all_query_responses.json", [_task_entry(t, False) for t in tasks])
    written["all_query_responses"] = str(out / "all_query_responses.json")
    results = {t.name: task_result(t) for t in tasks}
    for eval_type, label in (("rule", "core"), ("llm", "open")):
        group = [t for t in tasks if t.eval_type == eval_type]
        if not group:
            continue
        data = []
        for t in group:
            entry = _task_entry(t, True)
            r = results[t.name]
            if r.scored:
                entry.update(task_score=r.task_score, mean_task_score=r.mean_task_score, eval_type=eval_type)
            else:
                entry.update(eval_type=eval_type, not_scored=r.not_scored)
            data.append(entry)
        summary = model_summary(results[t.name] for t in group)
        write_json(out / f"data_with_scores_{label}.json", {"data": data, "summary": summary})
        written[f"data_with_scores_{label}"] = str(out / f"data_with_scores_{label}.json")
    scored = [r for r in results.values() if r.scored]
    write_json(out / "analysis" / "task_results.json", [
        {"name": r.name, "score": r.mean_task_score, "eval_type": r.eval_type, "num_demo": r.num_demo,
         "num_query": r.num_query} for r in scored])
    summary = model_summary(results.values())
    official_summary = {
        "model_summary": {
            "core": _leaderboard_stats(summary["core"]),
            "open": _leaderboard_stats(summary["open"]),
            "overall_score": summary["overall_score"],
        },
        "keyword_stats": keyword_stats(results.values()),
    }
    write_json(out / "analysis" / "summary_and_keyword_stats.json", official_summary)
    written["task_results"] = str(out / "analysis" / "task_results.json")
    written["summary_and_keyword_stats"] = str(out / "analysis" / "summary_and_keyword_stats.json")
    return written


def _leaderboard_stats(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {k: stats[k] for k in ("num_eval_tasks", "num_eval_samples", "macro_mean_score")}
