"""Activity tallies: how many public activities a person made, per sector, category or counterpart.

"Kim Jong Un made 51 military events (53 in 2024)", "inspected 12 factories", "met Putin
three times", "was shown in state media 140 times", "his visits to munitions factories rose to
14", "of these, 40 were ceremonies". The reading is the parse's (``pipeline.extractors.counts``);
the lowest priority of the built-in kinds: a number another extractor claims (a price, a
companion count) is not a tally.
"""

from __future__ import annotations

from pipeline.extractors.counts import RULES_FILE, read_tally, to_fact
from pipeline.extractors.grammar import PATTERNS_FILE
from pipeline.fact_rules import FACT_RULES_FILE, rules, words_pattern
from pipeline.facts import FACT_EXTRACTORS, Fact, FactExtractor, SentenceView, Walk
from pipeline.numbers import Amount
from pipeline.rules import load_json

VERSION = "tallies-parse-1"


def claim(sentence: SentenceView, amount: Amount, walk: Walk) -> Fact | None:
    tally = read_tally(sentence, amount, walk)
    if tally is None or tally.companion or tally.subject is None:
        return None
    return to_fact(sentence, amount, walk, tally)


def trigger() -> str:
    r, counts = rules(), load_json(RULES_FILE)
    nouns = [k for k in r["activity_nouns"] if k != "note"]
    verbs = [k for k in r["activity_verbs"] if k != "note"]
    words = [w for w in counts["sector_words"] if w != "note"] + ["times", "occasions", "twice", "thrice", "rose",
                                                                  "fell", "totaled", "totalled", "numbered", "appeared", "figure",
                                                                  "tally", "total", "logged"]
    return "|".join(words_pattern(group) for group in (nouns, verbs, r["leader_context_words"], words))


FACT_EXTRACTORS.register(FactExtractor(
    name="activity_count", priority=10, version=VERSION, claim=claim, trigger=trigger, context_sentences=1,
    review_weight=3,  # what `nkpipe reconcile` compares with the register
    pattern_files=(FACT_RULES_FILE, RULES_FILE, PATTERNS_FILE)))
