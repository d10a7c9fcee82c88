"""Row I/O of the ingest ledger: sources, runs, fetches, skips, raw bytes and training runs.

Plain functions over a ``Store``; this module owns those tables and imports nothing
of nkpipe above the records.
"""

from __future__ import annotations

import json
import os
import socket
import zlib
from collections.abc import Iterable
from datetime import UTC, date, datetime

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401  (sa.orm.aliased)
from sqlalchemy.exc import IntegrityError

from pipeline.errors import DuplicateSourceError, StoreError, UnknownSourceError
from pipeline.records import Discovery, Fetched, FetchState, ItemSkip, RunCounts, Source
from pipeline.store.db import Store, documents, fetches, raw_contents, runs, skips, sources, training_runs, upsert, utcnow


def _source_from_row(row: sa.Row) -> Source:
    return Source(
        id=row.id,
        url=row.url,
        kind=row.kind,
        name=row.name,
        published=row.published,
        enabled=bool(row.enabled),
        added_at=row.added_at,
        state=FetchState(row.etag, row.last_modified, row.content_hash, row.pipeline_version),
        address_policy=row.address_policy,
        discovery=Discovery(
            source_type=row.source_type, link_pattern=row.link_pattern, max_pages=row.max_pages,
            state_media=bool(row.state_media), parent_id=row.parent_id, listed_date=row.listed_date,
            page=row.page, checks=row.checks or 0, next_check_at=_aware(row.next_check_at),
            deleted_at=_aware(row.deleted_at), last_discovered_at=_aware(row.last_discovered_at),
        ),
    )


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes of what was stored in UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


# --- sources -----------------------------------------------------------


def add_source(store: Store, url: str, kind: str, name: str | None, published: date | None,
               address_policy: str = "any", discovery: Discovery | None = None) -> Source:
    found = discovery or Discovery()
    try:
        with store.writing() as conn:
            existing = conn.execute(sa.select(sources.c.id).where(sources.c.url == url)).first()
            if existing:
                raise DuplicateSourceError(url, existing.id)
            result = conn.execute(
                sources.insert().values(
                    url=url, kind=kind, name=name, published=published,
                    enabled=True, added_at=utcnow(), address_policy=address_policy,
                    source_type=found.source_type, link_pattern=found.link_pattern, max_pages=found.max_pages,
                    state_media=found.state_media,
                )
            )
            source_id = result.inserted_primary_key[0]
    except IntegrityError as exc:  # a concurrent writer registered it first: its id, read once it committed
        found = find_source(store, url)
        raise DuplicateSourceError(url, found.id if found else None) from exc
    return get_source(store, source_id)


def get_source(store: Store, source_id: int) -> Source:
    if not 0 < source_id < 2**63:  # beyond a database integer: no such source, not an overflow
        raise UnknownSourceError(f"no source has id {source_id}; `nkpipe sources list` shows the ids")
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(sources).where(sources.c.id == source_id)).first()
    if row is None:
        raise UnknownSourceError(
            f"no source has id {source_id}; `nkpipe sources list` shows the ids"
        )
    return _source_from_row(row)


def find_source(store: Store, url: str) -> Source | None:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(sources).where(sources.c.url == url)).first()
    return _source_from_row(row) if row else None


def list_sources(store: Store, enabled_only: bool = False) -> list[Source]:
    """The sources analysts registered; the articles that feeds, sitemaps and listings found are
    reached through them (``due_discovered``)."""
    query = sa.select(sources).where(sources.c.parent_id.is_(None)).order_by(sources.c.id)
    if enabled_only:
        query = query.where(sources.c.enabled.is_(True))
    with store.engine.connect() as conn:
        return [_source_from_row(r) for r in conn.execute(query)]


def source_overview(store: Store) -> list[dict]:
    """Sources with their last outcome and stored document count, for listings."""
    counts = (
        sa.select(documents.c.source_id, sa.func.count().label("documents"))
        .group_by(documents.c.source_id)
        .subquery()
    )
    owner = sa.func.coalesce(sources.c.parent_id, sources.c.id)
    per_owner = (
        sa.select(owner.label("owner_id"), sa.func.count().label("documents"))
        .select_from(documents.join(sources, sources.c.id == documents.c.source_id))
        .group_by(owner).subquery()
    )
    children = sa.orm.aliased(sources)
    discovered = (
        sa.select(children.c.parent_id, sa.func.count().label("discovered"))
        .where(children.c.parent_id.is_not(None)).group_by(children.c.parent_id).subquery()
    )
    query = (
        sa.select(sources, sa.func.coalesce(per_owner.c.documents, 0).label("documents"),
                  sa.func.coalesce(discovered.c.discovered, 0).label("discovered"))
        .select_from(sources.outerjoin(per_owner, per_owner.c.owner_id == sources.c.id)
                     .outerjoin(discovered, discovered.c.parent_id == sources.c.id))
        .where(sources.c.parent_id.is_(None))
        .order_by(sources.c.id)
    )
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def count_sources(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sources)).scalar_one()


def set_source_enabled(store: Store, source_id: int, enabled: bool) -> Source:
    get_source(store, source_id)  # an unknown or impossible id says so before anything is written
    with store.writing() as conn:
        result = conn.execute(
            sources.update().where(sources.c.id == source_id).values(enabled=enabled)
        )
    if result.rowcount == 0:
        raise UnknownSourceError(
            f"no source has id {source_id}; `nkpipe sources list` shows the ids"
        )
    return get_source(store, source_id)


def redate_source(store: Store, source_id: int, published: date) -> Source:
    """Give the source a new publication date and forget its pipeline version, so the
    next run cleans it again even when its bytes have not changed."""
    with store.writing() as conn:
        conn.execute(sources.update().where(sources.c.id == source_id)
                     .values(published=published, pipeline_version=None))
    return get_source(store, source_id)


def mark_source_processed(store: Store, source_id: int, fetched: Fetched, pipeline_version: str, outcome: str) -> None:
    """Remember what was processed so the next run can skip it when unchanged."""
    with store.writing() as conn:
        conn.execute(
            sources.update().where(sources.c.id == source_id).values(
                etag=fetched.etag, last_modified=fetched.last_modified,
                content_hash=fetched.content_hash, pipeline_version=pipeline_version,
                last_outcome=outcome, last_reason=None, last_fetched_at=utcnow(),
            )
        )


def mark_source_outcome(store: Store, source_id: int, outcome: str, reason: str | None) -> None:
    with store.writing() as conn:
        conn.execute(
            sources.update().where(sources.c.id == source_id).values(
                last_outcome=outcome, last_reason=reason, last_fetched_at=utcnow()
            )
        )


# --- runs, fetches, skips ----------------------------------------------


def start_run(store: Store, flow_name: str, sources_total: int, pipeline_version: str,
              flow_run_id: str | None = None) -> int:
    """Record a new run of this process; runs left ``running`` by a dead process of this host become abandoned."""
    with store.writing() as conn:
        _mark_abandoned(conn)
        result = conn.execute(
            runs.insert().values(
                flow_name=flow_name, flow_run_id=flow_run_id, started_at=utcnow(),
                status="running", pipeline_version=pipeline_version,
                sources_total=sources_total, host=socket.gethostname(), pid=os.getpid(),
                new=0, changed=0, unchanged=0, skipped=0, failed=0, words=0,
            )
        )
        return result.inserted_primary_key[0]


def _mark_abandoned(conn) -> None:
    """A run still ``running`` whose process on this host is gone was killed (kill -9, power cut)."""
    here = socket.gethostname()
    stale = [r.run_id for r in conn.execute(sa.select(runs.c.run_id, runs.c.pid).where(
        runs.c.status == "running", runs.c.host == here)) if r.pid is not None and not _alive(r.pid)]
    if stale:
        conn.execute(runs.update().where(runs.c.run_id.in_(stale)).values(
            status="abandoned", finished_at=utcnow(),
            message="its process ended without finishing the run (killed?); a later run took over"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def finish_run(store: Store, run_id: int, counts: RunCounts, status: str, message: str | None = None,
               days_covered: int | None = None) -> None:
    with store.writing() as conn:
        conn.execute(
            runs.update().where(runs.c.run_id == run_id).values(
                finished_at=utcnow(), status=status, message=message,
                new=counts.new, changed=counts.changed, unchanged=counts.unchanged,
                skipped=counts.skipped, failed=counts.failed, words=counts.words,
                discovered=counts.discovered, non_english=counts.non_english, days_covered=days_covered,
            )
        )


def get_run(store: Store, run_id: int) -> dict:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
    if row is None:
        raise StoreError(f"no run has id {run_id}")
    return dict(row._mapping)


def recent_runs(store: Store, limit: int = 10) -> list[dict]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(runs).order_by(runs.c.run_id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


def recent_problems(store: Store, limit: int = 10) -> list[dict]:
    """The latest failed or skipped fetches with their source URL and reason, newest first."""
    query = (sa.select(fetches, sources.c.url).join(sources, sources.c.id == fetches.c.source_id)
             .where(fetches.c.outcome.in_(("failed", "skipped"))).order_by(fetches.c.id.desc()).limit(limit))
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def record_fetch(store: Store, run_id: int | None, source_id: int, outcome: str, *,
                 reason: str | None = None, fetched: Fetched | None = None,
                 documents_count: int | None = None, duration_s: float | None = None) -> None:
    with store.writing() as conn:
        conn.execute(
            fetches.insert().values(
                run_id=run_id, source_id=source_id, fetched_at=utcnow(), outcome=outcome,
                reason=reason, documents=documents_count, duration_s=duration_s,
                http_status=fetched.http_status if fetched else None,
                content_type=fetched.content_type if fetched else None,
                content_hash=fetched.content_hash if fetched else None,
                size_bytes=fetched.size if fetched and fetched.body is not None else None,
            )
        )


def record_skips(store: Store, run_id: int | None, source_id: int, items: Iterable[ItemSkip]) -> None:
    rows = [
        dict(run_id=run_id, source_id=source_id, item_key=s.key, stage=s.step,
             reason=s.reason, created_at=utcnow())
        for s in items
    ]
    if rows:
        with store.writing() as conn:
            conn.execute(skips.insert(), rows)


def skips_for_run(store: Store, run_id: int) -> list[dict]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(skips).where(skips.c.run_id == run_id).order_by(skips.c.id))
        return [dict(r._mapping) for r in rows]


# --- raw content ---------------------------------------------------------


def save_raw(store: Store, fetched: Fetched) -> None:
    """Keep the fetched bytes, compressed, once per content hash."""
    if fetched.body is None or fetched.content_hash is None:
        return
    with store.writing() as conn:
        exists = conn.execute(
            sa.select(raw_contents.c.content_hash)
            .where(raw_contents.c.content_hash == fetched.content_hash)
        ).first()
        if exists:
            return
        upsert(conn, raw_contents, [dict(
            content_hash=fetched.content_hash, compression="zlib", size_bytes=fetched.size,
            content_type=fetched.content_type, charset=fetched.charset,
            data=zlib.compress(fetched.body, 6), stored_at=utcnow(),
        )], ["content_hash"])


def load_raw(store: Store, content_hash: str) -> bytes | None:
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(raw_contents).where(raw_contents.c.content_hash == content_hash)
        ).first()
    return zlib.decompress(row.data) if row else None


def record_training_run(store: Store, summary: dict) -> None:
    with store.writing() as conn:
        conn.execute(training_runs.insert().values(
            trained_at=utcnow(), model_version=summary["version"], design=summary["design"],
            test_macro_f1=summary["test_macro_f1"], previous_macro_f1=summary["previous_macro_f1"],
            promoted=summary["promoted"], reason=summary["reason"], train_size=summary["train_size"],
            test_size=summary["test_size"], details=json.dumps(summary, default=str),
        ))
