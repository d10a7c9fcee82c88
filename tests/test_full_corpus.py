"""The main job on the whole bundled corpus: every document stored, re-run processes nothing."""

from __future__ import annotations

import json

from pipeline.store import ledger
import pytest
from typer.testing import CliRunner

from nkpipe.cli import app
from pipeline.store import open_store
from tests.conftest import KCNA_ARCHIVE, REPO

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def expected_kcna_documents() -> int:
    items = json.loads(KCNA_ARCHIVE.read_text())
    return len({item["link"] for item in items if item["story_text"].strip()})


def test_full_corpus_run_stores_every_document_and_rerun_processes_nothing(tmp_path):
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'full.db'}"
    args = ["--config", str(REPO / "config.toml"), "--db", db, "run"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    store = open_store(db)
    documents = store.read_table("documents")
    expected = expected_kcna_documents() + 2
    assert len(documents) == expected
    assert documents.document_id.is_unique
    entities = store.read_table("entities")
    with_entities = documents.document_id.isin(entities.document_id)
    assert with_entities.mean() > 0.97, documents[~with_entities][["title", "word_count"]].head()
    [run] = ledger.recent_runs(store, 1)
    assert (run["new"], run["failed"]) == (expected, 0)

    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    [rerun] = ledger.recent_runs(store, 1)
    assert (rerun["new"], rerun["changed"], rerun["unchanged"]) == (0, 0, expected)
    assert len(store.read_table("documents")) == expected
    assert len(store.read_table("entities")) == len(entities)
