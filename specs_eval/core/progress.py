"""The one progress-bar layout of every long command (runs, bootstrap): description, bar,
done/total, elapsed and remaining time, plus optional extra columns.

Why shared: users read the same columns in the same places whether they evaluate or train.
"""

from __future__ import annotations

from typing import Any


def progress_bar(console: Any, *extra_columns: Any, **kwargs: Any) -> Any:
    """A ``rich.progress.Progress`` on ``console``; ``extra_columns`` go after the standard ones."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), *extra_columns, console=console, **kwargs)
