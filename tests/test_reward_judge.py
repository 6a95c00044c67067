"""The judge term of the RL accuracy reward, against a misbehaving loopback judge.

The server stands in for GPT-4o (no network here): it speaks the chat-completions wire format on
127.0.0.1 and answers by the student's final answer: YES for ``Tuesday``, NO for ``Monday``, an
unreadable reply for ``babble``, HTTP 500 for ``crash``, a slow YES for ``slow``. It records how
many requests were in flight at once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from specs_eval.backends.openai_client import OpenAIClient
from specs_eval.rules.rlpool import parse_equivalence
from specs_eval.run.judges import OpenAIJudge
from training.config import ConfigError, load_config
from training.manifest import StageError
from training.reward_judge import RewardJudge
from training.rewards import AccuracyReward

VIRL_TEXT_ROW = {"question": "<image>\nAccording to the table, on which day did the shop sell the most apples?",
                 "answer": "\\boxed{Tuesday}", "qid": "q-text", "image": ["images/q-text-0.jpg"], "category": "x",
                 "source": "Processed", "image_sizes": [[20, 15]]}
VIRL_MC_ROW = {"question": "<image>\nWhich?\nChoices:\n(A) one\n(B) two", "answer": "\\boxed{B}", "qid": "q-mc",
               "image": ["images/q-mc-0.jpg"], "image_sizes": [[20, 15]]}


class MisbehavingJudge:
    def __init__(self) -> None:
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                student = re.search(r"Student's response:\n(.*?)\n\nDoes", prompt, re.S).group(1)
                with judge.lock:
                    judge.requests += 1
                    judge.in_flight += 1
                    judge.max_in_flight = max(judge.max_in_flight, judge.in_flight)
                try:
                    if "crash" in student:
                        self.send_response(500)
                        self.end_headers()
                        self.wfile.write(b'{"error": "overloaded"}')
                        return
                    if "slow" in student:
                        time.sleep(0.3)
                    reply = ("YES" if "Tuesday" in student or "slow" in student else
                             "NO" if "Monday" in student else "Well, it depends on the table.")
                    data = json.dumps({"model": body["model"], "choices": [
                        {"message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    with judge.lock:
                        judge.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[MisbehavingJudge]:
    s = MisbehavingJudge()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def reward_judge(url: str, cache: Path, concurrency: int = 2, max_failure_rate: float = 1.0) -> RewardJudge:
    client = OpenAIClient(url, api_key="sk-test", timeout_s=5, max_retries=1, backoff_s=0.0, sleep=lambda s: None)
    return RewardJudge(OpenAIJudge(client, "judge-model", cache_dir=cache), concurrency, max_failure_rate)


def completion(answer: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": f"<think>looked</think><answer>\\boxed{{{answer}}}</answer>"}]


def test_free_text_golds_get_the_judges_verdict_and_failures_are_counted_never_zero_or_one(server, tmp_path):
    logged: list[tuple[str, float]] = []
    reward = AccuracyReward(judge=reward_judge(server.url, tmp_path / "cache"))
    answers = ["Tuesday", "Monday", "babble", "crash", "Tuesday", "B"]
    rows = [json.dumps(VIRL_TEXT_ROW)] * 5 + [json.dumps(VIRL_MC_ROW)]
    values = reward([completion(a) for a in answers], row_json=rows, benchmark=["virl39k"] * 6,
                    prompt_variant=["specs"] * 6, log_metric=lambda k, v: logged.append((k, v)))
    assert values == [1.0, 0.0, None, None, 1.0, 1.0]  # the MC row is scored by its rule, not the judge
    metrics = dict(logged)
    assert metrics["accuracy/not_scored"] == pytest.approx(5 / 6)
    # 4 distinct requests (the two identical Tuesdays are asked once), 2 of them failed
    assert (metrics["judge/requests"], metrics["judge/failures"], metrics["judge/cached"]) == (4.0, 2.0, 0.0)
    assert server.requests == 3 + 2  # crash: the first try and one retry
    # the same step again: every reply the server gave is answered from the judge's disk cache (the
    # unreadable one too: at temperature 0 it would say the same); only the HTTP failure is asked again
    logged.clear()
    again = reward([completion(a) for a in answers], row_json=rows, benchmark=["virl39k"] * 6,
                   prompt_variant=["specs"] * 6, log_metric=lambda k, v: logged.append((k, v)))
    assert again == values and dict(logged)["judge/cached"] == 3.0 and dict(logged)["judge/failures"] == 2.0
    assert server.requests == 5 + 2


def test_without_a_judge_free_text_is_none_not_a_free_text_match():
    reward = AccuracyReward()
    logged: list[tuple[str, float]] = []
    values = reward([completion("Tuesday")], row_json=[json.dumps(VIRL_TEXT_ROW)], benchmark=["virl39k"],
                    log_metric=lambda k, v: logged.append((k, v)))
    assert values == [None] and dict(logged)["accuracy/not_scored"] == 1.0


def test_concurrency_is_bounded(server, tmp_path):
    judge = reward_judge(server.url, tmp_path / "c", concurrency=2)
    items = [("virl39k", VIRL_TEXT_ROW, f"\\boxed{{slow {i}}}") for i in range(6)]
    t0 = time.perf_counter()
    out = judge.judge(items)
    assert out.verdicts == [True] * 6 and server.max_in_flight == 2
    assert time.perf_counter() - t0 >= 0.3 * 3 * 0.9  # six 0.3 s requests, two at a time


def test_too_many_failures_stop_the_stage(server, tmp_path):
    judge = reward_judge(server.url, tmp_path / "c", max_failure_rate=0.5)
    items = [("virl39k", VIRL_TEXT_ROW, "\\boxed{crash}"), ("virl39k", VIRL_TEXT_ROW, "\\boxed{babble}"),
             ("virl39k", VIRL_TEXT_ROW, "\\boxed{Tuesday}")]
    with pytest.raises(StageError, match=r"failed on 2 of 3 requests .*HTTP 500"):
        judge.judge(items)
    assert judge.totals["failures"] == 2


def test_unreachable_judge_fails_every_request_and_says_so(tmp_path):
    judge = reward_judge("http://127.0.0.1:9/v1", tmp_path / "c", max_failure_rate=0.5)
    with pytest.raises(StageError, match="failed on 1 of 1"):
        judge.judge([("virl39k", VIRL_TEXT_ROW, "\\boxed{Tuesday}")])


def test_verdict_parsing_and_config_rules():
    assert [parse_equivalence(x) for x in ("YES", "no.", "Yes, but NO", "", None, "maybe")] == [
        True, False, None, None, None, None]
    with pytest.raises(ConfigError, match=r"free_text=judge needs rl\.reward_judge\.enabled"):
        load_config("tiny", ["rl.data={benchmark: virl39k, free_text: judge}"])
    with pytest.raises(ConfigError, match=r"reward_judge\.enabled needs"):
        load_config("tiny", ["rl.reward_judge.enabled=true"])
    c = load_config("tiny", ["rl.data={benchmark: virl39k, free_text: judge}", "rl.reward_judge.enabled=true",
                             "rl.reward_judge.base_url=http://127.0.0.1:1/v1", "rl.reward_judge.model=m"])
    assert c.rl.reward_judge.max_concurrency == 8 and not c.zero_rl.reward_judge.enabled
