"""MMMU (``MMMU/MMMU``): 30 subject configs, scored by the official rules or a named variant.

Profiles (all from the same responses; see docs/scoring.md):

* ``official`` — ``parse_multi_choice_response`` / ``parse_open_response`` / ``eval_open``
  of ``MMMU-Benchmark/MMMU`` (``eval/eval_utils.py``), with the random fallback drawn from
  one ``random.Random(42)`` per scoring pass, items in file order, exactly like the
  official script (which seeds once at import and parses in file order). Results match
  the official script sample by sample.
* ``strict`` — the same parse without the random fallback: an unparseable MC response is
  wrong and counted as a parse failure.
* ``lmms-eval`` — lmms-eval's MC parser (``X `` and ``X.`` passes) with ``random`` seeded 0
  (its default ``--seed``); open questions as official.
* ``vlmevalkit`` — VLMEvalKit's exact-matching path: ``can_infer_option``/``can_infer_text``;
  open questions become a two-way MC (gold vs "Other Answers"); no judge, so a response
  it cannot infer is "Z" (wrong, counted as a parse failure).

Prompt ``official``: ``configs/llava1.5.yaml`` of the MMMU repo — question, a newline,
``(A) option`` lines, then "Answer with the option's letter from the given choices
directly." (open: question, newline, "Answer the question using a single word or
phrase."). ``<image N>`` placeholders stay in the text, as in the official prompt; the
referenced images are passed in placeholder-number order before the text.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.benchmarks.base import Benchmark, LoadedSplit, score_each
from specs_eval.benchmarks.hub import finish_load, load_hub_rows, read_local, require_fields
from specs_eval.benchmarks.local import load_image
from specs_eval.core.prompt import Prompt
from specs_eval.core.records import Response, ScoreResult
from specs_eval.rules import mmmu as rules

MC_INSTRUCTION = "Answer with the option's letter from the given choices directly."
OPEN_INSTRUCTION = "Answer the question using a single word or phrase."
REQUIRED = ("id", "question", "options", "answer", "question_type")
_IMAGE_TOKEN = re.compile(r"<image (\d+)>")


def is_mc(row: dict[str, Any]) -> bool:
    return str(row.get("question_type", "")).strip() == "multiple-choice"


class MMMU(Benchmark):
    name: ClassVar[str] = "mmmu"
    hf_id: ClassVar[str] = "MMMU/MMMU"
    #: Hub revision loaded when no --data is given. No commit SHA could be verified from this
    #: offline machine, so the default is the branch; set SPECS_EVAL_MMMU_REVISION to a SHA to
    #: pin it (the loaded revision is recorded in the manifest either way).
    revision: ClassVar[str] = "main"
    id_field: ClassVar[str] = "id"
    splits: ClassVar[dict[str, int | None]] = {"validation": 900, "dev": 150, "test": 10500}
    default_splits: ClassVar[tuple[str, ...]] = ("validation",)
    profiles: ClassVar[tuple[str, ...]] = ("official", "strict", "lmms-eval", "vlmevalkit")
    default_profile: ClassVar[str] = "official"
    breakdown_keys: ClassVar[tuple[str, ...]] = ("subject", "discipline", "question_type", "topic_difficulty")
    answers_withheld: ClassVar[tuple[str, ...]] = ("test",)
    default_max_new_tokens: ClassVar[int] = 1024

    # ------------------------------------------------------------------ data
    def load(self, split: str, data: str | Path | None = None, limit: int | None = None, seed: int = 0
             ) -> LoadedSplit:
        self.check_split(split)
        expected = self.splits[split]
        if data is not None:
            rows, _ = read_local(data, self.id_field)
            rows = [r for r in rows if str(r.get("id", "")).startswith(f"{split}_")] or rows
            return finish_load(benchmark=self.name, split=split, rows=rows, source="local", expected=expected,
                               limit=limit, path=data, validate=require_fields(self.name, REQUIRED, "id"))
        revision = os.environ.get("SPECS_EVAL_MMMU_REVISION", self.revision)
        rows = []
        for subject in rules.SUBJECTS:
            rows.extend(load_hub_rows(self.hf_id, subject, split, revision))
        return finish_load(benchmark=self.name, split=split, rows=rows, source="hf", expected=expected, limit=limit,
                           hf_id=self.hf_id, config="all 30 subjects", revision=revision,
                           validate=require_fields(self.name, REQUIRED, "id"))

    # ------------------------------------------------------------------ prompts
    def prompt_text(self, row: dict[str, Any], style: str = "official") -> str:
        """The official text prompt (``style="lmms-eval"`` gives lmms-eval's ``A. option`` layout)."""
        question = str(row["question"])
        if is_mc(row):
            options = rules.parse_options(row["options"]) or []
            if style == "lmms-eval":
                lines = "\n".join(f"{chr(65 + i)}. {o}" for i, o in enumerate(options))
                return f"{question}\n{lines}\n\n{MC_INSTRUCTION}"
            example = "".join(f"({chr(65 + i)}) {o}\n" for i, o in enumerate(options))
            return f"{question}\n{example}\n{MC_INSTRUCTION}"
        sep = "\n\n" if style == "lmms-eval" else "\n"
        return f"{question}{sep}{OPEN_INSTRUCTION}"

    def image_indices(self, row: dict[str, Any]) -> list[int]:
        """Image numbers referenced by ``<image N>`` in the question and options, ascending."""
        text = str(row.get("question", "")) + " " + str(row.get("options", ""))
        found = sorted({int(n) for n in _IMAGE_TOKEN.findall(text) if 1 <= int(n) <= 7})
        if not found and row.get("image_1") is not None:
            found = [1]
        return found

    def official_prompt(self, row: dict[str, Any]) -> Prompt:
        text = self.prompt_text(row)
        base = Path(row["_base_dir"]) if row.get("_base_dir") else None
        images = [load_image(row.get(f"image_{i}"), base, what=f"image_{i} of {row.get('id')}")
                  for i in self.image_indices(row)]
        return Prompt.simple(text, images)

    # ------------------------------------------------------------------ scoring
    def score(self, rows: Sequence[dict[str, Any]], responses: Sequence[Response], profile: str | None = None
              ) -> list[ScoreResult]:
        profile = self.check_profile(profile)
        # One random stream per scoring pass, consumed in file order (see module docstring).
        rng = {"official": random.Random(rules.OFFICIAL_SEED),
               "lmms-eval": random.Random(rules.LMMS_EVAL_SEED)}.get(profile)
        return score_each(rows, responses, lambda row, resp: self._score_one(row, resp.text, profile, rng))

    def _score_one(self, row: dict[str, Any], text: str, profile: str, rng: random.Random | None) -> ScoreResult:
        withheld = str(row.get("id", "")).startswith("test_")
        gold = rules.parse_gold(row.get("answer", ""))
        if profile == "vlmevalkit":
            return self._score_vlmevalkit(row, text, gold)
        if is_mc(row):
            options = rules.parse_options(row.get("options"))
            if options is None:
                return ScoreResult(score=0.0, correct=False, parse_status="error", method="bad_options",
                                   details={"error": f"options is not a list: {str(row.get('options'))[:80]}"})
            index2ans, letters = rules.choice_info(options)
            style = "lmms-eval" if profile == "lmms-eval" else "official"
            pred, status, rule = rules.parse_multi_choice(text, letters, index2ans, rng, style)
            correct = (not withheld) and rules.eval_multi_choice(gold, pred)
            return ScoreResult(score=float(correct), correct=correct, prediction=pred, extracted=pred,
                               parse_status=status, method=rule,  # type: ignore[arg-type]
                               details={"gold_withheld": True} if withheld else {})
        if not text.strip():
            return ScoreResult(score=0.0, correct=False, prediction=None, parse_status="empty", method="empty")
        preds = rules.parse_open_response(text)
        correct = (not withheld) and rules.eval_open(gold, preds)
        shown = json.dumps(preds, ensure_ascii=False, default=str)
        return ScoreResult(score=float(correct), correct=correct, prediction=shown, extracted=shown,
                           parse_status="ok", method="open", details={"gold_withheld": True} if withheld else {})

    def _score_vlmevalkit(self, row: dict[str, Any], text: str, gold: str | list[str]) -> ScoreResult:
        if is_mc(row):
            options = rules.parse_options(row.get("options")) or []
            choices = {chr(65 + i): o for i, o in enumerate(options)}
            target = gold if isinstance(gold, str) else gold[0]
        else:  # MMMU_preproc: open → two-way MC, gold answer is option A
            choices = {"A": str(row.get("answer", "")), "B": "Other Answers"}
            target = "A"
        pred = rules.vlmevalkit_infer(text, choices)
        if pred is None:
            status = "empty" if not text.strip() else "failed"
            return ScoreResult(score=0.0, correct=False, prediction="Z", extracted=None, parse_status=status,
                               method="no_inference")
        correct = pred == target
        return ScoreResult(score=float(correct), correct=correct, prediction=pred, extracted=pred,
                           parse_status="ok", method="can_infer")

    # ------------------------------------------------------------------ reporting
    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        subject = rules.subject_of(str(row.get("id", "")))
        return {
            "subject": subject,
            "discipline": rules.SUBJECT_TO_DISCIPLINE.get(subject or ""),
            "question_type": row.get("question_type"),
            "topic_difficulty": row.get("topic_difficulty"),
            "subfield": row.get("subfield"),
        }

    def official_breakdown(self, records: Sequence[Any]) -> dict[str, Any]:
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for s in records:
            subject = s.meta.get("subject") or "unknown"
            per[subject][0] += int(bool(s.correct))
            per[subject][1] += 1
        if not per:
            return {}
        return rules.official_layout({k: (v[0], v[1]) for k, v in per.items()})

    def submission(self, split: str, samples: Sequence[Any]) -> dict[str, Any] | None:
        """EvalAI's ``{id: prediction}``: the parsed letter for MC, the response for open items."""
        out: dict[str, Any] = {}
        for s in samples:
            if s.meta.get("question_type") == "multiple-choice":
                out[s.id] = s.prediction if s.prediction is not None else ""
            else:
                out[s.id] = s.response
        return out

