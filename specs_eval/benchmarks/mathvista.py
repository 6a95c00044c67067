"""MathVista (``AI4Math/MathVista``): testmini scored by the official rules, test → submission file.

Profiles (see docs/scoring.md):

* ``official`` — the official pipeline of ``lupantech/MathVista`` (``extract_answer.py`` +
  ``calculate_score.py``). A prediction's ``extraction`` is scored as given (as the
  official pipeline does on its saved output files). Without one, the official quick
  rules run (empty → ``""``, exact choice text, int/float parse); what they cannot
  decide needs the official LLM extractor: ``self.judge`` if configured, otherwise the
  sample is an ``error`` (counted, never guessed). Normalisation keeps the official
  Levenshtein-nearest choice.
* ``rules`` — judge-free, *not* the official scorer: the deterministic extractor of
  ``rules/mathvista.py``; no Levenshtein fallback; anything it cannot read (refusals,
  "none of the options", program-of-thought code included) is a counted parse failure.
  Default, because it is the only profile that can score every response offline; its
  measured agreement with the official verdicts is in docs/scoring.md.
* ``judge`` — the official quick rules, then ``self.judge`` with the official 5-shot
  extraction prompt (cached on disk by the judge), then official normalisation. A judge
  failure marks the sample ``error``; it never falls back to ``rules``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.benchmarks.base import Benchmark, LoadedSplit, score_each
from specs_eval.benchmarks.hub import Checks, load_located, mark_withheld
from specs_eval.benchmarks.local import image_ref_error, load_image
from specs_eval.benchmarks.schemas import SCHEMAS
from specs_eval.benchmarks.snapshot import Layout, Located, flat_layout
from specs_eval.core.prompt import Prompt
from specs_eval.core.records import Response, ScoreResult
from specs_eval.rules import answers
from specs_eval.rules import mathvista as mv
from specs_eval.rules.prompts import mathvista_extraction_prompt

#: the keys ``calculate_score.py`` breaks accuracy down by (``skills`` is multi-label)
OFFICIAL_KEYS = ("question_type", "answer_type", "language", "source", "category", "task", "context", "grade",
                 "skills")
JUDGE_MAX_TOKENS = 256


class MathVista(Benchmark):
    name: ClassVar[str] = "mathvista"
    hf_id: ClassVar[str] = "AI4Math/MathVista"
    #: pinned hub revision (tree of AI4Math/MathVista at 2b6ad694, "Update README.md": data/testmini + 2 test
    #: shards, read on the hub's tree page; also pinned by third-party configs); SPECS_EVAL_MATHVISTA_REVISION
    #: overrides it. The revision actually read is recorded in DatasetInfo.revision.
    revision: ClassVar[str] = "2b6ad69445fbb5695c9b165475e8decdbeb97747"
    id_field: ClassVar[str] = "pid"
    splits: ClassVar[dict[str, int | None]] = {"testmini": 1000, "test": 5141}
    default_splits: ClassVar[tuple[str, ...]] = ("testmini",)
    profiles: ClassVar[tuple[str, ...]] = ("rules", "official", "judge")
    default_profile: ClassVar[str] = "rules"
    profile_notes: ClassVar[dict[str, str]] = {
        "rules": "judge-free, not official: deterministic extraction, no LLM (agreement in docs/scoring.md)",
        "official": "official pipeline: given extractions, else quick rules + judge",
        "judge": "official quick rules + your LLM judge with the official prompt",
    }
    judge_profiles: ClassVar[tuple[str, ...]] = ("judge",)
    breakdown_keys: ClassVar[tuple[str, ...]] = OFFICIAL_KEYS
    answers_withheld: ClassVar[tuple[str, ...]] = ("test",)
    default_max_new_tokens: ClassVar[int] = 2048

    def layout(self) -> Layout:
        return flat_layout(self.hf_id, os.environ.get("SPECS_EVAL_MATHVISTA_REVISION", self.revision), "data",
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
                if isinstance(r.get("pid"), int) and not isinstance(r.get("pid"), bool):
                    r["pid"] = str(r["pid"])

        def checks(loc: Located) -> Checks:
            images = None
            if purpose == "run":
                def images(row: dict[str, Any]) -> str | None:
                    value = row.get("decoded_image") if row.get("decoded_image") is not None else row.get("image")
                    return image_ref_error(value, row.get("_base_dir"), f"image of {row.get('pid')}")
            return Checks(schema=SCHEMAS[self.name][purpose], answers_required=split not in self.answers_withheld,
                          images=images)

        return load_located(benchmark=self.name, split=split, data=data, layout=self.layout(), id_field="pid",
                            expected=self.splits[split], limit=limit, checks_for=checks, prepare=prepare,
                            tag=lambda r: (r.get("metadata") or {}).get("split")
                            if isinstance(r.get("metadata"), dict) else None,
                            answers_withheld=lambda loc: split in self.answers_withheld or None)

    def official_prompt(self, row: dict[str, Any]) -> Prompt:
        """``official``: the dataset's ``query`` (hint + question + choices), exactly."""
        text = str(row["query"])
        base = row.get("_base_dir")
        value = row["decoded_image"] if row.get("decoded_image") is not None else row.get("image")
        return Prompt.simple(text, [load_image(value, base, what=f"image of {row.get('pid')}")])

    # ------------------------------------------------------------------ scoring
    def score(self, rows: Sequence[dict[str, Any]], responses: Sequence[Response], profile: str | None = None
              ) -> list[ScoreResult]:
        profile = self.check_profile(profile)
        if profile == "rules":
            out = score_each(rows, responses, self._score_rules)
        else:
            # the judge (when one is configured) runs inline: it has its own deadlines
            out = score_each(rows, responses,
                             lambda row, resp: self._score_official(row, resp, use_given=profile == "official"),
                             bounded=self.judge is None)
        # test split: the gold answers are withheld; the verdicts are not scores (submission file only)
        return [mark_withheld(v) if row.get("answer") in (None, "") else v for row, v in zip(rows, out, strict=True)]

    @staticmethod
    def _verdict(pred: str | None, row: dict[str, Any]) -> bool:
        if row.get("answer") in (None, ""):  # test split: answers withheld
            return False
        return answers.safe_equal(pred, row["answer"])

    def _score_rules(self, row: dict[str, Any], resp: Response) -> ScoreResult:
        extraction, method = mv.rules_extract(resp.text, row)
        pred = mv.rules_normalize(extraction, row)
        if pred is None:
            status = "empty" if method == "empty" else "failed"
            return ScoreResult(score=0.0, correct=False, extracted=extraction, parse_status=status, method=method)
        ok = self._verdict(pred, row)
        return ScoreResult(score=float(ok), correct=ok, prediction=pred, extracted=extraction, method=method)

    def _score_official(self, row: dict[str, Any], resp: Response, use_given: bool) -> ScoreResult:
        details: dict[str, Any] = {}
        if use_given and resp.extraction is not None:
            extraction, method = resp.extraction, "given_extraction"
        else:
            extraction = mv.official_quick_extract(resp.text, row)
            method = "official_quick_rules"
            if extraction is None:
                if self.judge is None:
                    return ScoreResult(
                        score=0.0, correct=False, parse_status="error", method="needs_llm_extraction",
                        details={"error": "the official pipeline needs an LLM extraction here: pass "
                                          "'extraction' in the predictions or configure a judge (--judge-url)"})
                verdict = self.judge.complete(
                    [{"role": "user", "content": mathvista_extraction_prompt(str(row.get("query", "")), resp.text)}],
                    max_tokens=JUDGE_MAX_TOKENS)
                details = {"judge_id": verdict.judge_id, "judge_raw": verdict.raw, "judge_cached": verdict.cached,
                           "request_hash": verdict.request_hash}
                if not verdict.ok:
                    details["error"] = verdict.error or "judge returned no text"
                    return ScoreResult(score=0.0, correct=False, parse_status="error", method="judge_error",
                                       details=details)
                extraction, method = str(verdict.raw).strip(), "judge"
        pred = mv.official_normalize(extraction, row)
        ok = self._verdict(pred, row)
        empty = isinstance(extraction, str) and not extraction.strip()
        if row.get("question_type") == "multi_choice":
            # A nearest-choice decision is the official fallback: report it as such.
            stated = mv.rules_normalize(mv.rules_extract(str(extraction), row)[0], row) if not empty else None
            status = "fallback" if stated != pred else "ok"
        else:
            status = "failed" if pred is None else "ok"
        if empty:
            status = "fallback" if pred is not None else "empty"
        return ScoreResult(score=float(ok), correct=ok, prediction=pred, extracted=extraction,
                           parse_status=status, method=method, details=details)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ reporting
    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        m = row.get("metadata") or {}
        out = {k: m.get(k) for k in OFFICIAL_KEYS if k not in ("question_type", "answer_type")}
        out["question_type"] = row.get("question_type")
        out["answer_type"] = row.get("answer_type")
        out["skills"] = list(m.get("skills") or [])
        return out

    def official_breakdown(self, records: Sequence[Any]) -> dict[str, Any]:
        """``scores.json`` of ``calculate_score.py``: average, then per key accuracy/correct/total."""
        if not records:
            return {}
        total = len(records)
        correct = sum(bool(s.correct) for s in records)
        scores: dict[str, Any] = {"average": {"accuracy": correct / total, "correct": correct, "total": total}}
        for key in OFFICIAL_KEYS:
            groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for s in records:
                value = s.meta.get(key)
                for v in value if isinstance(value, list) else [value]:
                    if v is None:
                        continue
                    groups[str(v)][0] += int(bool(s.correct))
                    groups[str(v)][1] += 1
            table = {v: {"accuracy": c / n, "correct": c, "total": n} for v, (c, n) in groups.items() if n}
            scores[key] = dict(sorted(table.items(), key=lambda kv: kv[1]["accuracy"], reverse=True))
        return scores

    def submission(self, split: str, samples: Sequence[Any]) -> dict[str, Any] | None:
        """The official output JSON keyed by ``pid`` (response, extraction, prediction)."""
        out: dict[str, Any] = {}
        for s in samples:
            verdict = s.scores.get(s.profile)
            out[s.id] = {
                "pid": s.id,
                "question_type": s.meta.get("question_type"),
                "answer_type": s.meta.get("answer_type"),
                "response": s.response,
                "extraction": verdict.extracted if verdict is not None else None,
                "prediction": s.prediction,
            }
        return out
