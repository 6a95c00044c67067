"""lmms-eval model registration (entry point ``lmms_eval.models``: ``specs_eval``).

Why an entry point: lmms-eval 0.7 loads ``ModelManifest``s from installed distributions when
``lmms_eval.models`` is imported, so ``--model specs_eval`` works after ``pip install specs-eval``
with no plugin path or fork. ``--model`` takes the id or the alias ``specs-eval``.
"""

from __future__ import annotations

from typing import Any


def manifests() -> list[Any]:
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id="specs_eval", simple_class_path="specs_eval.lmms.model.SpecsEvalLMM",
                          aliases=("specs-eval",))]
