"""Companion counts: how often an official accompanied the leader.

"Jo Yong Won accompanied him on 30 occasions, followed by Kim Jae Ryong (24)", "on 40 of his
130 public activities", "Kim Yo Jong appeared alongside her brother 11 times". The companion is
the subject of the accompanying verb; each bracketed figure after a name is that person's.
"""

from __future__ import annotations

from pipeline.extractors.counts import RULES_FILE, read_tally, to_fact
from pipeline.extractors.grammar import PATTERNS_FILE
from pipeline.fact_rules import FACT_RULES_FILE, rules, words_pattern
from pipeline.facts import FACT_EXTRACTORS, Fact, FactExtractor, SentenceView, Walk
from pipeline.numbers import Amount
from pipeline.rules import load_json

VERSION = "companions-parse-1"


def claim(sentence: SentenceView, amount: Amount, walk: Walk) -> Fact | None:
    tally = read_tally(sentence, amount, walk)
    if tally is None or not tally.companion or tally.subject is None:
        return None
    return to_fact(sentence, amount, walk, tally)


def trigger() -> str:
    return words_pattern(rules()["companion_verbs"] + ["alongside", "at his side", "by his side"]
                         + load_json(RULES_FILE)["companion_cues"])


FACT_EXTRACTORS.register(FactExtractor(
    name="companion_count", priority=20, version=VERSION, claim=claim, trigger=trigger, review_weight=1,
    pattern_files=(FACT_RULES_FILE, RULES_FILE, PATTERNS_FILE)))
