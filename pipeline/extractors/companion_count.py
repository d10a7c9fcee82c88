"""Companion counts: how often an official accompanied the leader.

"Jo Yong Won accompanied him 40 times", "on 40 of his 130 public activities".
"""

from __future__ import annotations

import re

from pipeline.dates import Period, TemporalMention
from pipeline.extractors.shared import continues, period_or_default
from pipeline.fact_rules import FACT_RULES_FILE, patterns, rules, words_pattern
from pipeline.facts import FACT_EXTRACTORS, LEGACY_VERSION, DocumentFacts, Discourse, Fact, FactExtractor, SentenceView, Walk
from pipeline.numbers import Amount


def claim(sentence: SentenceView, amount: Amount, walk: Walk) -> Fact | None:
    return _companion(sentence.document, sentence.text, sentence.start, amount, sentence.attached[amount],
                      sentence.temporals, sentence.main, walk.discourse, walk.previous)


def trigger() -> str:
    return words_pattern(rules()["companion_verbs"])


def _companion(ctx: DocumentFacts, sentence: str, offset: int, amount: Amount, attached: list[Period],
               temporals: list[TemporalMention], main: Period | None, discourse: Discourse,
               previous: Fact | None) -> Fact | None:
    """"Jo Yong Won accompanied him 40 times" / "on 40 of his 130 public activities"."""
    p = patterns()
    verb = p["companion_verb"].search(sentence)
    if not verb or amount.start < verb.end():
        return None
    before = sentence[:amount.start]
    if re.search(r"\bof\s+(?:his|her|the\s+leader['’]s|[A-Z][\w-]*['’]s)\s*$", before):
        return None  # "of his 130 activities": the leader's own total
    after = sentence[amount.end:]
    unit = p["times"].match(after) or re.match(r"^\s*of\s+(?:his|the\s+leader['’]s|[A-Z][\w-]*['’]s)\b", after)
    is_word = p["times_word"].fullmatch(sentence[amount.start:amount.end])
    compares = (previous is not None and previous.kind == "companion_count" and attached
                and continues(sentence, previous.end_char - offset, amount.start, [(t.start_char, t.end_char) for t in temporals]))
    if not (unit or is_word or compares):
        return None
    persons = [e.canonical_name for e in ctx.persons if offset <= e.start_char < offset + verb.start() and e.canonical_name]
    companions = [name for name in persons if name != rules()["leader"]]
    if compares:
        companions = [previous.subject]
    if not companions:
        return None
    following = [t.period for t in temporals if t.start_char >= amount.end]
    period, penalty = (attached[0], 0.0) if attached else ((following[0], 0.05) if following else
                                                          period_or_default([], main, discourse.period, ctx.published))
    end = amount.end + (unit.end() if unit else 0)
    return Fact("companion_count", companions[-1], None, None, None, None, period, amount.value,
                amount.low, amount.high, amount.qualifier, None, sentence, offset + amount.start,
                offset + end, 0.85 - penalty)


FACT_EXTRACTORS.register(FactExtractor(
    name="companion_count", priority=20, version=LEGACY_VERSION, claim=claim, trigger=trigger, review_weight=1,
    pattern_files=(FACT_RULES_FILE,)))
