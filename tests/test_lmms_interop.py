"""lmms-eval interop: the exported task folder, its scorer path, and (where lmms-eval exists) a real run.

The export and the generated ``utils.py`` are tested without lmms-eval: its functions are
imported from the written file and must reproduce our prompts, pixels and verdicts. The end-to-end
test needs lmms-eval, which must not share the CPU environment (its torchvision breaks a CPU
torch): it runs when ``lmms_eval`` is importable here, or when ``SPECS_LMMS_EVAL_PYTHON`` names an
interpreter that has lmms-eval and specs-eval installed (docs/backends.md), and skips otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from specs_eval.benchmarks import get_benchmark
from specs_eval.core.records import GenerationRecord, GenerationSettings, TaskSpec
from specs_eval.lmms.export import export_lmms_eval
from specs_eval.lmms.requests import cut_at_stops, settings_from_gen_kwargs
from specs_eval.rules.formats import FORMATS
from specs_eval.run.engine import RunConfig, run_eval
from specs_eval.run.scoring import score_generations

from .conftest import run_cli
from .loopback import make_noisy_model


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")


def _utils(folder: Path):
    spec = importlib.util.spec_from_file_location(f"lmms_utils_{abs(hash(folder))}", folder / "utils.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_export_reproduces_our_prompts_pixels_and_verdicts(tmp_path):
    yaml_path = export_lmms_eval("toyworld", "id", tmp_path / "task", limit=6)
    cfg = yaml.load(yaml_path.read_text(), Loader=_Loader)
    data = Path(cfg["dataset_kwargs"]["data_files"]["test"])
    assert data.is_absolute() and data.exists() and cfg["task"] == "specs_toyworld_id" == yaml_path.stem
    assert cfg["generation_kwargs"]["until"] == [] and cfg["generation_kwargs"]["max_new_tokens"] == 96
    assert {m["metric"] for m in cfg["metric_list"]} == {"accuracy", "parse_failure", "format_compliance"}
    docs = [json.loads(x) for x in data.read_text().splitlines()]
    utils = _utils(yaml_path.parent)
    bench = get_benchmark("toyworld")
    rows = bench.load("id", limit=6).rows
    gens, verdicts = [], []
    for i, (doc, row) in enumerate(zip(docs, rows, strict=True)):
        prompt = bench.build_prompt(row)
        assert utils.doc_to_text(doc, None) == prompt.text.replace("<image>", "")
        [img] = utils.doc_to_visual(doc)
        assert img.tobytes() == prompt.images[0].tobytes() and img.size == prompt.images[0].size
        # a right answer in the requested format, a wrong one, and noise
        text = [FORMATS[row["format"]].render(row["rationale"], row["answer_token"]), "<answer>\\boxed{zz}</answer>",
                "???"][i % 3]
        verdicts.append(utils.process_results(doc, [text]))
        gens.append(GenerationRecord(benchmark="toyworld", split="id", id=row["pid"], doc_hash="", prompt_hash="",
                                     prompt="", response=text))
    ours = score_generations(bench, {r["pid"]: r for r in rows}, gens, "official", ["rules"])
    assert [v["accuracy"]["score"] for v in verdicts] == [s.score for s in ours]
    assert [v["accuracy"]["pid"] for v in verdicts] == [r["pid"] for r in rows]  # the id survives lmms-eval's logs
    assert [v["format_compliance"] for v in verdicts] == [float(bool(s.format_ok)) for s in ours]
    assert [v["accuracy"]["score"] for v in verdicts][::3] == [1.0, 1.0]
    assert utils.aggregate_mean([v["accuracy"] for v in verdicts]) == pytest.approx(
        sum(s.score for s in ours) / len(ours))
    # the rows file in our own schema feeds `specs-eval score --data`
    own = [json.loads(x) for x in (data.parent / "id.rows.jsonl").read_text().splitlines()]
    assert [r["pid"] for r in own] == [r["pid"] for r in rows] and "decoded_image" not in own[0]


def test_export_cli_and_bad_input(tmp_path):
    r = run_cli("export-lmms-eval", "-b", "toyworld", "-s", "ood_task", "--limit", "3", "--out", str(tmp_path / "t"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "t" / "specs_toyworld_ood_task.yaml").exists() and "--include_path" in r.stdout
    r = run_cli("export-lmms-eval", "-b", "toyworld", "-s", "nope", "--out", str(tmp_path / "u"))
    assert r.returncode == 2 and "no split" in r.stderr and "Traceback" not in r.stderr


def test_gen_kwargs_mapping():
    s = settings_from_gen_kwargs({"max_new_tokens": 12, "temperature": 0, "do_sample": False, "until": []}, 4)
    assert (s.max_new_tokens, s.greedy, s.top_k, s.batch_size) == (12, True, None, 4)
    s = settings_from_gen_kwargs({"temperature": 0.7, "top_p": 0.9, "do_sample": True}, 1)
    assert (s.temperature, s.top_p, s.max_new_tokens) == (0.7, 0.9, 1024)
    assert settings_from_gen_kwargs({"temperature": 0.7, "do_sample": False}, 1).greedy
    assert cut_at_stops("a\n\nb</s>", ["</s>", "\n\n"]) == "a" and cut_at_stops("abc", []) == "abc"
    assert cut_at_stops("abc", "c") == "ab"


def _lmms_python() -> str | None:
    env = os.environ.get("SPECS_LMMS_EVAL_PYTHON")
    if env:
        return env
    return sys.executable if importlib.util.find_spec("lmms_eval") is not None else None


@pytest.mark.slow
@pytest.mark.skipif(_lmms_python() is None, reason="lmms-eval is not importable here (it needs its own environment: "
                    "set SPECS_LMMS_EVAL_PYTHON to its interpreter, with specs-eval installed there; docs/backends.md)")
def test_lmms_eval_runs_our_task_with_our_model_and_matches_specs_eval_run(micro_model, tmp_path):
    python = _lmms_python()
    assert python
    model = make_noisy_model(micro_model, tmp_path / "noisy")  # answers differ per prompt: a real comparison
    yaml_path = export_lmms_eval("toyworld", "id", tmp_path / "task", limit=6, max_new_tokens=16)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "LMMS_EVAL_DATASETS_CACHE": str(tmp_path / "ds-cache"), "HF_HOME": str(tmp_path / "hf")}
    out = tmp_path / "lmms-out"
    r = subprocess.run([python, "-m", "lmms_eval", "--model", "specs_eval", "--model_args",
                        f"model={model},backend=hf,device=cpu,threads=1", "--tasks", yaml_path.stem,
                        "--include_path", str(yaml_path.parent), "--batch_size", "3", "--log_samples",
                        "--output_path", str(out), "--verbosity", "DEBUG"],
                       env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    # lmms-eval can exit 0 on failure: the results file is the evidence
    results = sorted(out.rglob("*_results.json"))
    samples = sorted(out.rglob(f"*_samples_{yaml_path.stem}.jsonl"))
    assert r.returncode == 0 and results and samples, r.stderr[-3000:]
    lmms_acc = json.loads(results[0].read_text())["results"][yaml_path.stem]["accuracy,none"]
    ours = run_eval(RunConfig(model=str(model), tasks=[TaskSpec(benchmark="toyworld", split="id", limit=6)],
                              generation=GenerationSettings(max_new_tokens=16, batch_size=3), out=tmp_path / "runs",
                              run_name="ours"))
    assert lmms_acc == pytest.approx(ours.results.benchmarks["toyworld"].splits["id"].accuracy)
    gens = {json.loads(x)["id"]: json.loads(x)["response"]
            for x in (ours.run_dir / "generations.jsonl").read_text().splitlines()}
    preds = tmp_path / "preds.jsonl"
    imp = run_cli("import", "lmms-eval", str(samples[0]), "--benchmark", "toyworld", "--out", str(preds))
    assert imp.returncode == 0, imp.stderr
    imported = {json.loads(x)["id"]: json.loads(x)["response"] for x in preds.read_text().splitlines()}
    assert imported == gens  # the raw responses lmms-eval logged are our engine's, sample by sample
    assert len(set(gens.values())) == len(gens)
    scored = run_cli("score", "--benchmark", "toyworld", "--split", "id", "--data",
                     str(yaml_path.parent / "data" / "id.rows.jsonl"), "--predictions", str(preds), "--out",
                     str(tmp_path / "rescored"))
    assert scored.returncode == 0, scored.stderr
    rescored = json.loads((tmp_path / "rescored" / "results.json").read_text())
    assert rescored["benchmarks"]["toyworld"]["splits"]["id"]["accuracy"] == pytest.approx(lmms_acc)
