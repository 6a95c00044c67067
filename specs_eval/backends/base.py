"""The generation-backend protocol shared by the HF, OpenAI-compatible and vLLM backends.

Why a protocol: the run engine must not care where text comes from. Every backend takes
the same ``Prompt`` objects and ``GenerationSettings`` and returns the same ``Output``s,
so every backend writes identical per-sample records.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import click

from specs_eval.core.errors import SpecsError
from specs_eval.core.prompt import Prompt
from specs_eval.core.records import FinishReason, GenerationSettings, ModelInfo, TokenStats


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


@dataclass(frozen=True)
class BackendOption:
    """One command-line option of a backend: ``flag`` of ``specs-eval run`` → the backend's keyword ``name``.

    Why declared by the backend: the run command builds its flags from these and passes each
    backend exactly its own, so a new backend brings its options with it.
    """

    flag: str
    name: str
    help: str
    type: Any = None
    default: Any = None
    is_flag: bool = False
    envvar: str | None = None

    @property
    def param(self) -> str:
        """The click parameter name (``--request-timeout`` → ``request_timeout``)."""
        return self.flag.lstrip("-").replace("-", "_")


#: options more than one backend takes (declared once)
DTYPE = BackendOption("--dtype", "dtype", "auto (fp32 on CPU, bf16 on CUDA) | float32 | bfloat16", default="auto")
REVISION = BackendOption("--revision", "revision", "Hub revision (commit) of the model.")
LOGPROBS_K = BackendOption("--logprobs-k", "logprobs_k", "openai/vllm: top-k log-probs per token used to estimate "
                           "--token-stats.", type=click.IntRange(1, 20), default=20)


class BackendOptions:
    """What every backend class declares besides ``generate``: its options and their final check."""

    options: ClassVar[tuple[BackendOption, ...]] = ()

    @classmethod
    def resolve_options(cls, values: dict[str, Any], out: Path) -> dict[str, Any]:
        """The constructor keywords from the option values (a backend may check or complete them)."""
        return values

    @classmethod
    def check_model(cls, model: str) -> None:
        """Fail before any work on a model this backend cannot use (default: no check)."""


BACKENDS: dict[str, str] = {
    "hf": "specs_eval.backends.hf:HFBackend",
    "openai": "specs_eval.backends.openai:OpenAIBackend",
    "vllm": "specs_eval.backends.vllm:VLLMBackend",
}


def backend_class(kind: str) -> Any:
    """A backend class by name (imported lazily: importing one does not import torch)."""
    try:
        target = BACKENDS[kind]
    except KeyError:
        raise SpecsError(f"unknown backend {kind!r}; known: {', '.join(sorted(BACKENDS))}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def make_backend(kind: str, model: str, **kwargs: object) -> Backend:
    """Instantiate a backend by name (only ``hf``/``vllm`` import torch, when built)."""
    return backend_class(kind)(model, **kwargs)
