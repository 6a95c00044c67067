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
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specs_eval.benchmarks import get_benchmark
from specs_eval.benchmarks.local import load_image, read_rows
from specs_eval.core.errors import BenchmarkError, SpecsError
from specs_eval.core.io import atomic_write_json, atomic_write_jsonl, atomic_write_text
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
#: benchmarks that read the paper's RL data in its published layout (``specs_eval.benchmarks.rlpool``)
POOL_BENCHMARKS = ("orsta", "virl39k")


class DataError(SpecsError):
    """Missing or malformed training data; the message names the source and what to do."""


class SkipRow(Exception):
    """A raw row the conversion cannot use (several images, no answer): skipped and counted."""


class PromptItem:
    """One training prompt: the benchmark row and how to build its prompt.

    The prompt (with its decoded images) is built on demand unless given: a pool of 86K
    image prompts does not fit in memory decoded, and every consumer reads one at a time.
    """

    def __init__(self, benchmark: str, split: str, id: str, row: dict[str, Any], prompt: Prompt | None = None,
                 variant: str = "official"):
        self.benchmark, self.split, self.id, self.row, self.variant = benchmark, split, id, row, variant
        self._prompt = prompt

    @property
    def prompt(self) -> Prompt:
        if self._prompt is not None:
            return self._prompt
        return get_benchmark(self.benchmark).build_prompt(self.row, self.variant)

    @property
    def prompt_hash(self) -> str:
        return self.prompt.hash()


@dataclass(frozen=True)
class Source:
    """One dataset a stage's prompts come from: a benchmark split, read from ``data`` (None: the hub)."""

    benchmark: str
    split: str
    data: str | None
    origin: str  # what the config named (an id, a folder, a file)


@dataclass
class LoadedItems:
    items: list[PromptItem]
    info: DatasetInfo
    #: per source: what its loader skipped (by reason), what the kind filters excluded, what was sampled
    report: dict[str, Any] = field(default_factory=dict)


def pool_hub_ids() -> dict[str, str]:
    """Hub ids of the RL-pool benchmarks (Orsta-Data-47k, ViRL39K) -> benchmark name."""
    return {get_benchmark(name).hf_id: name for name in POOL_BENCHMARKS}


def detect_layout(folder: str | Path) -> str | None:
    """The RL-pool benchmark whose published layout a local folder has (None: neither)."""
    p = Path(folder)
    if not p.is_dir():
        return None
    if (p / "39Krelease.parquet").exists():
        return "virl39k"
    if any((p / "train").glob("train_*.parquet")) or any((p / "test").glob("test_*.parquet")):
        return "orsta"
    return None


def resolve_sources(data: DataConfig, cache_dir: Path | None) -> list[Source]:
    """The datasets a data config names, in order.

    ``hf_id`` entries that are the RL-pool datasets (by hub id, or a local folder in their
    published layout) load through their benchmarks; any other ids are converted once
    into MathVista-schema rows scored by ``data.benchmark``'s rules (``convert_raw``).
    """
    if data.hf_id:
        ids = [data.hf_id] if isinstance(data.hf_id, str) else list(data.hf_id)
        known = pool_hub_ids()
        sources: list[Source] = []
        generic: list[str] = []
        for ref in ids:
            layout = detect_layout(ref) if Path(ref).exists() else None
            if ref in known:
                sources.append(Source(known[ref], data.split, None, ref))
            elif layout is not None:
                sources.append(Source(layout, data.split, str(ref), ref))
            else:
                generic.append(ref)
        if generic:
            if cache_dir is None:
                raise DataError("converting a raw dataset needs a cache folder")
            only = data.model_copy(update={"hf_id": generic})
            sources.append(Source(data.benchmark, data.split, str(convert_raw(only, cache_dir)), ", ".join(generic)))
        return sources
    if data.columns:
        if cache_dir is None:
            raise DataError("converting a raw dataset needs a cache folder")
        return [Source(data.benchmark, data.split, str(convert_raw(data, cache_dir)), str(data.path))]
    return [Source(data.benchmark, data.split, data.path, data.path or f"{data.benchmark}/{data.split}")]


def _fingerprint(path: str | None) -> list[Any]:
    """Names and sizes of a local snapshot's data files (a changed download changes the selection key)."""
    if path is None:
        return []
    p = Path(path)
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix in (".parquet", ".zip") and f.is_file())
    return [[f.name, f.stat().st_size] for f in files]


def select_pool_rows(src: Source, data: DataConfig, cache_dir: Path, limit: int | None) -> tuple[str, dict[str, Any]]:
    """Choose a stage's rows of an RL-pool dataset once, write them as a selection file, return (path, report).

    Rows of kinds the stage does not train on (``data.kinds``; free text unless
    ``data.free_text: judge``) are excluded and counted; with a limit, a sample seeded by
    ``data.seed`` is taken (not the first rows of the first files, which are one task).
    """
    import random

    from specs_eval.benchmarks.rlpool import SELECTION_SUFFIX, PoolSelection
    from specs_eval.rules.rlpool import RULE_KINDS

    bench = get_benchmark(src.benchmark)
    allowed = set(data.kinds or RULE_KINDS) | ({"text"} if data.free_text == "judge" else set())
    key_src = {"source": [src.benchmark, src.split, src.data], "files": _fingerprint(src.data),
               "revision": os.environ.get(getattr(bench, "revision_env", ""), getattr(bench, "revision", None)),
               "allowed": sorted(allowed), "limit": limit, "seed": data.seed,
               "heldout": getattr(bench, "heldout_fraction", None)}
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True, default=str).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"{src.benchmark}-{src.split}-{key}{SELECTION_SUFFIX}"
    if path.exists():
        return str(path), PoolSelection.model_validate_json(path.read_text(encoding="utf-8")).report
    try:
        loaded = bench.load(src.split, data=src.data)
        root, source, revision = bench.locate(src.data)  # type: ignore[attr-defined]
    except BenchmarkError as e:
        raise DataError(f"data {src.benchmark}/{src.split} ({src.origin}): {e}") from None
    excluded: Counter[str] = Counter()
    kept = []
    for row in loaded.rows:
        kind = bench.answer_kind(row)  # type: ignore[attr-defined]
        if kind in allowed:
            kept.append((row, kind))
        else:
            excluded[kind] += 1
    sampled = None
    if limit is not None and len(kept) > limit:
        rng = random.Random(f"{data.seed}:{src.benchmark}:{src.split}")
        order = sorted(rng.sample(range(len(kept)), limit))
        sampled = {"from": len(kept), "to": limit, "seed": data.seed}
        kept = [kept[i] for i in order]
    report = {"source": src.origin, "benchmark": src.benchmark, "split": src.split, "load": loaded.report,
              "excluded_kinds": dict(sorted(excluded.items())), "sampled": sampled, "kept": len(kept),
              "kinds_kept": dict(sorted(Counter(k for _, k in kept).items()))}
    if not kept:
        raise DataError(f"data {src.benchmark}/{src.split} ({src.origin}): no usable rows: loader skipped "
                        f"{loaded.report.get('skipped') or 'none'}, kinds excluded {dict(excluded) or 'none'} "
                        f"(data.kinds / data.free_text)")
    sel = PoolSelection(benchmark=src.benchmark, split=src.split, snapshot=str(root), source=source,
                        hf_id=loaded.info.hf_id, revision=revision, keys=[bench.row_id(r) for r, _ in kept],
                        report=report)
    atomic_write_text(path, sel.model_dump_json(indent=1))
    return str(path), report


def stage_sources(data: DataConfig, cache_dir: Path | None, limit: int | None = None
                  ) -> list[tuple[Source, int | None, dict[str, Any]]]:
    """(source to load, its row limit, its selection report) for every dataset of a stage's data.

    RL-pool sources are resolved to selection files (limit already applied); others keep
    the limit, split evenly over the sources.
    """
    limit = limit or data.limit
    sources = resolve_sources(data, cache_dir)
    per_source = None if limit is None else -(-limit // len(sources))
    out = []
    for src in sources:
        if src.benchmark in POOL_BENCHMARKS:
            if cache_dir is None:
                raise DataError(f"data {src.benchmark}: choosing the rows needs a cache folder")
            path, report = select_pool_rows(src, data, Path(cache_dir), per_source)
            out.append((Source(src.benchmark, src.split, path, src.origin), None, report))
        else:
            out.append((src, per_source, {}))
    return out


def load_data(data: DataConfig, cache_dir: Path | None = None, limit: int | None = None) -> LoadedItems:
    """Prompts of a stage's data, in order, with what was skipped or excluded. Errors are ``DataError``."""
    items: list[PromptItem] = []
    infos: list[DatasetInfo] = []
    reports: list[dict[str, Any]] = []
    for src, src_limit, selection_report in stage_sources(data, cache_dir, limit):
        try:
            bench = get_benchmark(src.benchmark)
            bench.check_split(src.split)
            bench.check_variant(data.prompt_variant)
            loaded = bench.load(src.split, data=src.data, limit=src_limit, seed=data.seed)
        except BenchmarkError as e:
            raise DataError(f"data {src.benchmark}/{src.split}: {e}") from None
        if not loaded.rows:
            raise DataError(f"data {src.benchmark}/{src.split}: no rows (check data.path / data.limit)")
        for row in loaded.rows:
            rid = bench.row_id(row)
            try:
                bench.build_prompt(row, data.prompt_variant)  # every prompt builds (its images open), once
            except (BenchmarkError, KeyError, ValueError, OSError) as e:
                raise DataError(f"data {src.benchmark}/{src.split}: row {rid}: cannot build its prompt ({e})") from None
            items.append(PromptItem(src.benchmark, src.split, rid, row, None, data.prompt_variant))
        infos.append(loaded.info)
        reports.append({**selection_report, "benchmark": src.benchmark, "split": src.split, "rows": len(loaded.rows),
                        **({"load": loaded.report} if loaded.report and not selection_report else {})})
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i, n in Counter(ids).items() if n > 1)
        raise DataError(f"data {data.benchmark}/{data.split}: duplicate id {dup!r}")
    return LoadedItems(items, _merged_info(infos), {"sources": reports})


def _merged_info(infos: list[DatasetInfo]) -> DatasetInfo:
    """One DatasetInfo for several sources (the manifest's ``data``); a single source is returned as is."""
    if len(infos) == 1:
        return infos[0]
    h = hashlib.sha256("".join(i.content_hash for i in infos).encode()).hexdigest()[:16]
    return DatasetInfo(benchmark="+".join(i.benchmark for i in infos), split="+".join(dict.fromkeys(i.split for i in infos)),
                       source="local" if any(i.source == "local" for i in infos) else infos[0].source,
                       hf_id=", ".join(i.hf_id for i in infos if i.hf_id) or None,
                       revision=", ".join(i.revision for i in infos if i.revision) or None,
                       path="; ".join(i.path for i in infos if i.path) or None,
                       rows=sum(i.rows for i in infos), content_hash=h)


def load_items(data: DataConfig, cache_dir: Path | None = None, limit: int | None = None) -> tuple[
        list[PromptItem], DatasetInfo]:
    """Prompts of a stage's data, in order (``load_data`` without the report)."""
    loaded = load_data(data, cache_dir, limit)
    return loaded.items, loaded.info


# ---------------------------------------------------------------- trl formats


def assistant(text: str) -> list[dict[str, Any]]:
    return [{"role": "assistant", "content": [{"type": "text", "text": text}]}]


def _images(item: PromptItem) -> list[Any]:
    return [img.convert("RGB") if getattr(img, "mode", "RGB") != "RGB" else img for img in item.prompt.images]


def grpo_row(item: PromptItem, grid: Any = None) -> dict[str, Any]:
    """One GRPO row: messages, images (snapped to ``grid`` when given) and the reward columns.

    With a grid, the row JSON records each image's size as the model sees it
    (``processed_image_sizes``): detection rewards bring pixel boxes to the 0-1000 scale with it.
    """
    prompt = item.prompt
    images = [img.convert("RGB") if getattr(img, "mode", "RGB") != "RGB" else img for img in prompt.images]
    row = item.row
    if grid is not None:
        from training.grid import snap_images

        images = snap_images(images, grid)
        row = {**row, "processed_image_sizes": [[im.width, im.height] for im in images]}
    return {"prompt": render_messages(prompt), "images": images, "row_json": row_for_reward(row),
            "benchmark": item.benchmark, "prompt_variant": item.variant, "id": item.id}


def grpo_rows(items: Sequence[PromptItem], grid: Any = None) -> list[dict[str, Any]]:
    return [grpo_row(i, grid) for i in items]


def grpo_dataset(items: Sequence[PromptItem], grid: Any = None) -> Any:
    """The GRPO dataset, its rows built on access: prompts and images are never all in memory at once."""
    import datasets

    if not items:
        raise DataError("no training rows")
    index = datasets.Dataset.from_list([{"item": n} for n in range(len(items))])
    keep = list(items)

    def build(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        rows = [grpo_row(keep[n], grid) for n in batch["item"]]
        return {k: [r[k] for r in rows] for k in rows[0]}

    index.set_transform(build)
    return index


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
