"""Export a benchmark split as an lmms-eval task folder (``--include_path DIR``).

Layout written (lmms-eval 0.7.x conventions, measured in the project notes on serving feasibility, §2):

    DIR/<task>.yaml          dataset_path: json, data_files = ABSOLUTE path of data/<split>.jsonl
    DIR/utils.py             doc_to_visual / doc_to_text / process_results / aggregate_mean
    DIR/data/<split>.jsonl   one document per row: our exact prompt text, image paths, the row as JSON
    DIR/data/<split>.rows.jsonl  the rows in the benchmark's own schema (for `specs-eval score --data`)
    DIR/data/images/*.png    the prompt's images, lossless

Why these choices: ``data_files`` resolves against lmms-eval's working directory, not the
YAML's, so the path is made absolute at export time (re-export after moving the folder).
Documents carry *our* prompt text (``build_prompt``), not a re-implementation of it, and
``process_results`` calls our scorer, so lmms-eval running our model class on this task
reproduces ``specs-eval run`` sample by sample. The row travels as a JSON string because
Arrow cannot infer one schema for rows whose fields change type (``choices`` null or a list).
The ``accuracy`` metric's per-document value is a dict holding the benchmark id: lmms-eval
0.7 drops ``doc`` from its sample logs, and this keeps the id in them for ``specs-eval import``.
``until: []`` is explicit: lmms-eval otherwise stops generation at a blank line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from specs_eval.core.errors import SpecsError
from specs_eval.core.io import atomic_write_text
from specs_eval.core.prompt import Prompt

UTILS_TEMPLATE = '''"""lmms-eval task functions for {task} (written by `specs-eval export-lmms-eval`; do not edit).

process_results scores with specs-eval's own scorer ({benchmark}, variant {variant!r}, profile {profile!r}),
so the numbers lmms-eval reports are the ones `specs-eval run` reports. Needs specs-eval importable.
"""

from pathlib import Path

from PIL import Image

BENCHMARK = {benchmark!r}
VARIANT = {variant!r}
PROFILE = {profile!r}
ID_FIELD = {id_field!r}
DATA_DIR = Path(__file__).resolve().parent / "data"


def doc_to_visual(doc):
    images = []
    for rel in doc["specs_images"]:
        with Image.open(DATA_DIR / rel) as img:
            img.load()
            images.append(img.copy())
    return images


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return doc["specs_prompt"]


def process_results(doc, results):
    from specs_eval.lmms.scoring import score_doc

    verdict = score_doc(BENCHMARK, VARIANT, PROFILE, doc, results[0] if results else "")
    out = {{
        "accuracy": {{ID_FIELD: verdict["id"], "score": verdict["score"], "prediction": verdict["prediction"],
                     "parse_status": verdict["parse_status"]}},
        "parse_failure": float(verdict["parse_status"] in ("failed", "empty", "error")),
    }}
    if {with_format}:
        out["format_compliance"] = float(bool(verdict["format_ok"]))
    return out


def aggregate_mean(items):
    values = [x["score"] if isinstance(x, dict) else float(x) for x in items]
    return sum(values) / len(values) if values else 0.0
'''


def task_name(benchmark: str, split: str) -> str:
    return "specs_" + re.sub(r"[^0-9A-Za-z_]+", "_", f"{benchmark}_{split}").strip("_").lower()


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    """The row without images/bytes (they travel as files) and other non-JSON values."""
    out = {}
    for k, v in row.items():
        if hasattr(v, "tobytes") or isinstance(v, bytes | bytearray) or k.startswith("_"):
            continue
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        out[k] = v
    return out


def _layout(prompt: Prompt, rid: str) -> str:
    """The prompt's text, checking it is images-then-text (what lmms-eval's generate_until can express)."""
    kinds = [p["type"] for p in prompt.parts]
    n_img = sum(k == "image" for k in kinds)
    if kinds != ["image"] * n_img + ["text"] * (len(kinds) - n_img) or prompt.system:
        raise SpecsError(f"row {rid}: the prompt interleaves images and text or has a system turn; lmms-eval's "
                         "generate_until takes images and one text, so this benchmark cannot be exported yet")
    return "".join(p["text"] for p in prompt.parts if p["type"] == "text")


def export_lmms_eval(benchmark: str, split: str, out: str | Path, *, limit: int | None = None,
                     variant: str = "official", profile: str | None = None, data: str | None = None, seed: int = 0,
                     max_new_tokens: int | None = None, name: str | None = None) -> Path:
    """Write the task folder; returns the YAML path."""
    from specs_eval.benchmarks import get_benchmark

    bench = get_benchmark(benchmark)
    bench.check_split(split)
    bench.check_variant(variant)
    profile = bench.check_profile(profile)
    if profile in bench.judge_profiles:
        raise SpecsError(f"profile {profile!r} needs a judge; export a rule-based profile")
    loaded = bench.load(split, data=data, limit=limit, seed=seed)
    if not loaded.rows:
        raise SpecsError(f"{benchmark}/{split}: no rows to export")
    out = Path(out).resolve()
    data_dir = out / "data"
    (data_dir / "images").mkdir(parents=True, exist_ok=True)
    task = name or task_name(benchmark, split)
    lines, own_rows = [], []
    with_format = True
    for row in loaded.rows:
        rid = bench.row_id(row)
        prompt = bench.build_prompt(row, variant)
        text = _layout(prompt, rid)
        safe = re.sub(r"[^0-9A-Za-z_.-]+", "_", rid)
        images = []
        for i, img in enumerate(prompt.images):
            rel = f"images/{safe}_{i}.png"
            img.save(data_dir / rel, format="PNG")
            images.append(rel)
        with_format = with_format and bench.requested_format(row, variant) is not None
        own_rows.append(json.dumps(_json_safe(row), ensure_ascii=False))
        lines.append(json.dumps({
            bench.id_field: rid, "specs_split": split, "specs_prompt": text, "specs_images": images,
            "specs_target": bench.target(row), "specs_row": json.dumps(_json_safe(row), ensure_ascii=False),
        }, ensure_ascii=False))
    data_path = data_dir / f"{split}.jsonl"
    atomic_write_text(data_path, "\n".join(lines) + "\n")
    # the same rows in the benchmark's own schema: `specs-eval score --data` reads them to rescore lmms-eval logs
    atomic_write_text(data_dir / f"{split}.rows.jsonl", "\n".join(own_rows) + "\n")
    atomic_write_text(out / "utils.py", UTILS_TEMPLATE.format(task=task, benchmark=benchmark, variant=variant,
                                                             profile=profile, id_field=bench.id_field,
                                                             with_format=with_format))
    max_tokens = max_new_tokens or bench.default_max_new_tokens
    metrics = ["accuracy", "parse_failure"] + (["format_compliance"] if with_format else [])
    higher = {"accuracy": "true", "parse_failure": "false", "format_compliance": "true"}
    metric_yaml = "".join(f"  - metric: {m}\n    aggregation: !function utils.aggregate_mean\n"
                          f"    higher_is_better: {higher[m]}\n" for m in metrics)
    yaml_text = (
        f"# lmms-eval task: {benchmark}/{split}, {len(loaded.rows)} documents, variant {variant}, profile {profile}.\n"
        "# Written by `specs-eval export-lmms-eval`; data_files is absolute: re-export after moving this folder.\n"
        f"task: {task}\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f"    test: {json.dumps(str(data_path))}\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        "doc_to_visual: !function utils.doc_to_visual\n"
        "doc_to_text: !function utils.doc_to_text\n"
        "doc_to_target: specs_target\n"
        "process_results: !function utils.process_results\n"
        "generation_kwargs:\n"
        f"  max_new_tokens: {max_tokens}\n"
        "  temperature: 0\n"
        "  do_sample: false\n"
        "  until: []\n"
        "metric_list:\n"
        f"{metric_yaml}"
        "metadata:\n"
        "  version: 0\n"
        f"  specs_benchmark: {benchmark}\n"
        f"  specs_split: {split}\n"
        f"  specs_variant: {variant}\n"
        f"  specs_profile: {profile}\n"
        f"  specs_content_hash: {loaded.info.content_hash}\n"
    )
    yaml_path = out / f"{task}.yaml"
    atomic_write_text(yaml_path, yaml_text)
    return yaml_path
