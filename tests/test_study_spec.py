"""GF study specs: parsing and its errors, labels of format-shift sets, the registry checks, the
format-shift variants' scoring on real benchmark rows, and Γ over a spec equal to the hand-given
single-benchmark Γ (so the toy study's numbers do not move when its roles come from a spec)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis import gf_from_runs
from analysis.report import ReportOptions, build_report
from specs_eval.benchmarks import get_benchmark
from specs_eval.benchmarks.study import available_specs, load_spec, merge_tasks, study_tasks
from specs_eval.benchmarks.variants import PROMPT_VARIANTS
from specs_eval.core.errors import SpecsError
from specs_eval.core.records import GenerationRecord, TaskSpec
from specs_eval.core.study import GFStudySpec, parse_ref, spec_from_refs
from specs_eval.run.scoring import score_generations
from tests.conftest import mathvista_row, mmmu_row


def test_refs_parse_and_bad_refs_say_the_form():
    assert parse_ref("mathvista:testmini") == ("mathvista", "testmini", None)
    assert parse_ref(" mmmu:validation@json ") == ("mmmu", "validation", "json")
    for bad in ("mathvista", "mathvista:", ":testmini", "a:b@", "a:b@c@d", "a b:c"):
        with pytest.raises(SpecsError, match="BENCHMARK:SPLIT"):
            parse_ref(bad)


def test_labels_weights_and_roles():
    spec = GFStudySpec.model_validate({
        "name": "s", "prompt_variant": "specs",
        "id": ["mathvista:testmini"],
        "ood": ["mathvista:testmini@json", {"set": "mmmu:validation", "weight": 2}, "mmmu:validation@answer_line"]})
    assert [s.label for _, s in spec.sets()] == ["testmini", "testmini@json", "validation", "validation@answer_line"]
    assert [s.variant for _, s in spec.sets()] == ["specs", "json", "specs", "answer_line"]
    assert spec.roles() == {"id": {"mathvista:testmini": 1.0},
                            "ood": {"mathvista:testmini@json": 1.0, "mmmu:validation": 2.0,
                                    "mmmu:validation@answer_line": 1.0}}
    # naming the base variant explicitly is the same set, recorded under the plain split
    same = GFStudySpec.model_validate({"prompt_variant": "specs", "id": ["mathvista:testmini@specs"],
                                       "ood": ["mmmu:validation"]})
    assert same.id[0].label == "testmini"
    # a stored (resolved) spec validates again unchanged: what the manifest holds is what analysis reads
    assert GFStudySpec.model_validate(json.loads(spec.model_dump_json())) == spec


@pytest.mark.parametrize("data,needle", [
    ({"id": [], "ood": ["toyworld:ood_format"]}, "at least one ID set"),
    ({"id": ["toyworld:id"], "ood": ["toyworld:id"]}, "listed twice"),
    ({"id": ["toyworld:id"], "ood": ["toyworld:id@official"]}, "listed twice"),
    ({"id": ["toyworld:id"], "ood": [{"set": "toyworld:ood_task", "weight": 0}]}, "positive"),
    ({"id": ["toyworld:id"], "ood": ["toyworld:ood_task"], "metric": "f1"}, "unknown metric 'f1'"),
    ({"id": ["toyworld:id"], "ood": ["toyworld:ood_task"], "schema_version": 2}, "schema_version"),
    ({"id": ["toyworld:id"], "ood": ["toyworld:ood_task"], "alpha": 1}, "alpha: unknown key"),
])
def test_bad_specs_fail_with_the_field_named(data, needle):
    from specs_eval.benchmarks.study import parse_spec

    with pytest.raises(SpecsError, match=needle):
        parse_spec(data)


@pytest.mark.parametrize("ref,needle", [
    ("mathvist:testmini", "did you mean 'mathvista'"),
    ("mathvista:testmaxi", "no split 'testmaxi'"),
    ("mathvista:testmini@yaml", "no prompt variant 'yaml'"),
])
def test_registry_checks_name_the_set(ref, needle, tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(f"id: [toyworld:id]\nood: ['{ref}']\n")
    with pytest.raises(SpecsError, match=needle) as e:
        load_spec(p)
    assert "s.yaml" in str(e.value) and "ood set" in str(e.value)


def test_shipped_specs_load_and_become_tasks():
    assert {"toy-format", "toy-shifts", "qwen2.5-vl-7b-format"} <= set(available_specs())
    toy = load_spec("toy-format")
    tasks = study_tasks(toy, limit=7)
    # the toy study's sets are exactly the tasks it evaluated before specs existed
    assert tasks == [TaskSpec(benchmark="toyworld", split="id", limit=7),
                     TaskSpec(benchmark="toyworld", split="ood_format", limit=7)]
    real = study_tasks(load_spec("qwen2.5-vl-7b-format"))
    assert [(t.benchmark, t.set_name, t.prompt_variant) for t in real][:5] == [
        ("orsta", "heldout", "specs"), ("virl39k", "heldout", "specs"), ("mathvista", "testmini", "specs"),
        ("mathvista", "testmini@answer_line", "answer_line"), ("mathvista", "testmini@json", "json")]
    merged = merge_tasks([TaskSpec(benchmark="mathvista", split="testmini", prompt_variant="specs")], real)
    assert len(merged) == len(real)
    with pytest.raises(SpecsError, match="asked twice"):
        merge_tasks([TaskSpec(benchmark="mathvista", split="testmini", prompt_variant="official")], real)


def test_short_form_weights_must_name_an_ood_set():
    spec = spec_from_refs("toyworld:id", "toyworld:ood_task,toyworld:ood_format", {"toyworld:ood_task": 3})
    assert spec.roles()["ood"] == {"toyworld:ood_task": 3.0, "toyworld:ood_format": 1.0}
    with pytest.raises(SpecsError, match="not among the OOD sets"):
        spec_from_refs("toyworld:id", "toyworld:ood_task", {"toyworld:id": 2})
    with pytest.raises(SpecsError, match="--id and --ood"):
        spec_from_refs("toyworld:id", "")
    # report side: references name recorded splits literally
    rec = spec_from_refs("mathvista:testmini", "mathvista:testmini@json", recorded=True)
    assert [s.label for _, s in rec.sets()] == ["testmini", "testmini@json"]


# ---------------------------------------------------------------------------------------------
# format-shift variants on real benchmark rows


def _score(bench_name: str, row: dict, variant: str, text: str):
    bench = get_benchmark(bench_name)
    rid = bench.row_id(row)
    gen = GenerationRecord(benchmark=bench_name, split="x", id=rid, doc_hash="", prompt_hash="", prompt="",
                           response=text)
    return score_generations(bench, {rid: row}, [gen], variant)[0]


@pytest.mark.parametrize("variant,text,fmt_ok,correct", [
    ("json", '{"answer": "B"}', True, True),
    ("json", '```json\n{"answer": "B"}\n```', True, True),
    ("json", "The answer is (B).", False, True),          # right answer, wrong format
    ("json", '{"answer": "C"}', True, False),
    ("answer_line", "Pears are green.\nAnswer: B", True, True),
    ("answer_line", "Answer: B\nbecause pears", False, True),
    ("direct", "B", True, True),
])
def test_format_shift_on_mathvista_measures_the_asked_format(variant, text, fmt_ok, correct):
    row = mathvista_row("7")  # choices apple/pear/fig/plum, answer pear = B
    s = _score("mathvista", row, variant, text)
    assert s.format_ok is fmt_ok and s.correct is correct
    assert s.meta["requested_format"] == variant and s.meta["in_trained_format"] is False
    prompt = get_benchmark("mathvista").build_prompt({**row, "decoded_image": _img()}, variant).text
    assert prompt.endswith(PROMPT_VARIANTS[variant].instruction)


def test_format_shift_on_mmmu_and_trained_format_is_sticky():
    row = mmmu_row("validation_Art_9", answer="C")
    assert _score("mmmu", row, "json", '{"answer": "C"}').correct
    sticky = _score("mmmu", row, "json", "<think>fig</think><answer>\\boxed{C}</answer>")
    assert sticky.format_ok is False and sticky.meta["in_trained_format"] is True


def _img():
    from PIL import Image

    return Image.new("RGB", (4, 4))


# ---------------------------------------------------------------------------------------------
# Γ over a spec = the single-benchmark Γ of the same splits (same draws)


@pytest.mark.parametrize("name,metric,oods", [("toy-format", "format_compliance", ["ood_format"]),
                                               ("toy-shifts", "accuracy", ["ood_visual", "ood_task", "ood_format"])])
def test_spec_gf_equals_hand_given_roles(toy_run_dirs, name, metric, oods):
    by_spec = gf_from_runs(toy_run_dirs["base"], toy_run_dirs["dpo"], study=load_spec(name), n_boot=300)
    by_hand = gf_from_runs(toy_run_dirs["base"], toy_run_dirs["dpo"], "toyworld", metric=metric,
                           id_splits=["id"], ood_splits=oods, n_boot=300)
    assert by_spec.config.study == name and by_spec.config.metric == metric
    for k in ("g_id", "g_ood", "gamma", "gamma_ci", "g_id_ci", "g_ood_ci", "p_gamma_zero", "status"):
        assert getattr(by_spec, k) == getattr(by_hand, k), k
    assert by_spec.g_ood != 0 and by_spec.gamma_ci is not None


def test_weights_move_g_ood_to_the_weighted_mean(toy_run_dirs):
    base, cand = toy_run_dirs["base"], toy_run_dirs["sft"]
    spec = spec_from_refs("toyworld:id", "toyworld:ood_task,toyworld:ood_format", {"toyworld:ood_task": 3})
    g = gf_from_runs(base, cand, study=spec, n_boot=0)
    gains = {s.split: s.gain for s in g.splits}
    assert g.g_ood == pytest.approx((3 * gains["ood_task"] + gains["ood_format"]) / 4)
    assert g.g_id == pytest.approx(gains["id"])


def test_report_takes_the_study_and_marks_missing_sets(toy_run_dirs):
    spec = spec_from_refs("toyworld:id", "toyworld:ood_task,toyworld:id@json", recorded=True)
    rep = build_report([toy_run_dirs["base"], toy_run_dirs["sft"]], options=ReportOptions(study=spec, n_boot=0))
    d = rep.data
    assert d["study_spec"]["name"] == "cli" and len(d["gf"]) == 1 and d["gf"][0]["status"] == "refused"
    assert any(f["code"] == "study_set_missing" and "toyworld:id@json" in f["message"] for f in d["flags"])
    # the headline shows the study's roles, the other splits without a role
    roles = {h["split"]: h["role"] for h in d["headline"]}
    assert roles["id"] == "ID" and roles["ood_task"] == "OOD" and roles["ood_visual"] == ""


def test_scatter_points_are_the_weighted_role_means(toy_run_dirs):
    rep = build_report([toy_run_dirs["base"], toy_run_dirs["dpo"]], options=ReportOptions(n_boot=50))
    sc = rep.data["role_scatter"][0]
    cells = {(h["split"], r): c["value"] for h in rep.data["headline"] for r, c in h["cells"].items()}
    for p in sc["points"]:
        ood = sc["config"]["ood_splits"]
        assert p["psi_ood"] == pytest.approx(sum(cells[(s, p["run"])] for s in ood) / len(ood), abs=1e-4)
        assert p["psi_id"] == pytest.approx(cells[("id", p["run"])], abs=1e-4)
        lo, hi = p["psi_id_ci"]
        assert lo <= p["psi_id"] <= hi


def test_stored_spec_round_trips_through_a_manifest(tmp_path: Path):
    from specs_eval.core.records import GenerationSettings, ModelInfo, RunManifest

    m = RunManifest(toolkit_version="0", run_name="r", created="2025", config_hash="h",
                    model=ModelInfo(name="m", path="m", backend="hf"), generation=GenerationSettings(), tasks=[],
                    study=load_spec("qwen2.5-vl-7b-format"))
    back = RunManifest.model_validate_json(m.model_dump_json())
    assert back.study == m.study and back.study.ood[2].label == "testmini@json"
