"""Analysis of specs-eval runs: Generalization Factor, exploration and stuckness metrics,
statistics, DataFrames, leaderboards and offline comparison reports.

Why a separate package: everything here is a pure function of stored files (run
directories, training logs, leaderboard YAML), imports neither torch nor transformers,
and can run on any laptop after the GPUs are gone. Definitions: docs/metrics.md.

    from analysis import generalization_factor, gf_from_runs, pass_at_k, samples_frame
    generalization_factor(98.5, 94.7)     # 95.44 (the paper's DPO w. sft-loss point)
    pass_at_k(n=16, c=3, k=8)
    df = samples_frame(["runs/base", "runs/specs"])     # one row per sample
"""

from __future__ import annotations

from analysis.compare import pair_split, run_pair_flags
from analysis.errors import AnalysisError, RunLoadError, TrainingLogError
from analysis.flags import Flag
from analysis.frames import Run, load_run, samples_frame, splits_frame
from analysis.gf import (
    GFReport,
    config_from_spec,
    gamma_array,
    generalization_factor,
    gf_detail,
    gf_from_runs,
    role_levels,
)
from analysis.leaderboard import available as available_leaderboards
from analysis.leaderboard import load_leaderboard
from analysis.metrics import METRICS
from analysis.passk import majority_at_k, pass_at_k, pass_at_k_curve
from analysis.stats import bootstrap_mean, bootstrap_ratio, mcnemar_exact, paired_compare
from analysis.stuckness import answer_entropy, distinct_answers, exploration_frame, split_exploration
from analysis.training_logs import group_stats_by_step, load_training, training_frame

__all__ = [
    "METRICS",
    "AnalysisError",
    "Flag",
    "GFReport",
    "Run",
    "RunLoadError",
    "TrainingLogError",
    "answer_entropy",
    "available_leaderboards",
    "bootstrap_mean",
    "bootstrap_ratio",
    "config_from_spec",
    "distinct_answers",
    "exploration_frame",
    "gamma_array",
    "generalization_factor",
    "gf_detail",
    "gf_from_runs",
    "group_stats_by_step",
    "load_leaderboard",
    "load_run",
    "load_training",
    "majority_at_k",
    "mcnemar_exact",
    "pair_split",
    "paired_compare",
    "pass_at_k",
    "pass_at_k_curve",
    "role_levels",
    "run_pair_flags",
    "samples_frame",
    "split_exploration",
    "splits_frame",
    "training_frame",
]
