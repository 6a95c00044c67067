"""Prompts, and the one function that renders them into chat messages.

Why one renderer: what a model is trained on must be what it is evaluated on. Every
consumer of a ``Prompt`` — the HF backend and trl's trainers (chat template with image
placeholders), the OpenAI-compatible backend (base64 image parts), vLLM (PIL image parts) — calls ``render_messages`` and differs only in how an image part is written.
``tests/test_prompt_parity.py`` checks token for token that a training example's prompt
equals the prompt the run engine sends for the same item.

Why one instruction template: every prompt variant (``benchmarks.variants``) is a
benchmark's own prompt plus, optionally, one output-format instruction, attached by
``with_instruction`` with the single template ``INSTRUCTION_TEMPLATE``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: how an output-format instruction is attached to a benchmark's own prompt text
INSTRUCTION_TEMPLATE = "{prompt}\n{instruction}"


@dataclass
class Prompt:
    """An ordered multimodal user turn: text parts and images, plus an optional system turn.

    ``parts`` is a list of ``{"type": "text", "text": …}`` and ``{"type": "image",
    "index": i}`` entries; ``images[i]`` is the PIL image. ``render_messages`` turns it into
    chat messages for every backend and trainer.
    """

    parts: list[dict[str, Any]]
    images: list[Any] = field(default_factory=list)
    system: str | None = None

    @property
    def text(self) -> str:
        """The text of the prompt, with ``<image>`` where an image goes (for logs and hashes)."""
        return "".join(p["text"] if p["type"] == "text" else "<image>" for p in self.parts)

    def hash(self) -> str:
        """Hash of the text and pixels: two prompts with equal hashes are the same input."""
        h = hashlib.sha256((self.system or "").encode() + b"\0" + self.text.encode())
        for img in self.images:
            h.update(image_hash(img).encode())
        return h.hexdigest()[:16]

    @classmethod
    def simple(cls, text: str, images: Sequence[Any] = (), system: str | None = None) -> Prompt:
        """Images first, then the text: the layout of single-image benchmarks."""
        parts: list[dict[str, Any]] = [{"type": "image", "index": i} for i in range(len(images))]
        parts.append({"type": "text", "text": text})
        return cls(parts=parts, images=list(images), system=system)


# ------------------------------------------------------------------------------ rendering

ImagePart = Callable[[Any], dict[str, Any]]


def placeholder_image(image: Any) -> dict[str, Any]:
    """An image slot for ``processor.apply_chat_template`` (HF backend, trl): pixels travel separately."""
    return {"type": "image"}


def render_messages(prompt: Prompt, image_part: ImagePart = placeholder_image, *,
                    system_as_text: bool = False) -> list[dict[str, Any]]:
    """The chat messages of a prompt: an optional system turn, then one user turn with the parts in order.

    ``image_part`` writes one image (a placeholder, the PIL image, a data URI, …).
    ``system_as_text`` writes the system turn as a plain string (OpenAI-style servers, vLLM)
    instead of a list of text parts (HF chat templates).
    """
    content = [{"type": "text", "text": p["text"]} if p["type"] == "text" else image_part(prompt.images[p["index"]])
               for p in prompt.parts]
    msgs: list[dict[str, Any]] = []
    if prompt.system:
        system: Any = prompt.system if system_as_text else [{"type": "text", "text": prompt.system}]
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": content})
    return msgs


# ------------------------------------------------------------------------------ variants


def with_instruction(prompt: Prompt, instruction: str) -> Prompt:
    """``prompt`` with ``instruction`` attached to its last text part by ``INSTRUCTION_TEMPLATE``.

    A prompt that ends with an image gets the instruction as a new text part.
    """
    parts = [dict(p) for p in prompt.parts]
    if parts and parts[-1]["type"] == "text":
        parts[-1]["text"] = INSTRUCTION_TEMPLATE.format(prompt=parts[-1]["text"], instruction=instruction)
    else:
        parts.append({"type": "text", "text": instruction})
    return Prompt(parts=parts, images=list(prompt.images), system=prompt.system)


# ------------------------------------------------------------------------------ hashes


def image_hash(img: Any) -> str:
    try:
        return hashlib.sha256(img.tobytes() + repr((img.size, img.mode)).encode()).hexdigest()[:16]
    except AttributeError:
        return hashlib.sha256(repr(img).encode()).hexdigest()[:16]


def row_hash(row: dict[str, Any]) -> str:
    """Stable hash of a row's content fields (images hashed by pixels).

    Private keys (``_base_dir`` and the like, set by loaders) are left out: the same item read
    from two folders is the same item.
    """
    h = hashlib.sha256()
    for k in sorted(k for k in row if not k.startswith("_")):
        v = row[k]
        h.update(k.encode() + b"=")
        if hasattr(v, "tobytes"):
            h.update(image_hash(v).encode())
        elif isinstance(v, bytes | bytearray):
            h.update(hashlib.sha256(v).digest())
        else:
            h.update(json.dumps(v, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]
