"""Orsta-Data-47k and ViRL39K read from their published layouts (``tests/hub_layouts.py`` fixtures)
through the path users take (``--data FOLDER``, the hub cache), checked row by row against each
fixture's hand-written gold answers and images; their scoring rules; the authors' IoU verifier on
hand-computed values; and every broken variant (a clear error naming the file, or a counted skip
naming the row).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

from specs_eval.benchmarks import get_benchmark
from specs_eval.benchmarks.orsta import Orsta
from specs_eval.benchmarks.rlpool import RLPoolBenchmark
from specs_eval.benchmarks.virl39k import ViRL39K
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.records import Response
from specs_eval.rules import detection as det
from specs_eval.rules import rlpool as rules
from tests import hub_layouts as hl

# the fixture's kinds in the rules' vocabulary
KIND = {"numeric": "math", "expression": "math", "mc": "mc", "text": "text", "detection": "detection",
        "grounding": "grounding"}


class _AllTrain:
    heldout_fraction = 0.0


class OrstaAll(_AllTrain, Orsta):
    pass


class ViRLAll(_AllTrain, ViRL39K):
    pass


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, hl.HubFixture]:
    base = tmp_path_factory.mktemp("rlpool")
    return {"orsta": hl.make_orsta(base / "orsta"), "virl39k": hl.make_virl39k(base / "virl")}


def _load_all(bench: RLPoolBenchmark, root: Path, splits: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    rows = {}
    for split in splits:
        for r in bench.load(split, data=root).rows:
            rows[bench.row_id(r)] = r
    return rows


@pytest.mark.parametrize("name", ["orsta", "virl39k"])
def test_every_row_recovers_its_gold_kind_and_images(fixtures, name):
    fx = fixtures[name]
    bench = OrstaAll() if name == "orsta" else ViRLAll()
    rows = _load_all(bench, fx.root, ("train", "test") if name == "orsta" else ("train",))
    assert set(rows) == set(fx.expected), "every fixture row is loaded, under its own id"
    for key, exp in fx.expected.items():
        row = rows[key]
        assert bench.answer_kind(row) == KIND[exp.kind], key
        if exp.kind in ("detection", "grounding"):
            assert det.extract_boxes(bench.target(row).lower()) == [
                {"bbox_2d": b["bbox_2d"], "label": b["label"].lower()} for b in exp.gold], key
        else:
            assert bench.target(row) == exp.gold, key
        prompt = bench.build_prompt(row, "official")
        assert [im.size for im in prompt.images] == list(exp.image_sizes), key
        # each image sits where its <image> token was, and no literal token is left in the text
        assert sum(p["type"] == "image" for p in prompt.parts) == exp.n_images
        assert "<image>" not in "".join(p.get("text", "") for p in prompt.parts)
        if exp.options:
            assert rules.parse_options(bench.question(row)) == dict(zip("ABCDEFGHIJK", exp.options, strict=False))


def test_reasoning_prompts_ask_for_a_boxed_answer_detection_prompts_keep_their_own(fixtures):
    fx = fixtures["orsta"]
    bench = OrstaAll()
    rows = _load_all(bench, fx.root, ("train",))
    math = rows["train/train_math_mmmath_3.parquet#0"]
    text = bench.build_prompt(math, "official").text
    assert text.startswith("<image>As shown in the figure") and text.endswith("within \\boxed{}.")
    detection = bench.build_prompt(rows["train/train_detection_v3det_2.parquet#0"], "official").text
    assert "\\boxed" not in detection and detection.rstrip().endswith("</answer>")
    # two images, two tokens, in order (the `_x2` puzzle rows)
    puzzle = bench.build_prompt(rows["train/train_puzzle_puzzlevqa_2_x2.parquet#0"], "specs")
    assert [p["type"] for p in puzzle.parts][:3] == ["image", "image", "text"]


def test_heldout_is_a_deterministic_disjoint_slice_and_duplicates_stay_together(fixtures):
    class Half(Orsta):
        heldout_fraction = 0.5

    fx = fixtures["orsta"]
    train = Half().load("train", data=fx.root)
    held = Half().load("heldout", data=fx.root)
    ids_train = {Half().row_id(r) for r in train.rows}
    ids_held = {Half().row_id(r) for r in held.rows}
    all_train = {k for k, e in fx.expected.items() if e.split == "train"}
    assert ids_train and ids_held, "a 50 % slice of 9 rows has both sides"
    assert ids_train.isdisjoint(ids_held) and ids_train | ids_held == all_train
    assert {Half().row_id(r) for r in Half().load("heldout", data=fx.root).rows} == ids_held
    dup = {"train/train_puzzle_puzzlevqa_2_x2.parquet#0", "train/train_puzzle_puzzlevqa_2_x2.parquet#1"}
    assert dup <= ids_train or dup <= ids_held
    assert held.report["kept"] == len(ids_held) and train.report["heldout_fraction"] == 0.5
    # the default slice is small and never overlaps train either
    assert {Orsta().row_id(r) for r in Orsta().load("heldout", data=fx.root).rows}.isdisjoint(
        {Orsta().row_id(r) for r in Orsta().load("train", data=fx.root).rows})


def test_the_hub_cache_layout_loads_by_id(tmp_path, monkeypatch):
    cache = hl.make_hf_cache(tmp_path, "TIGER-Lab/ViRL39K", hl.make_virl39k)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache.root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(ViRLAll, "revision", cache.meta["revision"])
    loaded = ViRLAll().load("train")
    assert {r["qid"] for r in loaded.rows} == set(cache.expected)
    assert loaded.info.source == "hf" and loaded.info.hf_id == "TIGER-Lab/ViRL39K"
    assert loaded.info.revision == cache.meta["revision"]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    with pytest.raises(BenchmarkError, match=r"TIGER-Lab/ViRL39K .*--data FOLDER"):
        ViRLAll().load("train")


def _score(bench: RLPoolBenchmark, row: dict[str, Any], text: str):
    return bench.score([row], [Response(id="x", text=text)])[0]


def test_scores_follow_each_kind_and_free_text_is_never_scored(fixtures):
    virl = ViRLAll()
    rows = _load_all(virl, fixtures["virl39k"].root, ("train",))
    mc = rows[hl._virl_qid(1)]  # gold B = "the square"
    for text, ok in [("<think>…</think><answer>\\boxed{B}</answer>", True), ("\\boxed{(B)}", True),
                     ("\\boxed{the square}", True), ("\\boxed{A}", False), ("The answer is B", False)]:
        assert _score(virl, mc, text).correct is ok, text
    assert _score(virl, mc, "\\boxed{B}").method == "mc"
    angle = rows[hl._virl_qid(6)]  # 35^\circ
    assert _score(virl, angle, "so \\boxed{35}").correct and not _score(virl, angle, "\\boxed{36}").correct
    assert not _score(virl, angle, "35").correct, "the authors' rule needs \\boxed{}"
    text_row = rows[hl._virl_qid(3)]  # Tuesday
    for text in ("\\boxed{Tuesday}", "\\boxed{Monday}"):
        v = _score(virl, text_row, text)
        assert v.details["not_scored"] and v.method == "not_scored" and v.score == 0.0
    assert _score(virl, mc, "").parse_status == "empty"


def test_detection_rows_score_by_iou(fixtures):
    orsta = OrstaAll()
    rows = _load_all(orsta, fixtures["orsta"].root, ("train",))
    kite = rows["train/train_detection_v3det_2.parquet#0"]  # gold [100, 200, 400, 650] on the 0-1000 scale
    # the model answers in pixels of the processed image (Qwen2.5-VL-7B bounds); map the gold back to them
    w, h = det.processed_frame(kite["image_sizes"][0])
    px = [round(c * s / 1000 + 0.001, 4) for c, s in zip([100, 200, 400, 650], [w, h, w, h], strict=True)]
    exact = _score(orsta, kite, f"<think>a kite</think>\n<answer>\n[{{'bbox_2d': {px}, 'label': 'red kite'}}]\n</answer>")
    assert exact.method == "iou" and exact.score == pytest.approx(1.0) and exact.details["frame"] == (w, h)
    wrong = _score(orsta, kite, "<answer>\n[{'bbox_2d': [0, 0, 1, 1], 'label': 'red kite'}]\n</answer>")
    assert wrong.score == 0.0 and wrong.parse_status == "ok"
    assert _score(orsta, kite, "no boxes").parse_status == "failed"


# ------------------------------------------------------------------ the IoU verifier, by hand

SETTINGS = det.DetectionSettings(normalized=False, ratios={"iou_max_label_first": 1.0, "iou_max_iou_first": 0.0,
                                                           "iou_completeness": 0.3})
GOLD = "<answer>\n[{'bbox_2d': [0, 0, 100, 100], 'label': 'car'}]\n</answer>"


def _det(pred: str, **kw: Any) -> float:
    return det.detection_score(f"<answer>\n{pred}\n</answer>", GOLD, SETTINGS, **kw).score


def test_iou_verifier_hand_checked_values():
    assert det.iou([0, 0, 100, 100], [0, 0, 100, 50]) == 0.5
    assert det.iou([0, 0, 10, 10], [10, 0, 20, 10]) == 0.0
    perfect = "[{'bbox_2d': [0, 0, 100, 100], 'label': 'car'}]"
    assert _det(perfect) == pytest.approx(1.0)
    half = "[{'bbox_2d': [0, 0, 100, 50], 'label': 'car'}]"
    # IoU 0.5 matches only at the 0.5 threshold: 0.7 * 0.5 + 0.3 * 1 = 0.65 there, 0 at the other ten
    assert _det(half) == pytest.approx(0.65 / 11)
    assert _det(half, threshold=0.5) == pytest.approx(0.65)
    assert _det(half, threshold="dynamic", progress=0.05) == 0.0  # 0.85 in the first 10 % of training
    # a second, spurious box: size penalty 0.6; at 0.5 false alarm 1/2 → completeness 0.75
    two = "[{'bbox_2d': [0, 0, 100, 50], 'label': 'car'}, {'bbox_2d': [500, 500, 600, 600], 'label': 'car'}]"
    assert _det(two, threshold=0.5) == pytest.approx(0.6 * (0.7 * 0.5 + 0.3 * 0.75))
    # wrong label: label-first finds no candidate (completeness 0); iou-first matches with IoU 0
    wrong_label = "[{'bbox_2d': [0, 0, 100, 100], 'label': 'truck'}]"
    assert _det(wrong_label, threshold=0.5) == 0.0
    iou_first = det.DetectionSettings(normalized=False, ratios={"iou_max_iou_first": 1.0, "iou_completeness": 0.3})
    v = det.detection_score(f"<answer>{wrong_label}</answer>", GOLD, iou_first, threshold=0.5)
    assert v.score == pytest.approx(0.3)  # matched pair: mean IoU 0 but miss 0, false alarm 0
    # a cut-off list is closed after its last complete box; SPECS's \boxed{} wrapper is accepted
    assert _det("[{'bbox_2d': [0, 0, 100, 100], 'label': 'car'}, {'bbox_2d': [1, 2") == pytest.approx(1.0)
    assert det.detection_score(f"<answer>\\boxed{{{perfect}}}</answer>", GOLD, SETTINGS).score == pytest.approx(1.0)


def test_iou_verifier_normalises_pixel_boxes_and_refuses_map_weights():
    settings = det.DetectionSettings(normalized=True, ratios=SETTINGS.ratios)
    # a 560 x 280 input: pixel box [0, 0, 56, 28] is [0, 0, 100, 100] on the 0-1000 scale
    v = det.detection_score("<answer>[{'bbox_2d': [0, 0, 56, 28], 'label': 'car'}]</answer>", GOLD, settings,
                            frame=(560, 280))
    assert v.score == pytest.approx(1.0)
    assert det.processed_frame((799, 533)) == (812, 532)  # Qwen2.5-VL-7B's resize of the authors' example
    with pytest.raises(det.UnsupportedRow, match="mAP"):
        det.DetectionSettings.from_verifier_parm({"det_reward_ratio": {"iou_max_label_first": 1.0, "map": 0.5}})


@pytest.mark.parametrize("name,kind", [(n, k) for n in ("orsta", "virl39k") for k in hl.BROKEN_KINDS[n]])
def test_broken_snapshots_fail_naming_the_file_or_skip_naming_the_row(tmp_path, name, kind):
    fx = hl.make_broken(tmp_path, name, kind)
    bench = OrstaAll() if name == "orsta" else ViRLAll()
    assert fx.broken is not None
    if fx.broken.row is None:  # the whole file: an error that names it
        with pytest.raises(BenchmarkError) as e:
            bench.load("train", data=fx.root)
        assert Path(fx.broken.file).name in str(e.value)
        return
    loaded = bench.load("train", data=fx.root)
    ids = {bench.row_id(r) for r in loaded.rows}
    assert fx.broken.row not in ids, "the broken row is never scored"
    assert sum(loaded.report["skipped"].values()) == 1
    (reason, examples), = loaded.report["skip_examples"].items()
    assert examples[0].startswith(fx.broken.row)
    assert reason == {"no_answer": "no_answer", "empty_answer": "no_answer", "bad_image": "bad_image",
                      "image_count_mismatch": "image_count_mismatch", "missing_member": "missing_image"}[kind]
    assert len(ids) == len([k for k, e in fx.expected.items() if e.split == "train"]) - 1


def test_registered_and_listed():
    assert isinstance(get_benchmark("orsta"), Orsta) and isinstance(get_benchmark("virl39k"), ViRL39K)
    assert get_benchmark("virl39k").split_roles() == {"id": ["heldout"], "ood": []}
