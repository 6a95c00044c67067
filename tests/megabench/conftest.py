"""Make the MEGA-Bench fixture module importable and give tests a written fixture dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import mb_fixture


@pytest.fixture(autouse=True)
def _offline_stand_ins():
    """Stand-ins for the network geocoder and the NLI model, and the opt-in to run programs
    (``program_judge``, in its sandbox), removed after each test."""
    import warnings

    from specs_eval.rules.megabench.metrics import geometry, sandbox, text

    geometry.set_geocoder(mb_fixture.stub_geocoder)
    text.set_nli(mb_fixture.stub_nli)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sandbox.allow_program_execution(True)
    yield
    geometry.set_geocoder(None)
    text.set_nli(None)
    sandbox.allow_program_execution(False)


@pytest.fixture(scope="session")
def fixture_dataset(tmp_path_factory) -> Path:
    return mb_fixture.write_dataset(tmp_path_factory.mktemp("megabench"))
