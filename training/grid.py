"""Guarding multimodal GRPO rollouts with vLLM: images on the processor's own grid, a token-count
pre-flight, and a refusal of the known-bad trl combination.

Why: with vLLM, a prompt's image tokens are counted twice, once by the trainer's HF
processor (the loss) and once by vLLM (the rollout). They must agree or the rollout is
generated from a different prompt than the one trained on. Three things can break that:

1. **Different resizes.** Each side resizes every image by the Qwen-VL rule with *its*
   processor's pixel bounds (vLLM loads the checkpoint's; the trainer may load others).
   ``snap_images`` resizes every image once, before either side sees it, to a size that is
   a fixed point of the rule for the bounds of both (``specs_eval.rules.vision_grid``), so
   neither resizes again and both count ``(h/28)·(w/28)`` tokens.
2. **Double expansion (trl 1.0-1.16, colocate).** trl's GRPO hands vLLM the processor-
   *expanded* prompt ids together with the images, and vLLM expands the image runs again
   (huggingface/trl issues #6294 and #6401: an M-RoPE shape error, or silent prompt
   corruption with mixed image sizes; fix proposed in trl PR #6718, open). Snapping does not
   prevent this. ``colocate_expansion`` detects it by behaviour: it runs trl's own prompt
   tokenisation on one image prompt and checks whether the ids trl would send to vLLM hold
   the image's full token run. ``check_vllm_guard`` refuses that combination (server mode,
   which places vLLM's features on trl's runs, is safe once images are snapped).
3. **A length mismatch we did not foresee.** ``vllm_prompt_preflight`` compares, for real
   training prompts, the HF processor's prompt length with the length vLLM's expansion gives
   (the unexpanded chat text plus each image's token count under the checkpoint's own
   bounds, i.e. vLLM's ``PromptReplacement`` for Qwen2/2.5-VL). On a GPU machine with vLLM,
   ``benchmarks/gpu_checks.py`` also asks a real engine; here (no vLLM) that is not verified.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from specs_eval.rules.vision_grid import GridSpec, grid_size, stable_grid_size
from training.manifest import StageError

TRL_ISSUES = ("huggingface/trl#6294", "huggingface/trl#6401")
TRL_FIX = "huggingface/trl#6718"


# ---------------------------------------------------------------- the grid


def processor_grid(processor: Any) -> GridSpec:
    """The bounds of a loaded Qwen2-VL-family processor (transformers 5 keeps them in ``size``)."""
    ip = getattr(processor, "image_processor", processor)
    size = getattr(ip, "size", None)
    get = (lambda k: size.get(k)) if isinstance(size, dict) else (lambda k: getattr(size, k, None))
    lo = get("shortest_edge") or get("min_pixels") or getattr(ip, "min_pixels", None)
    hi = get("longest_edge") or get("max_pixels") or getattr(ip, "max_pixels", None)
    patch, merge = getattr(ip, "patch_size", None), getattr(ip, "merge_size", None)
    if not (lo and hi and patch and merge):
        raise ValueError(f"{type(ip).__name__} is not a Qwen2-VL-style image processor (size={size}, "
                         f"patch_size={patch}, merge_size={merge})")
    return GridSpec(int(patch), int(merge), int(lo), int(hi))


def checkpoint_grid(model_dir: str | Path) -> GridSpec | None:
    """The bounds in a checkpoint's own processor files: what vLLM (and ``trl vllm-serve``) load.

    Reads ``preprocessor_config.json`` (``min_pixels``/``max_pixels`` or ``size``) or the
    ``image_processor`` block of ``processor_config.json``. None when neither is there.
    """
    d = Path(model_dir)
    for name, block in (("preprocessor_config.json", None), ("processor_config.json", "image_processor")):
        f = d / name
        if not f.is_file():
            continue
        cfg = json.loads(f.read_text(encoding="utf-8"))
        cfg = cfg.get(block, {}) if block else cfg
        size = cfg.get("size") or {}
        lo = cfg.get("min_pixels") or size.get("shortest_edge") or size.get("min_pixels")
        hi = cfg.get("max_pixels") or size.get("longest_edge") or size.get("max_pixels")
        if lo and hi:
            return GridSpec(int(cfg.get("patch_size", 14)), int(cfg.get("merge_size", 2)), int(lo), int(hi))
    return None


def snap_image(image: Any, spec: GridSpec) -> Any:
    """An RGB copy of ``image`` at a size the processor's resize maps to itself (bicubic, like the processor)."""
    from PIL import Image

    rgb = image.convert("RGB") if image.mode != "RGB" else image
    h, w = stable_grid_size(rgb.height, rgb.width, spec)
    if (h, w) == (rgb.height, rgb.width):
        return rgb
    return rgb.resize((w, h), resample=Image.Resampling.BICUBIC)


def snap_images(images: Sequence[Any], spec: GridSpec) -> list[Any]:
    return [snap_image(img, spec) for img in images]


def resolve_snap(setting: Literal["auto", "on", "off"], use_vllm: bool) -> bool:
    return setting == "on" or (setting == "auto" and use_vllm)


# ---------------------------------------------------------------- the pre-flight


def _tokenizer(processor: Any) -> Any:
    return getattr(processor, "tokenizer", processor)


def hf_prompt(processor: Any, messages: list[dict[str, Any]], images: Sequence[Any]) -> list[int]:
    """The prompt ids the trainer's processor builds (trl's GRPO call: chat template, tokenised, expanded)."""
    from trl.data_utils import prepare_multimodal_messages

    conv = prepare_multimodal_messages(messages, images=list(images))
    out = processor.apply_chat_template(conversation=[conv], add_generation_prompt=True, tokenize=True,
                                        return_dict=True)
    ids = out["input_ids"]
    ids = ids[0] if ids and isinstance(ids[0], list) else ids
    return [int(t) for t in (ids.tolist() if hasattr(ids, "tolist") else ids)]


def vllm_prompt_length(processor: Any, messages: list[dict[str, Any]], images: Sequence[Any], spec: GridSpec) -> int:
    """The prompt length vLLM reaches for the same prompt: the chat text tokenised with one image
    token per image (what a tokenizer alone gives), then each image token replaced by the
    image's ``grid_thw.prod() / merge²`` tokens under ``spec`` (vLLM's Qwen2/2.5-VL prompt update)."""
    from trl.data_utils import prepare_multimodal_messages

    conv = prepare_multimodal_messages(messages, images=list(images))
    text = processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    ids = _tokenizer(processor)(text, add_special_tokens=False)["input_ids"]
    pad = processor.image_token_id
    n_pads = ids.count(pad)
    if n_pads != len(images):
        raise ValueError(f"the chat text holds {n_pads} image tokens for {len(images)} images")
    expanded = sum(spec.tokens(*grid_size(img.height, img.width, spec)) for img in images)  # one pass, as a processor
    return len(ids) - n_pads + expanded


def vllm_prompt_preflight(processor: Any, rows: Sequence[dict[str, Any]], vllm_spec: GridSpec, stage: str
                          ) -> dict[str, Any]:
    """Prompt lengths of real training rows, HF processor vs vLLM's expansion, must be equal.

    ``rows`` are GRPO dataset rows (``prompt`` messages, ``images``). Raises ``StageError``
    naming the first row whose counts differ and what to do.
    """
    checked, images = 0, 0
    for row in rows:
        imgs = list(row.get("images") or [])
        hf = len(hf_prompt(processor, row["prompt"], imgs))
        vl = vllm_prompt_length(processor, row["prompt"], imgs, vllm_spec)
        if hf != vl:
            sizes = [f"{im.width}x{im.height}" for im in imgs]
            raise StageError(stage, f"pre-flight (vLLM): row {row.get('id', checked)} has {hf} prompt tokens in the "
                             f"trainer's processor but {vl} under vLLM's processor bounds {vllm_spec} (images "
                             f"{sizes}); set {stage.replace('-', '_')}.snap_images=on so both see the same grid, "
                             "or load the trainer's processor with the checkpoint's own min/max pixels")
        checked += 1
        images += len(imgs)
    return {"vllm_prompts_checked": checked, "vllm_images_checked": images, "vllm_bounds": list(vars(vllm_spec).values()),
            "vllm_engine_checked": False}


# ---------------------------------------------------------------- the known-bad combination


def colocate_expansion(processor: Any) -> tuple[Literal["affected", "not_affected", "unknown"], str]:
    """Whether this trl sends vLLM processor-expanded prompt ids with images (the double expansion).

    Detected by behaviour, not by version: trl's own ``GRPOTrainer._tokenize_prompts`` is run
    on a one-image prompt, and its ids are checked for the image's full token run; and
    ``_generate_single_turn`` must be the one that hands those ids to vLLM. A trl whose
    tokenisation returns something else (e.g. a separate unexpanded track, as PR #6718
    proposes) is ``unknown``: not refused, and the stage's pre-flight notes it.
    """
    import inspect
    from types import SimpleNamespace

    from PIL import Image

    try:
        import trl
        from trl import GRPOTrainer

        fake = SimpleNamespace(processing_class=processor, _is_vlm=True, environment_factories=None, tools=None,
                               chat_template=None, chat_template_kwargs={})
        prompt = [{"role": "user", "content": [{"type": "image", "image": Image.new("RGB", (56, 56))},
                                               {"type": "text", "text": "q"}]}]
        result = GRPOTrainer._tokenize_prompts(fake, [prompt])
        if not (isinstance(result, tuple) and len(result) == 3):
            return "unknown", f"trl {trl.__version__}: _tokenize_prompts returns another shape"
        ids = result[0][0]
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        source = inspect.getsource(GRPOTrainer._generate_single_turn)
    except Exception as e:  # a trl without these internals: say so, do not guess
        return "unknown", f"could not probe trl ({type(e).__name__}: {e})"
    n = sum(1 for t in ids if t == processor.image_token_id)
    hands_over = "vllm_generation.generate(" in source and "prompts=prompt_ids" in source
    if n > 1 and hands_over:
        return "affected", (f"trl {trl.__version__} passes vLLM the processor-expanded prompt ids ({n} image tokens "
                            "for one image) together with the image")
    if n <= 1:
        return "not_affected", f"trl {trl.__version__} sends vLLM unexpanded prompt ids"
    return "unknown", f"trl {trl.__version__}: expanded ids, but not handed to vLLM as trl 1.16 does"


def check_vllm_guard(stage: str, use_vllm: bool, mode: str, has_images: bool, processor: Any,
                     action: Literal["refuse", "warn"] = "refuse", warn: Any = None) -> dict[str, Any]:
    """Refuse (or warn about) trl colocate + vLLM + images where trl double-expands; return what was found."""
    if not (use_vllm and has_images):
        return {"vllm_guard": "not applicable"}
    status, detail = colocate_expansion(processor)
    out = {"vllm_guard": status, "vllm_guard_detail": detail, "vllm_mode": mode}
    if status == "affected" and mode == "colocate":
        msg = (f"{detail}; vLLM expands the image tokens a second time ({', '.join(TRL_ISSUES)}: an M-RoPE shape "
               f"error or silently corrupted prompts; fix proposed in {TRL_FIX}). Use server mode "
               f"(--set {stage.replace('-', '_')}.vllm_mode=server with `specs-train vllm-serve`; images are snapped "
               f"to the grid), a trl release with {TRL_FIX}, or use_vllm=false")
        if action == "refuse":
            raise StageError(stage, msg + f"; {stage.replace('-', '_')}.vllm_guard=warn overrides this")
        if warn is not None:
            warn(f"warning: stage {stage}: {msg}")
        out["vllm_guard_overridden"] = True
    return out
