"""Known-answer tests: every fixture case scores what the official rule says (see mb_fixture.CASES)."""

from __future__ import annotations

import math

import mb_fixture
import pytest

from specs_eval.rules.megabench.evaluate import evaluate_query


def _geo_expectation() -> float:
    from geopy.distance import distance

    return math.exp(-distance(mb_fixture.PLACES[("France", "Paris")], mb_fixture.PLACES[("France", "Lyon")]).km / 100)


@pytest.mark.parametrize(("task", "k", "response", "expected", "why"), mb_fixture.CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(mb_fixture.CASES)])
def test_case(task, k, response, expected, why):
    q = evaluate_query(mb_fixture.row_of(task, k), response)
    assert not q.config_errors and not q.unavailable and not q.unknown_metrics, (q, why)
    if expected is None:
        expected = _geo_expectation()
    assert q.query_score == pytest.approx(expected, abs=1e-9), (why, q.fields, q.parsed)


def test_every_metric_is_covered_by_the_fixture():
    """Each implemented metric id appears in some fixture task."""
    from specs_eval.rules.megabench.registry import METRICS

    used = {m for t in mb_fixture.TASKS.values() for m in t["mi"]["field_score_function"].values()}
    missing = set(METRICS) - used - {"ascii_art_gpt4o_judge"}  # needs a font: tested in test_judge
    assert not missing, missing
