"""Official MEGA-Bench metric ids → implementations, with how each is called.

Why a table: the per-task ``metric_info`` names metrics by string; the official
``MetricType`` enum (``megabench/metrics/metric_type.py``, lmms-eval copy c21cca8)
is the list of valid names. Each entry says how the evaluator calls it (see
``evaluate.py``):

* ``value``: ``fn(parsed_field_value, gold_field_value)``;
* ``context``: ``fn(parsed_field_value, eval_context)`` (program judge, planning,
  point-in-box);
* ``whole``: ``fn(whole_parsed_response, eval_context)`` (constrained generation);
* ``judge``: the open-set LLM judge (``judge.py``).

``unsupported`` is upstream's name for "no metric": fields mapped to it (or to
nothing, like ``##`` metadata fields) are not scored. Any other unknown name is an
error reported in the results, never a silent zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from specs_eval.rules.megabench.metrics import (
    code,
    constrained,
    dicts,
    geometry,
    latex,
    numbers,
    planning,
    sets,
    strings,
    text,
)

CallKind = Literal["value", "context", "whole", "judge"]


@dataclass(frozen=True)
class MetricSpec:
    id: str
    fn: Callable[..., Any] | None
    call: CallKind
    family: str
    #: optional packages / resources the metric needs beyond the core install
    needs: tuple[str, ...] = ()


def _v(fn: Callable[..., Any], family: str, *needs: str) -> tuple[Callable[..., Any], CallKind, str, tuple[str, ...]]:
    return fn, "value", family, needs


_TABLE: dict[str, tuple[Callable[..., Any] | None, CallKind, str, tuple[str, ...]]] = {
    "exact_str_match": _v(strings.exact_str_match, "strings"),
    "simple_str_match": _v(strings.simple_str_match, "strings"),
    "code_result_exact_str_match": _v(strings.code_result_exact_str_match, "strings"),
    "exact_str_match_case_insensitive": _v(strings.exact_str_match_case_insensitive, "strings"),
    "normalized_similarity_damerau_levenshtein": _v(strings.normalized_similarity_damerau_levenshtein, "strings"),
    "near_str_match": _v(strings.near_str_match, "strings", "unidecode"),
    "multi_ref_phrase": _v(strings.multi_ref_phrase, "strings"),
    "positive_int_match": _v(strings.positive_int_match, "strings"),
    "number_rel_diff_ratio": _v(numbers.number_rel_diff_ratio, "numbers"),
    "general_single_numerical_match": _v(numbers.general_single_numerical_match, "numbers", "sympy+LaTeX parser"),
    "boxed_single_numerical_match": _v(numbers.boxed_single_numerical_match, "numbers", "sympy+LaTeX parser"),
    "normalized_rmse": _v(numbers.normalized_rmse, "numbers"),
    "angle_seq_float_rmse": _v(numbers.angle_seq_float_rmse, "numbers"),
    "set_equality": _v(sets.set_equality, "sets"),
    "set_equality_case_insensitive": _v(sets.set_equality_case_insensitive, "sets"),
    "str_set_equality_line_break": _v(sets.str_set_equality_line_break, "sets"),
    "str_set_equality_comma": _v(sets.str_set_equality_comma, "sets"),
    "jaccard_index": _v(sets.jaccard_index, "sets"),
    "jaccard_index_case_insensitive": _v(sets.jaccard_index_case_insensitive, "sets"),
    "set_precision": _v(sets.set_precision, "sets"),
    "sequence_equality": _v(sets.sequence_equality, "sets"),
    "sequence_equality_case_insensitive": _v(sets.sequence_equality_case_insensitive, "sets"),
    "sequence_accuracy_case_insensitive": _v(sets.sequence_accuracy_case_insensitive, "sets"),
    "longest_common_list_prefix_ratio": _v(sets.longest_common_list_prefix_ratio, "sets"),
    "chess_move_list_jaccard_index": _v(sets.chess_move_list_jaccard_index, "sets"),
    "dict_exact_str_match_agg_recall": _v(dicts.dict_exact_str_match_agg_recall, "dicts"),
    "dict_set_equality_agg_jaccard": _v(dicts.dict_set_equality_agg_jaccard, "dicts"),
    "dict_jaccard_agg_jaccard": _v(dicts.dict_jaccard_agg_jaccard, "dicts"),
    "dict_nbbox_iou_tuple_agg_jaccard": _v(dicts.dict_nbbox_iou_tuple_agg_jaccard, "dicts"),
    "dict_equality": _v(dicts.dict_equality, "dicts"),
    "dict_precision": _v(dicts.dict_precision, "dicts"),
    "nbbox_iou_tuple": _v(geometry.nbbox_iou_tuple, "geometry"),
    "nbbox_iou_single": _v(geometry.nbbox_iou_single, "geometry"),
    "nbbox_iou_sequence": _v(geometry.nbbox_iou_sequence, "geometry"),
    "xml_nbbox_iou_single": _v(geometry.xml_nbbox_iou_single, "geometry"),
    "xml_norm_point_in_bbox": (geometry.xml_norm_point_in_bbox, "context", "geometry", ()),
    "xml_norm_point_distance": _v(geometry.xml_norm_point_distance, "geometry"),
    "sequence_coords_similarity": _v(geometry.sequence_coords_similarity, "geometry"),
    "geo_proximity_location_dict": _v(geometry.geo_proximity_location_dict, "geometry",
                                      "geopy + an offline geocoder"),
    "bleu": _v(text.bleu, "text", "sacrebleu"),
    "gleu_cn": _v(text.gleu_cn, "text", "jieba"),
    "nli_entailment": _v(text.nli_entailment, "text", "a local NLI model"),
    "constrained_generation": (constrained.constrained_generation, "whole", "text",
                               ("nltk + punkt/wordnet data", "pronouncing")),
    "latex_expr_equality": _v(latex.latex_expr_equality, "latex", "sympy+LaTeX parser"),
    "text_with_latex_expr_equality": _v(latex.text_with_latex_expr_equality, "latex", "sympy+LaTeX parser"),
    "symbolic_planning_test": (planning.symbolic_planning_test, "context", "planning", ()),
    "program_judge": (code.program_judge, "context", "code", ()),
    "gpt_4o_as_judge": (None, "judge", "judge", ("a judge client",)),
    "ascii_art_gpt4o_judge": (None, "judge", "judge", ("a judge client", "a monospace TTF font")),
}

#: the official "no metric" name
UNSUPPORTED = "unsupported"
JUDGE_METRICS = frozenset(k for k, v in _TABLE.items() if v[1] == "judge")

METRICS: dict[str, MetricSpec] = {
    name: MetricSpec(name, fn, call, family, needs) for name, (fn, call, family, needs) in _TABLE.items()
}


class UnknownMetric(KeyError):
    """A metric id that is neither implemented nor upstream's ``unsupported``."""


def lookup(name: str | None) -> MetricSpec | None:
    """The spec of a metric id (case-insensitive, as upstream); ``None`` for no metric."""
    if name is None:
        return None
    key = str(name).lower()
    if key == UNSUPPORTED:
        return None
    try:
        return METRICS[key]
    except KeyError:
        raise UnknownMetric(name) from None


def eval_type(metric_info: dict[str, Any]) -> str:
    """``llm`` when a field is judged by the LLM (the open set), else ``rule`` (the core set)."""
    used = {str(m).lower() for m in (metric_info.get("field_score_function") or {}).values()}
    return "llm" if used & JUDGE_METRICS else "rule"
