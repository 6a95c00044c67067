"""The guard for multimodal vLLM rollouts, on the shipped tiny Qwen2.5-VL processor (no vLLM here).

* Snapped images are a fixed point of the processor's own resize: the processor keeps their
  pixels and counts exactly (h/28)(w/28) tokens (and an unsnapped image is resized: the check can fail).
* The pre-flight compares the trainer's prompt length with vLLM's expansion under the checkpoint's
  bounds; it catches a bounds mismatch and passes once images are snapped to both.
* The known-bad combination (trl 1.16 colocate + images) is detected by running trl's own prompt
  tokenisation, and refused with the trl issues, the open fix and the workaround named.

Not verified here: a real vLLM engine's prompt length (``benchmarks/gpu_checks.py`` does that on a GPU).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from specs_eval.rules.vision_grid import QWEN25_VL_7B, GridSpec, grid_size, stable_grid_size
from training import grid
from training.manifest import StageError

TINY = Path(__file__).resolve().parent.parent / "specs_eval" / "assets" / "tiny-base"
SIZES = [(1, 1), (3, 11), (27, 29), (56, 56), (100, 37), (224, 224), (225, 224), (333, 517), (640, 480),
         (1024, 768), (3000, 40), (4000, 3000), (28, 5000)]


@pytest.fixture(scope="module")
def processor():
    from specs_eval.models.loading import load_processor

    return load_processor(str(TINY))


def noise(w: int, h: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_bounds_come_from_the_processor_and_the_checkpoint(processor):
    assert grid.processor_grid(processor) == GridSpec(14, 2, 3136, 50176)
    assert grid.checkpoint_grid(TINY) == GridSpec(14, 2, 3136, 50176)


@pytest.mark.parametrize("w,h", SIZES)
def test_snapped_images_are_left_alone_by_the_processor(processor, w, h):
    import torch

    spec = grid.processor_grid(processor)
    snapped = grid.snap_image(noise(w, h), spec)
    sh, sw = snapped.height, snapped.width
    assert stable_grid_size(sh, sw, spec) == (sh, sw) and grid_size(sh, sw, spec) == (sh, sw)
    if grid_size(h, w, spec) == grid_size(*grid_size(h, w, spec), spec):  # where one pass is already stable
        assert (sh, sw) == grid_size(h, w, spec), "snapping picks the processor's own size"
    resized = processor.image_processor(images=[snapped], return_tensors="pt")
    as_is = processor.image_processor(images=[snapped], do_resize=False, return_tensors="pt")
    assert tuple(int(x) for x in resized["image_grid_thw"][0]) == (1, sh // 14, sw // 14)
    assert torch.equal(resized["pixel_values"], as_is["pixel_values"]), "no second resize"
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]}]
    ids = grid.hf_prompt(processor, msgs, [snapped])
    assert ids.count(processor.image_token_id) == spec.tokens(sh, sw)


def test_an_unsnapped_image_is_resized_and_elongated_ones_need_the_fixed_point(processor):
    spec = grid.processor_grid(processor)
    raw = noise(333, 225)
    g = [int(x) for x in processor.image_processor(images=[raw], return_tensors="pt")["image_grid_thw"][0]]
    assert (g[1] * 14, g[2] * 14) != (raw.height, raw.width)
    # 3000x40: one pass gives 1932x28, above max_pixels; the processor would shrink it again
    assert grid_size(40, 3000, spec) == (28, 1932) and grid_size(28, 1932, spec) == (28, 1848)
    assert stable_grid_size(40, 3000, spec) == (28, 1792)
    with pytest.raises(ValueError, match="aspect ratio"):
        grid.snap_image(Image.new("RGB", (5, 2000)), spec)


def _row(images: list[Image.Image], rid: str = "r1") -> dict:
    parts = [{"type": "image"} for _ in images] + [{"type": "text", "text": "How many shapes?"}]
    return {"id": rid, "prompt": [{"role": "user", "content": parts}], "images": images}


def test_preflight_catches_a_bounds_mismatch_and_passes_on_snapped_images(processor):
    vllm_bounds = QWEN25_VL_7B  # e.g. a vLLM engine that loaded the 7B's processor bounds
    big = noise(640, 480, 1)
    # the tiny processor resizes 640x480 to 252x168 (54 image tokens), vLLM with the 7B's bounds to 644x476
    # (23 x 17 blocks of 28 px: 391 tokens); the text tokens are the same on both sides
    with pytest.raises(StageError, match=r"pre-flight \(vLLM\): row big has \d+ prompt tokens .* but \d+ .*"
                                         r"rl.snap_images=on") as err:
        grid.vllm_prompt_preflight(processor, [_row([big], "big")], vllm_bounds, "rl")
    ours, theirs = (int(x) for x in re.search(r"has (\d+) prompt tokens .* but (\d+)", str(err.value)).groups())
    assert theirs - ours == 391 - 54
    both = grid.processor_grid(processor).intersect(vllm_bounds)
    rows = [_row(grid.snap_images([noise(w, h, i)], both), f"r{i}") for i, (w, h) in enumerate(SIZES[:-1])]
    rows.append(_row(grid.snap_images([noise(100, 37), noise(640, 480)], both), "two-images"))
    out = grid.vllm_prompt_preflight(processor, rows, vllm_bounds, "rl")
    assert out["vllm_prompts_checked"] == len(rows) and out["vllm_images_checked"] == len(rows) + 1
    assert out["vllm_engine_checked"] is False  # no vLLM here: the engine's own count is not verified


def test_trl_colocate_double_expansion_is_detected_and_refused(processor):
    """trl 1.16 (the version pyproject pins) hands vLLM processor-expanded ids: detected by running it."""
    status, detail = grid.colocate_expansion(processor)
    assert status == "affected", detail
    assert "4 image tokens for one image" in detail  # a 56x56 probe image: (56/28)^2 tokens
    with pytest.raises(StageError) as e:
        grid.check_vllm_guard("rl", True, "colocate", True, processor)
    for needle in ("huggingface/trl#6294", "huggingface/trl#6401", "huggingface/trl#6718", "rl.vllm_mode=server",
                   "rl.vllm_guard=warn"):
        assert needle in str(e.value)
    # server mode (vLLM's features placed on trl's runs), no images, or no vLLM: allowed
    assert grid.check_vllm_guard("rl", True, "server", True, processor)["vllm_guard"] == "affected"
    assert grid.check_vllm_guard("rl", True, "colocate", False, processor) == {"vllm_guard": "not applicable"}
    assert grid.check_vllm_guard("rl", False, "colocate", True, processor) == {"vllm_guard": "not applicable"}
    warned: list[str] = []
    out = grid.check_vllm_guard("zero-rl", True, "colocate", True, processor, "warn", warned.append)
    assert out["vllm_guard_overridden"] and "zero_rl.vllm_mode=server" in warned[0]


def test_snapping_follows_the_stage_setting():
    assert grid.resolve_snap("auto", True) and not grid.resolve_snap("auto", False)
    assert grid.resolve_snap("on", False) and not grid.resolve_snap("off", True)
