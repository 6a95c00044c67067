"""IoU reward for detection and grounding answers, following the V-Triune/Orsta authors' verifier.

Source followed (read, not copied): MiniMax-AI/One-RL-to-See-Them-All @ 39bcf0d,
``reward_server/verify.py`` (``DetectionVerifier.verify_accuracy``, ``pack_for_iou_score``,
``calculate_iou_score``) and ``reward_server/utils/det_helper.py`` (``extract_bbox``,
``compute_iou``, ``normalize_bbox_by_real_size``, the two greedy matchers). What is the same:

* the answer is the first ``<answer>…</answer>`` block, lower-cased, for prediction and gold;
  the box list is read as the authors read it (``[[``/``]]`` collapsed, a cut-off list closed
  after its last complete ``},``, single quotes to double, backslashes dropped, JSON), keeping
  dicts with a 4-number ``bbox_2d`` (x1 <= x2, y1 <= y2) and a string ``label``, duplicates
  (same coordinates) dropped;
* with ``det_verifier_normalized``, predicted boxes are brought from the pixels of the image
  the model saw (the processor's resized first image) to the gold's 0-1000 scale with
  ``int(x / W * 1000)``;
* ``size_penalty = 0.6 ** |n_pred - n_gold|``; at each IoU threshold in {0.5, 0.55, …, 0.95,
  0.99} and for each matcher, ``weighted = mean_iou * (1 - c) + completeness * c`` with
  ``c = det_reward_ratio.iou_completeness``, ``completeness = 1 - (miss + false_alarm) / 2``;
  the score at a threshold mode (``average`` of the 11, ``dynamic`` by training progress:
  0.85 up to 10 %, 0.95 up to 25 %, then 0.99, or a fixed threshold) is combined over the
  matchers by their ``det_reward_ratio`` weights, times the size penalty.

What differs, on purpose: (1) the authors' mAP terms (a vendored pycocotools) are not
implemented; a row that gives them a non-zero weight is refused (``UnsupportedRow``), and
the published Orsta rows give them weight 0. (2) Under the SPECS prompt variant a model may
put its box list inside ``\\boxed{}`` within ``<answer>``; that wrapper is removed before
parsing (the authors' prompt asks for the bare list). (3) The threshold mode is an argument,
not a server-wide environment variable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from specs_eval.rules.extract import last_boxed
from specs_eval.rules.vision_grid import QWEN25_VL_7B, GridSpec, grid_size

IOU_THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99)
SIZE_PENALTY = 0.6
NORMALIZE_TO = 1000.0
IOU_TERMS = ("iou_max_iou_first", "iou_max_label_first")
MAP_TERMS = ("map", "map50", "map75")
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


class UnsupportedRow(ValueError):
    """A detection row this verifier cannot score as its authors would (e.g. mAP weights)."""


@dataclass(frozen=True)
class DetectionSettings:
    """The per-row verifier parameters (``reward_model.verifier_parm`` of an Orsta row)."""

    normalized: bool = True
    ratios: dict[str, float] = field(default_factory=lambda: {"iou_max_label_first": 1.0, "iou_max_iou_first": 0.0,
                                                               "iou_completeness": 0.3})

    @classmethod
    def from_verifier_parm(cls, parm: dict[str, Any] | None) -> DetectionSettings:
        parm = parm or {}
        raw = parm.get("det_reward_ratio") or {}
        ratios = {}
        for key in (*IOU_TERMS, "iou_completeness", *MAP_TERMS):
            v = raw.get(key)
            v = 0.0 if v is None else float(v)
            ratios[key] = v if 0.0 <= v <= 1.0 else 0.0  # the authors zero out-of-range ratios
        if any(ratios[k] > 0 for k in MAP_TERMS):
            raise UnsupportedRow(f"detection row weighs mAP terms {[k for k in MAP_TERMS if ratios[k] > 0]}, which "
                                 "this verifier does not compute")
        if not any(ratios[k] > 0 for k in IOU_TERMS):
            raise UnsupportedRow("detection row gives both IoU matchers weight 0 (its reward would always be 0)")
        return cls(normalized=bool(parm.get("det_verifier_normalized")), ratios=ratios)


def answer_content(text: str) -> str:
    """The first ``<answer>…</answer>`` block, stripped and lower-cased; a ``\\boxed{}`` wrapper removed."""
    m = _ANSWER.search(text or "")
    content = m.group(1).strip() if m else ""
    if "\\boxed" in content:
        inner = last_boxed(content)
        if inner is not None:
            content = inner.strip()
    return content.lower()


def extract_boxes(text: str) -> list[dict[str, Any]] | None:
    """The box list of an answer, read as the authors' ``extract_bbox`` reads it; ``None`` if none."""
    if not text or not text.strip():
        return None
    s = text.replace("[[", "[").replace("]]", "]")
    if not s.endswith("]"):
        s = s.rsplit("},", 1)[0] + "}]"
    s = s.replace("'", '"').replace("\\", "")
    try:
        items = json.loads(s)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    out, seen = [], set()
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("bbox_2d"), list) and len(item["bbox_2d"]) == 4
                and isinstance(item.get("label"), str)):
            continue
        box = item["bbox_2d"]
        if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in box):
            continue
        if box[0] > box[2] or box[1] > box[3] or tuple(box) in seen:
            continue
        seen.add(tuple(box))
        out.append({"bbox_2d": list(box), "label": item["label"]})
    return out or None


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    if x2 <= x1 or y2 <= y1:
        return 0.0
    inter = (x2 - x1) * (y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter) / union


def match_max_iou_first(pred: list[dict[str, Any]], gold: list[dict[str, Any]], thr: float) -> list[float]:
    """Repeatedly take the largest IoU among unmatched pairs until it falls below ``thr``;
    a pair with different labels still matches but scores 0. Returns the matched IoUs."""
    ious = [[iou(p["bbox_2d"], g["bbox_2d"]) for g in gold] for p in pred]
    free_p, free_g, out = list(range(len(pred))), list(range(len(gold))), []
    while free_p and free_g:
        best, bp, bg = -1.0, -1, -1
        for i in free_p:
            for j in free_g:
                if ious[i][j] > best:
                    best, bp, bg = ious[i][j], i, j
        if best < thr:
            break
        out.append(best if pred[bp]["label"].lower() == gold[bg]["label"].lower() else 0.0)
        free_p.remove(bp)
        free_g.remove(bg)
    return out


def match_max_label_first(pred: list[dict[str, Any]], gold: list[dict[str, Any]], thr: float) -> list[float]:
    """Per gold box in order: the unmatched prediction with the same label and the largest IoU,
    matched when that IoU reaches ``thr`` (ties: the first). Returns the matched IoUs."""
    used: set[int] = set()
    out = []
    for g in gold:
        label = g["label"].lower()
        cands = [(iou(p["bbox_2d"], g["bbox_2d"]), i) for i, p in enumerate(pred)
                 if i not in used and p["label"].lower() == label]
        if not cands:
            continue
        best = max(c[0] for c in cands)
        idx = next(i for v, i in cands if v == best)
        if best >= thr:
            out.append(best)
            used.add(idx)
    return out


_MATCHERS = {"iou_max_iou_first": match_max_iou_first, "iou_max_label_first": match_max_label_first}


def weighted_iou(pred: list[dict[str, Any]], gold: list[dict[str, Any]], matcher: str, thr: float,
                 completeness_weight: float) -> float:
    matched = _MATCHERS[matcher](pred, gold, thr)
    mean_iou = sum(matched) / len(gold) if matched else 0.0
    miss = (len(gold) - len(matched)) / len(gold)
    false_alarm = 0.0 if not pred else (len(pred) - len(matched)) / len(pred)
    completeness = 1.0 - (miss + false_alarm) / 2.0
    return mean_iou * (1.0 - completeness_weight) + completeness * completeness_weight


def threshold_for(mode: str | float, progress: float | None) -> float | None:
    """The IoU threshold of a mode: a number, ``dynamic`` by training progress, ``average`` → None."""
    if mode == "average":
        return None
    if mode == "dynamic":
        p = 1.0 if progress is None else progress
        return 0.85 if p <= 0.1 else 0.95 if p <= 0.25 else 0.99
    thr = float(mode)
    if thr not in IOU_THRESHOLDS:
        raise ValueError(f"IoU threshold {thr} is not one of {IOU_THRESHOLDS}")
    return thr


def processed_frame(image_size: Sequence[int], spec: GridSpec = QWEN25_VL_7B) -> tuple[int, int]:
    """(width, height) of the image a Qwen-VL processor with ``spec`` feeds the model."""
    w, h = int(image_size[0]), int(image_size[1])
    ph, pw = grid_size(h, w, spec)
    return pw, ph


def normalize_boxes(boxes: list[dict[str, Any]], width: float, height: float) -> list[dict[str, Any]]:
    """Pixel boxes of a ``width`` x ``height`` input on the 0-1000 scale (``int`` truncation, as the authors)."""
    out = []
    for b in boxes:
        x1, y1, x2, y2 = b["bbox_2d"]
        out.append({**b, "bbox_2d": [int(x1 / width * NORMALIZE_TO), int(y1 / height * NORMALIZE_TO),
                                     int(x2 / width * NORMALIZE_TO), int(y2 / height * NORMALIZE_TO)]})
    return out


@dataclass
class DetectionVerdict:
    score: float
    parsed: bool
    n_pred: int
    n_gold: int
    threshold: float | None
    details: dict[str, Any]


def detection_score(response: str, gold: str, settings: DetectionSettings, *,
                    frame: tuple[float, float] | None = None, threshold: str | float = "average",
                    progress: float | None = None) -> DetectionVerdict:
    """The authors' detection accuracy in [0, 1] for one response.

    ``gold`` is the row's ``ground_truth`` (``<answer>\\n[…]\\n</answer>``) or the bare list;
    ``frame`` is (width, height) of the image the model saw, needed when ``settings.normalized``.
    """
    gold_text = answer_content(gold) if "<answer>" in gold else gold.strip().lower()
    gold_boxes = extract_boxes(gold_text)
    if gold_boxes is None:
        raise UnsupportedRow(f"no box list in the gold answer {gold[:80]!r}")
    pred = extract_boxes(answer_content(response))
    thr = threshold_for(threshold, progress)
    if pred is None:
        return DetectionVerdict(0.0, False, 0, len(gold_boxes), thr, {"reason": "no box list in <answer>"})
    if settings.normalized:
        if frame is None:
            raise UnsupportedRow("normalized detection row without the processed image size")
        pred = normalize_boxes(pred, frame[0], frame[1])
    penalty = SIZE_PENALTY ** abs(len(pred) - len(gold_boxes))
    c = settings.ratios.get("iou_completeness", 0.0)
    total_w = sum(settings.ratios.get(k, 0.0) for k in (*IOU_TERMS, *MAP_TERMS))
    per_term = {}
    for term in IOU_TERMS:
        if thr is None:
            v = sum(weighted_iou(pred, gold_boxes, term, t, c) for t in IOU_THRESHOLDS) / len(IOU_THRESHOLDS)
        else:
            v = weighted_iou(pred, gold_boxes, term, thr, c)
        per_term[term] = v
    score = sum(per_term[t] * penalty * settings.ratios.get(t, 0.0) for t in IOU_TERMS) / total_w if total_w else 0.0
    return DetectionVerdict(score, True, len(pred), len(gold_boxes), thr,
                            {"size_penalty": penalty, **{f"weighted_{k}": v for k, v in per_term.items()}})
