"""Task families of the toy world: each draws an image and poses a verifiable question.

Why these five: together they cover the answer types of the real benchmarks
(multiple choice with option texts, integers, floats with a precision) and the skills
MathVista tags (counting, chart reading, arithmetic, colour and shape recognition),
small enough for a 2M-parameter model to learn part of in minutes on a CPU. ``shape``
is the held-out family of the task-shift split: it asks the inverse of ``colour`` on
the same kind of pictures, so a model can transfer but is never trained on it.

Every family returns a ``Problem`` whose ``rationale`` is a short, correct chain of
reasoning; the bootstrap and distillation stages use it to build training targets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from PIL import Image

from specs_eval.benchmarks.toyworld import draw as d


@dataclass
class Problem:
    family: str
    question: str
    answer: str
    answer_type: str  # integer | float | text
    image: Image.Image
    rationale: str
    choices: list[str] | None = None
    precision: int | None = None
    task: str = ""
    skills: list[str] = field(default_factory=list)

    @property
    def question_type(self) -> str:
        return "multi_choice" if self.choices else "free_form"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def count(rng: random.Random, style: d.Style) -> Problem:
    """Count shapes of one kind (or one colour) among 2–6 shapes on a 3×3 grid."""
    k = rng.randint(2, 6)
    cells = d.grid_cells(rng, k)
    img, dr = d.canvas(style, rng)
    items = []
    for cx, cy in cells:
        kind, col = rng.choice(d.SHAPES), rng.choice(list(d.COLOURS))
        d.shape(dr, kind, cx, cy, style.shape_radius(rng), style.colour(col, rng))
        items.append((kind, col))
    style.noise(img, rng)
    if rng.random() < 0.6:
        target = rng.choice(d.SHAPES)
        n = sum(1 for kind, _ in items if kind == target)
        q = f"How many {target}s are in the image?"
        seen = ", ".join(_plural(sum(1 for kk, _ in items if kk == s), s) for s in d.SHAPES)
        rationale = f"I see {seen}. So there are {_plural(n, target)}."
    else:
        target = rng.choice(list(d.COLOURS))
        n = sum(1 for _, col in items if col == target)
        q = f"How many {target} shapes are in the image?"
        seen = ", ".join(f"{sum(1 for _, cc in items if cc == c)} {c}" for c in d.COLOURS)
        rationale = f"By colour I see {seen}. So there are {_plural(n, target + ' shape')}."
    return Problem("count", q, str(n), "integer", img, rationale, task="counting", skills=["counting"])


def bars(rng: random.Random, style: d.Style) -> Problem:
    """A bar chart of bars A–D: read a value (int or float) or pick the tallest bar."""
    n_bars = rng.choice([3, 4])
    labels = "ABCD"[:n_bars]
    halves = rng.random() < 0.25
    vals = [rng.randint(2, 10) / 2 if halves else rng.randint(1, 5) for _ in labels]
    mode = rng.random()
    if mode < 0.35:  # distinct values, so "the tallest" is unique
        pool = [x / 2 for x in range(2, 12)] if halves else list(range(1, 7))
        vals = rng.sample(pool, n_bars)
    img, dr = d.canvas(style, rng)
    width = 84 // n_bars
    base = 96
    ink = style.ink()
    dr.line([(10, base), (104, base)], fill=ink, width=1)
    colour = rng.choice(list(d.COLOURS))
    for i, (lab, v) in enumerate(zip(labels, vals, strict=True)):
        x0 = 14 + i * width + 3
        h = int(v * 12)
        dr.rectangle([x0, base - h, x0 + width - 8, base], fill=style.colour(colour, rng))
        d.text(dr, (x0 + (width - 8) // 2, base + 8), lab, 11, ink)
    style.noise(img, rng)
    fmt = (lambda v: f"{v:.1f}") if halves else (lambda v: str(int(v)))
    listing = ", ".join(f"bar {lab} is {fmt(v)}" for lab, v in zip(labels, vals, strict=True))
    if mode < 0.35:
        best = labels[max(range(n_bars), key=lambda i: vals[i])]
        choices = [f"bar {lab}" for lab in labels]
        return Problem(
            "bars", "Which bar is the tallest?", f"bar {best}", "text", img,
            f"Reading the chart: {listing}. The tallest is bar {best}.", choices=choices,
            task="figure question answering", skills=["chart reading", "comparison"],
        )
    i = rng.randrange(n_bars)
    q = f"What is the value of bar {labels[i]}?"
    rationale = f"Reading the chart: {listing}. Bar {labels[i]} is {fmt(vals[i])}."
    if halves:
        return Problem("bars", q, f"{vals[i]:.1f}", "float", img, rationale, precision=1,
                       task="figure question answering", skills=["chart reading"])
    return Problem("bars", q, str(int(vals[i])), "integer", img, rationale,
                   task="figure question answering", skills=["chart reading"])


def digits(rng: random.Random, style: d.Style) -> Problem:
    """Two drawn digits: their sum, difference or product, or a ratio to one decimal."""
    a, b = rng.randint(0, 9), rng.randint(1, 9)
    img, dr = d.canvas(style, rng)
    size = rng.randint(30, 38) if not style.shifted else rng.choice([22, 24, 46])
    ink = style.ink() if rng.random() < 0.5 else style.colour(rng.choice(list(d.COLOURS)), rng)
    d.text(dr, (30 + rng.randint(-4, 4), 56 + rng.randint(-8, 8)), str(a), size, ink)
    d.text(dr, (82 + rng.randint(-4, 4), 56 + rng.randint(-8, 8)), str(b), size, ink)
    style.noise(img, rng)
    op = rng.choices(["sum", "difference", "product", "ratio"], weights=[4, 3, 2, 1])[0]
    head = f"The digits are {a} and {b}."
    if op == "sum":
        return Problem("digits", "What is the sum of the two digits?", str(a + b), "integer", img,
                       f"{head} {a} + {b} = {a + b}.", task="math word problem", skills=["arithmetic", "OCR"])
    if op == "difference":
        return Problem("digits", "What is the left digit minus the right digit?", str(a - b), "integer", img,
                       f"{head} {a} - {b} = {a - b}.", task="math word problem", skills=["arithmetic", "OCR"])
    if op == "product":
        return Problem("digits", "What is the product of the two digits?", str(a * b), "integer", img,
                       f"{head} {a} * {b} = {a * b}.", task="math word problem", skills=["arithmetic", "OCR"])
    r = round(a / b, 1)
    return Problem("digits", "What is the left digit divided by the right digit?", f"{r:.1f}", "float", img,
                   f"{head} {a} / {b} = {r:.1f}.", precision=1, task="math word problem",
                   skills=["arithmetic", "OCR"])


def _spatial_scene(rng: random.Random, style: d.Style) -> tuple[Image.Image, list[tuple[str, str]]]:
    """1–3 shapes with distinct kinds and distinct colours."""
    k = rng.randint(1, 3)
    kinds = rng.sample(list(d.SHAPES), k)
    cols = rng.sample(list(d.COLOURS), k)
    img, dr = d.canvas(style, rng)
    for (cx, cy), kind, col in zip(d.grid_cells(rng, k), kinds, cols, strict=True):
        d.shape(dr, kind, cx, cy, style.shape_radius(rng), style.colour(col, rng))
    style.noise(img, rng)
    return img, list(zip(kinds, cols, strict=True))


def colour(rng: random.Random, style: d.Style) -> Problem:
    """What colour is the <shape>? Multiple choice over colour names."""
    img, scene = _spatial_scene(rng, style)
    kind, col = rng.choice(scene)
    choices = list(d.COLOURS)
    rng.shuffle(choices)
    desc = ", ".join(f"a {c} {k}" for k, c in scene)
    return Problem("colour", f"What colour is the {kind}?", col, "text", img,
                   f"I see {desc}. The {kind} is {col}.", choices=choices,
                   task="visual question answering", skills=["colour recognition"])


def shape(rng: random.Random, style: d.Style) -> Problem:
    """Held-out family: which shape has <colour>? Multiple choice over shape names."""
    img, scene = _spatial_scene(rng, style)
    kind, col = rng.choice(scene)
    choices = list(d.SHAPES)
    rng.shuffle(choices)
    desc = ", ".join(f"a {c} {k}" for k, c in scene)
    return Problem("shape", f"Which shape is {col}?", kind, "text", img,
                   f"I see {desc}. The {col} shape is a {kind}.", choices=choices,
                   task="visual question answering", skills=["shape recognition"])


FAMILIES = {"count": count, "bars": bars, "digits": digits, "colour": colour, "shape": shape}
TRAIN_FAMILIES = ("count", "bars", "digits", "colour")
HELD_OUT_FAMILIES = ("shape",)
