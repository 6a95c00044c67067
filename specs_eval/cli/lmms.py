"""``specs-eval export-lmms-eval``: write a benchmark split as an lmms-eval task folder."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="export-lmms-eval")
@click.option("--benchmark", "-b", default="toyworld", show_default=True)
@click.option("--split", "-s", required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="task folder to write")
@click.option("--limit", type=click.IntRange(min=1), help="first N rows only")
@click.option("--data", type=click.Path(exists=True), help="local data in the benchmark's schema")
@click.option("--prompt-variant", default="official", show_default=True)
@click.option("--profile", help="scoring profile process_results uses (default: the benchmark's)")
@click.option("--max-new-tokens", type=click.IntRange(min=1), help="default: the benchmark's own")
@click.option("--task-name", help="lmms-eval task name (default: specs_<benchmark>_<split>)")
@click.option("--seed", type=int, default=0, show_default=True)
def export_lmms_eval(benchmark, split, out, limit, data, prompt_variant, profile, max_new_tokens, task_name,
                     seed) -> None:
    """Write OUT/<task>.yaml, OUT/utils.py and OUT/data/ for `lmms_eval --include_path OUT`.

    \b
    Example:
      specs-eval export-lmms-eval --benchmark toyworld --split id --out lmms_tasks/
      python -m lmms_eval --model specs_eval --model_args model=tiny-base --tasks specs_toyworld_id \\
          --include_path lmms_tasks/ --log_samples --output_path lmms_out/ --verbosity DEBUG
    """
    from specs_eval.lmms.export import export_lmms_eval as export

    path = export(benchmark, split, out, limit=limit, variant=prompt_variant, profile=profile, data=data, seed=seed,
                  max_new_tokens=max_new_tokens, name=task_name)
    task = path.stem
    click.echo(f"wrote {path} (task {task}); run it with:")
    click.echo(f"  python -m lmms_eval --model specs_eval --model_args model=MODEL --tasks {task} "
               f"--include_path {path.parent} --log_samples --output_path OUT --verbosity DEBUG")
