"""Score one lmms-eval document with specs-eval's own scorer (called by exported tasks' ``utils.py``).

Why here and not in the generated file: the generated ``utils.py`` stays a few lines that name
the benchmark, variant and profile; the scoring is the same ``score_generations`` path that
``specs-eval run`` uses (answer view for the ``specs`` variant, format check, profiles), so a
document's verdict under lmms-eval equals its verdict in our run. Scorers batch-shaped on
purpose (MMMU's seeded random fallback depends on file order) see one document at a time here;
for the toy world and every rule that does not depend on order the verdicts are identical.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from specs_eval.benchmarks.base import Benchmark


@lru_cache(maxsize=8)
def _benchmark(name: str) -> Benchmark:
    from specs_eval.benchmarks import get_benchmark

    return get_benchmark(name)


def score_doc(benchmark: str, variant: str, profile: str, doc: dict[str, Any], response: str) -> dict[str, Any]:
    """Our verdict on ``response`` for an exported document: score, correct, format_ok, parse_status, id."""
    from specs_eval.core.records import GenerationRecord
    from specs_eval.run.scoring import score_generations

    bench = _benchmark(benchmark)
    row = json.loads(doc["specs_row"])
    rid = bench.row_id(row)
    text = response if isinstance(response, str) else ("" if response is None else str(response))
    gen = GenerationRecord(benchmark=benchmark, split=str(doc.get("specs_split", "")), id=rid, doc_hash="",
                           prompt_hash="", prompt="", response=text)
    [sample] = score_generations(bench, {rid: row}, [gen], variant, [profile])
    return {"id": rid, "score": float(sample.score), "correct": bool(sample.correct), "format_ok": sample.format_ok,
            "parse_status": sample.parse_status, "prediction": sample.prediction}
