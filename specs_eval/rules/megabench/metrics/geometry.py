"""Boxes and points: normalised IoU variants, point-in-box, point distance, keypoints, geo.

Re-implements ``nbbox_iou.py``, ``xml_nbbox_iou.py``, ``xml_norm_point_in_bbox.py``,
``xml_norm_point_distance.py``, ``coordinate_sequence_match.py``, ``geo_proximity.py``
and ``common/metrics.py:calculate_iou`` of the official evaluator (lmms-eval copy,
commits 1741440 / 2bb5e98 / 4b0640c / 4bb2f27). Coordinates are normalised to [0, 1]
and boxes are ``(x1, y1, x2, y2)``. ``calculate_iou`` scores each *predicted* box by
its best IoU with any gold box; the tuple variants average over predicted boxes.

``geo_proximity_location_dict`` geocodes place names with Nominatim over the network
upstream; this toolkit never goes online, so the metric is *unavailable* unless a
geocoder is configured (``set_geocoder``). Distances then use geopy's geodesic.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Sequence
from numbers import Number
from typing import Any

import numpy as np

from specs_eval.rules.megabench.conversions import (
    parse_bboxes_from_xml,
    parse_point_2d_from_xml,
    str_to_bboxes,
    str_to_coords,
)
from specs_eval.rules.megabench.metrics.base import INSTALL_HINT, MetricUnavailable, require


def _box_area(b: Sequence[float]) -> float:
    return (b[2] - b[0]) * (b[3] - b[1])


def box_iou(b1: Sequence[float], b2: Sequence[float]) -> float:
    inter = max(0, min(b1[2], b2[2]) - max(b1[0], b2[0])) * max(0, min(b1[3], b2[3]) - max(b1[1], b2[1]))
    union = _box_area(b1) + _box_area(b2) - inter
    return inter / union if union > 0 else 0


def calculate_iou(predicted: Iterable[Sequence[float]], target: Iterable[Sequence[float]]) -> list[float]:
    target = list(target)
    return [max([0, *(box_iou(p, t) for t in target)]) for p in predicted]


def nbbox_iou_tuple(response: Any, targets: Any) -> float:
    if not isinstance(response, tuple | list):
        response = str_to_bboxes(response)
    if not isinstance(targets, tuple | list):
        targets = str_to_bboxes(targets)
    try:
        scores = calculate_iou(response, targets)
    except Exception:
        return 0
    return sum(scores) / len(scores) if scores else 0


def nbbox_iou_single(response: Any, targets: Any) -> float:
    targets = ast.literal_eval(targets)
    try:
        response = ast.literal_eval(response)
    except SyntaxError:
        return 0
    try:
        scores = calculate_iou([response], [targets])
    except Exception:
        return 0
    return sum(scores) / len(scores) if scores else 0


def nbbox_iou_sequence(response: Any, targets: Any) -> float:
    """Mean IoU of aligned boxes (tracking); 0 unless the counts agree."""
    if not isinstance(response, tuple | list):
        response = str_to_bboxes(response if isinstance(response, str) else str(response))
    if not isinstance(targets, tuple | list):
        targets = str_to_bboxes(targets)
    if len(targets) != len(response):
        return 0
    scores = [calculate_iou([r], [t]) for r, t in zip(response, targets, strict=True)]
    with np.errstate(all="ignore"):
        return float(np.mean(scores)) if scores else float("nan")


def xml_nbbox_iou_single(response: Any, targets: Any) -> float:
    if not isinstance(response, tuple | list):
        response = parse_bboxes_from_xml(response)
    if not isinstance(targets, tuple | list):
        targets = parse_bboxes_from_xml(targets)
    if len(response) == 0:
        return 0
    if isinstance(response[0], Number) and len(response) == 4:
        response = [response]
    scores = calculate_iou(response, targets)
    return sum(scores) / len(scores) if scores else 0


def xml_norm_point_in_bbox(response: Any, eval_context: dict[str, Any]) -> tuple[int, dict[str, bool]]:
    """1 when the ``<point>`` lies in any of ``eval_context["bounding_boxes"]``; info says which."""
    matched = {bbox: False for bbox in eval_context["bounding_boxes"]}
    boxes = [str_to_bboxes(b)[0] for b in eval_context["bounding_boxes"]]
    if not boxes:
        raise ValueError("eval_context has no bounding boxes")
    if not isinstance(response, tuple | list):
        response = parse_point_2d_from_xml(response)
        if not response:
            return 0, matched
    elif len(response) != 2:
        return 0, matched
    x, y = response
    for min_x, min_y, max_x, max_y in boxes:
        if min_x <= x <= max_x and min_y <= y <= max_y:
            matched[str((min_x, min_y, max_x, max_y))] = True
            return 1, matched
    return 0, matched


def _parse_norm_point(point: Any) -> tuple[float, ...]:
    if not isinstance(point, tuple | list):
        point = parse_point_2d_from_xml(point)
        if not point:
            raise ValueError("point could not be parsed")
    elif len(point) != 2:
        raise ValueError("point is not 2D")
    if not all(0 <= c <= 1 for c in point):
        raise ValueError("point is not normalized")
    return tuple(point)


def xml_norm_point_distance(response: Any, targets: Any) -> float:
    """max(0, 1 − Euclidean distance) between two normalised ``<point>``s."""
    try:
        p, t = _parse_norm_point(response), _parse_norm_point(targets)
    except ValueError:
        return 0
    return max(0, 1 - math.sqrt(sum((a - b) ** 2 for a, b in zip(p, t, strict=True))))


def coords_similarity(pred: Any, gold: Any, k: float = 10) -> float:
    """Mean of exp(−k · d / √2) over aligned keypoints; 0 on a shape mismatch."""
    try:
        p = np.array(pred)
    except ValueError:
        return 0
    g = np.array(gold)
    if p.shape != g.shape:
        return 0
    d = np.linalg.norm(p - g, axis=1) / np.sqrt(2)
    return float(np.mean(np.exp(-k * d)))


def sequence_coords_similarity(response: Any, targets: Any) -> float:
    if not isinstance(response, tuple | list):
        response = str_to_coords(response, dim=2)
    if not isinstance(targets, tuple | list):
        targets = str_to_coords(targets, dim=2)
    return coords_similarity(response, targets)


#: place → (latitude, longitude) or None; set by ``set_geocoder``
_GEOCODER: Callable[[dict[str, str]], tuple[float, float] | None] | None = None


def set_geocoder(geocoder: Callable[[dict[str, str]], tuple[float, float] | None] | None) -> None:
    """Install an offline geocoder (``{"country","state","city"}`` → ``(lat, lon)``) or remove it."""
    global _GEOCODER
    _GEOCODER = geocoder


def _location_to_coords(geocode: Callable[[dict[str, str]], Any], country: str, province_or_state: str,
                        municipality: str) -> tuple[float, float] | None:
    if country == "" or province_or_state == "" or municipality == "":
        return None
    found = geocode({"country": country, "state": province_or_state, "city": municipality})
    if found is None:
        found = geocode({"country": country, "city": municipality})
    return found


def geo_proximity_location_dict(response: Any, targets: Any, k: float = 100) -> float:
    """exp(−distance_km / 100) between the guessed and the true place."""
    if _GEOCODER is None:
        raise MetricUnavailable(
            "unavailable: geo_proximity_location_dict geocodes place names over the network (Nominatim) "
            "upstream; configure an offline geocoder with specs_eval.rules.megabench.metrics.geometry"
            f".set_geocoder ({INSTALL_HINT} for geopy)"
        )
    geodesic = require("geopy.distance", "geopy").distance
    try:
        guess = _location_to_coords(_GEOCODER, **response)
    except Exception:
        return 0
    if guess is None:
        return 0
    actual = _location_to_coords(_GEOCODER, **targets)
    if actual is None:
        return 0
    return math.exp(-geodesic(guess, actual).km / k)
