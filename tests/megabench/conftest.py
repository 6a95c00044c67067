"""Make the MEGA-Bench fixture module importable and give tests a written fixture dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import mb_fixture


@pytest.fixture(autouse=True)
def _offline_stand_ins():
    """Stand-ins for the network geocoder and the NLI model, removed after each test."""
    from specs_eval.rules.megabench.metrics import geometry, text

    geometry.set_geocoder(mb_fixture.stub_geocoder)
    text.set_nli(mb_fixture.stub_nli)
    yield
    geometry.set_geocoder(None)
    text.set_nli(None)


@pytest.fixture(scope="session")
def fixture_dataset(tmp_path_factory) -> Path:
    return mb_fixture.write_dataset(tmp_path_factory.mktemp("megabench"))
