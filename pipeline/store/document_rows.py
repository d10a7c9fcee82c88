"""Row I/O of documents and of every row derived from one: entities, person aliases, stage tables.

A document's derived rows are replaced whole when it is written again, so a run killed
at any point and started again ends with no duplicates. Which derived tables there are
is not known here: the caller passes the tables of the registered derived stages
(``pipeline.derived``), and rows arrive keyed by table name.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.records import AnalyzedDocument
from pipeline.store.db import (
    Store,
    document_revisions,
    documents,
    entities,
    facts,
    insert_missing,
    metadata,
    person_aliases,
    persons,
    sector_labels,
    sources,
    story_clusters,
    upsert,
    utcnow,
)
from pipeline.text import paragraphs, sentence_spans, text_key, unit_text

INSERT_SLICE_ROWS = 5_000


def document_versions(store: Store, document_ids: Sequence[str]) -> dict[str, tuple[str, str, date | None]]:
    """document_id -> (text_hash, pipeline_version, published) of what is stored."""
    found: dict[str, tuple[str, str, date | None]] = {}
    with store.reading() as conn:
        for start in range(0, len(document_ids), 500):
            chunk = list(document_ids[start:start + 500])
            query = sa.select(
                documents.c.document_id, documents.c.text_hash, documents.c.pipeline_version, documents.c.published
            ).where(documents.c.document_id.in_(chunk))
            found.update({r.document_id: (r.text_hash, r.pipeline_version, r.published) for r in conn.execute(query)})
    return found


def count_documents(store: Store, source_id: int | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(documents)
    if source_id is not None:
        query = query.where(documents.c.source_id == source_id)
    with store.reading() as conn:
        return conn.execute(query).scalar_one()


def tables_named_in(analyzed: Sequence[AnalyzedDocument]) -> list[sa.Table]:
    """The schema's tables that the documents carry derived rows for."""
    names = dict.fromkeys(name for a in analyzed for name, _ in a.derived)
    return [metadata.tables[name] for name in names]


@dataclass(frozen=True)
class Revised:
    """A document whose text changed in this write: the earlier text and the new one."""

    document_id: str
    old_hash: str
    old_text: str
    new_hash: str
    new_text: str


def write_documents(conn: Connection, run_id: int | None, analyzed: Sequence[AnalyzedDocument],
                    pipeline_version: str, nlp_version: str,
                    derived_tables: Sequence[sa.Table]) -> tuple[list[str], list[Revised]]:
    """Store documents and replace their entities and derived rows; returns their ids, in write order,
    and the documents whose text changed (the earlier text is kept as a revision).

    Rows are locked in id order, so two runs writing the same documents wait, never deadlock.
    """
    now = utcnow()
    analyzed = sorted(analyzed, key=lambda a: a.document_id)
    ids = [a.document_id for a in analyzed]
    revised = _keep_earlier_texts(conn, analyzed, run_id, now)
    upsert(conn, documents, [_document_row(a, run_id, pipeline_version, now) for a in analyzed], ["document_id"])
    for table in (entities, *derived_tables):
        conn.execute(table.delete().where(table.c.document_id.in_(ids)))
    entity_rows = (
        dict(document_id=a.document_id, entity_index=i, label=e.label, text=e.text,
             start_char=e.start_char, end_char=e.end_char, sentence_start=e.sentence_start,
             sentence_end=e.sentence_end, canonical_id=e.canonical_id,
             canonical_name=e.canonical_name, nlp_version=nlp_version)
        for a in analyzed for i, e in enumerate(a.entities)
    )
    _insert_in_slices(conn, entities, entity_rows)
    _record_person_aliases(conn, analyzed, now)
    for table in derived_tables:
        rows = (_with_defaults(table, dict(r, document_id=a.document_id), now)
                for a in analyzed for r in a.derived_rows(table.name))
        _insert_in_slices(conn, table, rows)
    return ids, revised


def _keep_earlier_texts(conn: Connection, analyzed: Sequence[AnalyzedDocument], run_id: int | None,
                        now: datetime) -> list[Revised]:
    """A document whose text changed keeps its earlier text as a revision, with a summary of the change."""
    new_text = {a.document_id: a.document for a in analyzed}
    stored = conn.execute(sa.select(documents.c.document_id, documents.c.text, documents.c.text_hash,
                                    documents.c.title, documents.c.updated_at)
                          .where(documents.c.document_id.in_(list(new_text)))).all()
    changed = [row for row in stored if row.text_hash != new_text[row.document_id].text_hash]
    if not changed:
        return []
    counts = dict(conn.execute(sa.select(document_revisions.c.document_id, sa.func.count())
                               .where(document_revisions.c.document_id.in_([r.document_id for r in changed]))
                               .group_by(document_revisions.c.document_id)).all())
    conn.execute(document_revisions.insert(), [
        dict(document_id=row.document_id, revision=counts.get(row.document_id, 0) + 1, title=row.title,
             text=row.text, text_hash=row.text_hash, stored_at=row.updated_at, replaced_at=now,
             replaced_by_run=run_id, diff_summary=diff_summary(row.text, new_text[row.document_id].text))
        for row in changed
    ])
    return [Revised(row.document_id, row.text_hash, row.text, new_text[row.document_id].text_hash,
                    new_text[row.document_id].text) for row in changed]


def diff_summary(old: str, new: str, quote_chars: int = 160) -> str:
    """"+2 -1 sentences" of a change, with the first sentence added or removed."""
    before, after = sentences_of(old), sentences_of(new)
    before_set, after_set = set(before), set(after)
    added = [s for s in after if s not in before_set]
    removed = [s for s in before if s not in after_set]
    summary = f"+{len(added)} -{len(removed)} sentences"
    example = (added or removed or [""])[0]
    if example:
        summary += f"; {'added' if added else 'removed'}: {example[:quote_chars]}"
    return summary


def sentences_of(text: str) -> list[str]:
    """The text's sentences, by the project's one splitter (``pipeline.text.sentence_spans``)."""
    return [text[start:end].strip() for start, end in sentence_spans(text) if text[start:end].strip()]


def _insert_in_slices(conn: Connection, table: sa.Table, rows: Iterable[dict]) -> None:
    """Insert rows a slice at a time, so a document with 100,000 entities does not hold them all as
    parameters at once."""
    for piece in iter(lambda: list(itertools.islice(rows, INSERT_SLICE_ROWS)), []):
        conn.execute(table.insert(), piece)


def query_facts(store: Store, kind: str | None = None, year: int | None = None) -> list[dict]:
    """Facts with their document's title, URL and date and its source's name, optionally of one kind or
    overlapping one year."""
    query = (
        sa.select(facts, documents.c.title.label("document_title"), documents.c.url.label("document_url"),
                  documents.c.published.label("document_published"), sources.c.name.label("source_name"))
        .select_from(facts.join(documents, facts.c.document_id == documents.c.document_id)
                     .join(sources, documents.c.source_id == sources.c.id))
        .order_by(facts.c.document_id, facts.c.start_char)
    )
    query = query.where(facts.c.rejected.is_(False))  # a reviewer rejected these
    # a story republished elsewhere counts once: the facts of its representative copy
    query = query.where(facts.c.document_id.not_in(
        sa.select(story_clusters.c.document_id).where(story_clusters.c.representative.is_(False))))
    if kind:
        query = query.where(facts.c.kind == kind)
    if year is not None:
        query = query.where(facts.c.period_start <= date(year, 12, 31), facts.c.period_end >= date(year, 1, 1))
    with store.reading() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def reviewed_sector_units(store: Store) -> list[dict]:
    """Reviewer-made sector labels with the text of their unit, for training.

    One unit per correction and per text: copies of a story under several links (same text
    hash, or same text up to case and spacing) would otherwise weigh several times in training.
    """
    query = (
        sa.select(sector_labels.c.document_id, sector_labels.c.unit, sector_labels.c.unit_index,
                  sector_labels.c.sector, documents.c.title, documents.c.text, documents.c.text_hash)
        .select_from(sector_labels.join(documents, sector_labels.c.document_id == documents.c.document_id))
        .where(sector_labels.c.source == "reviewer").order_by(sector_labels.c.document_id)
    )
    units = []
    seen: set = set()
    with store.reading() as conn:
        for row in conn.execute(query):
            correction = (row.text_hash, row.unit, row.unit_index)
            if correction in seen:
                continue
            parts = paragraphs(row.text)
            if row.unit == "document":
                text = unit_text(row.title, row.text)
            elif row.unit == "paragraph" and row.unit_index < len(parts):
                text = parts[row.unit_index]
            else:
                continue
            if text_key(text) in seen:
                continue
            seen.update((correction, text_key(text)))
            units.append({"document_id": row.document_id, "unit": row.unit, "unit_index": row.unit_index,
                          "sector": row.sector, "text": text})
    return units


def _record_person_aliases(conn: Connection, analyzed: Sequence[AnalyzedDocument], now: datetime) -> None:
    """Keep every surface form of a person; a reviewer's alias row is never overwritten."""
    seen: dict[str, tuple[str, str]] = {}
    for a in analyzed:
        for e in a.entities:
            if e.label == "PERSON" and e.canonical_id and e.canonical_name:
                seen[e.text] = (e.canonical_id, e.canonical_name)
    if not seen:
        return
    people = {pid: name for pid, name in seen.values()}
    known = set(conn.execute(sa.select(persons.c.person_id).where(persons.c.person_id.in_(list(people)))).scalars())
    new_people = [dict(person_id=pid, canonical_name=name, in_gazetteer=False, first_seen_at=now)
                  for pid, name in sorted(people.items()) if pid not in known]
    insert_missing(conn, persons, new_people, ["person_id"])
    existing = {r.alias: r for r in conn.execute(
        sa.select(person_aliases).where(person_aliases.c.alias.in_(list(seen))))}
    inserts = [dict(alias=alias, person_id=pid, source="observed", mentions=0, updated_at=now)
               for alias, (pid, _) in sorted(seen.items()) if alias not in existing]
    insert_missing(conn, person_aliases, inserts, ["alias"])
    _lock_aliases(conn, sorted(seen))
    # Counted from the stored entities, so re-processing a document never counts its mentions twice;
    # updated in alias order, so concurrent runs lock the rows in the same order.
    counted = conn.execute(
        sa.select(entities.c.text, sa.func.count()).where(entities.c.label == "PERSON", entities.c.text.in_(list(seen)))
        .group_by(entities.c.text).order_by(entities.c.text)).all()
    for alias, count in counted:
        conn.execute(person_aliases.update().where(person_aliases.c.alias == alias).values(mentions=count, updated_at=now))


def _lock_aliases(conn: Connection, aliases: list[str]) -> None:
    """On PostgreSQL, hold the alias rows until commit before their mentions are counted.

    Another run writing other documents that mention an alias waits here until this one
    commits; READ COMMITTED then counts with this run's entities, so neither count is lost.
    (SQLite writers hold the whole database already.) Locked in alias order: no deadlock.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.execute(sa.select(person_aliases.c.alias).where(person_aliases.c.alias.in_(aliases))
                 .order_by(person_aliases.c.alias).with_for_update()).all()


def _with_defaults(table: sa.Table, row: dict, now: datetime) -> dict:
    if "created_at" in table.c and "created_at" not in row:
        row = dict(row, created_at=now)
    if "probabilities" in row and isinstance(row["probabilities"], dict):
        row = dict(row, probabilities=json.dumps(row["probabilities"], sort_keys=True))
    return row


def _document_row(a: AnalyzedDocument, run_id: int | None, pipeline_version: str, now: datetime) -> dict:
    d = a.document
    return dict(
        document_id=a.document_id, source_id=a.source_id, doc_key=d.key, url=d.url, title=d.title,
        author=d.author, published=d.published, published_inferred=d.published_inferred, section=d.section,
        format=d.format, text=d.text, text_hash=d.text_hash, raw_hash=a.raw_hash,
        word_count=d.word_count, char_count=len(d.text), sentence_count=a.sentence_count,
        pipeline_version=pipeline_version, first_run_id=run_id, last_run_id=run_id,
        created_at=now, updated_at=now, language=d.language,
    )
