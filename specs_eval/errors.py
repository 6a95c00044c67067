"""The toolkit's user-facing error type.

Why: the CLI prints a ``SpecsError`` as one line and exits 2; anything else is a bug
and keeps its traceback. Raise it (or a subclass) for problems the user can fix.
"""


class SpecsError(Exception):
    """A problem with the user's input or environment; the message names the culprit."""
