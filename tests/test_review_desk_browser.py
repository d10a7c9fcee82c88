"""The review desk's keyboard shortcuts in a real browser (Debian's chromium, driven by Playwright).

Skipped when /usr/bin/chromium is missing, unless NKPIPE_REQUIRE_BROWSER=1 (CI), where a
missing browser is a failure. The store holds the seed article, ingested by the real pipeline.
"""

import os
import shutil
from dataclasses import replace
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from pipeline.config import Config, ReviewConfig, StoreConfig, WebConfig
from pipeline.corrections import SINGLE_REVIEW
from pipeline.review_queue import QueueFilter, find_item, review_queue
from tests.browser import chromium, chromium_missing_reason, serving, sign_in
from tests.conftest import SEED_ARTICLE

pytestmark = pytest.mark.browser

_missing = chromium_missing_reason()
if _missing and os.environ.get("NKPIPE_REQUIRE_BROWSER") == "1":
    pytest.fail(f"NKPIPE_REQUIRE_BROWSER=1 but {_missing}", pytrace=False)
if _missing:
    pytest.skip(_missing, allow_module_level=True)

PASSWORD = "reviewer-password"


def served(tmp_path, review, users: dict[str, str]):
    """The seed article ingested by the real pipeline, ``users`` (name: role, password PASSWORD) added, and the
    app served on 127.0.0.1 with the ``review`` config; yields the URL, the store and the browser."""
    from nkpipe.web.app import create_app
    from pipeline.accounts import add_user
    from pipeline.ingest import run_ingest
    from pipeline.sources import SourceSpec, ensure_source
    from pipeline.store import open_store

    article = tmp_path / "article.txt"
    shutil.copy(SEED_ARTICLE, article)
    config = replace(Config(base_dir=tmp_path), store=StoreConfig(url=f"sqlite:///{tmp_path / 'nkpipe.db'}"),
                     web=WebConfig(hash_memory_kib=8192, hash_time_cost=1, prefect_probe_timeout_s=0.2),
                     review=review)
    store = open_store(config.store.url)
    source = ensure_source(store, SourceSpec(str(article), "article", "Seed article", None), tmp_path)
    assert run_ingest(store, config, [source]).counts.new == 1
    for name, role in users.items():
        add_user(store, name, role, PASSWORD, config.web)
    with serving(create_app(config, store)) as base_url, chromium() as browser:
        yield {"url": base_url, "store": store, "browser": browser}
    store.engine.dispose()


@pytest.fixture
def site(tmp_path):
    """A fresh store per test (decisions change the queue); single review: one reviewer's keys decide."""
    yield from served(tmp_path, SINGLE_REVIEW, {"reviewer": "reviewer"})


@pytest.fixture
def double_site(tmp_path):
    """Every item in double review; two reviewers and an admin."""
    yield from served(tmp_path, ReviewConfig(double_review_share=1.0), {
        "alice": "reviewer", "bob": "reviewer", "admin": "admin"})


@pytest.fixture
def page(site):
    context = site["browser"].new_context()
    yield context.new_page()
    context.close()


def key_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["key"][0]


def unreviewed(store) -> list[str]:
    return [i.key for i in review_queue(store, QueueFilter(), limit=1000)]


def confirmations(store) -> list[dict]:
    frame = store.read_table("corrections")
    return frame[frame.action == "confirm"].sort_values("id").to_dict("records")


def press_and_wait(page, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def test_browser_reviewer_confirms_ten_items_with_the_keyboard_alone(site, page):
    store, base_url = site["store"], site["url"]
    queue_before = unreviewed(store)
    assert len(queue_before) > 10
    page.goto(base_url + "/review")  # the login page; its name field takes the focus (autofocus)
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'name'")
    page.keyboard.type("reviewer")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    press_and_wait(page, "Enter")
    assert urlsplit(page.url).path == "/review"
    selected = page.locator("li.item.selected")
    assert selected.get_attribute("id") == "item-1"
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert selected.get_attribute("id") == "item-2"
    page.keyboard.press("k")
    press_and_wait(page, "o")  # the first item's page
    opened = []
    for _ in range(10):
        opened.append(key_of(page.url))
        press_and_wait(page, "c")  # confirm; the next item opens
        assert "this is the next one in the queue" in page.locator("#done").inner_text()
    assert opened == queue_before[:10]  # one after the other, in queue order

    rows = confirmations(store)
    assert [r["target_key"] for r in rows] == opened
    assert {(r["reviewer"], r["active"]) for r in rows} == {("reviewer", True)}
    assert not set(opened) & set(unreviewed(store))
    page.goto(base_url + "/review?reviewed=1")
    for key in opened:
        item = page.locator("li.item").filter(has=page.locator(f'input.pick[value="{key}"]'))
        assert item.locator(".badge").inner_text() == "reviewed", key
    page.goto(base_url + "/review")
    assert page.locator("input.pick").evaluate_all("boxes => boxes.map(b => b.value)") == queue_before[10:]


def test_browser_keys_on_the_queue_page_decide_the_selected_item_and_tick_a_batch(site, page):
    store = site["store"]
    sign_in(page, site["url"], "reviewer", PASSWORD, "/review")
    queue_before = unreviewed(store)
    page.keyboard.press("j")
    press_and_wait(page, "x")  # reject the second item, a fact; the queue comes back at its place
    assert page.locator("li.item.selected").get_attribute("id") == "item-2"
    rejected = store.read_table("corrections").iloc[-1]
    assert (rejected["action"], rejected["target_key"]) == ("reject", queue_before[1])
    page.keyboard.press("s")
    page.keyboard.press("j")
    page.keyboard.press("s")
    page.keyboard.press("j")
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm selected").click()
    assert "Confirmed 2 items" in page.locator("#confirmed").inner_text()
    assert [r["target_key"] for r in confirmations(store)] == queue_before[2:4]


def test_browser_sector_keys_and_the_help_overlay(site, page):
    store = site["store"]
    sign_in(page, site["url"], "reviewer", PASSWORD, "/review?kind=sector")
    help_box = page.locator("#shortcut-help")
    assert help_box.get_attribute("open") is None
    page.keyboard.press("?")
    assert help_box.get_attribute("open") is not None and help_box.locator("table").is_visible()
    assert "confirm" in help_box.inner_text()
    page.keyboard.press("Escape")
    assert help_box.get_attribute("open") is None
    first = page.locator("li.item.selected input.pick").get_attribute("value")
    press_and_wait(page, "e")  # the item page, with the edit form's sector field focused
    assert key_of(page.url) == first
    assert page.evaluate("() => document.activeElement.name") == "sector"
    page.keyboard.press("Escape")  # leave the field: keys are shortcuts again
    press_and_wait(page, "2")  # sector 2 (economic); the next item opens
    assert key_of(page.url) != first
    label = store.read_table("corrections").iloc[-1]
    assert (label["action"], label["target_key"], label["new_value"]) == ("set", first, '"economic"')


def test_browser_review_pages_work_without_javascript(site):
    context = site["browser"].new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, site["url"], "reviewer", PASSWORD, "/review")
        first = unreviewed(site["store"])[0]
        page.locator("li.item").first.get_by_role("link", name="Correct").click()
        with page.expect_navigation():
            page.get_by_role("button", name="Confirm: it is right").click()
        assert key_of(page.url) == unreviewed(site["store"])[0] != first
        assert [r["target_key"] for r in confirmations(site["store"])] == [first]
        page.get_by_role("link", name="next item").click()
        assert key_of(page.url) == unreviewed(site["store"])[1]
    finally:
        context.close()


def test_browser_two_reviewers_disagree_and_an_admin_adjudicates(double_site):
    store, base_url, browser = double_site["store"], double_site["url"], double_site["browser"]
    fact = next(i for i in review_queue(store, QueueFilter(kind="fact"), limit=100) if not i.values["rejected"])
    item_path = f"/review/item?key={quote(fact.key, safe='')}"
    pages = {}
    for name in ("alice", "bob", "admin"):
        pages[name] = browser.new_context().new_page()
        sign_in(pages[name], base_url, name, PASSWORD, item_path)

    alice = pages["alice"]
    alice.fill("#confirm-form input[name=comment]", "alice checked the number")
    with alice.expect_navigation():
        alice.get_by_role("button", name="Confirm: it is right").click()
    alice.goto(base_url + item_path)
    assert "double review" in alice.locator("#held").inner_text()

    bob = pages["bob"]
    bob.reload()  # blind: nothing of alice's decision shows, and the fact is unchanged
    assert "alice" not in bob.locator("main").inner_text()
    assert bob.locator("#reviewed").inner_text() == "no"
    with bob.expect_navigation():
        bob.locator("#reject-form").get_by_role("button", name="Reject fact").click()
    assert "An admin decides it" in bob.locator("#disputed").inner_text()
    unchanged = find_item(store, fact.key)
    assert not unchanged.reviewed and not unchanged.values["rejected"]  # neither decision applied yet

    admin = pages["admin"]
    admin.get_by_role("link", name="Adjudication").click()
    admin.wait_for_load_state()
    [round_box] = admin.locator("section.round").all()
    assert round_box.locator("tr.decision td.reviewer").all_inner_texts() == ["alice", "bob"]
    assert round_box.locator("mark").inner_text() == fact.context.span  # the sentence, the number marked
    with admin.expect_navigation():
        round_box.get_by_role("button", name="Keep bob's decision").click()
    assert admin.locator("#adjudicated").is_visible() and admin.locator("#none-disputed").is_visible()

    decided = find_item(store, fact.key)
    assert decided.reviewed and decided.values["rejected"]
    active = store.read_table("corrections").query("active")
    assert active[["reviewer", "action", "review_role"]].values.tolist() == [["admin", "reject", "adjudication"]]
    admin.goto(base_url + "/admin/review-stats")
    assert admin.locator("#by-pair tbody tr td").all_inner_texts()[:3] == ["alice & bob", "1", "0"]
    for page in pages.values():
        page.context.close()
