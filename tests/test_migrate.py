"""Alembic migrations: the migrated schema is the metadata's, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from datetime import UTC, datetime

from pipeline.store import ledger
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from typer.testing import CliRunner

from nkpipe.cli import app
from pipeline.errors import StoreError
from pipeline.store.migrate import (
    BASELINE,
    BASELINE_TABLES,
    alembic_config,
    current_revision,
    head_revision,
    history,
)
from pipeline.store import open_store
from pipeline.store.db import (
    PG_SEARCH_INDEX,
    SEARCH_KEYS_TABLE,
    SEARCH_TABLE,
    create_engine_for,
    described_by_metadata,
    metadata,
    schema_info,
)


def test_migrate_schema_matches_metadata(any_db_url):
    store = open_store(any_db_url)
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": described_by_metadata}), metadata)
        inspector = sa.inspect(conn)
        tables = set(inspector.get_table_names())
        indexes = {i["name"] for i in inspector.get_indexes("documents")}
    assert diffs == []
    assert current_revision(store.engine) == head_revision()
    # what the comparison leaves out is there, and is all it leaves out
    if store.engine.dialect.name == "sqlite":
        assert {SEARCH_TABLE, SEARCH_KEYS_TABLE} <= tables
        assert {t for t in tables if not described_by_metadata(t, "table", {})} - {SEARCH_TABLE, SEARCH_KEYS_TABLE} == {
            f"{SEARCH_TABLE}_{shadow}" for shadow in ("data", "idx", "content", "docsize", "config")}
    else:
        assert PG_SEARCH_INDEX in indexes and not {SEARCH_TABLE, SEARCH_KEYS_TABLE} & tables


def test_migrate_baseline_holds_every_table_of_schema_4():
    assert set(BASELINE_TABLES) <= set(metadata.tables)
    assert history()[0][:2] == ("0001", None)
    assert [down for _, down, _ in history()[1:]] == [rev for rev, _, _ in history()[:-1]]  # one line


def _pre_migration_store(url: str) -> None:
    """A store as nkpipe made it before migrations: the baseline's tables and rows, no alembic_version."""
    engine = create_engine_for(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), BASELINE)  # the schema of version 4, not today's metadata
        conn.exec_driver_sql("DROP TABLE alembic_version")
        old = sa.MetaData()
        old.reflect(conn)
        now = datetime.now(UTC)
        conn.execute(old.tables["sources"].insert().values(
            id=1, url="https://x.org/", kind="article", enabled=True, added_at=now))
        conn.execute(old.tables["runs"].insert().values(
            run_id=1, flow_name="nightly", started_at=now, status="completed", sources_total=1,
            new=1, changed=0, unchanged=0, skipped=0, failed=0, words=5))
        conn.execute(old.tables["fetches"].insert().values(
            run_id=1, source_id=1, fetched_at=now, outcome="new"))
        conn.execute(old.tables["skips"].insert().values(
            run_id=1, source_id=1, item_key="item-1", stage="clean", reason="too short", created_at=now))
        conn.execute(old.tables["documents"].insert().values(
            document_id="doc-1", source_id=1, doc_key="k", url="https://x.org/1", published_inferred=False,
            format="text", text="Five words of text here.", text_hash="h", word_count=5, char_count=24,
            sentence_count=1, pipeline_version="old", first_run_id=1, last_run_id=1,
            created_at=now, updated_at=now))
        conn.execute(old.tables["facts"].insert().values(
            document_id="doc-1", kind="activity_count", extractor_version="facts-old"))
    engine.dispose()


def test_migrate_unversioned_store_is_stamped_and_keeps_its_rows(any_db_url):
    _pre_migration_store(any_db_url)
    store = open_store(any_db_url)  # 0002 copies runs on SQLite, which fetches and skips refer to
    assert current_revision(store.engine) == head_revision()
    assert ledger.count_sources(store) == 1
    assert ledger.get_run(store, 1)["status"] == "completed"
    fetched = store.read_table("fetches")
    assert list(fetched["run_id"]) == [1]
    assert [s["item_key"] for s in ledger.skips_for_run(store, 1)] == ["item-1"]
    found = store.read_table("facts")  # 0003 added the review flags to an existing row
    assert list(found["reviewed"]) == [False] and list(found["rejected"]) == [False]
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(schema_info.c.value).where(schema_info.c.key == "version")).scalar() == "4"
    store.engine.dispose()


def test_migrate_sqlite_store_keeps_foreign_keys_enforced_after_migrating(tmp_path):
    url = f"sqlite:///{tmp_path / 'nkpipe.db'}"
    _pre_migration_store(url)
    store = open_store(url)
    with store.engine.connect() as conn:  # the pooled connection that migrated is handed out again
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(sa.exc.IntegrityError):
        ledger.record_fetch(store, 999, 1, "new")
    store.engine.dispose()


def test_migrate_sqlite_store_with_dangling_rows_is_refused_and_left_as_it_was(tmp_path):
    path = tmp_path / "nkpipe.db"
    _pre_migration_store(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as raw:  # foreign keys are off by default here
        raw.execute("INSERT INTO fetches (run_id, source_id, fetched_at, outcome) VALUES (99, 1, '2024-01-01', 'new')")
        raw.commit()
    with pytest.raises(StoreError, match="1 row.* referring to missing rows .*fetches"):
        open_store(f"sqlite:///{path}")
    with contextlib.closing(sqlite3.connect(path)) as raw:
        tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "alembic_version" not in tables and "users" not in tables


def test_migrate_refuses_a_store_it_cannot_upgrade(any_db_url):
    engine = create_engine_for(any_db_url)
    with engine.begin() as conn:
        schema_info.create(conn)
        conn.execute(schema_info.insert().values(key="version", value="99"))
    engine.dispose()
    with pytest.raises(StoreError, match="schema version 99"):
        open_store(any_db_url)


def test_migrate_stores_opened_at_once_migrate_once(any_db_url):
    errors, stores = [], []
    start = threading.Barrier(4)

    def open_one():
        try:
            start.wait()
            stores.append(open_store(any_db_url))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with stores[0].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema_info)).scalar() == 1
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
    for store in stores:
        store.engine.dispose()


def test_migrate_cli_upgrade_current_history(any_db_url):
    runner = CliRunner()
    before = runner.invoke(app, ["--db", any_db_url, "db", "current"])
    assert before.exit_code == 0 and "behind head" in before.output
    upgraded = runner.invoke(app, ["--db", any_db_url, "db", "upgrade"])
    assert upgraded.exit_code == 0 and f"at revision {head_revision()}" in upgraded.output
    after = runner.invoke(app, ["--db", any_db_url, "db", "current"])
    assert after.output.strip() == f"{head_revision()} (head)"
    listed = runner.invoke(app, ["db", "history"])
    assert "<base> -> 0001: Baseline" in listed.output
