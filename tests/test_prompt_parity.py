"""Training and evaluation see the same prompt, token for token, for every benchmark and variant.

Why: a model trained on one rendering and evaluated on another is measured on a distribution
shift nobody asked for. The engine's prompt is what ``HFBackend.encode`` sends to ``generate``;
a training example's prompt is what trl's own code makes of our training rows after the
``datasets`` round trip: GRPO's ``prepare_multimodal_messages`` + ``apply_chat_template``
(trl's ``GRPOTrainer._tokenize_prompts``), and the DPO and SFT vision collators' prompt part.
Real tiny model, real processor, real trl: nothing is doubled.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from specs_eval.benchmarks import get_benchmark
from specs_eval.benchmarks.toyworld import world
from tests.conftest import mathvista_row, mmmu_row
from training.data import PromptItem, dpo_rows, grpo_rows, sft_rows, to_dataset

sys.path.insert(0, str(Path(__file__).parent / "megabench"))

VARIANTS = ("official", "specs")


def _image(seed: int, size: tuple[int, int] = (112, 112)) -> Image.Image:
    return Image.new("RGB", size, (40 * seed % 255, 90, 160))


def _rows(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    """Two items per benchmark in its own schema, the way the engine loads them."""
    mv = [mathvista_row("1"), mathvista_row("2", question_type="free_form", answer_type="integer", choices=None,
                                             answer="14")]
    for i, r in enumerate(mv):
        r["decoded_image"] = _image(i)
    mm = [mmmu_row("validation_Art_1"), mmmu_row("validation_Art_2", question_type="open", options="[]",
                                                 answer="12000", question="Compare <image 1> and <image 2>.")]
    mm[0]["image_1"] = _image(2)
    mm[1]["image_1"], mm[1]["image_2"] = _image(3), _image(4, (84, 140))
    vision = [{"id": str(i), "question": "What is the area?", "options": ["1", "2", "3", "4", "5"] if i else [],
               "answer": "B" if i else "7", "decoded_image": _image(5 + i), "level": 1, "subject": "metric geometry"}
              for i in range(2)]
    verse = [{"sample_index": str(i), "problem_index": str(i), "problem_version": "Vision Only",
              "question": "Find x.", "query_cot": "According to the question shown in the image, find x.",
              "answer": "5", "question_type": "free-form", "image": _image(7 + i), "metadata": {}} for i in range(2)]
    return {"toyworld": [world.make_item("id", i, 0) for i in range(2)], "mathvista": mv, "mmmu": mm,
            "mathvision": vision, "mathverse": verse}


def _megabench_rows(tmp_path: Path) -> tuple[Any, list[dict[str, Any]]]:
    import mb_fixture

    bench = get_benchmark("megabench")
    loaded = bench.load("core", data=mb_fixture.write_dataset(tmp_path / "mb"))
    with_images = [r for r in loaded.rows if bench.build_prompt(r).images][:2]
    return bench, with_images


@pytest.fixture(scope="module")
def processor(micro_model):
    from specs_eval.models.loading import load_processor

    return load_processor(str(micro_model))


@pytest.fixture(scope="module")
def backend(micro_model):
    from specs_eval.backends.hf import HFBackend

    return HFBackend(str(micro_model), threads=1)


def engine_ids(backend: Any, prompt: Any) -> list[int]:
    enc = backend.encode([prompt])
    return enc["input_ids"][0][enc["attention_mask"][0].bool()].tolist()


def grpo_ids(processor: Any, item: PromptItem) -> list[int]:
    from trl.data_utils import prepare_multimodal_messages

    ex = to_dataset(grpo_rows([item]))[0]  # the datasets round trip trl's dataloader sees
    msgs = prepare_multimodal_messages(ex["prompt"], images=ex["images"])
    tok = processor.apply_chat_template(conversation=[msgs], add_generation_prompt=True, tokenize=True,
                                        return_dict=True)
    return list(tok["input_ids"][0])


def _pair(item: PromptItem) -> SimpleNamespace:
    """What ``dpo_rows``/``sft_rows`` read of a ``PairRecord``."""
    return SimpleNamespace(id=item.id, chosen="<think>a</think><answer>\\boxed{1}</answer>", rejected="a \\boxed{1}")


def collated_prompt_ids(batch: dict[str, Any]) -> list[int]:
    """The prompt part of a collated example: attended tokens outside the completion (DPO marks the
    completion with ``completion_mask``, SFT with completion-only ``labels``)."""
    ids, attn = batch["input_ids"][0], batch["attention_mask"][0]
    prompt = batch["completion_mask"][0] == 0 if "completion_mask" in batch else batch["labels"][0] == -100
    return ids[(attn == 1) & prompt].tolist()


def dpo_ids(processor: Any, item: PromptItem) -> list[int]:
    from trl.trainer.dpo_trainer import DataCollatorForVisionPreference

    ex = dict(to_dataset(dpo_rows([_pair(item)], {item.id: item}))[0])
    return collated_prompt_ids(DataCollatorForVisionPreference(processor=processor)([ex]))


def sft_ids(processor: Any, item: PromptItem) -> list[int]:
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    ex = dict(to_dataset(sft_rows([_pair(item)], {item.id: item}))[0])
    batch = DataCollatorForVisionLanguageModeling(processor=processor, completion_only_loss=True)([ex])
    return collated_prompt_ids(batch)


def _cases(tmp_path: Path) -> list[tuple[str, str, Any, dict[str, Any]]]:
    cases = []
    for name, rows in _rows(tmp_path).items():
        bench = get_benchmark(name)
        cases += [(name, v, bench, r) for r in rows for v in VARIANTS]
    bench, rows = _megabench_rows(tmp_path)
    cases += [("megabench", v, bench, r) for r in rows for v in VARIANTS]
    return cases


def test_training_prompts_equal_engine_prompts_token_for_token(tmp_path, processor, backend):
    seen = set()
    for name, variant, bench, row in _cases(tmp_path):
        prompt = bench.build_prompt(row, variant)
        item = PromptItem(name, "x", bench.row_id(row), row, prompt, variant)
        want = engine_ids(backend, prompt)
        assert len(want) > 10
        for how, got in (("grpo", grpo_ids(processor, item)), ("dpo", dpo_ids(processor, item)),
                         ("sft", sft_ids(processor, item))):
            assert got == want, f"{name}/{variant}/{bench.row_id(row)}: {how} prompt differs from the engine's"
        seen.add((name, variant))
    assert {n for n, _ in seen} == {"toyworld", "mathvista", "mmmu", "mathvision", "mathverse", "megabench"}
    assert {v for _, v in seen} == set(VARIANTS)


def test_parity_check_fails_when_a_renderer_drifts(tmp_path, processor, backend, monkeypatch):
    """Break the training side's rendering on purpose (a system turn only training adds): the check sees it."""
    import training.data as data
    from specs_eval.core import prompt as core_prompt

    real = core_prompt.render_messages

    def drifted(prompt, *a, **kw):
        msgs = real(prompt, *a, **kw)
        return [{"role": "system", "content": [{"type": "text", "text": "You are helpful."}]}, *msgs]

    monkeypatch.setattr(data, "render_messages", drifted)
    name, variant, bench, row = _cases(tmp_path)[0]
    prompt = bench.build_prompt(row, variant)
    item = PromptItem(name, "x", bench.row_id(row), row, prompt, variant)
    assert grpo_ids(processor, item) != engine_ids(backend, prompt)
