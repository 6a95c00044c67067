"""MEGA-Bench as a ``Benchmark``: configs as splits, the official scorer as the ``official`` profile.

Splits are the dataset's configs: ``core`` (440 rule-scored tasks), ``open`` (65
LLM-judged tasks), ``core_single_image`` and ``open_single_image``; the default is
``core``. With ``--data`` a local file may hold any mix of tasks: ``core``/``open``
keep the rule/LLM-scored tasks, the ``*_single_image`` splits also keep only tasks
whose metadata says ``num_input == "1-image"``.

Scoring profile ``official`` = the official evaluator (see
``specs_eval/rules/megabench``). Each sample's ``ScoreResult.score`` is its query
score (−1 counted as 0); field scores, parse result and the judge's reply are in
``details``. Samples that cannot be scored here (open tasks without a judge, an
unavailable metric, an unknown metric id) carry ``details["not_scored"] = True``
and are left out of accuracies; ``official_breakdown`` gives the official layout
(macro/micro, core/open/overall, keyword stats, single-image) and lists them.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from specs_eval.benchmarks.base import Benchmark, LoadedSplit, score_each
from specs_eval.benchmarks.hub import Checks, finish_load
from specs_eval.benchmarks.local import content_hash
from specs_eval.benchmarks.media import media_store
from specs_eval.benchmarks.megabench import loader
from specs_eval.benchmarks.megabench.official_outputs import (
    QueryRecord,
    TaskRecord,
    task_result,
    write_official_files,
)
from specs_eval.benchmarks.megabench.prompt import official_prompt as megabench_prompt
from specs_eval.benchmarks.schemas import SCHEMAS
from specs_eval.benchmarks.snapshot import locate
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.judge import Judge
from specs_eval.core.prompt import Prompt
from specs_eval.core.records import Response, ScoreResult
from specs_eval.rules.megabench import registry
from specs_eval.rules.megabench.aggregate import keyword_stats, model_summary
from specs_eval.rules.megabench.evaluate import QueryScore, evaluate_query, literal_field
from specs_eval.rules.megabench.judge import OpenSetJudge
from specs_eval.rules.megabench.metrics.latex_backend import backend_name

PROFILE = "official"
META_KEYS = ("skills", "input_format", "output_format", "num_input", "app")


class MegaBench(Benchmark):
    name: ClassVar[str] = "megabench"
    #: every task states its own output format: a format-shift variant would contradict it
    prompt_variants: ClassVar[tuple[str, ...]] = ("official", "specs")
    id_field: ClassVar[str] = "id"
    splits: ClassVar[dict[str, int | None]] = {c: loader.EXPECTED[c][1] for c in loader.CONFIGS}
    default_splits: ClassVar[tuple[str, ...]] = ("core",)
    profiles: ClassVar[tuple[str, ...]] = (PROFILE,)
    default_profile: ClassVar[str] = PROFILE
    breakdown_keys: ClassVar[tuple[str, ...]] = ("eval_type", "app", "output_format", "num_input",
                                                 "input_format", "skills")
    id_splits: ClassVar[tuple[str, ...]] = ("core",)
    ood_splits: ClassVar[tuple[str, ...]] = ()
    default_max_new_tokens: ClassVar[int] = 2048

    def __init__(self, judge: Judge | None = None, task_meta: str | Path | dict[str, Any] | None = None,
                 media_root: str | Path | None = None, revision: str = loader.REVISION) -> None:
        self.open_judge = OpenSetJudge(judge)
        self.revision = revision
        self.media_root: Path | None = Path(media_root) if media_root else (
            Path(os.environ["MEGABENCH_MEDIA_ROOT"]) if os.environ.get("MEGABENCH_MEDIA_ROOT") else None)
        self.task_meta: dict[str, dict[str, Any]] = (
            dict(task_meta) if isinstance(task_meta, dict) else loader.load_task_meta(task_meta))
        self._rows: dict[str, dict[str, Any]] = {}
        self._query_idx: dict[str, int] = {}
        self.media_logs: dict[str, dict[str, Any]] = {}

    # -- configuration -------------------------------------------------------------------
    def set_judge(self, judge: Judge | None) -> None:
        """Judge for the open set (the official one is gpt-4o-2024-08-06 at temperature 0)."""
        self.open_judge = OpenSetJudge(judge)

    @property  # type: ignore[override]
    def judge(self) -> Judge | None:
        """The open-set judge; assigning it (as the CLI does for every benchmark) calls ``set_judge``."""
        return self.open_judge.judge

    @judge.setter
    def judge(self, judge: Judge | None) -> None:
        self.set_judge(judge)

    # -- loading -------------------------------------------------------------------------
    def _keep(self, row: dict[str, Any], split: str) -> bool:
        try:
            et = registry.eval_type(literal_field(row.get("metric_info"), "metric_info"))
        except ValueError:
            et = "rule"
        if (et == "llm") != split.startswith("open"):
            return False
        if split.endswith("single_image"):
            meta = self.task_meta.get(str(row.get("task_name")))
            if meta is None:
                raise BenchmarkError(f"split {split!r} needs task metadata (all_task_meta.json) for task "
                                     f"{row.get('task_name')!r}; set MEGABENCH_TASK_META")
            return loader.is_single_image_task(meta)
        return True

    def load(self, split: str, data: str | Path | None = None, limit: int | None = None, seed: int = 0
             ) -> LoadedSplit:
        return self._load(split, data, limit, "run")

    def load_for_scoring(self, split: str, data: str | Path | None = None) -> LoadedSplit:
        """Rows with the fields the official evaluator reads (``id``, ``task_name``, ``answer``, ``metric_info``)."""
        return self._load(split, data, None, "score")

    def _load(self, split: str, data: str | Path | None, limit: int | None, purpose: str) -> LoadedSplit:
        self.check_split(split)
        loc = locate(data, split, loader.layout(self.revision), self.id_field)
        rows, origins = loc.rows, loc.origins
        if not self.task_meta:
            self.task_meta = loader.load_task_meta(loader.find_task_meta(data if loc.kind in ("file", "folder")
                                                                          else loc.root))
        if loc.kind in ("file", "folder"):  # a local file may mix configs: keep this split's tasks
            keep = [i for i, r in enumerate(rows) if self._keep(r, split)]
            if not keep:
                raise BenchmarkError(f"{data}: no rows belong to split {split!r}")
            rows, origins = [rows[i] for i in keep], [origins[i] for i in keep]
        if self.media_root is None:
            self.media_root = loader.media_source(loc.root) if loc.kind in ("snapshot", "hf-cache") else loc.root
        store = media_store(self.media_root)

        def media(row: dict[str, Any]) -> str | None:
            for col in ("global_media", "example_media", "query_media"):
                try:
                    paths = loader.media_list(row.get(col))
                except BenchmarkError as e:
                    return f"{col}: {e}"
                for rel in paths:
                    problem = store.problem(rel, f"{col} {rel}")
                    if problem is not None:
                        return f"{col}: {problem}"
            return None

        checks = Checks(schema=SCHEMAS[self.name][purpose], images=media if purpose == "run" else None)
        loaded = finish_load(benchmark=self.name, split=split, rows=rows, origins=origins,
                             source="hf" if data is None else "local", expected=loader.EXPECTED[split][1],
                             limit=limit, id_field=self.id_field, checks=checks, hf_id=loc.hf_id, config=split,
                             revision=loc.revision, pinned_revision=self.revision, path=data, files=loc.files,
                             notes=loc.notes)
        if data is not None and loc.kind in ("file", "folder"):
            loaded.info.expected_rows = None  # a local file may hold any subset of tasks
            loaded.info.notes = [n for n in loaded.info.notes if "the published split has" not in n]
        self._index(loaded.rows)
        loaded.info.content_hash = content_hash(loaded.rows)  # historical form: rows as loaded, ids included
        return loaded

    def _index(self, rows: Sequence[dict[str, Any]]) -> None:
        per_task: dict[str, int] = defaultdict(int)
        for r in rows:
            rid = self.row_id(r)
            self._rows[rid] = r
            self._query_idx[rid] = per_task[str(r.get("task_name"))]
            per_task[str(r.get("task_name"))] += 1

    # -- prompts -------------------------------------------------------------------------
    def official_prompt(self, row: dict[str, Any]) -> Prompt:
        prompt, log = megabench_prompt(row, self.media_root)
        self.media_logs[self.row_id(row)] = {"images": log.images, "videos": log.videos,
                                             "skipped_demo_images": log.skipped_demo_images}
        return prompt

    def target(self, row: dict[str, Any]) -> str:
        return str(row.get("answer", ""))

    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        task = str(row.get("task_name", ""))
        try:
            et = registry.eval_type(literal_field(row.get("metric_info"), "metric_info"))
        except ValueError:
            et = None
        m: dict[str, Any] = {"task_name": task, "eval_type": et}
        tm = self.task_meta.get(task) or {}
        for k in META_KEYS:
            if k in tm:
                m[k] = tm[k]
        media = self.media_logs.get(self.row_id(row))
        if media and media["videos"]:
            m["video_frames"] = media["videos"]
        return m

    # -- scoring -------------------------------------------------------------------------
    def _judge_images(self, row: dict[str, Any]) -> list[Any]:

        store = media_store(self.media_root)
        return [store.image(rel, f"judge image {rel}") for rel in loader.media_list(row.get("query_media"))
                if not loader.is_video_file(rel)]

    def score(self, rows: Sequence[dict[str, Any]], responses: Sequence[Response], profile: str | None = None
              ) -> list[ScoreResult]:
        self.check_profile(profile)
        self._index([r for r in rows if self.row_id(r) not in self._rows])
        # rule metrics under the per-sample time budget; with an open-set judge, inline (own deadlines)
        return score_each(rows, responses, lambda row, resp: self.score_one(row, resp.text),
                          bounded=self.open_judge.judge is None)

    def score_one(self, row: dict[str, Any], text: str) -> ScoreResult:
        """The official verdict on one response, as a ``ScoreResult``. Never raises."""
        images: list[Any] = []
        try:
            info = literal_field(row.get("metric_info"), "metric_info")
            config = info.get("gpt4o_eval_configs") if isinstance(info, dict) else None
            if (self.open_judge.judge is not None and isinstance(config, dict)
                    and config.get("judge_model_type") == "with image"):
                images = self._judge_images(row)
        except Exception as e:
            q = QueryScore(str(row.get("task_name", "")), "llm", -1.0, config_errors=[f"judge images: {e}"])
            return _to_result(q, text)
        return _to_result(evaluate_query(row, text, self.open_judge, images), text)

    # -- official layout -----------------------------------------------------------------
    def _task_records(self, samples: Sequence[Any]) -> list[TaskRecord]:
        tasks: dict[str, TaskRecord] = {}
        for s in samples:
            if getattr(s, "sample_idx", 0) != 0:
                continue
            verdict = s.scores.get(PROFILE) if s.scores else None
            details = verdict.details if verdict is not None else {}
            row = self._rows.get(s.id, {"id": s.id, "task_name": s.meta.get("task_name", "")})
            task = str(s.meta.get("task_name") or row.get("task_name", ""))
            et = str(s.meta.get("eval_type") or details.get("eval_type") or "rule")
            rec = tasks.setdefault(task, TaskRecord(task, et, meta=self.task_meta.get(task, {})))
            try:
                correct = literal_field(row.get("answer"), "answer") if "answer" in row else None
            except ValueError:
                correct = row.get("answer")
            scores = None if details.get("not_scored") or s.error is not None else details.get("official_scores")
            if s.error is not None:
                scores = {"field": {}, "info": {"generation_error": s.error}, "query": -1}
            rec.queries.append(QueryRecord(row=row, response=s.response, correct_answer=correct, scores=scores,
                                           query_idx=self._query_idx.get(s.id, len(rec.queries))))
        return list(tasks.values())

    def official_breakdown(self, records: Sequence[Any]) -> dict[str, Any]:
        """Macro/micro, core/open/overall, keyword stats and single-image numbers (official layout)."""
        tasks = self._task_records(records)
        if not tasks:
            return {}

        results = [task_result(t) for t in tasks]
        single = [r for r in results if loader.is_single_image_task(r.meta)]
        unavailable: dict[str, dict[str, Any]] = {}
        unknown: dict[str, list[str]] = defaultdict(list)
        config_errors: dict[str, list[str]] = defaultdict(list)
        metric_errors = 0
        for s in records:
            v = s.scores.get(PROFILE) if s.scores else None
            if v is None:
                continue
            d = v.details
            task = str(d.get("task_name", s.meta.get("task_name", "")))
            for reason in (d.get("unavailable") or {}).values():
                metric = reason.split(":", 1)[0]
                entry = unavailable.setdefault(metric, {"fields": 0, "tasks": set(), "reason": reason})
                entry["fields"] += 1
                entry["tasks"].add(task)
            for m in d.get("unknown_metrics") or []:
                if task not in unknown[m]:
                    unknown[m].append(task)
            for e in d.get("config_errors") or []:
                if e not in config_errors[task]:
                    config_errors[task].append(e)
            metric_errors += len(d.get("errors") or {})
        return {
            "profile": PROFILE,
            "model_summary": model_summary(results),
            "single_image": model_summary(single) if single else None,
            "keyword_stats": keyword_stats(results),
            "task_scores": {r.name: {"eval_type": r.eval_type, "num_query": r.num_query,
                                     "mean_task_score": r.mean_task_score if r.scored else None,
                                     "not_scored_queries": r.not_scored} for r in results},
            "unavailable_metrics": {m: {"fields": e["fields"], "tasks": sorted(e["tasks"]), "reason": e["reason"]}
                                    for m, e in sorted(unavailable.items())},
            "unknown_metrics": dict(unknown),
            "config_errors": dict(config_errors),
            "metric_exceptions": metric_errors,
            "judge": self.open_judge.judge_id,
            "latex_backend": backend_name(),
            "task_metadata": bool(self.task_meta),
        }

    def write_official_outputs(self, samples: Sequence[Any], out_dir: str | Path) -> dict[str, str]:
        """Write ``all_query_responses.json``, ``data_with_scores_{core,open}.json`` and ``analysis/``."""
        return write_official_files(self._task_records(samples), out_dir)

    def write_extra_outputs(self, split: str, samples: Sequence[Any], out_dir: Path) -> list[Path]:
        files = super().write_extra_outputs(split, samples, out_dir)
        written = self.write_official_outputs(samples, out_dir)
        return files + [Path(p) for p in written.values()]


def _to_result(q: QueryScore, text: str) -> ScoreResult:
    parsed = q.parsed
    if isinstance(parsed, dict) and len(parsed) == 1:
        pred: Any = next(iter(parsed.values()))
    else:
        pred = parsed
    prediction = pred if isinstance(pred, str) or pred is None else json.dumps(pred, ensure_ascii=False,
                                                                                default=str)
    if not text or not text.strip():
        status = "empty"
    elif q.config_errors or q.unknown_metrics:
        status = "error"
    elif not q.parse_ok:
        status = "failed"
    else:
        status = "ok"
    score = q.score
    details: dict[str, Any] = {
        "task_name": q.task_name,
        "eval_type": q.eval_type,
        "query_score": q.query_score if q.query_score == q.query_score else None,
        "fields": {k: (v if v == v else None) for k, v in q.fields.items()},
        "official_scores": q.official_scores(),
        "not_scored": q.not_scored,
    }
    for key in ("unavailable", "errors", "config_errors", "unknown_metrics", "warnings"):
        value = getattr(q, key)
        if value:
            details[key] = value
    return ScoreResult(score=score, correct=score >= 1.0 - 1e-12, prediction=prediction,
                       extracted=prediction, parse_status=status, method=q.parser or "none", details=details)
