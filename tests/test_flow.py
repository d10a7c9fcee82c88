"""The Prefect flow and its deployment, under one session-scoped test harness."""

from __future__ import annotations

import json
from datetime import date, timedelta

from pipeline.store import ledger, register_rows
import pytest

from tests.conftest import SEED_ARTICLE

pytestmark = pytest.mark.usefixtures("prefect_harness")


def small_project(tmp_path):
    (tmp_path / "kcna.json").write_text(json.dumps([
        {"topic": "Top News", "headline": "Farm inspected", "link": "http://kcna.example/a",
         "date": 1717200000000, "date_str": "2024-06-01",
         "story_text": "Pyongyang, June 1 (KCNA) -- Kim Jong Un inspected a farm in Kangdong County."},
    ]))
    (tmp_path / "sources.toml").write_text(
        f'[[source]]\nurl = "{SEED_ARTICLE}"\nkind = "article"\n\n'
        '[[source]]\nurl = "kcna.json"\nkind = "kcna"\n'
    )
    config = tmp_path / "config.toml"
    config.write_text('[paths]\ndefault_sources = "sources.toml"\n[flow]\ndocuments_per_task = 1\n')
    return config


def test_flow_nightly_ingest_registers_defaults_then_reruns_unchanged(tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    from flows.nightly import nightly_ingest
    from pipeline.store import open_store

    config = small_project(tmp_path)
    first = nightly_ingest(config_path=str(config), db_url=None)
    assert (first["new"], first["failed"], first["status"]) == (2, 0, "completed")
    second = nightly_ingest(config_path=str(config), db_url=None)
    assert (second["new"], second["changed"], second["unchanged"]) == (0, 0, 2)

    store = open_store(f"sqlite:///{tmp_path / 'data/nkpipe.db'}")
    runs = ledger.recent_runs(store)
    assert [r["flow_name"] for r in runs] == ["nightly_ingest", "nightly_ingest"]
    flow_run_id = runs[1]["flow_run_id"]
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200)
    names = sorted({t.name.split("-")[0] for t in tasks})
    assert names == ["clean", "fetch", "nlp", "register", "series", "signals", "store", "story_clusters"]
    assert sum(t.name.startswith("nlp") for t in tasks) == 2  # one document per task here


def test_flow_deployment_uses_configured_cron():
    from flows.nightly import nightly_ingest, nightly_schedule

    deployment = nightly_ingest.to_deployment(
        name="nightly", schedule=nightly_schedule("15 1 * * *", "Asia/Seoul"))
    [schedule] = deployment.schedules
    assert schedule.schedule.cron == "15 1 * * *"
    assert schedule.schedule.timezone == "Asia/Seoul"


def test_flow_io_tasks_retry_and_pure_tasks_do_not():
    from flows.nightly import task_steps

    steps = task_steps(retries=2, retry_delay_s=5)
    assert steps.fetch.retries == 2 and steps.write.retries == 2
    assert steps.fetch.retry_delay_seconds == [5, 10]
    assert steps.clean.retries == 0 and steps.analyze.retries == 0


def test_flow_fetch_retries_only_transient_failures():
    from flows.nightly import _transient_only, task_steps
    from pipeline.errors import RejectedContent, TransientError

    class Failed:
        def __init__(self, exc):
            self.exc = exc

        def result(self):
            raise self.exc

    assert _transient_only(None, None, Failed(TransientError("timeout"))) is True
    assert _transient_only(None, None, Failed(RejectedContent("HTTP 404 Not Found"))) is False
    assert task_steps(2, 1).fetch.retry_condition_fn is _transient_only


def test_flow_rerun_keeps_reviewer_corrections_in_the_tables(tmp_path, monkeypatch):
    from flows.nightly import nightly_ingest
    from pipeline.corrections import Correction, record_correction
    from pipeline.keys import activity_key, sector_key
    from pipeline.store import open_store

    from tests.test_activities import GUIDANCE, TOPIC

    config = small_project(tmp_path)
    (tmp_path / "kcna.json").write_text(json.dumps([
        {"topic": TOPIC, "headline": "Kim Jong Un Guides Rehabilitation Campaign", "link": "http://kcna.example/1",
         "date": 1727654400000, "date_str": "2024-09-30", "story_text": GUIDANCE}]))
    nightly_ingest(config_path=str(config), db_url=None)
    store = open_store(f"sqlite:///{tmp_path / 'data/nkpipe.db'}")
    documents = store.read_table("documents").set_index("format")
    kcna_id, kcna_hash = documents.loc["kcna", "document_id"], documents.loc["kcna", "text_hash"]
    [activity] = register_rows.load_register(store)
    record_correction(store, Correction(sector_key(kcna_hash, "document", 0), "set", "rev", "social"))
    record_correction(store, Correction(activity_key(activity.activity_id), "not_activity", "rev", True))

    monkeypatch.setattr("pipeline.ingest.CLEAN_VERSION", "clean-rerun")  # a new version reprocesses everything
    rerun = nightly_ingest(config_path=str(config), db_url=None)
    assert rerun["changed"] == 2
    labels = store.read_table("sector_labels")
    label = labels[(labels.document_id == kcna_id) & (labels.unit == "document")].iloc[0]
    assert (label["sector"], label["source"], bool(label["reviewed"])) == ("social", "reviewer", True)
    assert register_rows.load_register(store) == []  # rejected: out of the register's counts...
    assert store.read_table("activity_tallies").empty
    assert bool(store.read_table("activities").iloc[0]["rejected"])  # ...but kept for the audit


def test_flow_discovers_a_feeds_articles_on_two_hosts_through_prefect_tasks(tmp_path):
    """The nightly flow reads a feed and fetches its articles on two hosts concurrently, each fetch a
    Prefect task run from the fetch threads, and stores them with their story clusters."""
    from flows.nightly import nightly_ingest
    from tests.fake_web import FakeWeb
    from tests.test_discovery import STORY1, article, rss, story

    web = FakeWeb(["wire", "other"])
    try:
        wire, other = web["wire"], web["other"]
        today = date.today()  # the flow runs now: links listed long ago are before the catch-up window
        items = [(f"/story/{n}", f"Story {n}", today) for n in range(3)]
        feed = rss(wire, items).replace(wire.url("/story/2"), other.url("/story/2"))
        wire.put("/rss.xml", feed, "application/rss+xml")
        wire.put("/story/0", article("Zero", STORY1, today - timedelta(days=1)))
        wire.put("/story/1", article("One", story(1)))
        other.put("/story/2", article("Two", STORY1, today))  # the same story, a day later elsewhere
        (tmp_path / "sources.toml").write_text(f'[[source]]\nurl = "{wire.url("/rss.xml")}"\n')
        config = tmp_path / "config.toml"
        config.write_text('[paths]\ndefault_sources = "sources.toml"\n[fetch]\nper_host_delay_s = 0.01\n'
                          'concurrent_hosts = 2\n[flow]\ndocuments_per_task = 2\n')
        result = nightly_ingest(config_path=str(config), db_url=None)
    finally:
        web.close()
    assert (result["new"], result["failed"], result["discovered"]) == (3, 0, 3)
    from pipeline.config import load_config
    from pipeline.store import cluster_rows, open_store

    store = open_store(load_config(config).store.url)
    members = cluster_rows.story_clusters_overview(store)
    assert sorted((m["url"].rsplit("/", 1)[1], m["representative"]) for m in members) == [("0", True), ("2", False)]
