"""Flags: the one way analysis code says "this number needs a caveat" or "no number here".

Why a type of its own: the issue's rule for bad input is "a clear message and a flagged
report, never a wrong number". Every check (schema versions, different item sets,
generation errors, empty splits, non-positive GF gains…) produces a ``Flag`` instead of
printing or raising, so the report, the JSON and the Markdown show the same caveats and
tests can assert on them.

Severities:
  ``refuse``  the comparison or number was not computed (shown as "—" with the reason);
  ``warn``    the number is computed and correct by its stated rule, but a reader must know
              something (generation errors counted as wrong, different decoding settings…);
  ``info``    context (a run without token statistics, a regenerated thumbnail…).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["refuse", "warn", "info"]
SEVERITY_ORDER: dict[str, int] = {"refuse": 0, "warn": 1, "info": 2}


@dataclass(frozen=True)
class Flag:
    """One caveat. ``scope`` names what it applies to, e.g. ``run:sft`` or ``toyworld/ood_task``."""

    severity: Severity
    code: str
    message: str
    scope: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sort_flags(flags: list[Flag]) -> list[Flag]:
    """Deterministic order: severity, then scope, code, message; duplicates dropped."""
    unique = {(f.severity, f.code, f.message, f.scope): f for f in flags}
    return sorted(unique.values(), key=lambda f: (SEVERITY_ORDER[f.severity], f.scope, f.code, f.message))
