"""The vocabulary of the fact extractors: words and phrases from ``resources/facts_rules.json`` as regexes.

Shared by the number finder (``pipeline.numbers``), the fact walk (``pipeline.facts``),
the extractors (``pipeline/extractors/``) and the register. The words are data; this
module only compiles them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pipeline.rules import load_json

FACT_RULES_FILE = "facts_rules.json"


def rules() -> dict[str, Any]:
    return load_json(FACT_RULES_FILE)


def word_alternation(words: Iterable[str]) -> str:
    """Rule words as one regex alternation: escaped, longest first, any whitespace between words."""
    return "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True))


def words_pattern(words: Sequence[str]) -> str:
    return f"(?:{word_alternation(words)})"


@functools.cache
def patterns() -> dict[str, re.Pattern[str]]:
    r = rules()
    nouns = [k for k in r["activity_nouns"] if k != "note"]
    sectors = list(r["sector_words"])
    spelled = [k for k, v in r["number_words"].items() if v is not None]
    # Thousands grouped by commas or by the no-break and thin spaces European outlets print.
    digit = r"\d{1,3}(?:,\d{3})+(?!\d)|\d{1,3}(?:[\u00a0\u2009\u202f]\d{3})+(?!\d)|\d+(?:\.\d+)?"
    tens = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)[- ](?:one|two|three|four|five|six|seven|eight|nine)"
    base = rf"(?:{digit}|\b{tens}\b|\b{words_pattern(spelled)}\b)"
    number = rf"{base}(?:\s+thousand(?:\s+{base}\s+hundred)?\b|\s+(?:hundred|thousand)\b)?"
    flags = re.IGNORECASE
    return {
        "number": re.compile(rf"(?<![\w.,×/-]){number}(?!(?!won\b|kpw\b)[\w%×]|/(?!\s?kg\b)|\.\d|,\d)", flags),
        "band_range": re.compile(
            rf"\b(high|low|upper|lower)-({number})\s*-?\s*won\s+range\b", flags),
        "range": re.compile(
            rf"(?<![\w.,×/-])(?:between\s+)?({number})\s*(?:-?\s*won\s*)?(?:-|–|—|to|and)\s*({number})(?![\w%×]|\.\d|,\d)", flags),
        "noun": re.compile(
            r"^\s*(?:of\s+(?:his|her|their|the\s+leader['’]s|[A-Z][\w-]*(?:\s+[A-Z][\w-]*){0,2}['’]s)\s+)?"
            rf"(?:(?:public|publicly|reported|separate|official|major|such|{words_pattern(sectors)})[\s-]+){{0,3}}"
            rf"({words_pattern(nouns)})\b", flags),
        "sector_in_phrase": re.compile(rf"\b({words_pattern(sectors)})\b", flags),
        "won": re.compile(r"^\s*-?\s*(?:north\s+korean\s+)?(?:won|kpw)\b", flags),
        "times_word": re.compile(rf"\b{words_pattern(list(r['times_words']))}\b", flags),
        "times_unit": re.compile(rf"^\s*{words_pattern(r['times_units'])}\b", flags),
        "verb": re.compile(rf"\b({words_pattern([k for k in r['activity_verbs'] if k != 'note'])})\b", flags),
        "plural_noun": re.compile(r"^\s*((?:[\w-]+\s+){0,3}?[a-z-]+s)\b"),
        "leader_ref": re.compile(r"\b(?:him|his|the leader|her brother|the leader's)\b", flags),
        "surname": re.compile(r"\b(Kim|Pak|Ri|Choe|Jo|Kang|Han)\b(?!\s+[A-Z])"),
        "country": re.compile(rf"(?<![\w.]){words_pattern([w for k, v in r['counterparts'].items() if k != 'note' for w in v])}(?![\w])"),
        "won_range": re.compile(r"^\s*-?\s*won\s+range\b", flags),
        "counterpart": re.compile(
            r"^\s*(?:related\s+to|linked\s+to|with|to|involving|involved|concerning|concerned)\s+(?:the\s+)?"
            r"([A-Z][\w.'’-]*(?:\s+(?:and\s+)?[A-Z][\w.'’-]*)*)"),
        "other_counterpart": re.compile(
            rf"^\s*(?:categorized|categorised|classified|counted|listed)\s+as\s+{words_pattern(r['other_counterpart_words'])}\b", flags),
        "times": re.compile(rf"^\s*{words_pattern(r['companion_units'])}\b", flags),
        "companion_verb": re.compile(rf"\b{words_pattern(r['companion_verbs'])}\b", flags),
        "possessive": re.compile(r"\b([A-Z][a-z]+)['’]s\b"),
        "any_number": re.compile(rf"\d|\b{words_pattern(spelled + list(r['times_words']))}\b", flags),
        "activity_context": re.compile(rf"\b{words_pattern(r['leader_context_words'])}\b", flags),
        "rate": re.compile(rf"\b{words_pattern(r['rate_words'])}\b", flags),
        "official": re.compile(rf"\b{words_pattern(r['official_rate_words'])}\b", flags),
        "market_rate": re.compile(rf"\b{words_pattern(r['market_rate_words'])}\b", flags),
        "per_kg": re.compile(rf"^\s*(?:-?\s*won\s*)?{words_pattern(r['per_kg'])}", flags),
        "good": re.compile(rf"\b{words_pattern(list(r['goods']))}\b", flags),
        "city": re.compile(rf"\b{words_pattern(r['market_provinces'] + r['market_cities'] + [c.upper() for c in r['market_cities']])}\b"),
        "city_alias": re.compile(rf"\b{words_pattern([k for k in r['market_city_aliases'] if k != 'note'])}\b", flags),
        "national_market": re.compile(rf"\b{words_pattern(r['national_market_words'])}\b", flags),
    }


def market_cities(text: str) -> list[tuple[str, int, int]]:
    """The market cities a text names, in order: (city, start, end); "the capital" is Pyongyang."""
    aliases = {k.lower(): v for k, v in rules()["market_city_aliases"].items() if k != "note"}
    found = [(m.group(0).title() if m.group(0).isupper() else m.group(0), m.start(), m.end())
             for m in patterns()["city"].finditer(text)]  # "CHONGJIN:" in a flattened table
    found += [(aliases[re.sub(r"\s+", " ", m.group(0).lower())], m.start(), m.end())
              for m in patterns()["city_alias"].finditer(text)]
    towns = [c for c in found if not c[0].endswith("Province")]
    return sorted(towns or found, key=lambda c: c[1])  # "in Hyesan, Ryanggang Province": the city
