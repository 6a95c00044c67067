"""``specs-eval import``: convert lmms-eval / VLMEvalKit per-sample outputs into a predictions file.

Why: rescoring another tool's generations under our profiles (and theirs) is how a score
disagreement becomes a per-sample table instead of an argument.
"""

from __future__ import annotations

from pathlib import Path

import click

from specs_eval.benchmarks import get_benchmark
from specs_eval.core.io import atomic_write_jsonl
from specs_eval.run.importers import import_lmms_eval, import_vlmevalkit


@click.command(name="import")
@click.argument("source", type=click.Choice(["lmms-eval", "vlmevalkit"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--benchmark", "benchmark_name", required=True, help="benchmark whose ids the file uses")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="predictions JSONL to write")
def import_(source: str, path: str, benchmark_name: str, out_path: str) -> None:
    """Write OUT as {"id", "response", "extraction"?} lines for `specs-eval score`.

    \b
    Examples:
      specs-eval import lmms-eval logs/..._samples_mmmu_val.jsonl --benchmark mmmu --out preds.jsonl
      specs-eval import vlmevalkit Qwen2-VL_MathVista_MINI.xlsx --benchmark mathvista --out preds.jsonl
      specs-eval import vlmevalkit Qwen2-VL_MathVista_MINI_gpt-4o-mini.xlsx --benchmark mathvista --out p.jsonl
        # a judged file: its `res` column becomes each line's extraction (score --profile official uses it)

    .xlsx files need openpyxl: pip install 'specs-eval[interop]'.
    """
    id_field = get_benchmark(benchmark_name).id_field
    if source == "lmms-eval":
        preds, problems = import_lmms_eval(path, id_field)
        skipped = problems
    else:
        preds, problems = import_vlmevalkit(path, id_field, benchmark_name)
        skipped = [p for p in problems if "imported without" not in p]
    for p in problems:
        click.secho(("note: " if p not in skipped else "skipped ") + p, fg="yellow", err=True)
    atomic_write_jsonl(Path(out_path), preds)
    judged = sum(1 for p in preds if "extraction" in p)
    click.echo(f"wrote {len(preds)} predictions to {out_path} ({len(skipped)} skipped"
               + (f"; {judged} with the judge's extraction" if judged else "") + ")")
