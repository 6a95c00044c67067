"""MEGA-Bench scoring: response parsers, the rule-based metric zoo, aggregation, judge.

Why a package of its own: MEGA-Bench scores each task with its own ``metric_info``
(a parser, one metric per answer field, an aggregation). The official evaluator
(TIGER-AI-Lab/MEGA-Bench ``megabench/evaluation_processor.py``, vendored in
EvolvingLMMs-Lab/lmms-eval ``lmms_eval/tasks/megabench/``) is re-implemented here in
small typed modules so every rule can be tested on its own. Nothing here imports
torch; optional metric dependencies are imported lazily and a missing one makes the
field *unavailable* (counted and reported), never a silent zero.
"""
