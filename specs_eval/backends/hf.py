"""Hugging Face transformers backend: batched ``model.generate`` with images.

Why this shape: the same class serves the shipped 2M-parameter model on a CPU and
Qwen2.5-VL-7B in bf16 on a GPU. Batches are left-padded; ``n`` samples per prompt use
``num_return_sequences``; finish reasons come from whether EOS was produced; and the
per-token statistics for the exploration metrics (entropy and top-p nucleus size,
i.e. the rollout branching factor) are computed on the fly by a logits processor, on
the raw (temperature-1) distribution, so no (steps × batch × vocab) logits are stored.

Sampling draws every row's token from that row's own ``torch.Generator``, seeded from the
row's seed (the engine derives it from the sample's identity) and the sample index; the
batch's shared RNG never decides a token. So a sampled response depends on its seed, not on
which rows share its batch or where a resumed run restarts. (``generate`` still applies
its own processors; ours turns the row's distribution into a one-hot choice that every
later warper keeps.)

``prepare`` (chat template, tokenisation, image processing) is separate from ``generate``
so the engine can prepare batch k + 1 in a background thread while batch k generates; a
lock keeps the fast tokenizer from being used by both threads at once.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import click

from specs_eval.backends.base import DTYPE, REVISION, BackendOption, BackendOptions, Output
from specs_eval.core.errors import SpecsError
from specs_eval.core.prompt import Prompt, render_messages
from specs_eval.core.records import GenerationSettings, TokenStats


class _TokenStatsProcessor:
    """Records entropy and nucleus size of every row's next-token distribution per step."""

    def __init__(self, top_p: float):
        self.top_p = top_p
        self.entropy: list[Any] = []
        self.nucleus: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logp = torch.log_softmax(scores.float(), dim=-1)
        p = logp.exp()
        self.entropy.append(-(p * torch.nan_to_num(logp, neginf=0.0)).sum(-1).cpu())
        sorted_p = torch.sort(p, dim=-1, descending=True).values
        cum = sorted_p.cumsum(-1)
        # smallest set whose mass reaches top_p: count of tokens before the cumulative sum reaches it, + 1
        self.nucleus.append(((cum < self.top_p).sum(-1) + 1).cpu())
        return scores


class _RowSampler:
    """Samples each row's next token with that row's own generator (temperature → top-k → top-p, as
    ``generate``'s warpers), and returns scores that are 0 for the chosen token and -inf elsewhere."""

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, top_k: int | None, device: Any):
        import torch

        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logits = scores.float() / self.temperature
        if self.top_k:
            k = min(self.top_k, logits.shape[-1])
            kth = torch.topk(logits, k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if self.top_p < 1.0:
            sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
            cum = sorted_logits.softmax(-1).cumsum(-1)
            drop_sorted = (cum - sorted_logits.softmax(-1)) >= self.top_p  # mass before a token already reaches top_p
            drop_sorted[..., 0] = False
            logits = logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), float("-inf"))
        probs = logits.softmax(-1)
        chosen = torch.cat([torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(self.generators)])
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, chosen.unsqueeze(1), 0.0)
        return out


def sample_seed(row_seed: int, sample_idx: int) -> int:
    """The generator seed of sample ``sample_idx`` of a row."""
    return int.from_bytes(hashlib.sha256(f"{row_seed}:{sample_idx}".encode()).digest()[:8], "big") >> 1


class HFBackend(BackendOptions):
    """Generation with a local or hub HF VLM (``AutoModelForImageTextToText``)."""

    name = "hf"
    row_seeds = True  # the engine passes one seed per prompt (see the module docstring)
    options = (
        BackendOption("--device", "device", "cpu | cuda | cuda:N", default="cpu"),
        DTYPE,
        REVISION,
        BackendOption("--threads", "threads", "torch CPU threads.", type=click.IntRange(min=1)),
    )

    @classmethod
    def check_model(cls, model: str) -> None:
        from specs_eval.models.loading import resolve_model

        resolve_model(model)

    def __init__(self, model: str, device: str = "cpu", dtype: str = "auto", revision: str | None = None,
                 threads: int | None = None):
        import torch

        from specs_eval.models.loading import load_model

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise SpecsError(f"device {device!r} requested but CUDA is not available; use --device cpu")
        if threads:
            torch.set_num_threads(threads)
        self.model, self.processor, self.info = load_model(model, device=device, dtype=dtype, revision=revision)
        self._attach(device)

    @classmethod
    def from_loaded(cls, model: Any, processor: Any, device: str = "cpu") -> HFBackend:
        """Wrap a model already in memory (a trainer's periodic evaluation) without reloading it.

        The processor is not modified (padding side is passed per call), so a training loop
        that shares it keeps its own padding.
        """
        self = cls.__new__(cls)
        self.model, self.processor, self.info = model, processor, None
        self._attach(device)
        return self

    def _attach(self, device: str) -> None:
        self.device = device
        self._tok_lock = threading.Lock()
        tok = self.processor.tokenizer
        self.eos_ids = self._eos_ids()
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else self.eos_ids[0]

    def _eos_ids(self) -> list[int]:
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.processor.tokenizer.eos_token_id
        return [eos] if isinstance(eos, int) else list(eos)

    def encode(self, prompts: Sequence[Prompt]) -> Any:
        """Processor inputs for a batch of prompts (chat template applied, left padded)."""
        texts = [chat_text(self.processor, p) for p in prompts]
        images = [img for p in prompts for img in p.images]
        with self._tok_lock:
            enc = self.processor(text=texts, images=images or None, padding=True, padding_side="left",
                                 return_tensors="pt")
        return enc.to(self.device)

    def prepare(self, prompts: Sequence[Prompt]) -> Any:
        """The model inputs of a batch, built ahead of ``generate`` (thread-safe; see the module docstring)."""
        return self.encode(prompts)

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int = 0,
                 seeds: Sequence[int] | None = None, prepared: Any = None) -> list[list[Output]]:
        """``settings.n`` outputs per prompt. ``seeds``: one sampling seed per prompt (default: derived from
        ``seed`` and the prompt's position); ``prepared``: ``prepare(prompts)``'s result, if made ahead."""
        import torch
        from transformers import LogitsProcessorList

        if not prompts:
            return []
        if settings.n > 1 and settings.greedy:
            raise SpecsError("n > 1 samples per prompt needs sampling: set --temperature above 0")
        if seeds is None:
            seeds = [sample_seed(seed, i) for i in range(len(prompts))]
        if len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
        inputs = prepared if prepared is not None else self.encode(prompts)
        prompt_len = inputs["input_ids"].shape[1]
        stats = _TokenStatsProcessor(settings.stats_top_p) if settings.record_token_stats else None
        kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "do_sample": not settings.greedy,
            "num_return_sequences": settings.n,
            "pad_token_id": self.pad_id,
            "eos_token_id": self.eos_ids,
            # trainers save ``use_cache: false`` into a checkpoint's config; without the KV cache
            # every new token recomputes the whole sequence (~17x slower on the tiny model)
            "use_cache": True,
        }
        processors: list[Any] = [stats] if stats is not None else []
        if not settings.greedy:
            # our per-row sampler draws the token; generate's own warpers are off (explicit settings only,
            # no hidden top_k/top_p/temperature from a checkpoint's generation_config)
            processors.append(_RowSampler([sample_seed(s, j) for s in seeds for j in range(settings.n)],
                                          settings.temperature, settings.top_p, settings.top_k,
                                          inputs["input_ids"].device))
            kwargs.update(temperature=1.0, top_p=1.0, top_k=0)
        else:
            # explicit: no hidden sampling defaults from a checkpoint's generation_config
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if processors:
            kwargs["logits_processor"] = LogitsProcessorList(processors)
        torch.manual_seed(seed)
        with torch.inference_mode():
            seqs = self.model.generate(**inputs, **kwargs)
        gen = seqs[:, prompt_len:].cpu()
        n_prompt = inputs["attention_mask"].sum(-1).cpu().tolist()
        eos = torch.tensor(self.eos_ids)
        outs: list[list[Output]] = []
        tok = self.processor.tokenizer
        with self._tok_lock:
            texts = tok.batch_decode([ids[: _length(ids, eos)] for ids in gen], skip_special_tokens=True)
        for i in range(len(prompts)):
            row_outs = []
            for j in range(settings.n):
                r = i * settings.n + j
                ids = gen[r]
                is_eos = torch.isin(ids, eos)
                if bool(is_eos.any()):
                    length = int(is_eos.nonzero()[0].item())
                    finish = "stop"
                    n_stat = length + 1
                else:
                    length = len(ids)
                    finish = "length"
                    n_stat = length
                text = texts[r]
                ts = None
                if stats is not None and stats.entropy:
                    steps = min(n_stat, len(stats.entropy))
                    ent = torch.stack([stats.entropy[t][r] for t in range(steps)]) if steps else torch.zeros(1)
                    nuc = torch.stack([stats.nucleus[t][r] for t in range(steps)]).float() if steps else torch.ones(1)
                    ts = TokenStats(n_tokens=steps, nucleus_mean=float(nuc.mean()), entropy_mean=float(ent.mean()),
                                    top_p=settings.stats_top_p)
                row_outs.append(Output(text=text, finish_reason=finish, n_prompt_tokens=int(n_prompt[i]),
                                       n_tokens=int(length), token_stats=ts))
            outs.append(row_outs)
        return outs

    def close(self) -> None:
        self.model = None


def _length(ids: Any, eos: Any) -> int:
    """Generated tokens before the first end-of-turn token (all of them when there is none)."""
    import torch

    hit = torch.isin(ids, eos)
    return int(hit.nonzero()[0].item()) if bool(hit.any()) else len(ids)


def chat_text(processor: Any, prompt: Prompt) -> str:
    """The chat-formatted prompt text a model sees (training targets and quick evals use it too)."""
    return processor.apply_chat_template(render_messages(prompt), add_generation_prompt=True, tokenize=False)
