"""MMMU validation accuracy of saved outputs under every profile (official breakdown for `official`).

Usage:
    PYTHONPATH=. python benchmarks/mmmu_profiles.py REAL_OUTPUTS_DIR

``REAL_OUTPUTS_DIR`` holds ``mmmu_val.jsonl`` (scoring fields of the 900 validation rows) and
``mmmu_predictions/<model>.jsonl`` (``{"id", "response"}``, the MMMU repository's example
outputs). Prints overall accuracy, parse failures and fallbacks per profile, and the
official subject → discipline → overall layout of the ``official`` profile.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from specs_eval.benchmarks.mmmu import MMMU
from specs_eval.core.records import Response
from specs_eval.rules import mmmu as rules


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("real_outputs", type=Path)
    args = ap.parse_args(argv)
    rows = [json.loads(x) for x in (args.real_outputs / "mmmu_val.jsonl").open(encoding="utf-8")]
    for r in rows:
        r.setdefault("question", "")
    bench = MMMU()
    for f in sorted((args.real_outputs / "mmmu_predictions").glob("*.jsonl")):
        preds = {p["id"]: p["response"] for p in map(json.loads, f.open(encoding="utf-8"))}
        scored = [r for r in rows if r["id"] in preds]  # file order of the answer file = official order
        responses = [Response(id=r["id"], text=preds[r["id"]]) for r in scored]
        print(f"## {f.stem} ({len(scored)} items)")
        print("| profile | accuracy | parse failures | fallbacks |\n|---|---|---|---|")
        for profile in bench.profiles:
            res = bench.score(scored, responses, profile)
            c = Counter(x.parse_status for x in res)
            print(f"| {profile} | {sum(x.correct for x in res) / len(res):.2%} | {c['failed'] + c['empty']} "
                  f"| {c['fallback']} |")
        res = bench.score(scored, responses, "official")
        per: dict[str, list[int]] = {}
        for r, x in zip(scored, res, strict=True):
            cell = per.setdefault(rules.subject_of(r["id"]) or "?", [0, 0])
            cell[0] += int(x.correct)
            cell[1] += 1
        layout = rules.official_layout({k: (v[0], v[1]) for k, v in per.items()})
        print("\n| official: discipline | n | acc |\n|---|---|---|")
        for d, v in layout["disciplines"].items():
            print(f"| {d} | {v['num']} | {v['acc']:.3f} |")
        print(f"| **Overall** | {layout['Overall']['num']} | {layout['Overall']['acc']:.3f} |\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
