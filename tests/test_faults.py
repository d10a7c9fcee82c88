"""The database going away mid-run (a PostgreSQL server stopped and started again)."""

from __future__ import annotations

import json
from dataclasses import replace

from pipeline.store import document_rows, ledger
import pytest

from pipeline.config import FlowConfig
from pipeline.errors import StoreError
from pipeline.ingest import IngestSteps, run_ingest, write_batch
from pipeline.sources import SourceSpec, register_source
from pipeline.store import open_store
from tests.conftest import KCNA_ARCHIVE, SEED_ARTICLE, derived_counts

DOCUMENTS = 29  # the first 30 items of the bundled archive (two without text) and the seed article


@pytest.fixture(scope="module")
def own_pg_server(pg_server):
    """A server of this module's own, since its tests stop it (the shared one must stay up)."""
    from tests.pg_server import find_bin_dir, throwaway_server

    if find_bin_dir() is None:
        pytest.skip("stopping a server needs the PostgreSQL binaries here")
    with throwaway_server(durable=True) as server:
        yield server


@pytest.fixture
def faulty(own_pg_server, config, tmp_path):
    """A store with three KCNA archives of ten items, then an article (KCNA items yield no facts);
    batches of five documents."""
    from tests.pg_server import fresh_database

    items = json.loads(KCNA_ARCHIVE.read_text())[:30]
    with fresh_database(own_pg_server.url) as url:
        store = open_store(url)
        for part in range(3):
            path = tmp_path / f"kcna-{part}.json"
            path.write_text(json.dumps(items[part * 10:(part + 1) * 10]))
            register_source(store, SourceSpec(str(path)))
        register_source(store, SourceSpec(str(SEED_ARTICLE)))
        yield store, replace(config, flow=FlowConfig(documents_per_task=5))
        store.engine.dispose()


def writes_stopping_the_server(server, restart: bool):
    """The second write finds the server stopped; with ``restart`` it is back right after."""
    calls = []

    def write(store, run_id, analyzed, pipeline_version, nlp_version, derived_tables=None):
        calls.append(len(analyzed))
        if len(calls) != 2:
            return write_batch(store, run_id, analyzed, pipeline_version, nlp_version, derived_tables)
        server.stop()
        try:
            return write_batch(store, run_id, analyzed, pipeline_version, nlp_version, derived_tables)
        finally:
            if restart:
                server.start()

    return write


def assert_rerun_completes_once(store, config, expected_documents, tmp_path):
    """The re-run completes, and every document has the rows of a clean single run: none twice, none lost."""
    rerun = run_ingest(store, config, ledger.list_sources(store))
    assert rerun.status == "completed" and rerun.counts.failed == 0
    assert document_rows.count_documents(store) == expected_documents
    reference = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    for source in ledger.list_sources(store):
        ledger.add_source(reference, source.url, source.kind, source.name, source.published)
    run_ingest(reference, config, ledger.list_sources(reference))
    counts = derived_counts(store)
    assert counts.facts.sum() > 0 and counts.sector_labels.sum() > 0
    assert counts.equals(derived_counts(reference))
    reference.engine.dispose()


def test_faults_database_back_before_the_end_records_the_failed_batches(faulty, own_pg_server, tmp_path):
    store, config = faulty
    steps = IngestSteps(write=writes_stopping_the_server(own_pg_server, restart=True))
    summary = run_ingest(store, config, ledger.list_sources(store), steps=steps)
    assert summary.status == "completed_with_failures" and summary.counts.failed == 5
    run = ledger.get_run(store, summary.run_id)
    assert (run["status"], run["failed"]) == ("completed_with_failures", 5)
    failed = store.read_table("fetches").query("outcome == 'failed'")
    assert len(failed) == 1 and "OperationalError" in failed.reason.iloc[0]
    assert document_rows.count_documents(store) == DOCUMENTS - 5
    assert_rerun_completes_once(store, config, DOCUMENTS, tmp_path)


def test_faults_database_still_away_raises_a_clear_store_error(faulty, own_pg_server, tmp_path):
    store, config = faulty
    steps = IngestSteps(write=writes_stopping_the_server(own_pg_server, restart=False))
    try:
        with pytest.raises(StoreError, match=r"(?s)went away during run 1 .*Connection refused.*run again once the database is back"):
            run_ingest(store, config, ledger.list_sources(store), steps=steps)
    finally:
        own_pg_server.start()
    assert document_rows.count_documents(store) == 5  # the first batch, written before the server stopped
    assert_rerun_completes_once(store, config, DOCUMENTS, tmp_path)
