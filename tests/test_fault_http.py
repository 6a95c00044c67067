"""Servers and judges that fail fast: a misbehaving OpenAI-compatible server per failure mode.

Every server here is a real HTTP server on 127.0.0.1 (``tests.loopback.ScriptedServer``) that
answers each request the way a broken or hostile endpoint does. The client, the backend, the
engine and the CLI are the real ones; the runs are real ``specs-eval run`` subprocesses where the
exit status matters. Nothing touches the network.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest

from specs_eval.backends.openai_client import OpenAIClient, OpenAIError, parse_completion, redact
from specs_eval.run.judges import OpenAIJudge, judge_failure

from .conftest import mathvista_row, run_cli, write_jsonl
from .loopback import ScriptedServer

SECRET = "sk-test-0123456789abcdefSECRET"


@pytest.fixture
def server():
    s = ScriptedServer()
    try:
        yield s
    finally:
        s.close()


def _client(url: str, **kw) -> OpenAIClient:
    kw.setdefault("timeout_s", 5.0)
    kw.setdefault("max_retries", 2)
    kw.setdefault("backoff_s", 0.0)
    return OpenAIClient(url, api_key=SECRET, **kw)


MSG = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


@pytest.mark.parametrize("mode, needle", [
    ("deep", "nested too deeply"),
    ("dict_choices", "choices"),
    ("bad_usage", "usage"),
    ("bad_index", "index"),
    ("not_json", "not JSON"),
])
def test_malformed_bodies_are_one_non_retried_error(server, mode, needle):
    """Each of these crashed `run` before (RecursionError, KeyError, AttributeError, TypeError)."""
    server.default = mode
    client = _client(server.base_url)
    with pytest.raises(OpenAIError) as e:
        client.chat("m", MSG)
    assert "malformed response" in str(e.value) and needle in str(e.value)
    assert not e.value.retryable and server.posts == 1


def test_a_valid_body_parses(server):
    r = _client(server.base_url).chat("m", MSG, n=2)
    assert r.text == server.answer and [c["index"] for c in r.choices] == [0, 1]
    assert r.usage["prompt_tokens"] == 10


def test_slow_drip_is_cut_at_the_total_deadline(server):
    """A server that sends one byte every 0.2 s never trips a per-read timeout; the total deadline cuts it."""
    server.default, server.drip_s = "slow_drip", 0.2
    client = _client(server.base_url, timeout_s=1.5, max_retries=0)
    t0 = time.monotonic()
    with pytest.raises(OpenAIError) as e:
        client.chat("m", MSG)
    took = time.monotonic() - t0
    assert e.value.timeout and "within 1.5 s" in str(e.value)
    assert 1.4 < took < 3.0, took  # the full body would take > 30 s


def test_retries_are_bounded_and_honour_retry_after(server):
    waits: list[float] = []
    server.modes = ["retry_after:2", "retry_after_date", "ok"]
    client = _client(server.base_url, max_retries=3, sleep=waits.append)
    assert client.chat("m", MSG).text == server.answer
    assert waits[0] == 2.0 and 0.0 <= waits[1] <= 1.5 and server.posts == 3
    server.default, server.modes, server.posts = "status:503", [], 0
    with pytest.raises(OpenAIError, match="HTTP 503"):
        _client(server.base_url, max_retries=2, sleep=waits.append).chat("m", MSG)
    assert server.posts == 3  # 1 + max_retries, then it gives up


def test_retry_after_is_capped(server):
    waits: list[float] = []
    server.modes = ["retry_after:86400", "ok"]
    _client(server.base_url, max_backoff_s=7.0, sleep=waits.append).chat("m", MSG)
    assert waits == [7.0]


def test_an_endless_body_is_cut_at_the_size_cap(server):
    server.default = "huge"
    with pytest.raises(OpenAIError, match="exceeds"):
        _client(server.base_url, max_response_bytes=1 << 20, max_retries=0).chat("m", MSG)


def test_the_key_is_sent_but_never_in_an_error(server):
    server.default = "echo_auth"
    with pytest.raises(OpenAIError) as e:
        _client(server.base_url).chat("m", MSG)
    assert server.seen[0]["authorization"] == f"Bearer {SECRET}"  # the server did get (and echo) it
    assert SECRET not in str(e.value) and "[redacted]" in str(e.value)


def test_redaction_patterns():
    assert SECRET not in redact(f"key={SECRET}") and "Bearer abcdefgh" not in redact("x Bearer abcdefgh y")
    assert redact('{"api_key": "hunter22"}') == '{"api_key": "[redacted]"}'
    assert redact("nothing secret here: 2 + 2 = 4") == "nothing secret here: 2 + 2 = 4"


def test_parse_completion_never_raises_anything_else():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                               lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(
                                   ["choices", "usage", "index", "message", "content", "model", "x"]), c, max_size=4),
                               max_leaves=20)

    @settings(max_examples=300, deadline=None)
    @given(json_values)
    def check(value):
        with contextlib.suppress(OpenAIError):
            parse_completion(json.dumps(value).encode())

    check()


# ----- the run: counted errors, retried on the rerun, exit status, secrets -----


def _run_args(url: str, out: Path, *extra: str) -> list[str]:
    return ["run", "--backend", "openai", "--base-url", url, "-m", "served-model", "-s", "id", "--limit", "4",
            "--batch-size", "2", "--concurrency", "1", "--max-retries", "0", "--no-cache", "--out", str(out),
            "--run-name", "r", "--no-report", *extra]


def _gens(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "generations.jsonl").read_text().splitlines() if x.strip()]


def test_malformed_answers_are_counted_errors_then_retried_on_rerun(server, tmp_path):
    server.modes = ["ok", "ok", "deep", "dict_choices", "bad_usage", "bad_index"]  # 2 probe requests first
    r = run_cli(*_run_args(server.base_url, tmp_path))
    assert r.returncode == 1, r.stderr  # the run finished, but its numbers are made of failures
    assert "Traceback" not in r.stderr and "4 of 4 samples failed to generate" in r.stderr
    assert "--allow-errors" in r.stderr
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    assert res["benchmarks"]["toyworld"]["splits"]["id"]["error_rate"] == 1.0
    assert any("failed to generate" in w for w in res["warnings"])
    assert any("every sample failed" in w for w in res["warnings"])
    assert all(g["finish_reason"] == "error" and "malformed" in g["error"] for g in _gens(tmp_path / "r"))

    kept = run_cli(*_run_args(server.base_url, tmp_path, "--no-retry-errors", "--allow-errors"))
    assert kept.returncode == 0, kept.stderr
    assert server.posts == 6  # nothing to generate: the failed samples were kept, no server contacted

    server.default = "ok"
    again = run_cli(*_run_args(server.base_url, tmp_path))
    assert again.returncode == 0, again.stderr
    assert "4 generated (4 of them failed before)" in again.stderr
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    assert res["benchmarks"]["toyworld"]["splits"]["id"]["error_rate"] == 0.0 and res["warnings"] == []
    samples = [json.loads(x) for x in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and all(s["error"] is None for s in samples)


def test_slow_drip_server_run_takes_seconds_not_minutes(server, tmp_path):
    server.default, server.drip_s = "ok", 0.5
    server.modes = ["ok", "ok"] + ["slow_drip"] * 4
    t0 = time.monotonic()
    r = run_cli(*_run_args(server.base_url, tmp_path, "--request-timeout", "3", "--allow-errors"))
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    errors = [g["error"] for g in _gens(tmp_path / "r")]
    assert len(errors) == 4 and all("within 3 s" in e for e in errors)
    assert took < 4 * 3 + 20, took  # 4 cut-off requests + start-up; a drip of the whole body: minutes


def test_the_api_key_never_reaches_stored_files(server, tmp_path):
    server.modes = ["ok", "ok", "echo_auth", "ok"]
    r = run_cli(*_run_args(server.base_url, tmp_path, "--allow-errors"), env={"OPENAI_API_KEY": SECRET})
    assert r.returncode == 0, r.stderr
    assert all(s["authorization"] == f"Bearer {SECRET}" for s in server.seen)
    stored = "".join(p.read_text(errors="replace") for p in (tmp_path / "r").rglob("*") if p.is_file())
    assert "invalid request" in stored and "[redacted]" in stored  # the echoed error is kept, the key is not
    assert SECRET not in stored and SECRET not in r.stderr and SECRET not in r.stdout


# ----- the judge circuit breaker -----


def _mathvista_data(tmp_path: Path, n: int = 6) -> Path:
    from PIL import Image

    (tmp_path / "images").mkdir()
    rows = []
    for i in range(n):
        row = mathvista_row(str(i + 1))
        Image.new("RGB", (8, 8), (i * 30, 0, 0)).save(tmp_path / row["image"])
        rows.append(row)
    return write_jsonl(tmp_path / "testmini.jsonl", rows)


def test_a_failing_judge_trips_the_breaker_and_fails_the_run(server, tmp_path):
    judge = ScriptedServer(default="status:500")
    try:
        server.answer = "I would rather not say."  # no quick-rule extraction: every sample asks the judge
        data = _mathvista_data(tmp_path)
        t0 = time.monotonic()
        r = run_cli("run", "--backend", "openai", "--base-url", server.base_url, "-m", "served-model", "-b",
                    "mathvista", "-s", "testmini", "--data", str(data), "--profile", "official", "--judge-url",
                    judge.base_url, "--judge-model", "judge-m", "--judge-cache", str(tmp_path / "jc"), "--no-cache",
                    "--out", str(tmp_path / "runs"), "--run-name", "j", "--no-report", "-q",
                    "--judge-max-failures", "2")
        took = time.monotonic() - t0
        assert r.returncode == 2, r.stderr
        assert "failed 2 times in a row and was stopped" in r.stderr and "Traceback" not in r.stderr
        assert judge.posts == 2 * 3  # 2 calls x (1 + 2 retries); the other 4 samples never called it
        manifest = json.loads((tmp_path / "runs" / "j" / "manifest.json").read_text())
        assert manifest["status"] == "failed" and "stopped" in manifest["error"]
        samples = [json.loads(x) for x in (tmp_path / "runs" / "j" / "samples.jsonl").read_text().splitlines()]
        assert len(samples) == 6 and all(s["parse_status"] == "error" for s in samples)
        assert took < 60, took
    finally:
        judge.close()


def test_a_failing_judge_fails_score_too(tmp_path):
    """``specs-eval score`` with a judge that keeps failing: outputs written, exit 2 naming the stopped judge."""
    judge = ScriptedServer(default="status:500")
    try:
        data = _mathvista_data(tmp_path)
        preds = tmp_path / "preds.jsonl"
        preds.write_text("".join(json.dumps({"id": str(i + 1), "response": "I would rather not say."}) + "\n"
                                 for i in range(6)))
        r = run_cli("score", "--benchmark", "mathvista", "--split", "testmini", "--data", str(data), "--predictions",
                    str(preds), "--profile", "official", "--judge-url", judge.base_url, "--judge-model", "judge-m",
                    "--judge-cache", str(tmp_path / "jc"), "--out", str(tmp_path / "scored"))
        assert r.returncode == 2, r.stderr
        assert "was stopped" in r.stderr and "Traceback" not in r.stderr
        assert (tmp_path / "scored" / "samples.jsonl").exists()
    finally:
        judge.close()


def test_breaker_unit(server):
    server.default = "status:500"
    j = OpenAIJudge(_client(server.base_url, max_retries=0), "judge-m", max_failures_in_a_row=3)
    verdicts = [j.complete([{"role": "user", "content": f"q{i}"}]) for i in range(5)]
    assert [v.ok for v in verdicts] == [False] * 5
    assert server.posts == 3 and j.tripped and "3 times in a row" in (judge_failure(j) or "")
    server.default = "ok"
    ok = OpenAIJudge(_client(server.base_url, max_retries=0), "judge-m", max_failures_in_a_row=3)
    server.modes = ["status:500", "status:500", "ok", "status:500", "status:500", "ok"]
    assert [ok.complete([{"role": "user", "content": f"r{i}"}]).ok for i in range(6)] == \
        [False, False, True, False, False, True]
    assert not ok.tripped  # a success resets the count


def test_a_refused_start_up_leaves_no_run_folder(server, tmp_path):
    """Before: a 400 from the start-up probe ("Server is pinned to …") left an empty run folder."""
    server.default = "status:400"
    r = run_cli(*_run_args(server.base_url, tmp_path))
    assert r.returncode == 2 and "start-up check" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()
