"""MEGA-Bench (TIGER-Lab/MEGA-Bench): loader, official prompt, and the official scorer.

``MegaBench`` is registered as ``megabench``; see ``benchmark.py`` for splits and
profiles and docs/megabench.md for the metric coverage.
"""

from specs_eval.benchmarks.megabench.benchmark import MegaBench

__all__ = ["MegaBench"]
