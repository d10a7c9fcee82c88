"""Row I/O of discovery: the articles, sitemaps and listing pages a source found, as sources under it.

A discovered link is a row of ``sources`` with ``parent_id`` set to the source the analyst
registered (its owner), so it has its own fetch state (conditional GET, content hash) like any
source; ``list_sources`` leaves these rows out and the run reaches them through ``due_links``.
A URL is one source whoever finds it first: the same article under a feed and a sitemap of one
site is fetched and stored once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pipeline.records import Link, Source
from pipeline.store.db import Store, document_revisions, documents, sources
from pipeline.store.ledger import _source_from_row

PAGE_TYPES = {"sitemap": "sitemap", "listing": "listing_page"}  # Link.role -> the child's source type
_CHUNK = 500


def record_links(store: Store, owner: Source, links: Sequence[tuple[Link, int | None]], now: datetime) -> int:
    """Register the links not known yet (``(link, page)``: a listing's page number, a sitemap's
    depth) as sources under ``owner``; returns how many were new."""
    if not links:
        return 0
    with store.writing() as conn:
        known = set()
        urls = [link.url for link, _ in links]
        for start in range(0, len(urls), _CHUNK):
            known |= set(conn.scalars(sa.select(sources.c.url).where(sources.c.url.in_(urls[start:start + _CHUNK]))))
        rows = [_child_row(owner, link, page, now) for link, page in links if link.url not in known]
        if rows:
            try:
                with conn.begin_nested():
                    conn.execute(sources.insert(), rows)
            except IntegrityError:  # another run registered some meanwhile: one at a time, keeping theirs
                rows = [row for row in rows if _insert_one(conn, row)]
    return len(rows)


def _insert_one(conn, row: dict) -> bool:
    try:
        with conn.begin_nested():
            conn.execute(sources.insert().values(**row))
        return True
    except IntegrityError:
        return False


def _child_row(owner: Source, link: Link, page: int | None, now: datetime) -> dict:
    return dict(
        url=link.url, kind="article", name=_title(link.title), published=None,
        enabled=True, added_at=now, address_policy=owner.address_policy, parent_id=owner.id,
        source_type=PAGE_TYPES.get(link.role), link_pattern=owner.discovery.link_pattern if link.role == "listing" else None,
        max_pages=owner.discovery.max_pages, state_media=owner.discovery.state_media,
        listed_date=link.listed_date, page=page, checks=0,
    )


def _title(title: object) -> str | None:
    """A feed's title as a label: text, without NUL (PostgreSQL refuses it), at most 300 characters."""
    text = str(title).replace("\x00", "").strip() if title is not None else ""
    return text[:300] or None


def mark_discovered(store: Store, source_id: int, now: datetime) -> None:
    with store.writing() as conn:
        conn.execute(sources.update().where(sources.c.id == source_id).values(last_discovered_at=now))


def due_links(store: Store, owner_id: int, now: datetime, new_limit: int, exclude: set[int]) -> list[Source]:
    """What of ``owner_id``'s discovered links to fetch in this run, ``exclude`` (already taken) left out:
    its sitemaps and listing pages, the articles whose re-check is due, and up to ``new_limit``
    articles never fetched, the most recently listed first."""
    live = sa.and_(sources.c.parent_id == owner_id, sources.c.enabled.is_(True), sources.c.deleted_at.is_(None))
    pages = sa.select(sources).where(live, sources.c.source_type.is_not(None)).order_by(sources.c.id)
    rechecks = (sa.select(sources).where(live, sources.c.source_type.is_(None), sources.c.checks > 0,
                                         sources.c.next_check_at <= now).order_by(sources.c.next_check_at))
    fresh = (sa.select(sources).where(live, sources.c.source_type.is_(None), sources.c.checks == 0)
             .order_by(sources.c.listed_date.desc().nulls_last(), sources.c.id))
    with store.engine.connect() as conn:
        found = [*conn.execute(pages), *conn.execute(rechecks)]
        taken_new = 0
        for row in conn.execute(fresh):
            if taken_new >= new_limit:
                break
            if row.id not in exclude:
                found.append(row)
                taken_new += 1
    return [_source_from_row(row) for row in found if row.id not in exclude]


def count_waiting(store: Store, owner_id: int) -> int:
    """Articles of ``owner_id`` found but never fetched (carried to the next night)."""
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sources).where(
            sources.c.parent_id == owner_id, sources.c.source_type.is_(None), sources.c.checks == 0,
            sources.c.deleted_at.is_(None))).scalar_one()


def mark_checked(store: Store, source_id: int, next_check_at: datetime | None) -> None:
    """One more completed check of a discovered article; ``next_check_at`` None: never again."""
    with store.writing() as conn:
        conn.execute(sources.update().where(sources.c.id == source_id)
                     .values(checks=sources.c.checks + 1, next_check_at=next_check_at))


def mark_deleted(store: Store, source_id: int, now: datetime) -> int:
    """The article's page is gone (404/410 after it had existed): the source and its documents are
    marked deleted with the date and kept. Returns how many documents were marked."""
    with store.writing() as conn:
        conn.execute(sources.update().where(sources.c.id == source_id)
                     .values(deleted_at=now, next_check_at=None))
        return conn.execute(documents.update().where(documents.c.source_id == source_id,
                                                     documents.c.deleted_at.is_(None))
                            .values(deleted_at=now)).rowcount


def revisions_and_deletions(store: Store, limit: int = 100) -> list[dict]:
    """The latest changes seen: earlier texts kept as revisions, and deleted documents."""
    revised = (sa.select(document_revisions.c.document_id, document_revisions.c.revision,
                         document_revisions.c.replaced_at.label("at"), document_revisions.c.diff_summary,
                         documents.c.url, documents.c.title, sa.literal("revised").label("change"))
               .select_from(document_revisions.join(documents, documents.c.document_id == document_revisions.c.document_id)))
    deleted = (sa.select(documents.c.document_id, sa.literal(None).label("revision"), documents.c.deleted_at.label("at"),
                         sa.literal(None).label("diff_summary"), documents.c.url, documents.c.title,
                         sa.literal("deleted").label("change"))
               .where(documents.c.deleted_at.is_not(None)))
    union = sa.union_all(revised, deleted).subquery()
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(union).order_by(union.c.at.desc(), union.c.document_id).limit(limit))
        return [dict(row._mapping) for row in rows]


