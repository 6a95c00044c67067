"""Benchmark registry: names to classes, imported lazily.

Why lazy: ``specs-eval --help`` and scoring one benchmark should not import every
other benchmark's dependencies. Unknown names get a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import importlib

from specs_eval.benchmarks.base import Benchmark, LoadedSplit
from specs_eval.core.errors import BenchmarkError

_REGISTRY: dict[str, str] = {
    "toyworld": "specs_eval.benchmarks.toy:ToyWorld",
    "mmmu": "specs_eval.benchmarks.mmmu:MMMU",
    "mathvista": "specs_eval.benchmarks.mathvista:MathVista",
    "mathvision": "specs_eval.benchmarks.mathvision:MathVision",
    "mathverse": "specs_eval.benchmarks.mathverse:MathVerse",
    "megabench": "specs_eval.benchmarks.megabench:MegaBench",
    "orsta": "specs_eval.benchmarks.orsta:Orsta",
    "virl39k": "specs_eval.benchmarks.virl39k:ViRL39K",
}


def register(name: str, target: str) -> None:
    """Register ``module:Class`` under ``name`` (plugins and tests may add their own)."""
    _REGISTRY[name] = target


def available() -> list[str]:
    return sorted(_REGISTRY)


def get_benchmark(name: str) -> Benchmark:
    try:
        target = _REGISTRY[name]
    except KeyError:
        hint = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        more = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise BenchmarkError(f"unknown benchmark {name!r}{more}; known: {', '.join(available())}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()


__all__ = ["Benchmark", "LoadedSplit", "available", "get_benchmark", "register"]
