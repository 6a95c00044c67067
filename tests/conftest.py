"""Shared fixtures: a micro Qwen2.5-VL built offline at test time, and a CLI runner.

The micro model is real (the same class, processor and chat template as the shipped
base) but untrained: tests that need *behaviour* use the shipped checkpoint, tests that
need *mechanics* (logging, resume, errors) use this one because it is fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def micro_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from specs_eval.models import tiny
    from specs_eval.scoring.formats import FORMATS
    from specs_eval.toyworld.world import iter_split

    corpus = []
    for r in iter_split("bootstrap", 300):
        corpus.append(r["query"] + "\n" + r["format_instruction"])
        corpus.append(FORMATS[r["format"]].render(r["rationale"], r["answer_token"]))
    tok = tiny.train_tokenizer(corpus, 400)
    model = tiny.build_model(tok, "micro", seed=0)
    out = tmp_path_factory.mktemp("micro") / "micro-vlm"
    tiny.save(model, tiny.build_processor(tok), out)
    return out


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300,
            preexec_fn=None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m specs_eval ARGS`` in a subprocess, as a user would."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "specs_eval", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec_fn)
