"""What price and exchange-rate facts share: won amounts, currencies, cities, survey periods.

A number is a market fact only when it is an amount in won ("8,050 won", "KPW 7,300", a
mistyped "5,700 KRW" in a North Korean market): the nearest priced good or "per kg" makes it a
price, the nearest rate word an exchange rate. Not facts: changes ("climbed 250 won"), prices in
another unit ("a 50-kg sack", "per bottle") and South Korean prices. A quote "per 100 yuan" is
divided by 100; "the high-7,000 won range" is 7,500-7,999; "nearing 12,000 won" and "the 6,000
won mark" are approximate. The survey date is the one the text gives, else publication day.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from datetime import date, timedelta

from pipeline.dates import Period, TemporalMention
from pipeline.extractors.grammar import clause_verb, side_clause
from pipeline.fact_rules import market_cities, patterns, rules, words_pattern
from pipeline.facts import DocumentFacts, Discourse, Fact, SentenceView, Walk
from pipeline.numbers import Amount


def claim_market(kind: str, sentence: SentenceView, amount: Amount, walk: Walk) -> Fact | None:
    attached = sentence.attached[amount]
    header = sentence.document.text[max(0, sentence.start - 300):sentence.start]
    amount = _as_won_amount(sentence.text, amount, header)
    if amount is None or _not_a_market_quote(sentence.text, amount):
        return None
    fact = market_fact(kind, sentence.document, sentence.text, sentence.start, amount, attached,
                       sentence.temporals, walk.discourse, sentence.periods_of_other_numbers(amount))
    if fact is None:
        return None
    if fact.kind == "exchange_rate":
        official = _named_rate(sentence.text, amount)
        if official is None:
            official = True if _OFFICIAL_BEFORE.search(sentence.text[:amount.start]) else _official_in_clause(sentence, amount)
        if official is not None:
            fact = replace(fact, category="official" if official else "market")
        if fact.category == "official":
            fact = replace(fact, place=None)  # the state's rate is no market's
    return _per_hundred(sentence.text, amount, _week_before(sentence, fact, walk))


def trigger() -> str:
    # "Pyongyang: USD 8,180 / CNY 1,185 / rice 4,300" in a table headed "(won)"; "6,200won" glued to its number
    return r"won|kpw|krw|usd|cny|\d+won"


_CODE_BEFORE = re.compile(r"(?:\bKPW|\bKRW|₩)\s*$")
_KRW_AFTER = re.compile(r"^\s*KRW\b")
_NEAR = re.compile(rf"\b{words_pattern(rules()['approach_words'])}\s+(?:the\s+)?$", re.IGNORECASE)
_MARK = re.compile(rf"^\s*-?\s*won\s+{words_pattern(rules()['mark_words'])}\b", re.IGNORECASE)
_PAST = re.compile(rf"\b{words_pattern(rules()['passed_words'])}\s+(?:the\s+)?$", re.IGNORECASE)
_CHANGE = re.compile(rf"\b{words_pattern(rules()['change_verbs'])}\s+(?:by\s+)?(?:{words_pattern(rules()['change_hedges'])}\s+)?$",
                     re.IGNORECASE)
_OTHER_UNIT = re.compile(r"^\s*-?\s*(?:won|kpw)?\s*(?:(?:per|a|an|for\s+(?:a|one|each))\s+(?:(?!1\s*-?\s*(?:kg|kilo(?:gram)?s?)\b)"
                         r"\d[\d.,]*[- ]?(?:kg|kilograms?|kilos?|g|grams?|l|liters?|litres?)\b|(?:\d+[- ]?(?:kg|kilogram)s?\s+)?"
                         rf"{words_pattern(rules()['other_units'])})|apiece|each)\b", re.IGNORECASE)
_SACK_BEFORE = re.compile(rf"\b\d+[- ]?(?:kg|kilogram|liter|litre)s?\s+{words_pattern(rules()['containers_after_weight'])}\b|"
                          rf"\b{words_pattern(rules()['containers_of'])}\s+of\b", re.IGNORECASE)
_PIECE_BEFORE = re.compile(r"\((?:each|apiece)\)\s*$", re.IGNORECASE)  # "egg (each) 1,050" in a table
# a price in the South: its place or its currency, not "a South Korean aid group said" or "a Seoul-based website"
_SOUTH = re.compile(r"\b(?:in|at|across)\s+(?:South\s+Korea|Seoul|the\s+South)\b(?!-based|\s+(?:Pyongan|Hamgyong|Hwanghae))|\bSouth\s+Korean\s+won\b|"
                    r"\bSeoul\s+(?:supermarkets?|markets?|stores?|shops?)\b|\bStatistics\s+Korea\b|\bin\s+the\s+ROK\b")
_HUNDRED_YUAN = re.compile(r"\b(?:per|for|every)?\s*(?:100|(?:a|one)\s+hundred)\s+(?:Chinese\s+)?(?:yuan|RMB|CNY|renminbi)\b",
                           re.IGNORECASE)
# "8,210 against the greenback", "9,300 to the dollar": the won is the subject, the number bare
# (a "won" before it is read by the won pattern first; kept here so that _currency_after names the currency)
_CURRENCY_AFTER = re.compile(r"^\s*(?:-?\s*won\s+)?(?:against|to|per|for)\s+(?:the|one|a|each)?\s*"
                             r"(?:U\.?S\.?|US|American|Chinese)?\s*(?P<currency>dollars?|greenbacks?|yuan|renminbi)\b",
                             re.IGNORECASE)
# "the yuan was at 1,140, 1,150, 1,165 and 1,150 won": every number of a list that ends in won
_LIST_TO_WON = re.compile(r"^(?:\s*,\s*(?:\d{1,3}(?:,\d{3})++(?!\d)|\d++))*+\s*,?\s*(?:and|or)\s+\d[\d,]*\s+won\b",
                          re.IGNORECASE)
_CHANGE_AFTER = re.compile(rf"^\s*-?\s*won\s+{words_pattern(rules()['change_after_won'])}\b", re.IGNORECASE)
_OFFICIAL_BEFORE = re.compile(r"\bofficial\b[^,;\d]{0,60}$", re.IGNORECASE)


# a bare number that continues a quote in won: "8,080 won in Pyongyang, 8,120 in Sinuiju", "corn is 2,200",
# "down from 8,100 in January", "against an average of 24,900", "CNY 1,185 / rice 4,300" in a flattened table
_CONTINUED_BY_PLACE = re.compile(r"^\s*(?:\(\s*)?(?:in|at)?\s*(?:[A-Z][a-z]+|[A-Z]{4,})\b")
_CONTINUED_BY_CUE = re.compile(r"(?:\bfrom|\bthan|\bagainst|\bversus|\bvs\.?|\bcompared\s+(?:with|to))\s+"
                               r"(?:(?:an?\s+)?average\s+of\s+|about\s+|around\s+|roughly\s+)?$", re.IGNORECASE)
_TABLE_CELL = re.compile(r"(?:^|[/|:]\s*|\b)(?:USD|CNY|RMB|US\$|\$)\s*:?\s*$|"
                         r"(?:^|[/|:])\s*[a-z][a-z ]{1,20}(?:/kg)?\s*:?\s*$", re.IGNORECASE)
_CELL_END = re.compile(r"^\s*(?:\([A-Z][\w\s-]{1,30}\)\s*)?(?:[/|.;,]|$)")  # "8,150 (Pyongyang), 8,190 (Sinuiju)"
_RATE_BEFORE = re.compile(rf"\b(?:official|state-set|market)\s+(?:exchange\s+)?rate\s+(?:of|(?:{words_pattern(rules()['rate_copulas'])}"
                          rf"\s+)?(?:at|near|around)|was|is)\s+(?:{words_pattern(rules()['rate_hedges'])}\s+)?$", re.IGNORECASE)


def _as_won_amount(sentence: str, amount: Amount, header: str = "") -> Amount | None:
    """The amount with won written after it, as most reports do; None when it is in no currency we read as won."""
    after = sentence[amount.end:]
    before = sentence[:amount.start]
    if _CODE_BEFORE.search(before) or _KRW_AFTER.match(after):  # "KPW 7,300"; a mistyped "5,700 KRW"
        amount = Amount(amount.start, amount.end, amount.value, amount.low, amount.high, amount.qualifier)
    elif not (patterns()["won"].match(after) or patterns()["won_range"].match(after)
              or _won_follows_range(sentence, amount) or _CURRENCY_AFTER.match(after) or _LIST_TO_WON.match(after)
              or _continues_a_won_quote(sentence, amount, header)):
        return None
    if amount.qualifier in ("more_than", "less_than"):  # "crossed the 10,000-won mark", "slipped below 8,000 won"
        return amount
    if _NEAR.search(before) or (_MARK.match(after) and not _PAST.search(before)):
        return Amount(amount.start, amount.end, amount.value or amount.low or amount.high, None, None, "approx")
    if _MARK.match(after) and _PAST.search(before):
        return Amount(amount.start, amount.end, None, amount.value or amount.low, None, "more_than")
    return amount


def _continues_a_won_quote(sentence: str, amount: Amount, header: str = "") -> bool:
    """A bare number after a quote in won in the same sentence, set beside it by a city, a comparison, or a good
    or currency named right before it; or a cell of a flattened price table whose header says won."""
    if not _mentions_won(sentence, header):
        return False  # no quote in won anywhere near: nothing to continue
    before, after = sentence[:amount.start], sentence[amount.end:]
    near = before[-80:]  # the patterns below end where the number starts: search only what is near it
    if amount.value is not None and 1900 <= amount.value <= 2100 and "," not in sentence[amount.start:amount.end]:
        return False  # a year
    if _RATE_BEFORE.search(near):  # "the official rate sat near 130"
        return True
    if _TABLE_CELL.search(near) and _CELL_END.match(after) and _WON_WORD.search(header + sentence):
        return True
    if re.match(r"\s*\(\s*[A-Z][\w-]+", after) and re.search(r"\d", before) and _WON_WORD.search(
            header + before) and market_cities(after[:40]):
        return True  # "won/dollar: 8,150 (Pyongyang), 8,190 (Sinuiju)"
    if not _WON_QUOTE.search(before):
        return False
    last_clause = re.split(r"[.;:!?]\s", near)[-1]
    cued = _CONTINUED_BY_CUE.search(last_clause) or _named_just_before().search(last_clause)
    listed = re.search(r"(?:,|\band)\s*$", last_clause) and _CONTINUED_BY_PLACE.match(after) and market_cities(
        after[:40])
    return bool(cued or listed)


_WON_WORD = re.compile(r"\bwon\b|\bKPW\b", re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _mentions_won(sentence: str, header: str) -> bool:
    return bool(_WON_WORD.search(sentence) or _WON_WORD.search(header) or re.search(r"\dwon\b", sentence, re.I))
_WON_QUOTE = re.compile(r"\d\s*(?:-?\s*won\b|KPW\b)|\bKPW\s*\d", re.IGNORECASE)


@functools.cache
def _named_just_before() -> re.Pattern[str]:
    """A good or currency right before a bare number: "and corn is 2,200"."""
    return re.compile(rf"\b(?:{words_pattern(list(rules()['goods']))}|yuan|dollar)\s+(?:is|was|at|for|:)?\s*$", re.I)


@functools.cache
def _currency_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((unit, re.compile(rf"\b{words_pattern(words)}\b", re.IGNORECASE))
                 for unit, words in rules()["currency_words"].items())


def _not_a_market_quote(sentence: str, amount: Amount) -> bool:
    """A change, a price in another unit than the kilogram, or a South Korean price."""
    before, after = sentence[:amount.start], sentence[amount.end:]
    clause = _clause_of(sentence, amount)
    change = _CHANGE.search(before) and amount.qualifier not in ("more_than", "less_than")  # "slipped below" is a level
    earnings = _not_a_price_words().search(before[-40:])  # "a monthly wage of 3,000 won", "fined 50,000 won"
    return bool(change or _CHANGE_AFTER.match(after) or _OTHER_UNIT.match(after) or _SACK_BEFORE.search(clause)
                or _PIECE_BEFORE.search(before) or earnings or _SOUTH.search(clause))


@functools.cache
def _not_a_price_words() -> re.Pattern[str]:
    """Money that is no market price: "a monthly wage of 3,000 won", "a fine of 50,000 won"."""
    return re.compile(rf"\b{words_pattern(rules()['not_price_money'])}\b(?:\s+(?:of|at|was|is|were|are|stood\s+at|"
                      rf"amounts?\s+to|came\s+to|reached))?\s+(?:about\s+|around\s+|some\s+|only\s+|just\s+)?$",
                      re.IGNORECASE)


def _named_rate(sentence: str, amount: Amount) -> bool | None:
    """Whether the rate named last before the number, since the number before it, is the official one
    ("the market rate at 8,000 per dollar, 80 times the official rate of about 100 won"); None when none is named."""
    since = _after_last_number(sentence, amount.start)
    stretch = sentence[since:amount.start]
    named = [(m.start(), True) for m in patterns()["official"].finditer(stretch)]
    named += [(m.start(), False) for m in patterns()["market_rate"].finditer(stretch)]
    if named:
        return max(named)[1]
    after = re.split(r"\d|[,;]", sentence[amount.end:], maxsplit=1)[0]  # "3,800 per dollar on the black market"
    following = [(m.start(), False) for m in patterns()["market_rate"].finditer(after)]
    following += [(m.start(), True) for m in patterns()["official"].finditer(after)]
    return min(following)[1] if following else None


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
                attached: list[Period], temporals: list[TemporalMention], discourse: Discourse,
                claimed: frozenset[int] = frozenset()) -> Fact | None:
    """A price or a rate in won, when the number is one of the kind wanted."""
    p = patterns()
    after = sentence[amount.end:]
    good = _good_of(sentence, amount)
    per_kg = p["per_kg"].match(after)
    rate = _nearest(p["rate"], sentence, amount.start)
    own_good, own_rate = _last_before(p["good"], sentence, amount), _last_before(p["rate"], sentence, amount)
    if own_rate is not None and (own_good is None or own_rate > own_good) and not per_kg:
        good = None  # "the dollar fetched 9,400 won in Kanggye, 9,450 in Manpo; rice ...": the clause's own word
    if _currency_after(after) and not per_kg:
        good = None  # "the won was trading at 8,210 against the greenback, while diesel ...": a rate
        rate = rate or ("dollar", 0)
    if per_kg or (good and (rate is None or good[1] < rate[1] or own_good is not None)):
        if not per_kg and good[0].lower() in rules()["goods_by_the_piece"]:
            return None  # eggs are priced by the piece unless the text says per kg
        kind, unit = "price", "KPW/kg"
        category = rules()["goods"][good[0].lower()] if good else None
    elif rate:
        unit = _currency_after(after) or _respective_currency(sentence, amount) or _currency(sentence, amount.start)
        kind, category = "exchange_rate", (
            "official" if p["official"].search(_clause_of(sentence, amount)) else "market")
    else:
        return None
    if kind != kind_wanted:
        return None
    period, penalty = _rate_period(sentence, attached, temporals, amount, discourse, ctx.published, claimed)
    if period is not None and not is_comparison(sentence, amount):
        discourse.rate_period = period
    city = _market_city(sentence, amount, discourse)
    end = amount.end + (p["won_range"].match(after) or per_kg or p["won"].match(after) or re.match("", after)).end()
    value = amount.value if amount.value is not None else (amount.low or amount.high or 0)
    if not 1 <= value <= 1_000_000:
        penalty += 0.6
    qualifier = "average" if amount.value is not None and _AVERAGE.search(_averaged_stretch(sentence, amount)) \
        else amount.qualifier
    return Fact(kind, None, None, category, None, city, period, amount.value,
                amount.low, amount.high, qualifier, unit, sentence, offset + amount.start,
                offset + end, max(0.05, 0.9 - penalty))


_SEPARATORS = re.compile(r";|,\s*(?:while|whereas|but|and)\b|\bwhile\b|\bwhereas\b")
_AVERAGE = re.compile(r"\baverag(?:e|ed|ing)\b|\bon\s+average\b", re.IGNORECASE)


def _averaged_stretch(sentence: str, amount: Amount) -> str:
    """The words an "averaged" must be in to make the number an average: its clause before it, or only the
    stretch since the number before it when that names a rate of its own ("..., 90 times the official rate of 100")."""
    since = _after_last_number(sentence, amount.start)
    if _named_rate(sentence, amount) is not None:
        return sentence[since:amount.start]
    return sentence[_clause_start(sentence, amount):amount.start]


def _after_last_number(sentence: str, position: int) -> int:
    """Where the stretch of words since the last digit before ``position`` starts (looking back 200 characters
    at most: this runs for every number of a long table sentence)."""
    start = max(0, position - 200)
    for index in range(position - 1, start - 1, -1):
        if sentence[index].isdigit():
            return index + 1
    return start


def _last_before(pattern: re.Pattern[str], sentence: str, amount: Amount) -> int | None:
    """Where the last word of ``pattern`` in the number's own clause, before it, starts."""
    found = list(pattern.finditer(sentence, _clause_start(sentence, amount), amount.start))
    return found[-1].start() if found else None


def _clause_start(sentence: str, amount: Amount) -> int:
    starts = [m.end() for m in _SEPARATORS.finditer(sentence, 0, amount.start)]
    return starts[-1] if starts else 0


def _clause_of(sentence: str, amount: Amount) -> str:
    """The clause around an amount: between separators like ", while" and ";"."""
    end = _SEPARATORS.search(sentence, amount.end)
    return sentence[_clause_start(sentence, amount):end.start() if end else len(sentence)]


def _good_of(sentence: str, amount: Amount) -> tuple[str, int] | None:
    """The good an amount prices: named before it in its own clause ("rice cost 4,950 won"), else right after
    it ("5,000 won for a kilogram of rice"), else the nearest one."""
    pattern = patterns()["good"]
    start = _clause_start(sentence, amount)
    before = [m for m in pattern.finditer(sentence, start, amount.start)]
    if before:
        return before[-1].group(0), amount.start - before[-1].start()
    right_after = pattern.search(sentence, amount.end, amount.end + 40)
    if right_after and not re.search(r"[,;]|\d", sentence[amount.end:right_after.start()]):
        return right_after.group(0), right_after.start() - amount.start
    return _nearest(pattern, sentence, amount.start)


_EVERY_MARKET = re.compile(r"\b(?:all|both|the)\s+(?:two|three|four|five)\s+(?:markets|cities)\b", re.IGNORECASE)


def _market_city(sentence: str, amount: Amount, discourse: Discourse) -> str | None:
    """The market city (or cities, joined by "|") of a quote: by "respectively", a "both A and B" list, the city
    of the amount's own clause, the nearest one in the sentence, else the last one the text named."""
    cities = market_cities(sentence)
    if not cities:
        if patterns()["national_market"].search(sentence):
            return None  # "nationwide", "across the 12 markets we track"
        if _EVERY_MARKET.search(sentence):
            return "|".join(discourse.market_places) or None
        return discourse.market_places[-1] if discourse.market_places else None
    respective = _respective_city(sentence, amount, cities)
    if respective is not None:
        return respective
    clause_end = re.search(r"[,;]|\bwhile\b|\bwhereas\b", sentence[amount.end:])
    stop = amount.end + clause_end.start() if clause_end else len(sentence)
    following = [c for c in cities if amount.end <= c[1] < stop]
    if following:
        listed = _listed_after(sentence, following)
        return "|".join(listed) if listed else following[0][0]
    if _EVERY_MARKET.search(sentence, amount.end, stop):
        return "|".join(dict.fromkeys(c[0] for c in cities))
    nearest = min(cities, key=lambda c: abs(c[1] - amount.start))
    return nearest[0]


def _listed_after(sentence: str, following: list[tuple[str, int, int]]) -> list[str]:
    """"in both Pyongyang and Sinuiju", "in border towns such as Hyesan and Sinuiju": every city of the list."""
    first = following[0]
    if not re.search(r"\b(?:both|such\s+as|including|in\s+all\s+of|markets\s+(?:of|in))\s+(?:the\s+)?$",
                     sentence[max(0, first[1] - 20):first[1]], re.I):
        return []
    listed = [first]
    for city in following[1:]:
        if re.fullmatch(r"\s*(?:,|and|,\s*and)\s*", sentence[listed[-1][2]:city[1]]):
            listed.append(city)
    return [c[0] for c in listed] if len(listed) > 1 else []


_NUMBER = r"(?:\d{1,3}(?:,\d{3})++(?!\d)|\d++)"  # possessive: a run of commas and digits cannot backtrack
_LIST = re.compile(rf"{_NUMBER}(?:\s+won)?(?:\s*,\s*{_NUMBER}(?:\s+won)?)*+\s*,?\s*(?:and|or)\s+{_NUMBER}(?:\s+won)?"
                   r"(?:\s+(?:per|a)\s+(?:kilogram|kilo|kg))?"
                   r"(?:\s+(?:in|at)\s+[A-Z][\w-]*(?:(?:\s*,\s*|\s+and\s+|\s*,\s*and\s+)[A-Z][\w-]*)*)?"
                   r"\s*,?\s*respectively\b")


@functools.lru_cache(maxsize=32)
def _respectively_lists(sentence: str) -> tuple[re.Match[str], ...]:
    """The "..., respectively" lists of a sentence, found once for all its numbers."""
    if "respectively" not in sentence:
        return ()
    return tuple(_LIST.finditer(sentence))


def _respective_city(sentence: str, amount: Amount, cities: list[tuple[str, int, int]]) -> str | None:
    """"4,950 won, 5,000 won and 5,200 won, respectively" in a sentence naming three cities: one each, in order."""
    listing = next((m for m in _respectively_lists(sentence) if m.start() <= amount.start < m.end()), None)
    if listing is None:
        return None
    numbers = list(re.finditer(r"\d[\d,]*", listing.group(0)))
    run = _city_run(sentence, cities, len(numbers))
    if run is None:
        return None
    index = next((i for i, m in enumerate(numbers) if listing.start() + m.start() <= amount.start
                  < listing.start() + m.end()), None)
    return run[index] if index is not None else None


def _city_run(sentence: str, cities: list[tuple[str, int, int]], count: int) -> list[str] | None:
    """The first list of ``count`` cities written one after the other ("in Wonsan and Hamhung")."""
    for first in range(len(cities) - count + 1):
        run = cities[first:first + count]
        if all(re.fullmatch(r"\s*(?:,|and|,\s*and)\s*", sentence[a[2]:b[1]]) for a, b in zip(run, run[1:])):
            return [c[0] for c in run]
    return None


def _won_follows_range(sentence: str, amount: Amount) -> bool:
    return amount.qualifier == "range" and bool(re.match(r"^\s*won\b", sentence[amount.end:], re.I)) or bool(
        amount.qualifier == "range" and re.search(r"won\s*(?:-|–|to)", sentence[amount.start:amount.end], re.I))


def _nearest(pattern: re.Pattern[str], sentence: str, position: int) -> tuple[str, int] | None:
    matches = [(m.group(0), abs(m.start() - position)) for m in pattern.finditer(sentence)]
    return min(matches, key=lambda m: m[1]) if matches else None


def _respective_currency(sentence: str, amount: Amount) -> str | None:
    """"the yuan and the dollar went for 1,170 and 8,550 won respectively": one currency each, in order."""
    listing = next((m for m in _respectively_lists(sentence) if m.start() <= amount.start < m.end()), None)
    if listing is None:
        return None
    numbers = list(re.finditer(r"\d[\d,]*", listing.group(0)))
    named = sorted((m.start(), m.end(), unit) for unit, pattern in _currency_patterns()
                   for m in pattern.finditer(sentence[:listing.start()]))[-len(numbers):]
    joined = all(re.fullmatch(r"\s*(?:,|and|,\s*and)\s*(?:the\s+)?(?:U\.?S\.?\s+|Chinese\s+)?", sentence[a[1]:b[0]])
                 for a, b in zip(named, named[1:]))  # "the yuan and the dollar", not two clauses' currencies
    reached = [i for i, m in enumerate(numbers) if listing.start() + m.start() <= amount.start]
    if len(named) != len(numbers) or len({n[2] for n in named}) < 2 or not joined or not reached:
        return None
    return named[reached[-1]][2]


def _currency_after(after: str) -> str | None:
    """"8,000 won to the dollar", "1,250 per yuan": the currency the quote itself names."""
    found = _CURRENCY_AFTER.match(after)
    if found is None:
        return None
    return "KPW/CNY" if found.group("currency").lower() in ("yuan", "renminbi") else "KPW/USD"


def _currency(sentence: str, position: int) -> str:
    """The currency named in the number's own stretch (since the number before it), else the nearest one."""
    since = _after_last_number(sentence, position)
    own = [(m.start(), unit) for unit, pattern in _currency_patterns()
           for m in pattern.finditer(sentence[since:position])]
    if own:
        return max(own)[1]
    before = [(m.start(), unit) for unit, pattern in _currency_patterns() for m in pattern.finditer(sentence, 0, position)]
    if before:  # "while the yuan was at 1,140": not the dollar named after the number for the next clause
        return max(before)[1]
    after = [(m.start(), unit) for unit, pattern in _currency_patterns() for m in pattern.finditer(sentence, position)]
    return min(after)[1] if after else "KPW/USD"


def _rate_period(sentence: str, attached: list[Period], temporals: list[TemporalMention], amount: Amount,
                 discourse: Discourse, published: date | None,
                 claimed: frozenset[int] = frozenset()) -> tuple[Period | None, float]:
    """Rates and prices take the survey date bound to the number, else the nearest following one in its clause,
    else a preceding one of the sentence, else the one the text gave before; dates of a comparison ("than a
    year earlier", "up from 23 won in early December") and dates bound to another number are not this one's."""
    if attached:
        return attached[0], 0.0
    free = [t for t in temporals if not _COMPARED.search(sentence[:t.start_char])]
    following = [t for t in free if t.start_char >= amount.end]  # may be shared: "30,000 won and 40,000 by May"
    preceding = [t for t in free if t.end_char <= amount.start and id(t.period) not in claimed]
    if following and not re.search(r"[,;]\s", sentence[amount.end:following[0].start_char]):
        return following[0].period, 0.1
    if _SAME_TIME.search(sentence[amount.end:]) and discourse.rate_period is not None:
        return discourse.rate_period, 0.1  # "fetched 500 won that day"
    if _NOW.search(_clause_of(sentence, amount)) and published is not None:
        return Period(published, published, published.isoformat(), "day"), 0.1
    if preceding:
        return preceding[-1].period, 0.1
    if discourse.rate_period is not None:
        return discourse.rate_period, 0.2
    if following:
        return following[0].period, 0.15
    if published is not None:
        return Period(published, published, published.isoformat(), "day"), 0.3
    return None, 0.4


_COMPARED = re.compile(r"(?:\bthan|\bfrom|\bcompared\s+(?:with|to)|\bagainst)\s+(?:[\w,.-]+\s+){0,4}$", re.IGNORECASE)
_SAME_TIME = re.compile(r"^[^.;]{0,40}?\b(?:that\s+day|the\s+same\s+(?:day|time|date)|at\s+the\s+time)\b", re.IGNORECASE)
_NOW = re.compile(r"\b(?:now|today|currently|these\s+days)\b", re.IGNORECASE)


def is_comparison(sentence: str, amount: Amount) -> bool:
    """"up from 23 won", "compared with 8,000 won": an earlier figure set beside the quote."""
    return bool(_COMPARED.search(sentence[:amount.start]))
