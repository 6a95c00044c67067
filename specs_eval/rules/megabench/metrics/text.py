"""Text-generation metrics: BLEU, Chinese GLEU, NLI entailment.

Re-implements ``sacrebleu_bleu.py``, ``gleu.py`` and ``nli_entailment.py`` of the
official evaluator (lmms-eval copy, commits 4b0640c / ece828e).

* ``bleu``: ``sacrebleu.corpus_bleu(gold, [response]).score / 100``. Upstream passes
  the gold answer as the *hypothesis* and the response as the reference; BLEU is
  not symmetric (brevity penalty), so we keep that order to give the same numbers.
* ``gleu_cn``: both texts cut with ``jieba.cut_for_search``, then NLTK's sentence
  GLEU (n = 1..4: matched n-grams / max(hypothesis n-grams, reference n-grams)),
  re-implemented here so NLTK is not needed.
* ``nli_entailment``: upstream runs ``microsoft/deberta-large-mnli`` on
  ``"[CLS] gold [SEP] response [SEP]"`` and scores 1 for ENTAILMENT; but its type
  guard (``isinstance(correct_answer, str)`` → return 0) makes the official metric
  return 0 for every string gold, i.e. always. We compute the intended entailment
  when a local NLI model is configured (``set_nli``) and report the field as
  *unavailable* otherwise; docs/megabench.md records the upstream discrepancy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from specs_eval.rules.megabench.metrics.base import MetricUnavailable, require


def bleu(response: Any, correct: Any) -> float:
    if isinstance(response, str) and isinstance(correct, str):
        hyps, refs = [correct], [response]
    elif isinstance(response, list | tuple) and isinstance(correct, list | tuple):
        hyps, refs = tuple(correct), tuple(response)
    else:
        return 0
    sacrebleu = require("sacrebleu")
    return sacrebleu.corpus_bleu(hyps, [refs]).score / 100


def _ngrams(tokens: Sequence[str], lo: int = 1, hi: int = 4) -> Counter[tuple[str, ...]]:
    out: Counter[tuple[str, ...]] = Counter()
    for n in range(lo, hi + 1):
        for i in range(len(tokens) - n + 1):
            out[tuple(tokens[i : i + n])] += 1
    return out


def sentence_gleu(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """NLTK's ``sentence_gleu([reference], hypothesis)`` with n-grams 1..4."""
    hyp, ref = _ngrams(hypothesis), _ngrams(reference)
    n_all = max(sum(hyp.values()), sum(ref.values()))
    if n_all == 0:
        return 0.0
    return sum((hyp & ref).values()) / n_all


def gleu_cn(response: Any, correct: Any) -> float:
    if not (isinstance(response, str) and isinstance(correct, str)):
        return 0
    jieba = require("jieba")
    return sentence_gleu(list(jieba.cut_for_search(response)), list(jieba.cut_for_search(correct)))


#: (premise, hypothesis) -> label such as "ENTAILMENT"; set by ``set_nli``
_NLI: Callable[[str, str], str] | None = None


def set_nli(classifier: Callable[[str, str], str] | None) -> None:
    """Configure a local NLI classifier (premise, hypothesis) → label, or remove it."""
    global _NLI
    _NLI = classifier


def nli_entailment(response: Any, correct: Any) -> int:
    if _NLI is None:
        raise MetricUnavailable(
            "unavailable: nli_entailment needs a local NLI model (upstream: microsoft/deberta-large-mnli); "
            "configure one with specs_eval.rules.megabench.metrics.text.set_nli"
        )
    if not isinstance(response, str) or not isinstance(correct, str):
        return 0
    return 1 if str(_NLI(correct.strip(), response.strip())).upper() == "ENTAILMENT" else 0
