"""The image-only processor ``transformers serve`` uses for a serving copy, registered in-process.

Why registered, not shipped as remote code: the stock Qwen-VL processors insist on a video
sub-processor, which needs torchvision (absent on CPU installs). Writing the subclass into the
checkpoint as ``processing_*.py`` would make the server run with ``--trust-remote-code``, which
executes any Python file a checkpoint folder carries. Instead, the server process imports this
module before transformers' CLI starts (``serving.serve_command``): it defines the subclass and
registers it with ``AutoProcessor`` under the name the serving copy's ``processor_config.json``
gives (``SpecsEvalImageOnlyProcessor``), so the server loads it with remote code off.

With ``decode=True`` the tokenizer's ``parse_response`` returns the generated ids decoded with
``skip_special_tokens=True``, which is what ``model.generate`` + decode (and vLLM) return,
instead of the server's raw decode with special tokens kept.
"""

from __future__ import annotations

from typing import Any

CLASS_NAME = "SpecsEvalImageOnlyProcessor"
# model_type -> (stock processor class, config class)
STOCK = {"qwen2_vl": ("Qwen2VLProcessor", "Qwen2VLConfig"),
         "qwen2_5_vl": ("Qwen2_5_VLProcessor", "Qwen2_5_VLConfig")}


def _decoding_parser(tokenizer: Any) -> Any:
    def parse_response(response: Any, schema: Any = None, *, prefix: Any = None, tools: Any = None) -> dict[str, Any]:
        return {"role": "assistant", "content": tokenizer.decode(response, skip_special_tokens=True)}

    return parse_response


def install(model_type: str, decode: bool) -> type:
    """Define the image-only subclass of ``model_type``'s stock processor and register it with AutoProcessor."""
    import transformers
    from transformers import AutoProcessor
    from transformers.processing_utils import ProcessorMixin

    stock_name, config_name = STOCK[model_type]
    stock = getattr(transformers, stock_name)

    def __init__(self: Any, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None,
                 **kwargs: Any) -> None:
        self.image_token = getattr(tokenizer, "image_token", None) or "<|image_pad|>"
        self.video_token = getattr(tokenizer, "video_token", None) or "<|video_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        if decode:
            tokenizer.parse_response = _decoding_parser(tokenizer)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    cls = type(CLASS_NAME, (stock,), {"attributes": ["image_processor", "tokenizer"], "__init__": __init__,
                                      "__module__": __name__})
    AutoProcessor.register(getattr(transformers, config_name), cls, exist_ok=True)
    return cls
