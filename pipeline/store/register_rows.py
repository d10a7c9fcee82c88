"""Row I/O of the activity register: activities, their people and the yearly tallies.

The register is rebuilt whole from the stored state-media reports; ``pipeline.store.persist``
wraps the read, the write and the reviewers' corrections in one locked transaction.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401  (sa.orm.aliased)
from sqlalchemy.engine import Connection

from pipeline.records import Activity, Person, Report, ReportEntity
from pipeline.store.db import (
    Store,
    activities,
    activity_people,
    activity_tallies,
    documents,
    entities,
    sector_labels,
    schema_info,
    sources,
    story_clusters,
)
from pipeline.tallies import counted, row_counts, tally_rows

REGISTER_LOCK_KEY = 0x6E6B7267  # advisory lock id of the activity register's rebuild


def lock_register(conn: Connection) -> None:
    """Hold the register until the transaction ends (SQLite's writers hold the whole file already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": REGISTER_LOCK_KEY})


def read_reports(conn: Connection, formats: Sequence[str]) -> list[Report]:
    """Documents of the given formats (state media) with their entities and document-level sector."""
    labels = {r.document_id: r for r in conn.execute(
        sa.select(sector_labels.c.document_id, sector_labels.c.sector, sector_labels.c.probabilities,
                  sector_labels.c.reviewed).where(sector_labels.c.unit == "document"))}
    by_document: dict[str, list] = {}
    of_formats = state_media_documents(formats)
    query = sa.select(entities).join(documents, entities.c.document_id == documents.c.document_id).where(
        of_formats).order_by(entities.c.document_id, entities.c.entity_index)
    for e in conn.execute(query):
        by_document.setdefault(e.document_id, []).append(_report_entity(e))
    rows = conn.execute(sa.select(documents.c.document_id, documents.c.title, documents.c.text,
                                  documents.c.published, documents.c.section).where(of_formats))
    return [_report(r, by_document.get(r.document_id, ()), labels.get(r.document_id)) for r in rows]


def reports_of(store: Store, document_ids: Sequence[str]) -> list[Report]:
    """The stored documents ``document_ids`` as the register reads them (with their entities and
    sector), in the order given; an id no longer stored is left out."""
    ids = list(document_ids)
    with store.reading() as conn:
        labels = {r.document_id: r for r in conn.execute(
            sa.select(sector_labels.c.document_id, sector_labels.c.sector, sector_labels.c.probabilities,
                      sector_labels.c.reviewed).where(sector_labels.c.unit == "document",
                                                      sector_labels.c.document_id.in_(ids)))}
        found: dict[str, list] = {}
        for e in conn.execute(sa.select(entities).where(entities.c.document_id.in_(ids))
                              .order_by(entities.c.document_id, entities.c.entity_index)):
            found.setdefault(e.document_id, []).append(_report_entity(e))
        rows = {r.document_id: r for r in conn.execute(
            sa.select(documents.c.document_id, documents.c.title, documents.c.text, documents.c.published,
                      documents.c.section).where(documents.c.document_id.in_(ids)))}
    return [_report(rows[i], found.get(i, ()), labels.get(i)) for i in ids if i in rows]


def _report_entity(e: sa.Row) -> ReportEntity:
    return ReportEntity(e.label, e.text, e.start_char, e.end_char, e.canonical_id, e.canonical_name)


def _report(row: sa.Row, found: Sequence[ReportEntity], label: sa.Row | None) -> Report:
    """A stored document as a report; a sector a reviewer set comes without the model's probabilities."""
    probabilities = (json.loads(label.probabilities) if label is not None and label.probabilities and not label.reviewed
                     else None)
    return Report(row.document_id, row.title, row.text, row.published, tuple(found),
                  label.sector if label is not None else None, row.section, probabilities)


def state_media_documents(formats: Sequence[str]):
    """Where-clause of the state-media reports: documents of these formats, or of a source (or of the
    feed, sitemap or listing that found it) marked state media; a copy of a story counted elsewhere
    (not its cluster's representative) is left out."""
    marked = sa.orm.aliased(sources)
    owner = sa.orm.aliased(sources)
    state_media_sources = (sa.select(marked.c.id)
                           .select_from(marked.outerjoin(owner, owner.c.id == marked.c.parent_id))
                           .where(sa.or_(marked.c.state_media.is_(True), owner.c.state_media.is_(True))))
    copies = sa.select(story_clusters.c.document_id).where(story_clusters.c.representative.is_(False))
    english = sa.or_(documents.c.language.is_(None), documents.c.language == "en")  # the register reads English
    return sa.and_(sa.or_(documents.c.format.in_(list(formats)), documents.c.source_id.in_(state_media_sources)),
                   documents.c.document_id.not_in(copies), english)


def report_days(store: Store, formats: Sequence[str], year: int) -> set[date]:
    """The days of ``year`` on which the store holds state-media reports."""
    with store.reading() as conn:
        return set(conn.execute(sa.select(documents.c.published).distinct().where(
            state_media_documents(formats), documents.c.published >= date(year, 1, 1),
            documents.c.published <= date(year, 12, 31))).scalars())


def replace_register(conn: Connection, register: Sequence[Activity], version: str | None) -> None:
    """Delete the register and insert ``register`` (its tallies are counted by ``refresh_tallies``)."""
    conn.execute(schema_info.delete().where(schema_info.c.key == REGISTER_BUILT_KEY))
    if version:
        conn.execute(schema_info.insert().values(key=REGISTER_BUILT_KEY, value=version))
    conn.execute(activity_people.delete())
    conn.execute(activity_tallies.delete())
    conn.execute(activities.delete())
    if register:
        conn.execute(activities.insert(), [_activity_row(a, version) for a in register])
    people = [dict(activity_id=a.activity_id, person_id=p.person_id, name=p.name, role=p.role)
              for a in register for p in a.people]
    if people:
        conn.execute(activity_people.insert(), people)


REGISTER_BUILT_KEY = "register_version"  # schema_info row: the version the register was last built with


def register_built_with(store: Store) -> str | None:
    """The register version of the last rebuild (None before the first): a night that stored nothing
    need not rebuild a register built by the same version."""
    with store.engine.connect() as conn:
        return conn.execute(sa.select(schema_info.c.value).where(schema_info.c.key == REGISTER_BUILT_KEY)).scalar()


def _activity_row(a: Activity, version: str | None) -> dict:
    return {
        "activity_id": a.activity_id, "actor": a.actor, "event_date": a.event_date,
        "report_date": a.report_date, "title": a.title, "activity_type": a.activity_type,
        "sector": a.sector, "place": a.place, "counterpart_country": a.counterpart_country,
        "document_ids": json.dumps(list(a.document_ids)), "confidence": round(a.confidence, 3),
        "register_version": version, "date_precision": a.date_precision, "kind": a.kind, "part_of": a.part_of,
    }


def refresh_tallies(conn: Connection) -> None:
    """Count the register's tallies again from its counted activities, leaving out rejected ones."""
    conn.execute(activity_tallies.delete())
    rows = tally_rows(register_from(conn))
    if rows:
        conn.execute(activity_tallies.insert(), rows)


def register_from(conn: Connection, include_rejected: bool = False, every_row: bool = False) -> list[Activity]:
    """The stored register's activities as Activity records: those a tally counts, unless ``every_row``
    (letters, digests, and speeches or follow-ups of an event too); rejected ones only when asked for."""
    people: dict[str, list] = {}
    for p in conn.execute(sa.select(activity_people).order_by(activity_people.c.id)):
        people.setdefault(p.activity_id, []).append(Person(p.person_id, p.name, p.role))
    query = sa.select(activities)
    if not include_rejected:
        query = query.where(activities.c.rejected.is_(False))
    rows = [Activity(r.activity_id, r.actor, r.event_date, r.report_date, r.title, r.activity_type,
                     r.sector, r.place, r.counterpart_country, tuple(json.loads(r.document_ids)),
                     tuple(people.get(r.activity_id, ())), r.confidence, date_precision=r.date_precision,
                     kind=r.kind, part_of=r.part_of)
            for r in conn.execute(query)]
    return rows if every_row else counted(rows)


def load_register(store: Store, include_rejected: bool = False, every_row: bool = False) -> list[Activity]:
    """The register's counted activities (``every_row``: with its letters, digests and event parts);
    those a reviewer marked as not activities are left out."""
    with store.reading() as conn:
        return register_from(conn, include_rejected, every_row)


def activities_per_document(conn: Connection) -> Counter[str]:
    """How many (not rejected) counted activities each document reports."""
    fed: Counter[str] = Counter()
    for ids, kind, part_of in conn.execute(sa.select(activities.c.document_ids, activities.c.kind, activities.c.part_of)
                                          .where(activities.c.rejected.is_(False))):
        if row_counts(kind, part_of):
            fed.update(json.loads(ids))
    return fed
