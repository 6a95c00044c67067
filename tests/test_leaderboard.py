"""Leaderboard data: every file loads, and the published numbers are internally consistent."""

from __future__ import annotations

import pytest

from analysis import available_leaderboards, generalization_factor, load_leaderboard
from analysis.errors import AnalysisError
from analysis.leaderboard import place_runs

REQUIRED = {"specs-table1-megabench", "specs-table2", "specs-ablations", "specs-coldstart", "specs-passk"}


def test_all_load():
    names = available_leaderboards()
    assert set(names) >= REQUIRED
    for n in names:
        lb = load_leaderboard(n)
        assert lb.rows and lb.columns and lb.source.citation
    with pytest.raises(AnalysisError, match="unknown leaderboard"):
        load_leaderboard("nope")


def _means_ok(name: str, key: str, parts: list[str], tol: float = 0.011):
    for r in load_leaderboard(name).rows:
        vals = [r.values[p] for p in parts]
        assert r.values[key] == pytest.approx(sum(vals) / len(vals), abs=tol), r.model


def test_table2_overall_is_mean_of_four():
    _means_ok("specs-table2", "overall", ["mmmu_val", "mathvision", "mathvista", "mathverse_vision"])


@pytest.mark.parametrize("name", ["specs-ablations", "specs-coldstart"])
def test_ablation_avg_is_mean_of_five(name):
    _means_ok(name, "avg", ["megabench", "mmmu", "mathvista", "mathvision", "mathverse"])


def test_table1_delta_row_matches_published():
    lb = load_leaderboard("specs-table1-megabench")
    rows = {r.model: r.values for r in lb.rows}
    ours, base = rows["Ours-7B (SPECS)"], rows["QwenVL-2.5-7B"]
    published_delta = {"knowledge": 3.8, "math": 4.0, "perception": 3.3, "coding": 5.2, "info_extraction": 1.4,
                       "planning": 2.4, "science": 2.0, "metrics": 10.2, "core": 4.1}
    for k, d in published_delta.items():
        assert ours[k] - base[k] == pytest.approx(d, abs=0.051), k


def test_gf_figure_is_f2_of_id_and_ood():
    # values read off the plot (±0.5): the GF curve equals F_2 of the plotted ID and OOD values
    for r in load_leaderboard("specs-gf-figure").rows:
        if r.stage in ("step 15", "step 25"):
            assert generalization_factor(r.values["id"], r.values["ood"]) == pytest.approx(r.values["gf"], abs=1.0)


def test_place_runs_marks_provenance():
    lb = load_leaderboard("specs-table2")
    t = place_runs(lb, ["mine"], lambda run, col: 61.0 if col.key == "mathvista" else None)
    published = [r for r in t["rows"] if r["kind"] == "published"]
    measured = [r for r in t["rows"] if r["kind"] == "measured"]
    assert all(r["provenance"].startswith("published (") for r in published)
    assert measured[0]["provenance"] == "measured here"
    assert measured[0]["values"]["mathvista"] == 61.0
    assert measured[0]["values"]["overall"] is None  # derived columns are never filled for measured rows
    assert t["measured_cells"] == 1
