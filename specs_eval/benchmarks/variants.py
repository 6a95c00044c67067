"""Prompt variants: the ways a benchmark item can be asked, as data.

Why data: a variant (``official``, ``specs``, the format shifts ``answer_line``, ``json``,
``direct``) is the benchmark's own prompt plus, optionally, one output-format instruction
(attached by ``core.prompt.with_instruction``) and the format it asks for (a key of
``rules.formats.FORMATS``, which scores format compliance). A new variant is one
``PromptVariant`` here; every benchmark, the run engine and training pick it up.

The format-shift variants make an OOD set of any benchmark: the same items, asking for an
answer format the SPECS pipeline never trains on (paper-notes §2.1: "tasks with changed
formats"). Their instruction is the format's first phrasing in ``rules.formats``, so the
toy world's format-shift split and a real benchmark's format-shift set ask in the same
words. Format compliance is measured against the format asked for; the scorer reads the
answer where that format puts it (``answer_text``), and the whole response when the
format was not followed.
"""

from __future__ import annotations

from dataclasses import dataclass

from specs_eval.rules.extract import answer_view
from specs_eval.rules.formats import FORMATS, SPECS_INSTRUCTION, TRAINED_FORMAT


@dataclass(frozen=True)
class PromptVariant:
    """A way of asking: the benchmark's own prompt plus an optional output-format instruction."""

    name: str
    description: str
    #: appended to the benchmark's own prompt with ``INSTRUCTION_TEMPLATE`` (None: the prompt as is)
    instruction: str | None = None
    #: the output format the instruction asks for (a key of ``rules.formats.FORMATS``)
    requested_format: str | None = None

    @property
    def format_shift(self) -> bool:
        """Asks for a format other than the trained SPECS one."""
        return self.requested_format not in (None, TRAINED_FORMAT)

    def answer_text(self, text: str) -> str:
        """What a benchmark's scorer reads of a response to this variant.

        ``specs``: the SPECS answer view (``rules.extract.answer_view``). A format shift: the
        answer as the requested format places it (the ``Answer:`` line's value, the JSON
        ``answer``), or the whole response when the format was not followed, so a correct
        answer in the wrong format still counts for accuracy and fails format compliance.
        """
        if self.requested_format is None:
            return text
        if self.requested_format == TRAINED_FORMAT:
            return answer_view(text)
        got = FORMATS[self.requested_format].extract(text)
        return text if got is None else got


def _shift(fmt: str, what: str) -> PromptVariant:
    return PromptVariant(fmt, f"the benchmark's prompt + a format-shift instruction asking for {what}",
                         FORMATS[fmt].instructions[0], fmt)


PROMPT_VARIANTS: dict[str, PromptVariant] = {
    "official": PromptVariant("official", "the benchmark's own prompt, exactly"),
    "specs": PromptVariant("specs", "the benchmark's prompt + the SPECS <think>/<answer> format instruction",
                           SPECS_INSTRUCTION, "specs"),
    "answer_line": _shift("answer_line", "a final 'Answer: X' line"),
    "json": _shift("json", 'a JSON object {"answer": X}'),
    "direct": _shift("direct", "the bare answer, a word or number"),
}
