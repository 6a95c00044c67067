"""The paper's five format corruptions of a rejected response (paper-notes §3.5).

Why deliberate corruption: a rejected response is a *correct-answer* response of the
base model. If it happened to be well formatted, the pair would teach nothing about
format, so one of five rules, chosen at random, makes the format wrong while keeping the
content (and the answer) intact. Each rule is a pure function of the text:

1. ``remove_all_tags``: drop ``<think>``, ``</think>``, ``<answer>``, ``</answer>``;
2. ``remove_answer_tags``: drop ``<answer>`` and ``</answer>``;
3. ``remove_think_tags``: drop ``<think>`` and ``</think>``;
4. ``remove_answer_tags_move_think_end``: drop the answer tags and move ``</think>`` to the end;
5. ``answer_prefix``: replace ``<answer>`` by ``Answer:`` and drop ``</answer>``.

Every rule removes all occurrences of at least one of the four tags, so its output
fails ``FORMATS["specs"].check`` (unless a removal splices a new tag out of fragments
such as ``<thi</answer>nk>``; the pair builder re-checks every rejected response and
counts those). The tests check the property over generated responses.
"""

from __future__ import annotations

import random
from collections.abc import Callable

THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE = "<think>", "</think>", "<answer>", "</answer>"


def _drop(text: str, *tags: str) -> str:
    for t in tags:
        text = text.replace(t, "")
    return text


def remove_all_tags(text: str) -> str:
    return _drop(text, THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def remove_answer_tags(text: str) -> str:
    return _drop(text, ANSWER_OPEN, ANSWER_CLOSE)


def remove_think_tags(text: str) -> str:
    return _drop(text, THINK_OPEN, THINK_CLOSE)


def remove_answer_tags_move_think_end(text: str) -> str:
    """Answer tags dropped and the closing think tag moved after everything else.

    Trailing whitespace stays outside the moved tag, so ``"…</answer>\\n"`` becomes
    ``"…</think>\\n"``. A text without ``</think>`` gets none added (the rule moves a tag,
    it does not invent one).
    """
    had_close = THINK_CLOSE in text
    body = _drop(text, ANSWER_OPEN, ANSWER_CLOSE, THINK_CLOSE)
    if not had_close:
        return body
    stripped = body.rstrip()
    return stripped + THINK_CLOSE + body[len(stripped):]


def answer_prefix(text: str) -> str:
    return _drop(text.replace(ANSWER_OPEN, "Answer:"), ANSWER_CLOSE)


RULES: dict[str, Callable[[str], str]] = {
    "remove_all_tags": remove_all_tags,
    "remove_answer_tags": remove_answer_tags,
    "remove_think_tags": remove_think_tags,
    "remove_answer_tags_move_think_end": remove_answer_tags_move_think_end,
    "answer_prefix": answer_prefix,
}


def corrupt(text: str, rng: random.Random) -> tuple[str, str]:
    """One rule chosen uniformly at random with ``rng``: (corrupted text, rule name)."""
    name = rng.choice(list(RULES))
    return RULES[name](text), name
