"""Resumes that are exact, one writer per run folder, and no silent zeros: `specs-eval run` under faults.

Every kill here is a real SIGKILL of a real `specs-eval run` process, either from outside or
at a named point inside it (``SPECS_FAULT``, ``specs_eval.core.io.fault_point``: between writing
a temporary file and renaming it, in the middle of a log batch, between scoring and the results
file). The model is the real (untrained) micro Qwen2.5-VL. "Exact" means: the rerun's samples
equal an uninterrupted run's, response by response.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specs_eval.core.io import FolderLock, FolderLocked

from .conftest import REPO, mathvista_row, run_cli, write_jsonl


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _samples(run_dir: Path) -> dict[tuple, tuple]:
    return {(s["split"], s["id"], s["sample_idx"]): (s["response"], s["score"], s["finish_reason"])
            for s in _lines(run_dir / "samples.jsonl")}


def _args(model: Path, out: Path, name: str, *extra: str) -> list[str]:
    return ["run", "-m", str(model), "-s", "id", "-s", "ood_task", "--limit", "6", "--batch-size", "4",
            "--max-new-tokens", "12", "--temperature", "1.0", "-n", "2", "--out", str(out), "--run-name", name,
            "--no-report", "-q", *extra]


@pytest.fixture(scope="module")
def reference(micro_model, tmp_path_factory) -> dict[tuple, tuple]:
    """An uninterrupted sampled run (2 splits x 6 rows x 2 samples, batches of 2 rows)."""
    out = tmp_path_factory.mktemp("ref")
    r = run_cli(*_args(micro_model, out, "ref"))
    assert r.returncode == 0, r.stderr
    return _samples(out / "ref")


@pytest.mark.parametrize("fault", [
    "run:loaded",                    # model loaded, nothing written yet
    "torn:generations.jsonl@2",      # half of the 2nd batch's lines on disk: a torn line mid-batch
    "run:batch@3",                   # after the 3rd batch
    "tmp:samples.jsonl",             # temporary samples file written, not yet renamed
    "run:samples",                   # samples.jsonl written, results.json not
])
def test_kill_at_each_phase_then_rerun_is_exact(micro_model, tmp_path, reference, fault):
    env = {"SPECS_FAULT": fault}
    killed = run_cli(*_args(micro_model, tmp_path, "k"), env=env)
    assert killed.returncode == -signal.SIGKILL, (fault, killed.returncode, killed.stderr[-2000:])
    run_dir = tmp_path / "k"
    if fault.startswith("torn:"):
        raw = (run_dir / "generations.jsonl").read_bytes()
        assert not raw.endswith(b"\n"), "the kill should leave a torn last line"
    if fault.startswith("tmp:"):
        assert list(run_dir.glob(".samples.jsonl.*.tmp")), "the kill should leave a temporary file"
    done = run_cli(*_args(micro_model, tmp_path, "k"))
    assert done.returncode == 0, done.stderr
    assert _samples(run_dir) == reference  # every sampled response equal to the uninterrupted run's
    keys = [(g["split"], g["id"], g["sample_idx"]) for g in _lines(run_dir / "generations.jsonl")]
    assert len(keys) == len(set(keys)) == 24
    assert not list(run_dir.rglob("*.tmp")) and json.loads((run_dir / "results.json").read_text())["warnings"] == []


def test_two_writers_one_is_refused_and_a_dead_holders_lock_is_taken_over(micro_model, tmp_path):
    args = ["run", "-m", str(micro_model), "--limit", "30", "--batch-size", "2", "--max-new-tokens", "24",
            "--out", str(tmp_path), "--run-name", "w", "--no-report", "-q"]
    log = tmp_path / "w" / "generations.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen([sys.executable, "-m", "specs_eval", *args], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 4):
            time.sleep(0.05)
        assert first.poll() is None, "the first run should still be generating"
        second = run_cli(*args)
        assert second.returncode == 2, second.stderr
        assert "in use by another `specs-eval run`" in second.stderr and f"pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    third = run_cli(*args[:-1])  # the holder is dead: its lock is taken over, and said so
    assert third.returncode == 0, third.stderr
    assert f"taking over the lock of a process that is gone (pid {first.pid})" in third.stderr
    keys = [(g["split"], g["id"], g["sample_idx"]) for g in _lines(log)]
    assert len(keys) == len(set(keys)) == 4 * 30  # nothing duplicated
    assert json.loads((tmp_path / "w" / "results.json").read_text())["benchmarks"]["toyworld"]["splits"]["id"][
        "n_samples"] == 30


def test_folder_lock_unit(tmp_path):
    with FolderLock(tmp_path / "a", what="test") as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
        with pytest.raises(FolderLocked, match="in use by another test"):
            FolderLock(tmp_path / "a", what="test").acquire()  # even from the same process
    again = FolderLock(tmp_path / "a").acquire()  # released: free again, nothing to take over
    assert again.took_over is None
    again.release()


def test_no_silent_zeros_missing_images(micro_model, tmp_path):
    """MathVista rows whose images cannot be used: before, accuracy 0.0, exit 0, warnings [].

    A missing image file is refused when the data loads (exit 2, naming the row and the file); an image file
    that exists but does not open fails its samples at generation: warnings everywhere and exit 1."""
    data = write_jsonl(tmp_path / "testmini.jsonl", [mathvista_row(str(i)) for i in range(1, 6)])
    args = ["run", "-m", str(micro_model), "-b", "mathvista", "-s", "testmini", "--data", str(data), "--limit", "3",
            "--max-new-tokens", "4", "--out", str(tmp_path / "runs"), "--run-name", "m"]
    missing = run_cli(*args)
    assert missing.returncode == 2 and "images/1.jpg" in missing.stderr, missing.stderr
    (tmp_path / "images").mkdir()
    for i in range(1, 6):
        (tmp_path / "images" / f"{i}.jpg").write_bytes(b"not an image")
    r = run_cli(*args)
    assert r.returncode == 1, r.stderr
    assert "3 of 3 samples have no prompt" in r.stderr and "image" in r.stderr and "--allow-errors" in r.stderr
    assert "warning: mathvista/testmini: 3 of 3 samples have no prompt" in r.stdout  # the terminal table's notes
    results = json.loads((tmp_path / "runs" / "m" / "results.json").read_text())
    assert any("have no prompt" in w for w in results["warnings"])
    assert any("every sample failed" in w for w in results["warnings"])
    assert "3 of 3 samples have no prompt" in (tmp_path / "runs" / "m" / "report.html").read_text()
    ok = run_cli(*args, "--allow-errors")
    assert ok.returncode == 0 and "accepted (--allow-errors)" in ok.stderr


def test_config_file_with_flags_overriding(micro_model, tmp_path):
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(f"model: {micro_model}\nsplit: [id, ood_task]\nlimit: 2\nmax-new-tokens: 4\nrun_name: cfg\n"
                   f"out: {tmp_path / 'runs'}\nno-report: true\n")
    r = run_cli("run", "--config", str(cfg), "--limit", "3", "-v")
    assert r.returncode == 0, r.stderr
    samples = _lines(tmp_path / "runs" / "cfg" / "samples.jsonl")
    assert {s["split"] for s in samples} == {"id", "ood_task"} and len(samples) == 6  # --limit 3 won
    assert "INFO specs_eval.run.engine" in r.stderr  # -v: standard logging at info
    quiet = run_cli("run", "--config", str(cfg), "--limit", "3")
    assert quiet.returncode == 0 and "INFO" not in quiet.stderr
    cfg.write_text("modle: x\n")
    bad = run_cli("run", "--config", str(cfg))
    assert bad.returncode == 2 and "unknown option 'modle'" in bad.stderr and "Traceback" not in bad.stderr


def test_verbosity_options_on_both_clis():
    from click.testing import CliRunner

    from specs_eval.cli import cli as eval_cli
    from training.cli import cli as train_cli

    for group, cmd in ((eval_cli, "ls"), (train_cli, "config")):
        assert "--verbose" in CliRunner().invoke(group, ["--help"]).output
        sub = group.get_command(None, cmd)  # type: ignore[arg-type]
        assert {"--verbose", "--quiet"} <= {o for p in sub.params for o in getattr(p, "opts", [])}
