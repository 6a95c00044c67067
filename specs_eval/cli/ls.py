"""``specs-eval ls``: what can be evaluated here — benchmarks, splits, profiles, shipped models."""

from __future__ import annotations

import click


@click.command()
def ls() -> None:
    """List benchmarks (splits, prompt variants, scoring profiles) and shipped models."""
    from rich.console import Console
    from rich.table import Table

    from specs_eval.benchmarks import available, get_benchmark
    from specs_eval.models.loading import shipped_models

    console = Console()
    table = Table(title="benchmarks", title_justify="left")
    for col in ("name", "splits (expected rows)", "default splits", "prompt variants", "profiles (default first)"):
        table.add_column(col)
    for name in available():
        b = get_benchmark(name)
        splits = ", ".join(f"{s}" + (f" ({n})" if n else "") for s, n in b.splits.items())
        profiles = [b.default_profile] + [p for p in b.profiles if p != b.default_profile]
        table.add_row(name, splits, ", ".join(b.default_splits), ", ".join(b.prompt_variants), ", ".join(profiles))
    console.print(table)
    models = shipped_models()
    console.print("shipped models: " + (", ".join(models) if models else "none"))
