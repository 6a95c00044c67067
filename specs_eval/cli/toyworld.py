"""``specs-eval toyworld``: export toy-world splits as files (JSONL + PNG, MathVista schema)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--split", "-s", "splits", multiple=True, default=["id", "ood_visual", "ood_task", "ood_format"],
              show_default=True)
@click.option("-n", "--count", "n", type=click.IntRange(min=1), help="Items per split (default: the split's size).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
def toyworld(splits, n, seed, out) -> None:
    """Export toy-world splits to OUT/<split>.jsonl with images under OUT/images/."""
    from specs_eval.toyworld.export import export_split
    from specs_eval.toyworld.world import SPLITS

    for s in splits:
        if s not in SPLITS:
            raise click.BadParameter(f"unknown split {s!r}; known: {', '.join(SPLITS)}", param_hint="--split")
        click.echo(export_split(s, out, n, seed))
