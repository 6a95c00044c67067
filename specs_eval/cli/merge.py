"""``specs-eval merge RUN_DIR``: combine data-parallel shard logs into one scored run."""

from __future__ import annotations

from pathlib import Path

import click

from specs_eval.cli._options import judge_options, make_judge, program_option
from specs_eval.cli.tables import print_results, write_run_report
from specs_eval.core.records import RunResults
from specs_eval.run.merge import merge_shards


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--no-report", is_flag=True)
@judge_options
@program_option
def merge(run_dir: Path, no_report: bool, judge_url, judge_model, judge_key_env, judge_cache, judge_timeout) -> None:
    """Merge RUN_DIR/shard-i-of-n into RUN_DIR (same files as a single-process run)."""
    from rich.console import Console

    console = Console()
    judge = make_judge(judge_url, judge_model, judge_key_env, judge_cache, judge_timeout)
    merge_shards(run_dir, log=lambda s: console.print(f"[dim]{s}[/dim]"), judge=judge)
    results = RunResults.model_validate_json((run_dir / "results.json").read_text())
    print_results(results, console, title=str(run_dir))
    if not no_report:
        console.print(f"report: {write_run_report([run_dir], run_dir / 'report.html')}")
