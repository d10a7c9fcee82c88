"""End-to-end runs of the plain (Prefect-free) ingest path, bad inputs included."""

from __future__ import annotations

import json
from dataclasses import replace

from pipeline.store import document_rows, ledger
import pytest

from pipeline.config import FlowConfig
from pipeline.ingest import PLAIN_STEPS, IngestSteps, run_ingest, write_batch
from pipeline.sources import SourceSpec, register_source
from tests.conftest import SEED_ARTICLE, SEED_BRIEF
from tests.http_server import bench_names, http_server, unreachable_url  # noqa: F401


def kcna_archive(path, items):
    path.write_text(json.dumps([
        {"topic": "Top News", "headline": f"Item {i}", "link": f"http://kcna.example/{i}",
         "date": 1717200000000 + (i - 1) * 86_400_000, "date_str": "2024-06-01", "story_text": text}
        for i, text in items
    ]))
    return path


STORIES = [
    (1, "Pyongyang, June 1 (KCNA) -- Kim Jong Un inspected the Kangdong Greenhouse Farm."),
    (2, "Pyongyang, June 2 (KCNA) -- A delegation of the Russian Federation arrived in Pyongyang."),
    (3, "   "),
    (4, "Pyongyang, June 4 (KCNA) -- Choe Son Hui met the Vietnamese ambassador in Pyongyang."),
]


def register(store, *urls, **kwargs):
    return [register_source(store, SourceSpec(u, **kwargs)) for u in urls]


def outcomes(store, run_id):
    frame = store.read_table("fetches")
    frame = frame[frame.run_id == run_id]
    return {row.source_id: (row.outcome, row.reason) for row in frame.itertuples()}


def test_ingest_local_sources_store_documents_and_entities(store, config, tmp_path):
    archive = kcna_archive(tmp_path / "kcna.json", STORIES)
    sources = register(store, str(SEED_ARTICLE), str(SEED_BRIEF), str(archive))
    config = replace(config, flow=FlowConfig(documents_per_task=2))
    summary = run_ingest(store, config, sources)
    assert summary.status == "completed"
    assert (summary.counts.new, summary.counts.skipped, summary.counts.failed) == (5, 1, 0)
    documents = store.read_table("documents")
    assert len(documents) == 5
    kcna = documents[documents.format == "kcna"].set_index("doc_key")
    assert str(kcna.loc["http://kcna.example/1", "published"])[:10] == "2024-06-01"
    assert kcna.loc["http://kcna.example/1", "section"] == "Top News"
    entities = store.read_table("entities")
    assert set(entities.document_id) == set(documents.document_id)
    joined = entities.merge(documents[["document_id", "text"]], on="document_id")
    assert all(row.text_y[row.start_char:row.end_char] == row.text_x for row in joined.itertuples())
    skips = ledger.skips_for_run(store, summary.run_id)
    assert [(s["item_key"], s["reason"]) for s in skips] == [
        ("http://kcna.example/3", "empty story_text in archive")]
    assert "NO COMMENTS" not in documents[documents.format == "text"].text.str.cat()


def test_ingest_rerun_reprocesses_nothing(store, config, tmp_path):
    archive = kcna_archive(tmp_path / "kcna.json", STORIES)
    sources = register(store, str(SEED_ARTICLE), str(archive))
    run_ingest(store, config, sources)
    calls = []
    counting = replace(PLAIN_STEPS, analyze=lambda batch, cfg: calls.append(batch) or [])
    second = run_ingest(store, config, ledger.list_sources(store), steps=counting)
    assert calls == []
    assert (second.counts.new, second.counts.changed, second.counts.unchanged) == (0, 0, 4)
    assert set(o for o, _ in outcomes(store, second.run_id).values()) == {"unchanged"}


def test_ingest_changed_archive_reprocesses_only_changed_items(store, config, tmp_path):
    archive = kcna_archive(tmp_path / "kcna.json", STORIES)
    [source] = register(store, str(archive))
    run_ingest(store, config, [source])
    kcna_archive(archive, STORIES[:1] + [(2, STORIES[1][1] + " It was warmly welcomed.")] + STORIES[2:])
    seen = []

    def analyze(batch, cfg):
        seen.extend(item[2].key for item in batch)
        return PLAIN_STEPS.analyze(batch, cfg)

    summary = run_ingest(store, config, ledger.list_sources(store), steps=replace(PLAIN_STEPS, analyze=analyze))
    assert seen == ["http://kcna.example/2"]
    assert (summary.counts.changed, summary.counts.unchanged) == (1, 2)
    assert document_rows.count_documents(store) == 3


def test_ingest_killed_run_resumes_without_duplicates(store, config, tmp_path):
    archive = kcna_archive(tmp_path / "kcna.json", STORIES)
    sources = register(store, str(SEED_ARTICLE), str(SEED_BRIEF), str(archive))
    config = replace(config, flow=FlowConfig(documents_per_task=2))
    batches = []

    def dying_write(*args):
        if batches:
            raise KeyboardInterrupt  # the process is killed after its first batch
        batches.append(args)
        write_batch(*args)

    with pytest.raises(KeyboardInterrupt):
        run_ingest(store, config, sources, steps=replace(PLAIN_STEPS, write=dying_write))
    assert document_rows.count_documents(store) == 2
    assert ledger.recent_runs(store, 1)[0]["status"] == "failed"
    summary = run_ingest(store, config, ledger.list_sources(store))
    assert (summary.counts.new, summary.counts.unchanged) == (3, 2)
    documents = store.read_table("documents")
    assert len(documents) == 5 and documents.document_id.is_unique
    entities = store.read_table("entities")
    assert not entities.duplicated(["document_id", "entity_index"]).any()
    third = run_ingest(store, config, ledger.list_sources(store))
    assert (third.counts.processed, third.counts.unchanged) == (0, 5)


def test_ingest_new_pipeline_version_recleans_stored_raw_without_refetching(store, config, http_server, monkeypatch):  # noqa: F811
    name = bench_names()[0]
    [source] = register(store, http_server.url(f"/bench/{name}.html"))
    run_ingest(store, config, [source])
    monkeypatch.setattr("pipeline.ingest.CLEAN_VERSION", "clean-next")
    summary = run_ingest(store, config, ledger.list_sources(store))
    assert http_server.last_headers(f"/bench/{name}.html").get("If-None-Match")
    assert summary.counts.changed == 1
    assert store.read_table("documents").pipeline_version[0].startswith("clean-next")


def test_ingest_bad_inputs_are_recorded_and_the_rest_is_stored(store, config, http_server, unreachable_url, tmp_path):  # noqa: F811
    config = replace(config, fetch=replace(config.fetch, max_bytes=1_000_000, timeout_s=0.5))
    good_page = http_server.url(f"/bench/{bench_names()[1]}.html")
    vanishing = tmp_path / "gone.txt"
    vanishing.write_text("A document that will be deleted before the run.")
    urls = {
        "good": good_page,
        "flaky": http_server.url("/flaky?fail=1&id=ingest"),
        "missing": http_server.url("/missing"),
        "error": http_server.url("/always500"),
        "loop": http_server.url("/loop"),
        "huge": http_server.url("/huge"),
        "binary": http_server.url("/binary.html"),
        "legacy": http_server.url("/legacy"),
        "empty": http_server.url("/empty"),
        "scanned": http_server.url("/scanned.pdf"),
        "slow": http_server.url("/slow"),
        "unreachable": unreachable_url,
        "gone": str(vanishing),
        "seed": str(SEED_ARTICLE),
    }
    ids = {key: register(store, url)[0].id for key, url in urls.items()}
    vanishing.unlink()
    summary = run_ingest(store, config, ledger.list_sources(store))
    result = outcomes(store, summary.run_id)
    by_key = {key: result[source_id] for key, source_id in ids.items()}
    for key in ("good", "flaky", "legacy", "seed"):
        assert by_key[key][0] == "new", (key, by_key[key])
    assert http_server.count("/flaky") == 2  # one 500, retried once
    expected_skips = {
        "missing": "404", "loop": "redirect", "huge": "limit", "binary": "binary",
        "empty": "empty", "scanned": "no text layer", "gone": "not found",
    }
    for key, fragment in expected_skips.items():
        outcome, reason = by_key[key]
        assert outcome == "skipped" and fragment in reason.lower(), (key, by_key[key])
    for key in ("error", "slow", "unreachable"):
        outcome, reason = by_key[key]
        assert outcome == "failed" and "retried in the next run" in reason, (key, by_key[key])
    assert (summary.counts.new, summary.counts.skipped, summary.counts.failed) == (4, 7, 3)
    assert summary.status == "completed_with_failures"
    documents = store.read_table("documents")
    legacy = documents[documents.source_id == ids["legacy"]].text.iloc[0]
    assert any("\u0400" <= ch <= "\u04ff" for ch in legacy), "windows-1251 text decoded to Cyrillic"
    sources = {s["id"]: s for s in ledger.source_overview(store)}
    assert sources[ids["missing"]]["last_outcome"] == "skipped"
    assert "404" in sources[ids["missing"]]["last_reason"]


def test_ingest_failed_batch_keeps_other_batches(store, config, tmp_path):
    first = kcna_archive(tmp_path / "a.json", STORIES[:2])
    second = kcna_archive(tmp_path / "b.json", [(9, "Pyongyang, June 9 (KCNA) -- Rain fell in Kaesong.")])
    sources = register(store, str(first), str(second))
    config = replace(config, flow=FlowConfig(documents_per_task=2))

    def analyze(batch, cfg):
        if any(item[2].key.endswith("/9") for item in batch):
            raise RuntimeError("model crashed")
        return PLAIN_STEPS.analyze(batch, cfg)

    summary = run_ingest(store, config, sources, steps=IngestSteps(analyze=analyze))
    # the document that crashes the model is a recorded skip; its batch's other documents are stored
    assert (summary.counts.new, summary.counts.failed, summary.counts.skipped) == (2, 0, 1)
    result = outcomes(store, summary.run_id)
    assert result[sources[1].id][0] == "new"
    [skip] = ledger.skips_for_run(store, summary.run_id)
    assert skip["item_key"].endswith("/9") and "model crashed" in skip["reason"] and skip["stage"] == "nlp"
    again = run_ingest(store, config, ledger.list_sources(store))
    assert (again.counts.new, again.counts.unchanged) == (0, 2)  # skipped until its text or the pipeline changes


def test_ingest_batches_in_flight_arrive_out_of_order_and_a_lost_one_is_redone_one_by_one(store, config, tmp_path):
    """As on a Dask cluster: several batches at once, finished in any order; a batch whose worker
    was lost is analysed again document by document here, so nothing is lost or failed."""
    from pipeline.ingest import analyze_batch

    first = kcna_archive(tmp_path / "a.json", [(i, f"Pyongyang (KCNA) -- Story {i} about Kim Jong Un.") for i in (1, 2, 3, 4)])
    second = kcna_archive(tmp_path / "b.json", [(i, f"Pyongyang (KCNA) -- Story {i} about Choe Son Hui.") for i in (5, 6)])
    sources = register(store, str(first), str(second))
    redone = []

    def analyze_many(batches, config_):
        results = []
        for batch in list(batches)[:3]:  # three in flight: every document of both sources
            if any(item.document.key.endswith("/2") for item in batch):
                results.append((batch, RuntimeError("worker lost")))
            else:
                results.append((batch, analyze_batch(batch, config_)))
        return iter([results[0], results[2], results[1]])  # the failure first, then out of order

    def analyze_alone(batch, config_):
        redone.extend(item.document.key for item in batch)
        return analyze_batch(batch, config_)

    steps = IngestSteps(analyze_many=analyze_many, analyze=analyze_alone)
    config = replace(config, flow=FlowConfig(documents_per_task=2))
    summary = run_ingest(store, config, sources, steps=steps)
    assert (summary.status, summary.counts.new, summary.counts.failed) == ("completed", 6, 0)
    assert sorted(redone) == ["http://kcna.example/1", "http://kcna.example/2"]  # the lost batch, one at a time
    assert document_rows.count_documents(store) == 6
    found = outcomes(store, summary.run_id)
    assert found[sources[0].id][0] == "new" and found[sources[1].id][0] == "new"
    rerun = run_ingest(store, config, ledger.list_sources(store))
    assert (rerun.status, rerun.counts.new, rerun.counts.unchanged) == ("completed", 0, 6)


def test_ingest_rolling_window_submits_a_batch_whenever_one_finishes(store, config, tmp_path):
    """Two batches in flight; the first is slow: the others go through beside it, one after the other."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from pipeline.ingest import analyze_rolling
    from pipeline.records import AnalyzedDocument

    archive = kcna_archive(tmp_path / "a.json", [(i, f"Pyongyang (KCNA) -- Story {i} about Kim Jong Un.")
                                                  for i in range(1, 9)])
    sources = register(store, str(archive))
    first_written, events = threading.Event(), []

    def analyze(batch, config_):  # no models: the order of submissions and writes is the point
        keys = [item[2].key.rsplit("/", 1)[-1] for item in batch]
        events.append(("analyse", keys))
        if keys == ["1", "2"] and not first_written.wait(10):
            raise RuntimeError("the other batches waited for the slow one")
        return [AnalyzedDocument(item[0], item[1], item[2], (), 1, raw_hash=item[3]) for item in batch]

    def write(store_, run_id, analyzed, pipeline_version, nlp_version_, derived_tables=None):
        events.append(("write", [a.document.key.rsplit("/", 1)[-1] for a in analyzed]))
        write_batch(store_, run_id, analyzed, pipeline_version, nlp_version_, derived_tables)
        if len([e for e in events if e[0] == "write"]) == 3:
            first_written.set()  # the slow batch may finish once three others are written

    with ThreadPoolExecutor(max_workers=2) as pool:
        steps = IngestSteps(write=write, analyze_many=analyze_rolling(lambda b, c: pool.submit(analyze, b, c), window=2))
        summary = run_ingest(store, replace(config, flow=FlowConfig(documents_per_task=2)), sources, steps=steps)
    assert (summary.status, summary.counts.new) == ("completed", 8)
    writes = [keys for kind, keys in events if kind == "write"]
    assert writes == [["3", "4"], ["5", "6"], ["7", "8"], ["1", "2"]]
    assert document_rows.count_documents(store) == 8


def test_ingest_pipeline_version_does_not_depend_on_which_module_was_imported_first():
    """`nkpipe ingest` and the flow import the stages' modules in different orders; a version that
    followed that order made `nkpipe run` after `nkpipe ingest` reprocess every document."""
    import subprocess
    import sys

    program = ("import {first}\nfrom pipeline.config import Config\nfrom pipeline.ingest import current_versions\n"
               "print(current_versions(Config())[0])")
    versions = {subprocess.run([sys.executable, "-c", program.format(first=first)], capture_output=True, text=True,
                               check=True).stdout.strip() for first in ("pipeline.sectors", "pipeline.facts")}
    assert len(versions) == 1, versions


def test_ingest_on_a_pool_of_worker_processes_stores_what_one_process_stores(store, config, tmp_path):
    """task_runner = "processes": the analysis in spawned workers (their own model copies), the same rows."""
    from pipeline.config import ProcessesConfig
    from pipeline.ingest import analysis_in_processes
    from pipeline.store import open_store

    archive = kcna_archive(tmp_path / "kcna.json", STORIES + [
        (5, "Pyongyang, June 5 (KCNA) -- Kim Jong Un made 130 public appearances in 2024, 41 of them military.")])
    plain = run_ingest(store, config, register(store, str(archive)))
    pooled_store = open_store(f"sqlite:///{tmp_path / 'pooled.db'}")
    pooled_config = replace(config, flow=replace(config.flow, task_runner="processes"),
                            processes=ProcessesConfig(workers=2, documents_per_task=1))
    with analysis_in_processes(pooled_config) as (run_config, steps):
        pooled = run_ingest(pooled_store, run_config, register(pooled_store, str(archive)), steps=steps)
    assert (pooled.status, pooled.counts.new, pooled.counts.failed) == (plain.status, plain.counts.new, 0)

    def rows(s, table, columns):
        return sorted(tuple(str(value) for value in row) for row in s.read_table(table)[columns].itertuples(index=False))
    for table, columns in (("entities", ["document_id", "label", "text", "start_char"]),
                           ("facts", ["document_id", "kind", "sector", "value", "start_char"])):
        assert rows(pooled_store, table, columns) == rows(store, table, columns)
    assert rows(pooled_store, "facts", ["kind", "value"]) == [("activity_count", "130.0"), ("activity_count", "41.0")]
