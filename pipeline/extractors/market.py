"""What price and exchange-rate facts share: won amounts, currencies, cities, survey periods.

A number is a market fact only when it is an amount in won ("8,050 won", "KPW 7,300", a
mistyped "5,700 KRW" in a North Korean market): the nearest priced good or "per kg" makes it a
price, the nearest rate word an exchange rate. Not facts: changes ("climbed 250 won"), prices in
another unit ("a 50-kg sack", "per bottle") and South Korean prices. A quote "per 100 yuan" is
divided by 100; "the high-7,000 won range" is 7,500-7,999; "nearing 12,000 won" and "the 6,000
won mark" are approximate. The survey date is the one the text gives, else publication day.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

from pipeline.dates import Period, TemporalMention
from pipeline.extractors.grammar import clause_verb, side_clause
from pipeline.fact_rules import patterns, rules, words_pattern
from pipeline.facts import DocumentFacts, Discourse, Fact, SentenceView, Walk
from pipeline.numbers import Amount


def claim_market(kind: str, sentence: SentenceView, amount: Amount, walk: Walk) -> Fact | None:
    attached = sentence.attached[amount]
    amount = _as_won_amount(sentence.text, amount)
    if amount is None or _not_a_market_quote(sentence.text, amount):
        return None
    fact = market_fact(kind, sentence.document, sentence.text, sentence.start, amount, attached,
                       sentence.temporals, walk.discourse)
    if fact is None:
        return None
    if fact.kind == "exchange_rate":
        official = _official_in_clause(sentence, amount)
        if official is not None:
            fact = replace(fact, category="official" if official else "market")
        if fact.category == "official":
            fact = replace(fact, place=None)  # the state's rate is no market's
    return _per_hundred(sentence.text, amount, _week_before(sentence, fact, walk))


def trigger() -> str:
    return "won|kpw|krw"


_CODE_BEFORE = re.compile(r"(?:\bKPW|\bKRW|₩)\s*$")
_KRW_AFTER = re.compile(r"^\s*KRW\b")
_NEAR = re.compile(r"\b(?:nearing|approaching|heading\s+(?:toward|towards|for)|edging\s+(?:toward|towards|closer\s+to)|"
                   r"hovering\s+(?:around|near)|close\s+to)\s+(?:the\s+)?$", re.IGNORECASE)
_MARK = re.compile(r"^\s*-?\s*won\s+(?:mark|level|line|threshold)\b", re.IGNORECASE)
_PAST = re.compile(r"\b(?:crossed|broke(?:\s+through)?|topped|passed|surpassed|exceeded|breached)\s+(?:the\s+)?$",
                   re.IGNORECASE)
_CHANGE = re.compile(r"\b(?:climbed|rose|risen|fell|fallen|dropped|jumped|gained|lost|increased|decreased|surged|"
                     r"plunged|plummeted|slipped|soared|declined|added|shed|went\s+up|went\s+down|up|down)\s+"
                     r"(?:by\s+)?(?:about\s+|around\s+|some\s+|nearly\s+|more\s+than\s+|another\s+)?$", re.IGNORECASE)
_OTHER_UNIT = re.compile(r"^\s*-?\s*(?:won|kpw)?\s*(?:per|a|an|for\s+(?:a|one|each))\s+(?:\d+[- ]?(?:kg|kilogram)s?\s+)?"
                         r"(?:sack|bag|bottle|litre|liter|can|box|piece|head|pair|ton|tonne|carton|packet|pack|unit|"
                         r"month|day|jar|bundle)\b", re.IGNORECASE)
_SACK_BEFORE = re.compile(r"\b\d+[- ]?(?:kg|kilogram)s?\s+(?:sack|bag|box|bundle)\b|\b(?:sack|bag|bottle|box)\s+of\b",
                          re.IGNORECASE)
_SOUTH = re.compile(r"\b(?:South\s+Korea|South\s+Korean|Seoul|ROK)\b")
_HUNDRED_YUAN = re.compile(r"\b(?:per|for|every)?\s*100\s+(?:Chinese\s+)?(?:yuan|RMB|CNY|renminbi)\b", re.IGNORECASE)


def _as_won_amount(sentence: str, amount: Amount) -> Amount | None:
    """The amount with won written after it, as most reports do; None when it is in no currency we read as won."""
    after = sentence[amount.end:]
    before = sentence[:amount.start]
    if _CODE_BEFORE.search(before) or _KRW_AFTER.match(after):  # "KPW 7,300"; a mistyped "5,700 KRW"
        amount = Amount(amount.start, amount.end, amount.value, amount.low, amount.high, amount.qualifier)
    elif not (patterns()["won"].match(after) or patterns()["won_range"].match(after)
              or _won_follows_range(sentence, amount)):
        return None
    if amount.qualifier in ("more_than", "less_than"):  # "crossed the 10,000-won mark", "slipped below 8,000 won"
        return amount
    if _NEAR.search(before) or (_MARK.match(after) and not _PAST.search(before)):
        return Amount(amount.start, amount.end, amount.value or amount.low or amount.high, None, None, "approx")
    if _MARK.match(after) and _PAST.search(before):
        return Amount(amount.start, amount.end, None, amount.value or amount.low, None, "more_than")
    return amount


def _not_a_market_quote(sentence: str, amount: Amount) -> bool:
    """A change, a price in another unit than the kilogram, or a South Korean price."""
    before, after = sentence[:amount.start], sentence[amount.end:]
    clause = _clause_of(sentence, amount)
    change = _CHANGE.search(before) and amount.qualifier not in ("more_than", "less_than")  # "slipped below" is a level
    return bool(change or _OTHER_UNIT.match(after) or _SACK_BEFORE.search(clause) or _SOUTH.search(clause))


def _official_in_clause(view: SentenceView, amount: Amount) -> bool | None:
    """Whether the number's own clause (parsed, side clauses left out) calls the rate official; None without a parse."""
    number = view.span(amount.start, amount.end)
    if number is None or not len(number):
        return None
    verb = clause_verb(number[-1])
    if verb is None:
        return None
    words = " ".join(t.lower_ for t in verb.subtree if not side_clause(t, verb))
    return bool(patterns()["official"].search(words))


def _per_hundred(sentence: str, amount: Amount, fact: Fact) -> Fact:
    """"100 yuan bought 128,000 won": won per one yuan, 1,280."""
    if fact.kind != "exchange_rate" or not _HUNDRED_YUAN.search(_clause_of(sentence, amount)):
        return fact
    divide = (lambda x: None if x is None else round(x / 100, 2))
    return replace(fact, value=divide(fact.value), low=divide(fact.low), high=divide(fact.high), unit="KPW/CNY")


def _week_before(view: SentenceView, fact: Fact, walk: Walk) -> Fact:
    """"8,130 won on March 3, up from 8,050 won a week earlier": a week before the other quote's day."""
    earlier = walk.previous
    mention = next((t for t in view.temporals if t.period is fact.period), None)
    if earlier is None or earlier.period is None or mention is None:
        return fact
    if not re.search(r"\bweeks?\s+(?:earlier|before)\b", mention.text, re.IGNORECASE):
        return fact
    weeks = 2 if mention.text.lower().startswith("two") else 1
    day = earlier.period.start - timedelta(days=7 * weeks)
    return replace(fact, period=Period(day, day, day.isoformat(), "day"))


def market_fact(kind_wanted: str, ctx: DocumentFacts, sentence: str, offset: int, amount: Amount,
                attached: list[Period], temporals: list[TemporalMention], discourse: Discourse) -> Fact | None:
    """A price or a rate in won, when the number is one of the kind wanted."""
    p = patterns()
    after = sentence[amount.end:]
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
