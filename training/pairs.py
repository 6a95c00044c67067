"""Preference-pair construction from scored samples: decoupled (SPECS), coupled, teacher.

Why a pure module: the pair rules are the method. Which samples may be chosen, which
rejected, what corruption they get and how many are lost at each filter must be testable
without a model, and reported (the paper's ablations differ only here).

* **decoupled** (SPECS): chosen = a sample of the chosen source (the zero-RL model; or
  the base, or a teacher, for the distillation-source ablations) with a correct answer
  and the SPECS format (and, optionally, judged consistent); rejected = a
  *correct-answer* sample of the base model with its format corrupted by one of the
  five rules. Both answers are right: the pair differs in format and style only.
* **coupled**: as above, but the rejected sample has a *wrong* answer, so the pair
  differs in format and correctness together (the paper's "coupled data" ablation).

Truncated samples are never used. Identical texts of one prompt count once. Every
rejected text is re-checked after corruption; one that still passes the format check
is dropped and counted.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from training.corruption import RULES, corrupt
from training.rewards import format_ok

PAIRS_SCHEMA_VERSION = 1
PairMode = Literal["decoupled", "coupled"]


@dataclass(frozen=True)
class Candidate:
    """One scored sample of one prompt."""

    id: str
    sample_idx: int
    text: str
    correct: bool
    truncated: bool = False

    @property
    def format_ok(self) -> bool:
        return format_ok(self.text)


class PairRecord(BaseModel):
    """One line of ``pairs.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = PAIRS_SCHEMA_VERSION
    pair_id: str
    id: str
    chosen: str
    rejected: str
    rejected_original: str
    rule: str
    mode: PairMode
    chosen_source: str
    rejected_source: str = "base"
    chosen_sample_idx: int
    rejected_sample_idx: int
    benchmark: str = ""
    split: str = ""
    prompt_hash: str = ""


class FilterReport(BaseModel):
    """How many samples survive each filter: the distill stage's headline numbers."""

    model_config = ConfigDict(extra="forbid")

    mode: PairMode
    prompts: int = 0
    chosen_samples: int = 0
    chosen_truncated: int = 0
    chosen_correct: int = 0
    chosen_correct_and_format: int = 0
    chosen_duplicates: int = 0
    judge_checked: int = 0
    judge_rejected: int = 0
    judge_errors: int = 0
    chosen_kept: int = 0
    rejected_samples: int = 0
    rejected_truncated: int = 0
    rejected_answer_ok: int = Field(0, description="correct (decoupled) or wrong (coupled) answers")
    rejected_duplicates: int = 0
    rejected_still_formatted: int = 0
    rejected_kept: int = 0
    prompts_with_chosen: int = 0
    prompts_with_rejected: int = 0
    prompts_with_pair: int = 0
    pairs: int = 0
    rules: dict[str, int] = Field(default_factory=dict)

    def losses(self) -> dict[str, float]:
        """Share of samples lost at each filter (for reports)."""

        def share(lost: int, of: int) -> float:
            return round(lost / of, 4) if of else 0.0

        return {
            "chosen_wrong_answer": share(self.chosen_samples - self.chosen_truncated - self.chosen_correct,
                                         self.chosen_samples),
            "chosen_bad_format": share(self.chosen_correct - self.chosen_correct_and_format, self.chosen_samples),
            "chosen_judge": share(self.judge_rejected + self.judge_errors, self.chosen_samples),
            "rejected_answer_filter": share(self.rejected_samples - self.rejected_truncated - self.rejected_answer_ok,
                                            self.rejected_samples),
            "prompts_without_pair": share(self.prompts - self.prompts_with_pair, self.prompts),
        }


@dataclass
class PairSet:
    pairs: list[PairRecord]
    report: FilterReport
    chosen_by_prompt: dict[str, list[Candidate]] = field(default_factory=dict)


JudgeFn = Callable[[Candidate], bool | None]


def _rng(seed: int, *keys: Any) -> random.Random:
    h = hashlib.sha256(":".join(str(k) for k in (seed, *keys)).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def _dedupe(cands: Sequence[Candidate]) -> tuple[list[Candidate], int]:
    seen: set[str] = set()
    out = []
    for c in cands:
        if c.text in seen:
            continue
        seen.add(c.text)
        out.append(c)
    return out, len(cands) - len(out)


def build_pairs(
    chosen: Sequence[Candidate],
    rejected: Sequence[Candidate],
    mode: PairMode = "decoupled",
    pairs_per_prompt: int = 1,
    seed: int = 0,
    judge: JudgeFn | None = None,
    chosen_source: str = "zero-rl",
    meta: dict[str, dict[str, str]] | None = None,
    distinct_samples: bool = False,
) -> PairSet:
    """Pairs for every prompt that has both a usable chosen and a usable rejected sample.

    ``meta[id]`` may carry ``benchmark``, ``split`` and ``prompt_hash`` to store with a
    pair. ``judge`` returns True (consistent), False (not) or None (the call failed);
    only True keeps a chosen sample: a failed judge never lets a sample through.
    ``distinct_samples`` (chosen and rejected sampled in one pass) never pairs a sample
    with its own corruption.
    """
    report = FilterReport(mode=mode, rules=dict.fromkeys(RULES, 0))
    by_prompt_c: dict[str, list[Candidate]] = defaultdict(list)
    by_prompt_r: dict[str, list[Candidate]] = defaultdict(list)
    for c in chosen:
        by_prompt_c[c.id].append(c)
    for r in rejected:
        by_prompt_r[r.id].append(r)
    prompts = list(dict.fromkeys([*by_prompt_c, *by_prompt_r]))
    report.prompts = len(prompts)

    kept_c: dict[str, list[Candidate]] = {}
    for pid, cands in by_prompt_c.items():
        report.chosen_samples += len(cands)
        ok = []
        for c in cands:
            if c.truncated:
                report.chosen_truncated += 1
                continue
            if not c.correct:
                continue
            report.chosen_correct += 1
            if c.format_ok:
                report.chosen_correct_and_format += 1
                ok.append(c)
        ok, dup = _dedupe(ok)
        report.chosen_duplicates += dup
        if judge is not None:
            judged = []
            for c in ok:
                report.judge_checked += 1
                verdict = judge(c)
                if verdict is None:
                    report.judge_errors += 1
                elif verdict:
                    judged.append(c)
                else:
                    report.judge_rejected += 1
            ok = judged
        report.chosen_kept += len(ok)
        if ok:
            kept_c[pid] = ok

    kept_r: dict[str, list[tuple[Candidate, str, str]]] = {}
    for pid, cands in by_prompt_r.items():
        report.rejected_samples += len(cands)
        ok_r = []
        for c in cands:
            if c.truncated:
                report.rejected_truncated += 1
                continue
            wanted = c.correct if mode == "decoupled" else not c.correct
            if wanted:
                ok_r.append(c)
        report.rejected_answer_ok += len(ok_r)
        ok_r, dup = _dedupe(ok_r)
        report.rejected_duplicates += dup
        corrupted = []
        for c in ok_r:
            text, rule = corrupt(c.text, _rng(seed, "rule", pid, c.sample_idx))
            if format_ok(text):
                report.rejected_still_formatted += 1
                continue
            corrupted.append((c, text, rule))
        report.rejected_kept += len(corrupted)
        if corrupted:
            kept_r[pid] = corrupted

    report.prompts_with_chosen = len(kept_c)
    report.prompts_with_rejected = len(kept_r)
    pairs: list[PairRecord] = []
    for pid in prompts:
        if pid not in kept_c or pid not in kept_r:
            continue
        rng = _rng(seed, "pair", pid)
        cs = list(kept_c[pid])
        rs = list(kept_r[pid])
        rng.shuffle(cs)
        rng.shuffle(rs)
        matched: list[tuple[Candidate, tuple[Candidate, str, str]]] = []
        for c in cs:
            if len(matched) == pairs_per_prompt:
                break
            j = next((j for j, r in enumerate(rs) if not (distinct_samples and r[0].sample_idx == c.sample_idx)), None)
            if j is not None:
                matched.append((c, rs.pop(j)))
        k = len(matched)
        m = (meta or {}).get(pid, {})
        for j, (c, (r, text, rule)) in enumerate(matched):
            report.rules[rule] += 1
            pairs.append(PairRecord(
                pair_id=f"{pid}#{j}", id=pid, chosen=c.text, rejected=text, rejected_original=r.text, rule=rule,
                mode=mode, chosen_source=chosen_source, chosen_sample_idx=c.sample_idx,
                rejected_sample_idx=r.sample_idx, benchmark=m.get("benchmark", ""), split=m.get("split", ""),
                prompt_hash=m.get("prompt_hash", ""),
            ))
        if k:
            report.prompts_with_pair += 1
    report.pairs = len(pairs)
    return PairSet(pairs=pairs, report=report, chosen_by_prompt=kept_c)
