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
from specs_eval.benchmarks.hub import Checks, load_located, mark_withheld
from specs_eval.benchmarks.local import image_ref_error, load_image
from specs_eval.benchmarks.schemas import SCHEMAS
from specs_eval.benchmarks.snapshot import Layout, Located, subject_layout
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.prompt import Prompt
from specs_eval.core.records import Response, ScoreResult
from specs_eval.rules import mmmu as rules

MC_INSTRUCTION = "Answer with the option's letter from the given choices directly."
OPEN_INSTRUCTION = "Answer the question using a single word or phrase."
_IMAGE_TOKEN = re.compile(r"<image (\d+)>")


def is_mc(row: dict[str, Any]) -> bool:
    return str(row.get("question_type", "")).strip() == "multiple-choice"


def _no_answer(value: Any) -> bool:
    """Test rows before the 2026-02-12 answer release hold no answer (``None``, ``""`` or ``"[]"``)."""
    return value is None or (isinstance(value, str) and value.strip() in ("", "[]")) or value == []


class MMMU(Benchmark):
    name: ClassVar[str] = "mmmu"
    hf_id: ClassVar[str] = "MMMU/MMMU"
    #: Hub revision loaded when no --data is given: MMMU/MMMU@98e6ac0c, pinned by several independent public
    #: evaluation setups (validation: 900 rows, 847 multiple-choice, 53 open) and the revision one public
    #: preparation script found to carry the test answers released on 2026-02-12 (its test parquet answers equal
    #: MMMU-Benchmark/MMMU@268471d mmmu/answer_dict_test.json on all 10,500 ids). That the test answers are in
    #: this revision is a third-party observation, not the authors' word; a test split without answers is
    #: treated as withheld. SPECS_EVAL_MMMU_REVISION overrides it; DatasetInfo.revision records what was read.
    revision: ClassVar[str] = "98e6ac0cb9b7b2cd2c991b85a50762edc4aedc68"
    id_field: ClassVar[str] = "id"
    splits: ClassVar[dict[str, int | None]] = {"validation": 900, "dev": 150, "test": 10500}
    default_splits: ClassVar[tuple[str, ...]] = ("validation",)
    profiles: ClassVar[tuple[str, ...]] = ("official", "strict", "lmms-eval", "vlmevalkit")
    default_profile: ClassVar[str] = "official"
    breakdown_keys: ClassVar[tuple[str, ...]] = ("subject", "discipline", "question_type", "topic_difficulty")
    answers_withheld: ClassVar[tuple[str, ...]] = ("test",)
    default_max_new_tokens: ClassVar[int] = 1024

    # ------------------------------------------------------------------ data
    def layout(self) -> Layout:
        return subject_layout(self.hf_id, os.environ.get("SPECS_EVAL_MMMU_REVISION", self.revision), rules.SUBJECTS,
                              self.splits)

    def load(self, split: str, data: str | Path | None = None, limit: int | None = None, seed: int = 0
             ) -> LoadedSplit:
        return self._load(split, data, limit, "run")

    def load_for_scoring(self, split: str, data: str | Path | None = None) -> LoadedSplit:
        """Rows with the fields the scorer reads (``id``, ``question_type``, ``answer``, ``options`` for parsing
        multiple-choice responses); the official ``answer_dict_<split>.json`` is accepted as well."""
        return self._load(split, data, None, "score")

    def _load(self, split: str, data: str | Path | None, limit: int | None, purpose: str) -> LoadedSplit:
        self.check_split(split)
        state: dict[str, Any] = {}

        def prepare(loc: Located) -> None:
            answer_file = False
            for r in loc.rows:
                if "answer" not in r and "ground_truth" in r:  # the official answer_dict_<split>.json layout
                    r["answer"] = r["ground_truth"]
                    answer_file = True
            if answer_file and any("options" not in r for r in loc.rows if is_mc(r)):
                loc.notes.append("an official answer file without options: multiple-choice predictions are compared "
                                 "as given, like main_eval_only.py (give the parsed letter, or score raw responses "
                                 "against rows that have options)")
            blank = [r for r in loc.rows if _no_answer(r.get("answer"))]
            if blank and len(blank) < len(loc.rows) and split in self.answers_withheld:
                rid = blank[0].get("id")
                raise BenchmarkError(f"mmmu {split}: {len(blank)} of {len(loc.rows)} rows have no answer (first: "
                                     f"{rid}); a copy either has the released answers for every row or for none")
            state["withheld"] = bool(loc.rows) and len(blank) == len(loc.rows) and split in self.answers_withheld

        def checks(loc: Located) -> Checks:
            images = None
            if purpose == "run":
                def images(row: dict[str, Any]) -> str | None:
                    for i in self.image_indices(row):
                        problem = image_ref_error(row.get(f"image_{i}"), row.get("_base_dir"), f"image_{i}")
                        if problem is not None:
                            return f"image_{i}: {problem}"
                    return None
            return Checks(schema=SCHEMAS[self.name][purpose], answers_required=not state.get("withheld"),
                          images=images)

        return load_located(benchmark=self.name, split=split, data=data, layout=self.layout(), id_field="id",
                            expected=self.splits[split], limit=limit, checks_for=checks, prepare=prepare,
                            tag=lambda r: str(r.get("id", "")).split("_", 1)[0] if "_" in str(r.get("id", "")) else None,
                            config=None if data is not None else "all 30 subjects",
                            answers_withheld=lambda loc: state.get("withheld") or None)

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
        return score_each(rows, responses, lambda row, resp: self._score_one(row, resp.text, profile, rng),
                          stateful=rng is not None)

    def _score_one(self, row: dict[str, Any], text: str, profile: str, rng: random.Random | None) -> ScoreResult:
        if _no_answer(row.get("answer")):  # test split before the answer release: submission file only
            return mark_withheld(self._score_gold(row, text, profile, rng, ""))
        return self._score_gold(row, text, profile, rng, rules.parse_gold(row.get("answer", "")))

    def _score_gold(self, row: dict[str, Any], text: str, profile: str, rng: random.Random | None,
                    gold: str | list[str]) -> ScoreResult:
        if is_mc(row) and "options" not in row:
            return self._score_eval_only(text, gold)
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
            correct = rules.eval_multi_choice(gold, pred)
            return ScoreResult(score=float(correct), correct=correct, prediction=pred, extracted=pred,
                               parse_status=status, method=rule)  # type: ignore[arg-type]
        if not text.strip():
            return ScoreResult(score=0.0, correct=False, prediction=None, parse_status="empty", method="empty")
        preds = rules.parse_open_response(text)
        correct = rules.eval_open(gold, preds)
        shown = json.dumps(preds, ensure_ascii=False, default=str)
        return ScoreResult(score=float(correct), correct=correct, prediction=shown, extracted=shown,
                           parse_status="ok", method="open")

    @staticmethod
    def _score_eval_only(text: str, gold: str | list[str]) -> ScoreResult:
        """A multiple-choice row without options (the official answer file): ``main_eval_only.py`` compares
        the prediction as given with ``eval_multi_choice``; we strip surrounding whitespace only."""
        pred = text.strip()
        letter = len(pred) == 1 and "A" <= pred <= "Z"
        correct = rules.eval_multi_choice(gold, pred)
        status = "empty" if not pred else ("ok" if letter else "failed")
        return ScoreResult(score=float(correct), correct=correct, prediction=pred or None, extracted=pred or None,
                           parse_status=status, method="eval_only",  # type: ignore[arg-type]
                           details={} if letter or not pred else {"note": "not a single option letter"})

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

