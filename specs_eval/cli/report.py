"""``specs-eval report``: a single-file offline HTML comparison of run directories.

Why a thin command: all logic lives in ``analysis.report`` (pure functions of stored
files, usable from a notebook); this module only parses options, prints flags, and
writes ``report.html`` plus ``report.json`` and ``report.md`` next to it.
"""

from __future__ import annotations

from pathlib import Path

import click

from specs_eval.core.errors import SpecsError
from specs_eval.core.metrics import PSI_METRICS


def _split_list(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [s.strip() for s in value.split(",") if s.strip()]


def _weights(values: tuple[str, ...]) -> dict[str, float] | None:
    out: dict[str, float] = {}
    for v in values:
        name, sep, w = v.rpartition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(w)
        except ValueError:
            raise click.BadParameter(f"expected SPLIT=WEIGHT or BENCHMARK:SPLIT=WEIGHT, got {v!r}",
                                     param_hint="--ood-weight") from None
    return out or None


def _list_leaderboards(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--list-leaderboards``: every shipped leaderboard with its title and columns, then exit."""
    if not value or ctx.resilient_parsing:
        return
    from analysis.leaderboard import available, load_leaderboard

    for name in available():
        lb = load_leaderboard(name)
        click.echo(f"{name}\n  {lb.title}\n  source: {lb.source.citation}, {lb.source.location}\n"
                   f"  columns: {', '.join(c.label for c in lb.columns)}")
    ctx.exit(0)


def _data(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"expected BENCHMARK=PATH, got {v!r}", param_hint="--data")
        out[name] = path
    return out


@click.command("report")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="HTML file to write; .json and .md companions go next to it.")
@click.option("--baseline", help="Run to compare against (run name or directory name). Default: the first run.")
@click.option("--metric", default=None, type=click.Choice(list(PSI_METRICS)),
              help="Ψ of the headline and GF [default: accuracy; a study's Γ: its spec's Ψ].")
@click.option("--profile", help="Scoring profile for accuracy (default: each run's headline profile).")
@click.option("--beta", type=float, default=None, help="GF β, the OOD weight [default: 2, or the study spec's].")
@click.option("--study", "study_spec", metavar="SPEC", help="GF study spec (shipped name or YAML) whose sets are the "
              "ID/OOD roles, across benchmarks (default: the spec the runs recorded, if any).")
@click.option("--id", "id_sets", metavar="SETS", help="Short form of a study: ID sets BENCHMARK:SPLIT[@VARIANT], "
              "comma-separated (with --ood).")
@click.option("--ood", "ood_sets", metavar="SETS", help="OOD sets of the short form, comma-separated.")
@click.option("--id-splits", help="Comma-separated ID splits (default: the benchmark's id_splits). Split names that "
              "only different benchmarks have give one Γ across those benchmarks.")
@click.option("--ood-splits", help="Comma-separated OOD splits (default: the benchmark's ood_splits).")
@click.option("--ood-weight", multiple=True, metavar="SPLIT=W",
              help="Weight α of an OOD split or set (SPLIT=W or BENCHMARK:SPLIT=W) in G_OOD (default 1).")
@click.option("--training", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Training run (stage or pipeline) directory for training curves; repeatable.")
@click.option("--leaderboard", help="Place the runs beside a published leaderboard (see --list-leaderboards).")
@click.option("--list-leaderboards", is_flag=True, expose_value=False, is_eager=True, callback=_list_leaderboards,
              help="List the shipped leaderboards and exit.")
@click.option("--data", "data_paths", multiple=True, metavar="BENCHMARK=PATH",
              help="Local copy of a benchmark's rows, for drill-down thumbnails (toy world needs none).")
@click.option("--n-boot", type=int, default=2000, show_default=True, help="Bootstrap resamples (0: no intervals).")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--level", type=float, default=0.95, show_default=True, help="Interval level.")
@click.option("--k", "group_k", type=int, help="Group size k for stuckness metrics (default min(8, n)).")
@click.option("--group-reward", type=click.Choice(["accuracy", "accuracy+format"]), default="accuracy",
              show_default=True, help="Reward whose equality defines a zero-variance group.")
@click.option("--max-disagreements", type=int, default=10, show_default=True,
              help="Drill-down items per split, candidate and direction.")
@click.option("--common-items", is_flag=True, help="Compare runs on their common items when item sets differ "
              "(flagged) instead of refusing.")
@click.option("--no-thumbnails", is_flag=True, help="Do not re-create images for the drill-down.")
@click.option("--title", help="Report title.")
@click.option("--figures", default="auto", show_default=True, metavar="FORMATS",
              help="Static copies of the figures beside the HTML (<stem>_figures/): svg, png, svg,png, auto (both when "
                   "kaleido is installed) or none. Needs `pip install 'specs-eval[report-static]'` and Chromium.")
@click.option("--strict", is_flag=True, help="Exit with status 3 when the report carries refusals or warnings.")
def report(inputs: tuple[Path, ...], out: Path, baseline: str | None, metric: str | None, profile: str | None,
           beta: float | None, study_spec: str | None, id_sets: str | None, ood_sets: str | None,
           id_splits: str | None, ood_splits: str | None, ood_weight: tuple[str, ...], training: tuple[Path, ...],
           leaderboard: str | None, data_paths: tuple[str, ...], n_boot: int, seed: int, level: float,
           group_k: int | None, group_reward: str, max_disagreements: int, common_items: bool, no_thumbnails: bool,
           title: str | None, figures: str, strict: bool) -> None:
    """Compare run directories in one offline HTML file (plus JSON and Markdown).

    \b
    Examples:
      specs-eval report runs/base runs/sft runs/specs --out report.html
      specs-eval report runs/base runs/specs --leaderboard specs-table2
      specs-eval report runs/base runs/specs --training train/specs-pipeline --metric format_compliance
      specs-eval report runs/base runs/specs --id mathvista:testmini --ood mathvista:testmini@json,mmmu:validation
    """
    from analysis.report import ReportOptions, build_report, write_report
    from specs_eval.benchmarks.images import report_sources

    if not 0 < level < 1:
        raise SpecsError(f"--level must be between 0 and 1, got {level}")
    if n_boot < 0:
        raise SpecsError(f"--n-boot must be ≥ 0, got {n_boot}")
    study = _study(study_spec, id_sets, ood_sets, ood_weight, id_splits, ood_splits)
    opts = ReportOptions(baseline=baseline, metric=metric, profile=profile, beta=beta, study=study,
                         id_splits=_split_list(id_splits), ood_splits=_split_list(ood_splits),
                         ood_weights=None if study is not None else _weights(ood_weight), n_boot=n_boot,
                         seed=seed, level=level, group_k=group_k, reward=group_reward,
                         max_disagreements=max_disagreements,
                         leaderboard=leaderboard, data_paths=_data(data_paths), thumbnails=not no_thumbnails,
                         common_items=common_items, title=title, **report_sources(_data(data_paths)))
    from analysis.report.static import FORMATS, parse_formats

    try:
        formats = parse_formats(figures)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--figures") from None
    auto = formats is None
    rep = build_report(list(inputs), list(training), opts)
    paths = write_report(rep, out, figures=FORMATS if auto else formats)
    flags = rep.data["flags"]
    colours = {"refuse": "red", "warn": "yellow"}
    for f in flags:
        if f["severity"] in colours:
            click.secho(f"{f['severity']}: {f['message']}", fg=colours[f["severity"]], err=True)
    size = paths["html"].stat().st_size
    click.echo(f"wrote {paths['html']} ({size / 1e6:.1f} MB), {paths['json'].name}, {paths['md'].name}, "
               f"{paths['tex'].name}")
    fig = paths["figures"]
    if fig["written"]:
        click.echo(f"wrote {len(fig['written'])} static figure(s) to {Path(fig['written'][0]).parent}")
    elif fig["skipped"] and not (auto and fig["skipped"].startswith("kaleido is not installed")):
        click.secho(f"note: {fig['skipped']}", fg="yellow", err=True)
    elif fig["skipped"] and auto:
        click.echo(f"(static figures: {fig['skipped']})")
    if strict and any(f["severity"] in colours for f in flags):
        raise SystemExit(3)


def _study(spec: str | None, id_sets: str | None, ood_sets: str | None, ood_weight: tuple[str, ...],
           id_splits: str | None, ood_splits: str | None):
    """The study of ``--study`` or ``--id``/``--ood`` (None: roles from the runs or the split flags)."""
    short = bool(id_sets or ood_sets)
    if spec is None and not short:
        return None
    if id_splits or ood_splits:
        raise click.UsageError("a study (--study, --id/--ood) names its sets; drop --id-splits/--ood-splits")
    if spec is not None:
        if short:
            raise click.UsageError("give a study either as --study SPEC or as --id/--ood, not both")
        if ood_weight:
            raise click.UsageError("a study spec sets its OOD weights; drop --ood-weight")
        from specs_eval.benchmarks.study import load_spec

        return load_spec(spec)
    from specs_eval.core.study import spec_from_refs

    # the sets are named as the runs recorded them (BENCHMARK:SPLIT, SPLIT@VARIANT for a shifted set)
    return spec_from_refs(id_sets or "", ood_sets or "", _weights(ood_weight), recorded=True)
