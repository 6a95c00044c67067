"""Shared fixtures: a micro Qwen2.5-VL built offline at test time, a CLI runner, fixture rows
written by hand in the real schemas of MMMU, MathVista, MathVision and MathVerse, and (analysis)
toy-world run directories built through the real scoring engine (``toy_runs.py``).

The micro model is real (the same class, processor and chat template as the shipped
base) but untrained: tests that need *behaviour* use the shipped checkpoint, tests that
need *mechanics* (logging, resume, errors) use this one because it is fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.toy_runs import BASE, DPO, SFT, build_run, write_training_pipeline

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def micro_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from specs_eval.benchmarks.toyworld.world import iter_split
    from specs_eval.models import tiny
    from specs_eval.rules.formats import FORMATS

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

def mmmu_row(item_id: str, question_type: str = "multiple-choice", options: str = "['apple tree', 'pear', 'fig', 'plum']",
             answer: str = "A", **extra: Any) -> dict[str, Any]:
    row = {"id": item_id, "question": "Which tree is shown in <image 1>?", "options": options, "explanation": "",
           "image_1": None, "img_type": "['Photographs']", "answer": answer, "topic_difficulty": "Easy",
           "question_type": question_type, "subfield": "Botany"}
    row.update(extra)
    return row


def mathvista_row(pid: str, *, question_type: str = "multi_choice", answer_type: str = "text",
                  choices: list[str] | None = None, answer: str = "pear", precision: float | None = None,
                  task: str = "figure question answering", skills: list[str] | None = None) -> dict[str, Any]:
    if question_type == "multi_choice" and choices is None:
        choices = ["apple", "pear", "fig", "plum"]
    return {
        "pid": pid, "question": "What is shown?", "image": f"images/{pid}.jpg", "choices": choices, "unit": None,
        "precision": precision, "answer": answer, "question_type": question_type, "answer_type": answer_type,
        "metadata": {"category": "general-vqa", "context": "natural image", "grade": "elementary school",
                     "img_height": 10, "img_width": 10, "language": "english",
                     "skills": skills or ["numeric commonsense"], "source": "VQA-AS", "split": "testmini",
                     "task": task},
        "query": "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
                 "\nQuestion: What is shown?",
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def mathvista_rows() -> list[dict[str, Any]]:
    return [
        mathvista_row("1"),
        mathvista_row("2", question_type="free_form", answer_type="integer", choices=None, answer="14"),
        mathvista_row("3", question_type="free_form", answer_type="float", choices=None, answer="1.45", precision=2.0,
                      task="math word problem", skills=["arithmetic reasoning", "numeric commonsense"]),
        mathvista_row("4", question_type="free_form", answer_type="list", choices=None, answer="[2007, 2008]"),
    ]


@pytest.fixture
def mmmu_rows() -> list[dict[str, Any]]:
    return [
        mmmu_row("validation_Agriculture_1"),
        mmmu_row("validation_Agriculture_2", answer="B"),
        mmmu_row("validation_Art_1", answer="C"),
        mmmu_row("validation_Art_2", question_type="open", options="[]", answer="12000"),
        mmmu_row("validation_Geography_3", question_type="open", options="[]", answer="['Tampa', 'Florida']"),
    ]


# --- analysis: run directories and a training pipeline directory -----------------------------
@pytest.fixture(scope="session")
def toy_run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """base / sft / dpo runs on 24 items per toy split, 4 samples per prompt, with token statistics."""
    root = tmp_path_factory.mktemp("runs")
    return {name: build_run(root, name, d, n_items=24, n_samples=4)
            for name, d in (("base", BASE), ("sft", SFT), ("dpo", DPO))}


@pytest.fixture(scope="session")
def training_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_training_pipeline(tmp_path_factory.mktemp("train") / "pipeline")
