"""``constrained_generation``: checking a generated text against the task's constraints.

Re-implements ``constrained_generation.py`` of the official evaluator (lmms-eval copy,
commit aff0acd). ``eval_context`` maps constraint names to values; the score is the
minimum over constraints, each 0/1:

* ``length``: ``"<N"`` / ``">N"`` words (``\\b\\w+\\b``);
* ``acrostic`` / ``acrostic_alliteration``: line initials (every word's initial);
* ``contain…`` (with ``##``-joined options ``position``, ``position_only``, ``times``,
  ``contain_only``): lemmatised phrase occurrences per sentence — needs NLTK with
  its ``punkt`` and ``wordnet`` data;
* ``syllables`` / ``rhyming_scheme`` / ``poetry_meter``: CMUdict pronunciations via
  ``pronouncing``.

A constraint whose dependency is missing makes the field *unavailable*. Upstream
enumerates every pronunciation combination to count syllables (bounded by a 10 s
alarm); we compute the same set of possible counts with a small dynamic programme.
"""

from __future__ import annotations

import ast
import collections
import functools
import itertools
import re
from typing import Any

from specs_eval.rules.megabench.conversions import str_to_iterable
from specs_eval.rules.megabench.metrics.base import MetricTimeout, MetricUnavailable, require, time_limit

CONSTRAINT_TIMEOUT_S = 10.0

CUSTOM_PHONES: dict[str, list[str]] = {
    "'gainst": ["G EH1 N S T", "G EY1 N S T"], "'midst": ["M IH1 D S T"], "'mongst": ["M AH1 NG S T"],
    "'neath": ["N IY1 TH"], "beguiles": ["B IH0 G AY1 L Z"], "cerulean": ["S ER0 UW1 L IY0 AH0 N"],
    "doggo": ["D AO1 G OW0"], "downtorn": ["D AW1 N T AO2 R N"], "enthrall": ["EH0 N TH R AO1 L"],
    "fam'ly": ["F AE1 M L IY0"], "fiery": ["F AY1 ER0 IY0", "F AY1 R IY0"], "flits": ["F L IH1 T S"],
    "furred": ["F ER1 D"], "kneels": ["N IY1 L Z"], "o'er": ["OW1 ER0"], "orbs": ["AO1 R B Z"],
    "quenched": ["K W EH1 N CH D"], "quietude": ["K W AY1 AH0 T UW0 D"], "retold": ["R IY0 T OW1 L D"],
    "scurries": ["S K ER1 IY0 Z"], "sunbeams": ["S AH1 N B IY2 M Z"], "syncs": ["S IH1 NG K S"],
    "'twixt": ["T W IH1 K S T"],
}


def _pronouncing() -> Any:
    return require("pronouncing")


def _nltk() -> tuple[Any, Any, Any, Any]:
    nltk = require("nltk")
    from nltk.corpus import wordnet
    from nltk.stem import WordNetLemmatizer
    from nltk.tokenize import sent_tokenize, word_tokenize

    try:
        sent_tokenize("A b. C d.")
        WordNetLemmatizer().lemmatize("dogs", wordnet.NOUN)
    except LookupError as e:
        raise MetricUnavailable(
            f"unavailable: NLTK data missing for 'contain' constraints ({str(e).splitlines()[1:2]}); "
            "run python -m nltk.downloader punkt punkt_tab wordnet"
        ) from None
    del nltk
    return sent_tokenize, word_tokenize, WordNetLemmatizer, wordnet


def phones_for_word(text: str) -> list[str]:
    """CMUdict phones with upstream's out-of-vocabulary guesses (suffixes, ``un-``, ``'``)."""
    pronouncing = _pronouncing()
    text = text.replace("’", "'").lower()
    suffixes, prefixes, prefixes_to_remove = [""], [""], [""]
    if text.endswith("'s"):
        suffixes = [" Z"]
        text = text.removesuffix("'s")
    if text in CUSTOM_PHONES:
        return [pr + s for pr, s in itertools.product(CUSTOM_PHONES[text], suffixes)]
    prons = pronouncing.phones_for_word(text)
    if not prons:
        if suffixes[0] != "":
            return []
        if text.endswith("ed"):
            suffixes = [" D", " T", " AH0 D", " IH0 D"]
            text = text.removesuffix("ed")
        elif text.endswith("s"):
            if pronouncing.phones_for_word(text.removesuffix("s")):
                suffixes = [" S", " Z", " AH0 Z", " IH0 Z"] if text.endswith("es") else [" S", " Z"]
                text = text.removesuffix("s")
            elif text.endswith("es"):
                suffixes = [" AH0 Z", " IH0 Z"]
                text = text.removesuffix("es")
        if text.startswith("un"):
            prefixes = ["AH0 N "]
            text = text.removeprefix("un")
        elif text.startswith("'") and pronouncing.phones_for_word("a" + text.removeprefix("'")):
            prefixes_to_remove = ["AH0 "]
            text = "a" + text.removeprefix("'")
        prons = pronouncing.phones_for_word(text)
    return [
        (pre + pr + suf).removeprefix(rm)
        for pre, pr, suf, rm in itertools.product(prefixes, prons, suffixes, prefixes_to_remove)
    ]


def rhyming_part_include_unstressed(phones: str) -> str:
    parts = phones.split()
    for i in range(len(parts) - 1, 0, -1):
        if parts[i][-1] in "012":
            phones = " ".join(parts[i:])
            break
    return re.sub(r"\d", "", phones)


def count_syllables(text: str) -> set[int]:
    """Every possible syllable count of the text over the words' pronunciations."""
    pronouncing = _pronouncing()
    totals = {0}
    for word in text.split():
        options = {pronouncing.syllable_count(p) for p in phones_for_word(word)}
        totals = {t + o for t in totals for o in options}
    return totals


def parse_syllable_ranges(input_str: str) -> list[list[int]]:
    def convert(chunk: str) -> list[int]:
        chunk = chunk.strip("[]")
        if "," in chunk:
            start, end = map(int, chunk.split(","))
            return [start, end]
        if chunk == " ":
            return [0, 0]
        return [int(chunk), int(chunk)]

    return [convert(c) for c in re.findall(r"(?:\[\d+(?:,\s*\d+)?\]|\d| )", input_str.strip())]


def parse_nested_str_list(input_string: str) -> Any:
    try:
        return ast.literal_eval(re.sub(r"(\w+)", r'"\1"', input_string))
    except (ValueError, SyntaxError):
        return input_string


def word_to_stresses(word: str) -> list[list[int]]:
    pronouncing = _pronouncing()
    stresses = {tuple(int(s) for s in pronouncing.stresses(p)) for p in phones_for_word(word)}
    return [list(s) for s in stresses]


_IAMBIC_PAIRS = {(2, 1), (0, 2), (0, 1), (0, 0), (1, 1), (2, 2)}


def is_line_iambic(line: str) -> bool:
    words = line.split()
    options = [word_to_stresses(w) for w in words]

    # The search depends on the syllable index only through its parity, so results are
    # memoised on (word, parity, previous stress): same answer, polynomial instead of
    # exponential time on long lines of ambiguous words.
    @functools.cache
    def backtrack(wi: int, si: int, prev: int) -> bool:
        if wi == len(words):
            return si % 2 == 0
        for pattern in options[wi]:
            k = 0
            if si % 2 != 0:
                if (prev, pattern[k]) not in _IAMBIC_PAIRS:
                    continue
                k += 1
            ok = True
            rest = pattern[k:]
            for a, b in zip(rest[0::2], rest[1::2], strict=False):
                if (a, b) not in _IAMBIC_PAIRS:
                    ok = False
                    break
                k += 2
            if not ok:
                continue
            if k < len(pattern):
                if backtrack(wi + 1, (si + k + 1) % 2, pattern[k]):
                    return True
            elif backtrack(wi + 1, (si + k) % 2, -1):
                return True
        return False

    return backtrack(0, 0, -1)


def parse_constraints(key_string: str, value_string: str) -> dict[str, Any]:
    keys = [re.sub(r"\d+$", "", k) for k in key_string.strip().split("##")]
    values: list[Any] = [v.strip().strip('"').strip() for v in value_string.strip().split("##")]
    values = [int(v) if v.isdigit() else v for v in values]
    if len(keys) != len(values):
        raise ValueError("mismatch between number of keys and values")
    return {k.lower(): v for k, v in zip(keys, values, strict=True)}


class _Lemmas:
    def __init__(self) -> None:
        self.sent_tokenize, self.word_tokenize, lemmatizer_cls, self.wordnet = _nltk()
        self.lemmatizer = lemmatizer_cls()

    def lemma(self, word: str) -> str:
        lemma = self.lemmatizer.lemmatize(word, self.wordnet.NOUN)
        if word.endswith("ies") and lemma.endswith("y"):
            lemma = lemma[:-1] + "y"
        elif word.endswith("ves") and lemma.endswith("f"):
            lemma = lemma[:-1] + "f"
        return lemma

    def phrase(self, phrase: str) -> str:
        return " ".join(self.lemma(w) for w in self.word_tokenize(phrase.lower()))

    def occurrences(self, text: str, search: str) -> tuple[int, list[tuple[int, int]]]:
        target = self.phrase(search)
        found, total = [], 0
        for i, sentence in enumerate(self.sent_tokenize(text), 1):
            n = self.phrase(sentence).count(target)
            if n > 0:
                found.append((i, n))
                total += n
        return total, found


def _check_contain(response: str, constraint: str, constraint_val: str) -> int:
    lem = _Lemmas()
    records: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    parsed = parse_constraints(constraint, constraint_val)
    response = response.replace("**", "")
    if "contain_only" in parsed:
        satisfied = 0
        for cond in parse_nested_str_list(parsed["contain_only"]):
            count, occurs = 0, []
            for item in cond:
                c, o = lem.occurrences(response, item)
                if c > 0:
                    count += c
                    occurs.extend(o)
            if count > 0:
                satisfied += 1
                records[tuple(cond)] = occurs
        score = 1 if satisfied == 1 else 0
    else:
        items = str_to_iterable(list, parsed["contain"])
        count, occurs = 0, []
        for item in items:
            c, o = lem.occurrences(response, item)
            if c > 0:
                count += c
                occurs.extend(o)
        if count > 0:
            records[tuple(items)] = occurs
        score = 0 if count == 0 else 1
    if score > 0:
        occurs = next(iter(records.values()))
        if "position_only" in parsed:
            pos = parsed["position_only"]
            return 1 if len(occurs) == 1 and occurs[0][0] == pos else 0
        if "position" in parsed:
            score = 1 if parsed["position"] in [o[0] for o in occurs] else 0
        if "times" in parsed:
            score = 1 if sum(o[1] for o in occurs) == parsed["times"] else 0
    return score


def _check_acrostic(response: str, constraint: str, constraint_val: str) -> int:
    lines = response.replace("**", "").strip().lower().split("\n")
    if len(lines) != len(constraint_val):
        return 0
    for line, letter in zip(lines, constraint_val.lower(), strict=True):
        line = line.strip()
        if letter == " ":
            if line != "":
                return 0
        elif "acrostic_alliteration" in constraint:
            if not line or not all(word[0] == letter for word in line.split(" ")):
                return 0
        elif not line or line[0] != letter:
            return 0
    return 1


def _check_rhymes(lines: list[str], scheme: str) -> int:
    if len(lines) != len(scheme):
        return 0
    last_words = [line.split()[-1] if line != "" else "" for line in lines]
    letter_to_words: dict[str, set[str]] = collections.defaultdict(set)
    for letter, word in zip(scheme, last_words, strict=True):
        if letter == " ":
            if word != "":
                return 0
        else:
            letter_to_words[letter].add(word)
    parts_by_letter: dict[str, set[str]] = {}
    for letter, words in letter_to_words.items():
        parts = [{rhyming_part_include_unstressed(p) for p in phones_for_word(w)} for w in words]
        common = set.intersection(*parts)
        if not common:
            return 0
        parts_by_letter[letter] = common
    for a, b in itertools.combinations(parts_by_letter, 2):
        if parts_by_letter[a] & parts_by_letter[b]:
            return 0
    return 1


def check_constraint(response: str, constraint: str, constraint_val: str) -> int:
    """0/1 for one constraint, upstream's ``check_constraint``."""
    if constraint_val.strip() == "":
        return 1
    if "contain" in constraint:
        return _check_contain(response, constraint, constraint_val)
    if "length" in constraint:
        try:
            limit = int(constraint_val[1:])
        except ValueError:
            return 0
        n_words = len(re.findall(r"\b\w+\b", response))
        if constraint_val[0] == "<":
            return 1 if n_words < limit else 0
        if constraint_val[0] == ">":
            return 1 if n_words > limit else 0
        return 0
    if "acrostic" in constraint:
        return _check_acrostic(response, constraint, constraint_val)
    text = response.strip()
    for ch in ".,!?:;\"":
        text = text.replace(ch, "")
    text = text.replace("-", " ").replace("—", " ")
    text = re.sub(r" *\(\w\) *(?=\n|$)", "", text)
    lines = text.lower().split("\n")
    if constraint == "syllables":
        ranges = parse_syllable_ranges(constraint_val)
        if len(lines) != len(ranges):
            return 0
        ok = all(any(lo <= n <= hi for n in count_syllables(line))
                 for line, (lo, hi) in zip(lines, ranges, strict=True))
        return 1 if ok else 0
    if constraint == "rhyming_scheme":
        return _check_rhymes(lines, constraint_val)
    if constraint == "poetry_meter":
        return 1 if all(is_line_iambic(line) for line in lines) else 0
    return 0


def constrained_generation(response: Any, constraints: dict[str, Any]) -> tuple[float, str]:
    """min over constraints; the info lists each constraint's 0/1."""
    if isinstance(response, dict):
        values = [v for k, v in response.items() if not str(k).startswith("##")]
        response = values[0] if len(values) == 1 else str(response)
    if not isinstance(response, str):
        response = str(response)
    results: dict[str, int] = {}
    for name, value in constraints.items():
        try:
            with time_limit(CONSTRAINT_TIMEOUT_S):
                results[name] = check_constraint(response, name, value)
        except MetricTimeout:
            results[name] = 0
    if not results:
        raise ValueError("no constraints in eval_context")
    return float(min(results.values())), "\t".join(f"{k}: {v}" for k, v in results.items())
