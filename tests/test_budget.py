"""The per-sample time budget: overruns, errors and crashes become counted verdicts, never hangs."""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time

from specs_eval.benchmarks.base import score_each
from specs_eval.benchmarks.mmmu import MMMU
from specs_eval.core.metrics import split_metrics
from specs_eval.core.records import Response, ScoreResult
from specs_eval.rules import budget
from tests.conftest import mmmu_row


def _verdict(kind: str) -> ScoreResult:
    if kind == "tower":  # C-level arithmetic: no signal or thread trick interrupts it
        _ = ((9**4096) ** 64) ** 64 ** 64
    if kind == "sleep":
        time.sleep(60)
    if kind == "raise":
        raise ValueError("bad row")
    if kind == "die":
        os.kill(os.getpid(), 9)
    return ScoreResult(score=1.0, correct=True, prediction=kind)


def test_overruns_errors_and_crashes_are_counted_verdicts() -> None:
    kinds = ["a", "tower", "b", "raise", "die", "sleep", "c"]
    start = time.monotonic()
    out = budget.map_with_budget(_verdict, [(k,) for k in kinds], seconds=1.0)
    assert time.monotonic() - start < 10
    assert [r.prediction for r in out] == ["a", None, "b", None, None, None, "c"]
    assert [r.parse_status for r in out] == ["ok", "error", "ok", "error", "error", "error", "ok"]
    assert out[1].details["error"] == "time budget exceeded (1 s)" == out[5].details["error"]
    assert out[3].details["error"] == "ValueError: bad row"
    assert out[4].details["error"] == "scorer process died (signal SIGKILL)"


def test_works_from_a_worker_thread() -> None:
    got: list[list[ScoreResult]] = []
    thread = threading.Thread(target=lambda: got.append(
        budget.map_with_budget(_verdict, [("a",), ("tower",), ("b",)], seconds=1.0)))
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert [r.parse_status for r in got[0]] == ["ok", "error", "ok"]


def test_the_process_group_dies_with_the_worker(tmp_path) -> None:
    """A scorer that started a process (say a sandboxed program) does not leave it running."""
    pid_file = tmp_path / "pid"

    def start_and_hang(_: str) -> ScoreResult:
        child = subprocess.Popen(["sleep", "300"])
        pid_file.write_text(str(child.pid))
        time.sleep(60)
        return ScoreResult(score=1.0, correct=True)

    [r] = budget.map_with_budget(start_and_hang, [("x",)], seconds=1.0)
    assert r.parse_status == "error"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        # a zombie until its parent (the killed worker) is reaped by init
        with open(f"/proc/{pid}/stat") as f:
            if f.read().split()[2] == "Z":
                break
        time.sleep(0.05)
    else:
        raise AssertionError(f"sleep {pid} outlived the killed worker")


def test_same_verdicts_as_score_each_and_counted_in_error_rate() -> None:
    rows = [mmmu_row(f"validation_Art_{i}") for i in range(6)]
    texts = ["(B)", "no idea", "The answer is C", "", "A", "hmm"]
    responses = [Response(id=str(i), text=t) for i, t in enumerate(texts)]
    bench = MMMU()
    rng_a, rng_b = random.Random(42), random.Random(42)
    inline = score_each(rows, responses, lambda row, resp: bench._score_one(row, resp.text, "official", rng_a))
    bounded = budget.score_each(rows, responses, lambda row, resp: bench._score_one(row, resp.text, "official", rng_b),
                                seconds=5.0, stateful=True)
    assert [r.model_dump() for r in bounded] == [r.model_dump() for r in inline]


def test_stateful_replay_keeps_later_samples_on_the_same_random_stream() -> None:
    """After an overrun, the next worker replays the finished calls so the shared state
    (MMMU's seeded fallback stream) is where it would have been."""
    def draw(rng: random.Random, kind: str) -> ScoreResult:
        if kind == "tower":
            _ = ((9**4096) ** 64) ** 64 ** 64
        return ScoreResult(score=0.0, correct=False, prediction=str(rng.random()))

    kinds = ["a", "b", "tower", "c", "d"]
    expected_rng = random.Random(7)
    expected = [str(expected_rng.random()) for _ in ("a", "b", "c", "d")]
    rng = random.Random(7)
    out = budget.map_with_budget(draw, [(rng, k) for k in kinds], seconds=1.0, stateful=True)
    assert [r.prediction for r in out] == [expected[0], expected[1], None, expected[2], expected[3]]
    rng = random.Random(7)
    plain = budget.map_with_budget(draw, [(rng, k) for k in kinds], seconds=1.0)
    assert plain[3].prediction == expected[0]  # without replay the new worker restarts the stream


def test_an_overrun_counts_in_the_error_rate() -> None:
    from specs_eval.core.records import SampleRecord

    [r] = budget.map_with_budget(_verdict, [("tower",)], seconds=0.5)
    sample = SampleRecord(benchmark="b", split="s", id="1", sample_idx=0, doc_hash="h", prompt_hash="p", prompt="q",
                          target="t", response="r", profile="rules", prediction=None, correct=False, score=0.0,
                          parse_status=r.parse_status, scores={"rules": r})
    assert split_metrics([sample]).error_rate == 1.0


def test_inline_without_a_budget() -> None:
    out = budget.map_with_budget(_verdict, [("a",), ("raise",)], seconds=None)
    assert [r.parse_status for r in out] == ["ok", "error"]


def test_every_benchmark_score_runs_under_the_budget(monkeypatch):
    """Wired in: a scorer that hangs on one response inside ``Benchmark.score`` gives that sample a counted
    error and the others their verdicts (the toy world's rules here; every benchmark goes through score_each)."""
    import time as _time

    import specs_eval.benchmarks.toy as toy
    from specs_eval.benchmarks import get_benchmark
    from specs_eval.benchmarks.toyworld import world
    from specs_eval.core.records import Response

    real = toy.score_toy

    def slow(row, text, finish_reason=None):
        if text == "hang":
            _time.sleep(60)
        return real(row, text, finish_reason)

    monkeypatch.setattr(toy, "score_toy", slow)
    monkeypatch.setenv("SPECS_EVAL_SCORE_BUDGET_S", "1")
    bench = get_benchmark("toyworld")
    rows = [world.make_item("id", i, 0) for i in range(3)]
    texts = [f"<think>x</think><answer>\\boxed{{{rows[0]['answer_token']}}}</answer>", "hang", "no answer"]
    t0 = _time.perf_counter()
    out = bench.score(rows, [Response(id=str(i), text=t) for i, t in enumerate(texts)])
    assert _time.perf_counter() - t0 < 20
    assert out[0].correct and out[1].parse_status == "error" and out[1].method == "time_budget"
    assert out[2].parse_status != "error"
