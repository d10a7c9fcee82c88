"""Findings 3, 4, 5 and 9 of the security review: large and bad documents, poisoned archives, small holes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from nkpipe.cli import app
from pipeline.config import FlowConfig, NlpConfig
from pipeline.corrections import parse_fact_edit
from pipeline.errors import InvalidSourceError, ReviewError
from pipeline.ingest import PLAIN_STEPS, run_ingest
from pipeline.sources import SourceSpec, normalise_source_url, register_source
from pipeline.store import ledger
from pipeline.store.db import facts, runs
from tests.hostile.rss import run_measured
from tests.hostile.server import poisoned_archive_for

REPO = Path(__file__).resolve().parents[2]
SEED_ARTICLE = REPO / "corpus" / "seeds" / "000_f097f9237f64d457.txt"
KCNA_ITEMS = REPO / "corpus" / "kcna" / "headlines_2024-11-11.json"


def big_text(chars: int) -> str:
    """Real English (KCNA stories, in paragraphs) repeated to ``chars`` characters."""
    stories = [item["story_text"] for item in json.loads(KCNA_ITEMS.read_text()) if len(item["story_text"]) > 500]
    text, index = [], 0
    while sum(map(len, text)) < chars:
        text.append(stories[index % len(stories)])
        index += 1
    return "\n\n".join(text)[:chars]


# --- finding 3: memory does not grow with document size ----------------------------------------


@pytest.mark.slow
def test_hostile_a_5_mb_text_is_processed_under_1_5_gib(tmp_path):
    page = tmp_path / "long.txt"
    page.write_text(big_text(5_000_000))
    nkpipe = Path(sys.executable).with_name("nkpipe")
    done, peak_mib = run_measured([str(nkpipe), "--db", f"sqlite:///{tmp_path / 'n.db'}", "ingest", str(page)],
                                  timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 new" in done.stdout, done.stdout  # processed, not skipped
    assert peak_mib < 1536, f"the process tree peaked at {peak_mib:.0f} MiB"


def test_hostile_a_document_over_the_size_limit_is_a_recorded_skip(store, config, tmp_path):
    page = tmp_path / "long.txt"
    page.write_text(big_text(20_000))
    source = register_source(store, SourceSpec(str(page)))
    summary = run_ingest(store, replace(config, nlp=NlpConfig(max_document_chars=10_000)), [source])
    assert (summary.counts.new, summary.counts.skipped) == (0, 1)
    [skip] = ledger.skips_for_run(store, summary.run_id)
    assert "max_document_chars" in skip["reason"]


# --- finding 4: one bad document does not fail its batch ----------------------------------------


def test_hostile_one_bad_document_is_skipped_and_the_rest_of_its_batch_stored(store, config, tmp_path):
    archive = tmp_path / "items.json"
    archive.write_text(json.dumps([
        {"topic": "Top News", "headline": f"Item {i}", "link": f"http://kcna.example/{i}", "date_str": "2024-06-01",
         "story_text": f"Pyongyang, June 1 (KCNA) -- Story {i}." + (" POISON" if i == 3 else "")} for i in range(6)]))
    other = tmp_path / "other.txt"
    other.write_text("A report from another source about farming in South Hamgyong Province.")
    sources = [register_source(store, SourceSpec(str(archive))), register_source(store, SourceSpec(str(other)))]

    def analyze(batch, cfg):
        if any("POISON" in item.document.text for item in batch):
            raise MemoryError("the document took all the memory")
        return PLAIN_STEPS.analyze(batch, cfg)

    summary = run_ingest(store, replace(config, flow=FlowConfig(documents_per_task=50)), sources,
                         steps=replace(PLAIN_STEPS, analyze=analyze))
    assert (summary.status, summary.counts.new, summary.counts.skipped, summary.counts.failed) == \
        ("completed", 6, 1, 0)
    [skip] = ledger.skips_for_run(store, summary.run_id)
    assert skip["item_key"] == "http://kcna.example/3" and "MemoryError" in skip["reason"]
    again = run_ingest(store, config, sources, steps=replace(PLAIN_STEPS, analyze=analyze))
    assert (again.counts.failed, again.counts.new) == (0, 0)  # not failing again every night


# --- finding 5: no source replaces another source's document -----------------------------------


def test_hostile_an_archive_item_claiming_another_sources_url_does_not_replace_it(store, config, tmp_path):
    seed = register_source(store, SourceSpec(str(SEED_ARTICLE), published=None))
    run_ingest(store, config, [seed])
    original = store.read_table("documents").set_index("source_id").loc[seed.id, "text"]
    poisoned = tmp_path / "poison.json"
    poisoned.write_bytes(poisoned_archive_for(seed.url))
    attacker = register_source(store, SourceSpec(str(poisoned), kind="kcna"))
    run_ingest(store, config, [attacker])
    documents = store.read_table("documents").set_index("source_id")
    assert documents.loc[seed.id, "text"] == original
    assert "999" in documents.loc[attacker.id, "text"]  # the claim is kept as the attacker's own document
    with store.reading() as conn:
        seed_document = documents.loc[seed.id, "document_id"]
        values = conn.execute(sa.select(facts.c.value).where(facts.c.document_id == seed_document)).scalars().all()
    assert 999.0 not in values


# --- finding 9: the small ones ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_hostile_fact_edits_take_finite_numbers_only(value):
    with pytest.raises(ReviewError, match="finite"):
        parse_fact_edit({"value": value})


def test_hostile_facts_json_stays_valid_json_with_a_stored_nan(store, config, review_store):
    with review_store.writing() as conn:
        conn.execute(facts.update().values(value=math.nan))
    result = CliRunner().invoke(app, ["--db", config.store.url, "facts", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]  # NaN would not parse under strict JSON
    assert rows and rows[0]["value"] is None


def test_hostile_huge_ids_are_unknown_not_server_errors(store, config):
    result = CliRunner().invoke(app, ["--db", config.store.url, "sources", "disable", "99999999999999999999"])
    assert result.exit_code == 2 and "no source has id" in result.output and "Traceback" not in result.output


def test_hostile_a_run_left_running_by_a_dead_process_is_marked_abandoned(store):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store.writing() as conn:
        conn.execute(runs.insert().values(flow_name="ingest", started_at=sa.func.now(), status="running",
                                          host=os.uname().nodename, pid=dead.pid, sources_total=0, new=0,
                                          changed=0, unchanged=0, skipped=0, failed=0, words=0))
        conn.execute(runs.insert().values(flow_name="ingest", started_at=sa.func.now(), status="running",
                                          host=os.uname().nodename, pid=os.getpid(), sources_total=0, new=0,
                                          changed=0, unchanged=0, skipped=0, failed=0, words=0))
    ledger.start_run(store, "ingest", 0, "v")
    statuses = [r["status"] for r in sorted(ledger.recent_runs(store), key=lambda r: r["run_id"])]
    assert statuses == ["abandoned", "running", "running"]  # a live process's run is left alone


def test_hostile_deeply_nested_json_is_a_skip_not_a_failure(store, config, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    source = register_source(store, SourceSpec(str(deep)))
    summary = run_ingest(store, config, [source])
    assert (summary.counts.failed, summary.counts.skipped) == (0, 1)
    assert ledger.get_source(store, source.id).state.content_hash is None
    assert ledger.source_overview(store)[0]["last_outcome"] == "skipped"


def test_hostile_a_corrupt_sqlite_file_gives_one_line(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database " * 1000)
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{bad}", "runs"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "backup" in result.output


def test_hostile_file_urls_naming_a_host_are_refused():
    with pytest.raises(InvalidSourceError, match="remotehost"):
        normalise_source_url("file://remotehost/etc/passwd")
    assert normalise_source_url(f"file://localhost{SEED_ARTICLE}") == SEED_ARTICLE.as_uri()
