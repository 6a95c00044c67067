"""``specs-eval run``: evaluate one or more models on benchmark splits.

With no arguments it runs the embedded default — the shipped tiny base model on the
toy world's ID and three OOD splits, greedy, on CPU, offline — so a newcomer sees the
whole loop (generate → per-sample log → score → results → report) in about a minute.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from specs_eval.backends.base import backend_class
from specs_eval.cli._options import backend_options, judge_options, program_option
from specs_eval.core.clikit import config_option, configure_logging
from specs_eval.core.records import GenerationSettings, TaskSpec

DEFAULT_MODEL = "tiny-base"
DEFAULT_BENCHMARK = "toyworld"


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        i, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise click.BadParameter("use the form i/n, e.g. 0/2") from None
    if not (n >= 1 and 0 <= i < n):
        raise click.BadParameter(f"shard {value}: need 0 <= i < n")
    return (i, n)


@click.command()
@config_option
@click.option("--model", "-m", "models", multiple=True, default=[DEFAULT_MODEL], show_default=True,
              help="Shipped model name, local folder or HF id (repeatable: one run per model).")
@click.option("--benchmark", "-b", "benchmarks", multiple=True, default=[DEFAULT_BENCHMARK], show_default=True,
              help="Benchmark name (repeatable). See `specs-eval ls`.")
@click.option("--split", "-s", "splits", multiple=True,
              help="Split(s) to evaluate (repeatable; default: the benchmark's ID and OOD splits).")
@click.option("--data", "data_args", multiple=True, metavar="[BENCHMARK=]PATH",
              help="Local data instead of the pinned hub revision / generator: the benchmark's hub snapshot as "
                   "downloaded, its HF cache folder, or a file/folder in its schema (docs/data.md). Repeatable: "
                   "BENCHMARK=PATH per benchmark; a plain PATH when one benchmark is run.")
@click.option("--skip-bad-rows", is_flag=True,
              help="Skip rows that fail validation (counted with the reason in the manifest) instead of stopping.")
@click.option("--allow-urls", is_flag=True, help="Let data rows name images by http(s) URL (fetched; never offline).")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N rows of each split.")
@click.option("--prompt-variant", default="official", show_default=True,
              help="official | specs | a format shift: answer_line, json, direct (see `specs-eval ls`)")
@click.option("--study", "study_spec", metavar="SPEC",
              help="Evaluate a GF study's ID and OOD sets (a shipped spec name or a YAML file; docs/metrics.md). "
                   "Replaces --benchmark/--split; the roles go into the manifest, so `specs-eval report` computes Γ.")
@click.option("--id", "id_sets", metavar="SETS",
              help="Short form of a study: ID sets BENCHMARK:SPLIT[@VARIANT], comma-separated (with --ood).")
@click.option("--ood", "ood_sets", metavar="SETS",
              help="OOD sets of the short form, e.g. mathvista:testmini@json,mmmu:validation.")
@click.option("--ood-weight", "ood_weights", multiple=True, metavar="SET=W",
              help="Weight α of an OOD set of the short form (default 1).")
@click.option("--profile", help="Scoring profile(s), comma-separated; the first is the headline. MathVista's and "
                                "MathVerse's default `rules` is judge-free, not the official scorer (`specs-eval ls`).")
@click.option("--backend", default="hf", show_default=True, help="Generation backend: hf | openai | vllm.")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(min=1), help="Default: the benchmark's own.")
@click.option("--temperature", type=click.FloatRange(min=0.0), default=0.0, show_default=True)
@click.option("--top-p", type=click.FloatRange(0.0, 1.0, min_open=True), default=1.0, show_default=True)
@click.option("--top-k", type=click.IntRange(min=1))
@click.option("-n", "--samples", "n", type=click.IntRange(min=1), default=1, show_default=True,
              help="Samples per prompt (pass@k needs n > 1 and --temperature > 0).")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option("--data-seed", type=int, default=0, show_default=True,
              help="Seed of generated benchmarks (the toy world's items); independent of --seed.")
@click.option("--token-stats", is_flag=True, help="Record per-token entropy and top-p nucleus size (RBF).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
@click.option("--run-name", help="Run directory name (default: from the model name).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory with a different config.")
@click.option("--shard", help="Data-parallel shard i/n: this process evaluates every n-th row from i.")
@click.option("--dp", type=click.IntRange(min=1), default=1, show_default=True,
              help="Data-parallel replicas: N shard processes of this command (one GPU group each), merged at the end.")
@backend_options
@click.option("--no-report", is_flag=True, help="Skip writing report.html.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; log errors only.")
@click.option("--retry-errors/--no-retry-errors", default=True, show_default=True,
              help="On a rerun, generate the samples that failed (finish_reason error) again.")
@click.option("--allow-errors", is_flag=True,
              help="Exit 0 even when samples have no prompt (missing image files…), failed to generate, or a split "
                   "failed entirely (they are warnings in results.json and the report either way).")
@judge_options
@program_option
@click.option("--judge-max-failures", type=click.IntRange(min=1), default=3, show_default=True,
              help="Stop calling the judge after this many failed calls in a row, and fail the run.")
def run(models, benchmarks, splits, data_args, skip_bad_rows, allow_urls, limit, prompt_variant, study_spec, id_sets,
        ood_sets, ood_weights, profile, backend, batch_size, max_new_tokens, temperature, top_p, top_k, n, seed,
        data_seed, token_stats, out, run_name, overwrite, shard, dp, no_report, quiet, retry_errors, allow_errors,
        judge_url, judge_model, judge_key_env, judge_cache, judge_timeout, judge_max_failures, **values) -> None:
    """Evaluate model(s) on benchmark splits; write samples.jsonl, results.json and report.html.

    \b
    Examples:
      specs-eval run                                   # the embedded default (CPU, offline)
      specs-eval run -m ./my-ckpt -s id -s ood_format --limit 50
      specs-eval run -m Qwen/Qwen2.5-VL-7B-Instruct -b mathvista -s testmini --device cuda
      specs-eval run -m MODEL -b mathvista -b mmmu --data mathvista=./MathVista --data mmmu=./MMMU
      specs-eval run --temperature 1.0 -n 8 --token-stats   # pass@k and RBF
      specs-eval run -m Qwen/Qwen2.5-VL-72B-Instruct --backend vllm --tp 4 --dp 2 -b mathvista -s testmini
      specs-eval run --backend openai --base-url http://127.0.0.1:8000/v1 -m MODEL --concurrency 16
      specs-eval run -m ./ckpt --study toy-format                # a GF study's sets, roles in the manifest
      specs-eval run -m ./ckpt --prompt-variant specs --id mathvista:testmini \\
          --ood mathvista:testmini@json,mmmu:validation
      specs-eval run --config eval.yaml --limit 10     # options from YAML; flags override

    Exit status: 0 when every sample was generated and scored; 1 when samples have no prompt, failed to
    generate, or a split failed entirely (unless --allow-errors); 2 for errors that stop the run; 130 on Ctrl-C.
    """
    from rich.console import Console

    from specs_eval.benchmarks import get_benchmark
    from specs_eval.cli.tables import print_results
    from specs_eval.run.engine import RunConfig

    console = Console(stderr=True, quiet=quiet)
    out_console = Console()
    if quiet:
        configure_logging(-1)
    if n > 1 and temperature <= 0:
        raise click.UsageError("-n > 1 needs sampling: pass --temperature > 0")
    from specs_eval.run.merge import shard_from_env

    shard_t = _parse_shard(shard)
    launched = shard_t is None and shard_from_env() is not None
    if launched:  # started by accelerate launch / torchrun: one shard per process
        shard_t = shard_from_env()
    from specs_eval.benchmarks import datapaths

    datapaths.configure(skip_bad_rows=skip_bad_rows, allow_urls=allow_urls)
    tasks: list[TaskSpec] = []
    max_tokens = 0
    study = _study(click.get_current_context(), study_spec, id_sets, ood_sets, ood_weights, prompt_variant)
    data_paths = parse_data_args(data_args, tuple(study.benchmarks()) if study is not None else benchmarks)
    if study is not None:
        from specs_eval.benchmarks.study import study_tasks

        tasks = study_tasks(study, profile=profile, data=data_paths, data_seed=data_seed, limit=limit)
        max_tokens = max(get_benchmark(b).default_max_new_tokens for b in study.benchmarks())
    for b in benchmarks if study is None else ():
        data = data_paths.get(b)
        bench = get_benchmark(b)
        bench.check_variant(prompt_variant)
        bench_splits = splits or bench.default_splits
        if not bench_splits:
            raise click.UsageError(f"benchmark {b!r} has no default split: pass --split")
        for s in bench_splits:
            bench.check_split(s)
            tasks.append(TaskSpec(benchmark=b, split=s, prompt_variant=prompt_variant, profile=profile, limit=limit,
                                  data=str(data) if data else None, data_seed=data_seed))
        max_tokens = max(max_tokens, bench.default_max_new_tokens)
    settings = GenerationSettings(
        max_new_tokens=max_new_tokens or max_tokens, temperature=temperature, top_p=top_p, top_k=top_k, n=n,
        seed=seed, batch_size=batch_size, record_token_stats=token_stats,
    )
    cls = backend_class(backend)
    if launched and values.get("device") == "cuda" and os.environ.get("LOCAL_RANK") is not None:
        values["device"] = f"cuda:{os.environ['LOCAL_RANK']}"  # one GPU per launched shard
    backend_options = cls.resolve_options({o.name: values[o.param] for o in cls.options}, out)
    for model in models:
        cls.check_model(model)  # fail before any work on a model that cannot exist
    from specs_eval.run.judges import judge_from_options

    judge = judge_from_options(judge_url, judge_model, judge_key_env, judge_cache, judge_timeout, judge_max_failures)
    if dp > 1:
        if shard_t is not None:
            raise click.UsageError("--dp starts its own shard processes: do not combine it with --shard, "
                                   "accelerate launch or torchrun")
        problems = _run_data_parallel(models, tasks, settings, backend, backend_options, out, run_name, overwrite,
                                      dp, values["tp"], no_report, console, out_console, judge, study)
        _exit_on_problems(problems, allow_errors)
        return
    run_dirs = []
    problems: list[str] = []
    for model in models:
        config = RunConfig(model=model, tasks=tasks, generation=settings, backend=backend,
                           backend_options=backend_options, out=out,
                           run_name=run_name if len(models) == 1 else None, overwrite=overwrite, shard=shard_t,
                           judge=judge, study=study, retry_errors=retry_errors)
        outcome = _run_with_progress(config, console)
        own = [f"{outcome.run_dir.name}: {p}" for p in outcome.problems]
        if shard_t is not None:
            from specs_eval.run.merge import merge_shards, wait_for_shards

            parent = outcome.run_dir.parent
            if not launched or shard_t[0] != 0:
                problems.extend(own)
                if not launched:
                    console.print(f"shard {shard_t[0]}/{shard_t[1]} done; when all are, run: specs-eval merge {parent}")
                continue
            wait_for_shards(parent, shard_t[1], log=console.print)
            merge_shards(parent, log=console.print, judge=judge)
            from specs_eval.core.records import RunResults
            from specs_eval.run.engine import run_dir_problems

            own = [f"{parent.name}: {p}" for p in run_dir_problems(parent)]
            outcome.results = RunResults.model_validate_json((parent / "results.json").read_text())
            outcome.run_dir = parent
        problems.extend(own)
        run_dirs.append(outcome.run_dir)
        for line in dataset_warnings(outcome.manifest.datasets, limited=limit is not None):
            click.secho(f"warning: {line}", fg="yellow", err=True)  # shown even with --quiet
        print_results(outcome.results, out_console, title=f"{outcome.manifest.model.name}  ({outcome.run_dir})")
        if settings.n > 1:
            from specs_eval.cli.tables import passk_table

            pk = passk_table(outcome.run_dir)
            if pk is not None:
                out_console.print(pk)
        if not no_report:
            from specs_eval.cli.tables import write_run_report

            report = write_run_report([outcome.run_dir], outcome.run_dir / "report.html")
            console.print(f"report: {report}")
        retried = f" ({outcome.retried} of them failed before)" if outcome.retried else ""
        console.print(
            f"[dim]{outcome.generated} generated{retried}, {outcome.resumed} resumed from the log, "
            f"wall {outcome.manifest.wall_s:.1f} s[/dim]"
        )
    if len(run_dirs) > 1 and not no_report and shard_t is None:
        from specs_eval.cli.tables import write_run_report

        cmp = write_run_report(run_dirs, Path(out) / "comparison.html")
        console.print(f"comparison report: {cmp}")
    _exit_on_problems(problems, allow_errors)


def _exit_on_problems(problems: list[str], allow_errors: bool) -> None:
    """Numbers made of failures must not pass as results: exit 1 unless the user accepts them."""
    if not problems:
        return
    if allow_errors:
        click.secho(f"{len(problems)} problem(s) accepted (--allow-errors); see the warnings above", fg="yellow",
                    err=True)
        return
    click.secho(f"error: {len(problems)} problem(s) make these numbers unreliable:", fg="red", err=True)
    for p in problems:
        click.secho(f"  {p}", fg="red", err=True)
    click.secho("fix them and run the same command again (failed samples are generated again), or pass "
                "--allow-errors to accept them", fg="red", err=True)
    sys.exit(1)


def parse_data_args(values: tuple[str, ...], benchmarks: tuple[str, ...]) -> dict[str, str]:
    """``--data`` values → benchmark → path. ``BENCHMARK=PATH`` names its benchmark; a plain ``PATH`` is only
    unambiguous when one benchmark is run."""
    from specs_eval.benchmarks import available

    out: dict[str, str] = {}
    plain: list[str] = []
    for v in values:
        name, sep, rest = v.partition("=")
        if sep and name in available():
            if name not in benchmarks:
                raise click.BadParameter(f"{v!r}: benchmark {name!r} is not run (pass -b {name})", param_hint="--data")
            if name in out:
                raise click.BadParameter(f"two paths for {name}", param_hint="--data")
            out[name] = rest
        else:
            plain.append(v)
    if plain:
        if len(plain) > 1 or len(benchmarks) > 1:
            raise click.BadParameter("with several benchmarks or paths, give one BENCHMARK=PATH per benchmark, e.g. "
                                     "--data mathvista=./MathVista --data mmmu=./MMMU", param_hint="--data")
        if benchmarks[0] in out:
            raise click.BadParameter(f"two paths for {benchmarks[0]}", param_hint="--data")
        out[benchmarks[0]] = plain[0]
    for name, path in out.items():
        if not Path(path).exists():
            raise click.BadParameter(f"{name}: path {path!r} does not exist", param_hint="--data")
    return out


def dataset_warnings(datasets, limited: bool = False) -> list[str]:
    """One line per thing a reader of the numbers should know about the data (subset, revision, skips)."""
    lines = []
    for d in datasets:
        head = f"{d.benchmark} {d.split}"
        if not limited and d.expected_rows is not None and d.rows != d.expected_rows and d.source != "hf":
            lines.append(f"{head}: {d.rows} rows, the published split has {d.expected_rows}")
        lines += [f"{head}: {note}" for note in d.notes]
    return lines


def _run_data_parallel(models, tasks, settings, backend, backend_options, out, run_name, overwrite, dp, tp,
                       no_report, console, out_console, judge=None, study=None) -> list[str]:
    """``--dp N``: N shard processes of this very command, then the deterministic merge per model."""
    from specs_eval.cli.tables import print_results, write_run_report
    from specs_eval.core.records import RunResults
    from specs_eval.run.engine import RunConfig, run_dir_problems
    from specs_eval.run.launch import launch_data_parallel
    from specs_eval.run.merge import merge_shards

    argv = sys.argv[sys.argv.index("run") + 1:] if "run" in sys.argv else None
    if argv is None:
        raise click.UsageError("--dp re-runs the command line; call it as `specs-eval run …`")
    dirs = [Path(out) / RunConfig(model=m, tasks=tasks, generation=settings, backend=backend, study=study,
                                  run_name=run_name if len(models) == 1 else None).resolved_name() for m in models]
    console.print(f"data parallel: {dp} shard processes" + (f" x {tp} GPUs" if tp > 1 else ""))
    from contextlib import ExitStack

    from specs_eval.core.io import FolderLock

    with ExitStack() as locks:  # one `--dp` command per run folder (each shard process locks its own shard folder)
        for d in dirs:
            locks.enter_context(FolderLock(d, what="`specs-eval run --dp`"))
        launch_data_parallel(["run", *argv], dp, tp, log_dir=dirs[0] / "dp-logs", log=console.print)
        for d in dirs:
            merge_shards(d, log=lambda s: console.print(f"[dim]{s}[/dim]"), judge=judge)
            results = RunResults.model_validate_json((d / "results.json").read_text())
            print_results(results, out_console, title=f"{results.model}  ({d})")
            if not no_report:
                console.print(f"report: {write_run_report([d], d / 'report.html')}")
    return [f"{d.name}: {p}" for d in dirs for p in run_dir_problems(d)]


def _study(ctx: click.Context, spec: str | None, id_sets: str | None, ood_sets: str | None,
           ood_weights: tuple[str, ...], prompt_variant: str):
    """The GF study of ``--study`` or ``--id``/``--ood`` (None without either), checked against the registry."""
    from click.core import ParameterSource

    from specs_eval.benchmarks.study import load_spec, parse_spec
    from specs_eval.core.study import spec_from_refs

    short = bool(id_sets or ood_sets or ood_weights)
    if spec is None and not short:
        return None
    given = {p for p in ("benchmarks", "splits") if ctx.get_parameter_source(p) != ParameterSource.DEFAULT}
    if given:
        raise click.UsageError("--study/--id/--ood choose the sets: do not combine them with --benchmark or --split")
    if spec is not None:
        if short:
            raise click.UsageError("give a study either as --study SPEC or as --id/--ood, not both")
        if ctx.get_parameter_source("prompt_variant") != ParameterSource.DEFAULT:
            raise click.UsageError("a study spec sets its prompt variants (prompt_variant:, SET@VARIANT); "
                                   "drop --prompt-variant")
        return load_spec(spec)
    weights: dict[str, float] = {}
    for w in ood_weights:
        ref, sep, val = w.rpartition("=")
        try:
            if not sep:
                raise ValueError
            weights[ref.strip()] = float(val)
        except ValueError:
            raise click.BadParameter(f"expected SET=WEIGHT, got {w!r}", param_hint="--ood-weight") from None
    return parse_spec(spec_from_refs(id_sets or "", ood_sets or "", weights, prompt_variant=prompt_variant),
                      "--id/--ood")


def _run_with_progress(config, console):
    from specs_eval.core.progress import progress_bar
    from specs_eval.run.engine import run_eval

    with progress_bar(console, transient=False, disable=console.quiet) as bar:
        task_id = bar.add_task(f"{config.resolved_name()}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task_id, completed=done, total=total)

        return run_eval(config, progress=progress, command=["specs-eval", *sys.argv[1:]],
                        log=lambda s: console.print(f"[dim]{s}[/dim]"))
