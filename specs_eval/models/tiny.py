"""Build a tiny Qwen2.5-VL (the architecture class Qwen2.5-VL-7B uses) entirely offline.

Why: tests and the CPU pipeline need a *real* VLM — same model class, processor,
chat template and special tokens as the 7B target — small enough to train in minutes
on two cores. Nothing is downloaded: the byte-level BPE tokenizer is trained here on
toy-world text, the image processor is the PIL one, and the weights come from a config.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen-format chat template. Accepts string content and lists of parts (trl passes parts).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or part['type'] == 'image_url' %}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinySize:
    """Model dimensions. ``small`` is the shipped base; ``micro`` is for fast tests."""

    hidden: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 384
    vision_hidden: int = 128
    vision_depth: int = 4
    vision_heads: int = 4
    vision_intermediate: int = 256
    vocab: int = 1024


SIZES = {
    "small": TinySize(),
    "micro": TinySize(hidden=64, layers=2, intermediate=128, vision_hidden=64, vision_depth=2,
                      vision_intermediate=128, vocab=512),
}


# Pieces BPE never merges across: tags such as <think> (kept whole, so a tag named in an
# instruction can be copied as one token), \boxed, single digits and punctuation. Between
# them BPE may merge across spaces ("phrase" tokens).
_PIECES = r"</?[A-Za-z_]+>|\\boxed|\d|[.,:;?!()\[\]{}\"'\n]"


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 1024, phrases: bool = True,
                    words: Iterable[str] = ()) -> Any:
    """A byte-level BPE with the Qwen special tokens, wrapped as a fast HF tokenizer.

    ``phrases`` (the default since the v2 toy world): merges may cross spaces, so the
    templated toy-world text (instructions, hints, rationale frames) becomes a few phrase
    tokens; a prompt is about half as many tokens and a response two thirds, which makes
    training and generation on a CPU correspondingly faster. Digits stay single tokens and
    tags whole tokens. ``words`` are kept as pieces of their own too (the toy world's
    colour and shape names: a phrase token such as "I see a red triangle" would make the
    model learn every colour-shape pair separately). ``phrases=False`` is the word-level
    BPE of the first tiny base.
    """
    import re

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    if phrases:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex("|".join([_PIECES, *(rf"\b{re.escape(w)}\b" for w in
                                                            sorted(set(words), key=lambda w: (-len(w), w)))])),
                                 behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
        padding_side="left",
        model_max_length=4096,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.image_token = "<|image_pad|>"  # type: ignore[attr-defined]
    fast.video_token = "<|video_pad|>"  # type: ignore[attr-defined]
    return fast


def build_processor(tokenizer: Any, image_size: int = 112) -> Any:
    """The image-only Qwen2.5-VL processor with the PIL image processor (no torchvision)."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from specs_eval.models.processor import ImageOnlyQwen2_5_VLProcessor

    pixels = image_size * image_size
    ip = Qwen2VLImageProcessorPil(
        size={"shortest_edge": pixels // 4, "longest_edge": pixels * 4},
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
    )
    return ImageOnlyQwen2_5_VLProcessor(image_processor=ip, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE)


def build_model(tokenizer: Any, size: TinySize | str = "small", seed: int = 0) -> Any:
    """A randomly initialised ``Qwen2_5_VLForConditionalGeneration`` sized by ``size``."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    s = SIZES[size] if isinstance(size, str) else size
    head_dim = s.hidden // s.heads
    half = head_dim // 2
    t = half // 4
    mrope = [half - 2 * ((half - t) // 2) - 0, (half - t) // 2, (half - t) // 2]
    ids = {t_: tokenizer.convert_tokens_to_ids(t_) for t_ in SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": s.hidden,
            "intermediate_size": s.intermediate,
            "num_hidden_layers": s.layers,
            "num_attention_heads": s.heads,
            "num_key_value_heads": s.kv_heads,
            "max_position_embeddings": 4096,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope},
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
            "tie_word_embeddings": True,
        },
        vision_config={
            "depth": s.vision_depth,
            "hidden_size": s.vision_hidden,
            "intermediate_size": s.vision_intermediate,
            "num_heads": s.vision_heads,
            "out_hidden_size": s.hidden,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": list(range(1, s.vision_depth, 2)),
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.bos_token_id = ids["<|endoftext|>"]
    model.generation_config.do_sample = False
    return model


def save(model: Any, processor: Any, out: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Save weights, processor and a ``specs_eval.json`` provenance file."""
    import json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "specs_eval.json").write_text(json.dumps(extra or {}, indent=2, sort_keys=True, default=str) + "\n")
    return out


def size_dict(size: str) -> dict[str, int]:
    return asdict(SIZES[size])
