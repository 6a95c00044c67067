"""lmms-eval interop: our benchmarks as an lmms-eval task folder, our backends as an lmms-eval model.

Why: users already run lmms-eval; a number is only comparable across tools when both the
generations and the scoring can be moved between them. ``export.py`` writes a task folder
whose ``process_results`` calls our scorer (``scoring.py``), so lmms-eval reports our numbers;
``model.py`` (loaded by lmms-eval through the ``lmms_eval.models`` entry point, ``manifest.py``)
runs any of our backends under lmms-eval; ``specs-eval import lmms-eval`` rescores its logs.
Only ``model.py`` and ``manifest.py`` import lmms_eval, and only when lmms-eval loads them.
"""
