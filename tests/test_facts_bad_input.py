"""Bad input for the fact extractors: no crash, no invented fact (bench/eval_facts.py times them)."""

from __future__ import annotations

import random
from datetime import date

from tests.test_facts import facts_of


def numbers_without_facts(chars: int, seed: int = 7) -> str:
    """Reporting full of numbers that are not facts: output, shares, tables, dates, ordinals, headlines."""
    rng = random.Random(seed)
    lines = [
        "Production rose {a}.{b}% to {c:,} tons in {y}, the {o}th straight year of growth.",
        "Table 3 | Region {a} | {c:,} | {b}.{a}% | {y}",
        "Exports reached {c:,} units (up {b}% from {y}, while imports fell.Data from customs showed {a} items",
        "Related: {o}th Plenary Meeting opens; {a} workers honoured; dam {b} m high",
        "Photo: Workers at the {o}th Party Congress, {y}. ({a} of {c} delegates",
        "The {a}-story building has {c:,} square metres and {b} lifts, built from {y} to {y2}.",
    ]
    text, size = [], 0
    while size < chars:
        line = rng.choice(lines).format(a=rng.randint(1, 99), b=rng.randint(1, 9), c=rng.randint(100, 9_999_999),
                                        y=rng.randint(1990, 2024), y2=rng.randint(2025, 2030), o=rng.randint(2, 99))
        text.append(line)
        size += len(line) + 1
    return "\n".join(text)[:chars]


def test_facts_a_text_full_of_numbers_yields_none_and_does_not_crash(nlp):
    assert facts_of(numbers_without_facts(60_000), date(2025, 1, 10)) == []


def test_facts_glued_sentences_and_unbalanced_brackets(nlp):
    rows = facts_of("Kim Jong Un made 51 public appearances in 2024.Data from the ministry showed 3,400 tons "
                    "(up 12% (from 2023. Rice sold for 6,200 won per kg in Pyongyang (traders said.",
                    date(2025, 1, 10))
    assert sorted((r["kind"], r["value"]) for r in rows) == [("activity_count", 51.0), ("price", 6200.0)]


def test_facts_numbers_in_words_and_with_separators(nlp):
    from pipeline.clean import normalise_text

    text = normalise_text("Kim Jong Un made fifty-one public appearances in 2024. In Pyongyang the dollar "
                          "traded at 8\u00a0130 won on Jan. 5, and at KPW 8,200 a week later.")
    rows = facts_of(text, date(2025, 1, 20))
    assert {(r["kind"], r["value"]) for r in rows} >= {("activity_count", 51.0), ("exchange_rate", 8130.0)}


def test_facts_captions_and_related_headlines_are_not_facts(nlp):
    rows = facts_of("Kim Jong Un inspected a farm.\n\nRelated: Kim's 100 days of field guidance\n"
                    "Photo: Kim Jong Un at the 8th Party Congress (KCNA)\nMost read: 5 things about the 3rd plenum",
                    date(2025, 1, 20))
    assert rows == []
