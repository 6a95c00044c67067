"""Prompt variants: the ways a benchmark item can be asked, as data.

Why data: a variant (``official``, ``specs``) is the benchmark's own prompt plus, optionally,
one output-format instruction (attached by ``core.prompt.with_instruction``) and the format
it asks for (a key of ``rules.formats.FORMATS``, which scores format compliance). A new
variant is one ``PromptVariant`` here; every benchmark, the run engine and training pick it up.
"""

from __future__ import annotations

from dataclasses import dataclass

from specs_eval.rules.formats import SPECS_INSTRUCTION


@dataclass(frozen=True)
class PromptVariant:
    """A way of asking: the benchmark's own prompt plus an optional output-format instruction."""

    name: str
    description: str
    #: appended to the benchmark's own prompt with ``INSTRUCTION_TEMPLATE`` (None: the prompt as is)
    instruction: str | None = None
    #: the output format the instruction asks for (a key of ``rules.formats.FORMATS``)
    requested_format: str | None = None


PROMPT_VARIANTS: dict[str, PromptVariant] = {
    "official": PromptVariant("official", "the benchmark's own prompt, exactly"),
    "specs": PromptVariant("specs", "the benchmark's prompt + the SPECS <think>/<answer> format instruction",
                           SPECS_INSTRUCTION, "specs"),
}
