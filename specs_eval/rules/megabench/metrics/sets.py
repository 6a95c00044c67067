"""Set and sequence metrics: equality variants, Jaccard, precision, sequences, prefixes, chess.

Re-implements ``set_equality.py``, ``jaccard.py``, ``set_precision.py``,
``sequence_equality.py``, ``longest_common_list_prefix_ratio.py``, ``chess_jaccard.py``
and ``common/metrics.py`` of the official evaluator (lmms-eval copy, commits
4b0640c / 65ef07d / aff0acd / 2bb5e98 / 48abd2d / 50ed3ce). Inputs are parsed with
``conversions.cast_to_set`` / ``str_to_list``. Jaccard of two empty sets is 1, as
upstream (``set_relevance_score`` returns 1 for a zero denominator).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from numbers import Number
from typing import Any

from specs_eval.rules.megabench.conversions import cast_to_set, str_to_list, str_to_set


def set_relevance_score(denominator: Callable[[set[Any], set[Any]], int], predicted: Iterable[Any],
                        target: Iterable[Any]) -> float:
    pred, tget = set(predicted), set(target)
    d = denominator(pred, tget)
    if not d:
        return 1
    return len(pred & tget) / d


def jaccard(predicted: Iterable[Any], target: Iterable[Any]) -> float:
    return set_relevance_score(lambda p, t: len(p | t), predicted, target)


def precision(predicted: Iterable[Any], target: Iterable[Any]) -> float:
    return set_relevance_score(lambda p, t: len(p), predicted, target)


def set_equality(response: Any, targets: Any) -> int:
    return 1 if cast_to_set(response) == cast_to_set(targets) else 0


def set_equality_case_insensitive(response: Any, targets: Any) -> int:
    try:
        res = {text.upper() for text in cast_to_set(response)}
        tgt = {text.upper() for text in cast_to_set(targets)}
    except AttributeError:
        return 0
    return 1 if res == tgt else 0


def _lower_items(items: Iterable[Any]) -> set[Any]:
    return {item.lower() if isinstance(item, str) else item for item in items}


def str_set_equality_line_break(response: Any, targets: Any) -> int:
    if "\\n" in targets:
        targets = targets.replace("\\n", "\n")
    if "\\n" in response:
        response = response.replace("\\n", "\n")
    return 1 if _lower_items(response.split("\n")) == _lower_items(targets.split("\n")) else 0


def str_set_equality_comma(response: Any, targets: Any) -> int:
    return 1 if _lower_items(str_to_set(response)) == _lower_items(str_to_set(targets)) else 0


def jaccard_index(response: Any, targets: Any) -> float:
    if response is None:
        return 0
    return jaccard(cast_to_set(response), cast_to_set(targets))


def _squash(s: str) -> str:
    return s.lower().replace(" ", "").replace("-", "").replace("\n", "").replace("\t", "").replace("_", "").replace(".", "")


def jaccard_index_case_insensitive(response: Any, targets: Any) -> float:
    if response is None:
        return 0
    res, tgt = cast_to_set(response), cast_to_set(targets)
    first = next(iter(tgt))
    if isinstance(first, str):
        new_res = {item.lower() if isinstance(item, str) else str(item).lower() for item in res}
        new_tgt = {item.lower() for item in tgt}
    elif isinstance(first, tuple):
        try:
            new_res = {tuple(_squash(item) for item in r) for r in res}
        except Exception:
            return 0
        new_tgt = {tuple(_squash(item) for item in t) for t in tgt}
    else:
        return 0
    return jaccard(new_res, new_tgt)


def set_precision(response: Any, targets: Any) -> float:
    if response is None:
        return 0
    return precision(cast_to_set(response), cast_to_set(targets))


def sequence_equality(response: Any, targets: Any) -> int:
    if not isinstance(response, str):
        response = str(response)
    return 1 if str_to_list(response) == str_to_list(targets) else 0


def sequence_equality_case_insensitive(response: Any, targets: Any) -> int:
    if not isinstance(response, str):
        response = str(response)
    res = [item.lower() if isinstance(item, str) else str(item) for item in str_to_list(response)]
    tgt = [item.lower() for item in str_to_list(targets)]
    return 1 if res == tgt else 0


def sequence_accuracy_case_insensitive(response: Any, targets: Any) -> float:
    res, tgt = str_to_list(response), str_to_list(targets)
    if len(tgt) != len(res):
        return 0
    correct = 0
    for r, t in zip(res, tgt, strict=False):
        if isinstance(t, str):
            if r.lower() == t.lower():
                correct += 1
        elif isinstance(t, Number) and isinstance(r, Number) and r == t:
            correct += 1
    return correct / len(tgt)


def longest_common_prefix(list1: list[Any], list2: list[Any]) -> list[Any]:
    first_diff = next((i for i, (a, b) in enumerate(zip(list1, list2, strict=False)) if a != b),
                      min(len(list1), len(list2)))
    return list1[:first_diff]


def longest_common_list_prefix_ratio(response: Any, targets: Any) -> float:
    res, tgt = str_to_list(response), str_to_list(targets)
    return len(longest_common_prefix(res, tgt)) / len(tgt)


def chess_transform(move_sequence: Any) -> set[str]:
    return {move.removesuffix("!").removesuffix("#") for move in str_to_set(move_sequence)}


def chess_move_list_jaccard_index(response: Any, targets: Any) -> float:
    if response is None:
        return 0
    return jaccard(chess_transform(response), chess_transform(targets))
