"""An example fact kind in one file: how many missiles a launch fired.

"North Korea fired two ballistic missiles" gives missile_count = 2. The number must be a
``nummod`` of "missile(s)" in spaCy's parse, and that noun the object of "fire" or "launch",
so "two missile bases" or "missiles fired over two days" give nothing.
"""

from __future__ import annotations

from pipeline.facts import FACT_EXTRACTORS, Fact, FactExtractor, SentenceView, Walk
from pipeline.numbers import Amount

LAUNCH_VERBS = frozenset({"fire", "launch", "test-fire"})


def claim(sentence: SentenceView, amount: Amount, walk: Walk) -> Fact | None:
    number = sentence.span(amount.start, amount.end)
    if number is None:
        return None
    noun = number.root.head
    if number.root.dep_ != "nummod" or noun.lemma_.lower() != "missile" or noun.head.lemma_.lower() not in LAUNCH_VERBS:
        return None
    end = amount.start + (noun.idx + len(noun) - number.start_char)  # through "missiles"
    return Fact("missile_count", None, "military", "missile launch", None, None, sentence.main, amount.value,
                amount.low, amount.high, amount.qualifier, "missiles", sentence.text,
                sentence.start + amount.start, sentence.start + max(end, amount.end), 0.8)


EXTRACTOR = FactExtractor(name="missile_count", priority=35, version="missiles-1", claim=claim,
                          trigger=lambda: "missiles?", review_weight=2)
FACT_EXTRACTORS.register(EXTRACTOR, replace=True)
