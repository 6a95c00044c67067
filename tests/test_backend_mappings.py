"""Pure mappings of the vLLM and OpenAI backends, and the top-k token statistics.

vLLM cannot be installed or run here (it needs a GPU and a CUDA torch): these tests drive the
mapping functions with plain objects shaped like vLLM's ``RequestOutput`` / ``CompletionOutput``
/ ``Logprob`` (attribute names as in vLLM 0.2x–0.31) and check the statistics estimated from
top-k log-probs against the exact ones computed from full distributions, the way ``HFBackend``
does. What is verified and what is not is written down in docs/backends.md. The OpenAI mapping is
also exercised end to end against a real server (tests/test_openai_backend.py); the cases here are
the response shapes ``transformers serve`` never produces (log-probs, reasoning fields, n choices).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specs_eval.backends.openai import choice_output
from specs_eval.backends.openai_client import ChatResult
from specs_eval.backends.topk import position_stats, token_stats_from_topk
from specs_eval.backends.vllm import (
    chat_messages,
    prompt_seed,
    request_outputs,
    sampling_kwargs,
    topk_positions,
)
from specs_eval.core.errors import SpecsError
from specs_eval.core.prompt import Prompt
from specs_eval.core.records import GenerationSettings

from .conftest import run_cli


def _exact(probs: list[float], top_p: float) -> tuple[float, int]:
    """Entropy and nucleus size from a full distribution (HFBackend's definition)."""
    ent = -sum(p * math.log(p) for p in probs if p > 0)
    cum, size = 0.0, 0
    for p in sorted(probs, reverse=True):
        if cum >= top_p:
            break
        cum += p
        size += 1
    return ent, size


def _dist(weights: list[float]) -> list[float]:
    total = sum(weights)
    return [w / total for w in weights]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.001, 10.0), min_size=2, max_size=40), st.integers(1, 40),
       st.sampled_from([0.5, 0.9, 0.95]))
def test_topk_estimates_are_lower_bounds_and_exact_when_k_covers_the_distribution(weights, k, top_p):
    probs = _dist(weights)
    true_ent, true_nuc = _exact(probs, top_p)
    top = sorted(probs, reverse=True)[:k]
    ent, nuc, censored = position_stats([math.log(p) for p in top], top_p)
    assert ent <= true_ent + 1e-9
    assert nuc <= true_nuc
    if k >= len(probs):
        assert ent == pytest.approx(true_ent, abs=1e-9) and nuc == true_nuc and not censored
    if sum(top) >= top_p + 1e-9:
        assert nuc == true_nuc and not censored


def test_topk_censoring_and_remainder_bound():
    uniform = [math.log(1 / 100)] * 20  # top 20 of a uniform distribution over 100 tokens
    ent, nuc, censored = position_stats(uniform, 0.95)
    assert censored and nuc == 95  # 20 + ceil(0.75 / 0.01): the fewest tokens that could reach 0.95
    assert ent == pytest.approx(math.log(100))  # the bound is tight for a uniform tail
    stats = token_stats_from_topk([uniform, [0.0]], 0.95, 20)
    assert stats is not None and stats.n_censored == 1 and stats.n_tokens == 2
    assert stats.approx == "top-k logprobs (k=20)" and stats.nucleus_mean == pytest.approx((95 + 1) / 2)


def _lp(logprob: float, rank: int) -> SimpleNamespace:
    return SimpleNamespace(logprob=logprob, rank=rank, decoded_token="t")


def _completion(text: str, ids: list[int], finish: str | None, logprobs=None, stop_reason=None) -> SimpleNamespace:
    return SimpleNamespace(index=0, text=text, token_ids=ids, finish_reason=finish, logprobs=logprobs,
                           stop_reason=stop_reason, cumulative_logprob=None)


def test_sampling_kwargs():
    assert sampling_kwargs(GenerationSettings(max_new_tokens=7), seed=3, logprobs_k=20) == {
        "n": 1, "max_tokens": 7, "skip_special_tokens": True, "temperature": 0.0}
    s = GenerationSettings(temperature=0.8, top_p=0.9, top_k=40, n=4, record_token_stats=True)
    assert sampling_kwargs(s, seed=3, logprobs_k=5) == {
        "n": 4, "max_tokens": 96, "skip_special_tokens": True, "temperature": 0.8, "top_p": 0.9, "seed": 3,
        "top_k": 40, "logprobs": 5}
    with pytest.raises(SpecsError, match="sampling"):
        sampling_kwargs(GenerationSettings(n=2), seed=0, logprobs_k=20)
    assert prompt_seed(0, "abc") == prompt_seed(0, "abc") != prompt_seed(1, "abc")


def test_chat_messages_keep_pil_images_in_order():
    from PIL import Image

    a, b = Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")
    p = Prompt(parts=[{"type": "text", "text": "x"}, {"type": "image", "index": 1}, {"type": "image", "index": 0}],
               images=[a, b], system="sys")
    msgs = chat_messages(p)
    assert msgs[0] == {"role": "system", "content": "sys"}
    assert [c["type"] for c in msgs[1]["content"]] == ["text", "image_pil", "image_pil"]
    assert msgs[1]["content"][1]["image_pil"] is b and msgs[1]["content"][2]["image_pil"] is a


def test_request_outputs_map_finish_reasons_tokens_and_stats():
    eos = [9]
    settings = GenerationSettings(temperature=1.0, n=3, record_token_stats=True, stats_top_p=0.9)
    certain = {5: _lp(0.0, 1)}  # one token with all the mass
    split = {1: _lp(math.log(0.5), 1), 2: _lp(math.log(0.3), 2), 7: _lp(math.log(0.01), 40)}  # sampled rank 40
    r = SimpleNamespace(prompt_token_ids=list(range(11)), outputs=[
        _completion("a", [5, 1, 9], "stop", [certain, split, certain]),   # EOS kept in token_ids
        _completion("bb", [5, 5], "length", [certain, certain]),
        _completion("c", [5, 3], "stop", None, stop_reason=3),           # a stop token id
    ])
    outs = request_outputs(r, settings, eos, logprobs_k=2)
    assert [(o.text, o.finish_reason, o.n_tokens, o.n_prompt_tokens) for o in outs] == [
        ("a", "stop", 2, 11), ("bb", "length", 2, 11), ("c", "stop", 1, 11)]
    ts = outs[0].token_stats
    assert ts is not None and ts.n_tokens == 3 and ts.approx == "top-k logprobs (k=2)"
    # position 2: top-2 mass 0.8 < 0.9 -> censored, 2 + ceil(0.1 / 0.3) = 3
    assert ts.nucleus_mean == pytest.approx((1 + 3 + 1) / 3) and ts.n_censored == 1
    assert topk_positions([split], 2) == [[math.log(0.5), math.log(0.3)]]  # the rank-40 sampled token is not top-k
    assert outs[2].token_stats is None


def test_aborted_or_missing_samples_are_errors():
    s = GenerationSettings(temperature=1.0, n=2)
    r = SimpleNamespace(prompt_token_ids=[1], outputs=[_completion("x", [1], "abort")])
    outs = request_outputs(r, s, [9], 20)
    assert [o.finish_reason for o in outs] == ["error", "error"]
    assert "abort" in (outs[0].error or "") and "fewer samples" in (outs[1].error or "")


def test_vllm_backend_without_vllm_is_one_clear_line(tmp_path, micro_model):
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401

        pytest.skip("vLLM is installed here")
    except ImportError:
        pass
    r = run_cli("run", "--backend", "vllm", "-m", str(micro_model), "--limit", "1", "--out", str(tmp_path), "-q")
    assert r.returncode == 2 and "pip install -e '.[vllm]'" in r.stderr and "Traceback" not in r.stderr


def _choice(content, finish="stop", logprobs=None, **message) -> dict:
    return {"index": 0, "message": {"role": "assistant", "content": content, **message}, "finish_reason": finish,
            "logprobs": logprobs}


def test_openai_choices_map_to_outputs():
    usage = ChatResult(text=None, finish_reason=None, usage={"prompt_tokens": 30, "completion_tokens": 5})
    s = GenerationSettings()
    o = choice_output(_choice("hi"), usage, s, 1, 20)
    assert (o.text, o.finish_reason, o.n_prompt_tokens, o.n_tokens) == ("hi", "stop", 30, 4)  # EOS not counted
    assert choice_output(_choice("hi", "length"), usage, s, 1, 20).n_tokens == 5
    assert choice_output(_choice("hi"), usage, s, 3, 20).n_tokens is None  # usage sums over 3 choices
    # a server with a reasoning parser split <think> off: it is put back where the model wrote it
    r = choice_output(_choice("<answer>3</answer>", reasoning_content="count"), usage, s, 1, 20)
    assert r.text == "<think>count</think><answer>3</answer>"
    assert choice_output(_choice([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]), usage, s, 1,
                         20).text == "ab"
    bad = choice_output(_choice(None), usage, s, 1, 20)
    assert bad.finish_reason == "error" and "no message content" in (bad.error or "")
    assert choice_output(_choice("x", "content_filter"), usage, s, 1, 20).finish_reason == "error"
    assert choice_output({"index": 0}, usage, s, 1, 20).finish_reason == "error"


def test_openai_logprobs_give_topk_stats():
    pos = lambda *ps: {"token": "t", "logprob": math.log(ps[0]),  # noqa: E731
                       "top_logprobs": [{"token": str(i), "logprob": math.log(p)} for i, p in enumerate(ps)]}
    lp = {"content": [pos(1.0), pos(0.5, 0.5), pos(1.0)]}
    usage = ChatResult(text=None, finish_reason=None, usage={"prompt_tokens": 3, "completion_tokens": 99})
    o = choice_output(_choice("ab", logprobs=lp), usage, GenerationSettings(record_token_stats=True), 2, 2)
    assert o.n_tokens == 2  # positions (3, the EOS included) minus the EOS, whatever usage says
    ts = o.token_stats
    assert ts is not None and ts.n_tokens == 3 and ts.n_censored == 0 and ts.approx == "top-k logprobs (k=2)"
    assert ts.entropy_mean == pytest.approx(math.log(2) / 3) and ts.nucleus_mean == pytest.approx(4 / 3)
