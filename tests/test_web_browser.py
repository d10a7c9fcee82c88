"""The review UI in a real browser (Debian's chromium, driven by Playwright).

Skipped when /usr/bin/chromium is missing, unless NKPIPE_REQUIRE_BROWSER=1 (CI), where
a missing browser is a failure.
"""

import os
import shutil
from dataclasses import replace

import pandas as pd
from pipeline.store import document_rows, ledger
import pytest

from pipeline.config import Config, StoreConfig, WebConfig
from pipeline.corrections import SINGLE_REVIEW
from tests.browser import chromium, chromium_missing_reason, serving, sign_in
from tests.conftest import SEED_ARTICLE, review_document

pytestmark = pytest.mark.browser

_missing = chromium_missing_reason()
if _missing and os.environ.get("NKPIPE_REQUIRE_BROWSER") == "1":
    pytest.fail(f"NKPIPE_REQUIRE_BROWSER=1 but {_missing}", pytrace=False)
if _missing:
    pytest.skip(_missing, allow_module_level=True)

PASSWORDS = {"analyst": "analyst-password", "reviewer": "reviewer-password"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A store with the seed article ingested by the real pipeline, served on 127.0.0.1."""
    from pipeline.accounts import add_user
    from pipeline.activities import rebuild_register
    from pipeline.ingest import run_ingest
    from pipeline.sources import SourceSpec, ensure_source
    from pipeline.store import open_store
    from nkpipe.web.app import create_app

    folder = tmp_path_factory.mktemp("browser")
    article = folder / "article.txt"
    shutil.copy(SEED_ARTICLE, article)
    config = replace(Config(base_dir=folder), store=StoreConfig(url=f"sqlite:///{folder / 'nkpipe.db'}"),
                     web=WebConfig(hash_memory_kib=8192, hash_time_cost=1, prefect_probe_timeout_s=0.2),
                     review=SINGLE_REVIEW)
    store = open_store(config.store.url)
    source = ensure_source(store, SourceSpec(str(article), "article", "Seed article", None), folder)
    assert run_ingest(store, config, [source]).counts.new == 1
    rebuild_register(store)
    hostile = ledger.add_source(store, "https://x.org/feed", "article", "Hostile", None)
    review_document(store, hostile.id, doc_id="hostile", sector="social", probability=0.01)
    for role, password in PASSWORDS.items():
        add_user(store, role, role, password, config.web)
    with serving(create_app(config, store)) as base_url, chromium() as browser:
        yield {"url": base_url, "store": store, "config": config, "source_id": source.id, "browser": browser,
               "folder": folder}


@pytest.fixture
def page(site):
    context = site["browser"].new_context()
    yield context.new_page()
    context.close()


def document_sector(store, document_id: str) -> dict:
    frame = store.read_table("sector_labels")
    return frame[(frame.document_id == document_id) & (frame.unit == "document")].iloc[0].to_dict()


def test_browser_reviewer_correction_survives_a_new_pipeline_run(site, page, monkeypatch):
    from pipeline.activities import rebuild_register
    from pipeline.export import export_tables
    from pipeline.ingest import run_ingest

    store, document_id = site["store"], store_document_id(site)
    before = document_sector(store, document_id)
    sign_in(page, site["url"], "reviewer", PASSWORDS["reviewer"], "/review?kind=sector")
    assert page.url.endswith("/review?kind=sector")
    title = store.read_table("documents").set_index("document_id").loc[document_id, "title"]
    entry = page.locator("li.item", has_text="document sector").filter(has_text=title[:40])
    entry.get_by_role("link", name="Correct").click()
    corrected = "economic" if before["sector"] != "economic" else "social"
    page.select_option("#sector-form select[name=sector]", corrected)
    page.fill("#sector-form input[name=comment]", "the article is about the economy")
    page.click("#sector-form button")
    assert "Correction saved" in page.locator("p.ok").inner_text()

    # A new pipeline version makes the next run reprocess the unchanged file.
    monkeypatch.setattr("pipeline.ingest.CLEAN_VERSION", "clean-browser-test")
    summary = run_ingest(store, site["config"], [ledger.get_source(store, site["source_id"])])
    rebuild_register(store)
    assert summary.counts.changed == 1
    after = document_sector(store, document_id)
    assert after["id"] != before["id"]  # the row was deleted and written again by the run...
    assert (after["sector"], after["source"], bool(after["reviewed"])) == (corrected, "reviewer", True)  # ...corrected
    assert store.read_table("documents").set_index("document_id").loc[document_id, "pipeline_version"].startswith(
        "clean-browser-test")

    page.reload()
    assert page.locator("#sector-form select[name=sector]").input_value() == corrected
    assert page.locator("#reviewed").inner_text() == "yes"
    assert "the article is about the economy" in page.locator("#history").inner_text()
    exported = export_tables(store, site["folder"] / "exports")
    labels = pd.read_csv(exported["sector_labels"])
    row = labels[(labels.document_id == document_id) & (labels.unit == "document")].iloc[0]
    assert (row["sector"], bool(row["reviewed"])) == (corrected, True)
    assert len(pd.read_csv(exported["corrections"])) == 1
    assert any(u["document_id"] == document_id and u["sector"] == corrected for u in document_rows.reviewed_sector_units(store))


def store_document_id(site) -> str:
    frame = site["store"].read_table("documents")
    return frame[frame.source_id == site["source_id"]].iloc[0]["document_id"]


def test_browser_analyst_cannot_reach_reviewer_pages(site, page):
    sign_in(page, site["url"], "analyst", PASSWORDS["analyst"])
    assert page.get_by_role("link", name="Review queue").count() == 0
    answer = page.goto(site["url"] + "/review")
    assert answer.status == 403 and "needs the reviewer role" in page.inner_text("main")
    assert page.goto(site["url"] + "/sources").status == 200


def test_browser_form_without_csrf_token_is_refused(site, page):
    sign_in(page, site["url"], "reviewer", PASSWORDS["reviewer"], "/review?kind=sector")
    page.locator("li.item", has_text="Report hostile").get_by_role("link", name="Correct").click()
    page.locator("#sector-form input[name=csrf_token]").evaluate("element => element.remove()")
    with page.expect_response(lambda r: r.url.endswith("/review/sector")) as answer:
        page.click("#sector-form button")
    assert answer.value.status == 403
    assert "security token" in page.inner_text("main")
    assert document_sector(site["store"], "hostile")["sector"] == "social"


def test_browser_script_in_document_text_is_shown_as_text_not_run(site):
    # Without the Content-Security-Policy, escaping alone must keep the script from running.
    context = site["browser"].new_context(bypass_csp=True)
    page = context.new_page()
    try:
        sign_in(page, site["url"], "reviewer", PASSWORDS["reviewer"], "/review?kind=sector")
        entry = page.locator("li.item", has_text="Report hostile")
        assert "<script>window.pwned = 1</script>" in entry.locator("blockquote").inner_text()
        entry.get_by_role("link", name="Correct").click()
        assert "<script>window.pwned = 1</script>" in page.locator("blockquote.context").inner_text()
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("main script").count() == 0
    finally:
        context.close()
