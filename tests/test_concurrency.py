"""Two ingest runs overlapping on one store (SQLite and PostgreSQL): nothing doubled, nothing lost."""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import replace

from pipeline.store import document_rows, ledger
from pipeline.config import FlowConfig
from tests.conftest import KCNA_ARCHIVE, SEED_ARTICLE, derived_counts


def overlapping_run(url, config, barrier, results) -> None:
    """One nightly run in its own process; the models are loaded before the start line."""
    from pipeline.ingest import current_versions, run_ingest
    from pipeline.store import open_store

    current_versions(config)
    store = open_store(url)
    barrier.wait(timeout=120)
    summary = run_ingest(store, config, ledger.list_sources(store, enabled_only=True))
    results.put((summary.status, summary.counts.failed))


def test_concurrency_overlapping_runs_neither_duplicate_nor_lose_rows(any_db_url, config, tmp_path):
    from pipeline.ingest import run_ingest
    from pipeline.sources import SourceSpec, register_source
    from pipeline.store import open_store

    archive = tmp_path / "kcna.json"
    archive.write_text(json.dumps(json.loads(KCNA_ARCHIVE.read_text())[:40]))
    config = replace(config, flow=FlowConfig(documents_per_task=8))
    store = open_store(any_db_url)
    for url in (str(SEED_ARTICLE), str(archive)):
        register_source(store, SourceSpec(url))

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    # batches of different sizes, so the two runs write overlapping sets of documents at once
    runs = [context.Process(target=overlapping_run, args=(
        any_db_url, replace(config, flow=FlowConfig(documents_per_task=size)), barrier, results)) for size in (8, 5)]
    try:
        for process in runs:
            process.start()
        for process in runs:
            process.join(timeout=300)
    finally:
        for process in runs:  # one still running after the timeout would outlive the test
            if process.is_alive():
                process.kill()
                process.join(timeout=10)
    assert [p.exitcode for p in runs] == [0, 0]
    assert sorted(results.get(timeout=5) for _ in runs) == [("completed", 0), ("completed", 0)]

    reference = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    for url in (str(SEED_ARTICLE), str(archive)):
        register_source(reference, SourceSpec(url))
    run_ingest(reference, config, ledger.list_sources(reference))
    assert document_rows.count_documents(store) == document_rows.count_documents(reference) > 35
    assert derived_counts(store).equals(derived_counts(reference))
    aliases = store.read_table("person_aliases").set_index("alias").mentions.sort_index()
    assert aliases.equals(reference.read_table("person_aliases").set_index("alias").mentions.sort_index())
    assert [r["status"] for r in ledger.recent_runs(store)] == ["completed", "completed"]
    store.engine.dispose()
