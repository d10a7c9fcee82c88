"""The main job on the whole bundled corpus plus constructed market reports: every document stored, the
market series and its signal raised and notified once, and a re-run processes nothing and notifies nothing."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from pipeline.store import ledger, series_rows, signal_rows
from typer.testing import CliRunner

from nkpipe.cli import app
from pipeline.store import open_store
from tests.conftest import KCNA_ARCHIVE, REPO

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def expected_kcna_documents() -> int:
    items = json.loads(KCNA_ARCHIVE.read_text())
    return len({item["link"] for item in items if item["story_text"].strip()})


MARKET = REPO / "tests" / "fixtures" / "market"
RECORDER = """import sys
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(sys.stdin.read().strip() + "\\n")
"""


def _with_absolute_urls(source_list: Path) -> str:
    return re.sub(r'^url = "([^"]+)"', lambda m: f'url = "{(source_list.parent / m.group(1)).resolve()}"',
                  source_list.read_text(encoding="utf-8"), flags=re.M)


def config_with_market_reports(folder: Path) -> tuple[Path, Path]:
    """The repository's config.toml, its default sources plus the market reports, and a notify command that
    appends what it is given to a file; returns the config file and that file."""
    sources = folder / "sources.toml"
    sources.write_text(_with_absolute_urls(REPO / "corpus" / "sources.toml") + "\n"
                       + _with_absolute_urls(MARKET / "sources.toml"), encoding="utf-8")
    recorder, received = folder / "record.py", folder / "notified.jsonl"
    recorder.write_text(RECORDER, encoding="utf-8")
    config = (REPO / "config.toml").read_text(encoding="utf-8")
    config = re.sub(r'^default_sources = .*$', f'default_sources = "{sources}"', config, flags=re.M)
    config = re.sub(r'^notify_command = .*$', f'notify_command = "{sys.executable} {recorder} {received}"', config,
                    flags=re.M)
    path = folder / "config.toml"
    path.write_text(config, encoding="utf-8")
    return path, received


def test_full_corpus_run_stores_every_document_and_rerun_processes_nothing(tmp_path):
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'full.db'}"
    config, notified = config_with_market_reports(tmp_path)
    args = ["--config", str(config), "--db", db, "run"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    store = open_store(db)
    documents = store.read_table("documents")
    market_reports = len(list(MARKET.glob("*.txt")))
    expected = expected_kcna_documents() + 2 + market_reports
    assert len(documents) == expected
    assert documents.document_id.is_unique
    entities = store.read_table("entities")
    with_entities = documents.document_id.isin(entities.document_id)
    assert with_entities.mean() > 0.97, documents[~with_entities][["title", "word_count"]].head()
    [run] = ledger.recent_runs(store, 1)
    assert (run["new"], run["failed"]) == (expected, 0)

    # the market series: one point per report's rate, the month two outlets disagree, the February jump
    rates = [p for p in series_rows.load_points(store) if p.measure == "KPW/USD" and p.place == "Pyongyang"]
    assert len(rates) == market_reports and {p.outlet for p in rates} == {"Market Monitor A", "Market Monitor B"}
    listed = runner.invoke(app, ["--config", str(config), "--db", db, "series", "--measure", "KPW/USD",
                                 "--place", "Pyongyang"])
    assert [line.split()[0] for line in listed.output.splitlines() if "DIVERGENT" in line] == ["2026-01"]
    signals = {s.signal.key: s.signal for s in signal_rows.stored_signals(store)}
    jump = signals["series:KPW/USD:Pyongyang:2026-02"]
    assert jump.severity == "high" and "12,000" in jump.summary
    sent = [json.loads(line) for line in notified.read_text(encoding="utf-8").splitlines()]
    assert len(sent) == 1 and {s["key"] for s in sent[0]["signals"]} == set(signals)

    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert len(notified.read_text(encoding="utf-8").splitlines()) == 1  # nothing new: nobody told again
    assert {s.signal.key for s in signal_rows.stored_signals(store)} == set(signals)
    [rerun] = ledger.recent_runs(store, 1)
    assert (rerun["new"], rerun["changed"], rerun["unchanged"]) == (0, 0, expected)
    assert len(store.read_table("documents")) == expected
    assert len(store.read_table("entities")) == len(entities)
