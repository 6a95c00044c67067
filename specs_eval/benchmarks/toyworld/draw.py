"""PIL drawing primitives for the toy world.

Why its own module: the visual-shift split is defined entirely by how things are
drawn (backgrounds, shades, sizes), so the knobs live in one ``Style`` and every task
family draws through these helpers. Images are small (112 px) so that the tiny
Qwen2.5-VL sees them as 16 visual tokens: 14-px patches merged 2 × 2, i.e. a 4 × 4 grid
of 28-px cells. Objects are placed on that grid (``CELL``, ``cell_centres``), one per
cell, so each object lands in exactly one visual token: a model of a few million
parameters can then learn to read the picture (on a grid that straddles tokens the
first tiny base learnt little beyond the answer prior).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

SIZE = 112
CELL = 28  # one merged visual token (2 × 2 patches of 14 px)
GRID = SIZE // CELL

# Colour names the tasks talk about, with the RGB used in training ("id" shades) and
# the unseen shades used by the visual-shift split (same name, different pixels).
COLOURS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "red": ((220, 30, 30), (150, 20, 60)),
    "green": ((30, 170, 40), (90, 200, 120)),
    "blue": ((30, 60, 220), (60, 150, 230)),
    "yellow": ((235, 200, 20), (200, 160, 60)),
}
SHAPES = ("circle", "square", "triangle")


@dataclass(frozen=True)
class Style:
    """How an image is drawn. ``shifted`` selects the unseen visual conditions."""

    shifted: bool = False

    def background(self, rng: random.Random) -> tuple[int, int, int]:
        if not self.shifted:
            v = rng.randint(242, 255)
            return (v, v, v)
        return rng.choice([(70, 70, 80), (200, 220, 190), (230, 200, 230)])

    def colour(self, name: str, rng: random.Random) -> tuple[int, int, int]:
        base = COLOURS[name][1 if self.shifted else 0]
        j = 12
        return tuple(max(0, min(255, c + rng.randint(-j, j))) for c in base)  # type: ignore[return-value]

    def shape_radius(self, rng: random.Random) -> int:
        return rng.choice([6, 7, 12, 13]) if self.shifted else rng.randint(9, 11)

    def ink(self) -> tuple[int, int, int]:
        return (235, 235, 235) if self.shifted else (20, 20, 20)

    def noise(self, img: Image.Image, rng: random.Random) -> None:
        if not self.shifted:
            return
        px = img.load()
        for _ in range(120):
            x, y = rng.randrange(SIZE), rng.randrange(SIZE)
            px[x, y] = tuple(rng.randrange(256) for _ in range(3))


def canvas(style: Style, rng: random.Random) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (SIZE, SIZE), style.background(rng))
    return img, ImageDraw.Draw(img)


def shape(draw: ImageDraw.ImageDraw, kind: str, cx: int, cy: int, r: int, fill: tuple[int, int, int]) -> None:
    if kind == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif kind == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif kind == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    else:
        raise ValueError(f"unknown shape {kind!r}")


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` (no system fonts, so images are identical everywhere)."""
    return ImageFont.load_default(size=size)


def text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], s: str, size: int, fill: tuple[int, int, int]) -> None:
    draw.text(xy, s, font=font(size), fill=fill, anchor="mm")


def grid_cells(rng: random.Random, k: int, n: int = GRID) -> list[tuple[int, int]]:
    """``k`` distinct cell centres of an ``n``×``n`` grid (default: the visual-token grid), in reading order."""
    step = SIZE // n
    picked = sorted(rng.sample(range(n * n), k))
    return [((i % n) * step + step // 2, (i // n) * step + step // 2) for i in picked]


def cell_index(cx: int, cy: int) -> int:
    """The visual-token cell (row-major, 0 … GRID²-1) that holds pixel ``(cx, cy)``."""
    return (cy // CELL) * GRID + cx // CELL


