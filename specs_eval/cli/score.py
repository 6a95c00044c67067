"""``specs-eval score``: score saved outputs with no model loaded.

Why a separate command: scoring rules move MMMU by points; being able to rescore the same
generations under another profile (or another tool's generations under ours) is what
makes a number auditable. It goes through the same engine as ``specs-eval run``
(``run.scoring.score_generations`` / ``benchmark_results``) and writes a full run folder
(``manifest.json``, ``samples.jsonl``, ``results.json``), atomically, that ``specs-eval
report`` reads with provenance. Scoring another benchmark into the same ``--out`` adds it
to the run. Input problems (bad lines, unknown ids, ids without a prediction) are counted,
printed and stored in ``results.json`` under ``warnings``; ``--strict`` turns any of them
into a failure (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import click

from specs_eval.cli._options import fail_if_judge_stopped, judge_options, make_judge, program_option
from specs_eval.run.rescore import score_file


@click.command()
@click.option("--benchmark", "benchmark_name", required=True, help="benchmark name (see `specs-eval ls`)")
@click.option("--data", type=click.Path(exists=True, dir_okay=True), default=None,
              help="local copy of the split: the benchmark's hub snapshot, its HF cache folder, or a file with the "
                   "fields the scorer reads (MMMU: also the official answer_dict_<split>.json); default: the pinned "
                   "hub revision (docs/data.md)")
@click.option("--split", default=None, help="split (default: the benchmark's first default split)")
@click.option("--predictions", type=click.Path(exists=True, dir_okay=False), required=True,
              help='JSONL, one {"id", "response", "extraction"?} per line; ids are the benchmark\'s own')
@click.option("--profile", default=None,
              help="scoring profile(s), comma-separated; the first is the headline (default: the benchmark's "
                   "default; MathVista's and MathVerse's default `rules` is judge-free, not the official scorer: "
                   "see `specs-eval ls`)")
@click.option("--variant", default="official", show_default=True,
              help="prompt variant the responses answered (`specs` scores the SPECS answer view)")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="run folder to write; scoring another benchmark or split into it adds that to the run")
@click.option("--run-name", default=None, help="name shown in reports (default: the folder's name)")
@click.option("--model", "model_name", default=None,
              help="the model that wrote the responses, for provenance (default: the run name)")
@click.option("--strict", is_flag=True, help="fail on any skipped line, unknown id or missing prediction")
@click.option("--skip-bad-rows", is_flag=True,
              help="skip data rows that fail validation (counted in the warnings) instead of stopping")
@click.option("--allow-urls", is_flag=True, help="let data rows name images by http(s) URL")
@judge_options
@program_option
def score(benchmark_name: str, data: str | None, split: str | None, predictions: str, profile: str | None,
          variant: str, out_dir: str, run_name: str | None, model_name: str | None, strict: bool,
          skip_bad_rows: bool, allow_urls: bool, judge_url: str | None, judge_model: str | None, judge_key_env: str,
          judge_cache: str | None, judge_timeout: float) -> None:
    """Score a predictions file into the run folder OUT (manifest.json, samples.jsonl, results.json).

    \b
    Examples:
      specs-eval score --benchmark mathvista --data testmini.jsonl \\
          --predictions preds.jsonl --profile rules,official --out scored/qwen
      specs-eval score --benchmark mmmu --split validation --data val.jsonl \\
          --predictions mmmu-preds.jsonl --out scored/qwen      # adds MMMU to the same run
      specs-eval score --benchmark mmmu --split validation --data answer_dict_val.json \\
          --predictions parsed.jsonl --out scored-mmmu/      # the official answer file is enough
    """
    from specs_eval.benchmarks import datapaths

    datapaths.configure(skip_bad_rows=skip_bad_rows, allow_urls=allow_urls)
    judge = make_judge(judge_url, judge_model, judge_key_env, judge_cache, judge_timeout)
    summary = score_file(
        benchmark_name=benchmark_name, data=data, split=split, predictions=predictions, profile=profile,
        variant=variant, out_dir=Path(out_dir), strict=strict, run_name=run_name, model=model_name, judge=judge,
    )
    for w in summary.warnings:
        click.secho(f"warning: {w}", fg="yellow", err=True)
    m = summary.metrics
    acc = f"{m.accuracy:.2%}" if m.accuracy is not None else "n/a (nothing scored: answers withheld or no judge)"
    click.echo(
        f"{summary.benchmark} {summary.split} [{summary.profile}]: accuracy {acc} over {m.n_samples} "
        f"samples | parse failures {m.parse_failure_rate:.1%} | fallbacks {m.fallback_rate:.1%} "
        f"| truncated {m.truncation_rate:.1%} | errors {m.error_rate:.1%}"
    )
    if len(summary.profiles) > 1:
        click.echo(f"  also scored under: {', '.join(summary.profiles[1:])} (samples.jsonl → scores)")
    if len(summary.contents) > 1:
        click.echo(f"  the run now holds: {', '.join(f'{b}/{s}' for b, s in summary.contents)}")
    for path in summary.files:
        click.echo(f"wrote {path}")
    fail_if_judge_stopped(judge, out_dir)
