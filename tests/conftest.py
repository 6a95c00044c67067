"""Shared fixtures. Analysis: toy-world run directories built through the real scoring engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from toy_runs import BASE, DPO, SFT, build_run, write_training_pipeline


@pytest.fixture(scope="session")
def toy_run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """base / sft / dpo runs on 24 items per toy split, 4 samples per prompt, with token statistics."""
    root = tmp_path_factory.mktemp("runs")
    return {name: build_run(root, name, d, n_items=24, n_samples=4)
            for name, d in (("base", BASE), ("sft", SFT), ("dpo", DPO))}


@pytest.fixture(scope="session")
def training_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training_pipeline(tmp_path_factory.mktemp("train") / "pipeline")
