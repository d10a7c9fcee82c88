"""Exchange rates in won: "the dollar traded at around 8,000 won", "the 40,000-won range".
"""

from __future__ import annotations

import functools

from pipeline.extractors.market import claim_market, trigger
from pipeline.fact_rules import FACT_RULES_FILE
from pipeline.facts import FACT_EXTRACTORS, LEGACY_VERSION, FactExtractor

FACT_EXTRACTORS.register(FactExtractor(
    name="exchange_rate", priority=30, version=LEGACY_VERSION, claim=functools.partial(claim_market, "exchange_rate"),
    trigger=trigger, pattern_files=(FACT_RULES_FILE,)))
