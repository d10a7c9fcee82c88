"""Read-only queries of the workbench's people: who appears with the leader in the register, how often,
when first and last, and their rank among his companions.

An appearance is a register row the tallies count (not rejected, not a letter or digest, not a part of an
event counted already) that names the person: as a companion (accompanied him, or was present) or as a
counterpart he met. The rank is among companions only, by companion appearances, ties sharing a rank
(1, 2, 2, 4): over every year, or within one. Undated rows count in no year and give no first or last
day. A reviewer's alias merge or split moves the register's people at once, so these follow it. Filters
reach SQL as bound parameters (SQLAlchemy Core, SQLite and PostgreSQL alike). Nothing here writes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from pipeline.store.db import Store, activities, activity_people, person_aliases, persons
from pipeline.store.workbench_rows import (
    COMPANION_ROLES,
    COUNTERPART_ROLE,
    Paged,
    activity_day,
    counted_clause,
)

ROLES = (*COMPANION_ROLES, COUNTERPART_ROLE)  # accompanied, present, counterpart: the order the pages show


@dataclass(frozen=True)
class PeopleFilter:
    year: int | None = None  # count only this year's rows (by the day a row counts on)
    name: str | None = None  # any part of the person's name, in any case
    person_id: str | None = None  # one person, with the rank taken among all


@dataclass(frozen=True)
class PersonCount:
    """One person's appearances with the leader over the filter's period."""

    person_id: str
    name: str
    appearances: int  # rows naming the person in any role
    accompanied: int
    present: int
    met: int  # as a counterpart
    first_seen: date | None
    last_seen: date | None
    rank: int | None  # among companions, by accompanied + present; None for a counterpart only
    companions: int  # how many people were companions in the period (the rank is out of these)


def _counted_rows(year: int | None) -> list[sa.ColumnElement[bool]]:
    where = [activities.c.rejected.is_(False), counted_clause()]
    if year is not None:
        where += [activity_day() >= date(year, 1, 1), activity_day() <= date(year, 12, 31)]
    return where


def _role_count(role: str) -> sa.ColumnElement[int]:
    return sa.func.count(sa.distinct(sa.case((activity_people.c.role == role, activities.c.activity_id))))


def _counts(year: int | None, by_year: bool = False) -> sa.Subquery:
    """Per person (and year, ``by_year``): appearances by role, first and last day, and companion rank."""
    year_of = sa.extract("year", activity_day())
    keys = [activity_people.c.person_id, *([year_of.label("year")] if by_year else [])]
    companion = (_role_count("accompanied") + _role_count("present"))
    ranked = sa.func.rank().over(partition_by=year_of if by_year else None, order_by=companion.desc())
    companions = sa.func.count(sa.case((companion > 0, 1))).over(partition_by=year_of if by_year else None)
    where = _counted_rows(year) + ([activity_day().is_not(None)] if by_year else [])
    return (sa.select(*keys, sa.func.count(sa.distinct(activities.c.activity_id)).label("appearances"),
                      _role_count("accompanied").label("accompanied"), _role_count("present").label("present"),
                      _role_count(COUNTERPART_ROLE).label("met"), sa.func.max(activity_people.c.name).label("named"),
                      sa.func.min(activity_day()).label("first_seen"),
                      sa.func.max(activity_day()).label("last_seen"), companion.label("companion"),
                      ranked.label("rank"), companions.label("companions"))
            .select_from(activity_people.join(activities, activities.c.activity_id == activity_people.c.activity_id))
            .where(*where).group_by(*keys).subquery())


def _person_count(row: sa.Row, name: str) -> PersonCount:
    return PersonCount(row.person_id, name, row.appearances, row.accompanied, row.present, row.met, row.first_seen,
                       row.last_seen, row.rank if row.companion else None, row.companions)


def people_page(store: Store, wanted: PeopleFilter, offset: int, limit: int) -> Paged[PersonCount]:
    """The people who appear with him, most appearances first, ``limit`` from ``offset``."""
    counts = _counts(wanted.year)
    name = sa.func.coalesce(persons.c.canonical_name, counts.c.named)  # the register's name: no persons row
    found = counts.outerjoin(persons, persons.c.person_id == counts.c.person_id)
    where = []
    if wanted.name:  # the rank is taken among every companion first: a name filter does not change it
        named = sa.exists(sa.select(activity_people.c.id).where(
            activity_people.c.person_id == counts.c.person_id,
            activity_people.c.name.icontains(wanted.name, autoescape=True)))
        where.append(sa.or_(name.icontains(wanted.name, autoescape=True), named))
    if wanted.person_id:
        where.append(counts.c.person_id == wanted.person_id)
    query = (sa.select(counts, name.label("name")).select_from(found).where(*where)
             .order_by(counts.c.appearances.desc(), counts.c.companion.desc(), name, counts.c.person_id)
             .offset(offset).limit(limit))
    with store.reading() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(found).where(*where)).scalar_one()
        return Paged(tuple(_person_count(r, r.name) for r in conn.execute(query)), total, offset, limit)


# --- one person --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonName:
    person_id: str
    name: str
    aliases: tuple[str, ...]  # the surface forms the entity linker maps to this person, most mentioned first


@dataclass(frozen=True)
class YearCount:
    year: int
    counts: PersonCount


@dataclass(frozen=True)
class PersonActivity:
    """A register row that names the person."""

    activity_id: str
    day: date | None
    kind: str
    activity_type: str
    sector: str | None
    place: str | None
    title: str | None
    roles: tuple[str, ...]
    counted: bool  # a row the tallies count (an appearance); letters, digests and event parts are not
    document_ids: tuple[str, ...]


def person_name(store: Store, person_id: str) -> PersonName | None:
    """The person's name and aliases, or None when neither the persons table nor the register knows the id."""
    with store.reading() as conn:
        known = conn.execute(sa.select(persons.c.canonical_name).where(persons.c.person_id == person_id)).first()
        named = conn.execute(sa.select(activity_people.c.name, sa.func.count().label("n"))
                             .where(activity_people.c.person_id == person_id)
                             .group_by(activity_people.c.name).order_by(sa.desc("n"), activity_people.c.name)).first()
        aliases = conn.execute(sa.select(person_aliases.c.alias).where(person_aliases.c.person_id == person_id)
                               .order_by(person_aliases.c.mentions.desc(), person_aliases.c.alias)).scalars().all()
    if known is None and named is None:
        return None
    return PersonName(person_id, known.canonical_name if known else named.name, tuple(aliases))


def person_years(store: Store, person_id: str) -> list[YearCount]:
    """The person's appearances and companion rank in each year he or she appears, oldest first."""
    counts = _counts(None, by_year=True)
    query = sa.select(counts).where(counts.c.person_id == person_id).order_by(counts.c.year)
    with store.reading() as conn:
        return [YearCount(int(r.year), _person_count(r, r.named)) for r in conn.execute(query)]


def person_months(store: Store, person_id: str) -> dict[str, dict[str, int]]:
    """The person's appearances per month ("YYYY-MM") and role, every dated one."""
    months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = (sa.select(activities.c.activity_id, activity_day().label("day"), activity_people.c.role).distinct()
             .select_from(activity_people.join(activities, activities.c.activity_id == activity_people.c.activity_id))
             .where(activity_people.c.person_id == person_id, activity_day().is_not(None), *_counted_rows(None)))
    with store.reading() as conn:
        for _, day, role in conn.execute(query):
            months[f"{day:%Y-%m}"][role] += 1
    return {month: dict(roles) for month, roles in sorted(months.items())}


def person_activities(store: Store, person_id: str, offset: int, limit: int) -> Paged[PersonActivity]:
    """Every register row (not rejected) that names the person, the newest first (undated rows last)."""
    named = sa.select(activity_people.c.activity_id).where(activity_people.c.person_id == person_id)
    where = [activities.c.rejected.is_(False), activities.c.activity_id.in_(named)]
    query = (sa.select(activities, activity_day().label("day"), counted_clause().label("counted")).where(*where)
             .order_by(activity_day().is_(None), activity_day().desc(), activities.c.activity_id)
             .offset(offset).limit(limit))
    with store.reading() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(activities).where(*where)).scalar_one()
        rows = conn.execute(query).all()
        roles: dict[str, list[str]] = defaultdict(list)
        for activity_id, role in conn.execute(
                sa.select(activity_people.c.activity_id, activity_people.c.role).distinct()
                .where(activity_people.c.person_id == person_id,
                       activity_people.c.activity_id.in_([r.activity_id for r in rows]))):
            roles[activity_id].append(role)
    return Paged(tuple(PersonActivity(r.activity_id, r.day, r.kind, r.activity_type, r.sector, r.place, r.title,
                                      tuple(sorted(roles[r.activity_id], key=ROLES.index)), bool(r.counted),
                                      tuple(json.loads(r.document_ids))) for r in rows), total, offset, limit)
