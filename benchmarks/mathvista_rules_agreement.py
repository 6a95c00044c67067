"""Agreement of the MathVista ``rules`` profile with the published LLM extractions.

Usage:
    PYTHONPATH=. python benchmarks/mathvista_rules_agreement.py REAL_OUTPUTS_DIR [--show N]

``REAL_OUTPUTS_DIR`` holds ``mathvista_testmini.jsonl`` and ``mathvista_predictions/*.jsonl``
(``{"id", "response", "extraction"}``; the extraction is the MathVista authors' GPT-4 answer
extraction). For every response we compare

* prediction agreement: the ``rules`` normalised prediction equals the official
  normalisation of the published extraction (Levenshtein fallback included);
* verdict agreement: both say correct, or both say wrong;
* accuracy under each (official-with-published-extraction vs rules).

Nothing is written; numbers are printed as a Markdown table for docs/scoring.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from specs_eval.rules import answers
from specs_eval.rules import mathvista as mv


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("real_outputs", type=Path)
    ap.add_argument("--show", type=int, default=0, help="print N disagreements per run")
    args = ap.parse_args(argv)
    rows = {r["pid"]: r for r in map(json.loads, (args.real_outputs / "mathvista_testmini.jsonl").open())}
    files = sorted((args.real_outputs / "mathvista_predictions").glob("*.jsonl"))
    if not files:
        print("no prediction files found", file=sys.stderr)
        return 2
    print("| run | n | prediction agreement | verdict agreement | acc (official, published extraction) "
          "| acc (rules) | rules parse failures |")
    print("|---|---|---|---|---|---|---|")
    tot = [0, 0, 0]
    for f in files:
        n = agree = same = c_off = c_rules = failed = 0
        shown = 0
        for line in f.open(encoding="utf-8"):
            p = json.loads(line)
            row = rows[p["id"]]
            ext, method = mv.rules_extract(p["response"], row)
            pred = mv.rules_normalize(ext, row)
            ref = mv.official_normalize(p["extraction"], row)
            ok_rules = answers.safe_equal(pred, row["answer"])
            ok_off = answers.safe_equal(ref, row["answer"])
            n += 1
            agree += pred == ref
            same += ok_rules == ok_off
            c_off += ok_off
            c_rules += ok_rules
            failed += pred is None
            if pred != ref and shown < args.show:
                shown += 1
                print(f"  [{f.stem} pid={p['id']}] rules={pred!r} ({method}) llm={p['extraction']!r}->{ref!r} "
                      f"| {p['response'][-160:]!r}", file=sys.stderr)
        tot[0] += n
        tot[1] += agree
        tot[2] += same
        print(f"| {f.stem} | {n} | {agree / n:.1%} | {same / n:.1%} | {c_off / n:.1%} | {c_rules / n:.1%} "
              f"| {failed / n:.1%} |")
    print(f"| **all** | {tot[0]} | {tot[1] / tot[0]:.1%} | {tot[2] / tot[0]:.1%} | | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
