"""What price and exchange-rate facts share: won amounts, currencies, cities, survey periods.

A number is a market fact only when won follows it (or a range of won): the nearest
priced good or "per kg" makes it a price, the nearest rate word an exchange rate.
"""

from __future__ import annotations

import re
from datetime import date

from pipeline.dates import Period, TemporalMention
from pipeline.fact_rules import patterns, rules, words_pattern
from pipeline.facts import DocumentFacts, Discourse, Fact, SentenceView, Walk
from pipeline.numbers import Amount


def claim_market(kind: str, sentence: SentenceView, amount: Amount, walk: Walk) -> Fact | None:
    return market_fact(kind, sentence.document, sentence.text, sentence.start, amount, sentence.attached[amount],
                       sentence.temporals, walk.discourse)


def trigger() -> str:
    return "won|kpw"


def market_fact(kind_wanted: str, ctx: DocumentFacts, sentence: str, offset: int, amount: Amount,
                attached: list[Period], temporals: list[TemporalMention], discourse: Discourse) -> Fact | None:
    """A price or a rate in won, when the number is one of the kind wanted."""
    p = patterns()
    after = sentence[amount.end:]
    if not (p["won"].match(after) or p["won_range"].match(after) or _won_follows_range(sentence, amount)):
        return None
    good = _nearest(p["good"], sentence, amount.start)
    per_kg = p["per_kg"].match(after)
    rate = _nearest(p["rate"], sentence, amount.start)
    if per_kg or (good and (rate is None or good[1] < rate[1])):
        kind, unit = "price", "KPW/kg"
        category = rules()["goods"][good[0].lower()] if good else None
    elif rate:
        kind, unit, category = "exchange_rate", _currency(sentence, amount.start), (
            "official" if p["official"].search(_clause_of(sentence, amount)) else "market")
    else:
        return None
    if kind != kind_wanted:
        return None
    period, penalty = _rate_period(sentence, attached, temporals, amount, discourse, ctx.published)
    if period is not None:
        discourse.rate_period = period
    city = _market_city(sentence, amount)
    end = amount.end + (p["won_range"].match(after) or per_kg or p["won"].match(after) or re.match("", after)).end()
    value = amount.value if amount.value is not None else (amount.low or amount.high or 0)
    if not 1 <= value <= 1_000_000:
        penalty += 0.6
    return Fact(kind, None, None, category, None, city, period, amount.value,
                amount.low, amount.high, amount.qualifier, unit, sentence, offset + amount.start,
                offset + end, max(0.05, 0.9 - penalty))


def _clause_of(sentence: str, amount: Amount) -> str:
    """The clause around an amount: between separators like ", while" and ";"."""
    separators = re.compile(r";|,\s*(?:while|whereas|but|and)\b|\bwhile\b|\bwhereas\b")
    starts = [m.end() for m in separators.finditer(sentence, 0, amount.start)]
    end = separators.search(sentence, amount.end)
    return sentence[starts[-1] if starts else 0:end.start() if end else len(sentence)]


def _market_city(sentence: str, amount: Amount) -> str | None:
    """The city of this amount's clause, else the nearest one in the sentence."""
    clause_end = re.search(r"[,;]|\bwhile\b|\bwhereas\b", sentence[amount.end:])
    clause = sentence[amount.end:amount.end + clause_end.start()] if clause_end else sentence[amount.end:]
    following = patterns()["city"].search(clause)
    if following:
        return following.group(0)
    nearest = _nearest(patterns()["city"], sentence, amount.start)
    return nearest[0] if nearest else None


def _won_follows_range(sentence: str, amount: Amount) -> bool:
    return amount.qualifier == "range" and bool(re.match(r"^\s*won\b", sentence[amount.end:], re.I)) or bool(
        amount.qualifier == "range" and re.search(r"won\s*(?:-|–|to)", sentence[amount.start:amount.end], re.I))


def _nearest(pattern: re.Pattern[str], sentence: str, position: int) -> tuple[str, int] | None:
    matches = [(m.group(0), abs(m.start() - position)) for m in pattern.finditer(sentence)]
    return min(matches, key=lambda m: m[1]) if matches else None


def _currency(sentence: str, position: int) -> str:
    best: tuple[int, str] | None = None
    for unit, words in rules()["currency_words"].items():
        for match in re.finditer(rf"\b{words_pattern(words)}\b", sentence, re.IGNORECASE):
            distance = abs(match.start() - position) + (0 if match.start() < position else 5)
            if best is None or distance < best[0]:
                best = (distance, unit)
    return best[1] if best else "KPW/USD"


def _rate_period(sentence: str, attached: list[Period], temporals: list[TemporalMention], amount: Amount,
                 discourse: Discourse, published: date | None) -> tuple[Period | None, float]:
    """Rates and prices take the nearest following period in the sentence, else the preceding one."""
    if attached:
        return attached[0], 0.0
    following = [t for t in temporals if t.start_char >= amount.end]
    preceding = [t for t in temporals if t.end_char <= amount.start]
    if following and not re.search(r"[,;]\s", sentence[amount.end:following[0].start_char]):
        return following[0].period, 0.1
    if preceding:
        return preceding[-1].period, 0.1
    if following:
        return following[0].period, 0.15
    if discourse.rate_period is not None:
        return discourse.rate_period, 0.2
    if published is not None:
        return Period(published, published, published.isoformat(), "day"), 0.3
    return None, 0.4
