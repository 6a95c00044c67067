"""The toy world: determinism, split separation, answer verifiability, answer-type coverage."""

from __future__ import annotations

from collections import Counter

import pytest

from specs_eval.benchmarks.toy import score_toy
from specs_eval.benchmarks.toyworld import world
from specs_eval.rules.formats import FORMATS, TRAINED_FORMAT


def test_same_seed_same_items_and_different_seed_differs():
    a = [world.record_hash(r) for r in world.iter_split("id", 40, seed=3)]
    b = [world.record_hash(r) for r in world.iter_split("id", 40, seed=3)]
    c = [world.record_hash(r) for r in world.iter_split("id", 40, seed=4)]
    assert a == b
    assert len(set(a) & set(c)) < 4  # different seed: (almost) entirely different items


def test_item_depends_only_on_seed_split_index():
    # generating item 17 directly equals the 17th of a sequential pass (no shared RNG state)
    seq = list(world.iter_split("ood_visual", 20))
    assert world.record_hash(world.make_item("ood_visual", 17)) == world.record_hash(seq[17])


def test_splits_are_disjoint():
    hashes = {s: {world.record_hash(r) for r in world.iter_split(s, 300)} for s in world.SPLITS if s != "bootstrap"}
    names = list(hashes)
    for i, s in enumerate(names):
        for t in names[i + 1 :]:
            assert not hashes[s] & hashes[t], f"{s} and {t} share items"


def test_split_definitions_shift_along_their_axis():
    train = world.generate_split("train", 300)
    ood_task = world.generate_split("ood_task", 100)
    ood_fmt = world.generate_split("ood_format", 150)
    ood_vis = world.generate_split("ood_visual", 50)
    train_families = {r["metadata"]["family"] for r in train}
    assert {r["metadata"]["family"] for r in ood_task}.isdisjoint(train_families)
    assert {r["format"] for r in train} == {TRAINED_FORMAT}
    assert TRAINED_FORMAT not in {r["format"] for r in ood_fmt}
    assert len({r["format"] for r in ood_fmt}) == 3
    assert all(r["metadata"]["shifted"] for r in ood_vis)
    assert not any(r["metadata"]["shifted"] for r in train)


def test_answer_types_of_real_benchmarks_are_covered():
    rows = world.generate_split("id", 400)
    kinds = Counter((r["question_type"], r["answer_type"]) for r in rows)
    assert kinds[("multi_choice", "text")] > 0
    assert kinds[("free_form", "integer")] > 0
    assert kinds[("free_form", "float")] > 0
    for r in rows:
        if r["answer_type"] == "float":
            assert r["precision"] == 1 and len(r["answer"].split(".")[1]) == 1
        if r["choices"]:
            assert r["answer"] in r["choices"]
            assert r["query"].count("\n(") == len(r["choices"])


@pytest.mark.parametrize("split", ["id", "ood_visual", "ood_task", "ood_format"])
def test_answers_are_verifiable(split):
    """Rendering the gold answer in the requested format scores correct; a wrong answer does not."""
    for r in world.iter_split(split, 60):
        fmt = FORMATS[r["format"]]
        good = fmt.render(r["rationale"], r["answer_token"])
        assert fmt.check(good), good
        s = score_toy(r, good)
        assert s.correct and s.parse_status == "ok", (r["pid"], good, s)
        wrong = _wrong(r)
        bad = fmt.render("I am not sure.", wrong)
        assert not score_toy(r, bad).correct, (r["pid"], bad)


def _wrong(r):
    if r["choices"]:
        letters = world.LETTERS[: len(r["choices"])]
        return next(x for x in letters if x != r["answer_token"])
    if r["answer_type"] == "float":
        return f"{float(r['answer']) + 0.5:.1f}"
    return str(int(r["answer"]) + 1)


def test_images_are_small_rgb_pil():
    r = world.make_item("id", 0)
    img = r["decoded_image"]
    assert img.mode == "RGB" and img.size == (112, 112)


def test_image_blind_baselines_follow_their_definitions():
    from specs_eval.benchmarks.toyworld.baselines import (
        fit_prior,
        gold,
        prior_accuracy,
        template,
        uniform_accuracy,
    )

    train = world.generate_split("train", 600)
    rows = world.generate_split("id", 120)
    prior = fit_prior(train)
    # the prior answer of a template is the most frequent training answer of that template
    key = template(train[0])
    same = Counter(gold(r) for r in train if template(r) == key)
    assert prior[key] == same.most_common(1)[0][0]
    # answering every row with its own gold answer through the prior scores 1, uniform is 1/options
    assert prior_accuracy({template(r): gold(r) for r in rows[:1]}, rows[:1]) == 1.0
    mc = [r for r in rows if r["question_type"] == "multi_choice"][:5]
    assert uniform_accuracy(mc) == pytest.approx(sum(1 / len(r["choices"]) for r in mc) / len(mc))
    # a held-out family has no template in the prior: multiple choice falls back to the uniform guess
    held = world.generate_split("ood_task", 40)
    assert prior_accuracy(prior, held) == pytest.approx(uniform_accuracy(held))
    assert 0.0 <= prior_accuracy(prior, rows) <= 1.0


def test_toyworld_baselines_cli_and_missing_out():
    from .conftest import run_cli

    r = run_cli("toyworld", "--baselines", "-s", "id", "-s", "ood_format", "-n", "30")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["split", "n"] and [ln.split()[0] for ln in lines[1:]] == ["id", "ood_format"]
    r = run_cli("toyworld")
    assert r.returncode == 2 and "--out is required" in r.stderr


def test_format_shift_asks_for_held_out_tag_pairs_that_specs_answers_do_not_satisfy():
    from specs_eval.rules.formats import TAG_PAIRS

    rows = world.generate_split("ood_format", 60)
    assert {r["format"] for r in rows} == set(TAG_PAIRS)
    for r in rows:
        think, answer = TAG_PAIRS[r["format"]]
        assert f"<{think}>" in r["format_instruction"] and f"<{answer}>" in r["format_instruction"]
        sticky = FORMATS[TRAINED_FORMAT].render(r["rationale"], r["answer"])
        assert not FORMATS[r["format"]].check(sticky)  # answering in SPECS tags is not following the asked format
        assert score_toy(r, sticky).correct  # ... but is still scored on its answer


def test_cells_label_exactly_the_visual_tokens_that_hold_something():
    """A cell is labelled non-empty iff its 28-px square has ink (plain style, no noise)."""
    from specs_eval.benchmarks.toyworld import draw as d
    from specs_eval.benchmarks.toyworld.families import CELL_LABELS

    for r in world.iter_split("id", 60):
        cells = r["metadata"]["cells"]
        assert len(cells) == d.GRID**2 and set(cells) <= set(CELL_LABELS)
        img = r["decoded_image"]
        bg = img.getpixel((0, 0)) if cells[0] == "empty" else None
        for i, label in enumerate(cells):
            x0, y0 = (i % d.GRID) * d.CELL, (i // d.GRID) * d.CELL
            box = img.crop((x0 + 1, y0 + 1, x0 + d.CELL - 1, y0 + d.CELL - 1))
            colours = {c for _, c in box.getcolors(maxcolors=4096)}
            inked = any(max(abs(a - b) for a, b in zip(c, bg or (255, 255, 255), strict=True)) > 60 for c in colours)
            if r["metadata"]["family"] == "bars" and i // d.GRID == 3:
                continue  # the axis line runs along the top of the label row
            assert inked == (label != "empty"), (r["pid"], i, label)


def test_answers_are_spread_so_the_image_blind_prior_is_weak():
    from specs_eval.benchmarks.toyworld.baselines import baselines

    b = baselines(("id",), n=200, train_n=2000)["id"]
    assert b["prior"] <= 0.3
    assert all(f["prior"] <= 0.4 for f in b["by_family"].values()), b["by_family"]
