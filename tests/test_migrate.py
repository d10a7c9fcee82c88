"""Alembic migrations: the migrated schema is the metadata's, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import StoreError
from pipeline.migrate import BASELINE_TABLES, current_revision, head_revision, history
from pipeline.store import create_engine_for, metadata, open_store, schema_info


def test_migrate_schema_matches_metadata(any_db_url):
    store = open_store(any_db_url)
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diffs == []
    assert current_revision(store.engine) == head_revision()


def test_migrate_baseline_holds_every_table_of_schema_4():
    assert set(BASELINE_TABLES) <= set(metadata.tables)
    assert history()[0][:2] == ("0001", None)
    assert [down for _, down, _ in history()[1:]] == [rev for rev, _, _ in history()[:-1]]  # one line


def test_migrate_unversioned_store_is_stamped_and_keeps_its_rows(any_db_url):
    engine = create_engine_for(any_db_url)
    # a store as nkpipe made it before migrations
    metadata.create_all(engine, tables=[metadata.tables[name] for name in BASELINE_TABLES])
    with engine.begin() as conn:
        conn.execute(schema_info.insert().values(key="version", value="4"))
    engine.dispose()
    first = open_store(any_db_url)
    first.add_source("https://x.org/", "article", None, None)
    first.engine.dispose()
    engine = create_engine_for(any_db_url)
    with engine.begin() as conn:  # forget the migration and what came after the baseline, as an old store would
        conn.exec_driver_sql("DROP TABLE alembic_version")
        for table in ("web_sessions", "corrections", "users"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
    engine.dispose()
    store = open_store(any_db_url)
    assert store.count_sources() == 1
    assert current_revision(store.engine) == head_revision()


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
