"""Market prices in won: "rice sold for 6,000 won per kg in Pyongyang".

Claims a won amount before the exchange-rate extractor when a priced good is nearer than a rate word.
"""

from __future__ import annotations

import functools

from pipeline.extractors.market import claim_market, trigger
from pipeline.fact_rules import FACT_RULES_FILE
from pipeline.facts import FACT_EXTRACTORS, LEGACY_VERSION, FactExtractor

FACT_EXTRACTORS.register(FactExtractor(
    name="price", priority=40, version=LEGACY_VERSION, claim=functools.partial(claim_market, "price"),
    trigger=trigger, pattern_files=(FACT_RULES_FILE,)))
