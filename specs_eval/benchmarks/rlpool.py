"""The RL-pool benchmarks (Orsta-Data-47k, ViRL39K): the paper's RL data read in its published layout.

Why benchmarks and not a conversion: the RL prompt must be the prompt the model is
evaluated on and the reward must be the evaluation's scorer (design.md, "Rewards"). As
benchmarks, the two datasets load by hub id or from a downloaded snapshot folder in the
same layout (``--data FOLDER``, ``data.path``, ``data.hf_id=FOLDER``), keep their own row
schema, score with their authors' rules (``rules/rlpool.py``, ``rules/detection.py``), and
serve every consumer alike: ``specs-eval run -b orsta -s heldout``, the pipeline's data
(``data.hf_id`` or ``data.benchmark``), ``specs-train export``, and a GF study that uses
``orsta:heldout`` as its ID set.

Splits: ``train`` and ``heldout`` partition the training rows deterministically by a hash
of each row's question and gold answer (``heldout_fraction`` of them, 2 %), so a held-out
item never appears in ``train`` (byte-identical duplicates, such as Orsta's ``_x2`` puzzle
files, land on the same side). Orsta also has ``test`` (its ``test/`` folder).

Bad input: a file that cannot be read (a parquet cut short, a missing or corrupt
``images.zip``) is a ``BenchmarkError`` naming the file. A row the rules cannot use is
skipped and counted per reason in ``LoadedSplit.report`` (``no_answer``, ``bad_image``,
``missing_image``, ``image_count_mismatch``, ``unsupported_verifier``…, with the first
few row keys per reason); training writes that report into the stage manifest. Rows the
rules cannot *verify* (``text`` kind: free-form words) are loaded, counted by kind, and
scored ``not_scored``, never as free text.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from specs_eval.benchmarks.base import Benchmark, LoadedSplit, score_each
from specs_eval.benchmarks.hub import finish_load
from specs_eval.core.errors import BenchmarkError
from specs_eval.core.prompt import Prompt
from specs_eval.core.records import Response, ScoreResult
from specs_eval.rules import detection as det
from specs_eval.rules import rlpool as rules

#: appended to reasoning questions, which carry no instruction of their own (the authors add one
#: when sampling); VL-Rethinker's trigger for ViRL39K, one fixed phrasing of Orsta's ~400 variants
REASONING_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
IMAGE_TOKEN = "<image>"
SKIP_EXAMPLES = 5
#: a file naming chosen rows of a snapshot; accepted wherever a data path is (``--data``, ``data.path``)
SELECTION_SUFFIX = ".selection.json"


class PoolSelection(BaseModel):
    """``*.selection.json``: a reproducible subset of a snapshot's rows (written by ``specs-train``).

    Training picks its rows once (kind filters, a seeded sample for ``data.limit``) and writes
    them here, so that the distill stage's sampling runs and the training stages read exactly
    the same rows, and a run records which.
    """

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    benchmark: str
    split: str
    snapshot: str  # the folder (or file) the rows were read from
    source: str  # "hf" or "local"
    hf_id: str | None = None
    revision: str | None = None
    keys: list[str]
    report: dict[str, Any] = Field(default_factory=dict)



class SkipRow(Exception):
    """A row the rules cannot use: skipped and counted under ``reason``."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def heldout_key(question: str, gold: str) -> float:
    """A row's position in [0, 1) for the train/heldout partition (question and gold, whitespace-normalised)."""
    text = " ".join(question.replace(IMAGE_TOKEN, " ").split()) + "\0" + " ".join(gold.split())
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:13], 16) / 16 ** 13


def image_size(data: bytes, what: str) -> tuple[int, int]:
    """(width, height) of encoded image bytes, checking that they are a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
            im.verify()
        return int(size[0]), int(size[1])
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise SkipRow("bad_image", f"{what}: {type(e).__name__}: {e}") from None


def decode_image(data: bytes, what: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise BenchmarkError(f"{what}: unreadable or corrupt image ({type(e).__name__}: {e})") from None


def interleave(text: str, n_images: int) -> list[dict[str, Any]]:
    """Prompt parts from a question with ``<image>`` tokens: each token is the next image.

    Without tokens the images come first (VL-Rethinker's layout). The caller has checked that
    the token count is 0 or ``n_images``.
    """
    if IMAGE_TOKEN not in text:
        parts: list[dict[str, Any]] = [{"type": "image", "index": i} for i in range(n_images)]
        return [*parts, {"type": "text", "text": text}]
    parts = []
    for i, segment in enumerate(text.split(IMAGE_TOKEN)):
        if i:
            parts.append({"type": "image", "index": i - 1})
        if segment.strip():
            parts.append({"type": "text", "text": segment})
    return parts


def read_parquet(path: Path, root: Path) -> list[dict[str, Any]]:
    """Rows of one parquet file; an unreadable file is an error naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as e:
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        raise BenchmarkError(f"cannot read {rel} in {root} ({type(e).__name__}: {str(e).splitlines()[0]}); the file is "
                             "incomplete or corrupt (a download cut short?): download it again") from None


class RLPoolBenchmark(Benchmark):
    """Base of the RL-pool benchmarks: split partition, row checks, kinds, prompt and scoring."""

    hf_id: ClassVar[str]
    revision: ClassVar[str] = "main"
    revision_env: ClassVar[str]
    #: published size of the training pool (for `specs-train config`'s epochs; None: unknown)
    published_rows: ClassVar[int | None] = None
    splits: ClassVar[dict[str, int | None]] = {"train": None, "heldout": None}
    default_splits: ClassVar[tuple[str, ...]] = ("heldout",)
    #: the held-out slice of the training distribution plays the in-distribution role (GF studies)
    id_splits: ClassVar[tuple[str, ...]] = ("heldout",)
    profiles: ClassVar[tuple[str, ...]] = ("official", "judge")
    profile_notes: ClassVar[dict[str, str]] = {
        "official": "the dataset authors' rules: option letters, math-verify, IoU; free-text golds not scored",
        "judge": "as official, and your LLM judge decides the free-text golds",
    }
    judge_profiles: ClassVar[tuple[str, ...]] = ("judge",)
    breakdown_keys: ClassVar[tuple[str, ...]] = ("kind", "source")
    default_max_new_tokens: ClassVar[int] = 4096
    #: the authors' verifiers read whole responses (last ``\boxed{}``, first ``<answer>``)
    uses_answer_view: ClassVar[bool] = False
    heldout_fraction: ClassVar[float] = 0.02

    # ------------------------------------------------------------------ dataset-specific hooks

    def read_snapshot(self, root: Path, split: str) -> Iterator[dict[str, Any]]:
        """Rows of the files that hold ``split``, each with ``_key`` (raise BenchmarkError for bad files)."""
        raise NotImplementedError

    def question(self, row: dict[str, Any]) -> str:
        raise NotImplementedError

    def gold(self, row: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def check_images(self, row: dict[str, Any]) -> list[tuple[int, int]]:
        """(width, height) of each image of the row, raising SkipRow when one is missing or unreadable."""
        raise NotImplementedError

    def images(self, row: dict[str, Any]) -> list[Any]:
        """The row's images as RGB PIL images, in order."""
        raise NotImplementedError

    def answer_kind(self, row: dict[str, Any]) -> str:
        """``mc``, ``yesno``, ``math``, ``text``, ``detection`` or ``grounding`` (``rules.rlpool.KINDS``)."""
        return rules.classify(self.gold(row), self.question(row))

    def detection_settings(self, row: dict[str, Any]) -> det.DetectionSettings:
        return det.DetectionSettings()

    # ------------------------------------------------------------------ loading

    def locate(self, data: str | Path | None) -> tuple[Path, str, str | None]:
        """(snapshot folder or file, source, revision): a local copy, or the hub snapshot (cached)."""
        if data is not None:
            p = Path(data)
            if not p.exists():
                raise BenchmarkError(f"data path not found: {p}")
            return p, "local", None
        revision = os.environ.get(self.revision_env, self.revision)
        try:
            from huggingface_hub import snapshot_download

            folder = snapshot_download(self.hf_id, repo_type="dataset", revision=revision,
                                       cache_dir=os.environ.get("HF_HUB_CACHE") or None)
        except Exception as e:  # network, auth, an offline cache without it
            raise BenchmarkError(f"cannot get {self.hf_id} @ {revision} from the Hugging Face hub ({type(e).__name__}: "
                                 f"{str(e).splitlines()[0] if str(e) else ''}); download it (huggingface-cli download "
                                 f"{self.hf_id} --repo-type dataset --local-dir FOLDER) and pass --data FOLDER") from None
        return Path(folder), "hf", Path(folder).name

    def read_selection(self, data: str | Path | None, split: str) -> PoolSelection:
        p = Path(str(data))
        try:
            sel = PoolSelection.model_validate_json(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise BenchmarkError(f"cannot read the row selection {p} ({type(e).__name__}: {str(e).splitlines()[0]})"
                                 ) from None
        if (sel.benchmark, sel.split) != (self.name, split):
            raise BenchmarkError(f"{p} selects rows of {sel.benchmark}/{sel.split}, not {self.name}/{split}")
        return sel

    def in_heldout(self, row: dict[str, Any]) -> bool:
        return heldout_key(self.question(row), rules.gold_content(self.gold(row))) < self.heldout_fraction

    def check_row(self, row: dict[str, Any]) -> str:
        """Validate one row (answer, kind, images); returns its kind or raises SkipRow."""
        gold = self.gold(row)
        if gold is None or not str(gold).strip() or not rules.gold_content(gold):
            raise SkipRow("no_answer", "the gold answer is empty")
        kind = self.answer_kind(row)
        if kind in ("detection", "grounding"):
            try:
                self.detection_settings(row)
                if det.extract_boxes(det.answer_content(str(gold)) if "<answer>" in str(gold)
                                     else str(gold).lower()) is None:
                    raise SkipRow("no_answer", "no box list in the gold answer")
            except det.UnsupportedRow as e:
                raise SkipRow("unsupported_verifier", str(e)) from None
        sizes = self.check_images(row)
        n_tokens = self.question(row).count(IMAGE_TOKEN)
        if n_tokens and n_tokens != len(sizes):
            raise SkipRow("image_count_mismatch", f"{n_tokens} {IMAGE_TOKEN} tokens but {len(sizes)} images")
        row["image_sizes"] = [list(s) for s in sizes]
        return kind

    def load(self, split: str, data: str | Path | None = None, limit: int | None = None, seed: int = 0
             ) -> LoadedSplit:
        self.check_split(split)
        selection = self.read_selection(data, split) if str(data or "").endswith(SELECTION_SUFFIX) else None
        if selection is not None:
            root, source, revision = Path(selection.snapshot), selection.source, selection.revision
            wanted = {k: i for i, k in enumerate(selection.keys)}
        else:
            root, source, revision = self.locate(data)
            wanted = None
        skipped: Counter[str] = Counter()
        examples: dict[str, list[str]] = {}
        kinds: Counter[str] = Counter()
        rows: list[dict[str, Any]] = []
        examined = 0
        stopped = False
        seen: set[str] = set()
        for row in self.read_snapshot(root, split):
            if wanted is not None:
                if row["_key"] not in wanted:
                    continue
                seen.add(row["_key"])
            elif split in ("train", "heldout"):
                try:
                    if self.in_heldout(row) != (split == "heldout"):
                        continue
                except Exception:  # an unreadable question/gold: counted below as a skip
                    pass
            examined += 1
            try:
                kind = self.check_row(row)
            except SkipRow as e:
                skipped[e.reason] += 1
                if len(examples.setdefault(e.reason, [])) < SKIP_EXAMPLES:
                    examples[e.reason].append(f"{row['_key']}: {e.detail}" if e.detail else row["_key"])
                continue
            kinds[kind] += 1
            rows.append(row)
            if limit is not None and len(rows) >= limit:
                stopped = True
                break
        if wanted is not None:
            lost = [k for k in wanted if k not in seen]
            if lost and not stopped:
                raise BenchmarkError(f"{data}: {len(lost)} selected row(s) (e.g. {lost[0]}) are no longer in {root}; "
                                     "the snapshot changed since the selection was made: delete the selection file")
            rows.sort(key=lambda r: wanted[r["_key"]])
        loaded = finish_load(benchmark=self.name, split=split, rows=rows, source=source, expected=None, limit=None,
                             hf_id=self.hf_id if source == "hf" else None, revision=revision,
                             path=str(data) if data is not None else None)
        loaded.report = {"examined": examined, "kept": len(rows), "kinds": dict(sorted(kinds.items())),
                         "skipped": dict(sorted(skipped.items())), "skip_examples": examples,
                         "stopped_at_limit": stopped, "heldout_fraction": self.heldout_fraction}
        return loaded

    def row_id(self, row: dict[str, Any]) -> str:
        return str(row["_key"]) if row.get("_key") is not None else str(row[self.id_field])

    # ------------------------------------------------------------------ prompt and scoring

    def official_prompt(self, row: dict[str, Any]) -> Prompt:
        images = self.images(row)
        text = self.question(row)
        if self.answer_kind(row) not in ("detection", "grounding"):
            text = text.rstrip() + "\n\n" + REASONING_INSTRUCTION
        n_tokens = text.count(IMAGE_TOKEN)
        if n_tokens and n_tokens != len(images):
            raise BenchmarkError(f"{self.name} row {self.row_id(row)}: {n_tokens} {IMAGE_TOKEN} tokens but "
                                 f"{len(images)} images")
        return Prompt(parts=interleave(text, len(images)), images=images)

    def target(self, row: dict[str, Any]) -> str:
        gold = str(self.gold(row) or "")
        if self.answer_kind(row) in ("detection", "grounding"):
            m = re.search(r"<answer>(.*?)</answer>", gold, re.DOTALL)
            return (m.group(1) if m else gold).strip()
        return rules.gold_content(gold)

    def meta(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"kind": self.answer_kind(row), "source": row.get("data_source") or row.get("source")}

    def score(self, rows: Sequence[dict[str, Any]], responses: Sequence[Response], profile: str | None = None
              ) -> list[ScoreResult]:
        profile = self.check_profile(profile)
        if profile == "judge" and self.judge is None:
            raise BenchmarkError(f"{self.name}: profile 'judge' needs a judge (--judge-url/--judge-model)")
        return score_each(rows, responses, lambda r, s: self.score_one(r, s, profile))

    def score_one(self, row: dict[str, Any], resp: Response, profile: str = "official") -> ScoreResult:
        kind = self.answer_kind(row)
        text = resp.text or ""
        if kind == "text":
            if profile == "judge":
                return self.judge_text(row, text)
            return ScoreResult(score=0.0, correct=False, parse_status="ok", method="not_scored",
                               details={"not_scored": True, "kind": kind,
                                        "reason": "free-form gold answer: the rules cannot verify it (use a judge)"})
        if not text.strip():
            return ScoreResult(score=0.0, correct=False, parse_status="empty", method="empty", details={"kind": kind})
        gold = self.gold(row)
        if kind in ("detection", "grounding"):
            settings = self.detection_settings(row)
            frame = None
            if settings.normalized:
                sizes = row.get("processed_image_sizes") or [det.processed_frame(s) for s in row.get("image_sizes") or []]
                frame = tuple(sizes[0]) if sizes else None
            v = det.detection_score(text, str(gold), settings, frame=frame,  # type: ignore[arg-type]
                                    threshold=row.get("_iou_threshold", "average"), progress=row.get("_progress"))
            return ScoreResult(score=v.score, correct=v.score >= 0.5, prediction=f"{v.n_pred} boxes" if v.parsed else None,
                               extracted=det.answer_content(text)[:500] or None,
                               parse_status="ok" if v.parsed else "failed", method="iou",
                               details={"kind": kind, "threshold": v.threshold, "frame": frame, **v.details})
        if kind == "mc":
            ok, got = rules.score_mc(text, gold, rules.parse_options(self.question(row)))
        elif kind == "yesno":
            ok, got = rules.score_yesno(text, gold)
        else:
            ok, got = rules.score_math(text, gold)
        return ScoreResult(score=float(ok), correct=ok, prediction=got, extracted=got,
                           parse_status="ok" if got is not None else "failed", method=kind, details={"kind": kind})

    def judge_text(self, row: dict[str, Any], text: str) -> ScoreResult:
        """The ``judge`` profile on a free-text gold: the judge's YES/NO (a failure is an ``error``)."""
        prompt = rules.equivalence_prompt(self.question(row), rules.gold_content(self.gold(row)), text)
        verdict = self.judge.complete([{"role": "user", "content": prompt}], max_tokens=rules.JUDGE_MAX_TOKENS)
        ok = rules.parse_equivalence(verdict.raw) if verdict.ok else None
        details = {"kind": "text", "judge_id": verdict.judge_id, "judge_raw": verdict.raw}
        if ok is None:
            return ScoreResult(score=0.0, correct=False, parse_status="error", method="judge",
                               details={**details, "error": verdict.error or "unparseable judge reply"})
        return ScoreResult(score=float(ok), correct=ok, parse_status="ok", method="judge", details=details)
