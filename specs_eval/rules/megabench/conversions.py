"""Turning response and answer strings into sets, lists, dicts, boxes and points.

Re-implements ``metrics/scoring/common/conversions.py`` and
``metrics/parsing/common/utils.py:evaluate_as_string`` of the official MEGA-Bench
evaluator (lmms-eval copy, commits 4bb2f27 / 4b0640c). The quirks are kept on
purpose because they decide scores: ``str_to_list("'abc'")`` is ``['a', 'b', 'c']``
(a literal string is iterated), a literal ``None`` gives ``""``, a bare number
becomes a one-element list, and text that is not a literal is split on commas.

Where upstream lets an exception escape (e.g. ``len()`` of a number in
``str_to_bboxes``), so do these functions: the metric runner turns any exception
into a field score of 0, which is what the official ``MetricType.match`` does.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from numbers import Number
from typing import Any

from specs_eval.rules.megabench.jsonish import parse_json


def literal_eval(text: Any) -> Any:
    """``ast.literal_eval`` (raises on anything that is not a Python literal)."""
    return ast.literal_eval(text)


def evaluate_as_string(value: Any) -> Any:
    """Drop one layer of string quotes: ``"'A'"`` → ``"A"``; anything else unchanged."""
    try:
        evaluated = ast.literal_eval(value)
    except MemoryError:
        return ""
    except Exception:
        return value
    return evaluated if isinstance(evaluated, str) else value


def freeze_structure(obj: Any) -> Any:
    """Make nested dicts/lists hashable (dict → frozenset of pairs, list → tuple)."""
    if isinstance(obj, dict):
        return frozenset((k, freeze_structure(v)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return tuple(freeze_structure(item) for item in obj)
    if isinstance(obj, set):
        return frozenset(obj)
    return obj


def str_to_iterable(func: Callable[..., Any], iterable_str: Any) -> Any:
    """Parse a string form of an iterable with ``func`` (``list`` or ``set``), upstream's way."""
    if not isinstance(iterable_str, str):
        return func()
    s = iterable_str.strip(" ")
    if not s:
        return func()
    in_brackets = True
    if s[0] == "(":
        if not s.endswith(")"):
            return func()
    elif s[0] == "{":
        if not s.endswith("}"):
            return func()
    elif s[0] == "[":
        if not s.endswith("]"):
            return func()
    else:
        in_brackets = False
    try:
        value = ast.literal_eval(s)
        if value is None:
            return ""
        if isinstance(value, int | float):
            value = [value]
        return func(value)
    except (SyntaxError, ValueError):
        if in_brackets:
            s = s[1:-1]
        return func([item.strip() for item in s.split(",")])
    except TypeError:
        return func()


def str_to_set(iterable_str: Any) -> Any:
    return str_to_iterable(set, iterable_str)


def str_to_list(iterable_str: Any) -> Any:
    return str_to_iterable(list, iterable_str)


def cast_to_set(obj: Any) -> Any:
    """A set from a list/tuple/set (elements frozen) or from a string form."""
    obj = freeze_structure(obj)
    if isinstance(obj, frozenset | set | tuple):
        return set(obj)
    return str_to_set(obj)


def cast_to_dict(obj: Any) -> Any:
    """A dict from a dict or from JSON found in a string; otherwise the input as is."""
    if isinstance(obj, dict):
        return {key: cast_to_dict(val) for key, val in obj.items()}
    if isinstance(obj, str):
        attempt = parse_json(obj)
        return attempt if attempt else obj
    return obj


def str_to_bboxes(bbox_list: Any) -> list[Any]:
    """Boxes ``(x1, y1, x2, y2)`` from a string form of one box or a list of boxes."""
    if not isinstance(bbox_list, str):
        return []
    try:
        bboxes = ast.literal_eval(bbox_list)
    except (SyntaxError, ValueError):
        try:
            bboxes = json.loads(bbox_list)
        except ValueError:
            return []
    if len(bboxes) == 4 and isinstance(bboxes[0], Number):
        bboxes = [bboxes]
    if not isinstance(bboxes, tuple | list):
        return []
    out = []
    for bbox in bboxes:
        if not isinstance(bbox, tuple | list) or len(bbox) != 4:
            continue
        if any(not isinstance(c, float | int) for c in bbox):
            continue
        out.append(bbox)
    return out


def str_to_coords(coord_list: Any, dim: int = 2) -> list[Any]:
    """Points of dimension ``dim`` from a string form of a list of points."""
    if not isinstance(coord_list, str):
        return []
    try:
        coords = ast.literal_eval(coord_list)
    except SyntaxError:
        try:
            coords = json.loads(coord_list)
        except ValueError:
            return []
    out = []
    for coord in coords:
        if not isinstance(coord, tuple | list) or len(coord) != dim:
            continue
        if any(not isinstance(c, float | int) for c in coord):
            continue
        out.append(coord)
    return out


_POINT = re.compile(r"<point>(.*?)<\/point>")
_BOX = re.compile(r"<box>(.*?)<\/box>")


def parse_point_2d_from_xml(xml_string: Any) -> tuple[float, ...] | None:
    """``(x, y)`` from exactly one ``<point>x, y</point>``; ``None`` otherwise."""
    if not isinstance(xml_string, str):
        return None
    matches = _POINT.findall(xml_string)
    if len(matches) >= 2 or not matches:
        return None
    coords = matches[0].split(",")
    if len(coords) != 2:
        return None
    try:
        return tuple(float(c.strip()) for c in coords)
    except ValueError:
        return None


def parse_bboxes_from_xml(xml_string: Any) -> list[tuple[float, ...]]:
    """Every well-formed ``<box>x1, y1, x2, y2</box>`` in the text."""
    if not isinstance(xml_string, str):
        return []
    out = []
    for match in _BOX.findall(xml_string):
        coords = match.split(",")
        if len(coords) != 4:
            continue
        try:
            out.append(tuple(float(c.strip()) for c in coords))
        except ValueError:
            continue
    return out
