"""MegaBench end to end on the fixture dataset: loading, prompts, oracle, engine, official files, judge."""

from __future__ import annotations

import json

import mb_fixture
import pytest

from specs_eval.benchmarks import get_benchmark
from specs_eval.benchmarks.megabench import MegaBench
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.judge import JudgeVerdict
from specs_eval.core.records import GenerationRecord
from specs_eval.run.scoring import benchmark_results, score_generations


class FakeJudge:
    """Stands in for GPT-4o (gpt-4o-2024-08-06), which cannot run offline: answers a fixed score."""

    judge_id = "fake-gpt-4o@offline"

    def __init__(self, reply: str = "**Score explanation**: fine.\n**Score**: 7", ok: bool = True) -> None:
        self.reply, self.ok, self.calls = reply, ok, []

    def complete(self, messages, *, max_tokens=256):
        self.calls.append(messages)
        if not self.ok:
            return JudgeVerdict(judge_id=self.judge_id, request_hash="h", raw=None, error="HTTP 500")
        return JudgeVerdict(judge_id=self.judge_id, request_hash=f"h{len(self.calls)}", raw=self.reply)


def _generations(bench, loaded, split, responses):
    return [GenerationRecord(benchmark="megabench", split=split, id=bench.row_id(r), doc_hash="", prompt_hash="",
                             prompt="", response=responses[bench.row_id(r)]) for r in loaded.rows]


def test_registered_and_loads_local_core(fixture_dataset):
    bench = get_benchmark("megabench")
    assert isinstance(bench, MegaBench)
    core = bench.load("core", data=fixture_dataset)
    assert {r["task_name"] for r in core.rows} == set(mb_fixture.CORE_TASKS)
    assert core.info.source == "local" and core.info.rows == len(core.rows)
    open_ = bench.load("open", data=fixture_dataset)
    assert {r["task_name"] for r in open_.rows} == mb_fixture.OPEN_TASKS
    si = bench.load("core_single_image", data=fixture_dataset)
    names = {r["task_name"] for r in si.rows}
    assert "fx_exact_letter" not in names and "fx_video" not in names and "fx_bleu" in names
    # strings are kept exactly as stored
    raw = [json.loads(line) for line in fixture_dataset.read_text(encoding="utf-8").splitlines()]
    assert core.rows[0] == raw[0]


def test_missing_field_and_unknown_split(tmp_path, fixture_dataset):
    bad = tmp_path / "bad.jsonl"
    row = dict(mb_fixture.rows()[0])
    del row["metric_info"]
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(BenchmarkError, match="metric_info"):
        MegaBench().load("core", data=bad)
    with pytest.raises(BenchmarkError, match="no split"):
        MegaBench().load("validation", data=fixture_dataset)


def test_official_prompt_interleaves_media(fixture_dataset):
    bench = MegaBench()
    rows = bench.load("core", data=fixture_dataset).rows
    first = next(r for r in rows if r["task_name"] == "fx_exact_letter")
    prompt = bench.build_prompt(first)
    kinds = [p["type"] for p in prompt.parts]
    # description text, global image, rest of the description, example text, query text, query image
    assert kinds == ["text", "image", "text", "text", "text", "image"]
    assert prompt.parts[0]["text"] == "Look at the picture" and prompt.parts[1]["index"] == 0
    assert prompt.parts[2]["text"] == "and answer." and prompt.parts[4]["text"] == "Question: which one?"
    assert [img.getpixel((0, 0)) for img in prompt.images] == [(255, 0, 0), (0, 0, 255)]
    specs = bench.build_prompt(first, "specs")
    assert specs.parts[:-1] == prompt.parts and "boxed" in specs.parts[-1]["text"]
    video = next(r for r in rows if r["task_name"] == "fx_video")
    vp = bench.build_prompt(video)
    texts = [p["text"] for p in vp.parts if p["type"] == "text"]
    assert "<video frames start>" in texts and "<video frames end>" in texts
    assert len(vp.images) == 10
    assert bench.meta(video)["video_frames"] == {"./data/fx_video/clip.mp4": {"sampled_frames": 10,
                                                                               "total_frames": 10}}


def test_placeholder_count_mismatch_is_an_error(fixture_dataset):
    bench = MegaBench()
    row = dict(bench.load("core", data=fixture_dataset).rows[0])
    row["query_text"] = "no placeholder here"
    with pytest.raises(BenchmarkError, match="placeholders"):
        bench.build_prompt(row)


def test_oracle_scores_one_on_every_core_task(fixture_dataset):
    """The official GROUND_TRUTH_ORACLE self-test: gold answers score 1.0 on every core task."""
    bench = MegaBench()
    core = bench.load("core", data=fixture_dataset)
    gens = _generations(bench, core, "core", {bench.row_id(r): mb_fixture.oracle_response(r) for r in core.rows})
    samples = score_generations(bench, {bench.row_id(r): r for r in core.rows}, gens)
    bad = {s.meta["task_name"]: s.scores["official"].details for s in samples if s.score != 1.0}
    assert not bad
    official = benchmark_results(bench, samples).official
    assert official["model_summary"]["core"]["macro_mean_score"] == 1.0
    assert official["model_summary"]["core"]["num_eval_tasks"] == len(mb_fixture.CORE_TASKS)
    assert not official["unavailable_metrics"] and not official["unknown_metrics"]


def test_engine_end_to_end_with_known_answers(fixture_dataset, tmp_path):
    bench = MegaBench(judge=FakeJudge())
    data = {}
    responses = {}
    for split in ("core", "open"):
        loaded = bench.load(split, data=fixture_dataset)
        data[split] = loaded
        for r in loaded.rows:
            responses[bench.row_id(r)] = mb_fixture.oracle_response(r)
    wrong = mb_fixture.row_of("fx_exact_letter", 0)
    responses[str(wrong["id"])] = "Answer: C"
    samples = []
    for split, loaded in data.items():
        gens = _generations(bench, loaded, split, responses)
        samples += score_generations(bench, {bench.row_id(r): r for r in loaded.rows}, gens)
    res = benchmark_results(bench, samples)
    n_core = len(mb_fixture.CORE_TASKS)
    core = res.official["model_summary"]["core"]
    # fx_exact_letter has 2 queries, one wrong: task score 0.5; all other core tasks 1.0
    assert core["macro_mean_score"] == pytest.approx((n_core - 1 + 0.5) / n_core)
    n_q = len(data["core"].rows)
    assert core["micro_mean_score"] == pytest.approx((n_q - 1) / n_q)
    open_ = res.official["model_summary"]["open"]
    assert open_["macro_mean_score"] == pytest.approx(0.7)  # judge says 7/10 on both queries
    assert res.official["model_summary"]["overall_score"] == pytest.approx(
        (core["macro_mean_score"] * n_core + 0.7) / (n_core + 1))
    assert res.splits["core"].accuracy == pytest.approx((n_q - 1) / n_q)
    assert res.official["judge"] == "fake-gpt-4o@offline"
    kw = res.official["keyword_stats"]
    assert set(kw) == {"skills", "input_format", "output_format", "input_num", "app"}
    assert kw["input_num"]["video"]["count"] == 1 and kw["input_num"]["video"]["num_samples"] == 2
    assert res.official["single_image"]["core"]["num_eval_tasks"] == n_core - 2
    # official files
    written = bench.write_official_outputs(samples, tmp_path / "official")
    aqr = json.loads((tmp_path / "official" / "all_query_responses.json").read_text())
    assert {t["task_name"] for t in aqr} == set(mb_fixture.TASKS)
    first = next(t for t in aqr if t["task_name"] == "fx_exact_letter")
    assert first["global_images"] == ["./data/fx_exact_letter/global.png"]
    assert first["query_response"][0]["correct_answer"] == {"answer": "B"}
    dws = json.loads((tmp_path / "official" / "data_with_scores_core.json").read_text())
    task = next(t for t in dws["data"] if t["task_name"] == "fx_exact_letter")
    assert task["task_score"] == 1.0 and task["mean_task_score"] == 0.5 and task["eval_type"] == "rule"
    assert task["query_response"][0]["scores"] == {"field": {"answer": 0.0}, "info": {}, "query": 0.0}
    summary = json.loads((tmp_path / "official" / "analysis" / "summary_and_keyword_stats.json").read_text())
    assert summary["model_summary"]["core"] == {k: core[k] for k in ("num_eval_tasks", "num_eval_samples",
                                                                      "macro_mean_score")}
    tr = json.loads((tmp_path / "official" / "analysis" / "task_results.json").read_text())
    assert len(tr) == n_core + 1 and set(written) >= {"all_query_responses", "data_with_scores_open"}


def test_open_set_without_judge_is_not_scored_not_zero(fixture_dataset, tmp_path):
    bench = MegaBench()
    loaded = bench.load("open", data=fixture_dataset)
    gens = _generations(bench, loaded, "open", {bench.row_id(r): "A fine haiku." for r in loaded.rows})
    samples = score_generations(bench, {bench.row_id(r): r for r in loaded.rows}, gens)
    assert all(s.scores["official"].details["not_scored"] for s in samples)
    res = benchmark_results(bench, samples)
    assert res.splits["open"].accuracy is None
    assert res.splits["open"].extra["n_not_scored"] == len(samples)
    assert res.official["model_summary"]["open"] is None
    assert res.official["model_summary"]["not_scored"]["open"] == ["fx_open_judge"]
    assert "gpt_4o_as_judge" in res.official["unavailable_metrics"]
    bench.write_official_outputs(samples, tmp_path)
    dws = json.loads((tmp_path / "data_with_scores_open.json").read_text())
    assert "mean_task_score" not in dws["data"][0] and dws["data"][0]["not_scored"] == 2


def test_judge_prompt_cache_and_failures():
    row = mb_fixture.row_of("fx_open_judge", 0)
    judge = FakeJudge()
    bench = MegaBench(judge=judge)
    first = bench.score_one(row, "Leaves fall slowly")
    assert first.score == pytest.approx(0.7) and not first.details["not_scored"]
    text = judge.calls[0][0]["content"][-1]["text"]
    assert "Question: Write a haiku about autumn." in text and "Reference: A haiku about autumn leaves." in text
    assert "Answer: Leaves fall slowly" in text
    bench.score_one(row, "Leaves fall slowly")
    assert len(judge.calls) == 1  # cached by request hash
    no_score = MegaBench(judge=FakeJudge(reply="I think it is good")).score_one(row, "x")
    assert no_score.score == 0.0 and not no_score.details["not_scored"]  # upstream: no score parsed -> 0
    failed = MegaBench(judge=FakeJudge(ok=False)).score_one(row, "x")
    assert failed.details["not_scored"] and "judge call failed" in str(failed.details["unavailable"])


def test_unavailable_metric_and_unknown_metric_are_reported(fixture_dataset):
    from specs_eval.rules.megabench.metrics import geometry

    geometry.set_geocoder(None)  # the official geocoder needs the network
    bench = MegaBench()
    geo = bench.score_one(mb_fixture.row_of("fx_geo"), mb_fixture.oracle_response(mb_fixture.row_of("fx_geo")))
    assert geo.details["not_scored"] and "Nominatim" in geo.details["unavailable"]["location"]
    row = dict(mb_fixture.row_of("fx_simple_str"))
    row["metric_info"] = row["metric_info"].replace("simple_str_match", "fancy_new_metric")
    res = bench.score_one(row, "Answer: x")
    assert res.parse_status == "error" and res.details["unknown_metrics"] == ["fancy_new_metric"]
    assert res.details["not_scored"]


def test_broken_rows_never_raise():
    bench = MegaBench()
    for broken in ({"task_name": "t", "metric_info": "{not python", "answer": "{}"},
                   {"task_name": "t", "metric_info": str({"field_score_function": {"a": "exact_str_match"},
                                                          "response_parse_function": "answer_string"}),
                    "answer": str({"a": "1", "b": "2"})},
                   {"task_name": "t", "metric_info": "{}", "answer": "'just a string'"}):
        res = bench.score_one(broken, "Answer: 1")
        assert res.parse_status == "error" and res.details["not_scored"]


def test_missing_optional_dependency_is_unavailable_not_zero(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "unidecode", None)  # makes "import unidecode" raise ImportError
    res = MegaBench().score_one(mb_fixture.row_of("fx_near_str"), "Answer: cafe de flore")
    assert res.details["not_scored"]
    assert "unavailable: pip install specs-eval[megabench]" in res.details["unavailable"]["answer"]


def test_hub_loading_uses_pinned_revision_and_checks_counts(monkeypatch, tmp_path):
    """No --data: the pinned revision's snapshot in the HF cache is read, and a config whose row count differs
    from the published one is refused; a revision that is not cached is an error offline (never a download)."""
    import datasets

    from tests.hub_layouts import HubFixture, make_hf_cache

    def snapshot(tmp):
        root = tmp / "MEGA-Bench"
        rows = [dict(r) for r in mb_fixture.rows() if r["task_name"] != "fx_open_judge"]
        (root / "core").mkdir(parents=True)
        datasets.Dataset.from_list(rows).to_parquet(str(root / "core" / "test-00000-of-00001.parquet"))
        return HubFixture(root, {}, {})

    rev = "abc1230000000000000000000000000000000000"
    fx = make_hf_cache(tmp_path, "TIGER-Lab/MEGA-Bench", snapshot, revision=rev)
    monkeypatch.setenv("HF_HUB_CACHE", str(fx.root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BenchmarkError, match="expected 6531"):
        MegaBench(revision=rev).load("core")
    with pytest.raises(BenchmarkError, match="not in the HF cache and offline mode"):
        MegaBench(revision="f" * 40).load("core")


def test_judge_with_images_and_ascii_art(fixture_dataset):
    from specs_eval.rules.megabench.judge import _find_monospace_font

    judge = FakeJudge()
    bench = MegaBench(judge=judge)
    bench.load("core", data=fixture_dataset)  # sets the media root
    row = dict(mb_fixture.row_of("fx_open_judge", 0))
    row["query_media"] = str(["./data/fx_exact_letter/q0.png"])
    row["metric_info"] = row["metric_info"].replace("'no image'", "'with image'")
    res = bench.score_one(row, "An answer")
    assert res.score == pytest.approx(0.7)
    content = judge.calls[-1][0]["content"]
    assert content[0]["type"] == "image_url" and content[0]["image_url"]["url"].startswith("data:image/jpeg")
    ascii_row = dict(mb_fixture.row_of("fx_open_judge", 0))
    ascii_row["answer"] = str({"answer": " /\\\n/__\\"})
    ascii_row["metric_info"] = str({"field_score_function": {"answer": "ascii_art_gpt4o_judge"},
                                    "aggregation": {"function": "mean", "field_weights": {"answer": 1}},
                                    "response_parse_function": "ascii_answer_string"})
    yes = MegaBench(judge=FakeJudge(reply="yes")).score_one(ascii_row, "Answer:\n /\\\n/__\\")
    if _find_monospace_font() is None:
        assert yes.details["not_scored"]
    else:
        assert yes.score == 1.0 and yes.details["eval_type"] == "llm"
