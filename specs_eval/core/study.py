"""The Generalization Factor study spec: which evaluation sets are ID, which are OOD, weights α, Ψ, β.

Why a record in core: the spec is written into every run manifest made with ``--study``
(``RunManifest.study``), and ``analysis`` computes Γ from run directories and core only.
So the roles travel with the runs: ``specs-eval report`` over runs of a study needs no
flags, and a renamed or copied run folder still knows which of its sets were ID and OOD.

A **set** is a benchmark, a split and a prompt variant (``mathvista:testmini@json``: the
testmini items asking for a JSON answer). A run records a set's samples under the set's
**label**: the split name when the set uses the spec's base ``prompt_variant``, else
``split@variant``, so one run folder can hold the same split asked two ways. Γ is then
computed over sets exactly as over the splits of one benchmark (item bootstrap per set,
then the weighted combination), across benchmarks.

    schema_version: 1
    name: real-format
    id:  [mathvista:testmini]
    ood:
      - mathvista:testmini@json            # format shift: same items, another answer format
      - {set: mmmu:validation, weight: 2}  # another benchmark, twice the weight in G_OOD
    metric: accuracy                       # Ψ: accuracy | format_compliance | strict_accuracy
    prompt_variant: specs                  # the variant of sets that name none

Loading a spec file and checking its benchmarks, splits and variants against the registry
is ``specs_eval.benchmarks.study``; this module only parses and validates the shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from specs_eval.core.errors import SpecsError

STUDY_SPEC_SCHEMA_VERSION = 1
DEFAULT_BETA = 2.0

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_REF_RE = re.compile(rf"^(?P<benchmark>{_NAME}):(?P<split>{_NAME})(?:@(?P<variant>{_NAME}))?$")


def parse_ref(ref: str) -> tuple[str, str, str | None]:
    """``benchmark:split[@variant]`` → (benchmark, split, variant or None)."""
    m = _REF_RE.match(str(ref).strip())
    if m is None:
        raise SpecsError(f"{ref!r} is not a set reference; write BENCHMARK:SPLIT or BENCHMARK:SPLIT@VARIANT, "
                         "e.g. mathvista:testmini or mathvista:testmini@json")
    return m["benchmark"], m["split"], m["variant"]


def split_refs(value: str | Sequence[str] | None) -> list[str]:
    """Comma-separated (or repeated) set references, in order, without blanks."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [r.strip() for item in items for r in str(item).split(",") if r.strip()]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StudySet(_Record):
    """One evaluation set of a study: a benchmark split asked with one prompt variant.

    In a spec file a set is a reference string (``mmmu:validation@json``) or a mapping
    (``{set: REF, weight: 2, limit: 500}``, or the fields spelled out).
    """

    benchmark: str
    split: str
    #: the prompt variant (``specs_eval.benchmarks.variants``); None: the spec's ``prompt_variant``
    variant: str | None = None
    #: α (OOD) or the ID weight: the set's share of its role's weighted mean gain
    weight: float = 1.0
    #: items of the set (None: the spec's ``limit``, then all)
    limit: int | None = Field(None, ge=1)
    #: local copy of the benchmark's data for this set (None: the benchmark's default source)
    data: str | None = None
    #: the split name the set's samples are recorded under (filled in by the spec: ``split`` or ``split@variant``)
    label: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_ref(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = {"set": v}
        if isinstance(v, dict) and "set" in v:
            v = dict(v)
            bench, split, variant = parse_ref(v.pop("set"))
            for k, got in (("benchmark", bench), ("split", split), ("variant", variant)):
                if v.get(k) not in (None, got) and got is not None:
                    raise ValueError(f"set {bench}:{split}: {k} given twice ({v[k]!r} and {got!r})")
                if got is not None:
                    v[k] = got
        return v

    @field_validator("weight")
    @classmethod
    def _weight(cls, w: float) -> float:
        if not (math.isfinite(w) and w > 0):
            raise ValueError(f"weight must be a positive number, got {w!r}")
        return w

    @property
    def key(self) -> tuple[str, str]:
        """(benchmark, label): where the set's samples are in a run."""
        return self.benchmark, self.label or self.split

    @property
    def ref(self) -> str:
        """``benchmark:label``, the set's name in reports."""
        return f"{self.benchmark}:{self.label or self.split}"


class GFStudySpec(_Record):
    """A Generalization Factor study: ID sets, OOD sets with weights α, the metric Ψ and β."""

    schema_version: int = STUDY_SPEC_SCHEMA_VERSION
    name: str = "gf"
    description: str = ""
    id: list[StudySet]
    ood: list[StudySet]
    metric: str = Field("accuracy", description="Ψ: one of the registry's PSI_METRICS")
    beta: float = Field(DEFAULT_BETA, gt=0)
    prompt_variant: str = Field("official", description="the prompt variant of sets that name none")
    limit: int | None = Field(None, ge=1, description="items per set unless the set says otherwise")

    @field_validator("schema_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != STUDY_SPEC_SCHEMA_VERSION:
            raise ValueError(f"study spec schema_version {v} is not {STUDY_SPEC_SCHEMA_VERSION}")
        return v

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        from specs_eval.core.metrics import PSI_METRICS  # metrics imports records, which imports this module

        if v not in PSI_METRICS:
            raise ValueError(f"unknown metric {v!r}; Ψ is one of {', '.join(PSI_METRICS)}")
        return v

    @model_validator(mode="after")
    def _resolve(self) -> GFStudySpec:
        if not self.id or not self.ood:
            raise ValueError("a study needs at least one ID set and one OOD set")
        seen: dict[tuple[str, str], str] = {}
        for role, sets in (("id", self.id), ("ood", self.ood)):
            for s in sets:
                if s.variant is None:
                    s.variant = self.prompt_variant
                want = s.split if s.variant == self.prompt_variant else f"{s.split}@{s.variant}"
                if s.label is not None and s.label != want:
                    raise ValueError(f"set {s.benchmark}:{s.split}@{s.variant}: label {s.label!r} should be {want!r}")
                s.label = want
                if s.key in seen:
                    raise ValueError(f"set {s.ref} is listed twice (as {seen[s.key]} and as {role})")
                seen[s.key] = role
        return self

    def sets(self) -> list[tuple[str, StudySet]]:
        """(role, set) in order: ID sets, then OOD sets."""
        return [("id", s) for s in self.id] + [("ood", s) for s in self.ood]

    def roles(self) -> dict[str, dict[str, float]]:
        """{"id": {ref: weight}, "ood": {ref: weight}}."""
        return {"id": {s.ref: s.weight for s in self.id}, "ood": {s.ref: s.weight for s in self.ood}}

    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(s.benchmark for _, s in self.sets()))


def spec_from_refs(id_refs: str | Sequence[str], ood_refs: str | Sequence[str],
                   weights: dict[str, float] | None = None, *, name: str = "cli", metric: str = "accuracy",
                   beta: float = DEFAULT_BETA, prompt_variant: str = "official", limit: int | None = None,
                   recorded: bool = False) -> GFStudySpec:
    """The short command-line form: ``--id a:x --ood b:y,c:z@json --ood-weight b:y=2``.

    ``recorded``: the references name sets as runs recorded them (``specs-eval report``):
    ``mathvista:testmini@json`` is the recorded split ``testmini@json``, whatever variant
    the runs' base prompts used.
    """
    weights = dict(weights or {})
    ids, oods = split_refs(id_refs), split_refs(ood_refs)
    if not ids or not oods:
        raise SpecsError("a study needs --id and --ood sets (BENCHMARK:SPLIT[@VARIANT], comma-separated)")

    def one(r: str) -> dict[str, Any]:
        if not recorded:
            return {"set": r}
        b, sp, v = parse_ref(r)
        return {"benchmark": b, "split": sp if v is None else f"{sp}@{v}"}

    sets_ood = []
    for r in oods:
        sets_ood.append({**one(r), "weight": weights.pop(r, 1.0)})
    if weights:
        raise SpecsError(f"weight given for {', '.join(sorted(weights))}, which is not among the OOD sets "
                         f"({', '.join(oods)})")
    try:
        return GFStudySpec(name=name, id=[one(r) for r in ids], ood=sets_ood, metric=metric, beta=beta,
                           prompt_variant=prompt_variant, limit=limit)
    except ValueError as e:
        raise SpecsError(f"study from the command line: {e}") from None
