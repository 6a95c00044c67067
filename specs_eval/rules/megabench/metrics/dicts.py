"""Dict metrics: the agg-recall / agg-jaccard families, equality, precision.

Re-implements ``dict_exact_match_agg_recall.py``, ``dict_set_equality_agg_jaccard.py``,
``dict_jaccard_agg_jaccard.py``, ``dict_nbbox_iou_tuple_agg_jaccard.py`` and
``dict_equality.py`` of the official evaluator (lmms-eval copy, commits ece828e /
2bb5e98 / aff0acd / 4bb2f27). ``agg_recall`` averages a per-key score over the gold
keys; ``agg_jaccard`` averages over the union of gold and predicted keys (a key
missing on one side is compared with an empty list). A response that is not a
dict (after JSON extraction) scores 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from specs_eval.rules.megabench.conversions import cast_to_dict
from specs_eval.rules.megabench.metrics.geometry import nbbox_iou_tuple
from specs_eval.rules.megabench.metrics.sets import jaccard_index, set_equality
from specs_eval.rules.megabench.metrics.strings import exact_str_match


def dict_exact_str_match_agg_recall(response: Any, targets: Any) -> float:
    res, tgt = cast_to_dict(response), cast_to_dict(targets)
    if not isinstance(res, dict):
        return 0
    total, n = 0.0, 0
    for key, answer in tgt.items():
        total += exact_str_match(res.get(key), answer)
        n += 1
    return total / n


def _agg_jaccard(per_key: Callable[[Any, Any], float], response: Any, targets: Any) -> float:
    res, tgt = cast_to_dict(response), cast_to_dict(targets)
    if not isinstance(res, dict):
        return 0
    keys = set(res) | set(tgt)
    total, n = 0.0, 0
    for key in keys:
        total += per_key(res.get(key, []), tgt.get(key, []))
        n += 1
    return total / n


def dict_set_equality_agg_jaccard(response: Any, targets: Any) -> float:
    return _agg_jaccard(set_equality, response, targets)


def dict_jaccard_agg_jaccard(response: Any, targets: Any) -> float:
    return _agg_jaccard(jaccard_index, response, targets)


def dict_nbbox_iou_tuple_agg_jaccard(response: Any, targets: Any) -> float:
    return _agg_jaccard(nbbox_iou_tuple, response, targets)


def dict_equality(response: Any, targets: Any) -> int:
    res, tgt = cast_to_dict(response), cast_to_dict(targets)
    if not isinstance(res, dict):
        return 0
    return 1 if res == tgt else 0


def dict_precision(response: Any, targets: Any) -> float:
    res, tgt = cast_to_dict(response), cast_to_dict(targets)
    if not isinstance(res, dict) or len(res) == 0:
        return 0
    matched = sum(1 for key, val in res.items() if key in tgt and exact_str_match(val, tgt[key]))
    return matched / len(res)
