"""Schema migrations with Alembic, for SQLite and PostgreSQL alike.

``bring_to_head`` runs on every ``open_store``: a new store is migrated from
empty; a store made before migrations existed (``schema_info.version`` 2-4, no
``alembic_version`` table) gets its missing tables, is stamped at the baseline
revision and then upgraded. Two processes opening one store at once are
serialised: on PostgreSQL by an advisory lock held by the migrating
transaction, on SQLite by an exclusive lock on a file beside the database. On
SQLite the migration runs with foreign keys off (altering a table copies and
drops it) and is checked with ``PRAGMA foreign_key_check`` before it commits.
The migrations live in ``pipeline/store/migrations/`` (package data), configured here
without an ``alembic.ini``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from pipeline.errors import StoreError
from pipeline.store.db import SCHEMA_VERSION, metadata, schema_info, sources

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
# Stores made before migrations whose tables create_all() completes in place (later versions only added tables).
UNVERSIONED_UPGRADABLE = frozenset({"2", "3", "4"})
BASELINE_TABLES = (
    "sources", "raw_contents", "runs", "fetches", "skips", "documents", "entities", "persons",
    "person_aliases", "activities", "activity_people", "activity_tallies", "training_runs",
    "schema_info", "facts", "sector_labels",
)
_PG_LOCK_KEY = 0x6E6B7069  # "nkpi": one advisory lock id for nkpipe's migrations


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def history() -> list[tuple[str, str | None, str]]:
    """(revision, down_revision, first line of its message), oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())[::-1]
    return [(r.revision, r.down_revision if isinstance(r.down_revision, str) else None,
             (r.doc or "").strip().splitlines()[0] if r.doc else "") for r in revisions]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def bring_to_head(engine: Engine) -> str:
    """Migrate the store to the newest revision (a no-op when it is there); returns it."""
    head = head_revision()
    try:
        if current_revision(engine) == head:
            return head
        with _exclusive(engine) as conn:
            _migrate(conn)
            return MigrationContext.configure(conn).get_current_revision()
    except sa.exc.OperationalError as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"cannot open the database {url}: {exc.orig}; check the URL and that the server runs") from exc


@contextlib.contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """One transaction that no other nkpipe process migrates beside."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            yield conn
        return
    database = engine.url.database
    if not database or database == ":memory:":
        with _sqlite_foreign_keys_deferred(engine) as conn:
            yield conn
        return
    with open(f"{database}.migrate-lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with _sqlite_foreign_keys_deferred(engine) as conn:
                yield conn
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _sqlite_foreign_keys_deferred(engine: Engine) -> Iterator[Connection]:
    """A transaction with foreign keys off, checked before it commits.

    SQLite alters a table by copying it and dropping the original, which fails with foreign
    keys on once other tables' rows refer to it (fetches and skips to runs).
    """
    with engine.connect() as conn:
        # The pragma is ignored inside a transaction, so it is set on the connection before BEGIN.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        turned_off = conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
        conn.commit()
        try:
            if not turned_off:
                raise StoreError("cannot turn SQLite's foreign keys off to migrate; report this as a bug")
            with conn.begin():
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # DDL too, so a failed check undoes everything
                yield conn
                _check_foreign_keys(conn)
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")  # the pooled connection is handed out again
            conn.commit()


def _check_foreign_keys(conn: Connection) -> None:
    problems = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if problems:
        table, rowid, parent, _ = problems[0]
        url = conn.engine.url.render_as_string(hide_password=True)
        raise StoreError(
            f"migrating {url} left {len(problems)} row(s) referring to missing rows (first: {table} row {rowid} "
            f"-> {parent}); nothing was changed; restore the store from a backup or report this as a bug"
        )


def _migrate(conn: Connection) -> None:
    tables = set(sa.inspect(conn).get_table_names())
    config = alembic_config(conn)
    if "alembic_version" not in tables and tables & {"schema_info", "sources"}:
        found = None
        if "schema_info" in tables:
            found = conn.execute(sa.select(schema_info.c.value).where(schema_info.c.key == "version")).scalar()
        if found is None and conn.execute(sa.select(sa.func.count()).select_from(sources)).scalar():
            found = "1"  # made before the schema was versioned
        if found is not None and found not in UNVERSIONED_UPGRADABLE:
            url = conn.engine.url.render_as_string(hide_password=True)
            raise StoreError(
                f"the database {url} has schema version {found}, which nkpipe cannot upgrade; "
                f"export what you need and start a new store (--db), or re-run on a new file"
            )
        # the tables versions 2 and 3 lacked, as the baseline made them
        metadata.create_all(conn, tables=[metadata.tables[name] for name in BASELINE_TABLES])
        if found is None:
            conn.execute(schema_info.insert().values(key="version", value=SCHEMA_VERSION))
        else:
            conn.execute(schema_info.update().where(schema_info.c.key == "version").values(value=SCHEMA_VERSION))
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")
