"""Reading a predictions file (``{"id", "response", "extraction"?, "finish_reason"?}`` per line).

Why tolerant per line but strict per file: one bad line (not UTF-8, not JSON, a missing
field, an id the benchmark does not have) must not stop the scoring of ten thousand good
ones, and must not vanish either: every skipped line is counted with its line number and
the reason, and the CLI prints and stores them. Duplicate ids are a hard error, because
no rule says which of two responses is the one to score.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specs_eval.core.errors import SpecsError

FINISH_REASONS = {"stop", "length", "error"}
LONG_RESPONSE = 1_000_000


@dataclass
class Prediction:
    id: str
    response: str
    extraction: str | None = None
    finish_reason: str = "stop"
    line: int = 0


@dataclass
class PredictionFile:
    predictions: list[Prediction]
    problems: list[str] = field(default_factory=list)  # "line N: reason", one per skipped line
    notes: list[str] = field(default_factory=list)  # accepted but worth saying (very long responses …)


def _coerce(obj: Any, n: int) -> Prediction | str:
    if not isinstance(obj, dict):
        return f"line {n}: expected a JSON object, got {type(obj).__name__}"
    if "id" not in obj or obj["id"] is None:
        return f"line {n}: missing field 'id'"
    if "response" not in obj:
        return f"line {n}: missing field 'response'"
    response = obj["response"]
    if response is None:
        response = ""
    if not isinstance(response, str):
        return f"line {n}: 'response' must be a string, got {type(response).__name__}"
    extraction = obj.get("extraction")
    if extraction is not None and not isinstance(extraction, str):
        extraction = json.dumps(extraction) if isinstance(extraction, list | dict) else str(extraction)
    finish = obj.get("finish_reason") or "stop"
    if finish not in FINISH_REASONS:
        finish = "length" if finish in ("max_tokens", "truncated") else "stop"
    return Prediction(id=str(obj["id"]), response=response, extraction=extraction, finish_reason=finish, line=n)


def read_predictions(path: str | Path) -> PredictionFile:
    p = Path(path)
    if not p.is_file():
        raise SpecsError(f"predictions file not found: {p}")
    preds: list[Prediction] = []
    problems: list[str] = []
    notes: list[str] = []
    with p.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if n == 1 else "utf-8")  # a byte-order mark is not line 1's JSON
            except UnicodeDecodeError as e:
                problems.append(f"line {n}: not valid UTF-8 ({e.reason} at byte {e.start})")
                continue
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError) as e:
                problems.append(f"line {n}: not valid JSON ({str(e)[:80]})")
                continue
            item = _coerce(obj, n)
            if isinstance(item, str):
                problems.append(item)
                continue
            if len(item.response) > LONG_RESPONSE:
                notes.append(f"line {n}: response of {len(item.response):,} characters (id {item.id})")
            preds.append(item)
    dupes = [k for k, c in Counter(x.id for x in preds).items() if c > 1]
    if dupes:
        shown = ", ".join(repr(d) for d in dupes[:5])
        raise SpecsError(f"{p}: {len(dupes)} duplicate id(s) ({shown}{' …' if len(dupes) > 5 else ''}); "
                         "one response per id is expected")
    return PredictionFile(predictions=preds, problems=problems, notes=notes)
