"""``specs-eval toyworld``: export toy-world splits as files (JSONL + PNG, MathVista schema)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--split", "-s", "splits", multiple=True, default=["id", "ood_visual", "ood_task", "ood_format"],
              show_default=True)
@click.option("-n", "--count", "n", type=click.IntRange(min=1), help="Items per split (default: the split's size).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Folder to export to (required unless --baselines).")
@click.option("--baselines", is_flag=True,
              help="Print image-blind baselines (uniform guess, most frequent answer per question template) "
                   "on the first N items of each split (default 200) instead of exporting.")
def toyworld(splits, n, seed, out, baselines) -> None:
    """Export toy-world splits to OUT/<split>.jsonl with images under OUT/images/.

    \b
    Examples:
      specs-eval toyworld --out data/toyworld -n 500
      specs-eval toyworld --baselines          # what a model scores without looking at the image
    """
    from specs_eval.benchmarks.toyworld.world import SPLITS

    for s in splits:
        if s not in SPLITS:
            raise click.BadParameter(f"unknown split {s!r}; known: {', '.join(SPLITS)}", param_hint="--split")
    if baselines:
        from specs_eval.benchmarks.toyworld.baselines import baselines as compute

        click.echo(f"{'split':<12} {'n':>5} {'uniform guess':>14} {'prior-only':>11}")
        for s, b in compute(splits, n or 200, seed=seed).items():
            click.echo(f"{s:<12} {b['n']:>5} {100 * b['uniform']:>13.1f}% {100 * b['prior']:>10.1f}%")
        return
    if out is None:
        raise click.UsageError("--out is required (or pass --baselines)")
    from specs_eval.benchmarks.toyworld.export import export_split

    for s in splits:
        click.echo(export_split(s, out, n, seed))
