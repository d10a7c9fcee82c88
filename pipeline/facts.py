"""Reported numbers as facts: one registered extractor per fact kind, run over the parse.

A fact kind is one module in ``pipeline/extractors/`` that registers a ``FactExtractor``
in ``FACT_EXTRACTORS``: its kind (``name``), a ``priority`` (which kind wins when two
claim the same number), its ``trigger`` (the words that make a sentence worth reading:
a sentence none triggers is never read), how many sentences of context before a triggered
one it needs, its ``version`` (its pattern files' hash counts in the stage version) and
its weight in the review queue. The CLI, the web UI and the review queue take the list of
kinds from this registry.

The walk runs inside the NLP stage, document by document, with the spaCy ``Doc`` at hand
(``SentenceView.span``); extractors return frozen ``Fact`` records and nothing after the
NLP stage sees a ``Doc``. For each sentence that an extractor's trigger matches and that
holds a number, the walk resolves the temporal expressions (``pipeline.dates``), finds
the numbers (``pipeline.numbers``), and offers each number to the extractors by priority;
the first that returns a fact claims it. Between sentences it keeps the discourse: who
is being counted and for which period, so "the number rose to 81" or "he" can be read.

A number is a fact only when it counts a person's public activities, or is an amount in
won next to a rate or a priced good; ordinals, years, plan names and quantities of other
things are not. Every fact keeps its sentence and the character span of its number.
"""

from __future__ import annotations

import bisect
import calendar
import functools
import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from pipeline.dates import Period, TemporalMention, find_temporal
from pipeline.derived import DERIVED_STAGES, DerivedStage, ParsedDocument, StageFactory
from pipeline.fact_rules import market_cities, patterns, rules, words_pattern
from pipeline.numbers import Amount, find_amounts
from pipeline.records import Entity
from pipeline.registry import Registry
from pipeline.rules import rules_hash
from pipeline.store.db import facts as facts_table

LEGACY_VERSION = "facts-1"  # the version of the built-in extractors' rules, in every fact row they make


@dataclass(frozen=True)
class Fact:
    """One reported number with what it counts, whose, for which period, and where it was said."""

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
    extractor_version: str = ""  # set by the walk from the extractor that claimed the number
    compared: bool = False  # a figure set beside another count ("up from 132 in 2023"), not a count of its own

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "subject": self.subject, "sector": self.sector,
            "category": self.category, "counterpart": self.counterpart, "place": self.place,
            "period_start": self.period.start if self.period else None,
            "period_end": self.period.end if self.period else None,
            "period_label": self.period.label if self.period else None,
            "period_precision": precision_of(self.period),
            "value": self.value, "low": self.low, "high": self.high, "qualifier": self.qualifier,
            "unit": self.unit, "sentence": self.sentence, "start_char": self.start_char,
            "end_char": self.end_char, "extractor_version": self.extractor_version,
            "confidence": round(self.confidence, 3),
        }


@dataclass
class Discourse:
    """What earlier sentences established: who is counted, for which period."""

    subject: str | None = None
    period: Period | None = None
    rate_period: Period | None = None
    market_places: tuple[str, ...] = ()  # the market cities the last sentence naming one named, in order
    year: int | None = None  # the year the last sentence that named one talked about
    last_count: "Fact | None" = None  # the last tally of an earlier sentence, for "Of those, 53 were military"


@dataclass(frozen=True)
class DocumentFacts:
    """What every extractor may read of the document: text, date, persons, and the spaCy parse."""

    text: str
    published: date | None
    published_inferred: bool
    persons: tuple[Entity, ...]
    surnames: dict[str, str] = field(default_factory=dict)
    parse: ParsedDocument | None = None  # the spaCy parse, chunk by chunk


@dataclass(frozen=True)
class SentenceView:
    """One triggered sentence, as the walk prepared it for the extractors."""

    document: DocumentFacts
    start: int  # offset of the sentence in the document text
    end: int
    text: str
    temporals: list[TemporalMention]  # offsets within the sentence
    amounts: list[Amount]
    attached: dict[Amount, list[Period]]  # the periods bound to each number ("130 in 2024")
    main: Period | None  # the sentence's own period: the first no number claimed
    subject: str | None  # the person the sentence counts, if it names one

    def periods_of_other_numbers(self, amount: Amount) -> frozenset[int]:
        """The ids of the periods bound to the sentence's other numbers: not ``amount``'s to take."""
        return frozenset(id(p) for other, periods in self.attached.items() if other is not amount for p in periods)

    @property
    def date_spans(self) -> list[tuple[int, int]]:
        return [(t.start_char, t.end_char) for t in self.temporals]

    def span(self, start: int | None = None, end: int | None = None):
        """The spaCy ``Span`` of the sentence (or of ``text[start:end]``), None when no parse covers it."""
        if self.document.parse is None:
            return None
        first, last = self.start + (start or 0), self.start + (len(self.text) if end is None else end)
        return self.document.parse.span(first, last)


@dataclass
class Walk:
    """State of the walk that extractors read: the discourse, the last fact, this sentence's facts."""

    discourse: Discourse
    previous: "Fact | None" = None
    facts: list["Fact"] = field(default_factory=list)
    # what an extractor read of a number, for the next one that reads it the same way (the parse is walked once)
    readings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FactExtractor:
    """One fact kind: how it claims a number of a triggered sentence."""

    name: str  # the fact kind, as stored in facts.kind
    priority: int  # higher claims a number first
    version: str  # stored with every fact it makes
    claim: Callable[[SentenceView, Amount, Walk], "Fact | None"]
    trigger: Callable[[], str]  # regex alternation of the words that make a sentence worth reading
    context_sentences: int = 0  # sentences before a triggered one that it reads (through the discourse)
    review_weight: int = 0  # extra priority of its facts in the review queue
    pattern_files: tuple[str, ...] = ()  # rule files in pipeline/resources/ it reads


FACT_EXTRACTORS: Registry[FactExtractor] = Registry(
    "fact extractor",
    builtin_modules=("pipeline.extractors.price", "pipeline.extractors.exchange_rate",
                     "pipeline.extractors.companion_count", "pipeline.extractors.activity_count"),
    order=lambda extractor: (-extractor.priority, extractor.name),
)


def fact_kinds() -> tuple[str, ...]:
    """Every fact kind an extractor produces, in claiming order."""
    return FACT_EXTRACTORS.names()


def review_weights() -> dict[str, int]:
    return {extractor.name: extractor.review_weight for extractor in FACT_EXTRACTORS}


def facts_version(extractors: Sequence[FactExtractor] | None = None) -> str:
    """The facts stage's version: every extractor's name and version, and its pattern files' contents."""
    chosen = list(FACT_EXTRACTORS) if extractors is None else list(extractors)
    digest = hashlib.sha256()
    for extractor in chosen:
        digest.update(f"{extractor.name}={extractor.version};".encode())
    files = sorted({name for extractor in chosen for name in extractor.pattern_files})
    digest.update(rules_hash(*files).encode())
    return f"facts+{digest.hexdigest()[:10]}"


@functools.lru_cache(maxsize=8)
def _trigger(patterns_of_extractors: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{'|'.join(patterns_of_extractors)})\b", re.IGNORECASE)


def extract_facts(parsed: ParsedDocument, extractors: Sequence[FactExtractor] | None = None) -> list[Fact]:
    """Every fact of one document, in text order."""
    chosen = list(FACT_EXTRACTORS) if extractors is None else sorted(extractors, key=lambda e: -e.priority)
    trigger = _trigger(tuple(e.trigger() for e in chosen))
    analyzed = parsed.analyzed
    document = analyzed.document
    text = document.text
    sentences = analyzed.sentences or ((0, len(text)),)
    context = DocumentFacts(text, document.published, document.published_inferred,
                            tuple(sorted((e for e in analyzed.entities if e.label == "PERSON"), key=_start_char)),
                            _surname_index(analyzed.entities), parsed)
    discourse = Discourse()
    facts: list[Fact] = []
    for start, end in _join_broken_sentences(text, sentences):
        if not _may_hold_facts(text[start:end], trigger):
            _note_year(text[start:end], discourse)
            _note_market_scene(text[start:end], document.published, discourse)
            continue  # most sentences: resolving their dates would cost more than all the rest
        in_sentence = [replace(t, start_char=t.start_char + start, end_char=t.end_char + start)
                       for t in find_temporal(text[start:end], document.published)]
        facts.extend(_sentence_facts(context, start, end, in_sentence, discourse, chosen))
        _note_market_places(text[start:end], discourse)
    return facts


def _note_market_places(sentence: str, discourse: Discourse) -> None:
    """The market cities a sentence names, for the quotes of the next ones ("... in Hyesan. Rice cost 6,300 won")."""
    cities = tuple(dict.fromkeys(city for city, _, _ in market_cities(sentence)))
    if cities:
        discourse.market_places = cities


def _note_year(sentence: str, discourse: Discourse) -> None:
    """A sentence without figures that names the leader and one year ("Who stood closest to Kim Jong Un in
    2019?") gives the counts after it their period."""
    years = set(re.findall(r"\b(?:in|of|for|during)\s+((?:19|20)\d\d)\b", sentence))
    if len(years) == 1 and (patterns()["activity_context"].search(sentence) or re.search(r"\bKim\b|\bleader\b", sentence)):
        year = int(years.pop())
        discourse.period = Period(date(year, 1, 1), date(year, 12, 31), str(year), "year")
        discourse.year = year


def _note_market_scene(sentence: str, published: date | None, discourse: Discourse) -> None:
    """A sentence without a quote may still set the scene of the next ones: "Our partner in Hyesan checked
    prices on Feb. 27." Its dates are read only when it names a market city or a market."""
    _note_market_places(sentence, discourse)
    if not (discourse.market_places and re.search(r"\b(?:markets?|prices?|surveys?|survey(?:ed)?|checked)\b",
                                                   sentence, re.IGNORECASE)):
        return
    dated = [t.period for t in find_temporal(sentence, published) if (t.period.end - t.period.start).days <= 31]
    if dated:
        discourse.rate_period = dated[-1]


def _may_hold_facts(sentence: str, trigger: re.Pattern[str]) -> bool:
    """A fact needs a number and a word that can make it one (won, an activity noun or verb...)."""
    return bool(patterns()["any_number"].search(sentence) and trigger.search(sentence))


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
            unended = previous and previous[-1] not in ".!?:;\"”)"
            # a boundary inside a line without a full stop is the parser's slip ("Kim Ju | Ae featured at 21")
            if unended and ((nxt[:1].islower() and "\n\n" not in gap) or "\n" not in gap):
                joined[-1] = (joined[-1][0], end)
                continue
        joined.append((start, end))
    return joined


def _sentence_facts(ctx: DocumentFacts, start: int, end: int, temporals: list[TemporalMention],
                    discourse: Discourse, extractors: Sequence[FactExtractor]) -> list[Fact]:
    sentence = ctx.text[start:end]
    local = [_since(sentence, replace(t, start_char=t.start_char - start, end_char=t.end_char - start), ctx.published)
             for t in temporals]
    local = _in_the_year_talked_about(local, discourse, ctx.published, sentence)
    amounts = find_amounts(sentence, [(t.start_char, t.end_char) for t in local])
    subject = _subject(ctx, start, end, sentence)
    if subject and patterns()["activity_context"].search(sentence):
        discourse.subject = subject
    attached = {a: _attached_periods(sentence, a, local, amounts) for a in amounts}
    main = _main_period(local, attached, coarse=True, sentence=sentence)
    view = SentenceView(ctx, start, end, sentence, local, amounts, attached, main, subject)
    walk = Walk(discourse)
    for amount in amounts:
        fact = _claim(view, amount, walk, extractors)
        if fact is None:
            continue
        expanded = [one for each in _one_per_period(fact, attached[amount], sentence[amount.end:])
                    for place in _one_per_place(each) for country in _one_per_counterpart(place)
                    for one in _one_per_subject(country)]
        walk.facts.extend(expanded)
        walk.previous = expanded[-1]
    facts = walk.facts
    if not facts:
        _survey_day(sentence, local, discourse)
    counts = [f for f in facts if f.kind in ("activity_count", "companion_count") and not f.compared]
    if counts:
        discourse.last_count = counts[-1]
        if counts[-1].kind == "activity_count" and counts[-1].subject:
            discourse.subject = counts[-1].subject
    counted = [f.period for f in facts if f.kind in ("activity_count", "companion_count") and f.period is not None]
    own = [f.period for f in counts if f.period is not None]
    if own and main is not None and own[0] != main:
        # "51 this year — the lowest since he took over in 2011": not since 2011; "17 in 2021, three times as many
        # as in 2020 (6)": the text goes on about 2021 (the 6 is compared), not the year compared with
        discourse.period = own[-1]
    elif main is not None and (counted or patterns()["activity_context"].search(sentence)):
        discourse.period = main
    elif counted:
        discourse.period = max(counted, key=lambda p: p.end)  # "130 in 2024" sets the year talked about
    return facts


_SURVEY = re.compile(rf"\b(?:{words_pattern(rules()['survey_cues'])}|market\s+{words_pattern(rules()['survey_market_words'])}\s*,?)",
                     re.IGNORECASE)


def _survey_day(sentence: str, mentions: list[TemporalMention], discourse: Discourse) -> None:
    """"Market survey of April 3 (won)." above a table: the day its quotes were taken."""
    days = [t for t in mentions if t.period.granularity == "day"]
    cue = _SURVEY.search(sentence)
    if len(days) == 1 and cue is not None and 0 <= days[0].start_char - cue.end() <= 25:
        discourse.rate_period = days[0].period  # "surveyed June 11", not "a survey published on March 3 says"


def _claim(view: SentenceView, amount: Amount, walk: Walk, extractors: Sequence[FactExtractor]) -> Fact | None:
    """The fact of the first extractor, by priority, that claims the number."""
    for extractor in extractors:
        fact = extractor.claim(view, amount, walk)
        if fact is not None:
            return replace(fact, kind=extractor.name, extractor_version=extractor.version)
    return None


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_RELATIVE = re.compile(r"\b(?:last|this|next|previous|past|ago|earlier|before|since|so\s+far|today|yesterday|"
                       r"week|coming|current|following|prior)\b", re.IGNORECASE)


def _in_the_year_talked_about(mentions: list[TemporalMention], discourse: Discourse, published: date | None,
                              sentence: str = "") -> list[TemporalMention]:
    """"In the second half of 2024 he was seen at 61 events, compared with 47 in the first half": a month, season,
    quarter or half without a year is in the year the sentence (else the text just before) talks about, not
    always the publication's; a year compared with ("up from 80 in 2007") is not the one talked about."""

    def text_before(mention: TemporalMention) -> str:
        return sentence[max(0, mention.start_char - 30):mention.start_char]
    named = [t for t, before in ((t, text_before(t)) for t in mentions)
             if (_YEAR.search(t.text) or t.period.granularity == "year") and not _COMPARED_PERIOD.search(before)]
    year = named[0].period.end.year if named else discourse.year
    if year is None:
        return mentions
    anchored = []
    for mention in mentions:
        period = mention.period
        if (period.granularity in ("month", "season", "half", "quarter") and not _YEAR.search(mention.text)
                and not _RELATIVE.search(mention.text) and period.start.year == period.end.year != year):
            moved = _moved_to(period, year)
            if moved is not None and (published is None or moved.start <= published):
                mention = replace(mention, period=_capped_to(moved, published))
        anchored.append(mention)
    if named:
        discourse.year = named[-1].period.end.year
    return anchored


def _moved_to(period: Period, year: int) -> Period | None:
    try:
        start = period.start.replace(year=year)
        end = date(year, period.end.month, calendar.monthrange(year, period.end.month)[1]) \
            if (period.end + timedelta(days=1)).day == 1 else period.end.replace(year=year)
    except ValueError:
        return None
    return Period(start, end, period.label.replace(str(period.end.year), str(year)), period.granularity)


def _capped_to(period: Period, published: date | None) -> Period:
    if published is None or period.end <= published:
        return period
    return Period(period.start, published, period.label, period.granularity)


def _one_per_place(fact: Fact) -> list[Fact]:
    """"in both Pyongyang and Sinuiju" (places joined by "|"): one quote per market city."""
    if not fact.place or "|" not in fact.place:
        return [fact]
    return [replace(fact, place=place) for place in dict.fromkeys(fact.place.split("|"))]


def _one_per_counterpart(fact: Fact) -> list[Fact]:
    """"two apiece with Trump and Xi" (countries joined by "|"): one count per country."""
    if not fact.counterpart or "|" not in fact.counterpart:
        return [fact]
    return [replace(fact, counterpart=country) for country in fact.counterpart.split("|")]


def _one_per_subject(fact: Fact) -> list[Fact]:
    """"Kim Yo Jong and Choe Son Hui each issued nine statements" (people joined by "|"): one count per person."""
    if not fact.subject or "|" not in fact.subject:
        return [fact]
    return [replace(fact, subject=person) for person in fact.subject.split("|")]


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
    cursor = expression_end(sentence, amount)
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


def expression_end(sentence: str, amount: Amount) -> int:
    """End of "51 military events" / "30,000 won": where a trailing period may follow."""
    after = sentence[amount.end:]
    p = patterns()
    for pattern in (p["won_range"], p["per_kg"], p["won"], p["noun"], p["times"]):
        match = pattern.match(after)
        if match:
            end = amount.end + match.end()
            counterpart = p["counterpart"].match(sentence[end:]) or p["other_counterpart"].match(sentence[end:])
            return end + counterpart.end() if counterpart and pattern in (p["noun"], p["times"]) else end
    counterpart = p["counterpart"].match(after) or p["other_counterpart"].match(after)
    return amount.end + counterpart.end() if counterpart else amount.end


_COMPARED_PERIOD = re.compile(r"(?:\b(?:from|than|against)\s+(?:\d[\d,]*\s+)?(?:in\s+|during\s+|over\s+|for\s+)?"
                              r"(?:all\s+of\s+)?(?:the\s+)?(?:same\s+\w+\s+)?|"
                              r"\bcompared\s+(?:with|to)\s+(?:the\s+)?|"
                              r"\bas\s+(?:in|during)\s+(?:the\s+)?(?:same\s+\w+\s+)?)$",
                              re.IGNORECASE)


def _main_period(temporals: list[TemporalMention], attached: dict[Amount, list[Period]],
                 coarse: bool, sentence: str | None = None) -> Period | None:
    """The sentence's own period: the first temporal expression no number claimed."""
    claimed = {id(p) for periods in attached.values() for p in periods}
    for mention in temporals:
        if id(mention.period) in claimed or (sentence is not None and _COMPARED_PERIOD.search(
                sentence[max(0, mention.start_char - 30):mention.start_char])):
            continue  # "a drop from 2023", "more than in 2019": the period compared with, not the sentence's
        if coarse and mention.period.granularity == "day":
            continue
        return mention.period
    return None


def _subject(ctx: DocumentFacts, start: int, end: int, sentence: str) -> str | None:
    """The person the sentence counts: a named person, "Kim's", or a bare leadership surname."""
    first = bisect.bisect_left(ctx.persons, start, key=_start_char)  # persons are in text order
    for entity in itertools.islice(ctx.persons, first, None):
        if entity.start_char >= end:
            break
        if entity.canonical_name:
            return entity.canonical_name
    for match in patterns()["possessive"].finditer(sentence):
        name = by_surname(ctx, match.group(1))
        if name:
            return name
    for match in patterns()["surname"].finditer(sentence):
        name = by_surname(ctx, match.group(1))
        if name:
            return name
    return None


def persons_between(ctx: DocumentFacts, start: int, end: int) -> Sequence[Entity]:
    """The document's persons that begin in [start, end), found by bisection (the list is in text order)."""
    first = bisect.bisect_left(ctx.persons, start, key=_start_char)
    last = bisect.bisect_left(ctx.persons, end, key=_start_char)
    return ctx.persons[first:last]


def _start_char(entity: Entity) -> int:
    return entity.start_char


def by_surname(ctx: DocumentFacts, surname: str) -> str | None:
    return ctx.surnames.get(surname.lower()) or rules()["default_persons"].get(surname.lower())


def precision_of(period: Period | None) -> str:
    """How finely a period is stated, read off its end (tests/gold/SCHEMA.md)."""
    if period is None:
        return "unresolved"
    start, end = period.start, period.end
    month_end = (end + timedelta(days=1)).day == 1
    if start == end:
        return "day"
    if (end - start).days == 6 and start.weekday() == 0:
        return "week"
    if not month_end:
        return "day"
    if start.month == 1 and start.day == 1 and end.month == 12:
        return "year" if start.year == end.year else "multi_year"
    if start.year == end.year and start.day == 1:
        months = end.month - start.month + 1
        if months == 6 and start.month in (1, 7):
            return "half"
        if months == 3 and start.month in (1, 4, 7, 10):
            return "quarter"
    return "month"


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


def fact_rows(parsed: ParsedDocument) -> list[dict[str, Any]]:
    """The ``facts`` stage: rows for the store."""
    return [fact.row() for fact in extract_facts(parsed)]


DERIVED_STAGES.register(StageFactory(
    name="facts",
    build=lambda config: DerivedStage(name="facts", tables=(facts_table,), version=facts_version(),
                                      per_document=lambda parsed: {"facts": fact_rows(parsed)}),
))
