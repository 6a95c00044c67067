"""Re-create an evaluated item's images from its benchmark (report thumbnails).

Why here: analysis never imports benchmark code, so ``specs-eval report`` hands this to the
report as its image source. A generated benchmark re-creates the row from its id
(``Benchmark.regenerate``); any other needs the user's local copy (``--data BENCHMARK=PATH``).
"""

from __future__ import annotations

from typing import Any

from specs_eval.benchmarks import available, get_benchmark
from specs_eval.core.records import DatasetInfo


class BenchmarkImages:
    """``analysis.report.thumbs.ItemImages`` over the benchmark registry and local copies."""

    def __init__(self, data_paths: dict[str, str] | None = None) -> None:
        self.data_paths = dict(data_paths or {})
        self._rows: dict[tuple[str, str], dict[str, dict[str, Any]] | None] = {}

    def __call__(self, benchmark: str, split: str, item_id: str, variant: str, dataset: DatasetInfo | None
                 ) -> tuple[list[Any] | None, Any]:
        if benchmark not in available():
            return None, f"no thumbnail: unknown benchmark {benchmark!r}"
        bench = get_benchmark(benchmark)
        if benchmark in self.data_paths:
            rows = self._load(benchmark, split)
            if rows is None or item_id not in rows:
                return None, f"no thumbnail: {item_id} not found in --data for {benchmark}"
            row = rows[item_id]
        else:
            row = bench.regenerate(split, item_id, dataset)
            if isinstance(row, str) or row is None:
                return None, row or f"no thumbnail: pass --data {benchmark}=PATH to show images"
        return list(bench.build_prompt(row, variant).images), row

    def _load(self, benchmark: str, split: str) -> dict[str, dict[str, Any]] | None:
        key = (benchmark, split)
        if key not in self._rows:
            bench = get_benchmark(benchmark)
            try:
                loaded = bench.load(split, data=self.data_paths[benchmark])
                self._rows[key] = {bench.row_id(r): r for r in loaded.rows}
            except Exception:  # a thumbnail must never take the report down
                self._rows[key] = None
        return self._rows[key]


def benchmark_roles(benchmark: str) -> tuple[list[str], list[str]] | None:
    """Default ID/OOD roles from the registry (``analysis.gf.RolesProvider``, for runs that predate stored roles)."""
    if benchmark not in available():
        return None
    roles = get_benchmark(benchmark).split_roles()
    return (roles["id"], roles["ood"]) if roles else None


def report_sources(data_paths: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``ReportOptions`` fields that need benchmark code: thumbnails and the roles of older runs."""
    return {"item_images": BenchmarkImages(data_paths), "roles_fallback": benchmark_roles}
