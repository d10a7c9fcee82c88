"""Each seam takes a new extension in one file: a fact kind, a source type, a derived stage (tests/plugins/)."""

from __future__ import annotations

import importlib
import json
from datetime import date

import pytest
from typer.testing import CliRunner

from nkpipe.cli import app
from pipeline.activities import rebuild_register
from pipeline.derived import DERIVED_STAGES, build_stages
from pipeline.facts import FACT_EXTRACTORS, fact_kinds, facts_version, review_weights
from pipeline.ingest import current_versions, run_ingest
from pipeline.review_queue import QueueFilter, review_queue
from pipeline.source_types import SOURCE_TYPES, state_media_formats
from pipeline.sources import SourceSpec, register_source
from pipeline.store import register_rows

LAUNCH = ("Seoul, March 3 -- North Korea fired two ballistic missiles into the East Sea on Monday, "
          "the Joint Chiefs of Staff said, days after Kim Jong Un made 51 military visits in 2024.")


def plugin(name: str, registry, item_attribute: str):
    """Import the example module (it registers itself); unregister it when the test ends."""
    module = importlib.import_module(f"tests.plugins.{name}")
    item = getattr(module, item_attribute)
    registry.register(item, replace=True)  # again, when an earlier test imported and unregistered it
    return module, item


@pytest.fixture
def missile_kind():
    module, extractor = plugin("missile_count", FACT_EXTRACTORS, "EXTRACTOR")
    yield module
    FACT_EXTRACTORS.unregister(extractor.name)


@pytest.fixture
def csv_type():
    module, source_type = plugin("csv_archive", SOURCE_TYPES, "SOURCE_TYPE")
    yield module
    SOURCE_TYPES.unregister(source_type.name)


@pytest.fixture
def word_stats_stage(store):
    module, factory = plugin("word_stats", DERIVED_STAGES, "FACTORY")
    module.word_stats.create(store.engine)  # what its migration would do
    yield module
    DERIVED_STAGES.unregister(factory.name)


def test_extensions_a_new_fact_kind_in_one_file(store, config, tmp_path, missile_kind):
    before = facts_version([e for e in FACT_EXTRACTORS if e.name != "missile_count"])
    assert "missile_count" in fact_kinds() and review_weights()["missile_count"] == 2
    assert facts_version() != before  # a new extractor reprocesses every document
    page = tmp_path / "launch.txt"
    page.write_text(LAUNCH)
    source = register_source(store, SourceSpec(str(page), published=date(2025, 3, 4)))
    run_ingest(store, config, [source])
    facts = store.read_table("facts").set_index("kind")
    assert facts.loc["missile_count", "value"] == 2.0 and facts.loc["missile_count", "unit"] == "missiles"
    assert LAUNCH[int(facts.loc["missile_count", "start_char"]):int(facts.loc["missile_count", "end_char"])] \
        == "two ballistic missiles"
    assert facts.loc["activity_count", "value"] == 51.0  # the built-in kinds still claim their numbers
    assert "missile_count" in {item.label for item in review_queue(store, QueueFilter(kind="fact"))}
    listed = CliRunner().invoke(app, ["--db", config.store.url, "facts", "--kind", "missile_count", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["value"] for line in listed.output.splitlines()] == [2.0]


def test_extensions_a_fact_kind_unknown_to_the_registry_is_refused_by_the_cli(config):
    result = CliRunner().invoke(app, ["--db", config.store.url, "facts", "--kind", "missile_count"])
    assert result.exit_code == 2 and "unknown kind 'missile_count'" in result.output


def test_extensions_a_new_source_type_in_one_file(store, config, tmp_path, csv_type):
    archive = tmp_path / "items.csv"
    archive.write_text(
        "link,title,date,text\n"
        "http://news.example/1,Kim Jong Un Inspects Farm,2024-09-30,"
        "\"Pyongyang, September 30 -- Kim Jong Un inspected the Sinhung Farm. He was accompanied by Jo Yong Won.\"\n"
        "http://news.example/2,Empty,2024-09-30,\n")
    assert "csv" in state_media_formats()
    source = register_source(store, SourceSpec(str(archive)))
    summary = run_ingest(store, config, [source])
    assert (summary.counts.new, summary.counts.skipped) == (1, 1)
    documents = store.read_table("documents")
    assert list(documents.format) == ["csv"] and list(documents.doc_key) == ["http://news.example/1"]
    assert rebuild_register(store) == 1  # the register reads every state-media type, not one format name
    [activity] = register_rows.load_register(store)
    assert activity.event_date == date(2024, 9, 30) and [p.name for p in activity.people] == ["Jo Yong Won"]


def test_extensions_a_new_derived_stage_in_one_file(store, config, tmp_path, word_stats_stage):
    assert "word-stats-1" in current_versions(config)[0]
    assert word_stats_stage.word_stats in [t for s in build_stages(config) for t in s.tables]
    page = tmp_path / "note.txt"
    page.write_text("Kim Jong Un inspected a farm. He spoke to farmers.")
    source = register_source(store, SourceSpec(str(page)))
    run_ingest(store, config, [source])
    page.write_text("Kim Jong Un inspected a large farm in spring. He spoke to farmers there.")
    run_ingest(store, config, [source])  # changed: its rows are replaced, not added
    [row] = store.read_table("document_word_stats").to_dict("records")
    assert (row["words"], row["sentences"]) == (14, 2)
    assert row["document_id"] == store.read_table("documents").document_id[0]
