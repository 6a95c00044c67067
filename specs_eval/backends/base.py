"""The generation-backend protocol shared by the HF, OpenAI-compatible and vLLM backends.

Why a protocol: the run engine must not care where text comes from. Every backend takes
the same ``Prompt`` objects and ``GenerationSettings`` and returns the same ``Output``s,
so every backend writes identical per-sample records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from specs_eval.benchmarks.base import Prompt
from specs_eval.records import FinishReason, GenerationSettings, ModelInfo, TokenStats


@dataclass
class Output:
    """One generated response."""

    text: str
    finish_reason: FinishReason = "stop"
    n_prompt_tokens: int | None = None
    n_tokens: int | None = None
    token_stats: TokenStats | None = None
    error: str | None = None


@runtime_checkable
class Backend(Protocol):
    """Generates ``settings.n`` outputs for each prompt, in prompt order."""

    name: str
    info: ModelInfo

    def generate(self, prompts: Sequence[Prompt], settings: GenerationSettings, seed: int) -> list[list[Output]]: ...

    def close(self) -> None: ...


BACKENDS: dict[str, str] = {
    "hf": "specs_eval.backends.hf:HFBackend",
    "openai": "specs_eval.backends.openai:OpenAIBackend",
    "vllm": "specs_eval.backends.vllm:VLLMBackend",
}


def make_backend(kind: str, model: str, **kwargs: object) -> Backend:
    """Instantiate a backend by name (imported lazily: only ``hf``/``vllm`` import torch)."""
    import importlib

    from specs_eval.errors import SpecsError

    try:
        target = BACKENDS[kind]
    except KeyError:
        raise SpecsError(f"unknown backend {kind!r}; known: {', '.join(sorted(BACKENDS))}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(model, **kwargs)
