"""vLLM offline backend (GPU): ``LLM.chat`` with PIL images, ``n`` samples, per-prompt seeds, top-k log-probs.

Why thin: everything that is not vLLM — prompts, records, resume, sharding, scoring — is the
shared engine's. This module maps our ``Prompt`` / ``GenerationSettings`` to vLLM's chat
messages and ``SamplingParams``, and vLLM's ``RequestOutput`` back to ``Output``. The mapping
functions are pure and typed against *shapes* (``_RequestOutputLike``), so they are unit-tested
here without vLLM (tests/test_vllm_mapping.py); vLLM itself needs a GPU and is imported lazily.

Parallelism: ``tp`` is vLLM's tensor parallelism inside one engine. Data parallelism is
``specs-eval run --dp N`` (``launch.py``): N engines in N processes, one GPU group each, merged
deterministically, which is also how vLLM runs offline data parallelism (one engine per rank).

Mapping decisions (see docs/backends.md):
* images are passed as PIL objects in ``image_pil`` content parts, so vLLM sees the pixels
  ``HFBackend`` sees; the model's own chat template renders the messages, as in ``HFBackend``;
* sampling requests get a seed derived from (run seed, prompt hash) — the same rule as the
  OpenAI backend — so samples do not depend on batch composition or resume;
* ``n_tokens`` excludes a final end-of-sequence token (vLLM keeps it in ``token_ids``), matching
  ``HFBackend``; token statistics cover every generated position, the EOS step included (also as
  ``HFBackend``), estimated from the top-k log-probs (``backends/topk.py``).

Versions: the ``vllm`` extra pins ``vllm>=0.22,<=0.31`` (the range trl 1.16's vLLM support
accepts) and transformers 5.17.x (vllm 0.31 requires transformers < 5.18).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import click

from specs_eval.backends.base import DTYPE, LOGPROBS_K, REVISION, BackendOption, BackendOptions, Output
from specs_eval.backends.topk import token_stats_from_topk
from specs_eval.core.errors import SpecsError
from specs_eval.core.prompt import Prompt, render_messages
from specs_eval.core.records import FinishReason, GenerationSettings, ModelInfo


class _LogprobLike(Protocol):
    logprob: float
    rank: int | None


class _CompletionLike(Protocol):
    text: str
    token_ids: Sequence[int]
    finish_reason: str | None
    logprobs: Sequence[Mapping[int, _LogprobLike]] | None


class _RequestOutputLike(Protocol):
    prompt_token_ids: Sequence[int] | None
    outputs: Sequence[_CompletionLike]


def prompt_seed(run_seed: int, prompt_hash: str) -> int:
    h = hashlib.sha256(f"{run_seed}:{prompt_hash}".encode()).digest()
    return int.from_bytes(h[:4], "big") >> 1


def chat_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """vLLM chat messages: text parts and ``image_pil`` parts (PIL images, no re-encoding), in order."""
    return render_messages(prompt, lambda img: {"type": "image_pil", "image_pil": img}, system_as_text=True)


def sampling_kwargs(settings: GenerationSettings, seed: int | None, logprobs_k: int) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one prompt.

    Greedy is ``temperature=0`` (vLLM then ignores top_p/top_k and the seed). ``top_k`` is only
    passed when set (vLLM's default is "disabled"). ``logprobs=k`` asks for the top-k log-probs of
    every generated position; ``skip_special_tokens=True`` is vLLM's default and ``HFBackend``'s.
    """
    if settings.n > 1 and settings.greedy:
        raise SpecsError("n > 1 samples per prompt needs sampling: set --temperature above 0")
    kw: dict[str, Any] = {"n": settings.n, "max_tokens": settings.max_new_tokens, "skip_special_tokens": True}
    if settings.greedy:
        kw["temperature"] = 0.0
    else:
        kw.update(temperature=settings.temperature, top_p=settings.top_p, seed=seed)
        if settings.top_k is not None:
            kw["top_k"] = settings.top_k
    if settings.record_token_stats:
        kw["logprobs"] = logprobs_k
    return kw


def topk_positions(logprobs: Sequence[Mapping[int, _LogprobLike]], k: int) -> list[list[float]]:
    """Per position, the log-probs of the top-k tokens (vLLM adds the sampled token when it ranks below k)."""
    out = []
    for pos in logprobs:
        entries = list(pos.values())
        ranked = [e for e in entries if getattr(e, "rank", None) is not None]
        if ranked:
            top = [e.logprob for e in ranked if e.rank is not None and e.rank <= k]
        else:
            top = sorted((e.logprob for e in entries), reverse=True)[:k]
        out.append(top)
    return out


def completion_output(c: _CompletionLike, n_prompt: int | None, settings: GenerationSettings, eos_ids: Iterable[int],
                      logprobs_k: int) -> Output:
    """One ``Output`` from one vLLM ``CompletionOutput``."""
    eos = set(eos_ids)
    ids = list(c.token_ids or [])
    reason = c.finish_reason
    finish: FinishReason
    if reason == "length":
        finish = "length"
    elif reason == "stop":
        finish = "stop"
    else:  # None (unfinished) or "abort"
        return Output(text=c.text or "", finish_reason="error", n_prompt_tokens=n_prompt, n_tokens=len(ids),
                      error=f"vLLM finished the request with reason {reason!r}")
    stop_reason = getattr(c, "stop_reason", None)  # None: EOS; int: a stop token id; str: a stop string
    ends_in_stop_token = bool(ids) and (ids[-1] in eos or (isinstance(stop_reason, int) and ids[-1] == stop_reason))
    n_tokens = len(ids) - 1 if finish == "stop" and ends_in_stop_token else len(ids)
    stats = None
    if settings.record_token_stats and c.logprobs:
        stats = token_stats_from_topk(topk_positions(c.logprobs, logprobs_k), settings.stats_top_p, logprobs_k)
    return Output(text=c.text or "", finish_reason=finish, n_prompt_tokens=n_prompt, n_tokens=n_tokens,
                  token_stats=stats)


def request_outputs(r: _RequestOutputLike, settings: GenerationSettings, eos_ids: Iterable[int],
                    logprobs_k: int) -> list[Output]:
    """``settings.n`` Outputs from one ``RequestOutput`` (missing samples become error Outputs)."""
    eos = list(eos_ids)
    n_prompt = len(r.prompt_token_ids) if r.prompt_token_ids is not None else None
    outs = [completion_output(c, n_prompt, settings, eos, logprobs_k) for c in r.outputs][: settings.n]
    while len(outs) < settings.n:
        outs.append(Output(text="", finish_reason="error", error="vLLM returned fewer samples than n"))
    return outs


class VLLMBackend(BackendOptions):
    """Offline vLLM engine; see the module docstring."""

    name = "vllm"
    options = (
        DTYPE,
        REVISION,
        BackendOption("--tp", "tp", "vllm: tensor-parallel GPUs per replica.", type=click.IntRange(min=1), default=1),
        BackendOption("--gpu-memory-utilization", "gpu_memory_utilization",
                      "vllm: share of each GPU's memory the engine may take.",
                      type=click.FloatRange(0.0, 1.0, min_open=True), default=0.9),
        BackendOption("--max-model-len", "max_model_len", "vllm: context length (default: the model's).",
                      type=click.IntRange(min=1)),
        LOGPROBS_K,
    )

    @classmethod
    def check_model(cls, model: str) -> None:
        from specs_eval.models.loading import resolve_model

        resolve_model(model)

    def __init__(self, model: str, tp: int = 1, gpu_memory_utilization: float = 0.9, dtype: str = "auto",
                 revision: str | None = None, max_model_len: int | None = None, logprobs_k: int = 20,
                 max_images: int = 8, seed: int = 0, trust_remote_code: bool = False, **engine_kwargs: Any):
        try:
            import vllm
        except ImportError as e:
            raise SpecsError(f"the vllm backend needs vLLM on a GPU machine: pip install -e '.[vllm]' ({e})") from None
        from specs_eval.models.loading import resolve_model, weights_hash

        path = resolve_model(model)
        kwargs: dict[str, Any] = {
            "model": path, "tensor_parallel_size": tp, "gpu_memory_utilization": gpu_memory_utilization,
            "dtype": dtype, "seed": seed, "limit_mm_per_prompt": {"image": max_images},
            "max_logprobs": max(20, logprobs_k), "trust_remote_code": trust_remote_code, **engine_kwargs,
        }
        if revision:
            kwargs["revision"] = revision
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        try:
            self.llm = vllm.LLM(**kwargs)
        except Exception as e:  # CUDA OOM, unsupported model, no GPU: one line for the user
            raise SpecsError(f"vLLM could not start {model!r}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
        self.logprobs_k = logprobs_k
        self._sampling_params = vllm.SamplingParams
        tok = self.llm.get_tokenizer()
        self.eos_ids = _eos_ids(self.llm, tok)
        template = getattr(tok, "chat_template", None) or ""
        self.info = ModelInfo(
            name=model, path=path if not Path(path).exists() else str(Path(path).resolve()), backend="vllm",
            weights_hash=weights_hash(path), chat_template_hash=hashlib.sha256(template.encode()).hexdigest()[:16],
            dtype=dtype, device="cuda",
            endpoint={"engine": "vllm", "vllm": getattr(vllm, "__version__", "?"), "tensor_parallel_size": tp},
        )

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int = 0) -> list[list[Output]]:
        if not prompts:
            return []
        params = [self._sampling_params(**sampling_kwargs(settings, prompt_seed(settings.seed, p.hash()),
                                                          self.logprobs_k)) for p in prompts]
        conversations = [chat_messages(p) for p in prompts]
        results = self.llm.chat(conversations, sampling_params=params, use_tqdm=False)
        return [request_outputs(r, settings, self.eos_ids, self.logprobs_k) for r in results]

    def close(self) -> None:
        self.llm = None


def _eos_ids(llm: Any, tokenizer: Any) -> list[int]:
    """End-of-sequence ids: the tokenizer's, plus the generation config's stop tokens vLLM applies by default."""
    ids: set[int] = set()
    if getattr(tokenizer, "eos_token_id", None) is not None:
        ids.add(int(tokenizer.eos_token_id))
    try:
        default = llm.get_default_sampling_params()
        ids.update(int(t) for t in (getattr(default, "stop_token_ids", None) or []))
    except (AttributeError, TypeError, ValueError):
        pass
    return sorted(ids)
