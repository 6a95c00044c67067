"""MathVerse (``AI4Math/MathVerse``): testmini (all five visual versions) and its vision-only subset.

The official pipeline (``ZrrSkywalker/MathVerse`` ``evaluation/extract_answer_s1.py`` +
``score_answer_s2.py``) uses GPT twice: to extract the answer and to judge whether it is
"consistent" with the gold answer. Profiles:

* ``official`` — both stages with ``self.judge`` and the official prompts (a given
  ``extraction`` skips stage 1). A judgement other than 0/1 or a failed call is an
  ``error`` (upstream loops until it gets 0/1; we do not loop forever).
* ``quick_match`` — the official ``--quick_match`` option: extraction (given or judged)
  equals the gold string exactly.
* ``rules`` (default, offline) — deterministic extraction (``rules/extract.py``), then
  for multi-choice the option letter, for free-form exact match or ``math-verify``
  equivalence standing in for the judge's "same meaning" test.

Prompt ``official``: the dataset's ``query_cot`` (the CoT prompt the paper's CoT-E
evaluation used); ``query_wo`` is the direct-answer prompt.
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
from specs_eval.benchmarks.snapshot import Layout, Located, single_file_layout
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.prompt import Prompt
from specs_eval.core.records import Response, ScoreResult
from specs_eval.rules import mathverse as mvs
from specs_eval.rules.prompts import mathverse_extraction_prompt, mathverse_score_prompt

VISION_ONLY = "Vision Only"


class MathVerse(Benchmark):
    name: ClassVar[str] = "mathverse"
    hf_id: ClassVar[str] = "AI4Math/MathVerse"
    #: pinned hub revision: AI4Math/MathVerse@96641f24 ("Add question_for_eval", the last data commit; read on the
    #: hub's commit history); SPECS_EVAL_MATHVERSE_REVISION overrides it
    revision: ClassVar[str] = "96641f2457cd16c28be227a47371e41366d9607e"
    id_field: ClassVar[str] = "sample_index"
    splits: ClassVar[dict[str, int | None]] = {"testmini": 3940, "vision_only": 788}
    default_splits: ClassVar[tuple[str, ...]] = ("vision_only",)
    profiles: ClassVar[tuple[str, ...]] = ("rules", "official", "quick_match")
    default_profile: ClassVar[str] = "rules"
    profile_notes: ClassVar[dict[str, str]] = {
        "rules": "judge-free, not official: rules + math-verify stand in for both GPT stages",
        "official": "official two-stage GPT extraction + judgement with your judge",
        "quick_match": "official --quick_match: exact string match",
    }
    judge_profiles: ClassVar[tuple[str, ...]] = ("official",)
    breakdown_keys: ClassVar[tuple[str, ...]] = ("problem_version", "subject", "subfield", "question_type")
    default_max_new_tokens: ClassVar[int] = 2048

    def layout(self) -> Layout:
        return single_file_layout(self.hf_id, os.environ.get("SPECS_EVAL_MATHVERSE_REVISION", self.revision),
                                  lambda split: "testmini.parquet")

    def load(self, split: str, data: str | Path | None = None, limit: int | None = None, seed: int = 0
             ) -> LoadedSplit:
        return self._load(split, data, limit, "run")

    def load_for_scoring(self, split: str, data: str | Path | None = None) -> LoadedSplit:
        return self._load(split, data, None, "score")

    def _load(self, split: str, data: str | Path | None, limit: int | None, purpose: str) -> LoadedSplit:
        self.check_split(split)

        def prepare(loc: Located) -> None:
            for r in loc.rows:
                if isinstance(r.get(self.id_field), int) and not isinstance(r.get(self.id_field), bool):
                    r[self.id_field] = str(r[self.id_field])
            if split == "vision_only":
                keep = [i for i, r in enumerate(loc.rows) if r.get("problem_version") == VISION_ONLY]
                if not keep:
                    versions = sorted({str(r.get("problem_version")) for r in loc.rows})
                    raise BenchmarkError(f"mathverse vision_only: no row has problem_version {VISION_ONLY!r} in "
                                         f"{data or self.hf_id} (versions there: {', '.join(versions[:8])})")
                loc.rows = [loc.rows[i] for i in keep]
                loc.origins = [loc.origins[i] for i in keep]

        def checks(loc: Located) -> Checks:
            images = None
            if purpose == "run":
                def images(row: dict[str, Any]) -> str | None:
                    value = row.get("image")
                    if value in (None, ""):
                        return None  # text-only rows have no image
                    return image_ref_error(value, row.get("_base_dir"), f"image of {row.get(self.id_field)}")
            return Checks(schema=SCHEMAS[self.name][purpose], images=images)

        return load_located(benchmark=self.name, split=split, data=data, layout=self.layout(),
                            id_field=self.id_field, expected=self.splits[split], limit=limit, checks_for=checks,
                            prepare=prepare, config="testmini" if data is None else None)

    def official_prompt(self, row: dict[str, Any]) -> Prompt:
        text = str(row.get("query_cot") or row.get("question"))
        value = row.get("image")
        base = Path(row["_base_dir"]) if row.get("_base_dir") else None
        images = [] if value in (None, "") else [load_image(value, base, what=f"image of {row.get('sample_index')}")]
        return Prompt.simple(text, images)

    def score(self, rows: Sequence[dict[str, Any]], responses: Sequence[Response], profile: str | None = None
              ) -> list[ScoreResult]:
        profile = self.check_profile(profile)
        if profile == "rules":
            return score_each(rows, responses, lambda row, resp: mvs.score_rules(row, resp.text))
        return score_each(rows, responses, lambda row, resp: self._score_judged(row, resp, profile), bounded=False)

    def _score_judged(self, row: dict[str, Any], resp: Response, profile: str) -> ScoreResult:
        details: dict[str, Any] = {}
        extraction = resp.extraction
        if extraction is None:
            if self.judge is None:
                return ScoreResult(score=0.0, correct=False, parse_status="error", method="needs_llm_extraction",
                                   details={"error": "MathVerse extraction needs 'extraction' in the predictions "
                                                     "or a judge (--judge-url)"})
            v = self.judge.complete([{"role": "user", "content": mathverse_extraction_prompt(resp.text)}],
                                    max_tokens=256)
            details.update(judge_id=v.judge_id, extract_raw=v.raw, extract_cached=v.cached)
            if not v.ok:
                details["error"] = v.error or "no text"
                return ScoreResult(score=0.0, correct=False, parse_status="error", method="judge_error",
                                   details=details)
            extraction = str(v.raw).replace("Extracted Answer: ", "").strip()
        gold = str(row.get("answer", ""))
        if profile == "quick_match":
            ok = gold == extraction
            return ScoreResult(score=float(ok), correct=ok, prediction=extraction, extracted=extraction,
                               method="quick_match", details=details)
        if self.judge is None:
            return ScoreResult(score=0.0, correct=False, extracted=extraction, parse_status="error",
                               method="needs_judge", details={"error": "the official profile needs a judge"})
        question = str(row.get("question_for_eval") or row.get("question", ""))
        v = self.judge.complete([{"role": "user", "content": mathverse_score_prompt(question, gold, extraction)}],
                                max_tokens=16)
        details.update(judge_id=v.judge_id, judge_raw=v.raw, judge_cached=v.cached)
        judgement = (v.raw or "").replace("Judgement:", "").strip()
        if not v.ok or judgement not in ("0", "1"):
            details["error"] = v.error or f"judgement not 0/1: {judgement[:40]!r}"
            return ScoreResult(score=0.0, correct=False, extracted=extraction, parse_status="error",
                               method="judge_error", details=details)
        ok = judgement == "1"
        return ScoreResult(score=float(ok), correct=ok, prediction=extraction, extracted=extraction,
                           method="judge", details=details)

    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        m = row.get("metadata") or {}
        return {"problem_version": row.get("problem_version"), "subject": m.get("subject"),
                "subfield": m.get("subfield"), "question_type": row.get("question_type"),
                "problem_index": row.get("problem_index")}

    def official_breakdown(self, records: Sequence[Any]) -> dict[str, Any]:
        """``score_answer_s2.py``: accuracy per subject, per subject-subfield and per problem version."""
        subj: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        ver: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for s in records:
            c = int(bool(s.correct))
            cell = subj[str(s.meta.get("subject"))][str(s.meta.get("subfield"))]
            cell[0] += c
            cell[1] += 1
            ver[str(s.meta.get("problem_version"))][0] += c
            ver[str(s.meta.get("problem_version"))][1] += 1
        out: dict[str, Any] = {"subjects": {}, "versions": {}}
        for sub, fields in subj.items():
            c = sum(v[0] for v in fields.values())
            n = sum(v[1] for v in fields.values())
            out["subjects"][sub] = {"acc": c / n, "n": n,
                                    "subfields": {f: {"acc": v[0] / v[1], "n": v[1]} for f, v in fields.items()}}
        for v, (c, n) in ver.items():
            out["versions"][v] = {"acc": c / n, "n": n}
        total = sum(n for _, n in ver.values())
        out["Total"] = {"acc": sum(c for c, _ in ver.values()) / total if total else 0.0, "n": total}
        return out


