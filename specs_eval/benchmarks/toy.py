"""The toy world as a benchmark: generated offline, scored by the MathVista-style rules.

Why a scorer of its own and not MathVista's official profile: the toy world is used as
an RL reward and in CI, where a judge is unavailable and MathVista's Levenshtein
fallback (which maps any text to some choice) would reward garbage. The ``rules``
profile extracts the answer from whatever convention the response used (``\\boxed{}``
inside ``<answer>``, ``Answer:`` line, JSON, bare value), normalises it exactly as
MathVista does, and counts anything it cannot map as a parse failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.benchmarks.base import Benchmark, BenchmarkError, LoadedSplit, Prompt
from specs_eval.benchmarks.local import content_hash, load_image, read_rows
from specs_eval.records import DatasetInfo, Response, ScoreResult
from specs_eval.scoring import answers
from specs_eval.scoring import extract as ex
from specs_eval.scoring.formats import SPECS_INSTRUCTION
from specs_eval.toyworld import world

REQUIRED_FIELDS = ("pid", "query", "answer", "answer_type", "question_type")


def score_toy(row: dict[str, Any], text: str, finish_reason: str = "stop") -> ScoreResult:
    """Score one response to one toy-world (or MathVista-schema) row. Never raises."""
    try:
        return _score(row, text, finish_reason)
    except Exception as e:  # pragma: no cover - defensive: a scorer must not crash a run
        return ScoreResult.error(e)


def _score(row: dict[str, Any], text: str, finish_reason: str) -> ScoreResult:
    if not text or not text.strip():
        return ScoreResult(score=0.0, correct=False, parse_status="empty", method="empty")
    choices = row.get("choices") or None
    answer, method = ex.final_answer(text)
    if answer is None:
        bare = ex.strip_think(text).strip().rstrip(".").strip()
        if choices and bare.lower() in {str(c).strip().lower() for c in choices}:
            answer, method = bare, "choice_text"  # the whole reply is one option's text (direct format)
        elif choices:
            answer, method = ex.option_letter(ex.strip_think(text), len(choices)), "letter"
        else:
            answer, method = ex.last_number(ex.strip_think(text)), "last_number"
    if answer is None:
        return ScoreResult(score=0.0, correct=False, parse_status="failed", method="none")
    extracted = answer
    if choices:
        pred = answers.normalize(answer, choices=choices, question_type="multi_choice", answer_type="text",
                                 nearest_choice=False)
        if pred is None:
            letter = ex.option_letter(answer, len(choices))
            if letter is not None:
                pred = choices[ord(letter) - ord("A")]
    else:
        value = answer
        if row.get("answer_type") in ("integer", "float"):
            try:
                float(value)
            except ValueError:
                nums = ex.numbers(value)
                value = nums[0] if nums else value
        pred = answers.normalize(value, choices=None, question_type="free_form",
                                 answer_type=str(row.get("answer_type")), precision=row.get("precision"))
    if pred is None:
        return ScoreResult(score=0.0, correct=False, extracted=extracted, parse_status="failed", method=method)
    correct = answers.safe_equal(pred, str(row["answer"]))
    return ScoreResult(score=float(correct), correct=correct, prediction=pred, extracted=extracted,
                       parse_status="ok", method=method)


class ToyWorld(Benchmark):
    name: ClassVar[str] = "toyworld"
    id_field: ClassVar[str] = "pid"
    splits: ClassVar[dict[str, int | None]] = {s: None for s in world.SPLITS}
    default_splits: ClassVar[tuple[str, ...]] = world.EVAL_SPLITS
    profiles: ClassVar[tuple[str, ...]] = ("rules",)
    default_profile: ClassVar[str] = "rules"
    breakdown_keys: ClassVar[tuple[str, ...]] = ("family", "format", "answer_type")
    id_splits: ClassVar[tuple[str, ...]] = ("id",)
    ood_splits: ClassVar[tuple[str, ...]] = world.OOD_SPLITS
    default_max_new_tokens: ClassVar[int] = 96

    def load(self, split: str, data: str | Path | None = None, limit: int | None = None, seed: int = 0) -> LoadedSplit:
        self.check_split(split)
        if data is not None:
            rows = read_rows(data, self.id_field)
            base = Path(data) if Path(data).is_dir() else Path(data).parent
            rows = [r for r in rows if r.get("metadata", {}).get("split", split) == split] or rows
            for n, r in enumerate(rows):
                missing = [k for k in REQUIRED_FIELDS if k not in r]
                if missing:
                    raise BenchmarkError(f"{data}: row {n} ({r.get('pid', '?')}) lacks field(s) {', '.join(missing)}")
                r.setdefault("_base_dir", str(base))
            if limit is not None:
                rows = rows[:limit]
            source, path = "local", str(data)
        else:
            rows = world.generate_split(split, limit, seed)
            source, path = "toyworld", None
        info = DatasetInfo(benchmark=self.name, split=split, source=source, path=path, rows=len(rows),
                           content_hash=content_hash([{"h": world.record_hash(r)} if source == "toyworld" else
                                                      {k: v for k, v in r.items() if k != "decoded_image"}
                                                      for r in rows]),
                           seed=seed if source == "toyworld" else None)
        return LoadedSplit(rows=rows, info=info)

    def image(self, row: dict[str, Any]) -> Any:
        if row.get("decoded_image") is not None:
            return row["decoded_image"]
        base = Path(row["_base_dir"]) if row.get("_base_dir") else None
        return load_image(row.get("image"), base, what=f"image of {row.get('pid')}")

    def build_prompt(self, row: dict[str, Any], variant: str = "official") -> Prompt:
        self.check_variant(variant)
        instruction = SPECS_INSTRUCTION if variant == "specs" else row.get("format_instruction") or SPECS_INSTRUCTION
        return Prompt.simple(f"{row['query']}\n{instruction}", [self.image(row)])

    def requested_format(self, row: dict[str, Any], variant: str) -> str | None:
        return "specs" if variant == "specs" else row.get("format", "specs")

    def target(self, row: dict[str, Any]) -> str:
        return str(row.get("answer_token") or row.get("answer"))

    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        m = row.get("metadata") or {}
        return {
            "family": m.get("family"),
            "format": row.get("format", m.get("format")),
            "shifted": m.get("shifted"),
            "answer_type": row.get("answer_type"),
            "question_type": row.get("question_type"),
            "answer": row.get("answer"),
        }

    def score(self, rows: Sequence[dict[str, Any]], responses: Sequence[Response], profile: str | None = None
              ) -> list[ScoreResult]:
        self.check_profile(profile)
        return [score_toy(r, resp.text, resp.finish_reason) for r, resp in zip(rows, responses, strict=True)]
