"""MATH-Vision (``MathLLMs/MathVision``): competition maths with images, official rule scoring.

Profile ``official``: ``mathllm/MATH-V`` ``evaluation/evaluate.py`` — extract the final
answer by the official rules, correct if ``is_equal`` to the gold answer or to the gold
option's text (see ``rules/mathvision.py`` for the one deviation: no ``eval``).
Prompt ``official``: the MATH-V models' prompt ('Please solve the problem step by step and
put your answer in one "\\boxed{}". …' + question + ``(A) …`` option lines unless the
options are just A–E).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.benchmarks.base import Benchmark, LoadedSplit, score_each
from specs_eval.benchmarks.hub import Checks, load_located
from specs_eval.benchmarks.local import image_ref_error, load_image
from specs_eval.benchmarks.schemas import SCHEMAS
from specs_eval.benchmarks.snapshot import Layout, Located, flat_layout
from specs_eval.core.prompt import Prompt
from specs_eval.core.records import Response, ScoreResult
from specs_eval.rules import mathvision as mvr

INSTRUCTION = ('Please solve the problem step by step and put your answer in one "\\boxed{}". '
               'If it is a multiple choice question, only one letter is allowed in the "\\boxed{}".\n')


def gold_option_text(row: dict[str, Any]) -> str:
    options = list(row.get("options") or [])
    answer = str(row.get("answer", ""))
    if options and len(answer) == 1 and 0 <= ord(answer) - ord("A") < len(options):
        return str(options[ord(answer) - ord("A")])
    return ""


class MathVision(Benchmark):
    name: ClassVar[str] = "mathvision"
    hf_id: ClassVar[str] = "MathLLMs/MathVision"
    #: pinned hub revision: MathLLMs/MathVision@14b5e86a ("Update README.md"; data/test + data/testmini parquet
    #: files unchanged since ac21b30, read on the hub's tree pages); SPECS_EVAL_MATHVISION_REVISION overrides it
    revision: ClassVar[str] = "14b5e86a95856c4231a056b82f658584eae2b309"
    id_field: ClassVar[str] = "id"
    splits: ClassVar[dict[str, int | None]] = {"test": 3040, "testmini": 304}
    default_splits: ClassVar[tuple[str, ...]] = ("testmini",)
    profiles: ClassVar[tuple[str, ...]] = ("official",)
    breakdown_keys: ClassVar[tuple[str, ...]] = ("subject", "level")
    default_max_new_tokens: ClassVar[int] = 2048

    def layout(self) -> Layout:
        return flat_layout(self.hf_id, os.environ.get("SPECS_EVAL_MATHVISION_REVISION", self.revision), "data",
                           lambda split: split)

    def load(self, split: str, data: str | Path | None = None, limit: int | None = None, seed: int = 0
             ) -> LoadedSplit:
        return self._load(split, data, limit, "run")

    def load_for_scoring(self, split: str, data: str | Path | None = None) -> LoadedSplit:
        return self._load(split, data, None, "score")

    def _load(self, split: str, data: str | Path | None, limit: int | None, purpose: str) -> LoadedSplit:
        self.check_split(split)

        def prepare(loc: Located) -> None:
            for r in loc.rows:
                if isinstance(r.get("id"), int) and not isinstance(r.get("id"), bool):
                    r["id"] = str(r["id"])

        def checks(loc: Located) -> Checks:
            images = None
            if purpose == "run":
                def images(row: dict[str, Any]) -> str | None:
                    value = row.get("decoded_image") if row.get("decoded_image") is not None else row.get("image")
                    return image_ref_error(value, row.get("_base_dir"), f"image of {row.get('id')}")
            return Checks(schema=SCHEMAS[self.name][purpose], images=images)

        return load_located(benchmark=self.name, split=split, data=data, layout=self.layout(), id_field="id",
                            expected=self.splits[split], limit=limit, checks_for=checks, prepare=prepare)

    def prompt_text(self, row: dict[str, Any]) -> str:
        options = [str(o) for o in (row.get("options") or [])]
        block = ""
        if options and "".join(options) != "ABCDE":
            block = "".join(f"({chr(65 + i)}) {o}\n" for i, o in enumerate(options))
        return INSTRUCTION + f"{row['question']}\n{block}"

    def official_prompt(self, row: dict[str, Any]) -> Prompt:
        text = self.prompt_text(row)
        value = row.get("decoded_image") if row.get("decoded_image") is not None else row.get("image")
        base = Path(row["_base_dir"]) if row.get("_base_dir") else None
        return Prompt.simple(text, [load_image(value, base, what=f"image of {row.get('id')}")])

    def score(self, rows: Sequence[dict[str, Any]], responses: Sequence[Response], profile: str | None = None
              ) -> list[ScoreResult]:
        self.check_profile(profile)
        return score_each(rows, responses, self._score_one)

    @staticmethod
    def _score_one(row: dict[str, Any], resp: Response) -> ScoreResult:
        if not resp.text.strip():
            return ScoreResult(score=0.0, correct=False, parse_status="empty", method="empty")
        answer = mvr.extract_model_answer(resp.text)
        gold = str(row.get("answer", ""))
        ok = mvr.is_equal(gold, answer) or mvr.is_equal(gold_option_text(row), answer)
        return ScoreResult(score=float(ok), correct=ok, prediction=answer, extracted=answer,
                           parse_status="ok" if answer else "failed", method="official")

    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"subject": row.get("subject"), "level": row.get("level")}

    def official_breakdown(self, records: Sequence[Any]) -> dict[str, Any]:
        """``math_level_subject_acc``: ``-all``, ``-level{L}``, subject, subject×level keys, "c/n=acc%"."""
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for s in records:
            subject, level = s.meta.get("subject"), s.meta.get("level")
            for key in ("-all", f"-level{level}", f"{subject}", f"{subject}_level{level}", f"-level{level}_{subject}"):
                counts[key][0] += int(bool(s.correct))
                counts[key][1] += 1
        return {k: f"{c}/{n}={round(c / max(n, 1) * 100, 2)}%" for k, (c, n) in sorted(counts.items())}
