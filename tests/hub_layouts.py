"""Small fixture folders in the *published* hub layouts of the paper's RL data and the benchmarks.

Why: loaders for real data must be tested on the layout users actually download (file names,
folder structure, parquet types, images embedded or zipped), not on rows we reshaped by hand.
Each builder writes one tiny folder in the layout documented (with sources) in the research note
on real-data layouts (issue 13), and returns a :class:`HubFixture`: the folder plus, per row, the
gold answer and the image count a correct loader must recover. Gold answers and rows are chosen
by hand; images are tiny generated PNG/JPEG files of distinct sizes.

This module is self-contained on purpose: it imports only the standard library, ``pyarrow``,
``pandas``, ``PIL`` and ``datasets`` (never project code), so it can serve as the reference the
project's loaders are checked against.

Where the published layout is not known exactly (see "Open uncertainties" in the note), the
fixture makes a choice and says so in a comment marked ``guess``.

Broken variants for bad-input tests: every builder takes ``broken=KIND`` (kinds per dataset in
:data:`BROKEN_KINDS`); the returned fixture's ``broken`` field then names the file, the row and
what is wrong, so a test can check that an error names them.
"""

from __future__ import annotations

import ast
import hashlib
import io
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import datasets
import pandas as pd
from PIL import Image

Value = datasets.Value
ImageFeature = datasets.Image
ListOf = getattr(datasets, "List", None) or datasets.Sequence  # `List` in datasets >= 4

# ----------------------------------------------------------------------------------------------
# Records returned to tests
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowExpect:
    """What a correct loader must recover for one row.

    ``gold`` is the answer in scoring form: the option letter for multiple choice, the
    ``\\boxed{}`` content for boxed answers, a list of ``{"bbox_2d", "label"}`` dicts for
    detection/grounding, a list of accepted strings for multi-answer rows, a dict for MEGA-Bench.
    ``raw_gold`` is the answer field exactly as stored in the file.
    """

    gold: Any
    kind: str  # mc | numeric | expression | text | multi_answer | detection | grounding | structured
    n_images: int
    file: str  # path of the file holding the row, relative to the fixture root
    index: int  # row index inside that file
    raw_gold: Any = None
    options: tuple[str, ...] = ()
    image_sizes: tuple[tuple[int, int], ...] = ()
    split: str = ""
    source_id: str | None = None  # the dataset's own id field, when it has one


@dataclass(frozen=True)
class Broken:
    """Describes the defect a broken variant carries."""

    kind: str
    file: str  # relative to the fixture root
    row: str | None  # row key in ``expected`` (None when the whole file is affected)
    reason: str


class HubFixture(NamedTuple):
    root: Path
    expected: dict[str, RowExpect]
    meta: dict[str, Any]
    broken: Broken | None = None


BROKEN_KINDS: dict[str, tuple[str, ...]] = {
    "orsta": ("truncated_parquet", "no_answer", "empty_answer", "bad_image", "image_count_mismatch"),
    "virl39k": ("missing_zip", "truncated_parquet", "no_answer", "empty_answer", "bad_image", "missing_member"),
    "mmmu": ("truncated_parquet", "no_answer", "bad_image", "missing_subject", "missing_image_ref"),
    "mathvista": ("truncated_parquet", "no_answer", "bad_image"),
    "mathvision": ("truncated_parquet", "no_answer", "bad_image"),
    "mathverse": ("truncated_parquet", "no_answer", "bad_image"),
    "megabench": ("truncated_parquet", "no_answer", "missing_zip", "missing_member"),
}

NOT_AN_IMAGE = b"this is not an image file\n"

# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------

_PALETTE = [(220, 40, 40), (40, 160, 60), (40, 80, 220), (230, 180, 30), (150, 60, 180), (30, 170, 170)]


def image_bytes(n: int, fmt: str = "PNG") -> tuple[bytes, tuple[int, int]]:
    """The ``n``-th fixture image: a distinct colour and size, so a test can tell images apart."""
    size = (16 + 4 * (n % 11), 12 + 3 * (n % 7))
    buf = io.BytesIO()
    Image.new("RGB", size, _PALETTE[n % len(_PALETTE)]).save(buf, fmt)
    return buf.getvalue(), size


class _Images:
    """Hands out distinct images and remembers their sizes."""

    def __init__(self) -> None:
        self.n = 0

    def next(self, fmt: str = "PNG") -> tuple[bytes, tuple[int, int]]:
        self.n += 1
        return image_bytes(self.n, fmt)


def _write_hf_parquet(path: Path, rows: list[dict[str, Any]], features: datasets.Features) -> None:
    """Write rows the way ``datasets`` (``push_to_hub``/``to_parquet``) writes them: Arrow types from
    ``features``, ``Image`` as ``struct<bytes, path>``, the ``huggingface`` schema metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))


def _truncate(path: Path) -> None:
    """Cut a file to half its size (a download that stopped early)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _readme(configs: list[tuple[str, list[tuple[str, str]]]], extra: str = "") -> str:
    """A dataset card whose YAML ``configs`` map splits to files, as on the hub."""
    lines = ["---", "configs:"]
    for name, splits in configs:
        lines += [f"- config_name: {name}", "  data_files:"]
        for split, pattern in splits:
            lines += [f"  - split: {split}", f"    path: {pattern}"]
    return "\n".join([*lines, "---", "", "Fixture copy of the hub layout for tests.", extra, ""])


def _check_kind(dataset: str, broken: str | None) -> None:
    if broken is not None and broken not in BROKEN_KINDS[dataset]:
        raise ValueError(f"{dataset}: unknown broken kind {broken!r}; choose from {BROKEN_KINDS[dataset]}")


# ----------------------------------------------------------------------------------------------
# One-RL-to-See-Them-All/Orsta-Data-47k
# ----------------------------------------------------------------------------------------------

ORSTA_FEATURES = datasets.Features({
    "data_source": Value("string"),
    "images": ListOf(ImageFeature()),
    "prompt": [{"content": Value("string"), "role": Value("string")}],
    "ability": Value("string"),
    "reward_model": {
        "answer": Value("string"),
        "ground_truth": Value("string"),
        "accuracy_ratio": Value("float32"),
        "format_ratio": Value("float32"),
        "verifier": Value("string"),
        "verifier_parm": {
            "det_verifier_normalized": Value("bool"),
            "det_reward_ratio": {
                "iou_max_label_first": Value("float32"),
                "iou_max_iou_first": Value("float32"),
                "iou_completeness": Value("float32"),
                "map": Value("float32"),
                "map50": Value("float32"),
                "map75": Value("float32"),
            },
        },
    },
    "extra_info": {"id": Value("string"), "image_path": Value("string")},
})

_NO_DET = {"det_verifier_normalized": None, "det_reward_ratio": dict.fromkeys(
    ("iou_max_label_first", "iou_max_iou_first", "iou_completeness", "map", "map50", "map75"))}
_DET = {"det_verifier_normalized": True, "det_reward_ratio": {
    "iou_max_label_first": 1.0, "iou_max_iou_first": 0.0, "iou_completeness": 0.3,
    "map": 0.0, "map50": 0.0, "map75": 0.0}}
_DET_INSTRUCTION = (
    "\n\nBegin by clearly explaining your thought process enclosed within <think> and </think> tags. "
    "Afterward, present your final detection results enclosed within <answer> and </answer> tags.\n"
    "For example:\n<think>\nYour detailed reasoning process here.\n</think>\n<answer>\n"
    "[{'bbox_2d': [x1,y1,x2,y2],'label': label_name}]\n</answer>")


def _boxes_literal(boxes: list[dict[str, Any]]) -> str:
    """Boxes written the way Orsta writes them: a Python literal with single quotes."""
    return "[" + ", ".join(f"{{'bbox_2d': {b['bbox_2d']}, 'label': '{b['label']}'}}" for b in boxes) + "]"


def make_orsta(tmp: Path, broken: str | None = None) -> HubFixture:
    """``Orsta-Data-47k/{train,test}/{split}_{task}_{source}_{num}[_xN].parquet``, reward data in
    ``reward_model``, images embedded as ``{bytes, path}``, questions as chat messages.

    Row keys: ``"<relative file>#<row index>"`` (``extra_info.id`` is often null in the real data).
    """
    _check_kind("orsta", broken)
    root = Path(tmp) / "Orsta-Data-47k"
    imgs = _Images()
    expected: dict[str, RowExpect] = {}
    files: dict[str, list[dict[str, Any]]] = {}

    def add(file: str, *, source: str, ability: str, question: str, n_img: int, kind: str,
            answer: str | None, gold: Any, verifier: str = "mathverify", row_id: str | None = None,
            image_path: str | None = None, path_in_struct: str | None = None, fmt_ratio: float = 0.0) -> None:
        structs, sizes = [], []
        for _ in range(n_img):
            data, size = imgs.next()
            structs.append({"bytes": data, "path": path_in_struct})
            sizes.append(size)
        if verifier == "detection":
            ground_truth = f"<answer>\n{answer}\n</answer>"
        else:
            ground_truth = f"\\boxed{{{answer}}}"
        rows = files.setdefault(file, [])
        rows.append({
            "data_source": source,
            "images": structs,
            "prompt": [{"content": question, "role": "user"}],
            "ability": ability,
            "reward_model": {
                "answer": answer, "ground_truth": ground_truth, "accuracy_ratio": 1.0,
                "format_ratio": fmt_ratio, "verifier": verifier,
                "verifier_parm": _DET if verifier == "detection" else _NO_DET,
            },
            "extra_info": {"id": row_id, "image_path": image_path},
        })
        split = file.split("/", 1)[0]
        key = f"{file}#{len(rows) - 1}"
        expected[key] = RowExpect(gold=gold, kind=kind, n_images=n_img, file=file, index=len(rows) - 1,
                                  raw_gold=ground_truth, image_sizes=tuple(sizes), split=split, source_id=row_id)

    math = "train/train_math_mmmath_3.parquet"
    add(math, source="mm_math", ability="math", n_img=1, kind="numeric", answer="3", gold="3",
        question="<image>As shown in the figure, AB = 6 and D is the midpoint of segment AB. What is the length of AD?",
        image_path="images/fixture_m0.png")
    add(math, source="mm_math", ability="math", n_img=1, kind="expression", answer="\\frac{1}{4}", gold="\\frac{1}{4}",
        question="<image>What fraction of the square is shaded?", row_id="mm_math_17",
        image_path="images/fixture_m1.png")
    add(math, source="mm_math", ability="math", n_img=1, kind="numeric", answer="15", gold="15",
        question="<image>In the figure, 2x + 10 equals the length of the long side, which is 40. Find x.",
        image_path="images/fixture_m2.png", path_in_struct="fixture_m2.png")
    # `_x2`: duplicated puzzle data (the paper duplicates puzzles); both copies are real rows.
    # guess: data_source / ability strings for puzzles are not published.
    puzzle = "train/train_puzzle_puzzlevqa_2_x2.parquet"
    for _ in range(2):
        add(puzzle, source="puzzlevqa", ability="puzzle", n_img=2, kind="numeric", answer="5", gold="5",
            question="<image><image>\nBoth panels follow the same rule. How many circles belong in the empty cell?")
    det = "train/train_detection_v3det_2.parquet"
    kite = [{"bbox_2d": [100, 200, 400, 650], "label": "red kite"}]
    add(det, source="v3det_train", ability="cv_detection", n_img=1, kind="detection", verifier="detection",
        fmt_ratio=0.1, answer=_boxes_literal(kite), gold=kite,
        question="<image>\nLocate all objects of the designated class present in the image:\n- red kite" + _DET_INSTRUCTION,
        image_path="images/a00000001/fixture_d0.jpg")
    dogs = [{"bbox_2d": [484, 227, 818, 998], "label": "shiba dog"},
            {"bbox_2d": [106, 142, 473, 998], "label": "shiba dog"},
            {"bbox_2d": [274, 468, 427, 652], "label": "dog collar"}]
    add(det, source="v3det_train", ability="cv_detection", n_img=1, kind="detection", verifier="detection",
        fmt_ratio=0.1, answer=_boxes_literal(dogs), gold=dogs,
        question="<image>\nLocate all objects of the designated class present in the image:\n- dog collar\n- shiba dog"
        + _DET_INSTRUCTION, image_path="images/a00000002/fixture_d1.jpg")
    # guess: grounding uses the detection verifier and the same answer form; strings not published.
    ground = [{"bbox_2d": [520, 310, 905, 870], "label": "the dog without a collar"}]
    add("train/train_grounding_d3_1.parquet", source="d3_train", ability="cv_grounding", n_img=1, kind="grounding",
        verifier="detection", fmt_ratio=0.1, answer=_boxes_literal(ground), gold=ground,
        question="<image>\nLocate the object described: the dog without a collar." + _DET_INSTRUCTION)
    add("train/train_counting_clevr_1.parquet", source="clevr_count", ability="counting", n_img=1, kind="numeric",
        answer="4", gold="4", question="<image>How many cylinders are in the image?")
    add("test/test_math_megabench_1.parquet", source="megabench_math", ability="math", n_img=1, kind="expression",
        answer="2\\sqrt{3}", gold="2\\sqrt{3}", question="<image>Find the length of the diagonal BD.")
    cars = [{"bbox_2d": [12, 400, 310, 720], "label": "car"}, {"bbox_2d": [600, 380, 980, 760], "label": "person"}]
    add("test/test_detection_coco_test_multi_1.parquet", source="coco_val_multi_test", ability="cv_detection", n_img=1,
        kind="detection", verifier="detection", fmt_ratio=0.1, answer=_boxes_literal(cars), gold=cars,
        question="<image>\nLocate all objects of the designated class present in the image:\n- car\n- person"
        + _DET_INSTRUCTION)

    bad: Broken | None = None
    math0, math1 = f"{math}#0", f"{math}#1"
    if broken in ("no_answer", "empty_answer"):
        value = None if broken == "no_answer" else ""
        files[math][0]["reward_model"]["answer"] = value
        files[math][0]["reward_model"]["ground_truth"] = value
        bad = Broken(broken, math, math0, f"reward_model.ground_truth is {value!r}")
    elif broken == "bad_image":
        files[math][1]["images"][0]["bytes"] = NOT_AN_IMAGE
        bad = Broken(broken, math, math1, "images[0] bytes are not an image")
    elif broken == "image_count_mismatch":
        files[math][1]["prompt"][0]["content"] = "<image><image>" + files[math][1]["prompt"][0]["content"][7:]
        bad = Broken(broken, math, math1, "2 <image> tokens but 1 image")

    for rel, rows in files.items():
        _write_hf_parquet(root / rel, rows, ORSTA_FEATURES)
    if broken == "truncated_parquet":
        _truncate(root / det)
        bad = Broken(broken, det, None, "parquet file cut to half its size")
    return HubFixture(root, expected, {"dataset": "One-RL-to-See-Them-All/Orsta-Data-47k"}, bad)


# ----------------------------------------------------------------------------------------------
# TIGER-Lab/ViRL39K
# ----------------------------------------------------------------------------------------------

VIRL_PARQUET = "39Krelease.parquet"
VIRL_ZIP = "images.zip"


def _virl_qid(n: int) -> str:
    return f"Processed-00000000-0000-4000-8000-{n:012d}"


def make_virl39k(tmp: Path, broken: str | None = None) -> HubFixture:
    """``39Krelease.parquet`` (``question`` with ``<image>`` tokens and inline ``Choices:``,
    ``answer`` in ``\\boxed{}``, ``image`` = relative paths) + ``images.zip`` holding ``images/...``.

    Row keys: ``qid``.
    """
    _check_kind("virl39k", broken)
    root = Path(tmp) / "ViRL39K"
    root.mkdir(parents=True, exist_ok=True)
    imgs = _Images()
    rows: list[dict[str, Any]] = []
    members: dict[str, bytes] = {}
    expected: dict[str, RowExpect] = {}

    def add(question: str, boxed: str, gold: str, kind: str, category: str, source: str, n_img: int,
            options: tuple[str, ...] = (), pass32: float = 0.5, pass7: float = 0.25) -> None:
        qid = _virl_qid(len(rows) + 1)
        paths, sizes = [], []
        for k in range(n_img):
            data, size = imgs.next("JPEG")
            path = f"images/{qid}-{k}.jpg"
            members[path] = data
            paths.append(path)
            sizes.append(size)
        rows.append({"question": question, "answer": f"\\boxed{{{boxed}}}", "PassRate_32BTrained": pass32,
                     "PassRate_7BBase": pass7, "category": category, "source": source, "qid": qid, "image": paths})
        expected[qid] = RowExpect(gold=gold, kind=kind, n_images=n_img, file=VIRL_PARQUET, index=len(rows) - 1,
                                  raw_gold=f"\\boxed{{{boxed}}}", options=options, image_sizes=tuple(sizes),
                                  split="train", source_id=qid)

    shapes = ("the circle", "the square", "the triangle", "the hexagon")
    add("<image>\nWhich shape in the figure has the largest area?\nChoices:\n"
        + "\n".join(f"({chr(65 + i)}) {o}" for i, o in enumerate(shapes)),
        "B", "B", "mc", "Spatial Reasoning", "Processed", 1, options=shapes)
    add("<image>\nIn the triangle shown, find the measure of angle x in degrees.", "60", "60", "numeric",
        "(GradeSchool) Geometric", "MMK12", 1)
    add("<image>\nAccording to the table, on which day did the shop sell the most apples?", "Tuesday", "Tuesday",
        "text", "Tables/Diagrams/Charts", "Processed", 1, pass32=1.0, pass7=1.0)
    figs = ("the first figure", "the second figure")
    add("<image>\n<image>\nWhich of the two figures is symmetric about a vertical line?\nChoices:\n"
        + "\n".join(f"({chr(65 + i)}) {o}" for i, o in enumerate(figs)),
        "A", "A", "mc", "Spatial Reasoning", "M3CoT", 2, options=figs)
    # guess: text-only rows (DeepScaleR) carry an empty image list and no <image> token.
    add("What is the value of $\\frac{1}{2} + \\frac{1}{4}$?", "\\frac{3}{4}", "\\frac{3}{4}", "expression",
        "(GradeSchool) Non-Geo Math", "DeepScaleR", 0, pass7=-1.0)
    add("<image>\nFind the measure of angle ABC.", "35^\\circ", "35^\\circ", "numeric", "(GradeSchool) Geometric",
        "MMK12", 1, pass7=-1.0)
    states = ("solid", "liquid", "gas", "plasma", "none of these")
    add("<image>\nWhat is the state of matter of the substance in the beaker after heating?\nChoices:\n"
        + "\n".join(f"({chr(65 + i)}) {o}" for i, o in enumerate(states)),
        "E", "E", "mc", "(GradeSchool) Science", "M3CoT", 1, options=states)

    bad: Broken | None = None
    q1, q2, q3 = _virl_qid(1), _virl_qid(2), _virl_qid(3)
    if broken in ("no_answer", "empty_answer"):
        rows[1]["answer"] = None if broken == "no_answer" else ""
        bad = Broken(broken, VIRL_PARQUET, q2, f"answer is {rows[1]['answer']!r}")
    elif broken == "bad_image":
        members[rows[0]["image"][0]] = NOT_AN_IMAGE
        bad = Broken(broken, VIRL_ZIP, q1, f"zip member {rows[0]['image'][0]} is not an image")
    elif broken == "missing_member":
        del members[rows[2]["image"][0]]
        bad = Broken(broken, VIRL_ZIP, q3, f"zip has no member {rows[2]['image'][0]}")

    pd.DataFrame(rows).to_parquet(root / VIRL_PARQUET, index=False)
    if broken != "missing_zip":
        with zipfile.ZipFile(root / VIRL_ZIP, "w") as z:
            z.writestr(zipfile.ZipInfo("images/"), b"")  # a directory entry, as `zip -r` writes one
            for name, data in members.items():
                z.writestr(name, data)
    else:
        bad = Broken(broken, VIRL_ZIP, None, "images.zip is missing")
    if broken == "truncated_parquet":
        _truncate(root / VIRL_PARQUET)
        bad = Broken(broken, VIRL_PARQUET, None, "parquet file cut to half its size")
    return HubFixture(root, expected, {"dataset": "TIGER-Lab/ViRL39K"}, bad)


# ----------------------------------------------------------------------------------------------
# MMMU/MMMU
# ----------------------------------------------------------------------------------------------

MMMU_SUBJECTS = (
    "Accounting", "Agriculture", "Architecture_and_Engineering", "Art", "Art_Theory", "Basic_Medical_Science",
    "Biology", "Chemistry", "Clinical_Medicine", "Computer_Science", "Design", "Diagnostics_and_Laboratory_Medicine",
    "Economics", "Electronics", "Energy_and_Power", "Finance", "Geography", "History", "Literature", "Manage",
    "Marketing", "Materials", "Math", "Mechanical_Engineering", "Music", "Pharmacy", "Physics", "Psychology",
    "Public_Health", "Sociology",
)

MMMU_FEATURES = datasets.Features({
    "id": Value("string"), "question": Value("string"), "options": Value("string"), "explanation": Value("string"),
    **{f"image_{k}": ImageFeature() for k in range(1, 8)},
    "img_type": Value("string"), "answer": Value("string"), "topic_difficulty": Value("string"),
    "question_type": Value("string"), "subfield": Value("string"),
})

# guess: which two subjects have a test split sharded in two files is not published (32 files, 30 subjects).
MMMU_SHARDED_TEST = ("Physics", "Psychology")

# Gold letters for the one generic validation row of each subject, chosen by hand.
_MMMU_VAL_LETTERS = dict(zip(MMMU_SUBJECTS, "BADCABDCBADCBCADBCDABCADCBDABC", strict=True))


def make_mmmu_snapshot(tmp: Path, broken: str | None = None, test_answers: bool = True) -> HubFixture:
    """``MMMU/{Subject}/{dev,validation,test}-0000k-of-0000n.parquet`` for all 30 subjects, plus a
    ``README.md`` whose ``configs`` name one config per subject.

    ``test_answers=False`` writes empty test answers (guess: the pre-release content is unknown).
    Row keys: ``id`` (``<split>_<Subject>_<n>``).
    """
    _check_kind("mmmu", broken)
    root = Path(tmp) / "MMMU"
    imgs = _Images()
    expected: dict[str, RowExpect] = {}
    files: dict[str, list[dict[str, Any]]] = {}

    def add(split: str, subject: str, n: int, *, question: str, options: list[str], answer: str, n_img: int,
            kind: str, gold: Any, file_part: tuple[int, int] = (0, 1), stored_answer: str | None = None) -> None:
        rid = f"{split}_{subject}_{n}"
        row: dict[str, Any] = {"id": rid, "question": question, "options": repr(options), "explanation": "",
                               "img_type": "['Diagrams']", "answer": answer if stored_answer is None else stored_answer,
                               "topic_difficulty": "Medium",
                               "question_type": "multiple-choice" if kind == "mc" else "open",
                               "subfield": f"{subject} fixture subfield"}
        sizes = []
        for k in range(1, 8):
            if k <= n_img:
                data, size = imgs.next()
                row[f"image_{k}"] = {"bytes": data, "path": None}
                sizes.append(size)
            else:
                row[f"image_{k}"] = None
        file = f"{subject}/{split}-{file_part[0]:05d}-of-{file_part[1]:05d}.parquet"
        rows = files.setdefault(file, [])
        rows.append(row)
        expected[rid] = RowExpect(gold=gold, kind=kind, n_images=n_img, file=file, index=len(rows) - 1,
                                  raw_gold=row["answer"], options=tuple(options), image_sizes=tuple(sizes),
                                  split=split, source_id=rid)

    four = ["7", "8", "9", "10"]
    for s in MMMU_SUBJECTS:
        add("dev", s, 1, question="<image 1> How many sides does the polygon have?", options=four, answer="B",
            n_img=1, kind="mc", gold="B")
        if s not in ("Accounting", "Art", "Chemistry", "Geography", "Math"):
            letter = _MMMU_VAL_LETTERS[s]
            add("validation", s, 1, question=f"<image 1> Which option is correct for this {s} question?",
                options=["first", "second", "third", "fourth"], answer=letter, n_img=1, kind="mc", gold=letter)
        shards = 2 if s in MMMU_SHARDED_TEST else 1
        for part in range(shards):
            n = part + 1
            gold = "ABCD"[(len(s) + n) % 4]
            add("test", s, n, question=f"<image 1> Test question {n} for {s}.", options=four, answer=gold,
                stored_answer=None if test_answers else "", n_img=1, kind="mc", gold=gold,
                file_part=(part, shards))
    # Hand-written validation rows covering the answer forms.
    add("validation", "Accounting", 1, question="<image 1> A ticket costs $2 and a drink $6. What do both cost?",
        options=["$6", "$8", "$10", "$12"], answer="B", n_img=1, kind="mc", gold="B")
    add("validation", "Accounting", 2, question="<image 1> What is the net income in thousands of dollars?",
        options=[], answer="42", n_img=1, kind="numeric", gold="42")
    add("validation", "Art", 1, question="Compare <image 1> and <image 2>. Which movement do both paintings belong to?",
        options=["Baroque", "Cubism", "Impressionism", "Realism"], answer="C", n_img=2, kind="mc", gold="C")
    add("validation", "Chemistry", 1, question="<image 1> Which structure is the product of the reaction?",
        options=["<image 2>", "<image 3>", "<image 4>", "<image 5>"], answer="D", n_img=5, kind="mc", gold="D")
    add("validation", "Geography", 1, question="<image 1> Name the city marked on the map and its state.",
        options=[], answer="['Tampa', 'Florida']", n_img=1, kind="multi_answer", gold=["Tampa", "Florida"])
    add("validation", "Math", 1, question="<image 1> What is the ratio of the two areas?", options=[],
        answer="['24/7', '3.429']", n_img=1, kind="multi_answer", gold=["24/7", "3.429"])

    bad: Broken | None = None
    if broken == "no_answer":
        files["Accounting/validation-00000-of-00001.parquet"][0]["answer"] = None
        bad = Broken(broken, "Accounting/validation-00000-of-00001.parquet", "validation_Accounting_1", "answer is None")
    elif broken == "bad_image":
        row = files["Art/validation-00000-of-00001.parquet"][0]
        row["image_2"] = {"bytes": NOT_AN_IMAGE, "path": None}
        bad = Broken(broken, "Art/validation-00000-of-00001.parquet", "validation_Art_1", "image_2 is not an image")
    elif broken == "missing_image_ref":
        row = files["Chemistry/validation-00000-of-00001.parquet"][0]
        row["image_5"] = None
        bad = Broken(broken, "Chemistry/validation-00000-of-00001.parquet", "validation_Chemistry_1",
                     "options refer to <image 5> but image_5 is null")

    for rel, rows in files.items():
        if broken == "missing_subject" and rel.startswith("Sociology/"):
            continue
        _write_hf_parquet(root / rel, rows, MMMU_FEATURES)
    if broken == "missing_subject":
        bad = Broken(broken, "Sociology", None, "subject folder Sociology is missing (29 of 30)")
    if broken == "truncated_parquet":
        _truncate(root / "Accounting/validation-00000-of-00001.parquet")
        bad = Broken(broken, "Accounting/validation-00000-of-00001.parquet", None, "parquet file cut to half its size")
    configs = [(s, [(sp, f"{s}/{sp}-*") for sp in ("dev", "validation", "test")]) for s in MMMU_SUBJECTS]
    (root / "README.md").write_text(_readme(configs), encoding="utf-8")
    return HubFixture(root, expected, {"dataset": "MMMU/MMMU", "test_answers": test_answers}, bad)


def mmmu_answer_dict(fixture: HubFixture, split: str = "validation") -> dict[str, dict[str, Any]]:
    """The official ``answer_dict_val.json`` layout (MMMU-Benchmark/MMMU ``mmmu/``) for ``split``:
    ``{id: {"question_type": "multiple-choice" | "short-answer", "ground_truth": str | list}}``."""
    out: dict[str, dict[str, Any]] = {}
    for rid, e in fixture.expected.items():
        if e.split != split:
            continue
        out[rid] = {"question_type": "multiple-choice" if e.kind == "mc" else "short-answer", "ground_truth": e.gold}
    return out


# ----------------------------------------------------------------------------------------------
# AI4Math/MathVista
# ----------------------------------------------------------------------------------------------

MATHVISTA_FEATURES = datasets.Features({
    "pid": Value("string"), "question": Value("string"), "image": Value("string"), "decoded_image": ImageFeature(),
    "choices": ListOf(Value("string")), "unit": Value("string"), "precision": Value("float64"),
    "answer": Value("string"), "question_type": Value("string"), "answer_type": Value("string"),
    "metadata": {
        "category": Value("string"), "context": Value("string"), "grade": Value("string"),
        "img_height": Value("int64"), "img_width": Value("int64"), "language": Value("string"),
        "skills": ListOf(Value("string")), "source": Value("string"), "split": Value("string"),
        "task": Value("string"),
    },
    "query": Value("string"),
})
MATHVISTA_FILES = {
    "testmini": ("data/testmini-00000-of-00001-725687bf7a18d64b.parquet",),
    "test": ("data/test-00000-of-00002-6b81bd7f7e2065e6.parquet", "data/test-00001-of-00002-6a611c71596db30f.parquet"),
}


def make_mathvista_snapshot(tmp: Path, broken: str | None = None) -> HubFixture:
    """``MathVista/data/{testmini,test}-*.parquet`` (hash-suffixed names as on the hub), the
    ``decoded_image`` column, ``image`` path strings, a README with the ``default`` config and a
    root ``images.zip``. Test answers are withheld (guess: stored as an empty string).

    Row keys: ``pid``.
    """
    _check_kind("mathvista", broken)
    root = Path(tmp) / "MathVista"
    imgs = _Images()
    expected: dict[str, RowExpect] = {}
    files: dict[str, list[dict[str, Any]]] = {}
    zipped: dict[str, bytes] = {}

    def add(split: str, file: str, pid: str, *, question: str, choices: list[str] | None, answer: str, qtype: str,
            atype: str, precision: float | None = None, unit: str | None = None, gold: Any = None,
            kind: str = "numeric") -> None:
        data, (w, h) = imgs.next("JPEG")
        zipped[f"images/{pid}.jpg"] = data
        hint = ("Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
                if choices else "Please answer the question requiring an integer answer and provide the final value, "
                "e.g., 1, 2, 3, at the end." if atype == "integer" else
                "Please answer the question and provide the final answer at the end.")
        query = f"Hint: {hint}\nQuestion: {question}"
        if choices:
            query += "\nChoices:\n" + "\n".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices))
        row = {"pid": pid, "question": question, "image": f"images/{pid}.jpg",
               "decoded_image": {"bytes": data, "path": None}, "choices": choices, "unit": unit,
               "precision": precision, "answer": answer, "question_type": qtype, "answer_type": atype,
               "metadata": {"category": "math-targeted-vqa", "context": "geometry diagram", "grade": "high school",
                            "img_height": h, "img_width": w, "language": "english", "skills": ["geometry reasoning"],
                            "source": "FixtureQA", "split": split, "task": "geometry problem solving"},
               "query": query}
        rows = files.setdefault(file, [])
        rows.append(row)
        expected[pid] = RowExpect(gold=answer if gold is None else gold, kind=kind, n_images=1, file=file,
                                  index=len(rows) - 1, raw_gold=answer, options=tuple(choices or ()),
                                  image_sizes=((w, h),), split=split, source_id=pid)

    mini = MATHVISTA_FILES["testmini"][0]
    add("testmini", mini, "1", question="How many faces does the solid have?", choices=["4", "5", "6", "8"],
        answer="6", qtype="multi_choice", atype="text", kind="mc")
    add("testmini", mini, "2", question="What is the perimeter of the rectangle?", choices=None, answer="14",
        qtype="free_form", atype="integer")
    add("testmini", mini, "3", question="What is the slope of the line? (two decimals)", choices=None,
        answer="1.45", qtype="free_form", atype="float", precision=2.0)
    add("testmini", mini, "4", question="In which years did sales exceed 100 units?", choices=None,
        answer="[2007, 2008]", qtype="free_form", atype="list", kind="text")
    add("testmini", mini, "5", question="Is the triangle isosceles?", choices=["Yes", "No"], answer="No",
        qtype="multi_choice", atype="text", kind="mc")
    add("testmini", mini, "6", question="How long is side AB?", choices=None, answer="2.5", qtype="free_form",
        atype="float", precision=1.0, unit="cm")
    for n, file in enumerate([MATHVISTA_FILES["test"][0], MATHVISTA_FILES["test"][0], MATHVISTA_FILES["test"][1]]):
        pid = str(1001 + n)
        add("test", file, pid, question=f"Test question {pid}: what is the area?", choices=None, answer="",
            qtype="free_form", atype="integer", gold=None, kind="withheld")

    bad: Broken | None = None
    if broken == "no_answer":
        files[mini][1]["answer"] = None
        bad = Broken(broken, mini, "2", "answer is None")
    elif broken == "bad_image":
        files[mini][2]["decoded_image"] = {"bytes": NOT_AN_IMAGE, "path": None}
        bad = Broken(broken, mini, "3", "decoded_image is not an image")
    for rel, rows in files.items():
        _write_hf_parquet(root / rel, rows, MATHVISTA_FEATURES)
    if broken == "truncated_parquet":
        _truncate(root / mini)
        bad = Broken(broken, mini, None, "parquet file cut to half its size")
    with zipfile.ZipFile(root / "images.zip", "w") as z:
        for name, data in zipped.items():
            z.writestr(name, data)
    (root / "README.md").write_text(
        _readme([("default", [("testmini", "data/testmini-*"), ("test", "data/test-*")])]), encoding="utf-8")
    return HubFixture(root, expected, {"dataset": "AI4Math/MathVista"}, bad)


# ----------------------------------------------------------------------------------------------
# MathLLMs/MathVision
# ----------------------------------------------------------------------------------------------

MATHVISION_FEATURES = datasets.Features({
    "id": Value("string"), "question": Value("string"), "options": ListOf(Value("string")), "image": Value("string"),
    "decoded_image": ImageFeature(), "answer": Value("string"), "solution": Value("string"), "level": Value("int64"),
    "subject": Value("string"),
})
MATHVISION_FILES = {
    "test": "data/test-00000-of-00001-3532b8d3f1b4047a.parquet",
    "testmini": "data/testmini-00000-of-00001-f8ff70fcb2f29b1d.parquet",
}


def make_mathvision_snapshot(tmp: Path, broken: str | None = None) -> HubFixture:
    """``MathVision/data/{test,testmini}-00000-of-00001-<hash>.parquet`` with ``options`` lists,
    letter answers for multiple choice, ``decoded_image`` and ``image`` paths.

    Row keys: ``"<split>/<id>"`` (testmini ids are a subset of test ids).
    """
    _check_kind("mathvision", broken)
    root = Path(tmp) / "MathVision"
    imgs = _Images()
    expected: dict[str, RowExpect] = {}
    files: dict[str, list[dict[str, Any]]] = {}
    spec = [
        ("1", "Which shape comes next in the sequence?", ["circle", "square", "triangle", "star", "pentagon"], "C",
         "mc", 2, "logic"),
        ("2", "How many small cubes are needed to build the solid?", [], "12", "numeric", 3, "solid geometry"),
        ("3", "Which picture shows the cube unfolded?", ["A", "B", "C", "D", "E"], "A", "mc", 1,
         "descriptive geometry"),
        ("4", "What is the ratio of the shaded area to the whole?", [], "\\frac{3}{2}", "expression", 4,
         "metric geometry - area"),
    ]
    datas = {rid: imgs.next() for rid, *_ in spec}
    for split, ids in (("test", ("1", "2", "3", "4")), ("testmini", ("1", "3"))):
        file = MATHVISION_FILES[split]
        for rid, question, options, answer, kind, level, subject in spec:
            if rid not in ids:
                continue
            data, size = datas[rid]
            rows = files.setdefault(file, [])
            rows.append({"id": rid, "question": f"<image1>\n{question}", "options": options,
                         "image": f"images/{rid}.jpg", "decoded_image": {"bytes": data, "path": None},
                         "answer": answer, "solution": "", "level": level, "subject": subject})
            expected[f"{split}/{rid}"] = RowExpect(gold=answer, kind=kind, n_images=1, file=file, index=len(rows) - 1,
                                                   raw_gold=answer, options=tuple(options), image_sizes=(size,),
                                                   split=split, source_id=rid)
    bad: Broken | None = None
    mini = MATHVISION_FILES["testmini"]
    if broken == "no_answer":
        files[mini][0]["answer"] = None
        bad = Broken(broken, mini, "testmini/1", "answer is None")
    elif broken == "bad_image":
        files[mini][1]["decoded_image"] = {"bytes": NOT_AN_IMAGE, "path": None}
        bad = Broken(broken, mini, "testmini/3", "decoded_image is not an image")
    for rel, rows in files.items():
        _write_hf_parquet(root / rel, rows, MATHVISION_FEATURES)
    if broken == "truncated_parquet":
        _truncate(root / mini)
        bad = Broken(broken, mini, None, "parquet file cut to half its size")
    (root / "README.md").write_text(
        _readme([("default", [("test", "data/test-*"), ("testmini", "data/testmini-*")])]), encoding="utf-8")
    return HubFixture(root, expected, {"dataset": "MathLLMs/MathVision"}, bad)


# ----------------------------------------------------------------------------------------------
# AI4Math/MathVerse
# ----------------------------------------------------------------------------------------------

MATHVERSE_FEATURES = datasets.Features({
    "sample_index": Value("string"), "problem_index": Value("string"), "problem_version": Value("string"),
    "question": Value("string"), "image": ImageFeature(), "answer": Value("string"), "question_type": Value("string"),
    # guess: sub-keys after `split`, `source` were cut off in the stored card.
    "metadata": {"split": Value("string"), "source": Value("string"), "subject": Value("string"),
                 "subfield": Value("string")},
    "query_wo": Value("string"), "query_cot": Value("string"), "question_for_eval": Value("string"),
})
MATHVERSE_VERSIONS = ("Text Dominant", "Text Lite", "Vision Intensive", "Vision Dominant", "Vision Only")


def make_mathverse_snapshot(tmp: Path, broken: str | None = None) -> HubFixture:
    """``MathVerse/testmini.parquet`` + ``testmini_text_only.parquet`` at the root, configs
    ``testmini`` and ``testmini_text_only``, embedded ``image``, and ``images.zip``.

    Row keys: ``"<config>/<sample_index>"``.
    """
    _check_kind("mathverse", broken)
    root = Path(tmp) / "MathVerse"
    imgs = _Images()
    expected: dict[str, RowExpect] = {}
    files: dict[str, list[dict[str, Any]]] = {"testmini.parquet": [], "testmini_text_only.parquet": []}
    zipped: dict[str, bytes] = {}
    problems = [
        ("1", "As shown in the figure, AB is parallel to CD and angle 1 = 50°. Find angle 2.",
         "Choices:\nA:40°\nB:50°\nC:130°\nD:140°", "B", "multi-choice", "mc"),
        ("2", "The radius of the circle is 5. How long is chord AB?", "", "8", "free-form", "numeric"),
    ]
    n = 0
    for pidx, text, choices, answer, qtype, kind in problems:
        for version in MATHVERSE_VERSIONS:
            n += 1
            sid = str(n)
            data, size = imgs.next()
            zipped[f"images_version_1-4/image_{sid}.png"] = data
            question = text if version != "Vision Only" else ""
            q = f"{question}\n{choices}".strip()
            row = {"sample_index": sid, "problem_index": pidx, "problem_version": version, "question": q,
                   "image": {"bytes": data, "path": f"image_{sid}.png"}, "answer": answer, "question_type": qtype,
                   "metadata": {"split": "testmini", "source": "GeoQA", "subject": "Plane Geometry",
                                "subfield": "Angle" if pidx == "1" else "Length"},
                   "query_wo": f"Please directly answer the question and provide the correct option letter.\n"
                               f"Question: {q}" if qtype == "multi-choice" else f"Question: {q}",
                   "query_cot": f"Please first conduct reasoning, and then answer the question.\nQuestion: {q}",
                   "question_for_eval": q}
            files["testmini.parquet"].append(row)
            expected[f"testmini/{sid}"] = RowExpect(gold=answer, kind=kind, n_images=1, file="testmini.parquet",
                                                    index=len(files["testmini.parquet"]) - 1, raw_gold=answer,
                                                    image_sizes=(size,), split="testmini", source_id=sid)
    # guess: the text-only config has no image (null).
    files["testmini_text_only.parquet"].append({
        "sample_index": "1", "problem_index": "1", "problem_version": "Text Only",
        "question": problems[0][1] + "\n" + problems[0][2], "image": None, "answer": "B",
        "question_type": "multi-choice", "metadata": {"split": "testmini_text_only", "source": "GeoQA",
                                                      "subject": "Plane Geometry", "subfield": "Angle"},
        "query_wo": "Question: " + problems[0][1], "query_cot": "Question: " + problems[0][1],
        "question_for_eval": problems[0][1]})
    expected["testmini_text_only/1"] = RowExpect(gold="B", kind="mc", n_images=0, file="testmini_text_only.parquet",
                                                 index=0, raw_gold="B", split="testmini_text_only", source_id="1")
    bad: Broken | None = None
    if broken == "no_answer":
        files["testmini.parquet"][5]["answer"] = None
        bad = Broken(broken, "testmini.parquet", "testmini/6", "answer is None")
    elif broken == "bad_image":
        files["testmini.parquet"][4]["image"] = {"bytes": NOT_AN_IMAGE, "path": "image_5.png"}
        bad = Broken(broken, "testmini.parquet", "testmini/5", "image is not an image")
    for rel, rows in files.items():
        _write_hf_parquet(root / rel, rows, MATHVERSE_FEATURES)
    if broken == "truncated_parquet":
        _truncate(root / "testmini.parquet")
        bad = Broken(broken, "testmini.parquet", None, "parquet file cut to half its size")
    with zipfile.ZipFile(root / "images.zip", "w") as z:
        for name, data in zipped.items():
            z.writestr(name, data)
    (root / "README.md").write_text(_readme([("testmini", [("testmini", "testmini.parquet")]),
                                             ("testmini_text_only", [("testmini_text_only",
                                                                      "testmini_text_only.parquet")])]),
                                    encoding="utf-8")
    return HubFixture(root, expected, {"dataset": "AI4Math/MathVerse"}, bad)


# ----------------------------------------------------------------------------------------------
# TIGER-Lab/MEGA-Bench
# ----------------------------------------------------------------------------------------------

MEGABENCH_FEATURES = datasets.Features({
    "id": Value("int64"),  # guess: dtype not published
    "task_name": Value("string"), "task_description": Value("string"), "global_media": Value("string"),
    "example_text": Value("string"), "example_media": Value("string"), "query_text": Value("string"),
    "query_media": Value("string"), "answer": Value("string"), "metric_info": Value("string"),
    "eval_context": Value("string"),
})
MEGABENCH_CONFIGS = ("core", "core_single_image", "open", "open_single_image")


def make_megabench_snapshot(tmp: Path, broken: str | None = None) -> HubFixture:
    """``MEGA-Bench/{core,core_single_image,open,open_single_image}/test-00000-of-00001.parquet``
    holding media *paths* (string form of lists) and a root ``data.zip`` with the media.

    Row keys: ``"<config>/<id>"``. ``n_images`` counts global + example + query media.
    """
    _check_kind("megabench", broken)
    root = Path(tmp) / "MEGA-Bench"
    imgs = _Images()
    members: dict[str, bytes] = {}
    expected: dict[str, RowExpect] = {}
    files: dict[str, list[dict[str, Any]]] = {c: [] for c in MEGABENCH_CONFIGS}

    def media(task: str, name: str) -> str:
        data, _ = imgs.next()
        path = f"./data/{task}/{name}.png"  # guess: folder structure inside data.zip
        members[path[2:]] = data
        return path

    count_metric = repr({"field_score_function": {"count": "exact_str_match"},
                         "aggregation": {"function": "mean", "field_weights": {"count": 1}},
                         "response_parse_function": "answer_string"})
    ex_img = media("count_shapes", "example")
    count_rows = []
    for gid, n in ((1, "3"), (2, "5")):
        q = media("count_shapes", f"query_{gid}")
        count_rows.append({"id": gid, "task_name": "count_shapes",
                           "task_description": "Count the shapes in the image. Answer with 'Answer: {\"count\": N}'.",
                           "global_media": "[]", "example_text": "<image>\nAnswer: {'count': '2'}",
                           "example_media": repr([ex_img]), "query_text": "<image>",
                           "query_media": repr([q]), "answer": repr({"count": n}), "metric_info": count_metric,
                           "eval_context": "{}"})
    g = media("compare_pairs", "global")
    q1, q2 = media("compare_pairs", "left"), media("compare_pairs", "right")
    mc_metric = repr({"field_score_function": {"answer": "exact_str_match"},
                      "aggregation": {"function": "mean", "field_weights": {"answer": 1}},
                      "response_parse_function": "answer_string"})
    compare = {"id": 3, "task_name": "compare_pairs",
               "task_description": "<image>\nThe reference image is shown above. Which of two images matches it?",
               "global_media": repr([g]), "example_text": "", "example_media": "[]",
               "query_text": "<image> <image>\n(A) the left image\n(B) the right image", "query_media": repr([q1, q2]),
               "answer": repr({"answer": "B"}), "metric_info": mc_metric, "eval_context": "{}"}
    judge_metric = repr({"field_score_function": {"reference": "gpt_4o_as_judge"},
                         "aggregation": {"function": "mean", "field_weights": {"reference": 1}},
                         "response_parse_function": "dummy"})
    cap = media("caption_scene", "query")
    caption = {"id": 4, "task_name": "caption_scene", "task_description": "Describe the image in one sentence.",
               "global_media": "[]", "example_text": "", "example_media": "[]", "query_text": "<image>",
               "query_media": repr([cap]), "answer": repr({"reference": "A red square on a white background."}),
               "metric_info": judge_metric, "eval_context": "{}"}
    files["core"] = [*count_rows, compare]
    files["core_single_image"] = list(count_rows)
    files["open"] = [caption]
    files["open_single_image"] = [caption]
    for config, rows in files.items():
        for i, r in enumerate(rows):
            n_media = sum(len(ast.literal_eval(r[k])) for k in ("global_media", "example_media", "query_media"))
            gold = ast.literal_eval(r["answer"])
            expected[f"{config}/{r['id']}"] = RowExpect(
                gold=gold, kind="structured", n_images=n_media, file=f"{config}/test-00000-of-00001.parquet", index=i,
                raw_gold=r["answer"], split="test", source_id=str(r["id"]))
    bad: Broken | None = None
    if broken == "no_answer":
        files["core"][0] = {**files["core"][0], "answer": None}
        bad = Broken(broken, "core/test-00000-of-00001.parquet", "core/1", "answer is None")
    elif broken == "missing_member":
        members.pop(q2[2:])
        bad = Broken(broken, "data.zip", "core/3", "data.zip lacks the right image of compare_pairs")
    for config, rows in files.items():
        _write_hf_parquet(root / config / "test-00000-of-00001.parquet", rows, MEGABENCH_FEATURES)
    if broken == "truncated_parquet":
        _truncate(root / "core/test-00000-of-00001.parquet")
        bad = Broken(broken, "core/test-00000-of-00001.parquet", None, "parquet file cut to half its size")
    if broken == "missing_zip":
        bad = Broken(broken, "data.zip", None, "data.zip is missing")
    else:
        with zipfile.ZipFile(root / "data.zip", "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
    (root / "README.md").write_text(
        _readme([(c, [("test", f"{c}/test-*")]) for c in MEGABENCH_CONFIGS]), encoding="utf-8")
    return HubFixture(root, expected, {"dataset": "TIGER-Lab/MEGA-Bench"}, bad)


# ----------------------------------------------------------------------------------------------
# The Hugging Face hub cache
# ----------------------------------------------------------------------------------------------

_LFS_SUFFIXES = (".parquet", ".zip", ".png", ".jpg", ".jpeg", ".arrow")


def _blob_name(rel: str, data: bytes) -> str:
    """LFS files are stored under their sha256, small git files under their git blob sha1."""
    if rel.lower().endswith(_LFS_SUFFIXES):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def make_hf_cache(tmp: Path, repo_id: str, snapshot_builder: Callable[[Path], HubFixture],
                  revision: str = "0123456789abcdef0123456789abcdef01234567", **builder_kwargs: Any) -> HubFixture:
    """A hub cache (what ``HF_HUB_CACHE`` points to) holding ``repo_id`` at ``revision``:
    ``datasets--ORG--NAME/{refs/main, blobs/<hash>, snapshots/<revision>/...}`` with the snapshot
    files as relative symlinks into ``blobs``, as ``huggingface_hub`` lays it out.

    The returned fixture's ``root`` is the cache folder; ``meta["snapshot"]`` is the snapshot folder
    (row ``file`` paths are relative to it).
    """
    cache = Path(tmp) / "hub"
    staging = Path(tmp) / f"_staging_{repo_id.replace('/', '--')}"
    built = snapshot_builder(staging, **builder_kwargs)
    repo_dir = cache / f"datasets--{repo_id.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / revision
    (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    for src in sorted(p for p in built.root.rglob("*") if p.is_file()):
        rel = src.relative_to(built.root).as_posix()
        data = src.read_bytes()
        blob = repo_dir / "blobs" / _blob_name(rel, data)
        if not blob.exists():
            blob.write_bytes(data)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        depth = len(Path(rel).parts) + 1  # up from the file's folder to the repo folder
        link.symlink_to(Path(*([".."] * depth)) / "blobs" / blob.name)
    shutil.rmtree(staging)
    meta = {**built.meta, "repo_id": repo_id, "revision": revision, "snapshot": snapshot, "repo_dir": repo_dir}
    broken = built.broken
    return HubFixture(cache, built.expected, meta, broken)


# ----------------------------------------------------------------------------------------------
# Convenience
# ----------------------------------------------------------------------------------------------

BUILDERS: dict[str, Callable[..., HubFixture]] = {
    "orsta": make_orsta,
    "virl39k": make_virl39k,
    "mmmu": make_mmmu_snapshot,
    "mathvista": make_mathvista_snapshot,
    "mathvision": make_mathvision_snapshot,
    "mathverse": make_mathverse_snapshot,
    "megabench": make_megabench_snapshot,
}


def make_broken(tmp: Path, dataset: str, kind: str) -> HubFixture:
    """A broken variant of ``dataset`` (see :data:`BROKEN_KINDS`); ``fixture.broken`` says what."""
    return BUILDERS[dataset](tmp, broken=kind)
