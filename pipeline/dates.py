"""Temporal expressions in reporting on North Korea -> ISO dates and date ranges.

A reported number is only a fact together with the period it is about ("153 in 2025",
"26,000 won by the summer of 2025"), so ``find_temporal`` locates every temporal
expression in a text and resolves it to a ``Period`` against the publication date.
``infer_publication_date`` works the other way round for documents that arrive without
a date.

Rules are regular expressions over the raw text (no spaCy: offsets must index the
stored text exactly, and this runs on every document). The vocabulary (month names,
seasons, units that make a 4-digit number a quantity, named periods such as the
pandemic border closure) is data in ``resources/temporal.json``.

Conventions:

* A relative expression ("last year", "on February 7") needs the publication date;
  without one it is dropped, never guessed. Absolute ones ("in 2024") always resolve.
* A day without a year is the most recent such day on or before publication, or up to
  ``_ANNOUNCEMENT_DAYS`` after it (announcements name upcoming events).
* "the previous year" / "the following year" refer to a year named earlier in the same
  sentence when there is one ("in 2025, double the previous year" -> 2024); otherwise
  "the previous year" resolves against publication like "last year", and "the
  following year" (which follows a narrated time) is dropped.
* When several expressions overlap, the longest wins ("On September 3 last year" is one
  mention, not three).
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pipeline.rules import load_json
from pipeline.text import sentence_bounds

GRANULARITIES: tuple[str, ...] = ("day", "month", "season", "half", "quarter", "year", "range")

_ANNOUNCEMENT_DAYS = 7
_MAX_RANGE_YEARS = 100
_MAX_LOST_DASH_SPAN = 30  # "(20212025)": a plan or term, not two unrelated years


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    label: str  # "2025", "2025-02-07", "2025-11", "2025-summer", "2025-H2", "2024-Q1", "2021/2025"
    granularity: str  # one of GRANULARITIES


@dataclass(frozen=True)
class TemporalMention:
    text: str  # the exact matched text
    start_char: int
    end_char: int  # source[start_char:end_char] == text
    period: Period
    relative: bool  # resolved from context (publication date, or a year earlier in the sentence)


# --------------------------------------------------------------------------- periods


def year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), str(year), "year")


def _day_period(day: date) -> Period:
    return Period(day, day, day.isoformat(), "day")


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _month_period(year: int, month: int) -> Period:
    return Period(date(year, month, 1), date(year, month, _last_day(year, month)), f"{year}-{month:02d}", "month")


def _years_period(first: int, last: int) -> Period:
    return Period(date(first, 1, 1), date(last, 12, 31), f"{first}/{last}", "range")


def _season_period(year: int, season: _Season) -> Period:
    """Winter Y is December Y to February Y+1, so it is labelled with the year it starts in."""
    last_year = year + 1 if season.last_month < season.first_month else year
    end = date(last_year, season.last_month, _last_day(last_year, season.last_month))
    return Period(date(year, season.first_month, 1), end, f"{year}-{season.label}", "season")


def _half_period(year: int, half: int) -> Period:
    first, last = (1, 6) if half == 1 else (7, 12)
    return Period(date(year, first, 1), date(year, last, _last_day(year, last)), f"{year}-H{half}", "half")


def _quarter_period(year: int, quarter: int) -> Period:
    first, last = 3 * quarter - 2, 3 * quarter
    return Period(date(year, first, 1), date(year, last, _last_day(year, last)), f"{year}-Q{quarter}", "quarter")


def _month_part_period(year: int, month: int, part: str) -> Period:
    """early/mid/late are thirds of the month; "the end of" is its last day."""
    last = _last_day(year, month)
    if part in ("end", "close"):
        return _day_period(date(year, month, last))
    if part in ("beginning", "start"):
        return _day_period(date(year, month, 1))
    first_day, last_day = {"early": (1, 10), "mid": (11, 20), "middle": (11, 20), "late": (21, last)}[part]
    label = f"{year}-{month:02d}-{_PART_NAME[part]}"
    return Period(date(year, month, first_day), date(year, month, last_day), label, "range")


def _year_part_period(year: int, part: str) -> Period:
    """early 2024 = January-April, mid = May-August, late = September-December."""
    if part in ("end", "close"):
        return _day_period(date(year, 12, 31))
    if part in ("beginning", "start"):
        return _day_period(date(year, 1, 1))
    first, last = {"early": (1, 4), "mid": (5, 8), "middle": (5, 8), "late": (9, 12)}[part]
    return Period(date(year, first, 1), date(year, last, _last_day(year, last)), f"{year}-{_PART_NAME[part]}", "range")


_PART_NAME = {"early": "early", "mid": "mid", "middle": "mid", "late": "late"}


# --------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class _Season:
    label: str
    first_month: int
    last_month: int


@dataclass(frozen=True)
class _NamedPeriod:
    pattern: re.Pattern[str]
    period: Period


@dataclass(frozen=True)
class _Vocabulary:
    months: dict[str, int]  # full names and abbreviations, lower case
    full_months: tuple[str, ...]
    abbreviations: tuple[str, ...]
    bare_needs_preposition: frozenset[str]
    seasons: dict[str, _Season]
    season_nouns: list[str]  # "winter wheat": a season word used as an adjective
    numbers: dict[str, int]
    ordinals: dict[str, int]
    unit_after: re.Pattern[str]
    quantity_before: re.Pattern[str]
    future_preposition: re.Pattern[str]
    future_word: re.Pattern[str]
    named: tuple[_NamedPeriod, ...]


def _words(words: list[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


def _named_period(entry: dict) -> tuple[_NamedPeriod, ...]:
    start, end = date.fromisoformat(entry["start"]), date.fromisoformat(entry["end"])
    period = Period(start, end, entry["label"], "range")
    return tuple(_NamedPeriod(re.compile(rf"\b(?:{p})", re.I), period) for p in entry["patterns"])


@functools.cache
def _vocabulary() -> _Vocabulary:
    """Load resources/temporal.json once per process."""
    data = load_json("temporal.json")
    full = {name: i + 1 for i, name in enumerate(data["months"])}
    abbreviations = {k: int(v) for k, v in data["month_abbreviations"].items()}
    seasons = {k: _Season(v["label"], v["first_month"], v["last_month"])
               for k, v in data["seasons"].items() if isinstance(v, dict)}
    future = data["future_markers"]
    return _Vocabulary(
        months={**full, **abbreviations},
        full_months=tuple(full),
        abbreviations=tuple(abbreviations),
        bare_needs_preposition=frozenset(data["bare_month_needs_preposition"]),
        seasons=seasons,
        season_nouns=list(data["season_compound_nouns"]["words"]),
        numbers={k: int(v) for k, v in data["number_words"].items()},
        ordinals={k: int(v) for k, v in data["ordinals"].items()},
        unit_after=re.compile(rf"\s*-?\s*(?:{_words(data['quantity_units_after_year']['words'])})(?!\w)", re.I),
        quantity_before=re.compile(rf"(?<!\w)(?:{_words(data['quantity_words_before_year']['words'])})\s*$", re.I),
        future_preposition=re.compile(rf"\b(?:{_words(future['prepositions'])})\s*$", re.I),
        future_word=re.compile(rf"\b(?:{_words(future['words'])})\b", re.I),
        named=tuple(n for entry in data["named_periods"] for n in _named_period(entry)),
    )


# --------------------------------------------------------------------------- patterns

# Year-shaped numbers: not glued to letters, currency or a larger number ("12024",
# "2,024", "2024.5", "$2024"). Units after the number are checked in code.
_YEAR_CORE = r"(?:19\d\d|20\d\d|2100)"
_YEAR = rf"(?<![\w$₩€£¥])(?<!\d[.,]){_YEAR_CORE}(?![\w%]|[.,]\d)"
_PREP = r"(?:\b(?P<prep>in|on|during|throughout|by|as\s+of|at|for|since)\s+)?"
_REL_YEAR = r"(?P<rel>this|last|next)\s+year\b"
_DAY = r"\d\d?(?:st|nd|rd|th)?"
# A day may touch a capitalised word (scraped "On August 4Kim Jong Un") but not a time or a number.
_DAY_END = r"(?![0-9_]|(?-i:[a-z])|[.,:]\d)"
# Prepositions after which a 4-digit number is a year whatever follows ("in 2024 people ...").
_YEAR_PREPOSITIONS = frozenset({"in", "during", "throughout"})
_REL_OFFSET = {"this": 0, "last": -1, "next": 1, "the": 0, "current": 0, "past": -1, "previous": -1,
               "prior": -1, "preceding": -1, "coming": 1, "following": 1, "same": 0,
               "before": -1, "earlier": -1, "after": 1, "later": 1}
# Words that refer to a year named earlier in the sentence when there is one.
_ANAPHORIC = frozenset({"previous", "prior", "preceding", "following", "next", "same",
                        "before", "after", "earlier", "later"})
_NARRATIVE_ONLY = frozenset({"same", "following", "after", "later"})


def _month_pattern(v: _Vocabulary, name: str = "month") -> str:
    """Full names, or abbreviations with an optional dot ("Dec. 1", "Sept 3")."""
    return rf"(?P<{name}>(?:{_words(list(v.full_months))})\b|(?:{_words(list(v.abbreviations))})\b\.?)"


def _season_pattern(v: _Vocabulary) -> str:
    return rf"(?P<season>{_words(list(v.seasons))})\b"


def _number_pattern(v: _Vocabulary) -> str:
    return rf"(?:\d\d?|{_words([k for k in v.numbers if k not in ('a', 'an')])})"


def _ordinal_pattern(v: _Vocabulary) -> str:
    return rf"(?P<ord>{_words(list(v.ordinals))})"


# --------------------------------------------------------------------------- what expressions resolve against


@dataclass(frozen=True)
class _Anchor:
    """The text being read and the publication date its relative expressions resolve against."""

    text: str
    published: date | None
    strict: bool  # running text: month names must be capitalised ("may" is a verb)


_Hit = tuple[int, int, Period, bool]  # start, end, period, relative
_Handler = Callable[[re.Match[str], _Anchor], "list[_Hit] | None"]


def _pub(ctx: _Anchor) -> date:
    """The publication date of a relative expression; handlers check it first."""
    assert ctx.published is not None
    return ctx.published


def _word(m: re.Match[str], group: str) -> str:
    return " ".join((m.group(group) or "").lower().split())


def _month_number(m: re.Match[str], ctx: _Anchor, group: str = "month") -> int | None:
    token = m.group(group)
    if ctx.strict and not token[0].isupper():
        return None
    return _vocabulary().months[token.rstrip(".").lower()]


def _whole(m: re.Match[str], period: Period, relative: bool) -> list[_Hit]:
    return [(m.start(), m.end(), period, relative)]


def _recent_year(published: date, month: int, day: int, rel: str = "") -> int | None:
    """Year of the latest month/day on or before publication (or just after it, since
    announcements name upcoming days); "last June 19" is strictly before, "next" after."""
    if rel == "this":
        return published.year
    years = range(published.year - 1, published.year + 9) if rel in ("next", "coming") else \
        range(published.year + 1, published.year - 9, -1)
    latest = published + timedelta(days=_ANNOUNCEMENT_DAYS)
    for year in years:
        try:
            candidate = date(year, month, day)
        except ValueError:  # February 29 in a common year
            continue
        if _fits(candidate, published, latest, rel):
            return year
    return None


def _fits(candidate: date, published: date, latest: date, rel: str) -> bool:
    if rel in ("next", "coming"):
        return candidate > published
    if rel in ("last", "past"):
        return candidate < published
    return candidate <= latest


def _recent_month_year(published: date, month: int) -> int:
    """A month without a year is the latest one that has begun by publication."""
    return published.year if month <= published.month else published.year - 1


def _relative_year(m: re.Match[str], ctx: _Anchor) -> int | None:
    """Year from an explicit year or "this/last/next year"; None when it needs an absent date."""
    if m.groupdict().get("year"):
        return int(m.group("year"))
    if ctx.published is None:
        return None
    return _pub(ctx).year + _REL_OFFSET[_word(m, "rel").split()[-1]]


def _anchor_year(text: str, pos: int) -> int | None:
    """The last plain year named earlier in the same sentence, for "the previous year"."""
    start = sentence_bounds(text, pos)[0]
    years = [int(m.group("year")) for m in _rules().year.finditer(text, start, pos) if _is_year_use(text, m)]
    return years[-1] if years else None


# --------------------------------------------------------------------------- handlers: years


def _is_year_use(text: str, m: re.Match[str]) -> bool:
    """A 4-digit number that counts something ("2024 tons", "about 2000") is not a year."""
    if _word(m, "prep") in _YEAR_PREPOSITIONS:
        return True
    v = _vocabulary()
    if v.unit_after.match(text, m.end()):
        return False
    return not v.quantity_before.search(text, max(0, m.start() - 40), m.start())


def _on_year(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    if not _is_year_use(ctx.text, m):
        return None
    return _whole(m, year_period(int(m.group("year"))), False)


def _on_year_range(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    first, last = int(m.group("a")), int(m.group("b"))
    if _word(m, "sep") == "and" and _word(m, "lead") != "between":
        return None  # "in both 2022 and 2023" is two years, not a range
    if not first < last <= first + _MAX_RANGE_YEARS or _vocabulary().unit_after.match(ctx.text, m.end()):
        return None
    return _whole(m, _years_period(first, last), False)


def _on_short_year_range(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    first = int(m.group("a"))
    last = first // 100 * 100 + int(m.group("b"))
    if not first < last <= first + 30:
        return None
    return _whole(m, _years_period(first, last), False)


def _on_lost_dash(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"(20212025)": a year range whose dash was lost when the text was copied."""
    first, last = int(m.group("a")), int(m.group("b"))
    if not (first <= last <= first + _MAX_LOST_DASH_SPAN and last <= 2099):
        return None
    return _whole(m, _years_period(first, last), False)


def _on_decade(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    first = int(m.group("decade"))
    return _whole(m, _years_period(first, first + 9), False)


def _on_relative_year(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    rel = _word(m, "rel").split()[-1]
    anchor = _anchor_year(ctx.text, m.start()) if rel in _ANAPHORIC else None
    if anchor is not None:
        return _whole(m, year_period(anchor + _REL_OFFSET[rel]), True)
    if ctx.published is None or rel in _NARRATIVE_ONLY:
        return None  # "the following year" follows a narrated time, not the publication
    return _whole(m, year_period(_pub(ctx).year + _REL_OFFSET[rel]), True)


def _count(m: re.Match[str], group: str = "n") -> int:
    token = _word(m, group)
    return int(token) if token.isdigit() else _vocabulary().numbers[token]


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _on_week_word(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    if ctx.published is None:
        return None
    monday = _pub(ctx) - timedelta(days=_pub(ctx).weekday())
    if _word(m, "rel") == "this":
        period = Period(monday, _pub(ctx), f"{monday.isoformat()}/{_pub(ctx).isoformat()}", "range")
    else:
        start, end = monday - timedelta(days=7), monday - timedelta(days=1)
        period = Period(start, end, f"{start.isoformat()}/{end.isoformat()}", "range")
    return _whole(m, period, True)


def _on_week_before(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    if ctx.published is None:
        return None
    weeks = {"a": 1, "one": 1, "two": 2, "three": 3}[m.group(0).split()[0].lower()]
    day = _pub(ctx) - timedelta(days=7 * weeks)
    return _whole(m, _day_period(day), True)


def _on_weekday(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"on Wednesday" in a news report is the latest such day up to the report (KCNA reports the next day)."""
    if ctx.published is None:
        return None
    published = _pub(ctx)
    back = (published.weekday() - _WEEKDAYS.index(m.group("weekday").lower())) % 7
    if m.group("prep").lower() == "last" and back == 0:
        back = 7
    day = published - timedelta(days=back)
    return _whole(m, Period(day, day, day.isoformat(), "day"), True)


def _on_rolling_year(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"over the past year" is the twelve months up to publication, not the previous calendar year."""
    if ctx.published is None:
        return None
    end = _pub(ctx)
    start = end.replace(year=end.year - 1) + timedelta(days=1) if not (end.month == 2 and end.day == 29) \
        else date(end.year - 1, 3, 1)
    return _whole(m, Period(start, end, f"{start.isoformat()}/{end.isoformat()}", "range"), True)


def _on_past_span(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"the past five years" ends with the publication year: 2022/2026 when published in 2026."""
    if ctx.published is None:
        return None
    published = _pub(ctx)
    n = 1 if m.group("decade") else _count(m)
    unit = "decades" if m.group("decade") else _word(m, "unit")
    if n < 1:
        return None
    if unit == "months":
        first = _add_months(published.replace(day=1), 1 - n)
        end = date(published.year, published.month, _last_day(published.year, published.month))
        return _whole(m, Period(first, end, f"{first:%Y-%m}/{end:%Y-%m}", "range"), True)
    years = n * 10 if unit == "decades" else n
    return _whole(m, _years_period(published.year - years + 1, published.year), True)


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _on_ago(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    if ctx.published is None:
        return None
    published, n, unit = _pub(ctx), _count(m), _word(m, "unit").rstrip("s")
    if unit == "year":
        return _whole(m, year_period(published.year - n), True)
    if unit == "month":
        first = _add_months(published.replace(day=1), -n)
        return _whole(m, _month_period(first.year, first.month), True)
    return _whole(m, _day_period(published - timedelta(days=n)), True)


# --------------------------------------------------------------------------- handlers: days


_DAY_WORD_OFFSET = {"the day before yesterday": -2, "yesterday": -1, "today": 0, "tomorrow": 1,
                    "the previous day": -1, "the day before": -1}


def _on_day_word(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    if ctx.published is None:
        return None
    return _whole(m, _day_period(_pub(ctx) + timedelta(days=_DAY_WORD_OFFSET[_word(m, "word")])), True)


def _day_year(m: re.Match[str], ctx: _Anchor, month: int, day: int) -> tuple[int, bool] | None:
    """(year, relative) of a day: explicit, "last year", or the latest one before publication."""
    if m.group("year"):
        return int(m.group("year")), False
    if ctx.published is None:
        return None
    if m.group("rel"):
        return _pub(ctx).year + _REL_OFFSET[_word(m, "rel")], True
    year = _recent_year(_pub(ctx), month, day, _word(m, "relm").split()[-1] if m.groupdict().get("relm") else "")
    return None if year is None else (year, True)


_DAY_TOKEN = re.compile(r"(?P<n>\d\d?)(?:st|nd|rd|th)?", re.I)


def _on_month_day(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"February 7", "Feb. 7, 2025", "September 3 last year", "Dec. 1 and 27", "June 25-27"."""
    month = _month_number(m, ctx)
    if month is None:
        return None
    tokens = list(_DAY_TOKEN.finditer(ctx.text, m.start("days"), m.end("days")))
    days = [int(t.group("n")) for t in tokens]
    resolved = _day_year(m, ctx, month, days[0])
    if resolved is None:
        return None
    year, relative = resolved
    if re.search(r"[-–]", m.group("days")):
        if not days[0] < days[1]:
            return None
        start, end = date(year, month, days[0]), date(year, month, days[1])
        return _whole(m, Period(start, end, f"{start}/{end}", "range"), relative)
    if len(tokens) > 1 and _vocabulary().unit_after.match(ctx.text, tokens[-1].end()):
        return [(m.start(), tokens[0].end(), _day_period(date(year, month, days[0])), relative)]
    hits: list[_Hit] = []
    for i, (token, day) in enumerate(zip(tokens, days)):
        start = m.start() if i == 0 else token.start()
        end = m.end() if i == len(tokens) - 1 else token.end()
        hits.append((start, end, _day_period(date(year, month, day)), relative))
    return hits


def _on_day_month(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"7 February", "the 7th of February 2025"."""
    month = _month_number(m, ctx)
    if month is None:
        return None
    day = int(m.group("day"))
    resolved = _day_year(m, ctx, month, day)
    if resolved is None:
        return None
    return _whole(m, _day_period(date(resolved[0], month, day)), resolved[1])


def _on_iso(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    day = date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
    return _whole(m, _day_period(day), False)


# --------------------------------------------------------------------------- handlers: months


def _on_month_year(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    month = _month_number(m, ctx)
    if month is None:
        return None
    return _whole(m, _month_period(int(m.group("year")), month), False)


def _on_month_relative(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"last November", "next February", "November last year"."""
    month = _month_number(m, ctx)
    if month is None or ctx.published is None:
        return None
    published, rel = _pub(ctx), _word(m, "rel").split()
    if rel[-1] == "year":  # "November last year"
        year = published.year + _REL_OFFSET[rel[0]]
    elif rel[-1] in ("last", "past"):
        year = published.year if month < published.month else published.year - 1
    elif rel[-1] in ("next", "coming"):
        year = published.year if month > published.month else published.year + 1
    else:
        year = published.year
    return _whole(m, _month_period(year, month), True)


def _on_bare_month(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"in November": the latest November that has begun by publication."""
    month = _month_number(m, ctx)
    if month is None or ctx.published is None:
        return None
    needs_prep = m.group("month").lower() in _vocabulary().bare_needs_preposition
    if ctx.strict and needs_prep and not (m.group("prep") or m.group("of")):
        return None  # "May" and "March" alone are too often a verb or a name
    return _whole(m, _month_period(_recent_month_year(_pub(ctx), month), month), True)


def _part(m: re.Match[str]) -> str:
    return _word(m, "part").replace("the ", "").replace(" of", "")


def _on_month_range(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"from January to June (2024)": the first day of one month to the last of the other."""
    first, last = _month_number(m, ctx), _month_number(m, ctx, "month2")
    if first is None or last is None or first >= last:
        return None
    if _word(m, "lead") == "" and m.group(0)[len(m.group("month")):].strip()[:3] == "and":
        return None  # "March and May" without "between" is two months
    if m.group("year"):
        year = int(m.group("year"))
    elif ctx.published is not None:
        year = _recent_month_year(_pub(ctx), last)
    else:
        return None
    start, end = date(year, first, 1), date(year, last, _last_day(year, last))
    return _whole(m, Period(start, end, f"{start:%Y-%m}/{end:%Y-%m}", "range"), not m.group("year"))


def _on_first_months(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"the first nine months of the year": January 1 to the end of the ninth month."""
    months = _count(m)
    year = int(m.group("year")) if m.group("year") else (None if ctx.published is None else _pub(ctx).year)
    if year is None or not 1 <= months <= 12:
        return None
    end = date(year, months, _last_day(year, months))
    return _whole(m, Period(date(year, 1, 1), end, f"{year}-01/{end:%Y-%m}", "range"), not m.group("year"))


def _on_month_part(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"early November", "mid-November 2023", "as of the end of November"."""
    month = _month_number(m, ctx)
    if month is None:
        return None
    if m.group("year") or m.group("rel"):
        year = _relative_year(m, ctx)
    else:
        year = None if ctx.published is None else _recent_month_year(_pub(ctx), month)
    if year is None:
        return None
    relative = not m.group("year")
    return _whole(m, _month_part_period(year, month, _part(m)), relative)


def _on_year_part(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"in early 2024", "late last year", "by the end of the year"."""
    year = _relative_year(m, ctx)
    if year is None:
        return None
    return _whole(m, _year_part_period(year, _part(m)), not m.group("year"))


def _on_month_word(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"this month", "last month"."""
    if ctx.published is None:
        return None
    first = _add_months(_pub(ctx).replace(day=1), _REL_OFFSET[_word(m, "rel").split()[-1]])
    return _whole(m, _month_period(first.year, first.month), True)


# --------------------------------------------------------------------------- handlers: seasons, halves, quarters


def _season(m: re.Match[str]) -> _Season:
    return _vocabulary().seasons[_word(m, "season")]


def _on_season_year(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"the summer of 2025", "summer 2025", "the 2025 summer", "summer of last year"."""
    year = _relative_year(m, ctx)
    if year is None:
        return None
    return _whole(m, _season_period(year, _season(m)), not m.group("year"))


def _current_season_year(published: date, season: _Season) -> int:
    """"this winter" in January is the winter that began in December."""
    wraps = season.last_month < season.first_month
    return published.year - 1 if wraps and published.month <= season.last_month else published.year


def _on_season_relative(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"this summer" (of the publication year), "last winter" (the latest one over by
    publication), "next spring", and "in the summer" (the latest one begun, like "in November")."""
    if ctx.published is None:
        return None
    published, season = _pub(ctx), _season(m)
    rel = _word(m, "rel").split()[-1] if m.groupdict().get("rel") else ""
    year = _current_season_year(published, season)
    if rel in ("last", "past"):
        year = next(y for y in range(year + 1, year - 3, -1) if _season_period(y, season).end < published)
    elif not rel:
        year = next(y for y in range(year + 1, year - 3, -1) if _season_period(y, season).start <= published)
    elif rel in ("next", "coming"):
        year = next(y for y in range(year - 1, year + 3) if _season_period(y, season).start > published)
    return _whole(m, _season_period(year, season), True)


def _ordinal(m: re.Match[str], top: int) -> int | None:
    n = m.group("n")
    value = int(n) if n else _vocabulary().ordinals[_word(m, "ord")]
    return value if 1 <= value <= top else None


def _on_half(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"the second half of 2025", "H1 2025", "in the second half" (publication year)."""
    half, year = _ordinal(m, 2), _relative_year(m, ctx)
    if half is None or year is None:
        return None
    return _whole(m, _half_period(year, half), not m.groupdict().get("year"))


def _on_quarter(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"the first quarter of 2024", "Q3 2024"."""
    quarter, year = _ordinal(m, 4), _relative_year(m, ctx)
    if quarter is None or year is None:
        return None
    return _whole(m, _quarter_period(year, quarter), not m.groupdict().get("year"))


def _on_half_bare(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    """"in the second half": of the publication year."""
    half = _ordinal(m, 2)
    if half is None or ctx.published is None:
        return None
    return _whole(m, _half_period(_pub(ctx).year, half), True)


def _on_quarter_bare(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
    quarter = _ordinal(m, 4)
    if quarter is None or ctx.published is None:
        return None
    return _whole(m, _quarter_period(_pub(ctx).year, quarter), True)


def _named_handler(named: _NamedPeriod) -> _Handler:
    def handler(m: re.Match[str], ctx: _Anchor) -> list[_Hit] | None:
        p = named.period
        return _whole(m, Period(p.start, p.end, p.label, p.granularity), False)

    return handler


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    handler: _Handler


@dataclass(frozen=True)
class _Rules:
    rules: tuple[_Rule, ...]
    year: re.Pattern[str]  # a plain year, for anchors


def _rule(name: str, pattern: str, handler: _Handler) -> _Rule:
    return _Rule(name, re.compile(pattern, re.IGNORECASE), handler)


_RANGE_SEPARATOR = r"(?P<sep>\s*[-–—/]\s*|\s+(?:to|through|until|till|and)\s+)"
_NOT_A_RANGE = r"(?!\s*[-–—/]\s*\d)"  # "Brief 2025-30" is a serial number, "2021-2025" a range
_POSSESSIVE = r"(?:['’]s)?"
_THE_DAY_BEFORE = r"the\s+day\s+before(?!\s+(?:the|a|an|his|her|its|their|our|this|that|last|yesterday)\b)"
_RELATIVE_SEASON = r"(?P<rel>this\s+past|this\s+coming|the\s+past|the\s+coming|this|last|next)"


def _year_rules() -> list[_Rule]:
    return [
        _rule("year", rf"{_PREP}(?:\bthe\s+year\s+)?(?P<year>{_YEAR}){_NOT_A_RANGE}", _on_year),
        _rule("year_range", rf"{_PREP}(?:\b(?P<lead>from|between)\s+)?(?P<a>{_YEAR}){_RANGE_SEPARATOR}(?P<b>{_YEAR})",
              _on_year_range),
        _rule("lost_dash", r"(?<![\w.,])(?P<a>(?:19|20)\d\d)(?P<b>(?:19|20)\d\d)(?![\w%]|[.,]\d)", _on_lost_dash),
        # "in 2019-21 (combined)": only after a preposition, since "Brief 2025-30" is a serial number
        _rule("short_year_range", r"\b(?P<prep>in|during|over|from|for|throughout|between)\s+(?P<a>(?:19|20)\d\d)"
                                  r"\s*[-–]\s*(?P<b>\d\d)(?![\w%]|[.,]\d)", _on_short_year_range),
        _rule("decade", rf"{_PREP}(?:\bthe\s+)?(?<![\w$])(?P<decade>(?:19|20)\d0)['’]?s\b", _on_decade),
    ]


def _relative_rules(v: _Vocabulary) -> list[_Rule]:
    number = _number_pattern(v)
    relative = r"this|last|next|the\s+(?:previous|past|prior|preceding|following|coming|current|next|same)"
    span = rf"(?:(?P<n>{number})\s+(?P<unit>years|months|decades)|(?P<decade>decade))"
    day_word = rf"the\s+day\s+before\s+yesterday|yesterday|today|tomorrow|the\s+previous\s+day|{_THE_DAY_BEFORE}"
    return [
        _rule("rolling_year", r"(?:\b(?P<prep>in|over|during|within|throughout)\s+)?"
                              r"\bthe\s+(?:past|last)\s+(?:year|12\s+months|twelve\s+months)\b(?!['’]s)", _on_rolling_year),
        _rule("relative_year", rf"{_PREP}\b(?P<rel>{relative})\s+year\b{_POSSESSIVE}", _on_relative_year),
        _rule("year_before", rf"{_PREP}\b(?:the|a)\s+year\s+(?P<rel>before|after|earlier|later)\b"
                             r"(?!\s+(?:the|a|an|his|her|its|their|our|that|this|last|next)\b)", _on_relative_year),
        _rule("past_span", r"(?:\b(?P<prep>in|over|during|for|within|throughout)\s+)?"
                           rf"\bthe\s+(?:past|last|previous|preceding)\s+{span}\b", _on_past_span),
        _rule("ago", rf"\b(?P<n>{number}|a|an)\s+(?P<unit>years?|months?|days?)\s+ago\b", _on_ago),
        _rule("weekday", r"\b(?P<prep>on|last)\s+(?P<weekday>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b",
              _on_weekday),
        _rule("month_word", rf"\b(?P<rel>this|last|next|the\s+(?:past|current|coming))\s+month\b{_POSSESSIVE}",
              _on_month_word),
        # "last week": the Monday to Sunday before publication; "a week earlier": that day a week before
        _rule("week_word", rf"\b(?P<rel>this|last|the\s+previous)\s+week\b{_POSSESSIVE}", _on_week_word),
        _rule("week_before", r"\b(?:a|one|two|three)\s+weeks?\s+(?:earlier|before)\b", _on_week_before),
        _rule("day_word", rf"\b(?P<word>{day_word}){_POSSESSIVE}(?![\w-])", _on_day_word),
    ]


def _day_rules(v: _Vocabulary) -> list[_Rule]:
    month = _month_pattern(v)
    year = rf"(?:(?:,\s*|\s+)(?P<year>{_YEAR})|,?\s+(?:of\s+)?{_REL_YEAR})?"
    days = (rf"(?P<days>\d\d?\s*[-–]\s*\d\d?{_DAY_END}"  # June 25-27
            rf"|{_DAY}(?:\s*,\s*{_DAY})*\s*,?\s+(?:and|&)\s+{_DAY}{_DAY_END}"  # Dec. 1 and 27
            rf"|{_DAY}{_DAY_END})")
    which = r"(?:\b(?P<relm>this\s+past|this\s+coming|last|this|next)\s+)?"
    day_first = r"(?:\bthe\s+)?(?<![\w.,:/-])(?P<day>\d\d?)(?:st|nd|rd|th)?\s+(?:of\s+)?"
    iso = rf"(?<![\w.\-/])(?P<y>{_YEAR_CORE})(?P<sep>[-./])(?P<m>\d\d?)(?P=sep)(?P<d>\d\d?)(?![\w]|[.\-/]\d)"
    return [
        _rule("month_day", rf"{_PREP}{which}\b{month}\s*{days}{year}", _on_month_day),
        _rule("day_month", rf"{_PREP}{day_first}\b{month}{year}", _on_day_month),
        _rule("iso", iso, _on_iso),
    ]


def _month_rules(v: _Vocabulary) -> list[_Rule]:
    month, full = _month_pattern(v), _words(list(v.full_months))
    part = r"\b(?P<part>early|mid|middle|late|the\s+(?:beginning|start|middle|end|close)\s+of)(?:\s+|\s*-\s*)"
    of_year = rf"(?:,?\s+(?:of\s+)?(?P<year>{_YEAR})|,?\s+(?:of\s+)?{_REL_YEAR})?"
    second = _month_pattern(v, "month2")
    return [
        # "from January to June", "between March and May 2024", "January–June": one span of months
        _rule("month_range", rf"(?:\b(?P<lead>from|between)\s+)?\b{month}\s*(?:-|–|—|\s+to\s+|\s+through\s+|"
                             rf"\s+until\s+|\s+and\s+){second}(?:,?\s+(?:of\s+)?(?P<year>{_YEAR}))?",
              _on_month_range),
        _rule("first_months", rf"{_PREP}\bthe\s+first\s+(?P<n>{_number_pattern(v)})\s+months\s+of\s+"
                              rf"(?:(?P<year>{_YEAR})|(?:the|this)\s+year)", _on_first_months),
        _rule("month_year", rf"{_PREP}\b{month},?\s+(?:of\s+)?(?P<year>{_YEAR})", _on_month_year),
        _rule("month_rel_before", rf"{_PREP}\b(?P<rel>this\s+past|this\s+coming|last|this|next)\s+{month}",
              _on_month_relative),
        _rule("month_rel_after", rf"{_PREP}\b{month},?\s+(?:of\s+)?(?P<rel>(?:this|last|next)\s+year)\b{_POSSESSIVE}",
              _on_month_relative),
        _rule("bare_month", rf"{_PREP}(?P<of>\bthe\s+month\s+of\s+)?(?<![\w-])(?P<month>{full})\b(?!-\w)",
              _on_bare_month),
        _rule("month_part", rf"{_PREP}{part}{month}{of_year}", _on_month_part),
        _rule("year_part", rf"{_PREP}{part}(?:(?P<year>{_YEAR})|(?P<rel>this|last|next|the)\s+year\b)", _on_year_part),
    ]


def _season_rules(v: _Vocabulary) -> list[_Rule]:
    season = _season_pattern(v)
    adjective = rf"(?!\s+(?:{_words(v.season_nouns)})\b)"  # "over winter wheat sowing"
    return [
        _rule("season_year", rf"{_PREP}(?:\bthe\s+)?\b{season}\s+(?:of\s+)?(?:(?P<year>{_YEAR})|{_REL_YEAR})",
              _on_season_year),
        _rule("year_season", rf"{_PREP}(?:\bthe\s+)?(?P<year>{_YEAR})\s+{season}", _on_season_year),
        _rule("season_relative", rf"{_PREP}\b{_RELATIVE_SEASON}\s+{season}", _on_season_relative),
        _rule("season_bare", rf"\b(?P<prep>in|during|throughout|by|over)\s+(?:the\s+)?{season}(?!\s+of\b)(?![\w-])"
                             rf"{adjective}", _on_season_relative),
    ]


def _part_of_year_rules(v: _Vocabulary) -> list[_Rule]:
    """Halves and quarters; the empty groups let every handler read "n" and "ord"."""
    ordinal = _ordinal_pattern(v)
    of_year = rf"\s+of\s+(?:(?P<year>{_YEAR})|(?P<rel>this|last|next|the)\s+year\b)"
    bare = r"\b(?!\s+of\b)(?![\w-])"  # "the second half", never "the second half of the match"
    return [
        _rule("half", rf"{_PREP}(?:\bthe\s+)?\b{ordinal}\s+half{of_year}(?P<n>)", _on_half),
        _rule("half_bare", rf"{_PREP}\bthe\s+{ordinal}\s+half{bare}(?P<n>)", _on_half_bare),
        _rule("half_code", rf"{_PREP}\b(?-i:H)(?P<n>[12])\s*(?:of\s+)?(?P<year>{_YEAR})(?P<ord>)", _on_half),
        _rule("year_half", rf"{_PREP}(?P<year>{_YEAR})\s+(?-i:H)(?P<n>[12])\b(?P<ord>)", _on_half),
        _rule("quarter", rf"{_PREP}(?:\bthe\s+)?\b{ordinal}\s+quarter{of_year}(?P<n>)", _on_quarter),
        _rule("quarter_bare", rf"{_PREP}\bthe\s+{ordinal}\s+quarter{bare}(?P<n>)", _on_quarter_bare),
        _rule("quarter_code", rf"{_PREP}\b(?-i:Q)(?P<n>[1-4])\s*(?:of\s+)?(?P<year>{_YEAR})(?P<ord>)", _on_quarter),
        _rule("year_quarter", rf"{_PREP}(?P<year>{_YEAR})\s+(?-i:Q)(?P<n>[1-4])\b(?P<ord>)", _on_quarter),
    ]


@functools.cache
def _rules() -> _Rules:
    v = _vocabulary()
    rules = [*_year_rules(), *_relative_rules(v), *_day_rules(v), *_month_rules(v), *_season_rules(v),
             *_part_of_year_rules(v)]
    rules += [_Rule(f"named_{i}", n.pattern, _named_handler(n)) for i, n in enumerate(v.named)]
    return _Rules(
        rules=tuple(rules),
        year=re.compile(rf"{_PREP}(?P<year>{_YEAR}){_NOT_A_RANGE}", re.IGNORECASE),
    )


# --------------------------------------------------------------------------- finding


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    order: int  # rule order breaks ties between equally long matches
    rule: str
    mentions: tuple[TemporalMention, ...]


# Rules that cannot match without a four-digit year, or without a month's name, anywhere in the text: skipped
# for texts that have none (the date finder runs 42 patterns over every sentence that may hold a fact)
_NEEDS_YEAR = frozenset({"year", "year_range", "lost_dash", "short_year_range", "decade", "iso", "season_year",
                         "year_season", "half_code", "year_half", "quarter_code", "year_quarter", "month_year"})
_NEEDS_MONTH = frozenset({"month_day", "day_month", "month_range", "month_year", "month_rel_before",
                          "month_rel_after", "bare_month", "month_part"})
_ANY_YEAR = re.compile(r"(?:19|20)\d\d|2100")
_ANY_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", re.IGNORECASE)


def _candidates(ctx: _Anchor) -> list[_Candidate]:
    found: list[_Candidate] = []
    skipped = (_NEEDS_YEAR if not _ANY_YEAR.search(ctx.text) else frozenset()) | (
        _NEEDS_MONTH if not _ANY_MONTH.search(ctx.text) else frozenset())
    for order, rule in enumerate(_rules().rules):
        if rule.name in skipped:
            continue
        for m in rule.pattern.finditer(ctx.text):
            try:
                hits = rule.handler(m, ctx)
            except (ValueError, OverflowError, StopIteration):
                # impossible calendar dates ("February 30") and years out of range for
                # odd publication dates: not a temporal expression, never an error
                continue
            if hits:
                mentions = tuple(TemporalMention(ctx.text[s:e], s, e, p, r) for s, e, p, r in hits)
                found.append(_Candidate(m.start(), m.end(), order, rule.name, mentions))
    return found


def _find_tagged(ctx: _Anchor) -> list[tuple[str, TemporalMention]]:
    """Longest candidates first; a candidate overlapping a chosen one is dropped."""
    taken = bytearray(len(ctx.text))
    chosen: list[tuple[str, TemporalMention]] = []
    for c in sorted(_candidates(ctx), key=lambda c: (c.start - c.end, c.start, c.order)):
        if taken.find(1, c.start, c.end) != -1:
            continue
        taken[c.start:c.end] = b"\x01" * (c.end - c.start)
        chosen.extend((c.rule, mention) for mention in c.mentions)
    return sorted(chosen, key=lambda pair: pair[1].start_char)


def _as_date(published: date | None) -> date | None:
    """Dates and datetimes do not compare with each other: keep only the day."""
    if isinstance(published, datetime):
        return published.date()
    return published if isinstance(published, date) else None


def find_temporal(text: str, published: date | None) -> list[TemporalMention]:
    """Every temporal expression in ``text``, resolved; sorted and non-overlapping."""
    if not isinstance(text, str) or not text:
        return []
    return [m for _, m in _find_tagged(_Anchor(text, _as_date(published), strict=True))]


def resolve_expression(expression: str, published: date | None) -> Period | None:
    """The period of one expression ("last year", "Q3 2024"); the longest if it holds several."""
    if not isinstance(expression, str) or not expression.strip():
        return None
    found = _find_tagged(_Anchor(expression, _as_date(published), strict=False))
    if not found:
        return None
    best = max((m for _, m in found), key=lambda m: (m.end_char - m.start_char, -m.start_char))
    return best.period


# --------------------------------------------------------------------------- publication dates

_HEADER_CHARS = 3000
_HEADER_LINES = 5
_HEADER_LINE_CHARS = 120
_LABEL = re.compile(
    r"(?:^|[|·•])[ \t]*(?P<label>date\s+published|publication\s+date|published(?:\s+on)?|posted(?:\s+on)?|"
    r"issued(?:\s+on)?|released(?:\s+on)?|(?:last\s+)?updated(?:\s+on)?|modified|date)\b[ \t]*[:\-–]?[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
# "last year" as the year before publication; "over the last year" may mean 12 months.
_LAST_YEAR = re.compile(r"(?<!\bthe\s)\blast\s+year\b", re.IGNORECASE)
_THIS_YEAR = re.compile(r"\bthis\s+year\b", re.IGNORECASE)
# Words that tie a text to its own time. Without one, the years it names only bound the
# publication date from below (a KCNA anecdote "One day in May Juche 106 (2017)" is
# published years later), so no date is inferred from them.
_RECENCY = re.compile(
    r"\b(?:this|last|next)\s+(?:year|month|spring|summer|autumn|fall|winter)\b", re.IGNORECASE,
)
# In the sentence of a year, these say that the year is the present one ("the new year 2024").
_PRESENT = re.compile(r"\b(?:new\s+year|this\s+year|current\s+year|so\s+far)\b", re.IGNORECASE)


def _absolute_day(text: str, within: int) -> date | None:
    """The first explicitly dated day (ISO, "February 7, 2025") starting by ``within``."""
    for _, mention in _find_tagged(_Anchor(text, None, strict=True)):
        if mention.period.granularity == "day" and not mention.relative and mention.start_char <= within:
            return mention.period.start
    return None


def _labelled_date(text: str) -> date | None:
    """"Date 2025-11-19", "Published: Feb 10, 2026"; an "Updated" date only as a last resort."""
    found: list[tuple[bool, date]] = []
    for m in _LABEL.finditer(text, 0, _HEADER_CHARS):
        day = _absolute_day(text[m.end():m.end() + 40], within=3)
        if day is not None:
            label = m.group("label").lower()
            found.append(("updated" in label or "modified" in label, day))
    return min(found, key=lambda pair: pair[0])[1] if found else None


def _header_date(text: str) -> date | None:
    """A full date in a short header line near the top ("February 10, 2026 | Daily NK")."""
    lines = [line.strip() for line in text[:_HEADER_CHARS].splitlines() if line.strip()][:_HEADER_LINES]
    for line in lines:
        if len(line) > _HEADER_LINE_CHARS or line.endswith((".", "!", "?")):
            continue  # a sentence: its dates are events ("On August 24, 1945, the ship ...")
        for _, mention in _find_tagged(_Anchor(line, None, strict=True)):
            if mention.period.granularity == "day" and not mention.relative:
                return mention.period.start
    return None


@functools.cache
def _dateline() -> re.Pattern[str]:
    """"Pyongyang, December 24 (KCNA) --", with or without a year."""
    month = _month_pattern(_vocabulary())
    return re.compile(rf"^[ \t]*[A-Z][A-Za-z .'’-]{{1,40}},\s+{month}\s*(?P<day>\d\d?)(?:,\s*(?P<year>{_YEAR}))?"
                      r"\s*\((?P<agency>[A-Za-z][\w .-]{1,30})\)", re.MULTILINE | re.IGNORECASE)


def _dateline_date(text: str) -> date | None:
    m = _dateline().search(text)
    if m is None:
        return None
    month, day = _vocabulary().months[m.group("month").rstrip(".").lower()], int(m.group("day"))
    year = int(m.group("year")) if m.group("year") else _inferred_year(text)
    if year is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _is_future_reference(text: str, mention: TemporalMention) -> bool:
    """A plan or forecast ("by 2035", "the congress in 2026 will ...") says nothing about
    when the text was written, except that it was before."""
    v = _vocabulary()
    if mention.text.lower().startswith("by ") or v.future_preposition.search(text, max(0, mention.start_char - 20),
                                                                             mention.start_char):
        return True
    return bool(v.future_word.search(_sentence(text, mention)))


def _past_mentions(text: str) -> list[TemporalMention]:
    found = _find_tagged(_Anchor(text, None, strict=True))
    return [m for _, m in found if not m.relative and not _is_future_reference(text, m)]


def _sentence(text: str, mention: TemporalMention) -> str:
    start, end = sentence_bounds(text, mention.start_char, mention.end_char)
    return text[start:end]


def _inferred_year(text: str) -> int | None:
    """The publication year from what the text reports: a year it calls the present one;
    else the latest year it reports on, or the year after it when the text says "last
    year" and never "this year". None without a word tying the text to its own time."""
    if not _RECENCY.search(text):
        return None
    past = _past_mentions(text)
    if not past:
        return None
    present = [m.period.start.year for m in past
               if m.period.granularity == "year" and _PRESENT.search(_sentence(text, m))]
    if present:
        return max(present)
    latest = max(m.period.start.year for m in past)
    return latest + 1 if _LAST_YEAR.search(text) and not _THIS_YEAR.search(text) else latest


def _earliest_in_year(text: str, year: int) -> date:
    """The earliest publication date in ``year`` consistent with the text: after every
    dated day or month it reports on, and after every "Month Day" without a year."""
    bounds = [date(year, 1, 1)]
    bounds += [m.period.start for m in _past_mentions(text)
               if m.period.start.year == year and m.period.granularity in ("day", "month")]
    probe = _Anchor(text, date(year, 12, 31), strict=True)
    bounds += [m.period.start for rule, m in _find_tagged(probe)
               if rule in ("month_day", "day_month") and m.relative and m.period.start.year == year]
    return max(bounds)


def infer_publication_date(text: str) -> date | None:
    """Publication date of an undated document, or None when nothing in it says.

    Explicit signals first (a "Date"/"Published" label, a full date in the header, a
    news-agency dateline); otherwise the earliest date consistent with what the text
    reports: for an article that says "last year" about 2025 events and "Reports on
    February 7", that is 2026-02-07.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    explicit = _labelled_date(text) or _header_date(text) or _dateline_date(text)
    if explicit is not None:
        return explicit
    year = _inferred_year(text)
    return None if year is None else _earliest_in_year(text, year)
