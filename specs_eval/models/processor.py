"""An image-only Qwen2.5-VL processor that works without torchvision.

Why: the stock ``Qwen2_5_VLProcessor`` insists on a video sub-processor, and every
video processor in transformers needs torchvision. PyPI's torchvision is CUDA-only and,
next to the CPU torch, breaks transformers' VLM imports. So on CPU we build the stock
processor's behaviour from its two other parts. Checkpoints are saved with the stock
``processor_class`` so GPU environments (with torchvision) load the stock class.
"""

from __future__ import annotations

from transformers import Qwen2_5_VLProcessor


class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
    """``Qwen2_5_VLProcessor`` with no video processor (images and text only)."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        self.image_token = getattr(tokenizer, "image_token", None) or "<|image_pad|>"
        self.video_token = getattr(tokenizer, "video_token", None) or "<|video_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        # Skip Qwen2_5_VLProcessor.__init__ (it wants a video processor).
        super(Qwen2_5_VLProcessor, self).__init__(image_processor, tokenizer, chat_template=chat_template)

    def save_pretrained(self, save_directory, **kwargs):  # type: ignore[override]
        out = super().save_pretrained(save_directory, **kwargs)
        _restore_stock_class(save_directory)
        return out


def _restore_stock_class(directory) -> None:
    """Write the stock class name into saved configs, so hub tooling sees a normal checkpoint."""
    import json
    from pathlib import Path

    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        p = Path(directory) / name
        if not p.exists():
            continue
        data = json.loads(p.read_text())
        if data.get("processor_class") == ImageOnlyQwen2_5_VLProcessor.__name__:
            data["processor_class"] = "Qwen2_5_VLProcessor"
            p.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
