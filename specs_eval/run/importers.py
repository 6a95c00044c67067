"""Importers: turn other tools' per-sample outputs into specs-eval prediction lines.

Why: the strongest reason to trust a score is to recompute it from the same generations.
These read lmms-eval's ``*_samples_<task>.jsonl`` and VLMEvalKit's prediction files and
write ``{"id", "response", "extraction"?}`` lines keyed by the benchmark's own id, ready
for ``specs-eval score``.

lmms-eval (``lmms_eval/evaluator.py`` sample logging, 0.6–0.7): one line per doc with
``doc_id``, ``doc`` (the row minus media; *dropped* from the file since 0.7, so the id is then read
from a metric dict: ``mmmu_acc.id``, MathVista's ``question_id``), ``resps`` (raw outputs, omitted
when equal to ``filtered_resps``) and ``filtered_resps``. Older logs nest them (``[["text"]]`` /
``["text"]``); since PR #1103 single-request tasks are flattened (``["text"]`` / ``"text"``).
Both are handled; the *raw* response is imported so our profiles see what the model wrote.

VLMEvalKit (``<model>_<dataset>.xlsx|tsv|csv|json|jsonl``): one row per question with
``index`` and ``prediction``. The benchmark id comes from a column named like the
benchmark's id field (MMMU ``id``, MathVista ``pid``) when present, else from ``index``
(VLMEvalKit's MathVista index is the pid). Its *judged* files (``<model>_<dataset>_<judge>.xlsx``)
add the judge's extraction: MathVista ``res`` (with ``log``), MathVerse ``extract`` (with
``log_extract``), per ``vlmeval/dataset/utils/{mathvista,mathverse}.py``. When that column is
present it becomes the line's ``extraction`` (so ``specs-eval score --profile official`` uses
the judge's answer, as VLMEvalKit did), except where the judge failed (an empty value, or a log
saying every retry failed), which is counted. ``.xlsx`` needs ``openpyxl`` (the ``interop`` extra).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from specs_eval.core.errors import SpecsError


def _first_text(value: Any) -> str | None:
    """The first string in a possibly nested list (``"t"``, ``["t"]``, ``[["t"]]``)."""
    while isinstance(value, list | tuple):
        if not value:
            return None
        value = value[0]
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def lmms_eval_line(obj: dict[str, Any], id_field: str) -> dict[str, Any]:
    doc = obj.get("doc") or {}
    item_id = doc.get(id_field)
    if item_id is None:
        # lmms-eval 0.7 drops `doc` from sample logs; tasks keep the id in process_results' output
        # (MMMU: mmmu_acc.id; MathVista: llm_as_judge_eval.question_id = pid; our exports: accuracy.<id_field>)
        for key in (id_field, "question_id"):
            item_id = next((v[key] for v in obj.values() if isinstance(v, dict) and v.get(key) is not None), None)
            if item_id is not None:
                break
    if item_id is None:
        raise ValueError(f"no {id_field!r} in doc (doc_id {obj.get('doc_id')})")
    response = _first_text(obj.get("resps")) if "resps" in obj else None
    if response is None:
        response = _first_text(obj.get("filtered_resps"))
    if response is None:
        raise ValueError(f"no resps/filtered_resps for {id_field} {item_id}")
    out: dict[str, Any] = {"id": str(item_id), "response": response}
    for v in obj.values():  # MathVista logs carry the GPT extraction in their metric dict
        if isinstance(v, dict) and isinstance(v.get("extraction"), str):
            out["extraction"] = v["extraction"]
            break
    return out


def import_lmms_eval(path: str | Path, id_field: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Prediction dicts and per-line problems from an lmms-eval samples JSONL file."""
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    p = Path(path)
    if not p.is_file():
        raise SpecsError(f"lmms-eval samples file not found: {p}")
    with p.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                out.append(lmms_eval_line(obj, id_field))
            except (ValueError, UnicodeDecodeError, RecursionError) as e:
                problems.append(f"line {n}: {str(e)[:120]}")
    return out, problems


def _read_table(p: Path) -> list[dict[str, Any]]:
    import pandas as pd

    suffix = p.suffix.lower()
    try:
        if suffix == ".tsv":
            df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
        elif suffix == ".csv":
            df = pd.read_csv(p, dtype=str, keep_default_na=False)
        elif suffix == ".xlsx":
            df = pd.read_excel(p, dtype=str, keep_default_na=False)
        elif suffix == ".jsonl":
            return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        elif suffix == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return [dict(v, index=k) if isinstance(v, dict) else {"index": k, "prediction": v}
                        for k, v in data.items()]
            return list(data)
        else:
            raise SpecsError(f"unsupported VLMEvalKit file {p}: expected .xlsx, .tsv, .csv, .json or .jsonl")
    except SpecsError:
        raise
    except ImportError as e:
        raise SpecsError(f"reading {p.name} needs {e.name or 'openpyxl'}: pip install 'specs-eval[interop]' "
                         "(or pip install openpyxl)") from None
    except (OSError, ValueError, UnicodeDecodeError, zipfile.BadZipFile) as e:
        raise SpecsError(f"cannot read {p}: {type(e).__name__}: {e}") from None
    return df.to_dict(orient="records")


#: VLMEvalKit's judged-extraction column and its log column, per benchmark (``None``: any benchmark)
JUDGED_COLUMNS: dict[str | None, tuple[str, str | None]] = {
    "mathvista": ("res", "log"),
    "mathverse": ("extract", "log_extract"),
    None: ("extraction", None),
}
_JUDGE_FAILED = ("retries failed", "failed to obtain answer", "failed to parse")


def _judged_extraction(row: dict[str, Any], benchmark: str | None) -> tuple[str | None, bool]:
    """``(extraction, judge_failed)`` from a VLMEvalKit row (``(None, False)``: no judged column)."""
    for key in (benchmark, None):
        if key not in JUDGED_COLUMNS:
            continue
        col, log_col = JUDGED_COLUMNS[key]
        if col not in row:
            continue
        value = row.get(col)
        text = "" if value is None or (isinstance(value, float) and value != value) else str(value).strip()
        log = str(row.get(log_col) or "").lower() if log_col else ""
        if not text or any(f in log for f in _JUDGE_FAILED) or "failed to obtain answer" in text.lower():
            return None, True
        return text, False
    return None, False


def import_vlmevalkit(path: str | Path, id_field: str, benchmark: str | None = None
                      ) -> tuple[list[dict[str, Any]], list[str]]:
    """Prediction dicts (with the judge's ``extraction`` where a judged column has one) and per-row problems."""
    p = Path(path)
    if not p.is_file():
        raise SpecsError(f"VLMEvalKit prediction file not found: {p}")
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    for n, row in enumerate(_read_table(p), 1):
        if not isinstance(row, dict):
            problems.append(f"row {n}: not a record")
            continue
        item_id = row.get(id_field)
        if item_id in (None, ""):
            item_id = row.get("index")
        if item_id in (None, "") or "prediction" not in row:
            problems.append(f"row {n}: needs '{id_field}' or 'index', and 'prediction'")
            continue
        pred = row["prediction"]
        line: dict[str, Any] = {"id": str(item_id).strip(), "response": "" if pred is None else str(pred)}
        extraction, failed = _judged_extraction(row, benchmark)
        if extraction is not None:
            line["extraction"] = extraction
        elif failed:
            problems.append(f"row {n} (id {line['id']}): the judge's extraction failed; imported without one")
        out.append(line)
    return out, problems
