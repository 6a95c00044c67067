"""Run an exported ``reward.py`` through verl's or EasyR1's *own* loading and calling code.

Executed by ``tests/test_export_frameworks.py`` in the framework's interpreter (verl pins
transformers < 5.11 and EasyR1 < 5, so neither lives in the project's environment):

    SPECS_VERL_PYTHON=VENV/bin/python           (verl 0.9.x installed, CPU torch is enough)
    SPECS_EASYR1_SRC=EASYR1_SOURCE_TREE         (EasyR1 is not on PyPI; its tree first on PYTHONPATH)

Usage: ``python framework_checks.py verl|easyr1 EXPORT_DIR`` with this repository on
PYTHONPATH. Prints one JSON object: ``{"checks": {name: [ok, detail]}}``. Imports no pytest.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

CHECKS: dict[str, list[Any]] = {}


def check(name: str, ok: bool, detail: Any = "") -> None:
    CHECKS[name] = [bool(ok), str(detail)[:400]]


def verl(export: str) -> None:
    import pyarrow.parquet as pq
    import verl as verl_pkg
    from hydra import compose, initialize_config_dir
    from verl.trainer.ppo.reward import get_custom_reward_fn

    conf = os.path.join(os.path.dirname(verl_pkg.__file__), "trainer", "config")

    def cfg(*overrides: str) -> Any:
        with initialize_config_dir(config_dir=conf, version_base=None):
            return compose(config_name="ppo_trainer", overrides=list(overrides))

    path = os.path.join(export, "reward.py")
    rows = pq.read_table(os.path.join(export, "train.parquet")).to_pylist()
    row = rows[0]
    good = os.environ["SPECS_GOOD_RESPONSE"]

    defaults = cfg()
    check("default data.max_prompt_length", True, defaults.data.max_prompt_length)
    fn = get_custom_reward_fn(cfg(f"reward.custom_reward_function.path={path}",
                                  "reward.custom_reward_function.name=compute_score"))
    info = dict(row["extra_info"], num_turns=None, rollout_reward_scores={})  # what verl adds before the call
    out = fn(data_source=row["data_source"], solution_str=good, ground_truth=row["reward_model"]["ground_truth"],
             extra_info=info)
    check("current key loads and scores", out.get("score") == 1.5, out)
    bad = fn(data_source=row["data_source"], solution_str="no idea", ground_truth=row["reward_model"]["ground_truth"],
             extra_info=info)
    check("same keys for every call", sorted(out) == sorted(bad), [sorted(out), sorted(bad)])
    fn_kw = get_custom_reward_fn(cfg(f"reward.custom_reward_function.path={path}",
                                     "+reward.custom_reward_function.reward_kwargs.iou_threshold=0.5"))
    out_kw = fn_kw(data_source=row["data_source"], solution_str=good,
                   ground_truth=row["reward_model"]["ground_truth"], extra_info=info)
    check("reward_kwargs reach compute_score", out_kw == out, out_kw)
    legacy = cfg(f"custom_reward_function.path={path}", "custom_reward_function.name=compute_score")
    check("legacy top-level key is ignored by main_ppo's loader", get_custom_reward_fn(legacy) is None, "")

    from verl.utils.dataset.rl_dataset import RLHFDataset

    ds = RLHFDataset.__new__(RLHFDataset)
    ds.image_key, ds.video_key, ds.audio_key, ds.processor = "images", "videos", "audios", object()
    n_ok = 0
    for r in rows:
        msgs = ds._build_messages({"prompt": r["prompt"], "images": r["images"]}, key="prompt")
        n_img = sum(1 for m in msgs for p in m["content"] if isinstance(p, dict) and p.get("type") == "image")
        n_ok += n_img == len(r["images"])
    check("RLHFDataset._build_messages accepts every exported row", n_ok == len(rows), f"{n_ok}/{len(rows)}")


def easyr1(export: str) -> None:
    import numpy as np
    import pyarrow.parquet as pq
    import torch
    from transformers import AutoTokenizer
    from verl.protocol import DataProto
    from verl.workers.reward import AutoRewardManager, RewardConfig

    tok = AutoTokenizer.from_pretrained(os.environ["SPECS_TOKENIZER"])
    rows = pq.read_table(os.path.join(export, "train.parquet")).to_pylist()
    good = os.environ["SPECS_GOOD_RESPONSE"]
    texts, truths = [good, "no idea"], [rows[0]["answer"]] * 2
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = max(map(len, ids)) + 2
    pad = tok.pad_token_id or 0
    data = DataProto.from_dict(
        tensors={"responses": torch.tensor([x + [pad] * (width - len(x)) for x in ids]),
                 "response_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])},
        non_tensors={"ground_truth": np.array(truths, dtype=object)})

    def manager(spec: str) -> Any:
        c = RewardConfig(reward_function=spec)
        c.post_init()
        return AutoRewardManager(c, tok)

    path = os.path.join(export, "reward.py")
    m = manager(f"{path}:compute_score")
    tensor, metrics = m.compute_reward(data)
    check("batch (REWARD_TYPE from the module)", m.reward_type == "batch" and list(metrics["overall"]) == [1.5, 0.0],
          dict(metrics))
    check("overall, format, accuracy logged", {"overall", "format", "accuracy"} <= set(metrics), sorted(metrics))
    check("overall on the last response token", tensor[0, len(ids[0]) - 1].item() == 1.5, tensor[0].tolist())
    with tempfile.TemporaryDirectory() as tmp:
        seq = os.path.join(tmp, "reward.py")
        with open(path) as f, open(seq, "w") as g:
            g.write(f.read().replace('REWARD_TYPE = "batch"', 'REWARD_TYPE = "sequential"'))
        m = manager(f"{seq}:compute_score")
        _, metrics = m.compute_reward(data)
        check("sequential (one dict per call)", m.reward_type == "sequential"
              and list(metrics["overall"]) == [1.5, 0.0], dict(metrics))
    m = manager(path)  # no ":fn": EasyR1's default name `main`
    _, metrics = m.compute_reward(data)
    check("default function name main", list(metrics["overall"]) == [1.5, 0.0], dict(metrics))


if __name__ == "__main__":
    which, export_dir = sys.argv[1], sys.argv[2]
    {"verl": verl, "easyr1": easyr1}[which](export_dir)
    print(json.dumps({"checks": CHECKS}))
