"""Reported numbers as facts: activity tallies, companion counts, exchange rates, prices.

Rules (nouns, sector words, qualifiers, currencies, goods, cities) are data in
``resources/facts_rules.json``. The extractor works sentence by sentence on the
clean text, the entity spans spaCy found and the temporal expressions that
``pipeline.dates`` resolves against the publication date. Every fact keeps its
sentence and the character span of its number expression.

A number is a fact only when it counts a person's public activities, or is an
amount in won next to a rate or a priced good; ordinals, years, plan names and
quantities of other things are not. When the period or subject has to be
carried over from earlier sentences, the fact is kept with a lower confidence.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from typing import Any

from pipeline.dates import Period, TemporalMention, find_temporal, year_period
from pipeline.records import AnalyzedDocument, Entity

FACTS_VERSION = "facts-1"


@functools.cache
def rules() -> dict[str, Any]:
    return json.loads(resources.files("pipeline").joinpath("resources/facts_rules.json").read_text("utf-8"))


def word_alternation(words: Iterable[str]) -> str:
    """Rule words as one regex alternation: escaped, longest first, any whitespace between words."""
    return "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in words), key=len, reverse=True))


def _words_pattern(words: Sequence[str]) -> str:
    return f"(?:{word_alternation(words)})"


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    r = rules()
    nouns = [k for k in r["activity_nouns"] if k != "note"]
    sectors = list(r["sector_words"])
    spelled = [k for k, v in r["number_words"].items() if v is not None]
    digit = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?"
    tens = r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)[- ](?:one|two|three|four|five|six|seven|eight|nine)"
    base = rf"(?:{digit}|\b{tens}\b|\b{_words_pattern(spelled)}\b)"
    number = rf"{base}(?:\s+(?:hundred|thousand)\b)?"
    flags = re.IGNORECASE
    return {
        "number": re.compile(rf"(?<![\w.,×/-]){number}(?![\w%×/]|\.\d|,\d)", flags),
        "range": re.compile(
            rf"(?<![\w.,×/-])(?:between\s+)?({number})\s*(?:-?\s*won\s*)?(?:-|–|—|to|and)\s*({number})(?![\w%×]|\.\d|,\d)", flags),
        "noun": re.compile(
            r"^\s*(?:of\s+(?:his|her|their|the\s+leader['’]s|[A-Z][\w-]*(?:\s+[A-Z][\w-]*){0,2}['’]s)\s+)?"
            rf"(?:(?:public|publicly|reported|separate|official|major|such|{_words_pattern(sectors)})[\s-]+){{0,3}}"
            rf"({_words_pattern(nouns)})\b", flags),
        "sector_in_phrase": re.compile(rf"\b({_words_pattern(sectors)})\b", flags),
        "won": re.compile(r"^\s*-?\s*(?:north\s+korean\s+)?(?:won|kpw)\b", flags),
        "times_word": re.compile(rf"\b{_words_pattern(list(r['times_words']))}\b", flags),
        "times_unit": re.compile(rf"^\s*{_words_pattern(r['times_units'])}\b", flags),
        "verb": re.compile(rf"\b({_words_pattern([k for k in r['activity_verbs'] if k != 'note'])})\b", flags),
        "plural_noun": re.compile(r"^\s*((?:[\w-]+\s+){0,3}?[a-z-]+s)\b"),
        "leader_ref": re.compile(r"\b(?:him|his|the leader|her brother|the leader's)\b", flags),
        "surname": re.compile(r"\b(Kim|Pak|Ri|Choe|Jo|Kang|Han)\b(?!\s+[A-Z])"),
        "country": re.compile(rf"(?<![\w.]){_words_pattern([w for k, v in r['counterparts'].items() if k != 'note' for w in v])}(?![\w])"),
        "won_range": re.compile(r"^\s*-?\s*won\s+range\b", flags),
        "counterpart": re.compile(
            r"^\s*(?:related\s+to|linked\s+to|with|to|involving|involved|concerning|concerned)\s+(?:the\s+)?"
            r"([A-Z][\w.'’-]*(?:\s+(?:and\s+)?[A-Z][\w.'’-]*)*)"),
        "other_counterpart": re.compile(
            rf"^\s*(?:categorized|categorised|classified|counted|listed)\s+as\s+{_words_pattern(r['other_counterpart_words'])}\b", flags),
        "times": re.compile(rf"^\s*{_words_pattern(r['companion_units'])}\b", flags),
        "companion_verb": re.compile(rf"\b{_words_pattern(r['companion_verbs'])}\b", flags),
        "possessive": re.compile(r"\b([A-Z][a-z]+)['’]s\b"),
        "any_number": re.compile(rf"\d|\b{_words_pattern(spelled + list(r['times_words']))}\b", flags),
        "trigger": re.compile(
            rf"\b(?:won|kpw|{_words_pattern(nouns)}|{_words_pattern([k for k in r['activity_verbs'] if k != 'note'])}|"
            rf"{_words_pattern(r['companion_verbs'])}|{_words_pattern(r['leader_context_words'])})\b", flags),
        "activity_context": re.compile(rf"\b{_words_pattern(r['leader_context_words'])}\b", flags),
        "rate": re.compile(rf"\b{_words_pattern(r['rate_words'])}\b", flags),
        "official": re.compile(rf"\b{_words_pattern(r['official_rate_words'])}\b", flags),
        "per_kg": re.compile(rf"^\s*(?:-?\s*won\s*)?{_words_pattern(r['per_kg'])}", flags),
        "good": re.compile(rf"\b{_words_pattern(list(r['goods']))}\b", flags),
        "city": re.compile(rf"\b{_words_pattern(r['market_cities'])}\b"),
    }


@dataclass(frozen=True)
class Amount:
    start: int
    end: int
    value: float | None
    low: float | None
    high: float | None
    qualifier: str


@dataclass(frozen=True)
class Fact:
    kind: str
    subject: str | None
    sector: str | None
    category: str | None
    counterpart: str | None
    place: str | None
    period: Period | None
    value: float | None
    low: float | None
    high: float | None
    qualifier: str
    unit: str | None
    sentence: str
    start_char: int
    end_char: int
    confidence: float

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "subject": self.subject, "sector": self.sector,
            "category": self.category, "counterpart": self.counterpart, "place": self.place,
            "period_start": self.period.start if self.period else None,
            "period_end": self.period.end if self.period else None,
            "period_label": self.period.label if self.period else None,
            "value": self.value, "low": self.low, "high": self.high, "qualifier": self.qualifier,
            "unit": self.unit, "sentence": self.sentence, "start_char": self.start_char,
            "end_char": self.end_char, "extractor_version": FACTS_VERSION,
            "confidence": round(self.confidence, 3),
        }


def parse_number(token: str) -> float | None:
    token = " ".join(token.strip().lower().split())
    for word, factor in rules()["multipliers"].items():
        if token.endswith(" " + word):
            base = parse_number(token[: -len(word) - 1])
            return None if base is None else base * factor
    words = rules()["number_words"]
    if token in words:
        return words[token]
    parts = re.split(r"[- ]", token)
    if len(parts) == 2 and parts[0] in words and parts[1] in words:
        return words[parts[0]] + words[parts[1]]
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def _qualifier_before(text: str, start: int) -> tuple[str, int]:
    """The qualifier word right before a number, and where it starts."""
    before = text[max(0, start - 30):start].lower()
    if _patterns()["verb"].search(before + "\0") and re.search(r"(?:presided|took|went|handed|looked)\s+over\s+$", before):
        return "exact", start  # "presided over seven meetings" counts exactly
    for qualifier, words in rules()["qualifiers"].items():
        for word in sorted(words, key=len, reverse=True):
            match = re.search(rf"(?:^|\W){re.escape(word)}\s+(?:the\s+)?$", before)
            if match:
                return qualifier, start - (len(before) - match.start()) + (1 if match.group(0)[0] != word[0] else 0)
    return "exact", start


def find_amounts(sentence: str, skip: Sequence[tuple[int, int]]) -> list[Amount]:
    """Numbers and ranges in a sentence, outside the spans in ``skip`` (dates)."""
    p = _patterns()
    taken: list[tuple[int, int]] = list(skip)
    found: list[Amount] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    for match in p["range"].finditer(sentence):
        low, high = parse_number(match.group(1)), parse_number(match.group(2))
        joiner = sentence[match.end(1):match.start(2)].lower()
        is_between = match.group(0).lower().startswith("between")
        if low is None or high is None or low >= high or not free(match.start(), match.end()):
            continue
        if "and" in joiner and not is_between or "to" in joiner and _is_from_to(sentence, match.start()):
            continue
        found.append(Amount(match.start(), match.end(), None, low, high, "range"))
        taken.append((match.start(), match.end()))
    for match in p["number"].finditer(sentence):
        if not free(match.start(), match.end()):
            continue
        value = parse_number(match.group(0))
        if value is None:
            continue
        qualifier, q_start = _qualifier_before(sentence, match.start())
        found.append(_single(sentence, q_start, match.end(), value, qualifier))
    for match in p["times_word"].finditer(sentence):
        if free(match.start(), match.end()):
            value = float(rules()["times_words"][match.group(0).lower()])
            found.append(Amount(match.start(), match.end(), value, None, None, "exact"))
    return sorted(found, key=lambda a: a.start)


def _is_from_to(sentence: str, start: int) -> bool:
    """"rose from 70 to 100" is a change over time, not a range."""
    return bool(re.search(r"\bfrom\s+(?:\w+\s+)?$", sentence[max(0, start - 25):start], re.IGNORECASE))


def _single(sentence: str, start: int, end: int, value: float, qualifier: str) -> Amount:
    if _patterns()["won_range"].match(sentence[end:]):
        step = _range_step(value)
        return Amount(start, end, None, value, value + step - 1, "range")
    if qualifier == "more_than":
        return Amount(start, end, None, value, None, qualifier)
    if qualifier == "less_than":
        return Amount(start, end, None, None, value, qualifier)
    return Amount(start, end, value, None, None, qualifier)


def _range_step(value: float) -> int:
    """"the 8,000-won range" covers 8,000-8,999: one unit of its lowest non-zero digit's place."""
    number = int(value)
    step = 1
    while number and number % (step * 10) == 0:
        step *= 10
    return step


# --- the document walk -----------------------------------------------------------


@dataclass
class _Discourse:
    """What earlier sentences established: who is counted, for which period."""

    subject: str | None = None
    period: Period | None = None
    rate_period: Period | None = None


@dataclass(frozen=True)
class _Context:
    text: str
    published: date | None
    published_inferred: bool
    persons: tuple[Entity, ...]
    surnames: dict[str, str] = field(default_factory=dict)


def extract_facts(analyzed: AnalyzedDocument) -> list[Fact]:
    document = analyzed.document
    text = document.text
    sentences = analyzed.sentences or ((0, len(text)),)
    context = _Context(text, document.published, document.published_inferred,
                       tuple(e for e in analyzed.entities if e.label == "PERSON"),
                       _surname_index(analyzed.entities))
    discourse = _Discourse()
    facts: list[Fact] = []
    for start, end in _join_broken_sentences(text, sentences):
        if not _may_hold_facts(text[start:end]):
            continue  # most sentences: resolving their dates would cost more than all the rest
        in_sentence = [replace(t, start_char=t.start_char + start, end_char=t.end_char + start)
                       for t in find_temporal(text[start:end], document.published)]
        facts.extend(_sentence_facts(context, start, end, in_sentence, discourse))
    return facts


def _may_hold_facts(sentence: str) -> bool:
    """A fact needs a number and a word that can make it one (won, an activity noun or verb...)."""
    p = _patterns()
    return bool(p["any_number"].search(sentence) and p["trigger"].search(sentence))


def _surname_index(entities: Sequence[Entity]) -> dict[str, str]:
    """Surname -> the most mentioned canonical person with it, to resolve "Kim's"."""
    counts = Counter(e.canonical_name for e in entities if e.label == "PERSON" and e.canonical_name)
    index: dict[str, str] = {}
    for name, _ in counts.most_common():
        index.setdefault(name.split()[0].lower(), name)
    return index


def _join_broken_sentences(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Re-join a sentence that a line break split (the first part has no final punctuation)."""
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined:
            previous = text[joined[-1][0]:joined[-1][1]].rstrip()
            gap = text[joined[-1][1]:start]
            nxt = text[start:end].lstrip()
            if previous and previous[-1] not in ".!?:;\"”)" and nxt[:1].islower() and "\n\n" not in gap:
                joined[-1] = (joined[-1][0], end)
                continue
        joined.append((start, end))
    return joined


def _sentence_facts(ctx: _Context, start: int, end: int, temporals: list[TemporalMention],
                    discourse: _Discourse) -> list[Fact]:
    sentence = ctx.text[start:end]
    local = [_since(sentence, replace(t, start_char=t.start_char - start, end_char=t.end_char - start), ctx.published)
             for t in temporals]
    amounts = find_amounts(sentence, [(t.start_char, t.end_char) for t in local])
    subject = _subject(ctx, start, end, sentence)
    if subject and _patterns()["activity_context"].search(sentence):
        discourse.subject = subject
    attached = {a: _attached_periods(sentence, a, local, amounts) for a in amounts}
    main = _main_period(local, attached, coarse=True)
    facts: list[Fact] = []
    previous: Fact | None = None
    for amount in amounts:
        fact = (_rate_or_price(ctx, sentence, start, amount, attached[amount], local, discourse)
                or _companion(ctx, sentence, start, amount, attached[amount], local, main, discourse, previous)
                or _activity(ctx, sentence, start, amount, attached[amount], main, subject, discourse, previous, facts,
                             [(t.start_char, t.end_char) for t in local]))
        if fact is None:
            continue
        expanded = _one_per_period(fact, attached[amount], sentence[amount.end:])
        facts.extend(expanded)
        previous = expanded[-1]
    counted = [f.period for f in facts if f.kind == "activity_count" and f.period is not None]
    if main is not None and (counted or _patterns()["activity_context"].search(sentence)):
        discourse.period = main
    elif counted:
        discourse.period = max(counted, key=lambda p: p.end)  # "130 in 2024" sets the year talked about
    return facts


def _one_per_period(fact: Fact, periods: list[Period], after: str) -> list[Fact]:
    """"about 100 in both 2022 and 2023" is one fact per year; "three times in 2018 and 2019" is one span."""
    if len(periods) <= 1:
        return [fact]
    if re.match(r"^\W*(?:\w+\W+){0,3}?(?:both|each)\b", after, re.IGNORECASE):
        return [replace(fact, period=p) for p in periods]
    first = min(periods, key=lambda p: p.start)
    last = max(periods, key=lambda p: p.end)
    return [replace(fact, period=Period(first.start, last.end, f"{first.label}/{last.label}", "range"))]


def _since(sentence: str, mention: TemporalMention, published: date | None) -> TemporalMention:
    """"since 2019" is the span from then to the report, not 2019 itself."""
    before = sentence[max(0, mention.start_char - 40):mention.start_char].lower()
    since = re.search(r"\bsince\b[^,.;\d]*$", before) or mention.text.lower().startswith("since")
    if published is None or not since:
        return mention
    if mention.period.start > published:
        return mention
    period = Period(mention.period.start, published, f"{mention.period.label}/{published.isoformat()}", "range")
    return replace(mention, period=period)


def _attached_periods(sentence: str, amount: Amount, temporals: list[TemporalMention],
                      amounts: list[Amount]) -> list[Period]:
    """Temporal expressions bound to this number: "130 in 2024", "(53 in 2024)", "last year's 127"."""
    others = [a for a in amounts if a is not amount]
    attached: list[Period] = []
    cursor = _expression_end(sentence, amount)
    for mention in temporals:
        if mention.start_char < cursor:
            continue
        gap = sentence[cursor:mention.start_char]
        limit = r"^\s*(?:,\s*)?(?:in|during|for|of|by|as\s+of|at\s+the\s+end\s+of)?\s*(?:both\s+)?(?:the\s+)?$"
        joined = r"^\s*(?:(?:in|at)\s+(?:the\s+)?[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*\s*)?(?:,|and|,\s*and|or)\s*$"
        pattern = joined if attached else limit
        if any(cursor <= o.start < mention.start_char for o in others) or not re.match(pattern, gap, re.I):
            break
        attached.append(mention.period)
        cursor = mention.end_char
    if not attached:
        before = [t for t in temporals if t.end_char <= amount.start]
        if before and re.match(r"^['’]s\s+(?:\w+\s+){0,1}$|^\s*$", sentence[before[-1].end_char:amount.start]) \
                and before[-1].text.rstrip().endswith(("'s", "’s", "year")):
            attached.append(before[-1].period)
    return attached


def _expression_end(sentence: str, amount: Amount) -> int:
    """End of "51 military events" / "30,000 won": where a trailing period may follow."""
    after = sentence[amount.end:]
    p = _patterns()
    for pattern in (p["won_range"], p["per_kg"], p["won"], p["noun"], p["times"]):
        match = pattern.match(after)
        if match:
            end = amount.end + match.end()
            counterpart = p["counterpart"].match(sentence[end:]) or p["other_counterpart"].match(sentence[end:])
            return end + counterpart.end() if counterpart and pattern in (p["noun"], p["times"]) else end
    counterpart = p["counterpart"].match(after) or p["other_counterpart"].match(after)
    return amount.end + counterpart.end() if counterpart else amount.end


def _main_period(temporals: list[TemporalMention], attached: dict[Amount, list[Period]],
                 coarse: bool) -> Period | None:
    """The sentence's own period: the first temporal expression no number claimed."""
    claimed = {id(p) for periods in attached.values() for p in periods}
    for mention in temporals:
        if id(mention.period) in claimed:
            continue
        if coarse and mention.period.granularity == "day":
            continue
        return mention.period
    return None


def _subject(ctx: _Context, start: int, end: int, sentence: str) -> str | None:
    """The person the sentence counts: a named person, "Kim's", or a bare leadership surname."""
    for entity in ctx.persons:
        if start <= entity.start_char < end and entity.canonical_name:
            return entity.canonical_name
    for match in _patterns()["possessive"].finditer(sentence):
        name = _by_surname(ctx, match.group(1))
        if name:
            return name
    for match in _patterns()["surname"].finditer(sentence):
        name = _by_surname(ctx, match.group(1))
        if name:
            return name
    return None


def _by_surname(ctx: _Context, surname: str) -> str | None:
    return ctx.surnames.get(surname.lower()) or rules()["default_persons"].get(surname.lower())


def _period_or_default(attached: list[Period], main: Period | None, carried: Period | None,
                       published: date | None) -> tuple[Period | None, float]:
    if attached:
        return attached[0], 0.0
    if main is not None:
        return main, 0.05
    if carried is not None:
        return carried, 0.15
    if published is not None:
        return year_period(published.year), 0.3
    return None, 0.4


def _activity(ctx: _Context, sentence: str, offset: int, amount: Amount, attached: list[Period],
              main: Period | None, subject: str | None, discourse: _Discourse,
              previous: Fact | None, earlier: list[Fact], dates: list[tuple[int, int]]) -> Fact | None:
    found = _what_is_counted(ctx, sentence, offset, amount, attached, previous, dates)
    if found is None:
        return None
    category, sector, counterpart, actor = found
    who = actor or _leader_if_companion_sentence(ctx, sentence, offset, amount) or subject or discourse.subject
    if who is None:
        return None  # a count of events with nobody doing them is not a leader's tally
    end = _expression_end(sentence, amount)
    sector = sector or rules()["category_sectors"].get(category or "") or ("foreign" if counterpart else None)
    period, penalty = _activity_period(ctx, sentence, offset, amount, attached, main, discourse, previous, earlier)
    if subject is None:
        penalty += 0.05
    if ctx.published_inferred:
        penalty += 0.05
    if (amount.value or amount.low or 0) > 2000:
        penalty += 0.6  # nobody makes thousands of public appearances a year: keep, but doubt
    return Fact("activity_count", who, sector, category, counterpart, None, period, amount.value,
                amount.low, amount.high, amount.qualifier, None, sentence, offset + amount.start,
                offset + end, max(0.05, 0.9 - penalty))


def _what_is_counted(ctx: _Context, sentence: str, offset: int, amount: Amount, attached: list[Period],
                     previous: Fact | None, dates: list[tuple[int, int]]) -> tuple | None:
    """(category, sector, counterpart, actor or None) when the number counts public activities."""
    p = _patterns()
    after = sentence[amount.end:]
    noun = p["noun"].match(after)
    earlier_count = previous is not None and previous.kind == "activity_count"
    in_parens = sentence[:amount.start].rstrip().endswith("(")
    if noun:
        phrase = after[:noun.end()] + " " + " ".join(after[noun.end():].split()[:4])
        category = rules()["activity_nouns"].get(" ".join(noun.group(1).lower().split()))
        counterpart = _counterpart(after)
        if counterpart is None and category in _MEETING_CATEGORIES:
            counterpart = _country(sentence[:amount.start], exclude=rules()["leader"])  # "Kim and Xi have held five summits"
        return category, _sector(phrase), counterpart, None
    verb = _governing_verb(ctx, sentence, offset, amount)
    if verb is not None:
        return verb
    if earlier_count and (in_parens or _continues(sentence, previous.end_char - offset, amount.start, dates) or attached):
        if in_parens:
            return previous.category, previous.sector, _counterpart(after) or previous.counterpart, None
        clause = re.split(r"[,;.()]", after, maxsplit=1)[0]
        return previous.category, _sector(clause) or previous.sector, _counterpart(after), None
    counted = _counted_by_noun_phrase(sentence, amount)
    if counted is not None:
        return counted
    if attached and p["activity_context"].search(sentence[:amount.start]):
        return None, None, None, None
    return None


_MEETING_CATEGORIES = frozenset({"summit talks", "talks", "meetings", "foreign visits"})


def _continues(sentence: str, start: int, end: int, dates: list[tuple[int, int]]) -> bool:
    """Is the text between two numbers only separators, dates and comparison words?"""
    gap = "".join(" " if any(s <= i < e for s, e in dates) else ch for i, ch in enumerate(sentence[start:end], start))
    return bool(re.match(r"^[\s,;:]*(?:(?:and|or|of\s+which|while|from|to|against|versus|up\s+from|down\s+from|"
                         r"compared\s+with|then\s+surged\s+to|reaching)\s+)*(?:\(|$)", gap, re.IGNORECASE))


_COUNT_VERBS = re.compile(r"\b(?:rose|fell|increased|decreased|dropped|grew|climbed|jumped|surged)\s+to\s*$|"
                          r"\b(?:reached|totaled|totalled|numbered|stood\s+at|came\s+to)\s*$", re.IGNORECASE)


def _counted_by_noun_phrase(sentence: str, amount: Amount) -> tuple | None:
    """"Kim Jong Un's visits to munitions factories rose to 14"."""
    before = sentence[:amount.start]
    if not _COUNT_VERBS.search(before):
        return None
    nouns = [m for m in re.finditer(r"\b" + _words_pattern([k for k in rules()["activity_nouns"] if k != "note"]) + r"\b",
                                    before, re.IGNORECASE)]
    if not nouns:
        return None
    noun = nouns[0]
    phrase = before[max(0, noun.start() - 30):]
    category = rules()["activity_nouns"].get(" ".join(noun.group(0).lower().split()))
    return category, _sector(phrase), None, None


def _governing_verb(ctx: _Context, sentence: str, offset: int, amount: Amount) -> tuple | None:
    """"met ... three times", "inspected 12 factories", "traveled to Russia twice"."""
    p = _patterns()
    clause_start = max(sentence.rfind(c, 0, amount.start) for c in (";", "—", " - ")) + 1
    verbs = list(p["verb"].finditer(sentence, clause_start, amount.start))
    if not verbs:
        return None
    verb = verbs[-1]
    between = sentence[verb.end():amount.start]
    after = sentence[amount.end:]
    times = p["times_unit"].match(after) or p["times_word"].fullmatch(sentence[amount.start:amount.end])
    counted_noun = p["plural_noun"].match(after) if len(between.split()) <= 1 else None
    if not times and not counted_noun or times and len(between) > 80:
        return None
    category = rules()["activity_verbs"].get(" ".join(verb.group(1).lower().split()))
    noun_text = " ".join(counted_noun.group(1).lower().split()) if counted_noun else ""
    category = rules()["activity_nouns"].get(noun_text) or category
    actor = _actor_before(ctx, sentence, offset, verb.start())
    country = _country(between) or _country(sentence[clause_start:verb.start()], exclude=actor)
    return category, _sector(between + " " + noun_text), country, actor


def _actor_before(ctx: _Context, sentence: str, offset: int, position: int) -> str | None:
    """Who does the counted thing: the leader if named before the verb, else the last person named."""
    names = [e.canonical_name for e in ctx.persons
             if offset <= e.start_char < offset + position and e.canonical_name]
    names += [n for m in _patterns()["surname"].finditer(sentence, 0, position) if (n := _by_surname(ctx, m.group(1)))]
    if rules()["leader"] in names:
        return rules()["leader"]
    return names[-1] if names else None


def _country(text: str, exclude: str | None = None) -> str | None:
    for match in _patterns()["country"].finditer(text):
        found = match.group(0).lower()
        if exclude and found in exclude.lower():
            continue
        for country, words in rules()["counterparts"].items():
            if country != "note" and found in (w.lower() for w in words):
                return country
    return None


def _leader_if_companion_sentence(ctx: _Context, sentence: str, offset: int, amount: Amount) -> str | None:
    """In "X accompanied him on 40 of his 130 activities", the 130 are the leader's."""
    verb = _patterns()["companion_verb"].search(sentence)
    if not verb or amount.start < verb.end():
        return None
    after = [e.canonical_name for e in ctx.persons
             if e.start_char >= offset + verb.end() and e.start_char < offset + len(sentence) and e.canonical_name]
    return after[0] if after else rules()["leader"]


def _activity_period(ctx: _Context, sentence: str, offset: int, amount: Amount, attached: list[Period],
                     main: Period | None, discourse: _Discourse, previous: Fact | None,
                     earlier: list[Fact]) -> tuple[Period | None, float]:
    in_parens = sentence[:amount.start].rstrip().endswith("(")
    if not attached and not in_parens and main is None and previous is not None and previous.period is not None:
        return previous.period, 0.05  # "of Kim's 11 activities in 2024, seven involved Russia"
    if not (in_parens and not attached):
        return _period_or_default(attached, main, discourse.period, ctx.published)
    sibling = next((f for f in reversed(earlier) if f.period and sentence[f.start_char - offset - 1:f.start_char - offset] == "("), None)
    if sibling is not None and previous is not None and sibling.period != previous.period:
        return sibling.period, 0.05  # "(53 in 2024)" set the comparison year for later "(28)"
    base = previous.period if previous and previous.period else main
    return (_previous_year(base), 0.1) if base else (None, 0.4)


def _previous_year(period: Period) -> Period:
    return year_period(period.end.year - 1)


def _sector(phrase: str) -> str | None:
    match = _patterns()["sector_in_phrase"].search(phrase)
    return rules()["sector_words"][match.group(1).lower()] if match else None


def _counterpart(after: str) -> str | None:
    p = _patterns()
    noun = p["noun"].match(after)
    rest = after[noun.end():] if noun else after
    if p["other_counterpart"].match(rest):
        return "other"
    match = p["counterpart"].match(rest)
    if not match:
        return None
    name = re.sub(r"['’]s$", "", match.group(1)).strip()
    if name.lower() in {"the", "a"}:
        return None
    return _country(name) if " and " not in name and _country(name) else name


def _companion(ctx: _Context, sentence: str, offset: int, amount: Amount, attached: list[Period],
               temporals: list[TemporalMention], main: Period | None, discourse: _Discourse,
               previous: Fact | None) -> Fact | None:
    """"Jo Yong Won accompanied him 40 times" / "on 40 of his 130 public activities"."""
    p = _patterns()
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
                and _continues(sentence, previous.end_char - offset, amount.start, [(t.start_char, t.end_char) for t in temporals]))
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
                                                          _period_or_default([], main, discourse.period, ctx.published))
    end = amount.end + (unit.end() if unit else 0)
    return Fact("companion_count", companions[-1], None, None, None, None, period, amount.value,
                amount.low, amount.high, amount.qualifier, None, sentence, offset + amount.start,
                offset + end, 0.85 - penalty)


def _rate_or_price(ctx: _Context, sentence: str, offset: int, amount: Amount, attached: list[Period],
                   temporals: list[TemporalMention], discourse: _Discourse) -> Fact | None:
    p = _patterns()
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
    following = _patterns()["city"].search(clause)
    if following:
        return following.group(0)
    nearest = _nearest(_patterns()["city"], sentence, amount.start)
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
        for match in re.finditer(rf"\b{_words_pattern(words)}\b", sentence, re.IGNORECASE):
            distance = abs(match.start() - position) + (0 if match.start() < position else 5)
            if best is None or distance < best[0]:
                best = (distance, unit)
    return best[1] if best else "KPW/USD"


def _rate_period(sentence: str, attached: list[Period], temporals: list[TemporalMention], amount: Amount,
                 discourse: _Discourse, published: date | None) -> tuple[Period | None, float]:
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


def format_value(fact: dict[str, Any]) -> str:
    """A fact's number as people write it: "~70", "8,000-8,999", ">30,000", "<3,000"."""
    def number(x: float) -> str:
        return f"{x:,.0f}" if float(x).is_integer() else f"{x:,}"

    qualifier = fact["qualifier"]
    if qualifier == "range":
        return f"{number(fact['low'])}-{number(fact['high'])}"
    if qualifier == "more_than":
        return f">{number(fact['low'])}"
    if qualifier == "less_than":
        return f"<{number(fact['high'])}"
    return ("~" if qualifier == "approx" else "") + number(fact["value"])


def fact_rows(analyzed: AnalyzedDocument) -> list[dict[str, Any]]:
    """The ``facts`` stage: rows for the store."""
    return [fact.row() for fact in extract_facts(analyzed)]
