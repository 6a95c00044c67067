"""The toolkit's user-facing error types.

Why: the CLI prints a ``SpecsError`` (and every subclass) as one line and exits 2;
anything else is a bug and keeps its traceback. Raise one for problems the user can fix.
"""


class SpecsError(Exception):
    """A problem with the user's input or environment; the message names the culprit."""


class BenchmarkError(SpecsError):
    """A user-facing problem with benchmark data: the message names the culprit."""
