"""``specs-train export`` as verl 0.9 and EasyR1 load and call it.

Two levels:

* Always (CI has neither framework): the exported ``reward.py`` through *reference callers* that
  restate, in our own code, what each framework does. Sources read (not copied):
  verl 0.9.1 wheel (= verl-project/verl tag v0.9.0, 483b8a0): ``verl/trainer/ppo/reward.py``
  (``get_custom_reward_fn``: file loaded as a fresh module, ``reward_kwargs`` merged into every
  call with the config winning), ``verl/experimental/reward_loop/reward_manager/naive.py``
  (``run_single``: keywords ``data_source, solution_str, ground_truth, extra_info``; verl adds
  ``num_turns`` and ``rollout_reward_scores`` to ``extra_info``), ``reward_loop.py`` (the batch's
  extra keys are the first sample's), ``verl/trainer/main_eval.py`` (positional call);
  EasyR1 main b44b311 ``verl/workers/reward/config.py`` (``path:fn``, default ``main``) and
  ``verl/workers/reward/function.py`` (``AutoRewardManager``: ``REWARD_TYPE`` module attribute,
  since PR 558; batch = a list of ``{response, response_length, ground_truth}``, sequential = one).
* When the frameworks are available (``SPECS_VERL_PYTHON``: an interpreter with verl installed;
  ``SPECS_EASYR1_SRC``: an EasyR1 source tree, run with that interpreter; specs-eval's core
  dependencies must import there too, ``SPECS_FRAMEWORK_PYTHONPATH`` may add a folder of them):
  the same files through the frameworks' own loaders (``tests/framework_checks.py``). Skipped
  otherwise, saying why.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

from specs_eval.core.prompt import Prompt
from specs_eval.rules.formats import FORMATS
from tests import hub_layouts as hl
from training.config import load_config
from training.data import PromptItem
from training.export import ExportError, export_rl, item_record

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "specs_eval" / "assets" / "tiny-base"


# ---------------------------------------------------------------- reference callers


def load_module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verl_load(path: Path, name: str = "compute_score", reward_kwargs: dict[str, Any] | None = None) -> Callable[..., Any]:
    """Like verl's ``get_custom_reward_fn``: a fresh module, config ``reward_kwargs`` merged into each call."""
    raw = getattr(load_module(path, f"custom_module_{abs(hash(str(path)))}"), name)
    extra = dict(reward_kwargs or {})
    return lambda *a, **kw: raw(*a, **{**kw, **extra})


def verl_call(fn: Callable[..., Any], row: dict[str, Any], response: str) -> dict[str, Any]:
    """Like ``NaiveRewardManager.run_single``: keywords only, ``extra_info`` extended by verl."""
    info = dict(row["extra_info"], num_turns=None, rollout_reward_scores={})
    return fn(data_source=row["data_source"], solution_str=response,
              ground_truth=row["reward_model"]["ground_truth"], extra_info=info)


def easyr1_load(spec: str) -> tuple[Callable[..., Any], str]:
    """Like EasyR1's ``RewardConfig.post_init`` + ``AutoRewardManager.__init__``."""
    path, name = spec.rsplit(":", 1) if ":" in spec else (spec, "main")
    module = load_module(Path(path), "custom_reward_fn")
    return getattr(module, name), getattr(module, "REWARD_TYPE", "batch")


def easyr1_call(fn: Callable[..., Any], reward_type: str, responses: list[str], truths: list[str]) -> dict[str, list]:
    """Like ``AutoRewardManager.compute_reward``: every returned key collected into metrics."""
    inputs = [{"response": r, "response_length": len(r.split()), "ground_truth": g}
              for r, g in zip(responses, truths, strict=True)]
    scores = fn(inputs) if reward_type == "batch" else [fn(i) for i in inputs]
    metrics: dict[str, list] = {}
    for s in scores:
        for k, v in s.items():
            metrics.setdefault(k, []).append(v)
    return metrics


# ---------------------------------------------------------------- exports


def _good(fmt: str, row: dict[str, Any]) -> str:
    r = json.loads(row["extra_info"]["row_json"]) if fmt == "verl" else json.loads(row["answer"])["row"]
    return FORMATS["specs"].render(r["rationale"], r["answer_token"])


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[dict[str, Any]]]]:
    import pyarrow.parquet as pq

    out = {}
    for fmt in ("verl", "easyr1"):
        d = tmp_path_factory.mktemp(fmt)
        cfg = load_config("tiny", ["data.limit=4", "eval.tasks=[{benchmark: toyworld, splits: [id], limit: 2}]"])
        export_rl(cfg, d, fmt)  # type: ignore[arg-type]
        out[fmt] = (d, pq.read_table(d / "train.parquet").to_pylist())
    return out


def test_verl_calls_the_exported_reward_by_keyword_with_consistent_keys(exports):
    d, rows = exports["verl"]
    fn = verl_load(d / "reward.py")
    outs = [verl_call(fn, r, _good("verl", r)) for r in rows] + [verl_call(fn, r, "no idea") for r in rows]
    assert [o["score"] for o in outs] == [1.5] * len(rows) + [0.0] * len(rows)
    assert all(list(o) == list(outs[0]) for o in outs), "verl reads the first sample's keys for the whole batch"
    assert {"score", "format", "accuracy", "not_scored"} <= set(outs[0])
    # config reward_kwargs arrive as keywords (a function without **kwargs would raise TypeError)
    assert verl_call(verl_load(d / "reward.py", reward_kwargs={"iou_threshold": 0.5}), rows[0], _good("verl", rows[0])) \
        == outs[0]
    # verl's offline main_eval calls it positionally
    positional = load_module(d / "reward.py", "r2").compute_score(rows[0]["data_source"], _good("verl", rows[0]),
                                                                  rows[0]["reward_model"]["ground_truth"])
    assert positional["accuracy"] == 1.0


def test_verl_readme_uses_the_current_reward_key(exports):
    readme = (exports["verl"][0] / "README.md").read_text()
    assert "reward.custom_reward_function.path=$PWD/reward.py" in readme
    assert "\n  custom_reward_function.path" not in readme and "**ignored**" in readme
    assert "data.max_prompt_length=512" in readme


@pytest.mark.parametrize("spec_suffix", [":compute_score", ""])
def test_easyr1_batch_and_sequential_calls(exports, spec_suffix):
    d, rows = exports["easyr1"]
    fn, reward_type = easyr1_load(f"{d / 'reward.py'}{spec_suffix}")
    assert reward_type == "batch"
    good, truth = _good("easyr1", rows[0]), rows[0]["answer"]
    for kind in ("batch", "sequential"):
        m = easyr1_call(fn, kind, [good, "no idea"], [truth, truth])
        assert m["overall"] == [1.5, 0.0] and m["format"] == [0.5, 0.0] and m["accuracy"] == [1.0, 0.0], kind
    with pytest.raises(TypeError, match="EasyR1 reward input"):
        fn([{"text": good}])


def test_export_refuses_a_placeholder_count_verl_would_assert_on():
    from PIL import Image

    prompt = Prompt(parts=[{"type": "image", "index": 0}, {"type": "text", "text": "What does <image> show?"}],
                    images=[Image.new("RGB", (28, 28))])
    item = PromptItem("toyworld", "train", "row-7", {"pid": "row-7", "answer": "1"}, prompt, "official")
    for fmt in ("verl", "easyr1"):
        with pytest.raises(ExportError, match=r"row toyworld/row-7: 2 <image> placeholders for 1 images"):
            item_record(item, 0, fmt)  # type: ignore[arg-type]


def _big_image_virl(tmp: Path) -> Path:
    """The ViRL39K fixture with one image replaced by a 1000 x 800 photo-sized JPEG (same layout)."""
    from PIL import Image

    fx = hl.make_virl39k(tmp)
    zpath = fx.root / hl.VIRL_ZIP
    with zipfile.ZipFile(zpath) as z:
        members = {n: z.read(n) for n in z.namelist()}
    buf = io.BytesIO()
    Image.new("RGB", (1000, 800), (90, 120, 200)).save(buf, "JPEG")
    members[f"images/{hl._virl_qid(2)}-0.jpg"] = buf.getvalue()
    with zipfile.ZipFile(zpath, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    return fx.root


def _processor_with_7b_bounds(tmp: Path) -> Path:
    """The tiny model's folder with Qwen2.5-VL-7B's pixel bounds (what counts prompt tokens for a 7B run)."""
    d = tmp / "tiny-7b-bounds"
    shutil.copytree(TINY, d)
    cfg = json.loads((d / "processor_config.json").read_text())
    cfg["image_processor"]["size"] = {"shortest_edge": 3136, "longest_edge": 12845056}
    (d / "processor_config.json").write_text(json.dumps(cfg))
    return d


@pytest.mark.parametrize("fmt,default", [("verl", 512), ("easyr1", 2048)])
def test_export_warns_with_the_max_prompt_length_to_set(tmp_path, fmt, default):
    root = _big_image_virl(tmp_path / "data")
    proc = _processor_with_7b_bounds(tmp_path)
    out = tmp_path / "out"
    warnings: list[str] = []
    cfg = load_config("tiny", [f"data.hf_id={root}", "data.limit=null"])
    summary = export_rl(cfg, out, fmt, processor=str(proc), log=warnings.append)  # type: ignore[arg-type]
    longest = summary["prompt_tokens"]["longest"]
    # 1000x800 -> 1008x812 (36 x 29 blocks of 28 px) = 1044 image tokens for verl; EasyR1 first scales it to
    # 262144 px (572x457), the processor then to 560x448 = 320 tokens
    if fmt == "verl":
        assert longest > 1044 > default
        assert summary["max_prompt_length"] == -(-longest // 64) * 64
        assert any(f"set data.max_prompt_length={summary['max_prompt_length']}" in w for w in warnings)
        assert f"data.max_prompt_length={summary['max_prompt_length']}" in (out / "README.md").read_text()
    else:
        assert 320 < longest < default and summary["max_prompt_length"] == default and not [
            w for w in warnings if "max_prompt_length" in w]
    assert summary["data_report"]["sources"][0]["excluded_kinds"] == {"text": 1}  # Tuesday: rules cannot verify it


def _run_framework(which: str, export: Path, good: str, env_extra: dict[str, str]) -> dict[str, Any]:
    python = os.environ["SPECS_VERL_PYTHON"]
    env = {**os.environ, "SPECS_GOOD_RESPONSE": good, "SPECS_TOKENIZER": str(TINY), "OMP_NUM_THREADS": "1",
           **env_extra}
    # specs-eval's core dependencies for that interpreter, when installed beside it (e.g. pip install --target)
    extra = os.environ.get("SPECS_FRAMEWORK_PYTHONPATH")
    if extra:
        env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], extra])
    proc = subprocess.run([python, str(REPO / "tests" / "framework_checks.py"), which, str(export)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])["checks"]


@pytest.mark.skipif(not os.environ.get("SPECS_VERL_PYTHON"),
                    reason="verl is not installed here: set SPECS_VERL_PYTHON to an interpreter with verl 0.9 "
                           "(CPU torch is enough) to run the export through verl's own loader")
def test_real_verl_loader_accepts_the_export(exports, tmp_path):
    d, rows = exports["verl"]
    checks = _run_framework("verl", d, _good("verl", rows[0]), {"PYTHONPATH": str(REPO)})
    failed = {k: v for k, v in checks.items() if not v[0]}
    assert not failed, failed
    assert len(checks) >= 6
    # the RL-pool rows too: ViRL39K's first row is multiple choice, gold B, scored as a letter
    fx = hl.make_virl39k(tmp_path / "virl")
    export_rl(load_config("tiny", [f"data.hf_id={fx.root}", "data.limit=null"]), tmp_path / "v", "verl")
    checks = _run_framework("verl", tmp_path / "v", FORMATS["specs"].render("compare the areas", "B"),
                            {"PYTHONPATH": str(REPO)})
    assert all(v[0] for v in checks.values()), checks


@pytest.mark.skipif(not (os.environ.get("SPECS_VERL_PYTHON") and os.environ.get("SPECS_EASYR1_SRC")),
                    reason="EasyR1 is not installable here (not on PyPI): set SPECS_EASYR1_SRC to its source tree "
                           "and SPECS_VERL_PYTHON to an interpreter with its dependencies")
def test_real_easyr1_reward_manager_accepts_the_export(exports):
    d, rows = exports["easyr1"]
    checks = _run_framework("easyr1", d, _good("easyr1", rows[0]),
                            {"PYTHONPATH": os.pathsep.join([os.environ["SPECS_EASYR1_SRC"], str(REPO)])})
    failed = {k: v for k, v in checks.items() if not v[0]}
    assert not failed, failed
    assert len(checks) >= 5


def test_reference_callers_can_fail(tmp_path):
    """The reference callers reject what the frameworks reject (the old export's sequential bug)."""
    old = tmp_path / "old.py"
    old.write_text("def compute_score(data_source, solution_str, ground_truth, extra_info=None):\n"
                   "    return {'score': 1.0}\nREWARD_TYPE = 'sequential'\n")
    fn, kind = easyr1_load(f"{old}:compute_score")
    with pytest.raises(TypeError):
        easyr1_call(fn, kind, ["x"], ["y"])
    with pytest.raises(TypeError):
        verl_load(old, reward_kwargs={"iou_threshold": 0.5})(data_source="d", solution_str="x", ground_truth="y",
                                                             extra_info={})
    assert sys.version_info >= (3, 11)
