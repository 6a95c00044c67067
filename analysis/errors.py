"""Errors the analysis code raises for problems the user can fix.

Why subclasses of ``SpecsError``: the CLI prints those as one red line (exit 2) instead
of a traceback. Anything that is merely a caveat on a number is a ``Flag`` instead.
"""

from __future__ import annotations

from specs_eval.core.errors import SpecsError


class AnalysisError(SpecsError):
    """A problem with analysis inputs (bad arguments, unreadable files)."""


class RunLoadError(AnalysisError):
    """A run directory that cannot be read safely (missing files, other schema version, bad lines)."""


class TrainingLogError(AnalysisError):
    """A training run directory that cannot be read safely."""
