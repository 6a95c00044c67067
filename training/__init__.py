"""specs-train: the training side of specs-eval.

Why a package apart from ``specs_eval``: training needs torch, transformers and (for the
pipeline stages) trl, while the harness must import and score without them. Here live
the bootstrap of the tiny base VLM (``bootstrap``), its training targets (``targets``),
resumable state (``resume``) and the in-process toy-world evaluation (``quickeval``);
the ``specs-train`` command line is ``training.cli``.
"""
