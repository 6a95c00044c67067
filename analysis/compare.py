"""Is comparing two runs apples to apples? Pairing items and the refuse/flag rules.

Why its own module: every delta, paired test and Generalization Factor goes through
``pair_split``, so the rules live in one place (docs/metrics.md §Comparability):

refused (no number):
  * the two runs' item sets for the split differ (unless ``common_items=True``, then the
    comparison uses the common items and is flagged);
  * an item has a different content hash (``doc_hash``) in the two runs, or the manifests
    record different dataset content hashes for the split;
  * the runs used different headline scoring profiles for the benchmark;
  * the metric is undefined on the common items (e.g. no format was requested).
flagged (number shown with a caveat):
  * prompts differ for some items (``prompt_hash``: another prompt variant or template);
  * different decoding settings, processor settings or samples per prompt;
  * generation errors (counted as wrong), incomplete runs (from the loader).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.flags import Flag
from analysis.frames import Run
from analysis.metrics import item_sums


@dataclass
class Paired:
    """Per-item sums of two runs on their common items, aligned (``ids`` sorted)."""

    ids: list[str]
    sa: np.ndarray
    ma: np.ndarray
    sb: np.ndarray
    mb: np.ndarray
    flags: list[Flag] = field(default_factory=list)
    refused: bool = False

    @property
    def n(self) -> int:
        return len(self.ids)


def _empty(flags: list[Flag]) -> Paired:
    z = np.zeros(0)
    return Paired([], z, z, z, z, flags, refused=True)


def pair_split(part_a: pd.DataFrame, part_b: pd.DataFrame, metric: str, profile: str | None = None,
               common_items: bool = False, labels: tuple[str, str] = ("a", "b"), scope: str = "") -> Paired:
    """Align the items of one split of two runs for a paired comparison, or refuse with flags."""
    la, lb = labels
    flags: list[Flag] = []
    if len(part_a) == 0 or len(part_b) == 0:
        who = la if len(part_a) == 0 else lb
        return _empty([Flag("refuse", "empty_split", f"{who} has no samples in {scope}", scope)])
    ids_a, ids_b = set(part_a["id"]), set(part_b["id"])
    common = ids_a & ids_b
    if ids_a != ids_b:
        msg = (f"{la} and {lb} cover different items in {scope} ({len(ids_a)} vs {len(ids_b)}, {len(common)} in "
               "common)")
        if not common_items or not common:
            return _empty([Flag("refuse", "different_items", msg + "; not compared (use --common-items to compare "
                                "on the common items)", scope)])
        flags.append(Flag("warn", "common_items_only", msg + "; compared on the common items only", scope))
    ha = part_a.drop_duplicates("id").set_index("id")["doc_hash"]
    hb = part_b.drop_duplicates("id").set_index("id")["doc_hash"]
    both = sorted(common)
    ha, hb = ha.loc[both], hb.loc[both]
    known = (ha != "") & (hb != "") & ha.notna() & hb.notna()
    bad = int((known & (ha != hb)).sum())
    if bad:
        return _empty([Flag("refuse", "different_content", f"{bad} items of {scope} have different content (doc_hash) "
                            f"in {la} and {lb}: the runs used different data; not compared", scope)])
    pa = part_a.drop_duplicates("id").set_index("id")["prompt_hash"].loc[both]
    pb = part_b.drop_duplicates("id").set_index("id")["prompt_hash"].loc[both]
    pknown = (pa != "") & (pb != "") & pa.notna() & pb.notna()
    pdiff = int((pknown & (pa != pb)).sum())
    if pdiff:
        flags.append(Flag("warn", "different_prompts", f"prompts differ for {pdiff} of {len(both)} items of {scope} "
                          f"between {la} and {lb} (prompt variant or template changed)", scope))
    na = part_a.groupby("id").size()
    nb = part_b.groupby("id").size()
    if not na.loc[both].equals(nb.loc[both]):
        flags.append(Flag("warn", "different_n_samples", f"{la} and {lb} have different numbers of samples per "
                          f"prompt in {scope}; means are still per-sample means", scope))
    ta = item_sums(part_a[part_a["id"].isin(common)], metric, profile)
    tb = item_sums(part_b[part_b["id"].isin(common)], metric, profile)
    ids = sorted(set(ta.index) & set(tb.index))
    if not ids:
        return _empty([*flags, Flag("refuse", "metric_undefined", f"{metric} is undefined for {scope} in {la} or " f"{lb}", scope)])
    if len(ids) < len(both):
        flags.append(Flag("info", "metric_partial", f"{metric} is defined for {len(ids)} of {len(both)} common items "
                          f"of {scope}", scope))
    ta, tb = ta.loc[ids], tb.loc[ids]
    return Paired(ids, ta["s"].to_numpy(), ta["m"].to_numpy(), tb["s"].to_numpy(), tb["m"].to_numpy(), flags)


def _generated(run: Run) -> bool:
    """The run generated its responses (a scored folder's decoding and processor settings are unknown)."""
    return run.manifest is not None and run.manifest.origin == "generated"


def _gen(run: Run) -> dict[str, object]:
    if not _generated(run) or run.manifest is None:
        return {}
    g = run.manifest.generation
    return {"temperature": g.temperature, "top_p": g.top_p, "top_k": g.top_k, "max_new_tokens": g.max_new_tokens,
            "n": g.n}


def _doc_hashed(run: Run, bench: str, split: str) -> bool:
    got = [s.doc_hash for s in run.samples if s.benchmark == bench and s.split == split]
    return bool(got) and all(got)


def run_pair_flags(a: Run, b: Run, split_keys: list[tuple[str, str]], common_items: bool = False) -> list[Flag]:
    """Manifest-level comparability of two runs: dataset hashes, profiles, prompt variants, settings.

    Different dataset content hashes refuse the split, except with ``common_items`` when
    both runs carry per-item content hashes: then ``pair_split`` checks every common item
    and the dataset difference (e.g. a ``--limit``) is only flagged.
    """
    flags: list[Flag] = []
    pair = f"{a.name} vs {b.name}"
    for bench, split in split_keys:
        scope = f"{bench}/{split}"
        da, db = a.dataset(bench, split), b.dataset(bench, split)
        if da is not None and db is not None and da.content_hash != db.content_hash:
            msg = (f"{pair}: {scope} used different data (dataset content hash {da.content_hash[:12]} vs "
                   f"{db.content_hash[:12]}, {da.rows} vs {db.rows} rows)")
            if common_items and _doc_hashed(a, bench, split) and _doc_hashed(b, bench, split):
                flags.append(Flag("warn", "different_dataset", msg + "; compared on common items with equal content "
                                  "hashes", scope))
            else:
                flags.append(Flag("refuse", "different_dataset", msg + "; not compared", scope))
        ta, tb = a.task(bench, split), b.task(bench, split)
        if ta is not None and tb is not None and ta.prompt_variant != tb.prompt_variant:
            flags.append(Flag("warn", "different_prompt_variant", f"{pair}: {scope} used prompt variants "
                              f"{ta.prompt_variant!r} and {tb.prompt_variant!r}", scope))
    for bench in sorted({k[0] for k in split_keys}):
        pa, pb = a.profile(bench), b.profile(bench)
        if pa and pb and pa != pb:
            flags.append(Flag("refuse", "different_profile", f"{pair}: {bench} was scored with profiles {pa!r} and "
                              f"{pb!r}; not compared (re-score one run with the other's profile)", bench))
    ga, gb = _gen(a), _gen(b)
    diff = sorted(k for k in ga.keys() & gb.keys() if ga[k] != gb[k])
    if diff:
        flags.append(Flag("warn", "different_generation", f"{pair}: decoding settings differ ("
                          + ", ".join(f"{k} {ga[k]} vs {gb[k]}" for k in diff) + ")", f"run:{b.name}"))
    # a served model's processor is the server's, unknown to the client: compare only settings both recorded
    if _generated(a) and _generated(b) and a.manifest and b.manifest and a.manifest.model.processor \
            and b.manifest.model.processor and a.manifest.model.processor != b.manifest.model.processor:
        flags.append(Flag("warn", "different_processor", f"{pair}: image processor settings differ (pixel limits…)",
                          f"run:{b.name}"))
    return flags


def refused_scopes(flags: list[Flag]) -> set[str]:
    """Scopes (``bench/split`` or ``bench``) that carry a refusal."""
    return {f.scope for f in flags if f.severity == "refuse"}




def pair_checks(a: Run, b: Run, split_keys: list[tuple[str, str]]) -> dict[str, object]:
    """What a comparison of ``b`` with ``a`` could actually verify, split by split.

    Why: "no problem found" and "checked and equal" differ. A split's data is verified when
    both runs recorded the dataset's content hash (manifests) or every sample's item content
    hash (``doc_hash``); otherwise only the item ids were compared and the report says so
    instead of showing a clean bill.
    """
    checked: list[str] = []
    unverified: list[str] = []
    for bench, split in split_keys:
        if not a.split_samples(bench, split) or not b.split_samples(bench, split):
            continue
        scope = f"{bench}/{split}"
        ds = a.dataset(bench, split) is not None and b.dataset(bench, split) is not None
        items = _doc_hashed(a, bench, split) and _doc_hashed(b, bench, split)
        if ds or items:
            checked.append(scope)
            continue
        why = [f"{r.name} has no manifest" for r in (a, b) if r.manifest is None]
        why = why or [f"{r.name} recorded no dataset or item hashes" for r in (a, b)
                      if r.dataset(bench, split) is None and not _doc_hashed(r, bench, split)]
        unverified.append(f"{scope} ({'; '.join(why) or 'no hashes on one side'})")
    return {"candidate": b.name, "checked": checked, "unverified": unverified}
