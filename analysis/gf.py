"""The Generalization Factor Γ: an F_β score of the ID and OOD gains over a baseline.

Definition (paper-notes §2.1, docs/metrics.md): for a baseline run (the base model) and a
candidate (a cold-start / RL descendant),

    G_ID  = Ψ_ID(candidate) − Ψ_ID(baseline)            (weighted mean over ID splits)
    G_OOD = Σ_j w_j (Ψ_j(candidate) − Ψ_j(baseline)) / Σ_j w_j   over OOD splits j
    Γ     = (1 + β²) · G_ID · G_OOD / (β² · G_ID + G_OOD),   β = 2

so 1/Γ puts weight β²/(1+β²) = 4/5 on 1/G_OOD: OOD gains matter more.

The ≤ 0 rule (the paper leaves it open; the formula then turns negative, or infinite when
β²·G_ID = −G_OOD): **when either gain is ≤ 0, Γ = 0** and ``status`` names the gain that
failed. Γ is a "useful gain" score like an F-score with zero recall; the raw gains are
always reported next to it, and the report flags the row. Non-finite inputs raise. Γ is
never NaN.

Units: Γ is homogeneous of degree 1, so gains in percentage points give Γ in points
(the paper's 98.5 / 94.7 → 95.4). Run-level results here are in percentage points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from analysis.compare import pair_split, run_pair_flags
from analysis.errors import AnalysisError
from analysis.flags import Flag, sort_flags
from analysis.frames import Run, load_run, samples_frame, split_frame
from analysis.metrics import check_metric, item_sums
from analysis.stats import DEFAULT_LEVEL, DEFAULT_N_BOOT, bootstrap_indices
from specs_eval.core.study import GFStudySpec

GF_SCHEMA_VERSION = 1
DEFAULT_BETA = 2.0

GFStatus = Literal["ok", "id_gain_nonpositive", "ood_gain_nonpositive", "both_gains_nonpositive", "refused"]

STATUS_TEXT: dict[str, str] = {
    "ok": "both gains positive",
    "id_gain_nonpositive": "G_ID ≤ 0: no ID gain over the baseline, Γ set to 0",
    "ood_gain_nonpositive": "G_OOD ≤ 0: no OOD gain over the baseline, Γ set to 0",
    "both_gains_nonpositive": "G_ID ≤ 0 and G_OOD ≤ 0: the candidate does not improve on the baseline, Γ set to 0",
    "refused": "not computed",
}


def _check(g_id: float, g_ood: float, beta: float) -> None:
    if not (math.isfinite(g_id) and math.isfinite(g_ood)):
        raise ValueError(f"generalization_factor needs finite gains, got G_ID={g_id!r}, G_OOD={g_ood!r}")
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a positive number, got {beta!r}")


def gf_status(g_id: float, g_ood: float) -> GFStatus:
    if g_id <= 0 and g_ood <= 0:
        return "both_gains_nonpositive"
    if g_id <= 0:
        return "id_gain_nonpositive"
    if g_ood <= 0:
        return "ood_gain_nonpositive"
    return "ok"


def generalization_factor(g_id: float, g_ood: float, beta: float = DEFAULT_BETA) -> float:
    """Γ from the two gains: ``(1+β²)·G_ID·G_OOD / (β²·G_ID + G_OOD)``, or 0 when a gain is ≤ 0.

    >>> round(generalization_factor(98.5, 94.7), 1)
    95.4
    """
    _check(g_id, g_ood, beta)
    if gf_status(g_id, g_ood) != "ok":
        return 0.0
    b2 = beta * beta
    return (1 + b2) * g_id * g_ood / (b2 * g_id + g_ood)


@dataclass(frozen=True)
class GFValue:
    """Γ with the gains it came from and the rule that applied."""

    gamma: float
    g_id: float
    g_ood: float
    beta: float
    status: GFStatus

    @property
    def note(self) -> str:
        return STATUS_TEXT[self.status]


def gf_detail(g_id: float, g_ood: float, beta: float = DEFAULT_BETA) -> GFValue:
    return GFValue(generalization_factor(g_id, g_ood, beta), float(g_id), float(g_ood), float(beta),
                   gf_status(g_id, g_ood))


def gamma_array(g_id: np.ndarray, g_ood: np.ndarray, beta: float = DEFAULT_BETA) -> np.ndarray:
    """Vectorised Γ with the same ≤ 0 rule (used by the bootstrap)."""
    g_id = np.asarray(g_id, dtype=float)
    g_ood = np.asarray(g_ood, dtype=float)
    ok = (g_id > 0) & (g_ood > 0)
    b2 = beta * beta
    out = np.zeros(np.broadcast(g_id, g_ood).shape)
    num = (1 + b2) * g_id * g_ood
    den = b2 * g_id + g_ood
    np.divide(num, den, out=out, where=ok)
    return out


# ---------------------------------------------------------------------------------------------
# Run level


class SplitGain(BaseModel):
    model_config = ConfigDict(extra="forbid")
    split: str
    role: Literal["id", "ood"]
    weight: float
    n_items: int
    baseline: float | None
    candidate: float | None
    gain: float | None
    refused: bool = False


class GFConfig(BaseModel):
    """Everything chosen for a GF computation; recorded in every output.

    The roles are **sets**: split names of ``benchmark``, or, for a study over several
    benchmarks, ``BENCHMARK:SPLIT`` references that ``sets`` locates (``benchmark`` is then
    the study's name). A set's split may be a study label ``split@variant``.
    """

    model_config = ConfigDict(extra="forbid")
    benchmark: str
    metric: str = "accuracy"
    profile: str | None = None
    id_splits: list[str]
    ood_splits: list[str]
    id_weights: dict[str, float]
    ood_weights: dict[str, float]
    beta: float = DEFAULT_BETA
    unit: str = "percentage points"
    roles_source: str = "benchmark defaults"
    dropped_splits: list[str] = Field(default_factory=list, description="default role splits that no run has")
    n_boot: int = DEFAULT_N_BOOT
    level: float = DEFAULT_LEVEL
    seed: int = 0
    common_items: bool = False
    rule: str = "Γ = 0 when G_ID ≤ 0 or G_OOD ≤ 0 (raw gains always reported)"
    #: the GF study spec the roles came from (its name), if any
    study: str | None = None
    #: set name -> [benchmark, split] for sets of several benchmarks; empty: every set is a split of ``benchmark``
    sets: dict[str, list[str]] = Field(default_factory=dict)

    def locate(self, name: str) -> tuple[str, str]:
        """(benchmark, split) of a role's set."""
        if name in self.sets:
            b, s = self.sets[name]
            return b, s
        return self.benchmark, name

    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(self.locate(n)[0] for n in (*self.id_splits, *self.ood_splits)))

    def role_of(self, benchmark: str, split: str) -> str:
        """``ID``, ``OOD`` or ``""`` for a benchmark's split."""
        for n in self.id_splits:
            if self.locate(n) == (benchmark, split):
                return "ID"
        for n in self.ood_splits:
            if self.locate(n) == (benchmark, split):
                return "OOD"
        return ""


class GFReport(BaseModel):
    """Γ of one candidate against one baseline on one benchmark, with paired bootstrap intervals.

    ``gamma`` is ``None`` only when ``status == "refused"``, and then ``flags`` says why.
    Intervals are percentile intervals from resampling items per split, paired between the runs.
    """

    model_config = ConfigDict(extra="forbid")
    schema_version: int = GF_SCHEMA_VERSION
    baseline: str
    candidate: str
    config: GFConfig
    splits: list[SplitGain]
    g_id: float | None
    g_id_ci: list[float] | None = None
    g_ood: float | None
    g_ood_ci: list[float] | None = None
    gamma: float | None
    gamma_ci: list[float] | None = None
    p_gamma_zero: float | None = Field(None, description="share of bootstrap replicates where a gain was ≤ 0")
    status: GFStatus
    note: str
    flags: list[dict[str, Any]] = Field(default_factory=list)


#: a fallback for runs made before manifests stored split roles: benchmark -> (ID splits, OOD splits) or None
RolesProvider = Callable[[str], tuple[list[str], list[str]] | None]


def default_roles(benchmark: str, runs: Sequence[Run] = (), fallback: RolesProvider | None = None
                  ) -> tuple[list[str], list[str], str]:
    """ID and OOD splits as the runs' manifests recorded them (the benchmark's defaults at run time).

    Runs made before manifests stored roles have none; ``fallback`` (the CLI passes the
    benchmark registry's) supplies them then.
    """
    for r in runs:
        roles = r.manifest.split_roles.get(benchmark) if r.manifest is not None else None
        if roles:
            return list(roles.get("id", [])), list(roles.get("ood", [])), "benchmark defaults"
    got = fallback(benchmark) if fallback is not None else None
    if got:
        return list(got[0]), list(got[1]), "benchmark defaults"
    return [], [], "unknown benchmark"


def resolve_config(benchmark: str, available: Sequence[str], roles: tuple[list[str], list[str], str],
                   metric: str = "accuracy", profile: str | None = None,
                   id_splits: Sequence[str] | None = None, ood_splits: Sequence[str] | None = None,
                   ood_weights: Mapping[str, float] | None = None, beta: float = DEFAULT_BETA,
                   n_boot: int = DEFAULT_N_BOOT, level: float = DEFAULT_LEVEL, seed: int = 0,
                   common_items: bool = False) -> GFConfig | None:
    """The GF configuration for a benchmark, or ``None`` when it has no ID/OOD roles.

    ``available`` are the benchmark's splits present in any of the runs compared. Default
    roles drop splits that no run has (recorded in ``dropped_splits`` and flagged); a split
    that one run has and the other lacks stays, and is then refused as an empty split.
    User-given splits that this benchmark lacks are ignored for it (one ``--ood-splits`` list
    can serve several benchmarks; ``check_user_splits`` rejects names no benchmark has).
    Weights default to equal.
    """
    check_metric(metric)
    d_id, d_ood, source = roles
    avail = set(available)
    if id_splits or ood_splits:
        ids = [s for s in (id_splits or d_id) if s in avail]
        oods = [s for s in (ood_splits or d_ood) if s in avail]
        source = "user"
        dropped: list[str] = []
    else:
        ids, oods = [s for s in d_id if s in avail], [s for s in d_ood if s in avail]
        dropped = [s for s in (*d_id, *d_ood) if s not in avail]
    if not ids or not oods:
        return None
    weights = dict(ood_weights or {})
    for k, w in weights.items():
        if not (math.isfinite(w) and w > 0):
            raise AnalysisError(f"OOD weight for {k!r} must be a positive number, got {w!r}")
    ow = {s: float(weights.get(s, 1.0)) for s in oods}
    if weights:
        source = "user"
    not_ood = sorted(k for k in weights if k in avail and k not in oods)
    if not_ood:
        raise AnalysisError(f"OOD weight given for {', '.join(not_ood)}, which is not an OOD split of {benchmark} "
                            f"(OOD: {', '.join(oods)})")
    return GFConfig(benchmark=benchmark, metric=metric, profile=profile, id_splits=ids, ood_splits=oods,
                    id_weights=dict.fromkeys(ids, 1.0), ood_weights=ow, beta=beta, roles_source=source,
                    dropped_splits=dropped, n_boot=n_boot, level=level, seed=seed, common_items=common_items)


def config_from_spec(spec: GFStudySpec, metric: str | None = None, profile: str | None = None,
                     beta: float | None = None, n_boot: int = DEFAULT_N_BOOT, level: float = DEFAULT_LEVEL,
                     seed: int = 0, common_items: bool = False, source: str = "study spec") -> GFConfig:
    """The GF configuration of a study spec (``core.study.GFStudySpec``): its sets, weights α, Ψ and β.

    ``metric`` / ``beta`` override the spec's. A spec within one benchmark gives the same
    configuration (and the same bootstrap draws) as that benchmark's splits given by hand,
    so a study's Γ equals the single-benchmark Γ of the same splits.
    """
    benches = spec.benchmarks()
    one = len(benches) == 1

    def name(s: Any) -> str:
        return s.label or s.split if one else s.ref

    metric = check_metric(metric or spec.metric)
    return GFConfig(benchmark=benches[0] if one else spec.name, metric=metric, profile=profile,
                    id_splits=[name(s) for s in spec.id], ood_splits=[name(s) for s in spec.ood],
                    id_weights={name(s): float(s.weight) for s in spec.id},
                    ood_weights={name(s): float(s.weight) for s in spec.ood},
                    beta=spec.beta if beta is None else beta, roles_source=f"{source} {spec.name}",
                    n_boot=n_boot, level=level, seed=seed, common_items=common_items, study=spec.name,
                    sets={} if one else {s.ref: [s.benchmark, s.label or s.split] for _, s in spec.sets()})


def cross_config(keys: Sequence[tuple[str, str]], id_splits: Sequence[str], ood_splits: Sequence[str],
                 ood_weights: Mapping[str, float] | None = None, metric: str = "accuracy", profile: str | None = None,
                 beta: float = DEFAULT_BETA, n_boot: int = DEFAULT_N_BOOT, level: float = DEFAULT_LEVEL,
                 seed: int = 0, common_items: bool = False) -> GFConfig | None:
    """Γ across benchmarks from split names alone (``--id-splits testmini --ood-splits validation`` over
    MathVista and MMMU runs): every run split with an ID name is an ID set, every one with an OOD name an
    OOD set. Weights by split name or ``BENCHMARK:SPLIT``. None when a role ends up empty."""
    check_metric(metric)
    ids = [(b, s) for b, s in keys if s in set(id_splits)]
    oods = [(b, s) for b, s in keys if s in set(ood_splits)]
    if not ids or not oods:
        return None
    weights = dict(ood_weights or {})
    ow = {}
    for b, s in oods:
        w = float(weights.get(f"{b}:{s}", weights.get(s, 1.0)))
        if not (math.isfinite(w) and w > 0):
            raise AnalysisError(f"OOD weight for {b}:{s} must be a positive number, got {w!r}")
        ow[f"{b}:{s}"] = w
    names = {f"{b}:{s}": [b, s] for b, s in (*ids, *oods)}
    return GFConfig(benchmark="+".join(dict.fromkeys(b for b, _ in (*ids, *oods))), metric=metric, profile=profile,
                    id_splits=[f"{b}:{s}" for b, s in ids], ood_splits=[f"{b}:{s}" for b, s in oods],
                    id_weights={f"{b}:{s}": 1.0 for b, s in ids}, ood_weights=ow, beta=beta,
                    roles_source="user (across benchmarks)", n_boot=n_boot, level=level, seed=seed,
                    common_items=common_items, sets=names)


def check_user_splits(known: set[str], *lists: Sequence[str] | None) -> None:
    """Reject user-given split names that none of the compared benchmarks has (typos)."""
    unknown = sorted({s for lst in lists for s in (lst or ()) if s not in known})
    if unknown:
        raise AnalysisError(f"unknown split(s) {', '.join(unknown)}; the runs have: {', '.join(sorted(known))}")


def _ci(stats: np.ndarray, level: float) -> list[float]:
    a = (1 - level) / 2
    lo, hi = np.quantile(stats, [a, 1 - a])
    return [float(lo), float(hi)]


def compute_gf(df: Any, baseline: Run, candidate: Run, config: GFConfig, pair_flags: Sequence[Flag] = ()
               ) -> GFReport:
    """Γ on an already-loaded samples frame (``analysis.frames.samples_frame``) of both runs."""
    benches = config.benchmarks()
    flags: list[Flag] = [f for f in pair_flags if f.scope in benches or f.scope.startswith("run:")
                         or any(f.scope.startswith(b + "/") for b in benches)]
    if config.dropped_splits:
        flags.append(Flag("warn", "gf_roles_reduced", f"GF on {config.benchmark} uses ID {config.id_splits} and OOD "
                          f"{config.ood_splits}; the benchmark's default split(s) {', '.join(config.dropped_splits)} "
                          "were not run", config.benchmark))
    labels = (baseline.name, candidate.name)
    gains: list[SplitGain] = []
    boot: dict[str, np.ndarray] = {}
    refused = any(f.severity == "refuse" for f in flags)
    roles = [(s, "id", config.id_weights[s]) for s in config.id_splits] + \
            [(s, "ood", config.ood_weights[s]) for s in config.ood_splits]
    for split, role, w in roles:
        bench, sname = config.locate(split)
        scope = f"{bench}/{sname}"
        pa = split_frame(df, baseline.name, bench, sname)
        pb = split_frame(df, candidate.name, bench, sname)
        paired = pair_split(pa, pb, config.metric, config.profile, config.common_items, labels, scope)
        flags.extend(paired.flags)
        if paired.refused or any(f.severity == "refuse" and f.scope == scope for f in flags):
            refused = True
            gains.append(SplitGain(split=split, role=role, weight=w, n_items=paired.n, baseline=None, candidate=None,
                                   gain=None, refused=True))
            continue
        a = 100.0 * paired.sa.sum() / paired.ma.sum()
        b = 100.0 * paired.sb.sum() / paired.mb.sum()
        gains.append(SplitGain(split=split, role=role, weight=w, n_items=paired.n, baseline=a, candidate=b,
                               gain=b - a))
        if config.n_boot > 0:
            idx = bootstrap_indices(paired.n, config.n_boot, (config.seed, "gf", baseline.name, candidate.name, bench, sname))
            boot[split] = 100.0 * (paired.sb[idx].sum(1) / paired.mb[idx].sum(1)
                                   - paired.sa[idx].sum(1) / paired.ma[idx].sum(1))
    base = dict(baseline=baseline.name, candidate=candidate.name, config=config, splits=gains)
    if refused:
        flags.append(Flag("refuse", "gf_refused", f"Γ of {candidate.name} vs {baseline.name} on {config.benchmark} "
                          "not computed: a split it needs was refused (see the split's flags)", config.benchmark))
        return GFReport(**base, g_id=None, g_ood=None, gamma=None, status="refused",
                        note=STATUS_TEXT["refused"], flags=[f.to_dict() for f in sort_flags(flags)])

    def wmean(role: str, values: Mapping[str, Any]) -> Any:
        ws = config.id_weights if role == "id" else config.ood_weights
        total = sum(ws.values())
        return sum(ws[s] * values[s] for s in ws) / total

    point = {g.split: g.gain for g in gains}
    g_id, g_ood = float(wmean("id", point)), float(wmean("ood", point))
    v = gf_detail(g_id, g_ood, config.beta)
    out: dict[str, Any] = dict(g_id=g_id, g_ood=g_ood, gamma=v.gamma, status=v.status, note=v.note)
    if config.n_boot > 0:
        bid, bood = wmean("id", boot), wmean("ood", boot)
        bg = gamma_array(bid, bood, config.beta)
        out.update(g_id_ci=_ci(bid, config.level), g_ood_ci=_ci(bood, config.level), gamma_ci=_ci(bg, config.level),
                   p_gamma_zero=float(np.mean((bid <= 0) | (bood <= 0))))
    if v.status != "ok":
        flags.append(Flag("warn", "gf_nonpositive_gain", f"{candidate.name} vs {baseline.name} on {config.benchmark}: "
                          f"{v.note} (G_ID {g_id:+.2f}, G_OOD {g_ood:+.2f} points)", config.benchmark))
    return GFReport(**base, **out, flags=[f.to_dict() for f in sort_flags(flags)])


def run_study(runs: Sequence[Run]) -> GFStudySpec | None:
    """The GF study spec recorded in the runs' manifests (the first run that has one)."""
    for r in runs:
        if r.manifest is not None and r.manifest.study is not None:
            return r.manifest.study
    return None


def gf_from_runs(baseline: Run | str, candidate: Run | str, benchmark: str | None = None,
                 metric: str | None = None, profile: str | None = None, id_splits: Sequence[str] | None = None,
                 ood_splits: Sequence[str] | None = None, ood_weights: Mapping[str, float] | None = None,
                 beta: float | None = None, n_boot: int = DEFAULT_N_BOOT, level: float = DEFAULT_LEVEL,
                 seed: int = 0, common_items: bool = False, roles_fallback: RolesProvider | None = None,
                 study: GFStudySpec | None = None) -> GFReport:
    """Γ of ``candidate`` over ``baseline`` (run directories or loaded runs).

    With a study spec (``study``, or the one the runs recorded when no benchmark or splits
    are named), Γ is over the spec's sets, across benchmarks, with its weights, Ψ and β
    (``metric``/``beta`` override them). Otherwise on one benchmark, which may be omitted
    when the runs share exactly one: split roles default to the benchmark's
    ``id_splits``/``ood_splits`` as the runs recorded them (``roles_fallback`` for older
    runs), weights to equal, Ψ to accuracy, β to 2.
    """
    a = baseline if isinstance(baseline, Run) else load_run(baseline)
    b = candidate if isinstance(candidate, Run) else load_run(candidate)
    if a.name == b.name:
        raise AnalysisError(f"baseline and candidate have the same name {a.name!r}; load one with another name")
    recorded = run_study([a, b]) if benchmark is None and not (id_splits or ood_splits or ood_weights) else None
    if study is not None or recorded is not None:
        spec = study or recorded
        assert spec is not None
        config = config_from_spec(spec, metric, profile, beta, n_boot, level, seed, common_items,
                                  "study spec" if study is not None else "run manifest: study")
        df = samples_frame([a, b])
        keys = [config.locate(n) for n in config.id_splits + config.ood_splits]
        return compute_gf(df, a, b, config, run_pair_flags(a, b, keys, common_items))
    metric = metric or "accuracy"
    beta = DEFAULT_BETA if beta is None else beta
    shared = sorted({k[0] for k in a.split_keys()} & {k[0] for k in b.split_keys()})
    if benchmark is None:
        if len(shared) != 1:
            raise AnalysisError(f"the runs share {len(shared)} benchmarks ({', '.join(shared) or 'none'}); "
                                "name one with benchmark=…")
        benchmark = shared[0]
    avail = sorted({s for bn, s in a.split_keys() if bn == benchmark} | {s for bn, s in b.split_keys()
                                                                         if bn == benchmark})
    check_user_splits(set(avail), id_splits, ood_splits, list(ood_weights or {}))
    config = resolve_config(benchmark, avail, default_roles(benchmark, [a, b], roles_fallback), metric, profile,
                            id_splits, ood_splits, ood_weights, beta, n_boot, level, seed, common_items)
    if config is None:
        raise AnalysisError(f"no ID/OOD split roles for {benchmark!r}: pass id_splits=… and ood_splits=…")
    df = samples_frame([a, b])
    keys = [(benchmark, s) for s in config.id_splits + config.ood_splits]
    return compute_gf(df, a, b, config, run_pair_flags(a, b, keys, common_items))


def role_levels(df: Any, run: Run, config: GFConfig) -> dict[str, Any]:
    """Ψ_ID and Ψ_OOD of one run (weighted means over the role's sets, in %), with item-bootstrap intervals.

    The coordinates of the ID-vs-OOD scatter: where a run sits, not its gain. A set the run
    lacks (or where Ψ is undefined) leaves its role's value out (``None``), named in ``missing``.
    """
    out: dict[str, Any] = {"run": run.name, "missing": []}
    for role, names, weights in (("id", config.id_splits, config.id_weights),
                                 ("ood", config.ood_splits, config.ood_weights)):
        point, boots, total = 0.0, [], 0.0
        ok = True
        for n in names:
            bench, split = config.locate(n)
            t = item_sums(split_frame(df, run.name, bench, split), config.metric, config.profile)
            if len(t) == 0:
                ok = False
                out["missing"].append(n)
                continue
            s, m, w = t["s"].to_numpy(), t["m"].to_numpy(), weights[n]
            point += w * 100.0 * s.sum() / m.sum()
            total += w
            if config.n_boot > 0:
                idx = bootstrap_indices(len(s), config.n_boot, (config.seed, "levels", run.name, bench, split))
                boots.append(w * 100.0 * s[idx].sum(1) / m[idx].sum(1))
        if not ok or total == 0:
            out[f"psi_{role}"] = None
            out[f"psi_{role}_ci"] = None
            continue
        out[f"psi_{role}"] = point / total
        out[f"psi_{role}_ci"] = _ci(sum(boots) / total, config.level) if boots else None
    return out
