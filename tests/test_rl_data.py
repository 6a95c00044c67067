"""Training data from the RL pool: what `data.hf_id` / `data.path` resolve to, the row selection shared by the
distill stage and the training stages, seeded sampling for `data.limit`, kind filters, and the GRPO rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

from specs_eval.benchmarks import get_benchmark
from tests import hub_layouts as hl
from training.config import DataConfig
from training.data import DataError, detect_layout, grpo_dataset, grpo_row, load_data, resolve_sources
from training.stages.distill import sampling_tasks


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("pool")
    return {"orsta": hl.make_orsta(base / "o").root, "virl39k": hl.make_virl39k(base / "v").root}


def test_ids_and_folders_resolve_to_the_pool_benchmarks(pool):
    assert detect_layout(pool["orsta"]) == "orsta" and detect_layout(pool["virl39k"]) == "virl39k"
    assert detect_layout(pool["orsta"] / "train") is None
    srcs = resolve_sources(DataConfig(hf_id=["One-RL-to-See-Them-All/Orsta-Data-47k", str(pool["virl39k"])]), None)
    assert [(s.benchmark, s.split, s.data) for s in srcs] == [("orsta", "train", None),
                                                             ("virl39k", "train", str(pool["virl39k"]))]
    srcs = resolve_sources(DataConfig(benchmark="orsta", split="heldout", path=str(pool["orsta"])), None)
    assert [(s.benchmark, s.split) for s in srcs] == [("orsta", "heldout")]


def test_selection_is_shared_by_distill_and_training_and_limit_is_a_seeded_sample(pool, tmp_path):
    data = DataConfig(hf_id=[str(pool["orsta"]), str(pool["virl39k"])], limit=6, seed=3)
    loaded = load_data(data, tmp_path)
    assert len(loaded.items) == 6  # 3 per source
    orsta, virl = loaded.report["sources"]
    assert orsta["sampled"] == {"from": 9, "to": 3, "seed": 3} and virl["sampled"] == {"from": 6, "to": 3, "seed": 3}
    again = load_data(data, tmp_path)
    assert [i.id for i in again.items] == [i.id for i in loaded.items]
    other = load_data(data.model_copy(update={"seed": 4}), tmp_path)
    assert [i.id for i in other.items] != [i.id for i in loaded.items]
    # the distill stage samples exactly these rows, through the same selection files
    tasks = sampling_tasks(data, tmp_path)
    assert [(t.benchmark, t.split, t.limit) for t in tasks] == [("orsta", "train", None), ("virl39k", "train", None)]
    assert all(t.data.endswith(".selection.json") for t in tasks)
    via_engine = []
    for t in tasks:
        bench = get_benchmark(t.benchmark)
        via_engine += [bench.row_id(r) for r in bench.load(t.split, data=t.data).rows]
    assert via_engine == [i.id for i in loaded.items]
    sel = json.loads(Path(tasks[1].data).read_text())
    assert sel["schema_version"] == 1 and sel["benchmark"] == "virl39k" and len(sel["keys"]) == 3


def test_kind_filters_and_free_text_are_counted(pool, tmp_path):
    loaded = load_data(DataConfig(hf_id=str(pool["virl39k"]), limit=None, kinds=["mc"]), tmp_path)
    (src,) = loaded.report["sources"]
    assert src["kinds_kept"] == {"mc": 3} and src["excluded_kinds"] == {"math": 3, "text": 1}
    kept = load_data(DataConfig(hf_id=str(pool["virl39k"]), limit=None, kinds=["mc"], free_text="judge"), tmp_path)
    assert kept.report["sources"][0]["kinds_kept"] == {"mc": 3, "text": 1}
    with pytest.raises(DataError, match=r"orsta/test .*no usable rows: .*kinds excluded \{'detection': 1, 'math': 1\}"):
        load_data(DataConfig(hf_id=str(pool["orsta"]), limit=None, kinds=["yesno"], split="test"), tmp_path)


def test_grpo_rows_are_built_on_access_and_snapped_rows_record_the_models_frame(pool, tmp_path):
    from specs_eval.rules.vision_grid import GridSpec

    loaded = load_data(DataConfig(hf_id=str(pool["orsta"]), limit=None, prompt_variant="specs"), tmp_path)
    ds = grpo_dataset(loaded.items)
    assert len(ds) == 9 and set(ds[0]) == {"prompt", "images", "row_json", "benchmark", "prompt_variant", "id"}
    spec = GridSpec(14, 2, 3136, 50176)
    det = next(i for i in loaded.items if get_benchmark("orsta").answer_kind(i.row) == "detection")
    row = grpo_row(det, spec)
    assert all(im.size[0] % 28 == 0 and im.size[1] % 28 == 0 for im in row["images"])
    assert json.loads(row["row_json"])["processed_image_sizes"] == [list(im.size) for im in row["images"]]
    assert "_key" not in json.loads(row["row_json"]) and "images" not in json.loads(row["row_json"])
