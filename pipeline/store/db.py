"""The floor of nkpipe: the schema, the engine and the ``Store`` every other module stands on.

SQLAlchemy Core tables (SQLite in WAL mode by default, PostgreSQL by URL); the schema is
kept by Alembic migrations (``pipeline/store/migrations/``, run by ``pipeline.store.migrate``).
This module imports nothing of nkpipe but the records layer. Which module writes which
table: ``ledger`` (sources, runs, fetches, skips, raw bytes, training runs),
``document_rows`` (documents and every derived table), ``register_rows`` (the activity
register), ``correction_rows`` (reviewers' corrections), ``signal_rows`` (signals); ``persist`` writes rows and
re-applies the corrections in one transaction. The database URL arrives absolute from
``pipeline.config.load_config``; nothing here resolves it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from pipeline.errors import StoreError

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
    # Which addresses fetching it may reach: any | public (pipeline.addresses); web-added sources get public.
    sa.Column("address_policy", sa.String(8), nullable=False, default="any", server_default="any"),
    # Discovery (pipeline.discovery): a feed, sitemap or listing page is a source whose articles are
    # sources too, each with its own fetch state, under the source that found it (parent_id).
    sa.Column("source_type", sa.String(32)),  # the type that read it last, or the one the analyst named
    sa.Column("link_pattern", sa.Text),  # listing pages: a regular expression article links match
    sa.Column("max_pages", sa.Integer),  # listing pages: how many pages of the listing to follow
    sa.Column("state_media", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("sources.id"), index=True),
    sa.Column("listed_date", sa.Date),  # the date the feed or sitemap gave the article
    sa.Column("page", sa.Integer),  # a listing's page number, a sitemap index's depth
    sa.Column("next_check_at", sa.DateTime(timezone=True)),  # discovered articles: when to look again (NULL: never)
    sa.Column("checks", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),  # 404/410 after it had existed
    sa.Column("last_discovered_at", sa.DateTime(timezone=True)),
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
    sa.Column("status", sa.String(32), nullable=False),  # running|completed|completed_with_failures|failed|abandoned
    sa.Column("pipeline_version", sa.Text),
    sa.Column("sources_total", sa.Integer, nullable=False, default=0),
    sa.Column("new", sa.Integer, nullable=False, default=0),
    sa.Column("changed", sa.Integer, nullable=False, default=0),
    sa.Column("unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("skipped", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Column("words", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text),
    sa.Column("discovered", sa.Integer, nullable=False, default=0, server_default="0"),  # new article links
    sa.Column("non_english", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("days_covered", sa.Integer),  # discovery: days since the previous discovery of its sources
    # The process running it, so that the next run can tell a run whose process died (kill -9) and mark it abandoned.
    sa.Column("host", sa.Text),
    sa.Column("pid", sa.Integer),
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
    sa.Column("language", sa.String(8)),  # ISO 639-1 by py3langid; only English is extracted
    sa.Column("deleted_at", sa.DateTime(timezone=True)),  # its page answered 404/410 after it had existed
)

# The earlier texts of a document whose page changed: kept, never overwritten (`nkpipe revisions`).
document_revisions = sa.Table(
    "document_revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.document_id"), nullable=False, index=True),
    sa.Column("revision", sa.Integer, nullable=False),  # 1 = the first text stored
    sa.Column("title", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("text_hash", sa.String(64), nullable=False),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),  # when this text was first stored
    sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("replaced_by_run", sa.Integer),
    sa.Column("diff_summary", sa.Text),  # "+2 -1 sentences: ..." of the change that replaced it
    sa.UniqueConstraint("document_id", "revision", name="uq_document_revisions"),
)

# Near-duplicate documents across outlets (MinHash over word shingles, pipeline.clusters).
document_signatures = sa.Table(
    "document_signatures",
    metadata,
    sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.document_id"), primary_key=True),
    sa.Column("text_hash", sa.String(64), nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
)

# One row per document that has a near-duplicate; one member of each cluster is its representative,
# the one whose facts and register reports count.
story_clusters = sa.Table(
    "story_clusters",
    metadata,
    sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.document_id"), primary_key=True),
    sa.Column("cluster_id", sa.String(32), nullable=False, index=True),  # the representative's document id
    sa.Column("representative", sa.Boolean, nullable=False),
    sa.Column("similarity", sa.Float, nullable=False),  # estimated Jaccard similarity to the representative
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
    sa.Column("date_precision", sa.String(16)),  # stated | linked | inferred (pipeline.activities)
    # activity | speech | follow_up | digest | letter, and the event a part belongs to (pipeline.activities)
    sa.Column("kind", sa.String(16), nullable=False, default="activity", server_default="activity"),
    sa.Column("part_of", sa.String(32)),
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

# The schema version of stores made before Alembic migrations (pipeline/store/migrations/);
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
    # day | week | month | quarter | half | year | multi_year | unresolved (tests/gold/SCHEMA.md)
    sa.Column("period_precision", sa.String(16)),
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

# Bearer tokens of the workbench's read-only JSON API (`nkpipe users token NAME`): one per account,
# stored only as a sha256, so the store never holds a usable token; re-issuing replaces the row.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("user_id", name="uq_api_tokens_user"),
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
    sa.Column("action", sa.String(16), nullable=False),  # set|reject|merge|split|not_activity|is_activity|confirm
    sa.Column("field", sa.Text),
    sa.Column("old_value", sa.Text),  # JSON
    sa.Column("new_value", sa.Text),  # JSON
    sa.Column("comment", sa.Text),
    sa.Column("active", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
    sa.Column("superseded_by", sa.Integer),
    # A double review (pipeline.corrections): first | second | adjudication, and the id of the round's
    # first decision. A first decision, and a second that disagrees with it, are stored inactive and unapplied.
    sa.Column("review_role", sa.String(16)),
    sa.Column("round_id", sa.Integer, index=True),
)

# Signals from the register (pipeline.signals), one row per key, written by every nightly run
# (signal_rows). ``peak_value`` is the largest value reported in the current episode: the signal is
# new again only when its value grows past it, or when it comes back after a run that did not raise it.
signals = sa.Table(
    "signals",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),  # "gap:Kim Jong Un", "absent:<person id>", ...
    sa.Column("kind", sa.String(16), nullable=False),  # gap | absent | sector_mix | series
    sa.Column("severity", sa.String(8), nullable=False),  # low | medium | high
    sa.Column("value", sa.Float, nullable=False),  # as measured by the last run that raised it
    sa.Column("peak_value", sa.Float, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),  # JSON list of {activity_id, date[, document_id, fact_id]}
    sa.Column("as_of", sa.Date, nullable=False),  # the newest document's date it was measured at
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),  # start of the current episode
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),  # last time it was new (and notified)
    sa.Column("active", sa.Boolean, nullable=False, default=True, server_default=sa.true()),  # raised by the last run
)

# Market series (pipeline.series): one row per source's observation of a measure in a place and survey
# period, rebuilt from the facts by every nightly run. ``month`` is the survey's (its end), ``dated_by`` says
# whether the text gave the survey date ("survey") or the publication date stood in ("publication").
series_points = sa.Table(
    "series_points",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("measure", sa.String(64), nullable=False),  # "KPW/USD", "KPW/CNY official", "rice"
    sa.Column("unit", sa.String(16), nullable=False),  # KPW/USD | KPW/CNY | KPW/kg
    sa.Column("place", sa.Text),  # the market city, None when the text names none
    sa.Column("month", sa.String(7), nullable=False),  # YYYY-MM of survey_end
    sa.Column("survey_start", sa.Date, nullable=False),
    sa.Column("survey_end", sa.Date, nullable=False),
    sa.Column("dated_by", sa.String(16), nullable=False),  # survey | publication
    sa.Column("published", sa.Date),
    sa.Column("value", sa.Float, nullable=False),  # the point value (a range's middle)
    sa.Column("low", sa.Float),
    sa.Column("high", sa.Float),
    sa.Column("qualifier", sa.String(16)),
    sa.Column("outlet", sa.Text, nullable=False),  # the site that published it
    sa.Column("document_id", sa.String(32), nullable=False),
    sa.Column("fact_id", sa.Integer),
    sa.Column("sentence", sa.Text),
    sa.Index("ix_series_points_measure_place_month", "measure", "place", "month"),
)

# Full-text search over documents' titles and texts (migration 0010), kept outside the metadata because
# SQLAlchemy describes neither of its forms: on SQLite an FTS5 table holding its own copy of title and text,
# keyed by a table of stable integer ids (a document's own rowid may change when SQLite copies the table),
# and kept in step by triggers on documents; on PostgreSQL a GIN index over the documents' text vector.
# A migration that rebuilds documents on SQLite (batch_alter_table copies and drops it) drops its triggers
# with it and must create them again. ``pipeline.store.document_search`` reads them.
SEARCH_TABLE = "documents_fts"
SEARCH_KEYS_TABLE = "document_search_keys"
SEARCH_TRIGGERS = ("documents_search_insert", "documents_search_update", "documents_search_delete")
PG_SEARCH_INDEX = "ix_documents_search"


def described_by_metadata(name: str | None, type_: str, parent_names: dict) -> bool:
    """Whether a schema object is the metadata's to compare (Alembic's ``include_name``): the search
    objects, FTS5's own shadow tables (``documents_fts_data``, ...) included, are not."""
    if type_ == "table":
        return name not in (SEARCH_TABLE, SEARCH_KEYS_TABLE) and not (name or "").startswith(f"{SEARCH_TABLE}_")
    return not (type_ == "index" and name == PG_SEARCH_INDEX)


EXPORT_TABLES: tuple[str, ...] = (
    "documents", "entities", "facts", "sector_labels", "persons", "person_aliases",
    "activities", "activity_people", "activity_tallies", "sources", "runs", "fetches", "skips", "training_runs",
    "corrections", "document_revisions", "story_clusters", "series_points",
)  # users, web_sessions and api_tokens are never exported: they hold password and token hashes


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




def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Store:
    """The project's database; one object per process, safe to share between tasks.

    It only holds the engine and hands out transactions; the row modules read and write.
    """

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

    def reading(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection for reads."""
        return self.engine.connect()

    def read_table(self, name: str):
        """A whole table as a pandas DataFrame (export and tests)."""
        import pandas as pd

        with self.engine.connect() as conn:
            return pd.read_sql_table(name, conn)


def check_backend(url: str) -> str:
    """``url`` when it names SQLite or PostgreSQL; a StoreError saying what to use otherwise."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError as exc:
        raise StoreError(
            f"database URL {url!r} is not valid; use e.g. sqlite:///data/nkpipe.db "
            f"or postgresql+psycopg://user@host/dbname"
        ) from exc
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database {backend!r} in {url!r}; use sqlite:///PATH or postgresql+psycopg://..."
        )
    return url


def upsert(conn: Connection, table: sa.Table, rows: list[dict], keys: Sequence[str]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:  # pragma: no cover - guarded by check_backend
        raise StoreError(f"unsupported database {dialect!r}; use SQLite or PostgreSQL")
    stmt = insert(table)
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    for name in ("created_at", "first_run_id"):
        updates.pop(name, None)  # keep when the row was first seen
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), rows)


def insert_missing(conn: Connection, table: sa.Table, rows: list[dict], keys: Sequence[str]) -> None:
    """Insert rows whose key is not there yet; a concurrent run that inserted one first wins."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).on_conflict_do_nothing(index_elements=list(keys)), rows)


