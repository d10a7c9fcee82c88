"""Market series: the won's rates and the prices of goods, merged across outlets from the facts.

Many outlets report the won/dollar and won/yuan rates and rice and corn prices, each for its own city
and survey date. ``build_points`` turns the facts into one point per (measure, unit, place, survey
period) and outlet; ``monthly`` merges them per month and city into a median with the low and the high
across outlets, the number of sources, and a divergence flag when the outlets disagree by more than
a configurable share of the median.

Rules, and why:

* A point is dated by its survey period when the text gives one, else by the publication date
  (``dated_by`` says which): analysts must be able to tell a dated quote from an undated one.
* A fact about a period longer than ``MAX_SURVEY_DAYS`` (a yearly average, "in the first half") is no
  monthly observation; it is skipped, and the skip is counted and shown.
* A story republished under several links counts once: the facts come from ``query_facts``, which keeps
  only each story cluster's representative. An outlet quoting the same survey twice counts once too.
* Within a month an outlet's own quotes are first reduced to their median, so an outlet that reports
  weekly does not outvote one that reports monthly.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from pipeline.records import MonthSummary, SeriesPoint
from pipeline.store import document_rows, series_rows
from pipeline.store.db import Store

MAX_SURVEY_DAYS = 31
RATE_UNITS = ("KPW/USD", "KPW/CNY")
PRICE_UNIT = "KPW/kg"
NO_PLACE = "no city named"


@dataclass(frozen=True)
class SeriesBuild:
    """The points of a build and the facts it left out, by reason."""

    points: tuple[SeriesPoint, ...]
    skipped: Mapping[str, int]


def refresh_series(store: Store) -> SeriesBuild:
    """The nightly step: rebuild the stored points from the stored market facts."""
    facts = [*document_rows.query_facts(store, "exchange_rate"), *document_rows.query_facts(store, "price")]
    built = build_points(facts)
    series_rows.replace_points(store, built.points)
    return built


def measure_of(fact: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (measure, unit) a market fact belongs to, or None for a fact that is no market number."""
    unit = fact.get("unit")
    if fact.get("kind") == "exchange_rate" and unit in RATE_UNITS:
        return (f"{unit} official" if fact.get("category") == "official" else unit), unit
    if fact.get("kind") == "price" and unit == PRICE_UNIT and fact.get("category"):
        return str(fact["category"]).lower(), unit
    return None


def point_value(fact: Mapping[str, Any]) -> float | None:
    """The number a fact stands for: its value, a range's middle, or the bound it gives."""
    low, high = fact.get("low"), fact.get("high")
    if fact.get("qualifier") == "range" and low is not None and high is not None:
        return (low + high) / 2
    if fact.get("value") is not None:
        return float(fact["value"])
    bound = low if low is not None else high
    return None if bound is None else float(bound)


def outlet_of(url: str | None, source_name: str | None, document_id: str) -> str:
    """The site that published a document; for a file, the name its source was given; else the document."""
    host = (urlsplit(url or "").hostname or "").removeprefix("www.")
    return host or source_name or f"document {document_id}"


def build_points(facts: Iterable[Mapping[str, Any]]) -> SeriesBuild:
    """Series points from stored facts (``query_facts`` rows: a fact with its document's URL and date)."""
    points: dict[tuple, SeriesPoint] = {}
    skipped: Counter[str] = Counter()
    for fact in sorted(facts, key=lambda f: (f.get("document_published") or date.max, f.get("id") or 0)):
        point, reason = _point(fact)
        if point is None:
            if reason:
                skipped[reason] += 1
            continue
        key = (point.measure, point.place, point.survey_start, point.survey_end, point.outlet)
        if key in points:
            skipped["the same outlet's quote of the same survey again"] += 1
            continue
        points[key] = point
    ordered = sorted(points.values(), key=lambda p: (p.measure, p.place or "", p.survey_end, p.outlet))
    return SeriesBuild(tuple(ordered), dict(skipped))


def _point(fact: Mapping[str, Any]) -> tuple[SeriesPoint | None, str | None]:
    measured = measure_of(fact)
    if measured is None:
        return None, None  # a count, not a market number: not the series' business
    value = point_value(fact)
    if value is None:
        return None, "no number"
    published = fact.get("document_published")
    start, end = fact.get("period_start"), fact.get("period_end")
    dated_by = "survey"
    if start is None or end is None:
        if published is None:
            return None, "no survey date and no publication date"
        start = end = published
        dated_by = "publication"
    if (end - start).days + 1 > MAX_SURVEY_DAYS:
        return None, f"a period longer than {MAX_SURVEY_DAYS} days (an average, not a survey)"
    measure, unit = measured
    outlet = outlet_of(fact.get("document_url"), fact.get("source_name"), fact["document_id"])
    return SeriesPoint(measure, unit, fact.get("place") or None, start, end, dated_by, published, value,
                       fact.get("low"), fact.get("high"), fact.get("qualifier"), outlet, fact["document_id"],
                       fact.get("id"), fact.get("sentence")), None


def monthly(points: Iterable[SeriesPoint], divergence_share: float) -> list[MonthSummary]:
    """Per measure, place and month: the median of the outlets' own medians, their low and high, and
    whether they diverge (high - low above ``divergence_share`` of the median, with two outlets or more)."""
    groups: dict[tuple, list[SeriesPoint]] = defaultdict(list)
    for point in points:
        groups[(point.measure, point.unit, point.place, point.month)].append(point)
    return [_summary(key, rows, divergence_share) for key, rows in sorted(groups.items(), key=_group_order)]


def _group_order(item: tuple[tuple, list[SeriesPoint]]) -> tuple:
    measure, unit, place, month = item[0]
    return measure, place or "", month


def _summary(key: tuple, rows: Sequence[SeriesPoint], divergence_share: float) -> MonthSummary:
    measure, unit, place, month = key
    by_outlet: dict[str, list[float]] = defaultdict(list)
    for point in rows:
        by_outlet[point.outlet].append(point.value)
    outlet_values = [statistics.median(values) for values in by_outlet.values()]
    median = statistics.median(outlet_values)
    low, high = min(outlet_values), max(outlet_values)
    divergent = len(outlet_values) > 1 and median > 0 and (high - low) / median > divergence_share
    return MonthSummary(measure, unit, place, month, median, low, high, len(outlet_values), len(rows), divergent)


def select(points: Iterable[SeriesPoint], measure: str | None = None, place: str | None = None) -> list[SeriesPoint]:
    """The points of one measure and one place (both matched without regard to case; None: any)."""
    wanted_measure = measure.casefold() if measure else None
    wanted_place = place.casefold() if place else None
    return [p for p in points
            if (wanted_measure is None or p.measure.casefold() == wanted_measure)
            and (wanted_place is None or (p.place or NO_PLACE).casefold() == wanted_place)]


def measures(points: Iterable[SeriesPoint]) -> list[tuple[str, str, int, int]]:
    """Each measure and place with its number of points and of outlets, most points first."""
    counts: Counter[tuple[str, str]] = Counter()
    outlets: dict[tuple[str, str], set[str]] = defaultdict(set)
    for point in points:
        key = (point.measure, point.place or NO_PLACE)
        counts[key] += 1
        outlets[key].add(point.outlet)
    return [(measure, place, n, len(outlets[(measure, place)]))
            for (measure, place), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


SUMMARY_COLUMNS = ("measure", "unit", "place", "month", "median", "low", "high", "spread", "sources", "points",
                   "divergent")
POINT_COLUMNS = (*(f.name for f in fields(SeriesPoint)), "month")


def summary_rows(summaries: Iterable[MonthSummary]) -> list[dict[str, Any]]:
    """Month summaries as table rows (CSV, the web page's table, the JSON API)."""
    return [{**asdict(m), "place": m.place or NO_PLACE, "spread": round(m.spread, 4)} for m in summaries]


def point_rows(points: Iterable[SeriesPoint]) -> list[dict[str, Any]]:
    """Points as table rows, with their month."""
    return [{**asdict(p), "place": p.place or NO_PLACE, "month": p.month} for p in points]
