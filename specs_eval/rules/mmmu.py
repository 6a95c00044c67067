"""MMMU answer parsing and evaluation: the official rules, and the lmms-eval / VLMEvalKit variants.

Why re-implemented here and not imported: the official code lives in a script folder of
the MMMU repository (``MMMU-Benchmark/MMMU``, ``eval/eval_utils.py`` at commit bb91f23,
moved to ``mmmu/utils/eval_utils.py`` later, rules unchanged through bb0b95a) and seeds
the global ``random`` at import. We re-implement each rule from its description and keep
the order of every operation, because MMMU scores are only comparable sample by sample
when the random fallback consumes the same random stream:

* ``random.seed(42)`` runs once, at import of ``eval_utils``; ``main_parse_and_eval.py``
  then parses every multiple-choice item in file order (subjects in ``CAT_SHORT2LONG``
  order, which is the dataset's alphabetical order). Here a ``random.Random(42)`` is made
  once per scoring pass and consumed only when the fallback fires, which yields the same
  sequence of choices.
* ``np.argmax`` picks the first maximum; ``_argmax`` below does the same.
* ``parse_open_response`` de-duplicates through ``set``; the order of that set depends on
  string hashing, but ``eval_open`` is an "any" test, so only our stored copy is sorted.

Every public function is total: it never raises on any text.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Sequence
from typing import Any

DOMAIN_CAT2SUB_CAT: dict[str, list[str]] = {
    "Art and Design": ["Art", "Art_Theory", "Design", "Music"],
    "Business": ["Accounting", "Economics", "Finance", "Manage", "Marketing"],
    "Science": ["Biology", "Chemistry", "Geography", "Math", "Physics"],
    "Health and Medicine": ["Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine",
                            "Pharmacy", "Public_Health"],
    "Humanities and Social Science": ["History", "Literature", "Sociology", "Psychology"],
    "Tech and Engineering": ["Agriculture", "Architecture_and_Engineering", "Computer_Science", "Electronics",
                             "Energy_and_Power", "Materials", "Mechanical_Engineering"],
}
#: the 30 subjects (HF configs) in the official ``CAT_SHORT2LONG`` order, i.e. alphabetical
SUBJECTS: tuple[str, ...] = tuple(sorted(s for subs in DOMAIN_CAT2SUB_CAT.values() for s in subs))
SUBJECT_TO_DISCIPLINE: dict[str, str] = {s: d for d, subs in DOMAIN_CAT2SUB_CAT.items() for s in subs}

OFFICIAL_SEED = 42
LMMS_EVAL_SEED = 0
_STRIP_CHARS = (",", ".", "!", "?", ";", ":", "'")
_ID_RE = re.compile(r"^[^_]+_(.+)_\d+$")


def subject_of(item_id: str) -> str | None:
    """``validation_Art_Theory_12`` → ``Art_Theory`` (the official ``"_".join(id.split("_")[1:-1])``)."""
    m = _ID_RE.match(str(item_id))
    return m.group(1) if m else None


def parse_options(options: Any) -> list[str] | None:
    """The ``options`` field (the string form of a Python list in the HF data, or a list).

    Parsed with ``ast.literal_eval`` (never ``eval``); ``None`` when it is not a list.
    """
    if isinstance(options, list | tuple):
        return [str(o) for o in options]
    if not isinstance(options, str):
        return None
    try:
        value = ast.literal_eval(options.strip() or "[]")
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    return [str(o) for o in value] if isinstance(value, list | tuple) else None


def parse_gold(answer: Any) -> str | list[str]:
    """Gold answer: the official answer file holds a list for some open items; HF stores its string form."""
    if isinstance(answer, list | tuple):
        return [str(a) for a in answer]
    s = str(answer)
    if s.startswith("[") and s.endswith("]"):
        try:
            value = ast.literal_eval(s)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return s
        if isinstance(value, list) and value:
            return [str(a) for a in value]
    return s


def choice_info(options: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The official ``get_multi_choice_info``: letters from ``A`` and the letter → option map."""
    letters = [chr(ord("A") + i) for i in range(len(options))]
    return dict(zip(letters, options, strict=True)), letters


def _argmax(values: Sequence[int]) -> int:
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def _official_strip(response: str) -> str:
    for char in _STRIP_CHARS:  # one strip per character, in this order, as the official loop does
        response = response.strip(char)
    return " " + response + " "


def mc_candidates(response: str, all_choices: Sequence[str], index2ans: dict[str, str],
                  style: str = "official") -> tuple[str | None, str]:
    """The deterministic part of the MC parser: ``(letter, rule)`` or ``(None, "none")``.

    ``style="official"``: ``(X)``, then `` X `` (spaces on both sides), then option text when
    the response has more than 5 words; several candidates → the last occurrence wins.
    ``style="lmms-eval"`` (``lmms_eval/tasks/_task_utils/mmmu_mcq_utils.py``): the second
    pass accepts ``X `` (trailing space only) and a third pass ``X.`` is added.
    """
    response = _official_strip(str(response))
    candidates: list[str] = []
    index_ans, with_brack, rule = True, False, "none"
    for choice in all_choices:
        if f"({choice})" in response:
            candidates.append(choice)
            with_brack, rule = True, "paren"
    if not candidates:
        pattern = "{} " if style == "lmms-eval" else " {} "
        for choice in all_choices:
            if pattern.format(choice) in response:
                candidates.append(choice)
                rule = "letter"
    if not candidates and style == "lmms-eval":
        for choice in all_choices:
            if f"{choice}." in response:
                candidates.append(choice)
                rule = "letter_dot"
    if not candidates and len(response.split()) > 5:
        low = response.lower()
        for index, ans in index2ans.items():
            if ans.lower() in low:
                candidates.append(index)
                index_ans, rule = False, "option_text"
    if not candidates:
        return None, "none"
    if len(candidates) == 1:
        return candidates[0], rule
    if index_ans:
        if with_brack:
            starts = [response.rfind(f"({c})") for c in candidates]
        else:
            starts = [response.rfind(f" {c} ") for c in candidates]
    else:
        low = response.lower()
        starts = [low.rfind(index2ans[c].lower()) for c in candidates]
    return candidates[_argmax(starts)], rule


def parse_multi_choice(response: str, all_choices: Sequence[str], index2ans: dict[str, str],
                       rng: random.Random | None, style: str = "official") -> tuple[str | None, str, str]:
    """``(letter, parse_status, rule)``; with ``rng`` the official random fallback fills gaps."""
    try:
        letter, rule = mc_candidates(response, all_choices, index2ans, style)
    except Exception:  # pragma: no cover - defensive
        letter, rule = None, "none"
    if letter is not None:
        return letter, "ok", rule
    if rng is not None and all_choices:
        return rng.choice(list(all_choices)), "fallback", "random"
    return None, ("empty" if not str(response).strip() else "failed"), "none"


# ----------------------------------------------------------------- open questions

_NUM_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
# The official patterns are ``-?\d+(?:\.\d+)?[eE][+-]?\d+`` and
# ``-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])``. ``(?<!\d)`` before a leading
# ``\d+`` changes no result: a match that could start inside a run of digits would start
# at the run's first digit already (the rest of the pattern sees the same text), so
# ``findall`` never returns one. Without it every position of a long digit run rescans
# the run: 50,000 digits took 97 s.
_NUM_SCI = re.compile(r"-?(?<!\d)\d+(?:\.\d+)?[eE][+-]?\d+")
_NUM_SIMPLE = re.compile(r"-?(?:(?<!\d)\d+\.\d+|\.\d+|(?<!\d)\d+\b)(?![eE][+-]?\d+)(?![,\d])")
_OPEN_SPLIT = re.compile(r"\.\s(?=[A-Z])|\n")
_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = {":", ",", ".", "!", "?", ";", "'"}


def check_is_number(string: str) -> bool:
    """The official test: ``float(s.replace(",", ""))`` succeeds (so ``"nan"``/``"1e3"`` count)."""
    try:
        float(string.replace(",", ""))
        return True
    except (ValueError, OverflowError):
        return False


def normalize_str(string: str) -> list[Any]:
    """Numbers → ``[round(float, 2)]``; strings → lower-case; one character → ``[" c", "c "]``."""
    string = string.strip()
    if check_is_number(string):
        return [round(float(string.replace(",", "")), 2)]
    string = string.lower()
    if len(string) == 1:
        return [" " + string, string + " "]
    return [string]


def extract_numbers(string: str) -> list[str]:
    """Comma-grouped, scientific and plain numbers, in that order (the official three regexes)."""
    return _NUM_COMMAS.findall(string) + _NUM_SCI.findall(string) + _NUM_SIMPLE.findall(string)


def _key_subresponses(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    # The official split runs after lower(), so its "(?=[A-Z])" branch never fires: lines only.
    subs = _OPEN_SPLIT.split(response)
    indicators = list(_INDICATORS)
    keys: list[str] = []
    for index, resp in enumerate(subs):
        if index == len(subs) - 1:
            indicators.append("=")
        shortest: str | None = None
        for indicator in indicators:
            if indicator in resp:
                tail = resp.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            keys.append(shortest)
    return keys or [response]


def parse_open_response(response: str) -> list[Any]:
    """The official ``parse_open_response``: key sub-responses plus their numbers, normalised.

    Sorted (strings after numbers) instead of set order so stored predictions are stable.
    """
    try:
        keys = _key_subresponses(str(response))
        preds: list[str] = list(keys)
        for k in keys:
            preds.extend(extract_numbers(k))
        normed: list[Any] = []
        for p in preds:
            normed.extend(normalize_str(p))
        unique: dict[Any, None] = {}
        for p in normed:
            unique.setdefault(p, None)
        return sorted(unique, key=lambda x: (isinstance(x, str), str(x)))
    except Exception:  # pragma: no cover - defensive
        return []


def eval_multi_choice(gold: str | list[str], pred: str | None) -> bool:
    if pred is None:
        return False
    return pred in gold if isinstance(gold, list) else gold == pred


def eval_open(gold: str | list[str], preds: Sequence[Any]) -> bool:
    """Correct iff a normalised gold string is a substring of a predicted string, or a number matches."""
    golds = gold if isinstance(gold, list) else [gold]
    norm: list[Any] = []
    for g in golds:
        norm.extend(normalize_str(str(g)))
    for p in preds:
        if isinstance(p, str):
            if any(isinstance(n, str) and n in p for n in norm):
                return True
        elif p in norm:
            return True
    return False


# ----------------------------------------------------------------- VLMEvalKit rules

_VLM_CHARS = ".()[],:;!*#{}"
_VLM_REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)


def can_infer_option(answer: str, choices: Sequence[str]) -> str | None:
    """VLMEvalKit ``can_infer_option`` (``vlmeval/utils/matching_util.py``, e8e78f0).

    Punctuation becomes spaces; exactly one choice letter among the tokens wins, unless
    the letter ``A`` appears in a response of more than 3 tokens (an article); a refusal
    or a lone ``Z`` gives ``Z``.
    """
    if any(r in answer for r in _VLM_REFUSALS):
        return "Z"
    mod = answer
    for c in _VLM_CHARS:
        mod = mod.replace(c, " ")
    splits = [x.strip() for x in mod.split()]
    hits = [c for c in choices if c in splits]
    if len(hits) == 1:
        if "A" in splits and len(splits) > 3:
            return None
        return hits[0]
    if not hits and "Z" in splits:
        return "Z"
    return None


def can_infer_text(answer: str, choices: dict[str, str]) -> str | None:
    """VLMEvalKit ``can_infer_text``: the only option whose text occurs (case-insensitive)."""
    low = answer.lower()
    hits = [k for k, v in choices.items() if str(v).lower() in low]
    return hits[0] if len(hits) == 1 else None


def vlmevalkit_infer(answer: str, choices: dict[str, str]) -> str | None:
    """``can_infer``: option letter first, then option text; ``None`` means "needs a judge"."""
    letter = can_infer_option(answer, list(choices))
    return letter if letter is not None else can_infer_text(answer, choices)


# ----------------------------------------------------------------- aggregation

def ins_level_acc(results: dict[str, dict[str, float]]) -> float:
    """``calculate_ins_level_acc``: instance-weighted mean of per-subject accuracies."""
    acc = sum(r["acc"] * r["num_example"] for r in results.values())
    n = sum(r["num_example"] for r in results.values())
    return acc / n if n else 0.0


def official_layout(per_subject: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """Subject → discipline → Overall, as ``main_eval_only.py`` prints it.

    ``per_subject`` maps a subject to ``(n_correct, n)``. Values keep full precision (the
    official script rounds to 3 decimals when printing; ``acc_rounded`` carries that).
    """
    evaluation = {s: {"acc": c / n if n else 0.0, "num_example": n} for s, (c, n) in per_subject.items()}
    out: dict[str, Any] = {"subjects": {}, "disciplines": {}}
    for domain, subs in DOMAIN_CAT2SUB_CAT.items():
        in_domain = {s: evaluation[s] for s in subs if s in evaluation}
        if not in_domain:
            continue
        acc = ins_level_acc(in_domain)
        n = sum(int(r["num_example"]) for r in in_domain.values())
        out["disciplines"][domain] = {"num": n, "acc": acc, "acc_rounded": round(acc, 3)}
        for s, r in in_domain.items():
            out["subjects"][s] = {"num": int(r["num_example"]), "acc": r["acc"], "acc_rounded": round(r["acc"], 3),
                                  "discipline": domain}
    other = {s: r for s, r in evaluation.items() if s not in SUBJECT_TO_DISCIPLINE}
    for s, r in other.items():
        out["subjects"][s] = {"num": int(r["num_example"]), "acc": r["acc"], "acc_rounded": round(r["acc"], 3),
                              "discipline": None}
    overall = ins_level_acc(evaluation)
    out["Overall"] = {"num": sum(int(r["num_example"]) for r in evaluation.values()), "acc": overall,
                      "acc_rounded": round(overall, 3)}
    return out
