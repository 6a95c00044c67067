"""Training run directories (specs-train stage folders) and per-step GRPO group statistics."""

from __future__ import annotations

import json

import pytest

from analysis import TrainingLogError, group_stats_by_step, load_training, training_frame
from analysis.training_logs import summarize_groups


def test_pipeline_dir(training_dir):
    t = load_training(training_dir)
    assert [s.stage for s in t.stages] == ["cold-start", "rl"]
    df = training_frame(t)
    assert len(df) == 60
    assert {"rewards/margins", "groups/zero_variance_rate", "frac_reward_zero_std"} <= set(df.columns)
    g = group_stats_by_step(df)
    assert list(g["stage"].unique()) == ["rl"] and (g["source"] == "groups").all()
    s = summarize_groups(df)[0]
    # zero-variance rate 0.6 − 0.01·step over steps 1..30; windows of 6 steps
    assert s["zero_variance_rate_first"] == pytest.approx(0.6 - 0.01 * 3.5)
    assert s["zero_variance_rate_last"] == pytest.approx(0.6 - 0.01 * 27.5)
    assert s["all_correct_rate_last"] == pytest.approx(0.1 + 0.005 * 27.5)


def test_single_stage_and_trl_fallback(tmp_path):
    d = tmp_path / "zero-rl"
    d.mkdir()
    (d / "stage_manifest.json").write_text(json.dumps({"schema_version": 1, "stage": "zero-rl"}))
    (d / "metrics.jsonl").write_text("".join(json.dumps({"schema_version": 1, "stage": "zero-rl", "step": s,
                                                         "frac_reward_zero_std": 0.5}) + "\n" for s in range(4))
                                     + '{"schema_version": 1, "st')  # torn last line of a running job
    t = load_training(d)
    assert len(t.stages) == 1 and len(t.stages[0].rows) == 4
    assert any(f.code == "torn_line" for f in t.flags)
    g = group_stats_by_step(training_frame(t))
    assert (g["source"] == "frac_reward_zero_std").all() and g["all_correct_rate"].isna().all()


@pytest.mark.parametrize(("line", "match"), [
    ({"schema_version": 2, "stage": "rl", "step": 1}, "schema version 2"),
    ({"stage": "rl", "step": 1}, "schema version None"),
    ({"schema_version": 1, "stage": "rl", "step": "1"}, "'step' must be an integer"),
])
def test_bad_lines(tmp_path, line, match):
    d = tmp_path / "s"
    d.mkdir()
    (d / "metrics.jsonl").write_text(json.dumps(line) + "\n" + json.dumps({"schema_version": 1, "step": 2}) + "\n")
    with pytest.raises(TrainingLogError, match=match):
        load_training(d)


def test_manifest_version_and_missing(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / "stage_manifest.json").write_text(json.dumps({"schema_version": 0}))
    (d / "metrics.jsonl").write_text("")
    with pytest.raises(TrainingLogError, match="schema version 0"):
        load_training(d)
    empty = tmp_path / "empty"
    (empty / "not-a-stage").mkdir(parents=True)
    with pytest.raises(TrainingLogError, match="no stage folders"):
        load_training(empty)
