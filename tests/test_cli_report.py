"""``specs-eval report`` end to end through the CLI entry point."""

from __future__ import annotations

import json
import shutil

import pytest

from specs_eval.cli import main
from tests.toy_runs import rewrite_jsonl


def run_cli(args, capsys):
    code = 0
    try:
        main(args)
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_writes_three_files(toy_run_dirs, tmp_path, capsys):
    out = tmp_path / "rep" / "report.html"
    code, stdout, _ = run_cli(["report", str(toy_run_dirs["base"]), str(toy_run_dirs["sft"]),
                               str(toy_run_dirs["dpo"]), "--out", str(out), "--n-boot", "100",
                               "--ood-weight", "ood_format=2", "--leaderboard", "specs-table2"], capsys)
    assert code == 0, stdout
    assert out.exists() and out.with_suffix(".json").exists() and out.with_suffix(".md").exists()
    assert "wrote" in stdout and "MB" in stdout
    data = json.loads(out.with_suffix(".json").read_text())
    assert [g["candidate"] for g in data["gf"]] == ["sft", "dpo"]
    assert data["gf"][0]["config"]["ood_weights"]["ood_format"] == 2.0
    assert data["options"]["leaderboard"] == "specs-table2"


def test_baseline_option_and_metric(toy_run_dirs, tmp_path, capsys):
    out = tmp_path / "r.html"
    code, _, _ = run_cli(["report", str(toy_run_dirs["base"]), str(toy_run_dirs["dpo"]), "--baseline", "dpo",
                          "--metric", "format_compliance", "--n-boot", "0", "--out", str(out), "--group-reward",
                          "accuracy+format", "--k", "2"], capsys)
    assert code == 0
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["baseline"] == "dpo" and data["options"]["metric"] == "format_compliance"
    assert {e["reward"] for e in data["exploration"]} == {"accuracy+format"} and data["exploration"][0]["k"] == 2


def test_user_errors_are_one_line(toy_run_dirs, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(toy_run_dirs["base"], old)
    rewrite_jsonl(old / "samples.jsonl", lambda o: o | {"schema_version": 0})
    code, _, err = run_cli(["report", str(old), "--out", str(tmp_path / "x.html")], capsys)
    assert code == 2 and "nothing to report" in err and "older schema" in err and "Traceback" not in err
    code, _, err = run_cli(["report", str(toy_run_dirs["base"]), "--leaderboard", "nope",
                            "--out", str(tmp_path / "y.html")], capsys)
    assert code == 2 and "unknown leaderboard" in err
    code, _, err = run_cli(["report", str(toy_run_dirs["base"]), "--ood-weight", "oops"], capsys)
    assert code == 2 and "SPLIT=WEIGHT" in err


def test_flags_printed_and_strict(toy_run_dirs, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(toy_run_dirs["dpo"], old)
    rewrite_jsonl(old / "samples.jsonl", lambda o: o | {"schema_version": 0})
    args = ["report", str(toy_run_dirs["base"]), str(old), "--n-boot", "0", "--out", str(tmp_path / "s.html")]
    code, _, err = run_cli(args, capsys)
    assert code == 0 and "refuse: old not included" in err
    code, _, _ = run_cli([*args, "--strict"], capsys)
    assert code == 3


@pytest.mark.parametrize("cmd", [["report", "--help"]])
def test_help(cmd, capsys):
    code, out, _ = run_cli(cmd, capsys)
    assert code == 0 and "report" in out
