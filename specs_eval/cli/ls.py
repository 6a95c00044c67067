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
    notes = []
    for name in available():
        b = get_benchmark(name)
        splits = ", ".join(f"{s}" + (f" ({n})" if n else "") for s, n in b.splits.items())
        profiles = [b.default_profile] + [p for p in b.profiles if p != b.default_profile]
        labelled = [p + (" (judge-free, not official)" if "judge-free" in b.profile_notes.get(p, "") else "")
                    for p in profiles]
        table.add_row(name, splits, ", ".join(b.default_splits), ", ".join(b.prompt_variants), ", ".join(labelled))
        notes += [f"  {name} {p}: {b.profile_notes[p]}" for p in profiles if p in b.profile_notes]
    console.print(table)
    if notes:
        console.print("profiles:\n" + "\n".join(notes), highlight=False)
    models = shipped_models()
    console.print("shipped models: " + (", ".join(models) if models else "none"))
