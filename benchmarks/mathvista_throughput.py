"""Rules-only MathVista scoring throughput on 100k real responses, and the ratio to lmms-eval.

Usage:
    PYTHONPATH=. python benchmarks/mathvista_throughput.py REAL_OUTPUTS_DIR [--n 100000]
        [--lmms-eval-src DIR]

Inputs: the 10 000 published MathVista responses in ``REAL_OUTPUTS_DIR`` (10 runs × 1000
testmini items), cycled to ``--n`` (row, response) pairs. Timed (single process):

* specs-eval ``rules`` profile per response: ``rules_extract`` + ``rules_normalize`` +
  ``safe_equal`` (the exact per-sample work of ``MathVista.score(..., "rules")`` minus
  the ``ScoreResult`` construction, which is also timed separately).
* lmms-eval 0.7.3 ``MathVistaEvaluator`` (``lmms_eval/tasks/mathvista/mathvista_evals.py``)
  per response: ``extract_answer`` + ``normalize_extracted_answer`` + ``safe_equal``, with
  its GPT call (``get_chat_response``) replaced by a stub returning ``""``: the network
  round trip lmms-eval needs for almost every non-trivial response is *excluded*, so this
  ratio flatters lmms-eval. ``--lmms-eval-src`` points at a folder holding the
  ``lmms_eval`` package (e.g. the 0.7.3 wheel unzipped); its heavy imports (``loguru``,
  ``Levenshtein``, ``lmms_eval.llm_judge``) are stubbed so only the scoring functions load.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import types
from pathlib import Path
from typing import Any

from specs_eval.benchmarks.mathvista import MathVista
from specs_eval.core.records import Response
from specs_eval.rules import answers
from specs_eval.rules import mathvista as mv


def load_pairs(real: Path, n: int) -> list[tuple[dict[str, Any], str]]:
    rows = {r["pid"]: r for r in map(json.loads, (real / "mathvista_testmini.jsonl").open(encoding="utf-8"))}
    base = []
    for f in sorted((real / "mathvista_predictions").glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            p = json.loads(line)
            base.append((rows[p["id"]], p["response"]))
    return [base[i % len(base)] for i in range(n)]


def time_specs(pairs: list[tuple[dict[str, Any], str]]) -> float:
    t0 = time.perf_counter()
    for row, text in pairs:
        pred = mv.rules_normalize(mv.rules_extract(text, row)[0], row)
        answers.safe_equal(pred, row["answer"])
    return len(pairs) / (time.perf_counter() - t0)


def time_specs_full(pairs: list[tuple[dict[str, Any], str]]) -> float:
    bench = MathVista()
    rows = [r for r, _ in pairs]
    responses = [Response(id=r["pid"], text=t) for r, t in pairs]
    t0 = time.perf_counter()
    bench.score(rows, responses, "rules")
    return len(pairs) / (time.perf_counter() - t0)


def load_lmms_evaluator(src: Path) -> Any:
    from rapidfuzz.distance import Levenshtein

    lev = types.ModuleType("Levenshtein")
    lev.distance = Levenshtein.distance  # type: ignore[attr-defined]
    loguru = types.ModuleType("loguru")
    loguru.logger = types.SimpleNamespace(info=lambda *a, **k: None, error=lambda *a, **k: None,  # type: ignore[attr-defined]
                                          warning=lambda *a, **k: None, debug=lambda *a, **k: None)
    judge = types.ModuleType("lmms_eval.llm_judge")
    judge.Request = judge.ServerConfig = lambda *a, **k: None  # type: ignore[attr-defined]
    judge.get_server = lambda *a, **k: None  # type: ignore[attr-defined]
    for name, mod in {"Levenshtein": lev, "loguru": loguru, "lmms_eval": types.ModuleType("lmms_eval"),
                      "lmms_eval.llm_judge": judge}.items():
        sys.modules.setdefault(name, mod)
    path = src / "lmms_eval" / "tasks" / "mathvista" / "mathvista_evals.py"
    spec = importlib.util.spec_from_file_location("lmms_mathvista_evals", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    evaluator = object.__new__(module.MathVistaEvaluator)
    evaluator.get_chat_response = lambda *a, **k: ""  # the GPT call, excluded from the timing
    return evaluator


def time_lmms(evaluator: Any, pairs: list[tuple[dict[str, Any], str]]) -> float:
    t0 = time.perf_counter()
    for row, text in pairs:
        extraction = evaluator.extract_answer(text, row)
        try:
            pred = evaluator.normalize_extracted_answer(extraction, row["choices"], row["question_type"],
                                                        row["answer_type"], row["precision"])
        except Exception:  # lmms-eval's own code may assert; count the work anyway
            pred = None
        evaluator.safe_equal(pred, row["answer"])
    return len(pairs) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("real_outputs", type=Path)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--lmms-eval-src", type=Path, default=None)
    args = ap.parse_args(argv)
    pairs = load_pairs(args.real_outputs, args.n)
    chars = sum(len(t) for _, t in pairs) / len(pairs)
    print(f"{len(pairs)} responses (mean {chars:.0f} characters), one process")
    specs = time_specs(pairs)
    print(f"specs-eval rules extract+normalise+compare: {specs:,.0f} responses/s")
    print(f"specs-eval MathVista.score(profile='rules'):  {time_specs_full(pairs):,.0f} responses/s")
    if args.lmms_eval_src is not None:
        lmms = time_lmms(load_lmms_evaluator(args.lmms_eval_src), pairs)
        print(f"lmms-eval 0.7.3 extract (GPT call stubbed) + normalise + compare: {lmms:,.0f} responses/s")
        print(f"ratio specs-eval / lmms-eval (CPU only, lmms-eval's GPT latency excluded): {specs / lmms:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
