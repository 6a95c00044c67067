"""Which metrics and parsers a MEGA-Bench copy uses, and which of them cannot run here.

Why: the closing question of a MEGA-Bench run is "did every core task get its
official score?". This counts, from the tasks' own ``metric_info``, how many tasks
use each metric, and flags metrics that are unknown or unavailable in this
environment (missing optional package, no judge, no geocoder, no NLI model).

    python -m specs_eval.benchmarks.megabench.coverage path/to/megabench_core.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from specs_eval.benchmarks.local import read_rows
from specs_eval.rules.megabench import registry
from specs_eval.rules.megabench.evaluate import literal_field


def metric_usage(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """metric id → {"tasks": n, "eval_types": {...}, "known": bool}, one count per task."""
    per_task: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = str(row.get("task_name"))
        if name in per_task:
            continue
        try:
            per_task[name] = literal_field(row.get("metric_info"), "metric_info")
        except ValueError:
            per_task[name] = {}
    usage: dict[str, dict[str, Any]] = defaultdict(lambda: {"tasks": 0, "core_tasks": 0, "open_tasks": 0})
    for info in per_task.values():
        et = registry.eval_type(info)
        metrics = {str(m).lower() for m in (info.get("field_score_function") or {}).values() if m is not None}
        metrics |= {str(m).lower() for m in (info.get("global_aux_metrics") or {}).values() if m is not None}
        for m in metrics:
            usage[m]["tasks"] += 1
            usage[m]["core_tasks" if et == "rule" else "open_tasks"] += 1
    out = {}
    for m, u in sorted(usage.items()):
        known = m == registry.UNSUPPORTED or m in registry.METRICS
        out[m] = {**u, "known": known, "needs": list(registry.METRICS[m].needs) if m in registry.METRICS else []}
    return out


def main(argv: list[str] | None = None) -> int:

    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print(__doc__)
        return 2
    print(json.dumps(metric_usage(read_rows(args[0])), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
