"""Training prompts: benchmark rows (toy world, local files, Hugging Face datasets) → trl datasets.

Why rows go through the benchmark interface: the prompt a model is trained on must be
the prompt it is evaluated on, built by the same ``Benchmark.build_prompt``, and the
reward must be the benchmark's own scorer. So a stage's data is always "a benchmark,
a split, optionally local files": the toy world generates its rows; local files in a
benchmark's schema load as ``specs-eval run --data`` does; a Hugging Face dataset in
another schema (Orsta-Data-47k, ViRL39K, …) is converted once into MathVista-schema
files (question, answer, choices, image) that the MathVista-style rules score.

trl formats (verified with trl 1.16 on a Qwen2.5-VL): GRPO rows carry ``prompt``
(messages with image placeholders), ``images`` and the reward columns ``row_json``,
``benchmark`` and ``prompt_variant``; DPO rows ``images``/``prompt``/``chosen``/
``rejected``; SFT rows ``images``/``prompt``/``completion`` (loss on the completion).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specs_eval.benchmarks import get_benchmark
from specs_eval.benchmarks.local import load_image, read_rows
from specs_eval.core.errors import BenchmarkError, SpecsError
from specs_eval.core.io import atomic_write_json, atomic_write_jsonl
from specs_eval.core.prompt import Prompt, render_messages
from specs_eval.core.records import DatasetInfo
from specs_eval.rules.formats import SPECS_INSTRUCTION
from training.config import DataConfig
from training.rewards import row_for_reward

# column roles and the raw names they are detected from (first match wins)
ROLE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "id": ("id", "qid", "pid", "uid", "index", "idx"),
    "question": ("question", "problem", "query", "prompt", "instruction"),
    "answer": ("answer", "solution", "ground_truth", "gt", "label"),
    "image": ("images", "image", "decoded_image", "image_path", "image_paths"),
    "choices": ("choices", "options"),
}
CONVERTED_FILE = "rows.jsonl"


class DataError(SpecsError):
    """Missing or malformed training data; the message names the source and what to do."""


class SkipRow(Exception):
    """A raw row the conversion cannot use (several images, no answer): skipped and counted."""


@dataclass
class PromptItem:
    """One training prompt: the benchmark row and the prompt built from it."""
    benchmark: str
    split: str
    id: str
    row: dict[str, Any]
    prompt: Prompt
    variant: str

    @property
    def prompt_hash(self) -> str:
        return self.prompt.hash()


def load_items(data: DataConfig, cache_dir: Path | None = None, limit: int | None = None) -> tuple[
        list[PromptItem], DatasetInfo]:
    """Prompts of a stage's data, in order. Errors are ``DataError`` naming the source."""
    path = data.path
    if data.hf_id or data.columns:
        if cache_dir is None:
            raise DataError("converting a raw dataset needs a cache folder")
        path = str(convert_raw(data, cache_dir))
    try:
        bench = get_benchmark(data.benchmark)
        bench.check_split(data.split)
        bench.check_variant(data.prompt_variant)
        loaded = bench.load(data.split, data=path, limit=limit or data.limit, seed=data.seed)
    except BenchmarkError as e:
        raise DataError(f"data {data.benchmark}/{data.split}: {e}") from None
    if not loaded.rows:
        raise DataError(f"data {data.benchmark}/{data.split}: no rows (check data.path / data.limit)")
    items = []
    for row in loaded.rows:
        rid = bench.row_id(row)
        try:
            prompt = bench.build_prompt(row, data.prompt_variant)
        except (BenchmarkError, KeyError, ValueError, OSError) as e:
            raise DataError(f"data {data.benchmark}/{data.split}: row {rid}: cannot build its prompt ({e})") from None
        items.append(PromptItem(data.benchmark, data.split, rid, row, prompt, data.prompt_variant))
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"data {data.benchmark}/{data.split}: duplicate id {dup!r}")
    return items, loaded.info


# ---------------------------------------------------------------- trl formats


def assistant(text: str) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": [{"type": "text", "text": text}]}]


def _images(item: PromptItem) -> list[Any]:
    return [img.convert("RGB") if getattr(img, "mode", "RGB") != "RGB" else img for img in item.prompt.images]


def grpo_rows(items: Sequence[PromptItem]) -> list[dict[str, Any]]:
    return [{"prompt": render_messages(i.prompt), "images": _images(i), "row_json": row_for_reward(i.row),
             "benchmark": i.benchmark, "prompt_variant": i.variant, "id": i.id} for i in items]


def dpo_rows(pairs: Sequence[Any], items: dict[str, PromptItem]) -> list[dict[str, Any]]:
    return [{"prompt": render_messages(items[p.id].prompt), "images": _images(items[p.id]),
             "chosen": assistant(p.chosen), "rejected": assistant(p.rejected)} for p in pairs]


def sft_rows(pairs: Sequence[Any], items: dict[str, PromptItem]) -> list[dict[str, Any]]:
    """SFT on the chosen responses (the SFT cold start uses the same data as DPO)."""
    seen: set[tuple[str, str]] = set()
    rows = []
    for p in pairs:
        if (p.id, p.chosen) in seen:
            continue
        seen.add((p.id, p.chosen))
        rows.append({"prompt": render_messages(items[p.id].prompt), "images": _images(items[p.id]),
                     "completion": assistant(p.chosen)})
    return rows


def to_dataset(rows: list[dict[str, Any]]) -> Any:
    import datasets

    if not rows:
        raise DataError("no training rows")
    return datasets.Dataset.from_list(rows)


# ---------------------------------------------------------------- raw datasets → MathVista schema


def _detect(columns: Sequence[str], mapping: dict[str, str]) -> dict[str, str]:
    """role -> raw column, from ``data.columns`` (raw -> role) and the candidates."""
    roles = {role: raw for raw, role in mapping.items()}
    for role, cands in ROLE_CANDIDATES.items():
        if role not in roles:
            found = next((c for c in cands if c in columns), None)
            if found is not None:
                roles[role] = found
    for role in ("question", "answer", "image"):
        if role not in roles:
            raise DataError(f"raw data: no {role} column among {sorted(columns)}; "
                            f"map one with --set data.columns.<raw_column>={role}")
    missing = [raw for raw in roles.values() if raw not in columns]
    if missing:
        raise DataError(f"raw data: mapped column(s) {missing} not in {sorted(columns)}")
    return roles


_BOXED = re.compile(r"^\s*\\boxed\{(.*)\}\s*$", re.DOTALL)


def _clean_answer(value: Any) -> str:
    s = str(value).strip()
    m = _BOXED.match(s)
    if m:
        s = m.group(1).strip()
    return s.strip("$ ").strip()


def _answer_type(answer: str) -> tuple[str, int | None]:
    if re.fullmatch(r"-?\d+", answer):
        return "integer", None
    if re.fullmatch(r"-?\d*\.\d+", answer):
        return "float", len(answer.split(".")[1])
    return "text", None


def convert_row(raw: dict[str, Any], roles: dict[str, str], index: int, source: str, split: str
                ) -> tuple[dict[str, Any], Any]:
    """A MathVista-schema row (without its image) and the raw image value."""
    question = str(raw[roles["question"]]).replace("<image>", "").strip()
    answer = _clean_answer(raw[roles["answer"]])
    if not answer:
        raise SkipRow("no_answer")
    choices = raw.get(roles["choices"]) if "choices" in roles else None
    if isinstance(choices, str):
        try:
            choices = json.loads(choices)
        except ValueError:
            choices = None
    choices = [str(c) for c in choices] if isinstance(choices, list) and choices else None
    if choices and re.fullmatch(r"[A-Z]", answer) and ord(answer) - 65 < len(choices):
        answer = choices[ord(answer) - 65]
    answer_type, precision = ("text", None) if choices else _answer_type(answer)
    rid = str(raw[roles["id"]]) if "id" in roles and raw.get(roles["id"]) is not None else f"{index:07d}"
    pid = f"{source}-{rid}"
    query = question
    if choices:
        query += "\nChoices:\n" + "\n".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices))
    image = raw[roles["image"]]
    if isinstance(image, list | tuple):
        if len(image) != 1:
            raise SkipRow("multi_image" if image else "no_image")
        image = image[0]
    row = {
        "pid": pid, "question": question, "query": query, "choices": choices, "answer": answer,
        "answer_type": answer_type, "question_type": "multi_choice" if choices else "free_form",
        "precision": precision, "unit": None, "format": "specs", "format_instruction": SPECS_INSTRUCTION,
        "answer_token": (chr(65 + choices.index(answer)) if choices and answer in choices else answer),
        "metadata": {"split": split, "source": source},
    }
    return row, image


def convert_raw(data: DataConfig, cache_dir: Path) -> Path:
    """Convert a raw dataset (``hf_id`` or ``path`` + ``columns``) once into ``cache_dir/<key>/rows.jsonl``."""
    from PIL import Image

    key_src = {k: v for k, v in data.model_dump().items() if k in ("hf_id", "hf_split", "hf_config", "hf_revision",
                                                                 "path", "columns", "split", "limit")}
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True).encode()).hexdigest()[:12]
    out = Path(cache_dir) / f"data-{key}"
    done = out / "conversion.json"
    if done.exists():
        return out / CONVERTED_FILE
    sources: list[tuple[Any, list[str], Path | None, str]] = []
    if data.hf_id:
        ids = [data.hf_id] if isinstance(data.hf_id, str) else list(data.hf_id)
        for hf_id in ids:
            try:
                import datasets

                ds = datasets.load_dataset(hf_id, name=data.hf_config, split=data.hf_split, revision=data.hf_revision)
            except Exception as e:  # network, auth, unknown id: all the user's to fix
                first = str(e).splitlines()[0] if str(e) else ""
                raise DataError(f"cannot load Hugging Face dataset {hf_id!r} ({type(e).__name__}: {first}); "
                                "download it and pass data.path (with data.columns if needed)") from None
            sources.append((ds, list(ds.column_names), None, hf_id.split("/")[-1]))
    else:
        assert data.path is not None
        try:
            raw = read_rows(data.path)
        except BenchmarkError as e:
            raise DataError(f"data.path: {e}") from None
        if not raw:
            raise DataError(f"data.path {data.path}: no rows")
        base_dir = Path(data.path) if Path(data.path).is_dir() else Path(data.path).parent
        columns = list(dict.fromkeys(k for r in raw for k in r))
        sources.append((raw, columns, base_dir, Path(data.path).stem))
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    per_source = None if data.limit is None else -(-data.limit // len(sources))
    all_roles = {}
    skipped: dict[str, int] = {}
    for raw_rows, columns, base_dir, source in sources:
        roles = all_roles[source] = _detect(columns, data.columns)
        taken = 0
        for i, raw_row in enumerate(raw_rows):
            if per_source is not None and taken >= per_source:
                break
            try:
                row, image = convert_row(dict(raw_row), roles, i, source, data.split)
            except SkipRow as e:
                skipped[str(e)] = skipped.get(str(e), 0) + 1
                continue
            try:
                img = image if isinstance(image, Image.Image) else load_image(image, base_dir,
                                                                               what=f"image of {row['pid']}")
            except BenchmarkError as e:
                raise DataError(f"raw data: {e}") from None
            name = f"images/{hashlib.sha256(row['pid'].encode()).hexdigest()[:16]}.png"
            img.convert("RGB").save(out / name)
            row["image"] = name
            rows.append(row)
            taken += 1
    roles = all_roles
    atomic_write_jsonl(out / CONVERTED_FILE, rows)
    if not rows:
        raise DataError(f"raw data: no usable rows (skipped: {skipped or 'none'})")
    atomic_write_json(done, {"schema_version": 1, "source": key_src, "roles": roles, "rows": len(rows),
                             "skipped": skipped})
    return out / CONVERTED_FILE
