"""SQLAlchemy Core schema and idempotent writes.

SQLite (WAL mode) by default, PostgreSQL by URL. Every write that derives rows
from a document replaces that document's previous rows in one transaction, so a
run killed at any point and started again ends with no duplicates.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError

from pipeline.errors import DuplicateSourceError, StoreError, UnknownSourceError
from pipeline.records import (
    AnalyzedDocument,
    Fetched,
    FetchState,
    ItemSkip,
    RunCounts,
    Source,
)

metadata = sa.MetaData()

sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.Text, nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("published", sa.Date),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    # State of the last *completed* processing: drives conditional GET and skipping.
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("pipeline_version", sa.Text),
    sa.Column("last_outcome", sa.String(16)),
    sa.Column("last_reason", sa.Text),
    sa.Column("last_fetched_at", sa.DateTime(timezone=True)),
)

raw_contents = sa.Table(
    "raw_contents",
    metadata,
    sa.Column("content_hash", sa.String(64), primary_key=True),
    sa.Column("compression", sa.String(8), nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("content_type", sa.Text),
    sa.Column("charset", sa.Text),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("flow_name", sa.Text, nullable=False),
    sa.Column("flow_run_id", sa.Text),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(32), nullable=False),  # running|completed|completed_with_failures|failed
    sa.Column("pipeline_version", sa.Text),
    sa.Column("sources_total", sa.Integer, nullable=False, default=0),
    sa.Column("new", sa.Integer, nullable=False, default=0),
    sa.Column("changed", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("skipped", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Column("words", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text),
)

fetches = sa.Table(
    "fetches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.run_id"), index=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False, index=True),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # new|changed|unchanged|skipped|failed
    sa.Column("reason", sa.Text),
    sa.Column("http_status", sa.Integer),
    sa.Column("content_type", sa.Text),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("size_bytes", sa.Integer),
    sa.Column("documents", sa.Integer),
    sa.Column("duration_s", sa.Float),
)

skips = sa.Table(
    "skips",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.run_id"), index=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False, index=True),
    sa.Column("item_key", sa.Text),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("document_id", sa.String(32), primary_key=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False, index=True),
    sa.Column("doc_key", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("author", sa.Text),
    sa.Column("published", sa.Date),
    sa.Column("published_inferred", sa.Boolean, nullable=False, default=False),
    sa.Column("section", sa.Text),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("text_hash", sa.String(64), nullable=False),
    sa.Column("raw_hash", sa.String(64)),
    sa.Column("word_count", sa.Integer, nullable=False),
    sa.Column("char_count", sa.Integer, nullable=False),
    sa.Column("sentence_count", sa.Integer, nullable=False),
    sa.Column("pipeline_version", sa.Text, nullable=False),
    sa.Column("first_run_id", sa.Integer),
    sa.Column("last_run_id", sa.Integer),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

entities = sa.Table(
    "entities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.document_id"), nullable=False),
    sa.Column("entity_index", sa.Integer, nullable=False),
    sa.Column("label", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("start_char", sa.Integer, nullable=False),
    sa.Column("end_char", sa.Integer, nullable=False),
    sa.Column("sentence_start", sa.Integer, nullable=False),
    sa.Column("sentence_end", sa.Integer, nullable=False),
    sa.Column("canonical_id", sa.Text, index=True),  # gazetteer or person id
    sa.Column("canonical_name", sa.Text),
    sa.Column("nlp_version", sa.Text, nullable=False),
    sa.UniqueConstraint("document_id", "entity_index", name="uq_entities_doc_index"),
)

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("person_id", sa.Text, primary_key=True),
    sa.Column("canonical_name", sa.Text, nullable=False),
    sa.Column("in_gazetteer", sa.Boolean, nullable=False, default=False),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
)

# One row per surface form seen for a person; reviewers merge or split by editing person_id.
person_aliases = sa.Table(
    "person_aliases",
    metadata,
    sa.Column("alias", sa.Text, primary_key=True),
    sa.Column("person_id", sa.Text, sa.ForeignKey("persons.person_id"), nullable=False, index=True),
    sa.Column("source", sa.String(16), nullable=False),  # gazetteer|observed|reviewer
    sa.Column("mentions", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("activity_id", sa.String(32), primary_key=True),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("event_date", sa.Date),
    sa.Column("report_date", sa.Date),
    sa.Column("title", sa.Text),
    sa.Column("activity_type", sa.String(32), nullable=False),
    sa.Column("sector", sa.String(16)),
    sa.Column("place", sa.Text),
    sa.Column("counterpart_country", sa.Text),
    sa.Column("document_ids", sa.Text, nullable=False),  # JSON list
    sa.Column("confidence", sa.Float),
    sa.Column("register_version", sa.Text),
    sa.Column("reviewed", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    # A reviewer said this is not a public activity: kept for the audit, left out of tallies.
    sa.Column("rejected", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
)

activity_people = sa.Table(
    "activity_people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.String(32), sa.ForeignKey("activities.activity_id"), nullable=False, index=True),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # accompanied|present|counterpart
)

activity_tallies = sa.Table(
    "activity_tallies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("by", sa.String(16), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

training_runs = sa.Table(
    "training_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("design", sa.Text, nullable=False),
    sa.Column("test_macro_f1", sa.Float, nullable=False),
    sa.Column("previous_macro_f1", sa.Float),
    sa.Column("promoted", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("train_size", sa.Integer),
    sa.Column("test_size", sa.Integer),
    sa.Column("details", sa.Text),  # JSON summary
)

schema_info = sa.Table(
    "schema_info",
    metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# The schema version of stores made before Alembic migrations (pipeline/migrations/);
# the migrations now carry the schema, and this row stays for older readers.
SCHEMA_VERSION = "4"

facts = sa.Table(
    "facts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.document_id"), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("sector", sa.String(16)),
    sa.Column("category", sa.Text),
    sa.Column("counterpart", sa.Text),
    sa.Column("place", sa.Text),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    sa.Column("period_label", sa.Text),
    sa.Column("value", sa.Float),
    sa.Column("low", sa.Float),
    sa.Column("high", sa.Float),
    sa.Column("qualifier", sa.String(16)),
    sa.Column("unit", sa.Text),
    sa.Column("sentence", sa.Text),
    sa.Column("start_char", sa.Integer),
    sa.Column("end_char", sa.Integer),
    sa.Column("extractor_version", sa.Text, nullable=False),
    sa.Column("confidence", sa.Float),
    sa.Column("reviewed", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    # A rejected fact stays visible for the audit but is left out of queries and reconciliation.
    sa.Column("rejected", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
)

sector_labels = sa.Table(
    "sector_labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.document_id"), nullable=False, index=True),
    sa.Column("unit", sa.String(16), nullable=False),  # document|paragraph|activity
    sa.Column("unit_index", sa.Integer, nullable=False),
    sa.Column("sector", sa.String(16), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("probabilities", sa.Text),  # JSON object sector -> probability
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False, default="model"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reviewed", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
)

# --- review: accounts, sessions and corrections (schema version 5) ---------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),  # analyst|reviewer|admin
    sa.Column("password_hash", sa.Text, nullable=False),  # Argon2id, salt and parameters included
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
)

# Server-side sessions: deleting a row signs the browser out at once.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 of the cookie; the cookie itself is never stored
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

# Every reviewer decision, keyed to a stable id so a re-run applies it again instead of losing it.
corrections = sa.Table(
    "corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reviewer", sa.String(64), nullable=False),
    sa.Column("target_type", sa.String(16), nullable=False),  # sector|fact|activity|alias
    sa.Column("target_key", sa.Text, nullable=False, index=True),
    sa.Column("text_hash", sa.String(64), index=True),  # the document text the key points into, if any
    sa.Column("document_id", sa.String(32)),  # where the reviewer saw it (informative only)
    sa.Column("action", sa.String(16), nullable=False),  # set|reject|merge|split|not_activity
    sa.Column("field", sa.Text),
    sa.Column("old_value", sa.Text),  # JSON
    sa.Column("new_value", sa.Text),  # JSON
    sa.Column("comment", sa.Text),
    sa.Column("active", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
    sa.Column("superseded_by", sa.Integer),
)

# Rows that an NLP stage derives from one document; replaced whole on re-processing.
DERIVED_TABLES: tuple[sa.Table, ...] = (entities, facts, sector_labels)
EXPORT_TABLES: tuple[str, ...] = (
    "documents", "entities", "facts", "sector_labels", "persons", "person_aliases",
    "activities", "activity_people", "activity_tallies", "sources", "runs", "fetches", "skips", "training_runs",
    "corrections",
)  # users and web_sessions are never exported: they hold password hashes and session tokens


_REGISTER_LOCK_KEY = 0x6E6B7267  # advisory lock id of the activity register's rebuild


def utcnow() -> datetime:
    return datetime.now(UTC)


def resolve_db_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to ``base_dir`` (the config file's folder)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"database URL {url!r} is not valid; use e.g. sqlite:///data/nkpipe.db "
            f"or postgresql+psycopg://user@host/dbname"
        ) from exc
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    path = Path(parsed.database).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def _enable_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _use_wal(cursor, attempts: int = 200) -> None:
    """Switch to WAL unless the file is in it already.

    The switch can fail at once with "database is locked" while another connection opens or
    migrates the same new file (the busy timeout does not always apply to it), so it is retried.
    """
    for attempt in range(attempts):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def create_engine_for(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)
        sa.event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the driver for {parsed.get_backend_name()} is not installed ({exc.name}); "
            f"install it, e.g. pip install 'nkpipe[postgres]'"
        ) from exc


def _upsert(conn: Connection, table: sa.Table, rows: list[dict], keys: Sequence[str]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:  # pragma: no cover - guarded by open_store
        raise StoreError(f"unsupported database {dialect!r}; use SQLite or PostgreSQL")
    stmt = insert(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    for name in ("created_at", "first_run_id"):
        updates.pop(name, None)  # keep when the row was first seen
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), rows)


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
    )


@dataclass
class Store:
    """The project's database; one object per process, safe to share between tasks."""

    engine: Engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction.

        On SQLite it takes the write lock first (``BEGIN IMMEDIATE``, waiting up to the busy
        timeout), so a transaction that reads before it writes never fails when another
        process wrote in between; PostgreSQL locks rows as it goes.
        """
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def create_schema(self) -> None:
        """Bring the schema to the newest migration (Alembic; see ``pipeline.migrate``)."""
        from pipeline.migrate import bring_to_head

        bring_to_head(self.engine)

    # --- sources -----------------------------------------------------------
    def add_source(self, url: str, kind: str, name: str | None, published: date | None) -> Source:
        try:
            with self.writing() as conn:
                existing = conn.execute(sa.select(sources.c.id).where(sources.c.url == url)).first()
                if existing:
                    raise DuplicateSourceError(url, existing.id)
                result = conn.execute(
                    sources.insert().values(
                        url=url, kind=kind, name=name, published=published,
                        enabled=True, added_at=utcnow(),
                    )
                )
                source_id = result.inserted_primary_key[0]
        except IntegrityError as exc:  # a concurrent writer registered it first: its id, read once it committed
            found = self.find_source(url)
            raise DuplicateSourceError(url, found.id if found else None) from exc
        return self.get_source(source_id)

    def get_source(self, source_id: int) -> Source:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sources).where(sources.c.id == source_id)).first()
        if row is None:
            raise UnknownSourceError(
                f"no source has id {source_id}; `nkpipe sources list` shows the ids"
            )
        return _source_from_row(row)

    def find_source(self, url: str) -> Source | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sources).where(sources.c.url == url)).first()
        return _source_from_row(row) if row else None

    def list_sources(self, enabled_only: bool = False) -> list[Source]:
        query = sa.select(sources).order_by(sources.c.id)
        if enabled_only:
            query = query.where(sources.c.enabled.is_(True))
        with self.engine.connect() as conn:
            return [_source_from_row(r) for r in conn.execute(query)]

    def source_overview(self) -> list[dict]:
        """Sources with their last outcome and stored document count, for listings."""
        counts = (
            sa.select(documents.c.source_id, sa.func.count().label("documents"))
            .group_by(documents.c.source_id)
            .subquery()
        )
        query = (
            sa.select(sources, sa.func.coalesce(counts.c.documents, 0).label("documents"))
            .select_from(sources.outerjoin(counts, counts.c.source_id == sources.c.id))
            .order_by(sources.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def count_sources(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(sources)).scalar_one()

    def set_source_enabled(self, source_id: int, enabled: bool) -> Source:
        with self.writing() as conn:
            result = conn.execute(
                sources.update().where(sources.c.id == source_id).values(enabled=enabled)
            )
        if result.rowcount == 0:
            raise UnknownSourceError(
                f"no source has id {source_id}; `nkpipe sources list` shows the ids"
            )
        return self.get_source(source_id)

    def mark_source_processed(
        self, source_id: int, fetched: Fetched, pipeline_version: str, outcome: str
    ) -> None:
        """Remember what was processed so the next run can skip it when unchanged."""
        with self.writing() as conn:
            conn.execute(
                sources.update().where(sources.c.id == source_id).values(
                    etag=fetched.etag, last_modified=fetched.last_modified,
                    content_hash=fetched.content_hash, pipeline_version=pipeline_version,
                    last_outcome=outcome, last_reason=None, last_fetched_at=utcnow(),
                )
            )

    def mark_source_outcome(self, source_id: int, outcome: str, reason: str | None) -> None:
        with self.writing() as conn:
            conn.execute(
                sources.update().where(sources.c.id == source_id).values(
                    last_outcome=outcome, last_reason=reason, last_fetched_at=utcnow()
                )
            )

    # --- runs, fetches, skips ----------------------------------------------
    def start_run(self, flow_name: str, sources_total: int, pipeline_version: str,
                  flow_run_id: str | None = None) -> int:
        with self.writing() as conn:
            result = conn.execute(
                runs.insert().values(
                    flow_name=flow_name, flow_run_id=flow_run_id, started_at=utcnow(),
                    status="running", pipeline_version=pipeline_version,
                    sources_total=sources_total,
                    new=0, changed=0, unchanged=0, skipped=0, failed=0, words=0,
                )
            )
            return result.inserted_primary_key[0]

    def finish_run(self, run_id: int, counts: RunCounts, status: str, message: str | None = None) -> None:
        with self.writing() as conn:
            conn.execute(
                runs.update().where(runs.c.run_id == run_id).values(
                    finished_at=utcnow(), status=status, message=message,
                    new=counts.new, changed=counts.changed, unchanged=counts.unchanged,
                    skipped=counts.skipped, failed=counts.failed, words=counts.words,
                )
            )

    def get_run(self, run_id: int) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
        if row is None:
            raise StoreError(f"no run has id {run_id}")
        return dict(row._mapping)

    def recent_runs(self, limit: int = 10) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.run_id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def recent_problems(self, limit: int = 10) -> list[dict]:
        """The latest failed or skipped fetches with their source URL and reason, newest first."""
        query = (sa.select(fetches, sources.c.url).join(sources, sources.c.id == fetches.c.source_id)
                 .where(fetches.c.outcome.in_(("failed", "skipped"))).order_by(fetches.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def record_fetch(self, run_id: int | None, source_id: int, outcome: str, *,
                     reason: str | None = None, fetched: Fetched | None = None,
                     documents_count: int | None = None, duration_s: float | None = None) -> None:
        with self.writing() as conn:
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

    def record_skips(self, run_id: int | None, source_id: int, items: Iterable[ItemSkip]) -> None:
        rows = [
            dict(run_id=run_id, source_id=source_id, item_key=s.key, stage=s.stage,
                 reason=s.reason, created_at=utcnow())
            for s in items
        ]
        if rows:
            with self.writing() as conn:
                conn.execute(skips.insert(), rows)

    def skips_for_run(self, run_id: int) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(skips).where(skips.c.run_id == run_id).order_by(skips.c.id))
            return [dict(r._mapping) for r in rows]

    # --- raw content ---------------------------------------------------------
    def save_raw(self, fetched: Fetched) -> None:
        """Keep the fetched bytes, compressed, once per content hash."""
        if fetched.body is None or fetched.content_hash is None:
            return
        with self.writing() as conn:
            exists = conn.execute(
                sa.select(raw_contents.c.content_hash)
                .where(raw_contents.c.content_hash == fetched.content_hash)
            ).first()
            if exists:
                return
            _upsert(conn, raw_contents, [dict(
                content_hash=fetched.content_hash, compression="zlib", size_bytes=fetched.size,
                content_type=fetched.content_type, charset=fetched.charset,
                data=zlib.compress(fetched.body, 6), stored_at=utcnow(),
            )], ["content_hash"])

    def load_raw(self, content_hash: str) -> bytes | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(raw_contents).where(raw_contents.c.content_hash == content_hash)
            ).first()
        return zlib.decompress(row.data) if row else None

    # --- documents and derived rows -----------------------------------------
    def document_versions(self, document_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """document_id -> (text_hash, pipeline_version) of what is stored."""
        found: dict[str, tuple[str, str]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(document_ids), 500):
                chunk = list(document_ids[start:start + 500])
                query = sa.select(
                    documents.c.document_id, documents.c.text_hash, documents.c.pipeline_version
                ).where(documents.c.document_id.in_(chunk))
                found.update({r.document_id: (r.text_hash, r.pipeline_version) for r in conn.execute(query)})
        return found

    def count_documents(self, source_id: int | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(documents)
        if source_id is not None:
            query = query.where(documents.c.source_id == source_id)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def write_documents(self, run_id: int | None, analyzed: Sequence[AnalyzedDocument],
                        pipeline_version: str, nlp_version: str) -> None:
        """Store documents and replace their derived rows, all in one transaction."""
        if not analyzed:
            return
        now = utcnow()
        # Rows are locked in id order, so two runs writing the same documents wait, never deadlock.
        analyzed = sorted(analyzed, key=lambda a: a.document_id)
        ids = [a.document_id for a in analyzed]
        with self.writing() as conn:
            _upsert(conn, documents, [_document_row(a, run_id, pipeline_version, now) for a in analyzed],
                    ["document_id"])
            for table in DERIVED_TABLES:
                conn.execute(table.delete().where(table.c.document_id.in_(ids)))
            entity_rows = [
                dict(document_id=a.document_id, entity_index=i, label=e.label, text=e.text,
                     start_char=e.start_char, end_char=e.end_char, sentence_start=e.sentence_start,
                     sentence_end=e.sentence_end, canonical_id=e.canonical_id,
                     canonical_name=e.canonical_name, nlp_version=nlp_version)
                for a in analyzed for i, e in enumerate(a.entities)
            ]
            if entity_rows:
                conn.execute(entities.insert(), entity_rows)
            _record_person_aliases(conn, analyzed, now)
            for table in (facts, sector_labels):
                rows = [dict(r, document_id=a.document_id) for a in analyzed for r in a.derived_rows(table.name)]
                if rows:
                    conn.execute(table.insert(), [_with_defaults(table, r, now) for r in rows])
            from pipeline.review import apply_document_corrections

            apply_document_corrections(conn, ids)  # reviewers' decisions outlive the re-run

    def query_facts(self, kind: str | None = None, year: int | None = None) -> list[dict]:
        """Facts with their document's title and URL, optionally of one kind or overlapping one year."""
        query = (
            sa.select(facts, documents.c.title.label("document_title"), documents.c.url.label("document_url"),
                      documents.c.published.label("document_published"))
            .select_from(facts.join(documents, facts.c.document_id == documents.c.document_id))
            .order_by(facts.c.document_id, facts.c.start_char)
        )
        query = query.where(facts.c.rejected.is_(False))  # a reviewer rejected these
        if kind:
            query = query.where(facts.c.kind == kind)
        if year is not None:
            query = query.where(facts.c.period_start <= date(year, 12, 31), facts.c.period_end >= date(year, 1, 1))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def reviewed_sector_units(self) -> list[dict]:
        """Reviewer-made sector labels with the text of their unit, for training.

        One unit per correction and per text: copies of a story under several links (same text
        hash, or same text up to case and spacing) would otherwise weigh several times in training.
        """
        from pipeline.sectors import paragraphs, text_key, unit_text

        query = (
            sa.select(sector_labels.c.document_id, sector_labels.c.unit, sector_labels.c.unit_index,
                      sector_labels.c.sector, documents.c.title, documents.c.text, documents.c.text_hash)
            .select_from(sector_labels.join(documents, sector_labels.c.document_id == documents.c.document_id))
            .where(sector_labels.c.source == "reviewer").order_by(sector_labels.c.document_id)
        )
        units = []
        seen: set = set()
        with self.engine.connect() as conn:
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

    def record_training_run(self, summary: dict) -> None:
        with self.writing() as conn:
            conn.execute(training_runs.insert().values(
                trained_at=utcnow(), model_version=summary["version"], design=summary["design"],
                test_macro_f1=summary["test_macro_f1"], previous_macro_f1=summary["previous_macro_f1"],
                promoted=summary["promoted"], reason=summary["reason"], train_size=summary["train_size"],
                test_size=summary["test_size"], details=json.dumps(summary, default=str),
            ))

    @contextlib.contextmanager
    def rebuilding_register(self) -> Iterator[RegisterRebuild]:
        """Read the documents and replace the register under one lock, for one rebuild.

        Two runs rebuilding at once take turns, and each reads the documents only once the
        other's register is written, so neither writes a register built from a stale read
        over the other's. SQLite: the write lock (``BEGIN IMMEDIATE``); PostgreSQL: an
        advisory lock held by the transaction (READ COMMITTED, so reads after it see the
        other's commit).
        """
        with self.writing() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _REGISTER_LOCK_KEY})
            yield RegisterRebuild(conn)

    def register_reports(self):
        """State-media documents with their entities and document-level sector, for the register."""
        with self.engine.connect() as conn:
            return RegisterRebuild(conn).reports()

    def write_register(self, register) -> None:
        """Replace the whole register in one transaction (it is rebuilt from the documents)."""
        with self.rebuilding_register() as rebuild:
            rebuild.write(register)

    def load_register(self, include_rejected: bool = False):
        """The register's activities; those a reviewer marked as not activities are left out."""
        from pipeline.review import register_from

        with self.engine.connect() as conn:
            return register_from(conn, include_rejected)

    def read_table(self, name: str):
        """A whole table as a pandas DataFrame (export and tests)."""
        import pandas as pd

        with self.engine.connect() as conn:
            return pd.read_sql_table(name, conn)


@dataclass
class RegisterRebuild:
    """The reads and the write of one register rebuild, on the connection that holds its lock."""

    conn: Connection

    def reports(self):
        """State-media documents with their entities and document-level sector."""
        from pipeline.activities import Report, ReportEntity

        conn = self.conn
        sectors = dict(conn.execute(
            sa.select(sector_labels.c.document_id, sector_labels.c.sector).where(sector_labels.c.unit == "document")).all())
        by_document: dict[str, list] = {}
        query = sa.select(entities).join(documents, entities.c.document_id == documents.c.document_id).where(
            documents.c.format == "kcna").order_by(entities.c.document_id, entities.c.entity_index)
        for e in conn.execute(query):
            by_document.setdefault(e.document_id, []).append(ReportEntity(
                e.label, e.text, e.start_char, e.end_char, e.canonical_id, e.canonical_name))
        rows = conn.execute(sa.select(documents.c.document_id, documents.c.title, documents.c.text,
                                      documents.c.published, documents.c.section).where(documents.c.format == "kcna"))
        return [Report(r.document_id, r.title, r.text, r.published, tuple(by_document.get(r.document_id, ())),
                       sectors.get(r.document_id), r.section) for r in rows]

    def write(self, register) -> None:
        """Replace the whole register.

        Activity corrections are applied again before the tallies are counted, so an
        activity a reviewer rejected stays out of them after every rebuild.
        """
        from pipeline.review import apply_register_corrections, refresh_tallies

        conn = self.conn
        conn.execute(activity_people.delete())
        conn.execute(activity_tallies.delete())
        conn.execute(activities.delete())
        if register:
            conn.execute(activities.insert(), [a.row() for a in register])
        people = [dict(activity_id=a.activity_id, person_id=p.person_id, name=p.name, role=p.role)
                  for a in register for p in a.people]
        if people:
            conn.execute(activity_people.insert(), people)
        apply_register_corrections(conn)
        refresh_tallies(conn)


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
    _insert_missing(conn, persons, new_people, ["person_id"])
    existing = {r.alias: r for r in conn.execute(
        sa.select(person_aliases).where(person_aliases.c.alias.in_(list(seen))))}
    inserts = [dict(alias=alias, person_id=pid, source="observed", mentions=0, updated_at=now)
               for alias, (pid, _) in sorted(seen.items()) if alias not in existing]
    _insert_missing(conn, person_aliases, inserts, ["alias"])
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


def _insert_missing(conn: Connection, table: sa.Table, rows: list[dict], keys: Sequence[str]) -> None:
    """Insert rows whose key is not there yet; a concurrent run that inserted one first wins."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).on_conflict_do_nothing(index_elements=list(keys)), rows)


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
        created_at=now, updated_at=now,
    )


def open_store(url: str, base_dir: Path | None = None) -> Store:
    """Open (and create if needed) the store at ``url``."""
    resolved = resolve_db_url(url, base_dir or Path.cwd())
    backend = make_url(resolved).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database {backend!r} in {url!r}; use sqlite:///PATH or postgresql+psycopg://..."
        )
    store = Store(create_engine_for(resolved))
    store.create_schema()
    return store
