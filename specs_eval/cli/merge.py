"""``specs-eval merge``: combine data-parallel shard logs into one scored run, or finished run
folders (e.g. a model's MathVista and MMMU score folders) into one run."""

from __future__ import annotations

from pathlib import Path

import click

from specs_eval.cli._options import fail_if_judge_stopped, judge_options, make_judge, program_option
from specs_eval.cli.tables import print_results, write_run_report
from specs_eval.core.records import RunResults
from specs_eval.run.merge import merge_runs, merge_shards


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Combine the given run folders into this new run folder (they must hold disjoint splits).")
@click.option("--run-name", help="Name of the combined run in reports (default: the --out folder's name).")
@click.option("--no-report", is_flag=True)
@judge_options
@program_option
def merge(run_dirs: tuple[Path, ...], out: Path | None, run_name: str | None, no_report: bool, judge_url, judge_model,
          judge_key_env, judge_cache, judge_timeout) -> None:
    """Merge RUN_DIR/shard-i-of-n into RUN_DIR (same files as a single-process run), or, with --out,
    combine several finished run or score folders of one model into one run.

    \b
    Examples:
      specs-eval merge runs/qwen                                   # data-parallel shards
      specs-eval merge scored/qwen-mathvista scored/qwen-mmmu --out scored/qwen
    """
    from rich.console import Console

    console = Console()
    if out is None:
        if len(run_dirs) != 1:
            raise click.UsageError("give one RUN_DIR to merge its shards, or several with --out DEST to combine them")
        run_dir = run_dirs[0]
        judge = make_judge(judge_url, judge_model, judge_key_env, judge_cache, judge_timeout)
        merge_shards(run_dir, log=lambda s: console.print(f"[dim]{s}[/dim]"), judge=judge)
    else:
        run_dir = merge_runs(list(run_dirs), out, run_name=run_name, log=lambda s: console.print(f"[dim]{s}[/dim]"))
    results = RunResults.model_validate_json((run_dir / "results.json").read_text())
    print_results(results, console, title=str(run_dir))
    if not no_report:
        console.print(f"report: {write_run_report([run_dir], run_dir / 'report.html')}")
    if out is None:
        fail_if_judge_stopped(judge, run_dir)
