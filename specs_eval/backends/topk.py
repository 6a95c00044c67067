"""Per-token statistics (entropy, top-p nucleus size) estimated from top-k log-probabilities.

Why an estimate: vLLM and OpenAI-compatible servers return at most the k most likely
tokens per position (k ≤ 20 by default), not the full distribution that ``HFBackend``
reads. The rollout branching factor (mean nucleus size) and the mean entropy can then
only be bounded. Both estimates below are *lower bounds* that are exact whenever the
top-k tokens carry all of the probability mass; ``TokenStats.approx`` names them and
``TokenStats.n_censored`` counts the positions whose nucleus did not fit in the top k.

With p_1 ≥ … ≥ p_k the top-k probabilities, M = Σ p_i and R = 1 − M the unseen mass
(every unseen token has probability ≤ p_k):

* nucleus (top-p) size: the smallest m with p_1 + … + p_m ≥ top_p when M ≥ top_p (exact);
  otherwise the position is *censored* and we count k + ⌈(top_p − M) / p_k⌉, the fewest
  tokens that could close the gap (a lower bound; the true count may be far larger).
* entropy: H = −Σ_{i≤k} p_i log p_i + R·H(rest), with H(rest) ≥ max(0, log(R / p_k)) because
  each unseen token has probability ≤ p_k. So H ≥ −Σ p_i log p_i − R·log min(R, p_k). This
  equals "the entropy of the renormalised top-k mass, weighted, plus a bound for the
  remainder"; without the vocabulary size there is no finite upper bound worth reporting.

The log-probs must be of the raw (temperature 1) distribution, as ``HFBackend`` measures:
vLLM V1 returns raw log-probs by default (``logprobs_mode="raw_logprobs"``); hosted APIs
do not say which distribution they report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from specs_eval.core.records import TokenStats


def approx_label(k: int) -> str:
    return f"top-k logprobs (k={k})"


def position_stats(logprobs: Sequence[float], top_p: float) -> tuple[float, float, bool]:
    """(entropy lower bound in nats, nucleus size lower bound, censored) for one position."""
    ps = sorted((math.exp(lp) for lp in logprobs if lp is not None and not math.isnan(lp)), reverse=True)
    if not ps:
        return 0.0, 1.0, True
    mass = min(1.0, sum(ps))
    rest = max(0.0, 1.0 - mass)
    entropy = -sum(p * math.log(p) for p in ps if p > 0.0)
    p_k = ps[-1]
    if rest > 1e-12 and p_k > 0.0:
        entropy -= rest * math.log(min(rest, p_k))
    cum = 0.0
    for m, p in enumerate(ps, 1):
        cum += p
        if cum >= top_p - 1e-9:
            return entropy, float(m), False
    gap = top_p - cum
    extra = math.ceil(gap / p_k - 1e-9) if p_k > 0.0 else 1
    return entropy, float(len(ps) + max(1, extra)), True


def token_stats_from_topk(positions: Sequence[Sequence[float]], top_p: float, k: int) -> TokenStats | None:
    """``TokenStats`` over generated positions, each given as its top-k log-probs (any order)."""
    if not positions:
        return None
    ent, nuc, censored = 0.0, 0.0, 0
    for lps in positions:
        e, n, c = position_stats(lps, top_p)
        ent += e
        nuc += n
        censored += c
    n_pos = len(positions)
    return TokenStats(n_tokens=n_pos, nucleus_mean=nuc / n_pos, entropy_mean=ent / n_pos, top_p=top_p,
                      approx=approx_label(k), n_censored=censored)
