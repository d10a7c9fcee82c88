"""Read-only queries of the analyst's workbench: the register and the facts filtered and paged,
the register's stored yearly tallies, and one document with its text, entities, facts and sector labels.

Every filter value reaches SQL as a bound parameter (SQLAlchemy Core, on SQLite and PostgreSQL);
text filters match case-insensitively anywhere in the column, with ``%`` and ``_`` taken as the
characters they are. Rows a reviewer rejected are left out, as the tallies leave them out, and so
are the facts of a story's copies (its cluster's representative speaks for it). Nothing here writes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.store.db import (
    Store,
    activities,
    activity_people,
    activity_tallies,
    documents,
    entities,
    facts,
    sector_labels,
    sources,
    story_clusters,
)
from pipeline.tallies import counting_rule

T = TypeVar("T")

UNKNOWN_SECTOR = "unknown"  # the tallies' name for a row without a sector
ALL_KINDS = "all"  # a register filter for every kind of row, counted or not
COMPANION_ROLES = ("accompanied", "present")
COUNTERPART_ROLE = "counterpart"
TALLY_BREAKDOWNS = ("total", "sector", "type")  # the stored tallies the workbench shows


@dataclass(frozen=True)
class Paged(Generic[T]):
    """One slice of a filtered, ordered result, and how many rows the whole result has."""

    rows: tuple[T, ...]
    total: int
    offset: int
    limit: int


# --- the register ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterFilter:
    date_from: date | None = None  # on the day a row counts on: its event date, else its report date
    date_to: date | None = None
    sector: str | None = None  # a sector, or "unknown" for rows without one
    activity_type: str | None = None
    place: str | None = None
    companion: str | None = None  # a name among those who accompanied him or were present
    counterpart: str | None = None  # the counterpart country, or a name among those he met
    kind: str | None = None  # None: the rows a tally counts; "all": every row; else one kind of row


@dataclass(frozen=True)
class RegisterRow:
    activity_id: str
    day: date | None  # the event date, else the report date: the day the row counts on
    date_precision: str | None
    kind: str
    activity_type: str
    sector: str | None
    place: str | None
    counterpart_country: str | None
    title: str | None
    document_ids: tuple[str, ...]
    companions: tuple[str, ...]
    counterparts: tuple[str, ...]  # the people he met
    reviewed: bool
    rejected: bool


def activity_day() -> sa.ColumnElement:
    """The day a register row counts on: its event date, else its report date."""
    return sa.func.coalesce(activities.c.event_date, activities.c.report_date)


def counted_clause() -> sa.ColumnElement[bool]:
    """The rows a tally counts, as SQL: the same rule as ``pipeline.tallies.row_counts``."""
    always, unless_part_of_an_event = counting_rule()
    return sa.or_(activities.c.kind.in_(always),
                  sa.and_(activities.c.kind.in_(unless_part_of_an_event), activities.c.part_of.is_(None)))


def _person_named(roles: Sequence[str], name: str) -> sa.ColumnElement[bool]:
    return sa.exists(sa.select(activity_people.c.id).where(
        activity_people.c.activity_id == activities.c.activity_id, activity_people.c.role.in_(list(roles)),
        activity_people.c.name.icontains(name, autoescape=True)))


def _register_where(wanted: RegisterFilter) -> list[sa.ColumnElement[bool]]:
    where = [activities.c.rejected.is_(False)]
    if wanted.kind is None:
        where.append(counted_clause())
    elif wanted.kind != ALL_KINDS:
        where.append(activities.c.kind == wanted.kind)
    if wanted.date_from:
        where.append(activity_day() >= wanted.date_from)
    if wanted.date_to:
        where.append(activity_day() <= wanted.date_to)
    if wanted.sector == UNKNOWN_SECTOR:
        where.append(activities.c.sector.is_(None))
    elif wanted.sector:
        where.append(activities.c.sector == wanted.sector)
    if wanted.activity_type:
        where.append(activities.c.activity_type == wanted.activity_type)
    if wanted.place:
        where.append(activities.c.place.icontains(wanted.place, autoescape=True))
    if wanted.companion:
        where.append(_person_named(COMPANION_ROLES, wanted.companion))
    if wanted.counterpart:
        where.append(sa.or_(activities.c.counterpart_country.icontains(wanted.counterpart, autoescape=True),
                            _person_named((COUNTERPART_ROLE,), wanted.counterpart)))
    return where


def register_page(store: Store, wanted: RegisterFilter, offset: int, limit: int) -> Paged[RegisterRow]:
    """The register's rows that match, oldest first (rows without a date last), ``limit`` from ``offset``."""
    where = _register_where(wanted)
    query = (sa.select(activities, activity_day().label("day")).where(*where)
             .order_by(activity_day().is_(None), activity_day(), activities.c.activity_id).offset(offset).limit(limit))
    with store.reading() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(activities).where(*where)).scalar_one()
        found = conn.execute(query).all()
        people = _people_of(conn, [r.activity_id for r in found])
    return Paged(tuple(_register_row(r, people.get(r.activity_id, ())) for r in found), total, offset, limit)


def register_months(store: Store, wanted: RegisterFilter) -> dict[str, dict[str, int]]:
    """Rows that match per month ("YYYY-MM") and sector ("unknown" for none); undated rows are left out."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = sa.select(activity_day().label("day"), activities.c.sector).where(*_register_where(wanted),
                                                                            activity_day().is_not(None))
    with store.reading() as conn:
        for day, sector in conn.execute(query):
            table[f"{day:%Y-%m}"][sector or UNKNOWN_SECTOR] += 1
    return {month: dict(sectors) for month, sectors in sorted(table.items())}


def activity_row(store: Store, activity_id: str) -> RegisterRow | None:
    """One register row by id, whatever its kind, rejected ones included (their page says so)."""
    with store.reading() as conn:
        found = conn.execute(sa.select(activities, activity_day().label("day"))
                             .where(activities.c.activity_id == activity_id)).first()
        if found is None:
            return None
        return _register_row(found, _people_of(conn, [activity_id]).get(activity_id, ()))


def activity_types(store: Store) -> list[str]:
    """The activity types the register holds, for a filter's choices."""
    with store.reading() as conn:
        return list(conn.execute(sa.select(activities.c.activity_type).distinct()
                                 .order_by(activities.c.activity_type)).scalars())


def _people_of(conn: Connection, activity_ids: Sequence[str]) -> dict[str, list[sa.Row]]:
    people: dict[str, list[sa.Row]] = {}
    if activity_ids:
        for person in conn.execute(sa.select(activity_people).where(
                activity_people.c.activity_id.in_(list(activity_ids))).order_by(activity_people.c.id)):
            people.setdefault(person.activity_id, []).append(person)
    return people


def _register_row(row: sa.Row, people: Sequence[sa.Row]) -> RegisterRow:
    return RegisterRow(
        row.activity_id, row.day, row.date_precision, row.kind, row.activity_type, row.sector, row.place,
        row.counterpart_country, row.title, tuple(json.loads(row.document_ids)),
        tuple(p.name for p in people if p.role in COMPANION_ROLES),
        tuple(p.name for p in people if p.role == COUNTERPART_ROLE), bool(row.reviewed), bool(row.rejected))


@dataclass(frozen=True)
class TallyCount:
    year: int
    by: str  # total | sector | type
    key: str
    count: int


def register_tallies(store: Store, year: int | None = None) -> list[TallyCount]:
    """The register's stored yearly counts in total, by sector and by type (of one year, or all)."""
    query = sa.select(activity_tallies).where(activity_tallies.c.by.in_(TALLY_BREAKDOWNS))
    if year is not None:
        query = query.where(activity_tallies.c.year == year)
    with store.reading() as conn:
        return [TallyCount(r.year, r.by, r.key, r.count)
                for r in conn.execute(query.order_by(activity_tallies.c.year, activity_tallies.c.id))]


# --- facts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactFilter:
    kind: str | None = None
    subjects: tuple[str, ...] | None = None  # stored subjects exactly (``pipeline.workbench`` resolves a name)
    unit: str | None = None  # the whole unit, in any case
    place: str | None = None
    period_from: date | None = None  # facts whose period overlaps from..to
    period_to: date | None = None


@dataclass(frozen=True)
class FactRow:
    fact_id: int
    document_id: str
    kind: str
    subject: str | None
    sector: str | None
    category: str | None
    counterpart: str | None
    place: str | None
    period_start: date | None
    period_end: date | None
    period_label: str | None
    period_precision: str | None
    value: float | None
    low: float | None
    high: float | None
    qualifier: str | None
    unit: str | None
    sentence: str | None
    start_char: int | None
    end_char: int | None
    confidence: float | None
    reviewed: bool
    document_title: str | None
    document_published: date | None


def _copies() -> sa.Select:
    return sa.select(story_clusters.c.document_id).where(story_clusters.c.representative.is_(False))


def _fact_where(wanted: FactFilter) -> list[sa.ColumnElement[bool]]:
    where = [facts.c.rejected.is_(False), facts.c.document_id.not_in(_copies())]
    if wanted.kind:
        where.append(facts.c.kind == wanted.kind)
    if wanted.subjects is not None:
        where.append(facts.c.subject.in_(list(wanted.subjects)) if wanted.subjects else sa.false())
    if wanted.unit:
        where.append(sa.func.lower(facts.c.unit) == wanted.unit.lower())
    if wanted.place:
        where.append(facts.c.place.icontains(wanted.place, autoescape=True))
    if wanted.period_from:
        where.append(facts.c.period_end >= wanted.period_from)
    if wanted.period_to:
        where.append(facts.c.period_start <= wanted.period_to)
    return where


_FACT_COLUMNS = (facts, documents.c.title.label("document_title"), documents.c.published.label("document_published"))


def facts_page(store: Store, wanted: FactFilter, offset: int, limit: int) -> Paged[FactRow]:
    """The facts that match, by period (facts without one last), document and place in the text."""
    where = _fact_where(wanted)
    query = (sa.select(*_FACT_COLUMNS).join(documents, facts.c.document_id == documents.c.document_id)
             .where(*where).order_by(facts.c.period_start.is_(None), facts.c.period_start, facts.c.document_id,
                                     facts.c.start_char, facts.c.id).offset(offset).limit(limit))
    with store.reading() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(facts).where(*where)).scalar_one()
        return Paged(tuple(_fact_row(r) for r in conn.execute(query)), total, offset, limit)


def fact_in_document(store: Store, fact_id: int, document_id: str) -> FactRow | None:
    """One fact of one document (rejected ones too: a link to one may be older than the rejection)."""
    query = (sa.select(*_FACT_COLUMNS).join(documents, facts.c.document_id == documents.c.document_id)
             .where(facts.c.id == fact_id, facts.c.document_id == document_id))
    with store.reading() as conn:
        found = conn.execute(query).first()
    return None if found is None else _fact_row(found)


def fact_subjects(store: Store) -> list[str]:
    """Every subject the (not rejected) facts name."""
    with store.reading() as conn:
        return list(conn.execute(sa.select(facts.c.subject).distinct().where(
            facts.c.subject.is_not(None), facts.c.rejected.is_(False)).order_by(facts.c.subject)).scalars())


def fact_units(store: Store) -> list[str]:
    with store.reading() as conn:
        return list(conn.execute(sa.select(facts.c.unit).distinct().where(
            facts.c.unit.is_not(None), facts.c.rejected.is_(False)).order_by(facts.c.unit)).scalars())


def _fact_row(r: sa.Row) -> FactRow:
    return FactRow(r.id, r.document_id, r.kind, r.subject, r.sector, r.category, r.counterpart, r.place,
                   r.period_start, r.period_end, r.period_label, r.period_precision, r.value, r.low, r.high,
                   r.qualifier, r.unit, r.sentence, r.start_char, r.end_char, r.confidence, bool(r.reviewed),
                   r.document_title, r.document_published)


# --- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredDocument:
    document_id: str
    title: str | None
    url: str
    published: date | None
    source_name: str | None
    text: str


def stored_document(store: Store, document_id: str) -> StoredDocument | None:
    query = (sa.select(documents.c.document_id, documents.c.title, documents.c.url, documents.c.published,
                       sources.c.name.label("source_name"), documents.c.text)
             .join(sources, sources.c.id == documents.c.source_id).where(documents.c.document_id == document_id))
    with store.reading() as conn:
        found = conn.execute(query).first()
    return None if found is None else StoredDocument(*found)


@dataclass(frozen=True)
class EntityRow:
    label: str
    text: str
    start_char: int
    end_char: int
    canonical_id: str | None
    canonical_name: str | None


def document_entities(store: Store, document_id: str) -> list[EntityRow]:
    """The document's entities in the order of the text."""
    query = (sa.select(entities.c.label, entities.c.text, entities.c.start_char, entities.c.end_char,
                       entities.c.canonical_id, entities.c.canonical_name)
             .where(entities.c.document_id == document_id).order_by(entities.c.start_char, entities.c.entity_index))
    with store.reading() as conn:
        return [EntityRow(*r) for r in conn.execute(query)]


def document_facts(store: Store, document_id: str) -> list[FactRow]:
    """The document's facts (not rejected) in the order of the text."""
    query = (sa.select(*_FACT_COLUMNS).join(documents, facts.c.document_id == documents.c.document_id)
             .where(facts.c.document_id == document_id, facts.c.rejected.is_(False))
             .order_by(facts.c.start_char, facts.c.id))
    with store.reading() as conn:
        return [_fact_row(r) for r in conn.execute(query)]


@dataclass(frozen=True)
class SectorLabel:
    unit: str  # document | paragraph | activity
    unit_index: int
    sector: str
    probability: float
    probabilities: dict[str, float]  # every sector's, highest first; empty when a reviewer set the sector
    model_version: str
    reviewed: bool


def document_sector_labels(store: Store, document_id: str) -> list[SectorLabel]:
    """The document's sector labels: the whole document first, then its paragraphs and activities."""
    query = (sa.select(sector_labels).where(sector_labels.c.document_id == document_id)
             .order_by(sa.case((sector_labels.c.unit == "document", 0), else_=1), sector_labels.c.unit,
                       sector_labels.c.unit_index, sector_labels.c.id))
    with store.reading() as conn:
        rows = conn.execute(query).all()
    # a reviewer's sector keeps the model's probabilities in the row, which no longer describe it
    return [SectorLabel(r.unit, r.unit_index, r.sector, r.probability,
                        {} if r.reviewed else dict(sorted(json.loads(r.probabilities or "{}").items(),
                                                          key=lambda kv: -kv[1])),
                        r.model_version, bool(r.reviewed)) for r in rows]
