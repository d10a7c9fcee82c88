"""Numbers as reports write them: digits with separators, words, ranges, qualifiers.

The regex layer of fact extraction, kept where a regex is the right tool (number
formats): "51", "30,000", "fifty-one", "between 70 and 80", "the 8,000-won range",
"more than 30", "twice". Words come from ``resources/facts_rules.json``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.fact_rules import patterns, rules


@dataclass(frozen=True)
class Amount:
    start: int
    end: int
    value: float | None
    low: float | None
    high: float | None
    qualifier: str


# The units after a tens word; "one" alone is left out of number_words ("one of his visits" counts nothing).
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}


_GROUP_SPACES = str.maketrans("", "", "\u00a0\u2009\u202f")


def parse_number(token: str) -> float | None:
    token = " ".join(token.translate(_GROUP_SPACES).strip().lower().split())
    if " thousand " in token:  # "six thousand five hundred"
        high, low = token.split(" thousand ", 1)
        thousands, rest = parse_number(high), parse_number(low)
        return None if thousands is None or rest is None else thousands * 1000 + rest
    for word, factor in rules()["multipliers"].items():
        if token.endswith(" " + word):
            base = parse_number(token[: -len(word) - 1])
            return None if base is None else base * factor
    words = rules()["number_words"]
    if token in words:
        return words[token]
    parts = re.split(r"[- ]", token)
    if len(parts) == 2 and parts[0] in words and (parts[1] in words or parts[1] in _UNITS):
        return words[parts[0]] + (words.get(parts[1]) or _UNITS[parts[1]])  # "fifty-one", "twenty two"
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def _qualifier_before(text: str, start: int) -> tuple[str, int]:
    """The qualifier word right before a number, and where it starts."""
    before = text[max(0, start - 30):start].lower()
    if patterns()["verb"].search(before + "\0") and re.search(r"(?:presided|took|went|handed|looked)\s+over\s+$", before):
        return "exact", start  # "presided over seven meetings" counts exactly
    if re.search(r"\b(?:hand(?:s|ed|ing)?|fork(?:s|ed|ing)?|turn(?:s|ed|ing)?)\s+over\s+$", before):
        return "exact", start  # "handing over 125,000 won for 100 yuan" pays exactly
    for qualifier, pattern in _qualifier_patterns():
        match = pattern.search(before)
        if match:
            if match.group("word").endswith("than") and re.search(r"\bthe\s+$", before):
                return "exact", start  # "fewer than the 72 logged in 2019": a figure compared with, not a bound
            return qualifier, start - (len(before) - match.start("word"))
    return "exact", start


@functools.lru_cache(maxsize=1)
def _qualifier_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """One pattern per qualifier, its words longest first, ending where the number starts."""
    return tuple((qualifier, re.compile(rf"(?:^|\W)(?P<word>{'|'.join(re.escape(w) for w in sorted(words, key=len, reverse=True))})\s+(?:the\s+)?$"))
                 for qualifier, words in rules()["qualifiers"].items())


def find_amounts(sentence: str, skip: Sequence[tuple[int, int]]) -> list[Amount]:
    """Numbers and ranges in a sentence, outside the spans in ``skip`` (dates)."""
    p = patterns()
    taken: list[tuple[int, int]] = list(skip)
    found: list[Amount] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    for match in p["band_range"].finditer(sentence):  # "the high-7,000 won range": 7,500-7,999
        value = parse_number(match.group(2))
        if value is None:
            continue
        half = _range_step(value) / 2
        low = value + half if match.group(1).lower() in ("high", "upper") else value
        found.append(Amount(match.start(), match.end(2), None, low, low + half - 1, "range"))
        taken.append((match.start(), match.end()))
    for match in p["range"].finditer(sentence):
        low, high = parse_number(match.group(1)), parse_number(match.group(2))
        joiner = sentence[match.end(1):match.start(2)].lower()
        is_between = match.group(0).lower().startswith("between")
        if low is None or high is None or low >= high or not free(match.start(), match.end()):
            continue
        if "and" in joiner and not is_between or "to" in joiner and _is_from_to(sentence, match.start()):
            continue
        found.append(Amount(match.start(), match.end(), None, low, high, "range"))
        taken.append((match.start(), match.end()))
    for match in p["number"].finditer(sentence):
        if not free(match.start(), match.end()):
            continue
        value = parse_number(match.group(0))
        if value is None:
            continue
        qualifier, q_start = _qualifier_before(sentence, match.start())
        found.append(_single(sentence, q_start, match.end(), value, qualifier))
    for match in p["times_word"].finditer(sentence):
        if free(match.start(), match.end()):
            value = float(rules()["times_words"][match.group(0).lower()])
            found.append(Amount(match.start(), match.end(), value, None, None, "exact"))
    for match in re.finditer(r"(?<![\w'’-])one(?![\w'’-])", sentence, re.IGNORECASE):
        if free(match.start(), match.end()) and _one_counts(sentence, match):
            qualifier, q_start = _qualifier_before(sentence, match.start())
            found.append(_single(sentence, q_start, match.end(), 1.0, qualifier))
    return sorted(found, key=lambda a: a.start)


def _one_counts(sentence: str, match: re.Match[str]) -> bool:
    """"just one trip abroad", "and one with Putin" count; "one of his visits", "no one", "one day" do not."""
    words = rules()["one_as_count"]
    before = re.findall(r"[\w']+", sentence[max(0, match.start() - 30):match.start()].lower())
    if before and before[-1] in words["not_after"]:
        return False
    after = [w.rstrip("s") for w in re.findall(r"[\w'-]+", sentence[match.end():match.end() + 60].lower())[:3]]
    return bool(after) and (after[0] in words["counted_by"] or any(w in words["counted_by"] for w in after[1:]))


def _is_from_to(sentence: str, start: int) -> bool:
    """"rose from 70 to 100" is a change over time, not a range."""
    before = sentence[max(0, start - 25):start]
    if re.search(r"\b(?:rang(?:e|ed|es|ing)|var(?:y|ied|ies|ying))\s+(?:\w+\s+)?from\s+$", before, re.IGNORECASE):
        return False  # "rice ranged from 4,500 to 5,300 won": a range
    return bool(re.search(r"\bfrom\s+(?:\w+\s+)?$", before, re.IGNORECASE))


def _single(sentence: str, start: int, end: int, value: float, qualifier: str) -> Amount:
    if patterns()["won_range"].match(sentence[end:]):
        step = _range_step(value)
        return Amount(start, end, None, value, value + step - 1, "range")
    if qualifier == "more_than":
        return Amount(start, end, None, value, None, qualifier)
    if qualifier == "less_than":
        return Amount(start, end, None, None, value, qualifier)
    return Amount(start, end, value, None, None, qualifier)


def _range_step(value: float) -> int:
    """"the 8,000-won range" covers 8,000-8,999: one unit of its lowest non-zero digit's place."""
    number = int(value)
    step = 1
    while number and number % (step * 10) == 0:
        step *= 10
    return step
