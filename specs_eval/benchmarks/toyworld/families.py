"""Task families of the toy world: each draws an image and poses a verifiable question.

Why these five: together they cover the answer types of the real benchmarks
(multiple choice with option texts, integers, floats with a precision) and the skills
MathVista tags (counting, chart reading, arithmetic on read digits, colour and shape
recognition), small enough for a tiny Qwen2.5-VL to learn in minutes on a CPU.
``shape`` is the held-out family of the task-shift split: it asks the inverse of
``colour`` on the same kind of pictures, so a model can transfer but is never RL-trained
on it.

Every family returns a ``Problem`` whose ``rationale`` is a short, correct, grounded chain
of reasoning that ends in the answer; the bootstrap and distillation stages use it to
build training targets. ``kind`` names the question's sub-type (visible in the question
text), so training recipes can treat sub-types differently. ``cells`` says what is drawn in
each visual-token cell (one of ``CELL_LABELS``): dense labels a bootstrap recipe can use to
pretrain the vision tower, as real VLMs start from a pretrained image encoder.

Version 2 (why the changes): objects sit one per visual token (``draw.grid_cells``), bar
heights are whole 14-px patches per unit, digits are large and centred on their tokens,
and the answers are spread flat (a count of 0–4, values 1–6, any of four colours), so an
image-blind model cannot score much by guessing the most frequent answer. Digit products
and ratios are gone (a model of this size cannot learn the times table from a few
thousand examples; floats come from half-unit bars).
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
    kind: str = ""
    cells: list[str] = field(default_factory=lambda: [EMPTY] * d.GRID**2)

    @property
    def question_type(self) -> str:
        return "multi_choice" if self.choices else "free_form"


EMPTY = "empty"
BAR_FILLS = (0.5, 1.0, 1.5, 2.0)  # units of bar inside one cell (a cell is two units tall)
CELL_LABELS: tuple[str, ...] = (
    EMPTY,
    *(f"{c} {s}" for c in d.COLOURS for s in d.SHAPES),
    *(f"bar {f:g}" for f in BAR_FILLS),
    *(f"label {x}" for x in "ABCD"),
    *(f"digit {i}" for i in range(10)),
)


def _cells(placed: list[tuple[int, str]]) -> list[str]:
    cells = [EMPTY] * d.GRID**2
    for index, label in placed:
        cells[index] = label
    return cells


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def count(rng: random.Random, style: d.Style) -> Problem:
    """Count the shapes of one kind (or one colour): 0–4 of them among 1–6 shapes, one per visual token."""
    by_shape = rng.random() < 0.5
    n = rng.randint(0, 4)
    others = rng.randint(max(0, 1 - n), 6 - n)
    colours = list(d.COLOURS)
    if by_shape:
        target = rng.choice(d.SHAPES)
        rest = [s for s in d.SHAPES if s != target]
        items = [(target, rng.choice(colours)) for _ in range(n)]
        items += [(rng.choice(rest), rng.choice(colours)) for _ in range(others)]
    else:
        target = rng.choice(colours)
        rest = [c for c in colours if c != target]
        items = [(rng.choice(d.SHAPES), target) for _ in range(n)]
        items += [(rng.choice(d.SHAPES), rng.choice(rest)) for _ in range(others)]
    rng.shuffle(items)
    img, dr = d.canvas(style, rng)
    placed = []
    for (cx, cy), (kind, col) in zip(d.grid_cells(rng, len(items)), items, strict=True):
        d.shape(dr, kind, cx, cy, style.shape_radius(rng), style.colour(col, rng))
        placed.append((d.cell_index(cx, cy), f"{col} {kind}"))
    style.noise(img, rng)
    if by_shape:
        q = f"How many {target}s are in the image?"
        seen = ", ".join(_plural(sum(1 for kk, _ in items if kk == s), s) for s in d.SHAPES)
        rationale = f"I see {seen}. So there are {_plural(n, target)}."
    else:
        q = f"How many {target} shapes are in the image?"
        seen = ", ".join(f"{sum(1 for _, cc in items if cc == c)} {c}" for c in colours)
        rationale = f"By colour I see {seen}. So there are {_plural(n, target + ' shape')}."
    return Problem("count", q, str(n), "integer", img, rationale, task="counting", skills=["counting"],
                   kind="shape" if by_shape else "colour", cells=_cells(placed))


BAR_UNIT = 14  # pixels per unit of bar height: one patch


def bars(rng: random.Random, style: d.Style) -> Problem:
    """A bar chart of bars A–D, one per column of visual tokens: read a value (int or float) or pick the tallest."""
    n_bars = rng.choice([3, 4])
    labels = "ABCD"[:n_bars]
    halves = rng.random() < 0.25
    pool = [x / 2 for x in range(1, 13)] if halves else [float(x) for x in range(1, 7)]
    tallest = rng.random() < 0.35
    vals = rng.sample(pool, n_bars) if tallest else [rng.choice(pool) for _ in labels]
    img, dr = d.canvas(style, rng)
    base = 3 * d.CELL
    ink = style.ink()
    dr.line([(0, base), (d.SIZE - 1, base)], fill=ink, width=1)
    colour = rng.choice(list(d.COLOURS))
    placed = []
    for i, (lab, v) in enumerate(zip(labels, vals, strict=True)):
        x0 = i * d.CELL + 5
        h = round(v * BAR_UNIT)
        dr.rectangle([x0, base - h, x0 + d.CELL - 11, base - 1], fill=style.colour(colour, rng))
        d.text(dr, (i * d.CELL + d.CELL // 2, base + d.CELL // 2), lab, 16, ink)
        placed.append((3 * d.GRID + i, f"label {lab}"))
        for row in range(3):  # row 2 holds units 0-2, row 1 units 2-4, row 0 units 4-6
            fill = min(max(v - 2 * (2 - row), 0.0), 2.0)
            if fill > 0:
                placed.append((row * d.GRID + i, f"bar {fill:g}"))
    style.noise(img, rng)
    cells = _cells(placed)
    fmt = (lambda v: f"{v:.1f}") if halves else (lambda v: str(int(v)))
    listing = ", ".join(f"bar {lab} is {fmt(v)}" for lab, v in zip(labels, vals, strict=True))
    if tallest:
        best = labels[max(range(n_bars), key=lambda i: vals[i])]
        choices = [f"bar {lab}" for lab in labels]
        return Problem(
            "bars", "Which bar is the tallest?", f"bar {best}", "text", img,
            f"Reading the chart: {listing}. The tallest is bar {best}.", choices=choices,
            task="figure question answering", skills=["chart reading", "comparison"], kind="tallest", cells=cells,
        )
    i = rng.randrange(n_bars)
    q = f"What is the value of bar {labels[i]}?"
    rationale = f"Reading the chart: {listing}. Bar {labels[i]} is {fmt(vals[i])}."
    if halves:
        return Problem("bars", q, f"{vals[i]:.1f}", "float", img, rationale, precision=1,
                       task="figure question answering", skills=["chart reading"], kind="value", cells=cells)
    return Problem("bars", q, str(int(vals[i])), "integer", img, rationale,
                   task="figure question answering", skills=["chart reading"], kind="value", cells=cells)


def digits(rng: random.Random, style: d.Style) -> Problem:
    """Two drawn digits side by side, each inside one visual token: their sum or difference."""
    a, b = rng.randint(0, 9), rng.randint(0, 9)
    img, dr = d.canvas(style, rng)
    size = rng.randint(24, 28) if not style.shifted else rng.choice([18, 20, 32])
    ink = style.ink() if rng.random() < 0.5 else style.colour(rng.choice(list(d.COLOURS)), rng)
    row = rng.randint(1, 2)
    for col, digit in ((1, a), (2, b)):
        centre = (col * d.CELL + d.CELL // 2 + rng.randint(-2, 2), row * d.CELL + d.CELL // 2 + rng.randint(-2, 2))
        d.text(dr, centre, str(digit), size, ink)
    style.noise(img, rng)
    cells = _cells([(row * d.GRID + 1, f"digit {a}"), (row * d.GRID + 2, f"digit {b}")])
    head = f"The digits are {a} and {b}."
    if rng.random() < 0.5:
        return Problem("digits", "What is the sum of the two digits?", str(a + b), "integer", img,
                       f"{head} {a} + {b} = {a + b}.", task="math word problem", skills=["arithmetic", "OCR"],
                       kind="sum", cells=cells)
    return Problem("digits", "What is the left digit minus the right digit?", str(a - b), "integer", img,
                   f"{head} {a} - {b} = {a - b}.", task="math word problem", skills=["arithmetic", "OCR"],
                   kind="difference", cells=cells)


def _spatial_scene(rng: random.Random, style: d.Style) -> tuple[Image.Image, list[tuple[str, str]], list[str]]:
    """1–3 shapes with distinct kinds and distinct colours, listed in reading order."""
    k = rng.randint(1, 3)
    kinds = rng.sample(list(d.SHAPES), k)
    cols = rng.sample(list(d.COLOURS), k)
    img, dr = d.canvas(style, rng)
    placed = []
    for (cx, cy), kind, col in zip(d.grid_cells(rng, k), kinds, cols, strict=True):
        d.shape(dr, kind, cx, cy, style.shape_radius(rng), style.colour(col, rng))
        placed.append((d.cell_index(cx, cy), f"{col} {kind}"))
    style.noise(img, rng)
    return img, list(zip(kinds, cols, strict=True)), _cells(placed)


def colour(rng: random.Random, style: d.Style) -> Problem:
    """What colour is the <shape>? Multiple choice over colour names (answered with the name)."""
    img, scene, cells = _spatial_scene(rng, style)
    kind, col = rng.choice(scene)
    choices = list(d.COLOURS)
    rng.shuffle(choices)
    desc = ", ".join(f"a {c} {k}" for k, c in scene)
    return Problem("colour", f"What colour is the {kind}?", col, "text", img,
                   f"I see {desc}. The {kind} is {col}.", choices=choices,
                   task="visual question answering", skills=["colour recognition"], kind=kind, cells=cells)


def shape(rng: random.Random, style: d.Style) -> Problem:
    """Held-out family: which shape has <colour>? Multiple choice over shape names."""
    img, scene, cells = _spatial_scene(rng, style)
    kind, col = rng.choice(scene)
    choices = list(d.SHAPES)
    rng.shuffle(choices)
    desc = ", ".join(f"a {c} {k}" for k, c in scene)
    return Problem("shape", f"Which shape is {col}?", kind, "text", img,
                   f"I see {desc}. The {col} shape is a {kind}.", choices=choices,
                   task="visual question answering", skills=["shape recognition"], kind=col, cells=cells)


FAMILIES = {"count": count, "bars": bars, "digits": digits, "colour": colour, "shape": shape}
TRAIN_FAMILIES = ("count", "bars", "digits", "colour")
HELD_OUT_FAMILIES = ("shape",)
