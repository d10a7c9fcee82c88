"""The review desk: confirm as a correction, batch confirm, the next item after a decision, the key script.

Confirmations are made through the web routes (the forms a reviewer's keys and clicks submit)
and checked in the store: audited like any correction, applied again after a re-run, lapsing
when their fact is no longer extracted.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from nkpipe.web.app import create_app
from pipeline.keys import activity_key, alias_key, fact_key, sector_key
from pipeline.records import Activity, activity_id_for
from pipeline.review_queue import QueueFilter, corrections_of, find_item, lapsed_fact_corrections, review_queue
from pipeline.store import ledger, persist, register_rows
from tests.conftest import REVIEW_TEXT, SEED_ARTICLE, review_document
from tests.test_web import login, token_in

TEXT_HASH = __import__("hashlib").sha256(REVIEW_TEXT.encode()).hexdigest()
FACT_KEY = fact_key(TEXT_HASH, 17, 19, "activity_count")
SECTOR_KEY = sector_key(TEXT_HASH, "document", 0)


@pytest.fixture
def client(review_store, web_config):
    return TestClient(create_app(web_config, review_store), base_url="http://127.0.0.1")


def confirm(client, token: str, key: str, **form) -> object:
    return client.post("/review/confirm", data={"key": key, "csrf_token": token, **form}, follow_redirects=False)


def corrections_table(store) -> list[dict]:
    return store.read_table("corrections").sort_values("id").to_dict("records")


def fact_state(store) -> tuple:
    row = store.read_table("facts").iloc[0]
    return row["value"], row["subject"], bool(row["reviewed"]), bool(row["rejected"])


def queue_keys(store, **wanted) -> list[str]:
    return [i.key for i in review_queue(store, QueueFilter(**wanted), limit=1000)]


def more_documents(store, count: int) -> list[str]:
    """``count`` more reviewable documents (other texts: other keys); the keys of their facts."""
    texts = [f"{REVIEW_TEXT} Copy {n}." for n in range(count)]
    for n, text in enumerate(texts):
        review_document(store, 1, text=text, doc_id=f"doc-{n}")
    return [fact_key(__import__("hashlib").sha256(t.encode()).hexdigest(), 17, 19, "activity_count") for t in texts]


# --- confirm: recorded, audited, applied ---------------------------------------------------------


def test_review_desk_confirm_marks_a_fact_reviewed_unchanged_and_audits_it(client, review_store):
    token = login(client, "reviewer")
    before = fact_state(review_store)
    answer = confirm(client, token, FACT_KEY, comment="checked against the report")
    assert answer.status_code == 303
    assert fact_state(review_store) == (*before[:2], True, False)  # reviewed, nothing else changed
    [row] = corrections_table(review_store)
    assert (row["reviewer"], row["action"], row["target_key"], row["target_type"], row["active"]) == (
        "reviewer", "confirm", FACT_KEY, "fact", True)
    assert row["created_at"] is not None and row["comment"] == "checked against the report"
    assert row["document_id"] == "doc-a"
    assert json.loads(row["old_value"])["fingerprint"]["value"] == 51.0  # finds its fact again after a re-run
    assert json.loads(row["new_value"])["value"] == 51.0 and json.loads(row["new_value"])["rejected"] is False
    assert FACT_KEY not in queue_keys(review_store)
    assert FACT_KEY in queue_keys(review_store, include_reviewed=True)
    page = client.get("/review/item", params={"key": FACT_KEY}).text
    assert re.search(r"<td>reviewer</td><td>confirm</td>.*<td>applied</td>", page)
    assert '<td id="reviewed">yes</td>' in page


def test_review_desk_confirm_ignores_values_a_form_sends(client, review_store):
    token = login(client, "reviewer")
    assert confirm(client, token, SECTOR_KEY, sector="economic", value="999", new_value='"economic"').status_code == 303
    labels = review_store.read_table("sector_labels").iloc[0]
    assert (labels["sector"], labels["source"], bool(labels["reviewed"])) == ("military", "reviewer", True)
    assert json.loads(corrections_table(review_store)[0]["new_value"]) == "military"


def test_review_desk_confirm_survives_a_re_run_of_the_same_document(client, review_store):
    persist.write_register(review_store, [Activity(activity_id_for("doc-a"), "Kim Jong Un", None, None, "T",
                                                   "inspection", "military", None, None, ("doc-a",))])
    token = login(client, "reviewer")
    activity = activity_key(activity_id_for("doc-a"))
    for key in (FACT_KEY, SECTOR_KEY, activity):
        assert confirm(client, token, key).status_code == 303
    review_document(review_store, 1)  # the pipeline writes the document's rows again, unreviewed
    persist.write_register(review_store, [Activity(activity_id_for("doc-a"), "Kim Jong Un", None, None, "T",
                                                   "inspection", "military", None, None, ("doc-a",))])
    assert fact_state(review_store) == (51.0, "Kim Jong Un", True, False)
    label = review_store.read_table("sector_labels").iloc[0]
    assert (label["sector"], bool(label["reviewed"])) == ("military", True)
    row = review_store.read_table("activities").iloc[0]
    assert (bool(row["reviewed"]), bool(row["rejected"])) == (True, False)
    assert [a.activity_id for a in register_rows.load_register(review_store)] == [activity_id_for("doc-a")]
    assert queue_keys(review_store) == []
    assert [c["state"] for key in (FACT_KEY, SECTOR_KEY, activity) for c in corrections_of(review_store, key)] == [
        "applied"] * 3


def test_review_desk_confirm_survives_a_real_pipeline_re_run(review_store, web_config, tmp_path, monkeypatch):
    """The seed article through the whole pipeline twice: the second run writes every row again."""
    from pipeline.ingest import run_ingest
    from pipeline.sources import SourceSpec, ensure_source

    article = tmp_path / "article.txt"
    shutil.copy(SEED_ARTICLE, article)
    source = ensure_source(review_store, SourceSpec(str(article), "article", "Seed", None), tmp_path)
    config = web_config
    assert run_ingest(review_store, config, [source]).counts.new == 1
    client = TestClient(create_app(config, review_store), base_url="http://127.0.0.1")
    token = login(client, "reviewer")
    document = review_store.read_table("documents").query("source_id == @source.id").iloc[0]
    queued = review_queue(review_store, QueueFilter(source_id=source.id), limit=100)
    confirmed = [i for i in queued if i.kind == "fact"][:3] + [i for i in queued if i.kind == "sector"][:1]
    assert [i.kind for i in confirmed] == ["fact"] * 3 + ["sector"]
    for item in confirmed:
        assert confirm(client, token, item.key).status_code == 303
    monkeypatch.setattr("pipeline.ingest.CLEAN_VERSION", "clean-review-desk-test")
    assert run_ingest(review_store, config, [ledger.get_source(review_store, source.id)]).counts.changed == 1
    rewritten = review_store.read_table("documents").set_index("document_id").loc[document.document_id]
    assert rewritten["pipeline_version"].startswith("clean-review-desk-test")  # the run wrote its rows again
    for item in confirmed:
        again = find_item(review_store, item.key)
        unchanged = {k: v for k, v in item.values.items() if k != "source"}  # a sector's source becomes reviewer
        assert again.reviewed and {k: again.values[k] for k in unchanged} == unchanged, item.key
    assert not {i.key for i in confirmed} & set(queue_keys(review_store, source_id=source.id))
    assert {c["state"] for i in confirmed for c in corrections_of(review_store, i.key)} == {"applied"}


def test_review_desk_confirm_lapses_when_the_fact_changes(client, review_store):
    token = login(client, "reviewer")
    assert confirm(client, token, FACT_KEY).status_code == 303
    analyzed = review_document(review_store, 1)
    fact = {**dict(analyzed.derived)["facts"][0], "value": 52.0}  # a new extractor reads the number differently
    persist.write_documents(review_store, None, [replace(analyzed, derived=(("facts", (fact,)),))], "v2", "n2")
    assert fact_state(review_store) == (52.0, "Kim Jong Un", False, False)  # not confirmed: a human never saw 52
    assert [c["state"] for c in corrections_of(review_store, FACT_KEY)] == ["lapsed"]
    [lapsed] = lapsed_fact_corrections(review_store)
    assert lapsed.correction["action"] == "confirm" and lapsed.context.span == "51"
    assert FACT_KEY in queue_keys(review_store)  # back in the queue, to be decided again


def test_review_desk_confirm_follows_its_number_to_a_new_span(store):
    from pipeline.corrections import confirmation, record_correction
    from tests.test_review import _extracted, _fact_states

    source = ledger.add_source(store, "https://x.org/feed", "article", None, None)
    text_hash = _extracted(store, source.id, (8, 29, 51.0, "2024"))
    old_key = fact_key(text_hash, 8, 29, "activity_count", 0)
    record_correction(store, confirmation(old_key, "rev"))
    _extracted(store, source.id, (8, 10, 51.0, "2024"))  # the same number, read on a shorter span
    assert _fact_states(store) == {(8, 10): (51.0, "2024", False, True)}
    assert [c["state"] for c in corrections_of(store, old_key)] == ["re-anchored"]
    [moved] = corrections_of(store, fact_key(text_hash, 8, 10, "activity_count", 0))
    assert (moved["action"], moved["state"], moved["reviewer"]) == ("confirm", "applied", "rev")


def test_review_desk_confirm_after_an_edit_keeps_the_edit_after_a_re_run(client, review_store):
    token = login(client, "reviewer")
    edit = {"key": FACT_KEY, "action": "set", "value": "52", "subject": "Kim Jong Un", "csrf_token": token}
    assert client.post("/review/fact", data=edit, follow_redirects=False).status_code == 303
    assert confirm(client, token, FACT_KEY).status_code == 303  # a second reviewer agrees with the edit
    review_document(review_store, 1)
    assert fact_state(review_store) == (52.0, "Kim Jong Un", True, False)
    assert [c["action"] for c in corrections_of(review_store, FACT_KEY)] == ["confirm", "set"]
    assert [c["state"] for c in corrections_of(review_store, FACT_KEY)] == ["applied", "superseded"]


def test_review_desk_confirming_a_rejected_fact_keeps_it_rejected(client, review_store):
    token = login(client, "reviewer")
    client.post("/review/fact", data={"key": FACT_KEY, "action": "reject", "csrf_token": token})
    assert confirm(client, token, FACT_KEY).status_code == 303
    review_document(review_store, 1)
    assert fact_state(review_store)[2:] == (True, True)
    assert [c["state"] for c in corrections_of(review_store, FACT_KEY)][0] == "applied"


def test_review_desk_reviewer_confirms_a_person_alias(client, review_store):
    token = login(client, "reviewer")
    answer = confirm(client, token, alias_key("Kim Jong Un"))
    assert answer.status_code == 303 and answer.headers["location"] == "/review/people?saved=1"
    alias = review_store.read_table("person_aliases").set_index("alias").loc["Kim Jong Un"]
    assert (alias["person_id"], alias["source"]) == ("kim-jong-un", "reviewer")
    review_document(review_store, 1)
    assert review_store.read_table("entities").iloc[0]["canonical_id"] == "kim-jong-un"
    assert corrections_table(review_store)[0]["action"] == "confirm"
    unknown = confirm(client, token, alias_key("Nobody Known"))
    assert unknown.status_code == 400 and "reload the review queue" in unknown.text


# --- who may confirm ------------------------------------------------------------------------


def test_review_desk_analyst_cannot_confirm(client, review_store):
    token = login(client, "analyst")
    assert confirm(client, token, FACT_KEY).status_code == 403
    batch = client.post("/review/confirm-batch", data={"key": [FACT_KEY, SECTOR_KEY], "csrf_token": token})
    assert batch.status_code == 403
    assert review_store.read_table("corrections").empty and not fact_state(review_store)[2]


def test_review_desk_confirm_without_the_csrf_token_is_refused(client, review_store):
    token = login(client, "reviewer")
    for sent in ({}, {"csrf_token": "forged"}, {"csrf_token": token[:-1]}):
        single = client.post("/review/confirm", data={"key": FACT_KEY, **sent})
        batch = client.post("/review/confirm-batch", data={"key": [FACT_KEY, SECTOR_KEY], **sent})
        assert (single.status_code, batch.status_code) == (403, 403)
        assert "security token" in single.text
    assert review_store.read_table("corrections").empty and not fact_state(review_store)[2]


# --- batch confirm ----------------------------------------------------------------------------


def test_review_desk_batch_confirm_records_one_audited_correction_per_item(client, review_store):
    keys = [FACT_KEY, SECTOR_KEY, *more_documents(review_store, 4)]
    token = login(client, "reviewer")
    page = client.get("/review").text
    assert all(f'name="key" value="{key}" form="batch-form"' in page for key in keys)  # a box per item
    answer = client.post("/review/confirm-batch", data={"key": keys, "csrf_token": token, "queue": "kind=fact"},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/review?kind=fact&confirmed=6"
    rows = corrections_table(review_store)
    assert [r["target_key"] for r in rows] == keys and len({r["id"] for r in rows}) == 6
    assert {(r["action"], r["reviewer"], r["active"]) for r in rows} == {("confirm", "reviewer", True)}
    assert all(r["created_at"] is not None and r["old_value"] for r in rows)
    assert [r["document_id"] for r in rows] == ["doc-a", "doc-a", "doc-0", "doc-1", "doc-2", "doc-3"]
    assert not set(keys) & set(queue_keys(review_store))
    shown = client.get(answer.headers["location"]).text
    assert "Confirmed 6 items" in shown and not any(f'value="{key}"' in shown for key in keys)


def test_review_desk_batch_confirm_is_all_or_nothing(client, review_store):
    token = login(client, "reviewer")
    gone = fact_key("0" * 64, 1, 2, "activity_count")
    answer = client.post("/review/confirm-batch", data={"key": [FACT_KEY, gone], "csrf_token": token})
    assert answer.status_code == 400 and "nothing was confirmed" in answer.text
    assert review_store.read_table("corrections").empty and not fact_state(review_store)[2]
    empty = client.post("/review/confirm-batch", data={"csrf_token": token})
    assert empty.status_code == 400 and "no item was selected" in empty.text


# --- the next item after a decision ------------------------------------------------------------


def _key_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["key"][0]


def test_review_desk_confirm_opens_the_next_item_of_the_same_queue(client, review_store):
    more_documents(review_store, 3)
    token = login(client, "reviewer")
    order = queue_keys(review_store, kind="fact")
    assert len(order) == 4
    second = client.get("/review", params={"kind": "fact"}).text
    link = re.search(r'href="(/review/item\?key=[^"]+)"', second).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(link).query)["queue"] == ["kind=fact"]  # the item keeps the queue it came from
    answer = confirm(client, token, order[1], after="next", queue="kind=fact")
    assert _key_of(answer.headers["location"]) == order[2]  # the one after it, not the first
    page = client.get(answer.headers["location"]).text
    assert "this is the next one in the queue" in page and 'name="queue" value="kind=fact"' in page
    last = confirm(client, token, order[3], after="next", queue="kind=fact")
    assert _key_of(last.headers["location"]) == order[0]  # past the end: the first still unreviewed
    for key in (order[0], order[2]):
        final = confirm(client, token, key, after="next", queue="kind=fact")
    assert final.headers["location"] == "/review?kind=fact&end=1"
    assert "That was the last item" in client.get(final.headers["location"]).text


def test_review_desk_every_decision_form_can_open_the_next_item(client, review_store):
    more_documents(review_store, 2)
    token = login(client, "reviewer")
    order = queue_keys(review_store, kind="fact")
    rejected = client.post("/review/fact", data={"key": order[0], "action": "reject", "after": "next",
                                                 "queue": "kind=fact", "csrf_token": token}, follow_redirects=False)
    assert _key_of(rejected.headers["location"]) == order[1]
    sector = client.post("/review/sector", data={"key": SECTOR_KEY, "sector": "economic", "after": "next",
                                                 "csrf_token": token}, follow_redirects=False)
    assert _key_of(sector.headers["location"]) in queue_keys(review_store)
    stay = client.post("/review/fact", data={"key": order[1], "action": "reject", "csrf_token": token},
                       follow_redirects=False)
    assert stay.headers["location"].endswith("&saved=1")  # a form without `after` stays, as before


def test_review_desk_a_decision_on_the_queue_page_goes_back_to_its_place(client, review_store):
    more_documents(review_store, 2)
    token = login(client, "reviewer")
    answer = confirm(client, token, queue_keys(review_store)[1], after="queue", queue="page=1", at="2")
    assert answer.headers["location"] == "/review?page=1#item-2"  # the next item moved up into place 2
    kept = confirm(client, token, queue_keys(review_store, include_reviewed=True)[0], after="queue",
                   queue="reviewed=1", at="1")
    assert kept.headers["location"] == "/review?reviewed=1#item-2"  # reviewed items stay: the next is below


def test_review_desk_queue_context_is_rebuilt_not_passed_through(client, review_store):
    token = login(client, "reviewer")
    answer = confirm(client, token, FACT_KEY, after="queue", queue="kind=fact&next=//evil.example&x=<b>", at="1")
    assert answer.headers["location"] == "/review?kind=fact#item-1"
    bad = confirm(client, token, SECTOR_KEY, after="next", queue="date_from=yesterday")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    assert [r["target_key"] for r in corrections_table(review_store)] == [FACT_KEY]  # refused before storing


def test_review_desk_j_and_k_links_step_through_the_queue(client, review_store):
    more_documents(review_store, 2)
    login(client, "reviewer")
    order = queue_keys(review_store)
    page = client.get("/review/item", params={"key": order[1]}).text
    steps = {m.group(2): m.group(1).replace("&amp;", "&") for m in re.finditer(
        r'<a href="(/review/step\?[^"]+)" rel="(prev|next)" data-shortcut="[jk]"', page)}
    assert set(steps) == {"prev", "next"}
    assert _key_of(client.get(steps["next"], follow_redirects=False).headers["location"]) == order[2]
    assert _key_of(client.get(steps["prev"], follow_redirects=False).headers["location"]) == order[0]
    first = client.get("/review/step", params={"key": order[0], "to": "previous"}, follow_redirects=False)
    assert first.headers["location"] == "/review"
    last = client.get("/review/step", params={"key": order[-1], "queue": "kind=sector"}, follow_redirects=False)
    assert last.headers["location"] == "/review?kind=sector&end=1"


# --- the shortcuts' script -----------------------------------------------------------------------


def test_review_desk_pages_load_the_one_static_script_and_no_inline_script(client, review_store):
    login(client, "reviewer")
    for path in ("/review", f"/review/item?key={FACT_KEY}"):
        page = client.get(path).text
        assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/review-keys.js" defer>'], path
        assert "</script>" in page and re.search(r"<script[^>]*>\s*</script>", page)  # nothing inline
        assert re.search(r' on[a-z]+=', page) is None, path  # no inline event handlers either
        assert 'id="shortcut-help"' in page and "<kbd>c</kbd>" in page
    script = client.get("/static/review-keys.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "data-shortcut" in script.text and "http" not in script.text.split("*/", 1)[1]  # nothing fetched
    assert "script-src 'self';" in script.headers["content-security-policy"]


def test_review_desk_every_shortcut_has_its_button_or_link_on_the_page(client, review_store):
    persist.write_register(review_store, [Activity(activity_id_for("doc-a"), "Kim Jong Un", None, None, "T",
                                                   "inspection", "military", None, None, ("doc-a",))])
    login(client, "reviewer")
    for key, shortcuts in ((FACT_KEY, "cxejk"), (SECTOR_KEY, "cejk"), (activity_key(activity_id_for("doc-a")), "cxejk")):
        page = client.get("/review/item", params={"key": key}).text
        assert set(re.findall(r'data-shortcut="([a-z])"', page)) == set(shortcuts), key
        # c and x press submit buttons of CSRF-protected forms, which open the next item
        deciding = re.findall(r'<button type="submit" name="after" value="next" data-shortcut="([cx])"', page)
        assert sorted(deciding) == sorted(set(shortcuts) & {"c", "x"}), key
        assert page.count('name="csrf_token"') == page.count("<form "), key
    sector = client.get("/review/item", params={"key": SECTOR_KEY}).text
    assert "data-sector-keys" in sector and 'name="after" value="next" data-sector-save' in sector
    queue = client.get("/review").text
    items = queue.split('<li class="item')[1:]
    assert all('data-shortcut="c"' in li and 'data-shortcut="e"' in li for li in items)
    assert queue.count('name="csrf_token"') == queue.count("<form ") - 1  # the filter form is a GET
