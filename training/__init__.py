"""specs-train: the training side of specs-eval.

Why a package apart from ``specs_eval``: training needs torch, transformers and trl,
while the harness must import and score without them. Here live the bootstrap of the
tiny base VLM (``bootstrap``, its training targets ``targets``, resumable state ``resume``
and in-process toy-world evaluation ``quickeval``), the SPECS pipeline (``pipeline``:
zero-RL GRPO → self-distilled preference pairs → SFT/DPO cold start → GRPO, each stage a
resumable directory with a manifest), its presets and accelerate profiles, pre-flight
checks, and the verl/EasyR1 export; the ``specs-train`` command line is ``training.cli``.
"""
