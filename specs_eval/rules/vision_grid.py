"""The Qwen2/2.5-VL image grid as arithmetic: what size a processor resizes an image to.

Why in the rules layer: two callers need the same rule and neither may import a model
stack. The detection verifier (``rules/detection.py``) must know the frame the model saw
to bring its pixel boxes onto the 0-1000 scale of the gold boxes, exactly as the
V-Triune/Orsta authors' reward does; and the training guard for vLLM rollouts
(``training/grid.py``) snaps images onto this grid so that the trainer's processor and
vLLM's expand each image to the same number of tokens.

The rule (``smart_resize`` of ``transformers/models/qwen2_vl/image_processing_qwen2_vl.py``;
the PIL backend uses the same): round each side to a multiple of ``factor = patch_size *
merge_size`` (28 for Qwen2/2.5-VL); if the area is above ``max_pixels`` scale both sides
down (floor to the factor), if below ``min_pixels`` scale up (ceil); refuse aspect ratios
above 200. Tokens per image: ``(h / patch) * (w / patch) / merge**2``.

The rule is not idempotent for very elongated images (the short side is clamped to the
factor after scaling, so the area can stay above ``max_pixels``: 3000x40 → 1932x28 →
1848x28 → …). ``stable_grid_size`` iterates it to a fixed point, so an image snapped to
that size is left alone by every processor with the same bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_ASPECT = 200


@dataclass(frozen=True)
class GridSpec:
    """The bounds that decide a Qwen-VL processor's resize, hence its image-token count."""

    patch_size: int = 14
    merge_size: int = 2
    min_pixels: int = 56 * 56
    max_pixels: int = 28 * 28 * 1280

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    def tokens(self, height: int, width: int) -> int:
        """Image tokens of an image already on the grid."""
        return (height // self.patch_size) * (width // self.patch_size) // (self.merge_size ** 2)

    def intersect(self, other: GridSpec) -> GridSpec:
        """Bounds that satisfy both processors (e.g. the trainer's and vLLM's)."""
        if (self.patch_size, self.merge_size) != (other.patch_size, other.merge_size):
            raise ValueError(f"processors disagree on patch/merge size: {self} vs {other}")
        lo, hi = max(self.min_pixels, other.min_pixels), min(self.max_pixels, other.max_pixels)
        if lo > hi:
            raise ValueError(f"no pixel count satisfies both processors: {self} vs {other}")
        return GridSpec(self.patch_size, self.merge_size, lo, hi)


#: Qwen2.5-VL-7B-Instruct's published processor bounds (its preprocessor_config.json)
QWEN25_VL_7B = GridSpec(14, 2, 3136, 12845056)


def grid_size(height: int, width: int, spec: GridSpec) -> tuple[int, int]:
    """(height, width) the processor's resize rule gives for an image of this size (one pass)."""
    if min(height, width) <= 0:
        raise ValueError(f"image has an empty side: {width}x{height}")
    if max(height, width) / min(height, width) > MAX_ASPECT:
        raise ValueError(f"aspect ratio of {width}x{height} exceeds {MAX_ASPECT}; the processor refuses it")
    f = spec.factor
    h, w = round(height / f) * f, round(width / f) * f
    if h * w > spec.max_pixels:
        beta = math.sqrt(height * width / spec.max_pixels)
        h, w = max(f, math.floor(height / beta / f) * f), max(f, math.floor(width / beta / f) * f)
    elif h * w < spec.min_pixels:
        beta = math.sqrt(spec.min_pixels / (height * width))
        h, w = math.ceil(height * beta / f) * f, math.ceil(width * beta / f) * f
    return h, w


def stable_grid_size(height: int, width: int, spec: GridSpec, max_rounds: int = 8) -> tuple[int, int]:
    """The first size the resize rule maps to itself, starting from (height, width).

    For ordinary images that is one pass of the rule (the size the processor picks); for
    very elongated ones a few more. ``ValueError`` when there is none within ``max_rounds``.
    """
    h, w = height, width
    for _ in range(max_rounds):
        nh, nw = grid_size(h, w, spec)
        if (nh, nw) == (h, w):
            return h, w
        h, w = nh, nw
    raise ValueError(f"{width}x{height}: no size is stable under the processor's resize with {spec} after "
                     f"{max_rounds} rounds; widen min/max pixels")
