"""The GF study: pure helpers (fit, seed bands, config) and the quick study run for real.

The quick study trains the shipped tiny base with the real trl trainers (zero-RL, distill,
three cold starts × two seeds, GRPO after each) and evaluates with the real harness. The
assertions are structural — every method × seed × checkpoint has its numbers, in range,
consistent with the GF formula; pass@k is a non-decreasing curve; the report carries the
study; a rerun does no work — never which method wins.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from analysis.gf import generalization_factor
from analysis.study import fit_line, seed_band, t_quantile_975
from specs_eval.core.errors import SpecsError
from training.study import GFStudyConfig, load_study_config

from .conftest import REPO, run_cli

# ---------------------------------------------------------------------------------------------
# pure helpers


def test_fit_line_recovers_an_exact_line():
    f = fit_line([0, 1, 2, 3], [1, 3, 5, 7])
    assert f["slope"] == pytest.approx(2.0) and f["intercept"] == pytest.approx(1.0)
    assert f["r2"] == pytest.approx(1.0) and f["r"] == pytest.approx(1.0) and f["n"] == 4


def test_fit_line_r2_is_the_squared_correlation_and_matches_the_residual_definition():
    rng = np.random.default_rng(0)
    x = rng.normal(size=20)
    y = 0.5 * x + rng.normal(size=20)
    f = fit_line(x, y)
    pred = f["intercept"] + f["slope"] * x
    r2 = 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert f["r2"] == pytest.approx(r2) and f["r2"] == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2)
    # a decreasing relation has r < 0 and the same R² as its mirror image
    g = fit_line(x, -y)
    assert g["r"] < 0 and g["r2"] == pytest.approx(f["r2"])


@pytest.mark.parametrize("x,y", [([1, 2], [3, 5]), ([2, 2, 2], [1, 2, 3]), ([], [])])
def test_fit_line_r2_undefined_for_two_points_or_constant_x(x, y):
    f = fit_line(x, y)
    assert f["r2"] is None


def test_fit_line_constant_y_has_slope_zero_and_no_r2():
    f = fit_line([1, 2, 3], [4, 4, 4])
    assert f["slope"] == pytest.approx(0.0) and f["r2"] is None


def test_fit_line_drops_non_finite_points_and_checks_lengths():
    assert fit_line([0, 1, 2, float("nan")], [0, 1, 2, 5])["n"] == 3
    with pytest.raises(ValueError):
        fit_line([1, 2], [1])


def test_seed_band_mean_range_and_student_t_interval():
    b = seed_band([10.0, 20.0, 30.0])
    assert (b["n"], b["mean"], b["min"], b["max"]) == (3, 20.0, 10.0, 30.0)
    half = 4.303 * 10.0 / math.sqrt(3)  # sd = 10, t(0.975, df=2) = 4.303
    assert b["t_lo"] == pytest.approx(20 - half) and b["t_hi"] == pytest.approx(20 + half)


def test_seed_band_one_seed_has_no_interval_and_none_are_skipped():
    b = seed_band([None, 7.0])
    assert b["n"] == 1 and b["mean"] == 7.0 and b["t_lo"] is None and b["sd"] is None
    assert seed_band([])["mean"] is None


def test_t_quantiles_decrease_towards_the_normal():
    qs = [t_quantile_975(d) for d in (1, 2, 5, 10, 30, 200)]
    assert qs == sorted(qs, reverse=True) and qs[-1] == pytest.approx(1.96)
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_study_presets_load_and_curve_steps_end_at_the_last_step():
    full = load_study_config("gf-tiny")
    assert full.curve_steps() == [0, 10, 20, 30, 40, 50, 60]
    quick = load_study_config("gf-tiny", quick=True)
    assert quick.curve_steps()[0] == 0 and quick.curve_steps()[-1] == quick.steps
    assert GFStudyConfig(steps=7, eval_every=3).curve_steps() == [0, 3, 6, 7]


@pytest.mark.parametrize("override,needle", [
    ("eval_every=90", "eval_every"),
    ("methodz=[sft]", "unknown key 'methodz'"),
    ('gf={"id": ["toyworld:id"], "ood": ["toyworld:id"]}', "listed twice"),
    ('gf={"id": ["toyworld:id"], "ood": ["toyworld:odd_format"]}', "toyworld:odd_format"),
    ("gf=no-such-spec", "unknown study spec"),
    ("passk.split=ood_task", "passk.split"),
    ("seeds=[1,1]", "seeds"),
    ("passk.models=[base,teacher]", "passk.models"),
    ("metric=f1", "metric"),
])
def test_bad_study_settings_fail_with_the_key_named(override, needle):
    with pytest.raises(SpecsError, match=needle):
        load_study_config("gf-tiny", [override])


def test_unknown_study_preset_lists_the_known_ones():
    with pytest.raises(SpecsError, match="gf-tiny"):
        load_study_config("gf-nonexistent")


# ---------------------------------------------------------------------------------------------
# the quick study, for real


def specs_train(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([sys.executable, "-m", "training", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.data_json = ""
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        self._in_data = tag == "script" and a.get("id") == "report-data"

    def handle_endtag(self, tag):
        self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self.data_json += data


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("study") / "gf-quick"
    p = specs_train("study", "gf", "--quick", "--jobs", "2", "--out", str(out))
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    return out, p.stdout + p.stderr


def test_quick_study_has_every_point_in_range_and_consistent_with_the_gf_formula(quick_study):
    out, _ = quick_study
    data = json.loads((out / "study.json").read_text())
    cfg = load_study_config("gf-tiny", quick=True)
    assert data["schema_version"] == 1 and data["missing"] == []
    steps = cfg.curve_steps()
    for m in cfg.methods:
        for s in cfg.seeds:
            pts = sorted((p for p in data["points"] if p["method"] == m and p["seed"] == s), key=lambda p: p["step"])
            assert [p["step"] for p in pts] == steps, (m, s)
            for p in pts:
                for k in ("psi_id", "psi_ood"):
                    assert 0.0 <= p[k] <= 100.0
                assert math.isfinite(p["gamma"]) and 0.0 <= p["gamma"] <= 100.0
                assert p["gamma"] == pytest.approx(generalization_factor(p["g_id"], p["g_ood"], cfg.beta))
                if p["step"] > 0:
                    lo, hi = p["gamma_ci"]
                    assert 0.0 <= lo <= hi
                for k, v in p["by_metric"].items():
                    assert v["gamma"] is not None and v["gamma"] >= 0.0, k
            # the gains are measured against the step-0 (base model) values of the same items
            for p in pts[1:]:
                assert p["g_id"] == pytest.approx(p["psi_id"] - pts[0]["psi_id"])
                assert p["g_ood"] == pytest.approx(p["psi_ood"] - pts[0]["psi_ood"])
    for b in data["bands"]:
        assert b["n_seeds"] == len(cfg.seeds)
        g = b["gamma"]
        assert g["min"] <= g["mean"] <= g["max"]
    assert [h["method"] for h in data["headline"]] == list(cfg.methods)


def test_quick_study_pass_at_k_is_a_bounded_non_decreasing_curve_with_rbf(quick_study):
    out, _ = quick_study
    data = json.loads((out / "study.json").read_text())
    cfg = load_study_config("gf-tiny", quick=True)
    assert [e["model"] for e in data["exploration"]] == cfg.passk.models
    for e in data["exploration"]:
        assert e["n_items"] == cfg.passk.limit and e["n_samples"] == cfg.passk.n
        ks = [int(k) for k in e["pass_at_k"]]
        assert ks[0] == 1 and ks[-1] == cfg.passk.n
        vals = [e["pass_at_k"][str(k)] for k in ks]
        assert all(0.0 <= v <= 100.0 for v in vals)
        assert all(a <= b + 1e-9 for a, b in itertools.pairwise(vals)), vals
        assert e["rbf"]["value"] >= 1.0  # a nucleus holds at least one token
        assert e["rbf"]["lo"] <= e["rbf"]["value"] <= e["rbf"]["hi"]


def test_quick_study_rl_runs_have_post_rl_numbers_and_stuckness(quick_study):
    out, _ = quick_study
    data = json.loads((out / "study.json").read_text())
    cfg = load_study_config("gf-tiny", quick=True)
    assert len(data["runs"]) == len(cfg.methods) * len(cfg.seeds)
    for r in data["runs"]:
        assert 0.0 <= r["post_rl"]["mean"] <= 100.0
        st = r["stuckness"]
        assert st["steps"] == cfg.rl.max_steps
        for k in ("zero_variance_rate", "all_correct_rate", "all_wrong_rate"):
            assert 0.0 <= st[f"{k}_last"] <= 1.0
        assert st["all_correct_rate_last"] + st["all_wrong_rate_last"] == pytest.approx(st["zero_variance_rate_last"])
    sc = data["scatter"]
    assert len(sc["points"]) == len(data["runs"]) and sc["fit"]["n"] == len(data["runs"])


def test_quick_study_report_and_summary_carry_the_study(quick_study, tmp_path):
    out, _ = quick_study
    summary = (out / "summary.md").read_text()
    assert "| method | Γ at step" in summary and "pass@" in summary
    for html_file in (out / "report.html", tmp_path / "r.html"):
        if html_file.parent == tmp_path:  # specs-eval report on the study folder gives the same study section
            r = run_cli("report", str(out), "--out", str(html_file), "--n-boot", "100")
            assert r.returncode == 0, r.stderr[-2000:]
        parser = _Sections()
        parser.feed(html_file.read_text(encoding="utf-8"))
        assert {"study", "headline", "gf", "exploration", "training",
                "fig-study-curves", "fig-study-scatter", "fig-study-passk"} <= parser.ids
        embedded = json.loads(parser.data_json)["study"]["points"]
        stored = json.loads((out / "study.json").read_text())["points"]  # the report rounds to 6 digits
        assert [(p["method"], p["seed"], p["step"]) for p in embedded] == [(p["method"], p["seed"], p["step"])
                                                                            for p in stored]
        for key in ("psi_id", "psi_ood", "gamma"):
            assert [p[key] for p in embedded] == pytest.approx([p[key] for p in stored], abs=1e-5)
        assert json.loads(parser.data_json)["baseline"] == "00-base"


def test_quick_study_rerun_skips_finished_work_and_refuses_another_config(quick_study):
    out, _ = quick_study
    before = (out / "study.json").read_text()
    manifests = {p: p.read_text() for p in out.rglob("stage_manifest.json")}
    p = specs_train("study", "gf", "--quick", "--out", str(out), "--no-report")
    log = p.stdout + p.stderr
    assert p.returncode == 0, log[-3000:]
    assert "cold-start step 1/" not in log and "rl step 1/" not in log and "loading model" not in log
    assert log.count("complete in 03-cold-start, skipped") == len(load_study_config("gf-tiny", quick=True).seeds) * 3
    assert {p: p.read_text() for p in out.rglob("stage_manifest.json")} == manifests
    after = json.loads((out / "study.json").read_text())
    assert after["points"] == json.loads(before)["points"]
    bad = specs_train("study", "gf", "--quick", "--out", str(out), "--set", "steps=6")
    assert bad.returncode == 2 and "another config" in bad.stderr


def test_quick_study_side_by_side_gives_the_numbers_of_one_after_another(quick_study, tmp_path):
    """The fixture ran its units in 2 processes (one thread each). Run one after another with one
    thread, from the same pairs: every cold-start curve point, post-RL number and pass@k curve is the
    same, so ``jobs`` changes the wall time only (the base eval, run at 2 threads there, is left out)."""
    out, log = quick_study
    assert "2 jobs side by side, 1 torch thread(s) each" in log and "[pass@k base]" in log
    seq = tmp_path / "seq"
    p = specs_train("study", "gf", "--quick", "--jobs", "1", "--set", "pipeline.runtime.threads=1",
                    "--pairs", str(out / "shared" / "02-distill"), "--out", str(seq), "--no-report")
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    assert "side by side" not in p.stdout + p.stderr
    par, one = (json.loads((d / "study.json").read_text()) for d in (out, seq))

    def points(data: dict) -> dict:
        return {(q["method"], q["seed"], q["step"]): (q["psi_id"], q["psi_ood"])
                for q in data["points"] if q["step"] > 0}

    assert points(par) == points(one) and len(points(par)) > 0
    assert [(r["method"], r["seed"], r["post_rl"]["mean"]) for r in par["runs"]] == \
        [(r["method"], r["seed"], r["post_rl"]["mean"]) for r in one["runs"]]
    assert [e["pass_at_k"] for e in par["exploration"]] == [e["pass_at_k"] for e in one["exploration"]]


def test_quick_study_contrasts_are_per_seed_differences_of_the_points(quick_study):
    out, _ = quick_study
    data = json.loads((out / "study.json").read_text())
    gamma = {(p["method"], p["seed"], p["step"]): p["gamma"] for p in data["points"]}
    cfg = load_study_config("gf-tiny", quick=True)
    n_pairs = len(cfg.methods) * (len(cfg.methods) - 1) // 2
    assert len(data["contrasts"]) == n_pairs * (len(cfg.curve_steps()) - 1)
    for c in data["contrasts"]:
        assert c["seeds"] == list(cfg.seeds)
        assert c["diffs"] == pytest.approx([gamma[(c["b"], s, c["step"])] - gamma[(c["a"], s, c["step"])]
                                            for s in c["seeds"]])
        assert c["gamma_diff"]["mean"] == pytest.approx(sum(c["diffs"]) / len(c["diffs"]))


def test_quick_study_lost_pieces_are_listed_then_redone_alone(quick_study):
    """Runs last: deletes one checkpoint eval and one RL stage, as a crash or a clean-up would."""
    import shutil

    from analysis.study import collect_study

    out, _ = quick_study
    plan = json.loads((out / "study_plan.json").read_text())
    run = plan["runs"][0]
    curve_eval = next(c["eval"] for c in run["curve"] if c["step"] not in (0, plan["config"]["steps"]))
    shutil.rmtree(out / curve_eval)
    shutil.rmtree(out / run["rl_dir"])
    partial = collect_study(out, n_boot=0)
    assert curve_eval in partial["missing"] and run["rl_eval"] in partial["missing"]
    assert len(partial["points"]) == len(json.loads((out / "study.json").read_text())["points"]) - 1
    p = specs_train("study", "gf", "--quick", "--out", str(out), "--no-report")
    log = p.stdout + p.stderr
    assert p.returncode == 0, log[-3000:]
    assert log.count("   eval of checkpoint") == 1 and log.count("rl step 1/") == 1
    assert "cold-start step 1/" not in log and "zero-rl step 1/" not in log
    assert json.loads((out / "study.json").read_text())["missing"] == []
