"""Fixture MEGA-Bench tasks in the real HF schema, with known-answer responses.

Rows are built exactly as the hub stores them: ``answer``, ``metric_info``,
``eval_context`` and the three media columns are the ``str()`` of Python objects.
Every implemented metric appears in at least one core task. ``CASES`` holds
(row id, response, expected query score) triples; each expectation is derived by
hand from the official rule, as the comment beside it says.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from PIL import Image

PLANNING_DOMAIN = """(define (domain toy)
  (:requirements :strips)
  (:predicates (at ?x) (holding ?x))
  (:action pick
    :parameters (?x)
    :precondition (and (at ?x))
    :effect (and (holding ?x) (not (at ?x))))
  (:action drop
    :parameters (?x)
    :precondition (and (holding ?x))
    :effect (and (at ?x) (not (holding ?x)))))"""
PLANNING_TASK = """(define (problem p) (:domain toy)
  (:objects a)
  (:init (at a))
  (:goal (and (holding a))))"""
JUDGE_PROMPT = ("Rate the answer to the question.\nQuestion: {question}\nReference: {reference}\n"
                "Answer: {answer}\nReply with **Score explanation**: ... and **Score**: N (0-10).")

PLACES = {("France", "Paris"): (48.8566, 2.3522), ("France", "Lyon"): (45.7640, 4.8357)}


def stub_geocoder(query: dict[str, str]) -> tuple[float, float] | None:
    """Offline stand-in for Nominatim: two French cities."""
    return PLACES.get((query.get("country", ""), query.get("city", "")))


def stub_nli(premise: str, hypothesis: str) -> str:
    """Offline stand-in for microsoft/deberta-large-mnli: entailment iff the hypothesis is in the premise."""
    return "ENTAILMENT" if hypothesis.lower() in premise.lower() else "NEUTRAL"


def _mi(fields: dict[str, str], parser: str, function: str = "mean",
        weights: dict[str, float] | None = None, **extra: Any) -> dict[str, Any]:
    return {"field_score_function": fields,
            "aggregation": {"function": function, "field_weights": weights or dict.fromkeys(fields, 1)},
            "response_parse_function": parser, **extra}


# task name -> (metric_info, [ (answer dict, eval_context, query_text, query_media) ... ], extras)
TASKS: dict[str, dict[str, Any]] = {
    "fx_exact_letter": {
        "mi": _mi({"answer": "exact_str_match"}, "answer_string"),
        "description": "Look at the picture <image> and answer.",
        "global_media": ["./data/fx_exact_letter/global.png"],
        "example_text": "Example Question: which letter?\nExample Response:\nAnswer: A",
        "queries": [({"answer": "B"}, {}, "Question: which one? <image>", ["./data/fx_exact_letter/q0.png"]),
                    ({"answer": "Paris"}, {}, "Question: capital of France?", [])],
    },
    "fx_simple_str": {"mi": _mi({"answer": "simple_str_match"}, "answer_string"),
                      "queries": [({"answer": "New-York City."}, {}, "Which city?", [])]},
    "fx_case_insensitive": {"mi": _mi({"answer": "exact_str_match_case_insensitive"}, "answer_string"),
                            "queries": [({"answer": "hello"}, {}, "Greet.", [])]},
    "fx_near_str": {"mi": _mi({"answer": "near_str_match"}, "answer_string"),
                    "queries": [({"answer": "cafe de flore"}, {}, "Which café?", [])]},
    "fx_dl_similarity": {"mi": _mi({"answer": "normalized_similarity_damerau_levenshtein"}, "answer_string"),
                         "queries": [({"answer": "abcd"}, {}, "Spell it.", [])]},
    "fx_multi_ref": {"mi": _mi({"answer": "multi_ref_phrase"}, "answer_string"),
                     "queries": [({"answer": "['colour', 'color']"}, {}, "Spelling?", [])]},
    "fx_positive_int": {
        "mi": _mi({"count_a": "positive_int_match", "count_b": "positive_int_match"}, "json"),
        "queries": [({"count_a": "3", "count_b": "0"}, {}, "Count.", [])],
    },
    "fx_code_result": {"mi": _mi({"answer": "code_result_exact_str_match"}, "answer_string"),
                       "queries": [({"answer": "```\n42\n```"}, {}, "Run the code.", [])]},
    "fx_rel_diff": {"mi": _mi({"answer": "number_rel_diff_ratio"}, "answer_string"),
                    "queries": [({"answer": "10"}, {}, "How many?", [])]},
    "fx_general_num": {"mi": _mi({"answer": "general_single_numerical_match"}, "answer_string"),
                       "queries": [({"answer": "0.5"}, {}, "Half?", []), ({"answer": "3.14"}, {}, "Pi?", [])]},
    "fx_boxed_num": {"mi": _mi({"answer": "boxed_single_numerical_match"}, "answer_string"),
                     "queries": [({"answer": "0.75"}, {}, "Three quarters?", [])]},
    "fx_rmse": {"mi": _mi({"value": "normalized_rmse", "angles": "angle_seq_float_rmse"}, "json"),
                "queries": [({"value": "0.1", "angles": "[10, 20]"}, {}, "Measure.", [])]},
    "fx_sets": {
        "mi": _mi({"f_set_eq": "set_equality", "f_set_ci": "set_equality_case_insensitive",
                   "f_line": "str_set_equality_line_break", "f_comma": "str_set_equality_comma",
                   "f_jac": "jaccard_index", "f_jac_ci": "jaccard_index_case_insensitive",
                   "f_prec": "set_precision"}, "json"),
        "queries": [({"f_set_eq": "['a', 'b']", "f_set_ci": "['A', 'b']", "f_line": "x\ny", "f_comma": "x, y",
                      "f_jac": "['a', 'b', 'c']", "f_jac_ci": "['A', 'B']", "f_prec": "['a', 'b']"}, {},
                     "Sets.", [])],
    },
    "fx_sequences": {
        "mi": _mi({"s_eq": "sequence_equality", "s_eq_ci": "sequence_equality_case_insensitive",
                   "s_acc": "sequence_accuracy_case_insensitive", "s_prefix": "longest_common_list_prefix_ratio",
                   "s_chess": "chess_move_list_jaccard_index"}, "json", function="min"),
        "queries": [({"s_eq": "[1, 2, 3]", "s_eq_ci": "['A', 'b']", "s_acc": "['a', 'b', 'c', 'd']",
                      "s_prefix": "[1, 2, 3, 4]", "s_chess": "['e4', 'Nf3#']"}, {}, "Sequences.", [])],
    },
    "fx_dicts": {
        "mi": _mi({"d_recall": "dict_exact_str_match_agg_recall", "d_seteq": "dict_set_equality_agg_jaccard",
                   "d_jac": "dict_jaccard_agg_jaccard", "d_eq": "dict_equality", "d_prec": "dict_precision",
                   "d_box": "dict_nbbox_iou_tuple_agg_jaccard"}, "json"),
        "queries": [({"d_recall": "{'a': '1', 'b': '2'}", "d_seteq": "{'a': ['x', 'y'], 'b': ['z']}",
                      "d_jac": "{'a': ['x', 'y']}", "d_eq": "{'a': '1'}", "d_prec": "{'a': '1', 'b': '2'}",
                      "d_box": "{'cat': [[0, 0, 1, 1]]}"}, {}, "Dicts.", [])],
    },
    "fx_boxes": {
        "mi": _mi({"b_tuple": "nbbox_iou_tuple", "b_single": "nbbox_iou_single", "b_seq": "nbbox_iou_sequence",
                   "b_xml": "xml_nbbox_iou_single", "p_dist": "xml_norm_point_distance",
                   "kp": "sequence_coords_similarity"}, "json"),
        "queries": [({"b_tuple": "[[0, 0, 0.5, 0.5]]", "b_single": "[0, 0, 1, 1]",
                      "b_seq": "[[0, 0, 1, 1], [0, 0, 0.5, 0.5]]", "b_xml": "<box>0, 0, 1, 1</box>",
                      "p_dist": "<point>0.5, 0.5</point>", "kp": "[[0.1, 0.1], [0.5, 0.5]]"}, {}, "Boxes.", [])],
    },
    "fx_point_in_bbox": {
        "mi": _mi({"answer": "xml_norm_point_in_bbox"}, "answer_string"),
        "queries": [({"answer": "<point>0.5, 0.5</point>"},
                     {"bounding_boxes": ["[0.4, 0.4, 0.6, 0.6]", "[0, 0, 0.1, 0.1]"]}, "Point at it.", [])],
    },
    "fx_geo": {
        "mi": _mi({"location": "geo_proximity_location_dict"}, "json"),
        "queries": [({"location": {"country": "France", "province_or_state": "Ile-de-France",
                                   "municipality": "Paris"}, "##source": "street view"}, {}, "Where is this?", [])],
    },
    "fx_bleu": {"mi": _mi({"answer": "bleu"}, "answer_string"),
                "queries": [({"answer": "the cat sat on the mat"}, {}, "Translate.", [])]},
    "fx_gleu": {"mi": _mi({"answer": "gleu_cn"}, "answer_string"),
                "queries": [({"answer": "我爱北京天安门"}, {}, "翻译。", [])]},
    "fx_nli": {"mi": _mi({"answer": "nli_entailment"}, "answer_string"),
               "queries": [({"answer": "a dog runs in the park"}, {}, "Describe.", [])]},
    "fx_constrained": {
        "mi": _mi({"answer": "constrained_generation"}, "answer_string"),
        "queries": [({"answer": "Sun rises\nUnder clouds\nNight falls"}, {"length": "<20", "acrostic": "sun"},
                     "Write an acrostic.", [])],
    },
    "fx_latex": {"mi": _mi({"answer": "latex_expr_equality"}, "answer_string"),
                 "queries": [({"answer": "\\frac{x}{2}"}, {}, "Simplify.", [])]},
    "fx_text_latex": {"mi": _mi({"answer": "text_with_latex_expr_equality"}, "answer_string"),
                      "queries": [({"answer": "The area is $x^2$"}, {}, "Area?", [])]},
    "fx_planning": {
        "mi": _mi({"plan": "symbolic_planning_test"}, "answer_string"),
        "queries": [({"plan": "(pick a)"}, {"domain_pddl": PLANNING_DOMAIN, "task_pddl": PLANNING_TASK},
                     "Plan it.", [])],
    },
    "fx_program": {
        "mi": _mi({"code": "program_judge"}, "answer_string"),
        "queries": [({"code": "a = int(input())\nprint(a * 2)"},
                     {"test_case": [{"input": ["3"], "expected": "6"}, {"input": ["5"], "expected": "10"}]},
                     "Double the number.", [])],
    },
    "fx_weighted": {
        "mi": _mi({"a": "exact_str_match", "b": "exact_str_match"}, "json", weights={"a": 2, "b": 1}),
        "queries": [({"a": "x", "b": "y", "##source": "meta, not scored"}, {}, "Two fields.", [])],
    },
    "fx_video": {
        "mi": _mi({"answer": "exact_str_match"}, "answer_string"),
        "description": "Watch the clip.",
        "queries": [({"answer": "C"}, {}, "What happens? <video>", ["./data/fx_video/clip.mp4"])],
    },
    # the open (LLM-judged) set
    "fx_open_judge": {
        "mi": _mi({"answer": "gpt_4o_as_judge"}, "dummy", gpt4o_eval_configs={
            "judge_model_type": "no image", "eval_criteria_prompt": JUDGE_PROMPT, "reference_type": "answer",
            "template_mapping": {"question": "example_question", "reference": "answers.answer",
                                 "answer": "model_output"}}),
        "queries": [({"answer": "A haiku about autumn leaves."}, {}, "Write a haiku about autumn.", []),
                    ({"answer": "A limerick about a cat."}, {}, "Write a limerick about a cat.", [])],
    },
}

TASK_META: dict[str, dict[str, Any]] = {
    name: {"skills": ["Object Recognition and Classification"] + (
        ["Mathematical and Logical Reasoning"] if "num" in name or "rmse" in name else []),
           "input_format": "Photographs", "output_format": "structured_output" if "json" in str(t["mi"])
           else "exact_text", "num_input": "video" if name == "fx_video" else
           ("2-3 images" if name == "fx_exact_letter" else "1-image"),
           "app": "Mathematics" if "num" in name or "latex" in name else "Perception"}
    for name, t in TASKS.items()
}

OPEN_TASKS = {"fx_open_judge"}
CORE_TASKS = [n for n in TASKS if n not in OPEN_TASKS]


def rows() -> list[dict[str, Any]]:
    """All fixture rows, in task order, with global ids."""
    out = []
    gid = 0
    for name, t in TASKS.items():
        for answer, ctx, qtext, qmedia in t["queries"]:
            out.append({
                "id": gid,
                "task_name": name,
                "task_description": t.get("description", f"Task {name}: answer the question."),
                "example_text": t.get("example_text", "Example Question: ...\nExample Response:\nAnswer: ..."),
                "query_text": qtext,
                "global_media": str(t.get("global_media", [])),
                "example_media": str([]),
                "query_media": str(qmedia),
                "answer": str(answer),
                "metric_info": str(t["mi"]),
                "eval_context": str(ctx),
            })
            gid += 1
    return out


def row_of(task: str, k: int = 0) -> dict[str, Any]:
    return [r for r in rows() if r["task_name"] == task][k]


def write_dataset(folder: Path) -> Path:
    """Write rows (JSONL), media and ``all_task_meta.json``; returns the JSONL path."""
    folder.mkdir(parents=True, exist_ok=True)
    for rel, color in (("data/fx_exact_letter/global.png", "red"), ("data/fx_exact_letter/q0.png", "blue")):
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 6), color).save(p)
    clip = folder / "data/fx_video/clip.mp4"  # a folder of frames stands for a decoded video
    clip.mkdir(parents=True, exist_ok=True)
    for i in range(10):
        Image.new("RGB", (4, 4), (i * 20, 0, 0)).save(clip / f"{i:03d}.png")
    path = folder / "megabench_fixture.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows()), encoding="utf-8")
    (folder / "all_task_meta.json").write_text(json.dumps(TASK_META, indent=1), encoding="utf-8")
    return path


# (task, query index, response, expected query score, how the expectation follows from the rule)
CASES: list[tuple[str, int, str, float, str]] = [
    ("fx_exact_letter", 0, "Thinking...\nAnswer: (B) cat", 1.0, "single-letter gold: '(B) cat' reduces to 'B'"),
    ("fx_exact_letter", 0, "Answer: C", 0.0, "'C' != 'B'"),
    ("fx_exact_letter", 0, "**Answer:** B", 0.0,
     "upstream bold regex captures '' between '**Answer:' and '**' (official quirk)"),
    ("fx_exact_letter", 0, "**Answer: B**", 1.0, "bold form with the answer inside the asterisks"),
    ("fx_exact_letter", 1, "answer: x\nAnswer: Paris", 1.0, "the last Answer: wins"),
    ("fx_simple_str", 0, "Answer: new york city", 1.0, "spaces, hyphens, periods removed and lower-cased"),
    ("fx_case_insensitive", 0, "Answer: HELLO", 1.0, "lower-cased both sides"),
    ("fx_near_str", 0, "Answer: The Café de Flore", 1.0, "article dropped, accent transliterated: identical"),
    ("fx_near_str", 0, "Answer: cafe de flor", 1 - 1 / 13, "one deletion in 13 chars: 12/13 >= 0.9 cutoff"),
    ("fx_near_str", 0, "Answer: cafe", 0.0, "similarity 4/13 below the 0.9 cutoff"),
    ("fx_dl_similarity", 0, "Answer: abdc", 0.75, "one transposition over 4 chars"),
    ("fx_multi_ref", 0, "Answer: Color", 1.0, "simple-matches the second reference"),
    ("fx_positive_int", 0, '{"count_a": "3", "count_b": "0"}', 1.0,
     "count_b: gold and response <= 0 gives -1 (invalid, dropped); count_a matches"),
    ("fx_positive_int", 0, '{"count_a": "2", "count_b": "0"}', 0.0, "count_a wrong; count_b invalid"),
    ("fx_positive_int", 0, '{"count_a": 3, "count_b": 0}', 0.0,
     "JSON ints: literal_eval of a non-string raises ValueError -> 0 (official quirk); count_b 0 too"),
    ("fx_code_result", 0, "Answer: 42", 1.0, "gold unwrapped from its code block"),
    ("fx_rel_diff", 0, "Answer: 8", 0.8, "1 - |8-10|/10"),
    ("fx_general_num", 0, "Answer: \\frac{1}{2}", 1.0, "LaTeX 1/2 = 0.5"),
    ("fx_general_num", 1, "Answer: x = 3.15", 1.0, "after '=': |3.15-3.14| <= 1% of 3.14"),
    ("fx_general_num", 1, "Answer: 3.2", 0.0, "|3.2-3.14| > 0.0314"),
    ("fx_boxed_num", 0, "Answer: \\boxed{\\frac{3}{4}}", 1.0, "boxed content 3/4 = 0.75"),
    ("fx_rmse", 0, "{'value': '0.05', 'angles': '[12, 20]'}", 0.7,
     "value: 1 - 0.05/0.1 = 0.5; angles: mean |err| 1 -> 1 - 1/10 = 0.9; mean 0.7"),
    ("fx_rmse", 0, '{"value": "0.05", "angles": "[12, 20]"}', 0.25,
     "JSON parser turns the nested JSON string '[12, 20]' into a list; str_to_list only takes strings, "
     "so angles scores 0 (official quirk); mean(0.5, 0)"),
    ("fx_sets", 0, json.dumps({"f_set_eq": ["b", "a"], "f_set_ci": ["a", "B"], "f_line": "Y\nx",
                               "f_comma": "Y, X", "f_jac": ["a", "b", "d"], "f_jac_ci": ["a"],
                               "f_prec": ["a", "z"]}), 5.5 / 7,
     "1 + 1 + 1 + 1 + jaccard 2/4 + 1/2 + precision 1/2, mean of 7"),
    ("fx_sequences", 0, str({"s_eq": [1, 2, 3], "s_eq_ci": ["a", "B"], "s_acc": "['a', 'B', 'x', 'd']",
                             "s_prefix": "[1, 2, 5, 4]", "s_chess": "['e4!', 'Nf3']"}), 0.5,
     "a Python-literal response keeps string values: min(1, 1, 3/4, prefix 2/4, chess 1)"),
    ("fx_sequences", 0, json.dumps({"s_eq": [1, 2, 3], "s_eq_ci": ["a", "B"], "s_acc": "['a', 'B', 'x', 'd']",
                                    "s_prefix": "[1, 2, 5, 4]", "s_chess": "['e4!', 'Nf3']"}), 0.0,
     "in JSON the nested string '[1, 2, 5, 4]' is decoded to a list and str_to_list(list) is [] (official "
     "quirk): prefix 0, so the min is 0"),
    ("fx_dicts", 0, json.dumps({"d_recall": {"a": "1", "b": "3"}, "d_seteq": {"a": ["y", "x"], "c": ["z"]},
                                "d_jac": {"a": ["x"]}, "d_eq": {"a": "1"}, "d_prec": {"a": "1", "c": "2"},
                                "d_box": {"cat": [[0, 0, 0.5, 1]]}}), (0.5 + 1 / 3 + 0.5 + 1 + 0.5 + 0.5) / 6,
     "recall 1/2; set-eq over keys {a,b,c} 1/3; jaccard 1/2; equal 1; precision 1/2; IoU 0.5"),
    ("fx_boxes", 0, str({"b_tuple": [[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], "b_single": "[0, 0, 0.5, 1]",
                         "b_seq": [[0, 0, 1, 1], [0, 0, 0.25, 0.5]], "b_xml": "<box>0, 0, 0.5, 1</box>",
                         "p_dist": "<point>0.5, 0.8</point>", "kp": "[[0.1, 0.1], [0.5, 0.6]]"}),
     (0.5 + 0.5 + 0.75 + 0.5 + 0.7 + (1 + math.exp(-10 * 0.1 / math.sqrt(2))) / 2) / 6,
     "tuple mean(1, 0); single 0.5; sequence mean(1, 0.5); xml 0.5; 1 - 0.3; keypoints mean(1, e^-0.707)"),
    ("fx_point_in_bbox", 0, "Answer: <point>0.45, 0.55</point>", 1.0, "inside the first box"),
    ("fx_point_in_bbox", 0, "Answer: <point>0.9, 0.9</point>", 0.0, "in no box"),
    ("fx_geo", 0, json.dumps({"location": {"country": "France", "province_or_state": "Rhone",
                                           "municipality": "Lyon"}}), None,
     "exp(-d/100) with d the Paris-Lyon geodesic (~392 km): computed in the test"),
    ("fx_bleu", 0, "Answer: the cat sat on a mat", (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25,
     "gold as hypothesis: n-gram precisions 5/6, 3/5, 2/4, 1/3, no brevity penalty"),
    ("fx_gleu", 0, "Answer: 我爱北京天安门", 1.0, "identical token sequences"),
    ("fx_nli", 0, "Answer: a dog runs", 1.0, "stand-in NLI: hypothesis contained in the premise"),
    ("fx_constrained", 0, "Answer: Moon\nUnder clouds\nNight falls", 0.0, "acrostic 'sun' fails on 'Moon'"),
    ("fx_latex", 0, "Answer: x/2", 1.0, "sympy: x/2 equals \\frac{x}{2}"),
    ("fx_text_latex", 0, "Answer: the area is $x \\cdot x$", 1.0, "text simple-matches, x*x equals x^2"),
    ("fx_planning", 0, "Answer: (drop a)", 0.0, "drop's precondition (holding a) fails"),
    ("fx_program", 0, "Answer: ```python\nprint(6)\n```", 0.5, "passes the first test case only"),
    ("fx_weighted", 0, '{"a": "x", "b": "z"}', 2 / 3, "weights a=2, b=1: (2*1 + 1*0)/3; ##source skipped"),
    ("fx_video", 0, "Answer: C", 1.0, "exact"),
]


def oracle_response(row: dict[str, Any]) -> str:
    """What the official GROUND_TRUTH_ORACLE model answers (``models/ground_truth_oracle.py``)."""
    import ast

    answer = ast.literal_eval(row["answer"])
    metrics = ast.literal_eval(row["metric_info"])["field_score_function"]
    for field_name in list(answer):
        if metrics.get(field_name) == "multi_ref_phrase":
            answer[field_name] = str(ast.literal_eval(answer[field_name].replace("，", ","))[0])
    value: Any = next(iter(answer.values())) if len(answer) == 1 else answer
    return f"I have access to the ground truth answer, so I'll just return that.\n\nAnswer:{value}"
