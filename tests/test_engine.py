"""The run engine and `specs-eval run`: files, provenance, resume after a kill, and bad input.

These use a real (untrained) micro Qwen2.5-VL and real subprocesses: a kill is a real
SIGKILL, a full disk is a real file-size limit (RLIMIT_FSIZE) on the writing process.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specs_eval.benchmarks.toyworld.export import export_split
from specs_eval.core.records import GenerationSettings, RunManifest, RunResults, TaskSpec
from specs_eval.run.engine import RunConfig, run_eval

from .conftest import REPO, run_cli

SPLITS = ("id", "ood_visual", "ood_task", "ood_format")


def _config(model: Path, out: Path, limit: int = 3, **gen) -> RunConfig:
    tasks = [TaskSpec(benchmark="toyworld", split=s, limit=limit) for s in SPLITS]
    settings = GenerationSettings(max_new_tokens=gen.pop("max_new_tokens", 6), batch_size=4, **gen)
    return RunConfig(model=str(model), tasks=tasks, generation=settings, out=out, run_name="r")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_run_writes_logs_results_and_provenance(micro_model, tmp_path):
    outcome = run_eval(_config(micro_model, tmp_path))
    d = outcome.run_dir
    gens = _lines(d / "generations.jsonl")
    samples = _lines(d / "samples.jsonl")
    assert len(gens) == len(samples) == 4 * 3
    assert {g["split"] for g in gens} == set(SPLITS)
    assert all({"id", "prediction", "correct", "score", "response"} <= set(s) for s in samples)
    results = RunResults.model_validate_json((d / "results.json").read_text())
    assert set(results.benchmarks["toyworld"].splits) == set(SPLITS)
    m = RunManifest.model_validate_json((d / "manifest.json").read_text())
    assert m.status == "complete" and m.wall_s is not None
    assert m.model.weights_hash and m.model.chat_template_hash and m.model.processor["class"]
    assert {"torch", "transformers", "python", "specs-eval"} <= set(m.libraries)
    assert len(m.datasets) == 4 and all(ds.content_hash and ds.rows == 3 for ds in m.datasets)
    # the same config resumes with nothing to do; a different config is refused
    again = run_eval(_config(micro_model, tmp_path))
    assert again.generated == 0 and again.resumed == 12
    from specs_eval.core.errors import SpecsError

    with pytest.raises(SpecsError, match="different run"):
        run_eval(_config(micro_model, tmp_path, max_new_tokens=7))


def test_partial_log_resumes_to_identical_results(micro_model, tmp_path):
    """A run cut after some batches (plus a torn last line) resumes to the same samples as a clean run."""
    full = run_eval(_config(micro_model, tmp_path / "a", limit=5)).run_dir
    gens = (full / "generations.jsonl").read_text().splitlines()
    part = tmp_path / "b" / "r"
    part.mkdir(parents=True)
    (part / "manifest.json").write_text((full / "manifest.json").read_text())
    (part / "generations.jsonl").write_text("\n".join(gens[:7]) + "\n" + gens[7][: len(gens[7]) // 2])
    resumed = run_eval(_config(micro_model, tmp_path / "b", limit=5))
    assert resumed.resumed == 7 and resumed.generated == len(gens) - 7
    key = lambda s: (s["split"], s["id"], s["sample_idx"])  # noqa: E731
    a = sorted(_lines(full / "samples.jsonl"), key=key)
    b = sorted(_lines(part / "samples.jsonl"), key=key)
    assert [(key(x), x["response"], x["score"]) for x in a] == [(key(x), x["response"], x["score"]) for x in b]


def test_resume_after_sigkill(micro_model, tmp_path):
    args = ["run", "-m", str(micro_model), "--limit", "30", "--batch-size", "2", "--max-new-tokens", "24",
            "--out", str(tmp_path), "--run-name", "k", "--no-report", "-q"]
    log = tmp_path / "k" / "generations.jsonl"
    import os

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "specs_eval", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 6):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = len(log.read_text().splitlines())
    assert 0 < n_before < 120, "the run should have been killed part-way"
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    gens = _lines(log)
    keys = [(g["split"], g["id"], g["sample_idx"]) for g in gens]
    assert len(keys) == len(set(keys)) == 4 * 30  # nothing lost, nothing duplicated
    assert len(_lines(tmp_path / "k" / "samples.jsonl")) == 120


def test_cli_errors_are_one_line(micro_model, tmp_path):
    cases = [
        (["run", "-m", str(tmp_path / "nope")], "unknown model"),
        (["run", "-m", str(micro_model), "-b", "mathvistaa"], "unknown benchmark"),
        (["run", "-m", str(micro_model), "-s", "ood_colour"], "no split"),
        (["run", "-m", str(micro_model), "--shard", "3/2"], "shard"),
        (["run", "-m", str(micro_model), "-n", "4"], "needs sampling"),
    ]
    for args, needle in cases:
        r = run_cli(*args, "--out", str(tmp_path))
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_corrupt_image_is_a_counted_failure_and_missing_fields_an_error(micro_model, tmp_path):
    data = export_split("id", tmp_path / "data", n=4)
    rows = _lines(data)
    (tmp_path / "data" / rows[1]["image"]).write_bytes(b"not a png at all")
    r = run_cli("run", "-m", str(micro_model), "--data", str(data), "-s", "id", "--max-new-tokens", "4",
                "--out", str(tmp_path / "runs"), "--run-name", "c", "-q")
    assert r.returncode == 1, r.stderr  # counted, warned, and not silent: exit 1 unless --allow-errors
    assert "1 of 4 samples have no prompt" in r.stderr and "corrupt" in r.stderr
    samples = {s["id"]: s for s in _lines(tmp_path / "runs" / "c" / "samples.jsonl")}
    bad = samples[rows[1]["pid"]]
    assert bad["error"] and "corrupt" in bad["error"] and bad["score"] == 0
    res = RunResults.model_validate_json((tmp_path / "runs" / "c" / "results.json").read_text())
    assert res.benchmarks["toyworld"].splits["id"].error_rate == pytest.approx(0.25)

    broken = tmp_path / "broken.jsonl"
    rows[2].pop("answer")
    broken.write_text("\n".join(json.dumps(x) for x in rows) + "\n")
    r = run_cli("run", "-m", str(micro_model), "--data", str(broken), "-s", "id", "--out", str(tmp_path / "runs2"))
    assert r.returncode == 2 and "answer" in r.stderr and rows[2]["pid"] in r.stderr and "Traceback" not in r.stderr


def test_full_disk_gives_one_line_and_no_torn_results(micro_model, tmp_path):
    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    r = run_cli("run", "-m", str(micro_model), "--limit", "20", "--max-new-tokens", "4", "--out", str(tmp_path),
                "--run-name", "f", "-q", preexec_fn=limit_file_size)
    assert r.returncode == 2, r.stderr
    assert "disk full" in r.stderr and "Traceback" not in r.stderr
    results = tmp_path / "f" / "results.json"
    if results.exists():  # whatever exists must be whole
        json.loads(results.read_text())
    # after freeing space the same command finishes from where it stopped
    done = run_cli("run", "-m", str(micro_model), "--limit", "20", "--max-new-tokens", "4", "--out", str(tmp_path),
                   "--run-name", "f", "-q")
    assert done.returncode == 0, done.stderr
    assert len(_lines(tmp_path / "f" / "samples.jsonl")) == 80


def test_scoring_and_harness_import_without_torch():
    code = (
        "import sys, specs_eval, specs_eval.run.engine, specs_eval.run.scoring, specs_eval.benchmarks.toy, "
        "specs_eval.cli, specs_eval.core.io, specs_eval.cli.tables; "
        "from specs_eval.cli import cli; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_sampling_seed_does_not_change_the_items(micro_model, tmp_path):
    a = run_eval(_config(micro_model, tmp_path / "a", limit=2, temperature=1.0, seed=0))
    b = run_eval(_config(micro_model, tmp_path / "b", limit=2, temperature=1.0, seed=1))
    assert [d.content_hash for d in a.manifest.datasets] == [d.content_hash for d in b.manifest.datasets]
    cfg = _config(micro_model, tmp_path / "c", limit=2)
    cfg.tasks = [t.model_copy(update={"data_seed": 1}) for t in cfg.tasks]
    c = run_eval(cfg)
    assert [d.content_hash for d in a.manifest.datasets] != [d.content_hash for d in c.manifest.datasets]
