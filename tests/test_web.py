import re
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.store import ledger, persist, register_rows
import pytest
from fastapi.testclient import TestClient

from pipeline.config import ScheduleConfig
from pipeline.keys import fact_key, sector_key
from nkpipe.web.app import create_app
from tests.conftest import REVIEW_TEXT
from tests.http_server import unused_port

TEXT_HASH = __import__("hashlib").sha256(REVIEW_TEXT.encode()).hexdigest()
SECTOR_KEY = sector_key(TEXT_HASH, "document", 0)
FACT_KEY = fact_key(TEXT_HASH, 17, 19, "activity_count")
PAGES = ["/", "/review", f"/review/item?key={SECTOR_KEY}", "/review/people", "/review/lapsed", "/sources", "/admin/users",
         "/admin/adjudication", "/admin/review-stats"]


@pytest.fixture
def client(review_store, web_config):
    return TestClient(create_app(web_config, review_store), base_url="http://127.0.0.1")


def token_in(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, name: str) -> str:
    """Sign in as ``name`` (password: name + '-password'); returns the session's CSRF token."""
    page = client.get("/login")
    answer = client.post("/login", data={"name": name, "password": f"{name}-password",
                                         "csrf_token": token_in(page.text), "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return token_in(client.get("/").text)


def sector_of(store) -> tuple[str, str]:
    row = store.read_table("sector_labels").iloc[0]
    return row["sector"], row["source"]


@pytest.mark.parametrize("path", PAGES)
def test_web_pages_redirect_to_login_without_a_session(client, path):
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


def test_web_login_page_and_stylesheet_are_public(client):
    assert client.get("/login").status_code == 200
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "mark" in css.text


def test_web_login_sets_a_strict_httponly_session_cookie(client):
    page = client.get("/login")
    answer = client.post("/login", data={"name": "analyst", "password": "analyst-password",
                                         "csrf_token": token_in(page.text), "next": "/sources"},
                         follow_redirects=False)
    assert answer.headers["location"] == "/sources"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("nkpipe_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_web_login_refuses_wrong_password_missing_token_and_foreign_next(client):
    page = client.get("/login")
    wrong = client.post("/login", data={"name": "analyst", "password": "nope-nope-nope",
                                        "csrf_token": token_in(page.text)})
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    no_token = client.post("/login", data={"name": "analyst", "password": "analyst-password"})
    assert no_token.status_code == 403
    page = client.get("/login")
    away = client.post("/login", data={"name": "analyst", "password": "analyst-password",
                                       "csrf_token": token_in(page.text), "next": "//evil.example/x"},
                       follow_redirects=False)
    assert away.headers["location"] == "/"


def test_web_login_refuses_even_the_right_password_after_too_many_failures(client, web_config):
    allowed = web_config.web.login_failures_allowed
    for _ in range(allowed):
        page = client.get("/login")
        wrong = client.post("/login", data={"name": "reviewer", "password": "guess-guess-guess",
                                            "csrf_token": token_in(page.text)})
        assert wrong.status_code == 401
    page = client.get("/login")
    right = client.post("/login", data={"name": "reviewer", "password": "reviewer-password",
                                        "csrf_token": token_in(page.text)}, follow_redirects=False)
    assert right.status_code == 429 and "Too many failed sign-ins" in right.text
    assert 0 < int(right.headers["retry-after"]) <= web_config.web.login_failure_window_minutes * 60
    assert not any(c.startswith("nkpipe_session=") for c in right.headers.get_list("set-cookie"))
    login(client, "analyst")  # another account from the same address is still let in


def test_web_login_success_clears_the_failure_count(client, web_config):
    def sign_in(password: str) -> int:
        page = client.get("/login")
        return client.post("/login", data={"name": "reviewer", "password": password,
                                           "csrf_token": token_in(page.text)}, follow_redirects=False).status_code

    allowed = web_config.web.login_failures_allowed
    assert [sign_in("guess-guess-guess") for _ in range(allowed - 1)] == [401] * (allowed - 1)
    assert sign_in("reviewer-password") == 303
    assert [sign_in("guess-guess-guess") for _ in range(allowed - 1)] == [401] * (allowed - 1)
    assert sign_in("reviewer-password") == 303


@pytest.mark.parametrize("next_path", ["/\\evil.example", "/\\/evil.example", "https://evil.example",
                                       "/\\t/evil", "/\t/evil.example", "/\n/evil.example", "//evil.example"])
def test_web_login_never_redirects_off_site(client, next_path):
    page = client.get("/login", params={"next": next_path})
    assert 'name="next" value="/"' in page.text
    answer = client.post("/login", data={"name": "analyst", "password": "analyst-password",
                                         "csrf_token": token_in(page.text), "next": next_path},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


# The least role each POST needs; a new POST route must be added here, so its checks are tested.
POST_ROLES = {"/logout": "analyst", "/review/sector": "reviewer", "/review/fact": "reviewer",
              "/review/activity": "reviewer", "/review/alias": "reviewer", "/review/confirm": "reviewer",
              "/review/confirm-batch": "reviewer", "/sources": "analyst",
              "/sources/{source_id}/enabled": "analyst", "/admin/users": "admin",
              "/admin/users/{name}/role": "admin", "/admin/users/{name}/disabled": "admin",
              "/admin/adjudication": "admin"}
LOWER_ROLE = {"reviewer": "analyst", "admin": "reviewer"}


def _post_routes(app) -> list[str]:
    return sorted(r.path for r in app.routes if "POST" in getattr(r, "methods", ()) and r.path != "/login")


def test_web_every_post_needs_a_session_a_csrf_token_and_its_role(review_store, web_config):
    app = create_app(web_config, review_store)
    assert _post_routes(app) == sorted(POST_ROLES)
    for route in _post_routes(app):
        path = route.replace("{source_id}", "1").replace("{name}", "analyst")
        anonymous = TestClient(app, base_url="http://127.0.0.1").post(path, data={"csrf_token": "x"},
                                                                       follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login"), route
        signed_in = TestClient(app, base_url="http://127.0.0.1")
        token = login(signed_in, "admin")
        assert signed_in.post(path, data={}).status_code == 403, route
        assert signed_in.post(path, data={"csrf_token": token[::-1]}).status_code == 403, route
        if POST_ROLES[route] in LOWER_ROLE:
            too_low = TestClient(app, base_url="http://127.0.0.1")
            token = login(too_low, LOWER_ROLE[POST_ROLES[route]])
            assert too_low.post(path, data={"csrf_token": token}).status_code == 403, route
    assert review_store.read_table("corrections").empty
    assert [s.enabled for s in ledger.list_sources(review_store)] == [True]


def test_web_unknown_path_wrong_method_and_bad_form_answer_with_the_error_page(client):
    login(client, "reviewer")
    token = token_in(client.get("/").text)
    for answer, status in ((client.get("/no-such-page"), 404), (client.get("/review/sector"), 405),
                           (client.post("/review/sector", data={"csrf_token": token}), 422)):
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("text/html") and "Back to the dashboard" in answer.text
    assert "POST" in client.get("/review/sector").headers["allow"]
    assert "key" in client.post("/review/sector", data={"csrf_token": token}).text


def test_web_anonymous_post_goes_to_login_without_the_post_path_as_next(client):
    answer = client.post("/review/sector", data={"key": SECTOR_KEY, "sector": "economic"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_web_pages_send_a_content_security_policy_allowing_only_the_sites_own_scripts(client):
    login(client, "analyst")
    policy = client.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "object-src 'none'" in policy


def test_web_analyst_cannot_reach_reviewer_or_admin_pages(client, review_store):
    token = login(client, "analyst")
    for path in ("/review", f"/review/item?key={SECTOR_KEY}", "/review/people", "/review/lapsed", "/admin/users"):
        assert client.get(path).status_code == 403, path
    refused = client.post("/review/sector", data={"key": SECTOR_KEY, "sector": "economic", "csrf_token": token})
    assert refused.status_code == 403
    assert sector_of(review_store) == ("military", "model")
    assert "Review queue" not in client.get("/").text  # the menu hides what the role cannot open


def test_web_reviewer_cannot_manage_users(client):
    token = login(client, "reviewer")
    assert client.get("/admin/users").status_code == 403
    answer = client.post("/admin/users", data={"name": "eve", "role": "admin", "password": "x" * 12,
                                               "csrf_token": token})
    assert answer.status_code == 403


def test_web_post_without_or_with_a_wrong_csrf_token_is_refused(client, review_store):
    token = login(client, "reviewer")
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": token[:-1]}):
        answer = client.post("/review/sector", data={"key": SECTOR_KEY, "sector": "economic", **data})
        assert answer.status_code == 403
    assert sector_of(review_store) == ("military", "model")
    assert review_store.read_table("corrections").empty


def test_web_queue_lists_items_by_priority_with_the_span_marked_and_html_escaped(client):
    login(client, "reviewer")
    page = client.get("/review").text
    assert page.index("activity_count") < page.index("document sector")  # 0.4 x 4 before 0.6 x 1
    assert "Kim Jong Un made <mark>51</mark> public appearances" in page
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page and "<script>" not in page
    assert "facts-test" in page and "sector-test" in page
    only_sectors = client.get("/review", params={"kind": "sector"}).text
    assert "document sector" in only_sectors and "activity_count" not in only_sectors
    assert client.get("/review", params={"date_from": "not-a-date"}).status_code == 400


def test_web_queue_pages_keep_the_filters(client, monkeypatch):
    import nkpipe.web.app as web_app

    monkeypatch.setattr(web_app, "QUEUE_PAGE_SIZE", 1)
    login(client, "reviewer")
    first = client.get("/review", params={"reviewed": "1"}).text
    total = int(re.search(r"Items 1–1 of (\d+)", first).group(1))
    assert total >= 2 and f"page 1 of {total}" in first and "previous" not in first
    assert 'href="/review?reviewed=1&amp;page=2"' in first
    second = client.get("/review", params={"reviewed": "1", "page": 2}).text
    assert "Items 2–2 of" in second and 'href="/review?reviewed=1&amp;page=1"' in second
    assert first.index("activity_count") < first.index("</ol>") and "activity_count" not in second.split("<ol")[1]
    assert "Nothing to review on this page" in client.get("/review", params={"page": total + 1}).text
    for bad in ("0", "²", "1" * 5000, "-1", "two"):
        assert client.get("/review", params={"page": bad}).status_code == 400
    past_the_end = client.get("/review", params={"page": total + 3}).text
    assert f'href="/review?page={total}"' in past_the_end and "last page" in past_the_end


def test_web_reviewer_corrects_a_sector(client, review_store):
    token = login(client, "reviewer")
    answer = client.post("/review/sector", data={"key": SECTOR_KEY, "sector": "economic", "comment": "a fair",
                                                 "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert sector_of(review_store) == ("economic", "reviewer")
    page = client.get(answer.headers["location"]).text
    assert "Correction saved" in page and "a fair" in page
    correction = review_store.read_table("corrections").iloc[0]
    assert (correction["reviewer"], correction["target_key"], correction["old_value"], correction["new_value"]) == (
        "reviewer", SECTOR_KEY, '"military"', '"economic"')


def test_web_reviewer_edits_then_rejects_a_fact(client, review_store):
    token = login(client, "reviewer")
    form = {"key": FACT_KEY, "action": "set", "value": "52", "period_start": "2024-01-01",
            "period_end": "2024-12-31", "period_label": "2024", "subject": "Kim Jong Un", "sector": "",
            "csrf_token": token}
    assert client.post("/review/fact", data=form, follow_redirects=False).status_code == 303
    assert review_store.read_table("facts").iloc[0]["value"] == 52.0
    bad = client.post("/review/fact", data={**form, "value": "many"})
    assert bad.status_code == 400 and "is not a number" in bad.text
    rejected = client.post("/review/fact", data={"key": FACT_KEY, "action": "reject", "csrf_token": token},
                           follow_redirects=False)
    assert rejected.status_code == 303 and bool(review_store.read_table("facts").iloc[0]["rejected"])


def test_web_lapsed_fact_corrections_are_counted_on_the_dashboard_and_listed(client, review_store):
    from tests.conftest import review_document

    token = login(client, "reviewer")
    assert client.post("/review/fact", data={"key": FACT_KEY, "action": "reject", "csrf_token": token},
                       follow_redirects=False).status_code == 303
    assert "lapsed" not in client.get("/").text
    analyzed = review_document(review_store, 1)  # a new extractor reads the number as 52: nothing takes the reject
    fact = {**dict(analyzed.derived)["facts"][0], "value": 52.0}
    persist.write_documents(review_store, None, [replace(analyzed, derived=(("facts", (fact,)),))], "v2", "n2")
    dashboard = client.get("/").text
    assert "1 fact correction lapsed" in dashboard and 'href="/review/lapsed"' in dashboard
    page = client.get("/review/lapsed")
    assert page.status_code == 200 and "reviewer" in page.text and "<mark>51</mark>" in page.text
    assert "Report doc-a" in page.text


def test_web_reviewer_marks_an_activity_as_not_an_activity(client, review_store):
    from pipeline.records import Activity, activity_id_for

    persist.write_register(review_store, [Activity(activity_id_for("doc-a"), "Kim Jong Un", None, None, "T", "inspection",
                                          "military", None, None, ("doc-a",))])
    token = login(client, "reviewer")
    key = f"activity:{activity_id_for('doc-a')}"
    assert "Not an activity" in client.get("/review/item", params={"key": key}).text
    answer = client.post("/review/activity", data={"key": key, "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303 and register_rows.load_register(review_store) == []
    page = client.get("/review/item", params={"key": key}).text
    assert "It is an activity" in page and "Not an activity" not in page
    answer = client.post("/review/activity", data={"key": key, "action": "is_activity", "csrf_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303
    assert [a.activity_id for a in register_rows.load_register(review_store)] == [activity_id_for("doc-a")]
    assert "Not an activity" in client.get("/review/item", params={"key": key}).text
    refused = client.post("/review/activity", data={"key": key, "action": "maybe", "csrf_token": token})
    assert refused.status_code == 400 and "cannot" in refused.text


def test_web_unknown_item_key_is_404_and_bad_key_400(client):
    login(client, "reviewer")
    assert client.get("/review/item", params={"key": "sector:nothing:document:0"}).status_code == 404
    assert client.get("/review/item", params={"key": "rows:1"}).status_code == 400


def test_web_reviewer_merges_and_splits_an_alias(client, review_store):
    token = login(client, "reviewer")
    assert "Kim Jong Un" in client.get("/review/people").text
    split = client.post("/review/alias", data={"alias": "Kim Jong Un", "action": "split", "person": "Kim Other Person",
                                               "csrf_token": token}, follow_redirects=False)
    assert split.status_code == 303
    new_id = review_store.read_table("entities").iloc[0]["canonical_id"]
    assert new_id != "kim-jong-un"
    merge = client.post("/review/alias", data={"alias": "Kim Jong Un", "action": "merge", "person": "kim-jong-un",
                                               "csrf_token": token}, follow_redirects=False)
    assert merge.status_code == 303 and review_store.read_table("entities").iloc[0]["canonical_id"] == "kim-jong-un"
    unknown = client.post("/review/alias", data={"alias": "Kim Jong Un", "action": "merge", "person": "nobody",
                                                 "csrf_token": token})
    assert unknown.status_code == 400 and "no person has id" in unknown.text


def test_web_analyst_adds_disables_and_enables_sources(client, review_store, monkeypatch):
    import ipaddress

    from pipeline import addresses

    # no DNS here: example.com resolves to its public address, as it would on the internet
    monkeypatch.setattr(addresses, "resolve", lambda host, timeout_s=2.0: [ipaddress.ip_address("93.184.215.14")])
    ledger.mark_source_outcome(review_store, 1, "skipped", "HTTP 404 Not Found")
    token = login(client, "analyst")
    page = client.get("/sources").text
    assert "HTTP 404 Not Found" in page and "skipped" in page
    added = client.post("/sources", data={"url": "https://Example.com/a#x", "kind": "", "name": "Ex",
                                          "published": "2025-01-02", "csrf_token": token}, follow_redirects=False)
    assert added.status_code == 303 and "https://example.com/a" in client.get("/sources").text
    for url, message in (("ftp://example.com/x", "http(s) URLs only"), ("https://example.com/a", "already registered"),
                         ("/etc/passwd", "http(s) URLs only"), ("https://", "no valid host")):
        refused = client.post("/sources", data={"url": url, "csrf_token": token})
        assert refused.status_code == 400 and message in refused.text, url
    client.post("/sources/2/enabled", data={"enabled": "0", "csrf_token": token})
    assert not ledger.get_source(review_store, 2).enabled
    client.post("/sources/2/enabled", data={"enabled": "1", "csrf_token": token})
    assert ledger.get_source(review_store, 2).enabled
    assert client.post("/sources/99/enabled", data={"enabled": "0", "csrf_token": token}).status_code == 404


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/feed", "http://10.1.2.3/feed", "http://192.168.0.1/", "http://172.16.5.4/",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/x", "http://0.0.0.0/", "http://2130706433/",
    "http://[::ffff:127.0.0.1]/", "http://[fe80::1]/", "https://100.64.0.1/",
])
def test_web_sources_page_refuses_addresses_inside_the_server_network(client, review_store, url):
    token = login(client, "analyst")
    refused = client.post("/sources", data={"url": url, "csrf_token": token})
    assert refused.status_code == 400 and "inside the server&#39;s own network" in refused.text
    assert "allow_private_sources" in refused.text
    assert len(ledger.list_sources(review_store)) == 1


def test_web_sources_page_refuses_names_resolving_inside_or_unresolved_and_accepts_public(client, review_store,
                                                                                          monkeypatch):
    import ipaddress

    from pipeline import addresses

    answers = {"intranet.example": ["10.0.0.5"], "public.example": ["93.184.215.14"], "gone.example": []}
    monkeypatch.setattr(addresses, "resolve", lambda host, timeout_s=2.0: [
        ipaddress.ip_address(a) for a in answers.get(host, [host])])
    token = login(client, "analyst")
    refused = client.post("/sources", data={"url": "https://intranet.example/feed", "csrf_token": token})
    assert refused.status_code == 400 and "10.0.0.5" in refused.text
    unresolved = client.post("/sources", data={"url": "https://gone.example/feed", "csrf_token": token})
    assert unresolved.status_code == 400 and "does not resolve" in unresolved.text  # fails closed
    for url in ("https://public.example/feed", "http://93.184.215.14/feed"):
        added = client.post("/sources", data={"url": url, "csrf_token": token}, follow_redirects=False)
        assert added.status_code == 303, url
    assert len(ledger.list_sources(review_store)) == 3
    assert {s.address_policy for s in ledger.list_sources(review_store)[1:]} == {"public"}  # recorded per source


def test_web_sources_page_adds_private_addresses_when_the_config_allows_them(review_store, web_config):
    from pipeline.config import WebConfig

    allowing = replace(web_config, web=WebConfig(**{**web_config.web.__dict__, "allow_private_sources": True}))
    client = TestClient(create_app(allowing, review_store), base_url="http://127.0.0.1")
    token = login(client, "analyst")
    added = client.post("/sources", data={"url": "http://127.0.0.1:8080/feed", "csrf_token": token},
                        follow_redirects=False)
    assert added.status_code == 303 and ledger.find_source(review_store, "http://127.0.0.1:8080/feed").address_policy \
        == "any"


def test_web_admin_adds_users_changes_roles_and_disables(client, review_store):
    token = login(client, "admin")
    added = client.post("/admin/users", data={"name": "dora", "role": "analyst", "password": "dora-password",
                                              "csrf_token": token}, follow_redirects=False)
    assert added.status_code == 303 and "dora" in client.get("/admin/users").text
    short = client.post("/admin/users", data={"name": "eve", "role": "analyst", "password": "short",
                                              "csrf_token": token})
    assert short.status_code == 400 and "at least 10" in short.text
    client.post("/admin/users/dora/role", data={"role": "reviewer", "csrf_token": token})
    from pipeline.accounts import get_user

    assert get_user(review_store, "dora").role == "reviewer"
    other = TestClient(client.app, base_url="http://127.0.0.1")
    login(other, "dora")
    client.post("/admin/users/dora/disabled", data={"disabled": "1", "csrf_token": token})
    assert other.get("/", follow_redirects=False).status_code == 303  # her open session ended
    own = client.post("/admin/users/admin/disabled", data={"disabled": "1", "csrf_token": token})
    assert own.status_code == 400 and not get_user(review_store, "admin").disabled
    assert "cannot disable your own account" in own.text
    demoted = client.post("/admin/users/admin/role", data={"role": "reviewer", "csrf_token": token})
    assert demoted.status_code == 400 and "cannot change the role of your own account" in demoted.text
    assert get_user(review_store, "admin").role == "admin"


def test_web_logout_ends_the_session(client):
    token = login(client, "analyst")
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303


def test_web_dashboard_shows_runs_failures_and_corrections(client, review_store):
    from pipeline.records import RunCounts

    run_id = ledger.start_run(review_store, "nightly_ingest", 2, "v1")
    ledger.record_fetch(review_store, run_id, 1, "failed", reason="timed out after 3 tries")
    ledger.finish_run(review_store, run_id, RunCounts(new=3, failed=1), "completed_with_failures")
    login(client, "analyst")
    page = client.get("/").text
    assert "completed_with_failures" in page and "timed out after 3 tries" in page
    assert "https://x.org/feed" in page and "prefect-link" not in page


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args):
        pass


def test_web_dashboard_links_prefect_only_when_its_server_answers(review_store, web_config):
    port = unused_port()
    config = replace(web_config, schedule=ScheduleConfig(server_port=port))
    client = TestClient(create_app(config, review_store), base_url="http://127.0.0.1")
    login(client, "analyst")
    assert "prefect-link" not in client.get("/").text
    server = ThreadingHTTPServer(("127.0.0.1", port), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert f'href="http://127.0.0.1:{port}"' in client.get("/").text
    finally:
        server.shutdown()
        server.server_close()
