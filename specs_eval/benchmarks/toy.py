"""The toy world as a benchmark: generated offline, scored by the MathVista-style rules.

Why a scorer of its own and not MathVista's official profile: the toy world is used as
an RL reward and in CI, where a judge is unavailable and MathVista's Levenshtein
fallback (which maps any text to some choice) would reward garbage. The ``rules``
profile extracts the answer from whatever convention the response used (``\\boxed{}``
inside ``<answer>``, ``Answer:`` line, JSON, bare value), normalises it exactly as
MathVista does, and counts anything it cannot map as a parse failure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.benchmarks.base import Benchmark, LoadedSplit, score_each
from specs_eval.benchmarks.hub import Checks, finish_load, split_tag_filter
from specs_eval.benchmarks.local import content_hash, image_ref_error, load_image, read_rows_with_origin
from specs_eval.benchmarks.schemas import SCHEMAS
from specs_eval.benchmarks.toyworld import world
from specs_eval.benchmarks.variants import PROMPT_VARIANTS
from specs_eval.core.prompt import Prompt, with_instruction
from specs_eval.core.records import DatasetInfo, Response, ScoreResult
from specs_eval.rules import answers
from specs_eval.rules import extract as ex
from specs_eval.rules.formats import SPECS_INSTRUCTION


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


_PID_RE = re.compile(r"^(?P<split>[a-z_]+)-(?P<seed>\d+)-(?P<index>\d{6})$")

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
            return self._load_local(split, data, limit)
        rows = world.generate_split(split, limit, seed)
        info = DatasetInfo(benchmark=self.name, split=split, source="toyworld", rows=len(rows),
                           content_hash=content_hash([{"h": world.record_hash(r)} for r in rows]), seed=seed)
        return LoadedSplit(rows=rows, info=info)

    def load_for_scoring(self, split: str, data: str | Path | None = None) -> LoadedSplit:
        """Local rows need only what ``score_toy`` reads (``pid``, ``answer``, ``answer_type``, ``choices``)."""
        if data is None:
            return self.load(split)
        return self._load_local(split, data, None, purpose="score")

    def _load_local(self, split: str, data: str | Path, limit: int | None, purpose: str = "run") -> LoadedSplit:
        """Toy-world rows from local files (``specs-eval toyworld export``): split by ``metadata.split``,
        each row validated (``schemas.ToyRun``), images confined to the data folder."""
        rows, origins = read_rows_with_origin(data, self.id_field)
        rows, origins, notes = split_tag_filter(
            rows, origins, split, lambda r: (r.get("metadata") or {}).get("split")
            if isinstance(r.get("metadata"), dict) else None, f"toyworld {data}")
        base = Path(data) if Path(data).is_dir() else Path(data).parent
        for r in rows:
            r["_base_dir"] = str(base)

        def images(row: dict[str, Any]) -> str | None:
            if row.get("decoded_image") is not None:
                return None
            return image_ref_error(row.get("image"), row.get("_base_dir"), f"image of {row.get('pid')}")

        loaded = finish_load(benchmark=self.name, split=split, rows=rows, origins=origins, source="local",
                             expected=None, limit=limit, id_field="pid", path=data, notes=notes,
                             checks=Checks(schema=SCHEMAS[self.name][purpose],
                                           images=images if purpose == "run" else None))
        # the toy world's local hash keeps its historical form: every field but the image column
        loaded.info.content_hash = content_hash([{k: v for k, v in r.items() if k != "decoded_image"}
                                                 for r in loaded.rows])
        return loaded

    def image(self, row: dict[str, Any]) -> Any:
        if row.get("decoded_image") is not None:
            return row["decoded_image"]
        base = Path(row["_base_dir"]) if row.get("_base_dir") else None
        return load_image(row.get("image"), base, what=f"image of {row.get('pid')}")

    def official_prompt(self, row: dict[str, Any]) -> Prompt:
        """The question with the row's own format instruction (SPECS unless the split shifts the format)."""
        return with_instruction(self.question_prompt(row), row.get("format_instruction") or SPECS_INSTRUCTION)

    def question_prompt(self, row: dict[str, Any]) -> Prompt:
        return Prompt.simple(str(row["query"]), [self.image(row)])

    def build_prompt(self, row: dict[str, Any], variant: str = "official") -> Prompt:
        """A variant's instruction replaces the row's own (a toy prompt always carries exactly one)."""
        self.check_variant(variant)
        instruction = PROMPT_VARIANTS[variant].instruction
        return self.official_prompt(row) if instruction is None else with_instruction(self.question_prompt(row),
                                                                                      instruction)

    def regenerate(self, split: str, item_id: str, dataset: DatasetInfo | None) -> dict[str, Any] | str | None:
        """The row of a toy-world id ``<split>-<seed>-<index>`` (the world is procedural)."""
        m = _PID_RE.match(item_id)
        if m is None or m["split"] != split:
            return None
        if dataset is not None and dataset.source != "toyworld":
            return "no thumbnail: this run read the toy world from local files; pass --data"
        seed = dataset.seed if dataset is not None and dataset.seed is not None else int(m["seed"])
        return world.make_item(split, int(m["index"]), seed)

    def requested_format(self, row: dict[str, Any], variant: str) -> str | None:
        """A variant with an instruction replaces the row's own (``build_prompt``), and so does its format."""
        v = PROMPT_VARIANTS.get(variant)
        return v.requested_format if v is not None and v.requested_format else row.get("format", "specs")

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
        return score_each(rows, responses, lambda r, resp: score_toy(r, resp.text, resp.finish_reason))
