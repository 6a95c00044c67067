"""Loading GF study specs (``core.study.GFStudySpec``) and turning them into run tasks.

Why in the benchmarks layer: a spec is checked against the benchmark registry (each
set's benchmark, split and prompt variant must exist) before any model is loaded, and
its sets become ``TaskSpec``s with the label their samples are recorded under. Shipped
specs live in ``specs_eval/benchmarks/studies/NAME.yaml``; any YAML path works too.

    specs-eval run -m MODEL --study toy-format
    specs-eval run -m MODEL --id mathvista:testmini --ood mathvista:testmini@json,mmmu:validation
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from specs_eval.benchmarks import get_benchmark
from specs_eval.core.errors import BenchmarkError, SpecsError
from specs_eval.core.records import TaskSpec
from specs_eval.core.study import GFStudySpec

STUDIES_DIR = Path(__file__).with_name("studies")


def available_specs() -> list[str]:
    return sorted(p.stem for p in STUDIES_DIR.glob("*.yaml"))


def spec_path(name_or_path: str | Path) -> Path:
    """A shipped spec's file (``studies/NAME.yaml``) or an existing YAML path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise SpecsError(f"study spec {p}: no such file")
        return p
    shipped = STUDIES_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    raise SpecsError(f"unknown study spec {str(name_or_path)!r}; shipped: {', '.join(available_specs())} "
                     "(or give a YAML file)")


def validation_message(e: ValidationError, where: str) -> str:
    """A pydantic error as ``where: field.path: message`` lines (the set named by its position)."""
    msgs = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()))
        msg = "unknown key" if err.get("type") == "extra_forbidden" else str(err.get("msg", "")).removeprefix(
            "Value error, ")
        msgs.append(f"{loc}: {msg}" if loc else msg)
    return f"{where}: " + "; ".join(msgs)


def parse_spec(data: Any, where: str = "study spec") -> GFStudySpec:
    """A spec from a mapping (YAML or inline config), checked against the registry."""
    if isinstance(data, GFStudySpec):
        spec = data
    else:
        if not isinstance(data, dict):
            raise SpecsError(f"{where}: expected a mapping with id, ood, metric…, got {type(data).__name__}")
        try:
            spec = GFStudySpec.model_validate(data)
        except ValidationError as e:
            raise SpecsError(validation_message(e, where)) from None
    check_spec(spec, where)
    return spec


def load_spec(source: str | Path | dict[str, Any] | GFStudySpec) -> GFStudySpec:
    """A spec from a shipped name, a YAML file, or an inline mapping; registry-checked."""
    if isinstance(source, dict | GFStudySpec):
        return parse_spec(source)
    path = spec_path(source)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SpecsError(f"study spec {path}: not valid YAML ({e})") from None
    return parse_spec(data, f"study spec {path.name}")


def check_spec(spec: GFStudySpec, where: str = "study spec") -> None:
    """Every set's benchmark, split and prompt variant exist (errors name the set)."""
    for role, s in spec.sets():
        try:
            bench = get_benchmark(s.benchmark)
            bench.check_split(s.split)
            bench.check_variant(s.variant or spec.prompt_variant)
        except BenchmarkError as e:
            raise SpecsError(f"{where}: {role} set {s.benchmark}:{s.split}@{s.variant}: {e}") from None


def study_tasks(spec: GFStudySpec, *, profile: str | None = None, data: str | Mapping[str, str] | None = None,
                data_seed: int = 0, limit: int | None = None) -> list[TaskSpec]:
    """One task per set, ID sets first. ``limit`` overrides every set's; ``data`` (one path, or benchmark →
    path) is used where a set names none."""
    tasks = []
    for _, s in spec.sets():
        label = s.label if s.label and s.label != s.split else None
        fallback = data.get(s.benchmark) if isinstance(data, Mapping) else data
        tasks.append(TaskSpec(benchmark=s.benchmark, split=s.split, prompt_variant=s.variant or spec.prompt_variant,
                              profile=profile, limit=limit or s.limit or spec.limit, data=s.data or fallback,
                              data_seed=data_seed, label=label))
    return tasks


def merge_tasks(tasks: Sequence[TaskSpec], extra: Sequence[TaskSpec]) -> list[TaskSpec]:
    """``tasks`` plus the ``extra`` ones not already there (same benchmark and recorded split).

    A recorded split that two tasks would fill with different prompts is an error: the run
    could not tell their samples apart.
    """
    out = list(tasks)
    have = {(t.benchmark, t.set_name): t for t in out}
    for t in extra:
        other = have.get((t.benchmark, t.set_name))
        if other is None:
            out.append(t)
            have[(t.benchmark, t.set_name)] = t
        elif (other.split, other.prompt_variant) != (t.split, t.prompt_variant):
            raise SpecsError(f"{t.benchmark}/{t.set_name} is asked twice: split {other.split} with variant "
                             f"{other.prompt_variant!r} and split {t.split} with {t.prompt_variant!r}")
    return out
