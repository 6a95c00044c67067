"""The metric registry: every per-split number is one entry here, and nowhere else.

Why a registry: ``results.json``, the terminal table, the report, the pandas frames and
the GF study all show the same metrics; each reads them from ``METRICS``, so a new metric
is one ``Metric`` entry. A metric is a **per-sample value** (``None`` where undefined for
that sample) and a **reduction**: a split's value is the mean of the defined sample values
— identical to the ratio of per-item sums that ``analysis`` bootstraps over items.

Per-sample values read a sample's verdict under a scoring profile (the headline profile
unless another is chosen). A verdict marked ``details.not_scored`` (e.g. MEGA-Bench's open
set without a judge) has no score: it is counted, never averaged in as a zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from specs_eval.core.errors import SpecsError
from specs_eval.core.records import SampleRecord, ScoreResult, SplitMetrics

SampleValue = Callable[[SampleRecord, ScoreResult], float | None]


@dataclass(frozen=True)
class Metric:
    """One per-split number: how a sample contributes, and how it is shown and stored."""

    name: str
    #: terminal-table column header
    label: str
    description: str
    value: SampleValue
    #: ``field``: a ``SplitMetrics`` attribute; ``extra``: a key of ``SplitMetrics.extra``
    stored: Literal["field", "extra"] = "extra"
    #: shown ×100 with a ``%``
    percent: bool = True
    #: the value depends on the scoring profile (frames keep one column per profile)
    per_profile: bool = False
    #: the split's value is defined only when some sample has this ``SampleRecord`` field set
    defined_if: str | None = None
    #: a rate (not a "higher is better" score): reports show it without intervals
    rate: bool = False
    #: in the terminal table of ``specs-eval run``
    terminal: bool = False
    #: a gain in it is progress, so it can be the Ψ of a Generalization Factor study
    psi: bool = False


def scored(v: ScoreResult) -> bool:
    return not v.details.get("not_scored")


def _accuracy(s: SampleRecord, v: ScoreResult) -> float | None:
    return float(v.score) if scored(v) else None


def _format(s: SampleRecord, v: ScoreResult) -> float | None:
    return None if s.format_ok is None else float(s.format_ok)


def _strict(s: SampleRecord, v: ScoreResult) -> float | None:
    return float(v.correct and bool(s.format_ok)) if scored(v) else None


def _sticky(s: SampleRecord, v: ScoreResult) -> float | None:
    x = s.meta.get("in_trained_format")
    return None if x is None else float(x)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", "acc%", "mean score under the headline scoring profile (partial credit allowed); "
           "samples without a score are left out", _accuracy, stored="field", per_profile=True, terminal=True,
           psi=True),
    Metric("format_compliance", "format%", "share of responses that follow the output format the prompt asked for",
           _format, stored="field", terminal=True, psi=True),
    Metric("strict_accuracy", "strict%", "share of responses that are correct and follow the requested format "
           "(a response without a format verdict counts as not following it)", _strict, per_profile=True,
           defined_if="format_ok", terminal=True, psi=True),
    Metric("format_stickiness", "sticky%", "on format-shift prompts, share of responses in the trained (SPECS) "
           "format instead of the one asked for", _sticky),
    Metric("parse_failure_rate", "noparse%", "share of responses from which no answer could be extracted",
           lambda s, v: float(v.parse_status in ("failed", "empty")), stored="field", rate=True, terminal=True),
    Metric("fallback_rate", "fallback%", "share of verdicts decided by an official fallback (e.g. MMMU's random "
           "choice)", lambda s, v: float(v.parse_status == "fallback"), stored="field", rate=True),
    Metric("truncation_rate", "trunc%", "share of responses that hit the token limit",
           lambda s, v: float(s.finish_reason == "length"), stored="field", rate=True, terminal=True),
    Metric("error_rate", "err%", "share of samples that failed to generate or to score",
           lambda s, v: float(s.error is not None or v.parse_status == "error"), stored="field", rate=True,
           terminal=True),
    Metric("mean_response_tokens", "tokens", "mean generated tokens per response",
           lambda s, v: None if s.n_tokens is None else float(s.n_tokens), stored="field", percent=False, rate=True),
)}

PSI_METRICS: tuple[str, ...] = tuple(name for name, m in METRICS.items() if m.psi)


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise SpecsError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def stored_value(sm: SplitMetrics, name: str) -> float | None:
    """A registered metric's value as ``results.json`` stores it (a field or an ``extra`` key)."""
    m = get_metric(name)
    return getattr(sm, name) if m.stored == "field" else sm.extra.get(name)


def verdict(s: SampleRecord, profile: str | None = None) -> ScoreResult:
    """A sample's verdict under ``profile`` (default: its headline profile)."""
    if profile is not None and profile in s.scores:
        return s.scores[profile]
    if s.profile in s.scores:
        return s.scores[s.profile]
    return ScoreResult(score=s.score, correct=s.correct, prediction=s.prediction, parse_status=s.parse_status)


def sample_value(metric: Metric, s: SampleRecord, profile: str | None = None) -> float | None:
    """``metric``'s value for one sample (``None``: undefined for it)."""
    return metric.value(s, verdict(s, profile))


def split_value(metric: Metric, samples: Sequence[SampleRecord], profile: str | None = None) -> float | None:
    """``metric`` over a split: the mean of the defined sample values (``None`` when none is defined)."""
    if metric.defined_if and not any(getattr(s, metric.defined_if) is not None for s in samples):
        return None
    vals = [x for s in samples if (x := sample_value(metric, s, profile)) is not None]
    return sum(vals) / len(vals) if vals else None


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else 0.0


def split_metrics(samples: Sequence[SampleRecord], breakdown_keys: Sequence[str] = (), profile: str | None = None
                  ) -> SplitMetrics:
    """Every registered metric of one split (``results.json``); ``profile`` picks a non-headline profile."""
    verdicts = [verdict(s, profile) for s in samples]
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    n_not_scored = sum(not scored(v) for v in verdicts)
    if n_not_scored:
        extra["n_not_scored"] = n_not_scored
    for m in METRICS.values():
        value = split_value(m, samples, profile)
        if m.stored == "field":
            fields[m.name] = value
        elif value is not None:
            extra[m.name] = value
    # rates over an empty split are 0, accuracy over an empty split too (nothing failed)
    for name in ("parse_failure_rate", "fallback_rate", "truncation_rate", "error_rate"):
        fields[name] = fields[name] or 0.0
    if not samples:
        fields["accuracy"] = 0.0
    breakdowns: dict[str, dict[str, dict[str, float]]] = {}
    for key in breakdown_keys:
        groups: dict[str, list[float]] = defaultdict(list)
        for s, v in zip(samples, verdicts, strict=True):
            if not scored(v):
                continue
            value = s.meta.get(key)
            for val in (value if isinstance(value, list) else [value]):
                if val is not None:
                    groups[str(val)].append(v.score)
        if groups:
            breakdowns[key] = {k: {"n": len(g), "accuracy": _mean(g)} for k, g in sorted(groups.items())}
    return SplitMetrics(n=len({s.id for s in samples}), n_samples=len(samples), extra=extra, breakdowns=breakdowns,
                        **fields)
