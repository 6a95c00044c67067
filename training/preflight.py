"""Pre-flight checks before a stage trains: a clear error instead of a silent wrong run.

Why: VLM training fails in ways that do not crash. A ``max_length`` that cuts a prompt
inside its image span trains on image features with missing placeholder tokens (or
crashes deep in the model with "Image features and image tokens do not match"); a
processor whose chat template renders no image placeholder makes the model train blind;
a processor whose image token id differs from the model's makes image features land on
the wrong tokens. Each check below runs on a few *real* batches built exactly as the
trainer builds them (the trainer's own collator for DPO/SFT; the processor's chat-template
call that trl's GRPO uses) and raises a one-line ``StageError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from training.manifest import StageError


def check_chat_template(processor: Any, stage: str, model_name: str) -> None:
    """The processor renders chat messages and puts exactly one image placeholder per image part."""
    tok = getattr(processor, "tokenizer", processor)
    template = getattr(processor, "chat_template", None) or getattr(tok, "chat_template", None)
    if not template:
        raise StageError(stage, f"model {model_name} has no chat template; use an instruct checkpoint or add a "
                         "chat_template.jinja to its folder")
    image_token = getattr(processor, "image_token", None)
    if image_token is None or not hasattr(processor, "image_processor"):
        raise StageError(stage, f"model {model_name}: the processor is text-only (no image processor); images would "
                         "be dropped. Check that the checkpoint folder has its preprocessor config")
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "q"}, {"type": "image"}]}]
    try:
        text = processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    except Exception as e:
        raise StageError(stage, f"model {model_name}: the chat template cannot render an image message "
                         f"({type(e).__name__}: {e})") from None
    if text.count(image_token) != 2:
        raise StageError(stage, f"model {model_name}: the chat template renders {text.count(image_token)} image "
                         f"placeholder(s) for 2 images ({image_token!r}); processor and template disagree")


def check_token_ids(processor: Any, model_config: Any, stage: str, model_name: str) -> None:
    """Processor and model agree on the image token id."""
    proc_id = getattr(processor, "image_token_id", None)
    model_id = getattr(model_config, "image_token_id", None)
    if proc_id is None or model_id is None:
        return
    if proc_id != model_id:
        raise StageError(stage, f"model {model_name}: the processor's image token id {proc_id} is not the model's "
                         f"{model_id}; the processor does not belong to this model")


def _spans(ids: list[int], token: int) -> list[int]:
    """Lengths of the runs of ``token`` in ``ids``."""
    out, run = [], 0
    for t in ids:
        if t == token:
            run += 1
        elif run:
            out.append(run)
            run = 0
    if run:
        out.append(run)
    return out


def check_batch(batch: dict[str, Any], processor: Any, model_config: Any, stage: str, what: str,
                max_length: int | None = None) -> dict[str, int]:
    """Image-token runs in ``input_ids`` match the image features, image by image, in order.

    Each image yields ``prod(grid_thw) / merge_size²`` features and must appear as one
    run of exactly that many image tokens. A run that is short or missing at the end of
    a sequence means truncation inside an image span.
    """
    ids = batch["input_ids"]
    mask = batch.get("attention_mask")
    grid = batch.get("image_grid_thw")
    token = getattr(model_config, "image_token_id", None) or getattr(processor, "image_token_id", None)
    merge = int(getattr(getattr(processor, "image_processor", None), "merge_size", 2) or 2)
    expected = [] if grid is None else [int(g.prod()) // (merge * merge) for g in grid]
    runs: list[int] = []
    longest = 0
    for i in range(ids.shape[0]):
        row = ids[i] if mask is None else ids[i][mask[i].bool()]
        longest = max(longest, int(row.shape[0]))
        runs.extend(_spans(row.tolist(), token))
    n_tokens, n_features = sum(runs), sum(expected)
    hint = (f"; max_length={max_length} is too short for these prompts: raise it (prompt + response must fit)"
            if max_length else "")
    if n_tokens != n_features:
        raise StageError(stage, f"pre-flight on {what}: {n_tokens} image tokens in the text but {n_features} image "
                         f"features{hint}")
    if runs != expected:
        raise StageError(stage, f"pre-flight on {what}: image token runs {runs[:6]} do not match the images' feature "
                         f"counts {expected[:6]} (truncation inside an image span or a template problem){hint}")
    return {"images": len(expected), "image_tokens": n_tokens, "longest": longest}


def check_grpo_prompts(processor: Any, model_config: Any, rows: Sequence[dict[str, Any]], stage: str,
                       max_completion_length: int, max_model_length: int | None) -> dict[str, int]:
    """Tokenize GRPO prompts as trl does and check image spans and the total length budget."""
    from trl.data_utils import prepare_multimodal_messages

    convs = [prepare_multimodal_messages(r["prompt"], images=list(r.get("images") or [])) for r in rows]
    try:
        batch = processor.apply_chat_template(conversation=convs, add_generation_prompt=True, tokenize=True,
                                              return_dict=True, padding=True, return_tensors="pt")
    except Exception as e:
        raise StageError(stage, f"pre-flight: the processor cannot encode the training prompts "
                         f"({type(e).__name__}: {e})") from None
    stats = check_batch(batch, processor, model_config, stage, f"{len(rows)} GRPO prompts")
    limit = max_model_length or getattr(getattr(model_config, "text_config", model_config),
                                        "max_position_embeddings", None)
    if limit and stats["longest"] + max_completion_length > limit:
        raise StageError(stage, f"pre-flight: prompt of {stats['longest']} tokens + max_completion_length "
                         f"{max_completion_length} exceeds the model's {limit}; shorten max_completion_length")
    return stats


def check_collated(collator: Any, examples: Sequence[dict[str, Any]], processor: Any, model_config: Any, stage: str,
                   max_length: int | None, what: str) -> dict[str, int]:
    """Collate real examples with the trainer's own collator and check the result."""
    try:
        batch = collator([dict(e) for e in examples])
    except Exception as e:
        raise StageError(stage, f"pre-flight: the trainer cannot collate {what} ({type(e).__name__}: {e})") from None
    stats = check_batch(batch, processor, model_config, stage, what, max_length)
    if max_length is not None and stats["longest"] >= max_length:
        # at the limit: a response was cut; image spans are intact (checked above) but say so
        stats["truncated_at_max_length"] = 1
    return stats
