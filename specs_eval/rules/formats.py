r"""Output formats a prompt can ask for, and the checks that decide compliance.

Why a registry: the SPECS format (``<think>…</think><answer>…\boxed{X}…</answer>``) is
at once the RL format reward, the filter for chosen preference responses, a column
of every results table (format compliance) and, through the other formats here, the
probe for instruction-style overfitting (the toy world's format-shift split asks for
a format the pipeline never trains on). All of those must agree on one definition.

Each format has: instruction phrasings (for prompts), ``check`` (is the response in
this format?), ``extract`` (the answer *under this format*, ``None`` if the format is
not followed) and ``render`` (a compliant response from reasoning + answer, used to
build training targets for the toy world).

The ``tagged_*`` formats are SPECS with other tag pairs (``<reasoning>``/``<final>``, …),
asked with the SPECS instruction's own wording: structured formats of the same kind that
a model trained on SPECS could learn to follow by transfer, or answer in SPECS tags
instead (format stickiness). The toy world's format-shift split asks for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from specs_eval.rules import extract as ex

SPECS_INSTRUCTION = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final "
    "answer. The reasoning process MUST BE enclosed within <think> </think> tags. The final answer MUST "
    "BE put in \\boxed{} inside <answer> </answer> tags."
)

_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_SPECS_RE = re.compile(r"^<think>(.+?)</think>\s*<answer>(.+?)</answer>$", re.DOTALL)


def specs_structure_ok(text: str) -> bool:
    """The SPECS format reward's test: one think block then one answer block, nothing else.

    Each of the four tags appears exactly once, in order, both blocks are non-empty and
    nothing precedes ``<think>`` or follows ``</answer>`` (surrounding whitespace
    allowed). This mirrors the MM-EUREKA / R1-V format regex the paper's GRPO used.
    """
    s = text.strip()
    if any(s.count(t) != 1 for t in _TAGS):
        return False
    m = _SPECS_RE.match(s)
    return bool(m and m.group(1).strip() and m.group(2).strip())


def _specs_check(text: str) -> bool:
    if not specs_structure_ok(text):
        return False
    tag = ex.answer_tag(text)
    return tag is not None and ex.last_boxed(tag) is not None


def _specs_extract(text: str) -> str | None:
    if not specs_structure_ok(text):
        return None
    tag = ex.answer_tag(text) or ""
    return ex.last_boxed(tag)


def _specs_render(reasoning: str, answer: str) -> str:
    return f"<think>{reasoning}</think>\n<answer>The answer is \\boxed{{{answer}}}</answer>"


def _tag_instruction(think: str, answer: str) -> str:
    return (
        "You FIRST think about the reasoning process as an internal monologue and then provide the final "
        f"answer. The reasoning process MUST BE enclosed within <{think}> </{think}> tags. The final answer MUST "
        f"BE put in \\boxed{{}} inside <{answer}> </{answer}> tags."
    )


def _tagged(think: str, answer: str) -> tuple[Callable[[str], str | None], Callable[[str, str], str]]:
    """``extract`` and ``render`` of the SPECS structure with the tag pair ``think``/``answer``."""
    tags = (f"<{think}>", f"</{think}>", f"<{answer}>", f"</{answer}>")
    pattern = re.compile(rf"^<{think}>(.+?)</{think}>\s*<{answer}>(.+?)</{answer}>$", re.DOTALL)

    def extract(text: str) -> str | None:
        s = text.strip()
        if any(s.count(t) != 1 for t in tags):
            return None
        m = pattern.match(s)
        if not (m and m.group(1).strip() and m.group(2).strip()):
            return None
        return ex.last_boxed(m.group(2))

    def render(reasoning: str, ans: str) -> str:
        return f"<{think}>{reasoning}</{think}>\n<{answer}>The answer is \\boxed{{{ans}}}</{answer}>"

    return extract, render


# The held-out tag pairs of the format-shift split: name -> (reasoning tag, answer tag).
TAG_PAIRS: dict[str, tuple[str, str]] = {
    "tagged_reasoning": ("reasoning", "final"),
    "tagged_analysis": ("analysis", "result"),
    "tagged_scratchpad": ("scratchpad", "output"),
}


def _has_tags(text: str) -> bool:
    return any(t in text for t in _TAGS)


_LINE_RE = re.compile(r"^Answer:[ \t]*(\S[^\n]*)$")


def _line_extract(text: str) -> str | None:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines or _has_tags(text):
        return None
    m = _LINE_RE.match(lines[-1])
    return m.group(1).strip() if m else None


def _line_render(reasoning: str, answer: str) -> str:
    return f"{reasoning}\nAnswer: {answer}"


_FENCE_OPEN = re.compile(r"```(?:json)?\s*")


def _unfence(s: str) -> str:
    r"""``re.sub(r"^```(?:json)?\s*|\s*```$", "", s)`` for a stripped ``s``, in linear time.

    (The regex tried ``\s*```$`` from every position of a long whitespace run.)
    """
    m = _FENCE_OPEN.match(s)
    if m:
        s = s[m.end():]
    if s.endswith("```"):
        s = s[:-3].rstrip()
    return s


def _json_extract(text: str) -> str | None:
    s = _unfence(text.strip())
    try:
        obj = json.loads(s)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict) or set(obj) != {"answer"}:
        return None
    v = obj["answer"]
    if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
        return None
    return str(v).strip() or None


def _json_render(reasoning: str, answer: str) -> str:
    return json.dumps({"answer": answer})


_DIRECT_RE = re.compile(r"^[^\n<>{}\\]{1,40}$")


def _direct_extract(text: str) -> str | None:
    s = text.strip().rstrip(".")
    if not _DIRECT_RE.match(s) or len(s.split()) > 4:
        return None
    return s


def _direct_render(reasoning: str, answer: str) -> str:
    return answer


@dataclass(frozen=True)
class OutputFormat:
    """One requested output format."""

    name: str
    instructions: tuple[str, ...]
    _extract: Callable[[str], str | None]
    _render: Callable[[str, str], str]
    _check: Callable[[str], bool] | None = None

    def check(self, text: str) -> bool:
        """True when the response follows this format (the answer may still be wrong)."""
        try:
            if self._check is not None:
                return self._check(text)
            return self._extract(text) is not None
        except Exception:  # a checker must never take a scoring run down
            return False

    def extract(self, text: str) -> str | None:
        """The answer as this format places it, or ``None`` if the format is not followed."""
        try:
            return self._extract(text)
        except Exception:
            return None

    def render(self, reasoning: str, answer: str) -> str:
        return self._render(reasoning, answer)


FORMATS: dict[str, OutputFormat] = {
    "specs": OutputFormat(
        "specs",
        (SPECS_INSTRUCTION,),
        _specs_extract,
        _specs_render,
        _specs_check,
    ),
    "answer_line": OutputFormat(
        "answer_line",
        (
            "Think step by step, then finish with a final line of the form 'Answer: X'.",
            "Explain briefly and end your reply with 'Answer: ' followed by the answer.",
        ),
        _line_extract,
        _line_render,
    ),
    "json": OutputFormat(
        "json",
        (
            'Reply with only a JSON object of the form {"answer": X}.',
            'Output JSON only, exactly like {"answer": "..."}.',
        ),
        _json_extract,
        _json_render,
    ),
    "direct": OutputFormat(
        "direct",
        (
            "Answer the question using a single word or number.",
            "Give only the final answer, nothing else.",
        ),
        _direct_extract,
        _direct_render,
    ),
}
FORMATS.update({
    name: OutputFormat(name, (_tag_instruction(think, answer),), *_tagged(think, answer))
    for name, (think, answer) in TAG_PAIRS.items()
})

TRAINED_FORMAT = "specs"


def detect_format(text: str) -> str | None:
    """The first registered format the response satisfies (``specs`` checked first)."""
    for name, fmt in FORMATS.items():
        if fmt.check(text):
            return name
    return None
