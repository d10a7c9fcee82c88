"""The analyst's workbench: register, tallies and facts pages, their CSV and JSON API, API tokens."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import re
from datetime import date

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nkpipe.cli import app as cli_app
from nkpipe.web.app import create_app
from pipeline import accounts
from pipeline.errors import AuthError
from pipeline.records import Activity, AnalyzedDocument, CleanDocument, Entity, Person, activity_id_for
from pipeline.store import ledger, open_store, persist
from tests.test_web import login

runner = CliRunner()


# --- API tokens ----------------------------------------------------------------------------------


def _cli(db_url: str, *args: str, text: str | None = None):
    return runner.invoke(cli_app, ["--db", db_url, *args], input=text)


def _token_in(output: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith(accounts.API_TOKEN_PREFIX))


def test_workbench_cli_users_token_prints_a_token_once_and_keeps_only_its_hash(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert _cli(db, "users", "add", "bob", "--role", "analyst", "--password-stdin", text="a long password\n").exit_code == 0
    made = _cli(db, "users", "token", "bob")
    assert made.exit_code == 0, made.output
    token = _token_in(made.output)
    assert len(token) > 40 and "shown once" in made.output
    store = open_store(db)
    stored = store.read_table("api_tokens")
    assert list(stored["token_hash"]) == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in open(tmp_path / "cli.db", "rb").read().decode("latin-1")
    assert accounts.find_token_user(store, token).name == "bob"

    again = _token_in(_cli(db, "users", "token", "bob").output)  # re-issuing replaces the token
    assert again != token and accounts.find_token_user(store, token) is None
    assert accounts.find_token_user(store, again).name == "bob" and len(store.read_table("api_tokens")) == 1

    revoked = _cli(db, "users", "token", "bob", "--revoke")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert accounts.find_token_user(store, again) is None and store.read_table("api_tokens").empty
    assert "nothing to revoke" in _cli(db, "users", "token", "bob", "--revoke").output


def test_workbench_cli_users_token_refuses_unknown_and_disabled_accounts(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    unknown = _cli(db, "users", "token", "nobody")
    assert unknown.exit_code == 2 and "no user is called 'nobody'" in unknown.output
    _cli(db, "users", "add", "bob", "--role", "admin", "--password-stdin", text="a long password\n")
    token = _token_in(_cli(db, "users", "token", "bob").output)
    assert _cli(db, "users", "disable", "bob").exit_code == 0  # disabling revokes the token
    assert accounts.find_token_user(open_store(db), token) is None
    refused = _cli(db, "users", "token", "bob")
    assert refused.exit_code == 2 and "is disabled" in refused.output


def test_workbench_token_of_a_disabled_account_reads_nothing(store, web_config):
    accounts.add_user(store, "dora", "reviewer", "dora-password", web_config.web)
    token = accounts.issue_api_token(store, "dora")
    assert accounts.find_token_user(store, token).role == "reviewer"
    accounts.set_disabled(store, "dora", True)
    assert accounts.find_token_user(store, token) is None
    assert accounts.find_token_user(store, "") is None and accounts.find_token_user(store, "nkp_guess") is None
    with pytest.raises(AuthError, match="disabled"):
        accounts.issue_api_token(store, "dora")


# --- a store with a small register, reported tallies and other facts -------------------------------

ACTIVITIES_TOPIC = "WPK General Secretary Kim Jong Un's Revolutionary Activities"
INSPECTION_SENTENCE = "Respected Comrade Kim Jong Un inspected the farm on March 4."
KCNA_TEXTS = {
    "kcna-1": ("Pyongyang, March 5 (KCNA) -- The Kangdong Greenhouse Farm was completed last year. "
               f"{INSPECTION_SENTENCE} He was accompanied by Jo Yong Won. <script>window.pwned = 1</script>"),
    "kcna-2": "Pyongyang, May 11 (KCNA) -- Kim Jong Un visited the Wonsan shipyard on May 10. Kim Tok Hun was present.",
    "kcna-3": "Vladivostok, November 21 (KCNA) -- Kim Jong Un held talks with Vladimir Putin on November 20.",
    "kcna-4": "Pyongyang, May 13 (KCNA) -- Kim Jong Un sent a letter to the workers of the shipyard.",
}
BRIEF_TEXT = ("Kim Jong Un made 130 public appearances in 2024, the institute counted. "
              "The market rate reached 8,000 won per dollar in Pyongyang in June 2024. "
              "Rice cost 5,000 won a kilogram in Sinuiju in 2023.")
FORMULA_TITLE = '=HYPERLINK("http://evil.example","x")'
INJECTION = "x' OR '1'='1"
IDS = {name: activity_id_for(doc) for name, doc in (("farm", "kcna-1"), ("shipyard", "kcna-2"), ("talks", "kcna-3"),
                                                      ("letter", "kcna-4"), ("undated", "undated-doc"))}


def _person(text: str, name: str, person_id: str) -> Entity:
    start = text.index(name)
    return Entity("PERSON", name, start, start + len(name), 0, len(text), person_id, name)


def _fact(text: str, number: str, **values) -> dict:
    start = text.index(number)
    sentence_start = text.rfind(". ", 0, start) + 2 if text.rfind(". ", 0, start) > 0 else 0
    blank = dict.fromkeys(("subject", "sector", "category", "counterpart", "place", "period_start", "period_end",
                           "period_label", "period_precision", "value", "low", "high", "qualifier", "unit"))
    return {**blank, "start_char": start, "end_char": start + len(number), "extractor_version": "facts-test",
            "confidence": 0.9, "sentence": text[sentence_start:text.index(".", start + len(number)) + 1], **values}


def _store_document(store, source_id: int, doc_id: str, text: str, published: date | None, fmt: str,
                    entities: tuple = (), facts: tuple = (), title: str | None = None, section: str | None = None):
    document = CleanDocument(doc_id, f"https://kcna.example/{doc_id}", title or f"Report {doc_id}", None, published,
                             text, fmt, section=section)
    persist.write_documents(store, None, [AnalyzedDocument(doc_id, source_id, document, entities, 3,
                                                           derived=(("facts", facts),) if facts else ())], "v1", "n1")


def build_workbench_data(store) -> None:
    """Four KCNA reports and a brief beside the review fixture's document; a register of five rows
    (one a letter, one undated) written as the rebuild would; a brief's reported tally and two prices."""
    kcna = ledger.add_source(store, "https://kcna.example/archive.json", "kcna", "KCNA archive", None)
    days = {"kcna-1": date(2024, 3, 5), "kcna-2": date(2024, 5, 11), "kcna-3": date(2023, 11, 21),
            "kcna-4": date(2024, 5, 13)}
    for doc_id, text in KCNA_TEXTS.items():
        people = tuple(_person(text, n, n.lower().replace(" ", "-"))
                       for n in ("Jo Yong Won", "Kim Tok Hun", "Vladimir Putin") if n in text)
        _store_document(store, kcna.id, doc_id, text, days[doc_id], "kcna",
                        (_person(text, "Kim Jong Un", "kim-jong-un"), *people), section=ACTIVITIES_TOPIC,
                        title=f"Kim Jong Un in {doc_id} <b>bold</b>")
    brief = ledger.add_source(store, "https://institute.example/brief", "brief", "Institute brief", None)
    _store_document(store, brief.id, "brief-1", BRIEF_TEXT, date(2025, 1, 15), "text", facts=(
        _fact(BRIEF_TEXT, "130", kind="activity_count", subject="Kim Jong Un", value=130.0,
              period_start=date(2024, 1, 1), period_end=date(2024, 12, 31), period_label="2024",
              period_precision="year"),
        _fact(BRIEF_TEXT, "8,000", kind="exchange_rate", value=8000.0, unit="KPW", place="Pyongyang",
              period_start=date(2024, 6, 1), period_end=date(2024, 6, 30), period_label="June 2024",
              period_precision="month"),
        _fact(BRIEF_TEXT, "5,000", kind="price", value=5000.0, unit="KPW", place="Sinuiju", category="rice",
              period_start=date(2023, 1, 1), period_end=date(2023, 12, 31), period_label="2023",
              period_precision="year"),
    ))
    persist.write_register(store, [
        Activity(IDS["farm"], "Kim Jong Un", date(2024, 3, 4), date(2024, 3, 5), "Kim Jong Un Inspects Farm",
                 "inspection", "economic", "Kangdong", None, ("kcna-1",),
                 (Person("jo-yong-won", "Jo Yong Won", "accompanied"),), date_precision="stated"),
        Activity(IDS["shipyard"], "Kim Jong Un", date(2024, 5, 10), date(2024, 5, 11), "Shipyard <i>visit</i>",
                 "visit", "military", "Wonsan", None, ("kcna-2", "gone-doc"),
                 (Person("kim-tok-hun", "Kim Tok Hun", "present"),), date_precision="stated"),
        Activity(IDS["talks"], "Kim Jong Un", date(2023, 11, 20), date(2023, 11, 21), "Talks in Vladivostok",
                 "talks", "foreign", "Vladivostok", "Russia", ("kcna-3",),
                 (Person("vladimir-putin", "Vladimir Putin", "counterpart"),), date_precision="stated"),
        Activity(IDS["letter"], "Kim Jong Un", None, date(2024, 5, 13), "A letter", "letter", None, None, None,
                 ("kcna-4",), kind="letter"),
        Activity(IDS["undated"], "Kim Jong Un", None, None, FORMULA_TITLE, "meeting", None, None, None,
                 ("undated-doc",)),
    ])


@pytest.fixture
def bench(review_store):
    build_workbench_data(review_store)
    return review_store


@pytest.fixture
def client(bench, web_config):
    return TestClient(create_app(web_config, bench), base_url="http://127.0.0.1")


@pytest.fixture
def analyst(client):
    login(client, "analyst")
    return client


def shown(page: str, table_id: str) -> list[list[str]]:
    """The body cells of a table of the page, as text."""
    table = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, re.S).group(1)
    body = table.split("<tbody>")[1]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def csv_rows(answer) -> list[list[str]]:
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(answer.text)))


def api(client, path: str, **params):
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- pages and roles -----------------------------------------------------------------------------

PAGES = ["/register", f"/register/{IDS['farm']}", "/tallies", "/facts", "/documents/brief-1",
         "/documents/brief-1?fact=2", "/register?format=csv", "/tallies?format=csv", "/facts?format=csv"]
API = ["/api/register", "/api/tallies", "/api/facts"]


@pytest.mark.parametrize("path", PAGES)
def test_workbench_pages_send_anonymous_visitors_to_sign_in_and_let_analysts_in(client, path):
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=%2F")
    login(client, "analyst")
    page = client.get(path)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy  # the site's own files only, never inline


def test_workbench_menu_links_the_pages_for_every_role(client):
    login(client, "analyst")
    menu = client.get("/").text.split("<nav>")[1].split("</nav>")[0]
    assert all(f'href="{path}"' in menu for path in ("/register", "/tallies", "/facts"))


@pytest.mark.parametrize("path", API)
def test_workbench_api_answers_401_without_a_session_or_token(client, path):
    answer = client.get(path)
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert "nkpipe users token" in answer.json()["error"]


@pytest.mark.parametrize("path", API)
def test_workbench_api_reads_with_the_session_cookie_or_a_bearer_token(client, bench, path):
    token = accounts.issue_api_token(bench, "admin")  # any role's token reads as an analyst
    with_token = TestClient(client.app, base_url="http://127.0.0.1").get(path, headers={"Authorization": f"Bearer {token}"})
    assert with_token.status_code == 200 and with_token.json()["total"] > 0
    login(client, "analyst")
    assert client.get(path).json() == with_token.json()


@pytest.mark.parametrize("header", ["Bearer nkp_wrong", "Bearer ", "Basic YW5hbHlzdDphbmFseXN0LXBhc3N3b3Jk"])
def test_workbench_api_refuses_a_wrong_or_revoked_token_even_beside_a_session(client, bench, header):
    login(client, "analyst")  # a bad Authorization header is refused, not passed over for the cookie
    answer = client.get("/api/register", headers={"Authorization": header})
    assert answer.status_code == 401 and "token" in answer.json()["error"]
    token = accounts.issue_api_token(bench, "analyst")
    accounts.revoke_api_token(bench, "analyst")
    assert client.get("/api/register", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_workbench_token_opens_the_api_only_not_the_pages(client, bench):
    token = accounts.issue_api_token(bench, "analyst")
    answer = client.get("/register", headers={"Authorization": f"Bearer {token}"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


CSV_PAGES = ["/register?format=csv", "/tallies?format=csv", "/facts?format=csv", "/documents?format=csv",
             "/people?format=csv", "/register?format=csv&sector=military&per_page=2"]


@pytest.mark.parametrize("path", CSV_PAGES)
def test_workbench_csv_downloads_with_a_bearer_token_as_with_a_session(client, bench, path):
    token = accounts.issue_api_token(bench, "analyst")
    script = TestClient(client.app, base_url="http://127.0.0.1")
    with_token = script.get(path, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False)
    assert with_token.status_code == 200 and with_token.headers["content-type"].startswith("text/csv")
    assert len(csv_rows(with_token)) > 1
    login(client, "analyst")
    assert client.get(path).text == with_token.text  # exactly what the signed-in analyst downloads
    wrong = script.get(path, headers={"Authorization": "Bearer nkp_wrong"}, follow_redirects=False)
    assert wrong.status_code == 401 and "nkpipe users token" in wrong.json()["error"]
    accounts.revoke_api_token(bench, "analyst")
    assert script.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 401


# --- escaping and bound parameters -----------------------------------------------------------------


def test_workbench_document_text_and_titles_are_escaped(analyst):
    for path in (f"/register/{IDS['farm']}", "/documents/kcna-1", "/register", "/register?kind=all"):
        page = analyst.get(path).text
        assert "<script>" not in page and "<b>bold</b>" not in page and "<i>visit</i>" not in page, path
    evidence = analyst.get(f"/register/{IDS['farm']}").text
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in evidence
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in analyst.get("/documents/kcna-1").text
    assert "Kim Jong Un in kcna-1 &lt;b&gt;bold&lt;/b&gt;" in analyst.get("/documents/kcna-1").text


def test_workbench_document_links_only_web_addresses(analyst, bench):
    with bench.writing() as conn:
        conn.exec_driver_sql("UPDATE documents SET url = 'javascript:alert(1)' WHERE document_id = 'kcna-2'")
    assert 'href="javascript:' not in analyst.get("/documents/kcna-2").text
    assert 'href="https://kcna.example/kcna-1"' in analyst.get("/documents/kcna-1").text


TEXT_FILTERS = [("/api/register", "place", "kangdong"), ("/api/register", "companion", "jo yong"),
                ("/api/register", "counterpart", "putin"), ("/api/facts", "subject", "Kim Jong-un"),
                ("/api/facts", "unit", "kpw"), ("/api/facts", "place", "pyongyang")]


@pytest.mark.parametrize(("path", "name", "matching"), TEXT_FILTERS)
def test_workbench_text_filters_reach_sql_only_as_bound_parameters(analyst, bench, path, name, matching):
    assert api(analyst, path, **{name: matching})["total"] > 0  # the filter works...
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(bench.engine, "before_cursor_execute", seen)
    try:
        for value in (INJECTION, "%", "_", "x\" OR 1=1 --"):
            assert api(analyst, path, **{name: value})["total"] == 0, value  # ...and an injection finds nothing
    finally:
        sa.event.remove(bench.engine, "before_cursor_execute", seen)
    assert not any(INJECTION in statement for statement, _ in statements)
    if name != "subject":  # a subject is matched to the stored subjects first and never reaches SQL itself
        assert any(INJECTION.lower() in str(parameters).lower() for _, parameters in statements)


BAD_QUERIES = [
    ("/register", {"date_from": "not-a-date"}, "YYYY-MM-DD"), ("/register", {"date_from": "2024-02-30"}, "not a date"),
    ("/register", {"date_from": "2024-05-01", "date_to": "2024-01-01"}, "swap them"),
    ("/register", {"sector": "spaceship"}, "is not one of"), ("/register", {"type": INJECTION}, "activity type"),
    ("/register", {"kind": "rumour"}, "is not one of"), ("/register", {"page": "0"}, "whole number"),
    ("/register", {"per_page": "100000"}, "whole number"), ("/register", {"format": "xml"}, "is not one of"),
    ("/register", {"place": "x" * 201}, "at most 200"), ("/tallies", {"year": "twenty"}, "whole number"),
    ("/tallies", {"breakdown": "month"}, "is not one of"), ("/facts", {"kind": "weather"}, "is not one of"),
    ("/facts", {"year": "-1"}, "whole number"), ("/documents/brief-1", {"fact": "one"}, "whole number"),
]


@pytest.mark.parametrize(("path", "params", "message"), BAD_QUERIES)
def test_workbench_bad_filter_values_answer_a_clear_400(analyst, path, params, message):
    page = analyst.get(path, params=params)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert message in html.unescape(page.text)
    if not path.startswith("/documents") and not {"page", "per_page", "format"} & set(params):  # page-only
        answer = analyst.get("/api" + path, params=params)
        assert answer.status_code == 400 and message in answer.json()["error"]


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "1001"}, {"offset": "-1"}, {"limit": "ten"}])
def test_workbench_api_paging_values_are_checked(analyst, params):
    answer = analyst.get("/api/register", params=params)
    assert answer.status_code == 400 and "whole number" in answer.json()["error"]


# --- register ----------------------------------------------------------------------------------


def _ids(client, **params) -> set[str]:
    return {row["activity_id"] for row in api(client, "/api/register", **params)["rows"]}


@pytest.mark.parametrize(("params", "expected"), [
    ({}, {"farm", "shipyard", "talks", "undated"}),  # the rows a tally counts: not the letter
    ({"kind": "all"}, {"farm", "shipyard", "talks", "letter", "undated"}),
    ({"kind": "letter"}, {"letter"}),
    ({"date_from": "2024-01-01"}, {"farm", "shipyard"}),
    ({"date_from": "2024-03-04", "date_to": "2024-03-04"}, {"farm"}),
    ({"date_to": "2023-12-31"}, {"talks"}),
    ({"sector": "military"}, {"shipyard"}),
    ({"sector": "unknown"}, {"undated"}),
    ({"type": "talks"}, {"talks"}),
    ({"place": "WONSAN"}, {"shipyard"}),
    ({"companion": "Jo Yong"}, {"farm"}),
    ({"companion": "kim tok hun"}, {"shipyard"}),  # present at the event
    ({"companion": "Putin"}, set()),  # a counterpart is not a companion
    ({"counterpart": "russia"}, {"talks"}),
    ({"counterpart": "Vladimir"}, {"talks"}),
    ({"sector": "economic", "companion": "Jo"}, {"farm"}),
    ({"sector": "military", "companion": "Jo"}, set()),
])
def test_workbench_register_filters(analyst, params, expected):
    assert _ids(analyst, **params) == {IDS[name] for name in expected}


def test_workbench_register_page_shows_the_rows_oldest_first_and_links_their_reports(analyst):
    rows = shown(analyst.get("/register").text, "register")
    assert [r[0] for r in rows] == ["2023-11-20", "2024-03-04", "2024-05-10", ""]  # undated last
    assert rows[1][4:8] == ["economic", "Kangdong", "", "Jo Yong Won"]
    assert rows[0][6] == "Russia; Vladimir Putin" and rows[2][9] == "2"
    assert f'href="/register/{IDS["shipyard"]}"' in analyst.get("/register").text
    assert "Rows 1–4 of 4." in analyst.get("/register").text


def test_workbench_register_chart_counts_the_filtered_rows_by_month_and_sector(analyst):
    page = analyst.get("/register").text
    chart = re.search(r'<svg[^>]*id="register-chart".*?</svg>', page, re.S).group(0)
    assert 'role="img"' in chart and "<title id=\"register-chart-title\">" in chart
    titles = re.findall(r"<rect[^>]*><title>([^<]+)</title>", chart)
    assert titles == ["2023-11 foreign: 1", "2024-03 economic: 1", "2024-05 military: 1"]
    months = re.findall(r'font-size="11" fill="#333">(\d{4}-\d{2})</text>', chart)
    assert months == [f"2023-{m}" for m in ("11", "12")] + [f"2024-{m:02d}" for m in range(1, 6)]  # empty months too
    filtered = analyst.get("/register", params={"sector": "military"}).text
    assert re.findall(r"<rect[^>]*><title>([^<]+)</title>", filtered) == ["2024-05 military: 1"]
    assert "No dated rows to chart" in analyst.get("/register", params={"sector": "unknown"}).text


def test_workbench_register_csv_is_exactly_the_rows_shown(analyst):
    for params in ({"kind": "all", "date_to": "2030-01-01"}, {"kind": "all", "per_page": "2", "page": "2"},
                   {"date_from": "2024-01-01", "companion": "jo"}):
        page = analyst.get("/register", params=params).text
        rows = csv_rows(analyst.get("/register", params={**params, "format": "csv"}))
        assert rows[0] == ["date", "date_precision", "kind", "type", "sector", "place", "counterpart", "companions",
                           "title", "reports"]
        assert rows[1:] == shown(page, "register") and rows[1:], params
        assert 'href="/register?' in page and "format=csv" in page


def test_workbench_register_csv_quotes_a_formula_so_a_spreadsheet_shows_it_as_text(analyst):
    page_title = shown(analyst.get("/register").text, "register")[-1][8]
    csv_title = csv_rows(analyst.get("/register", params={"format": "csv"}))[-1][8]
    assert page_title == FORMULA_TITLE and csv_title == "'" + FORMULA_TITLE
    assert api(analyst, "/api/register")["rows"][-1]["title"] == FORMULA_TITLE  # JSON is not a spreadsheet


def test_workbench_register_pages_keep_the_filters(analyst):
    first = analyst.get("/register", params={"kind": "all", "per_page": "2"}).text
    assert "page 1 of 3" in first and 'href="/register?kind=all&amp;per_page=2&amp;page=2"' in first
    last = analyst.get("/register", params={"kind": "all", "per_page": "2", "page": "3"}).text
    assert len(shown(last, "register")) == 1 and "Rows 5–5 of 5." in last and "next" not in last
    assert "No rows on this page" in analyst.get("/register", params={"page": "9"}).text


def test_workbench_api_register_pages_with_limit_and_offset(analyst):
    everything = api(analyst, "/api/register", kind="all")
    assert everything["total"] == 5 and len(everything["rows"]) == 5
    pages = [api(analyst, "/api/register", kind="all", limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [len(p["rows"]) for p in pages] == [2, 2, 1] and {p["total"] for p in pages} == {5}
    assert [r for p in pages for r in p["rows"]] == everything["rows"]
    past = api(analyst, "/api/register", kind="all", offset=10)
    assert past["rows"] == [] and past["total"] == 5 and past["offset"] == 10
    farm = next(r for r in everything["rows"] if r["activity_id"] == IDS["farm"])
    assert farm["document_ids"] == ["kcna-1"] and farm["date"] == "2024-03-04" and farm["counterpart"] is None


def test_workbench_register_row_lists_its_reports_with_the_sentence_that_made_it_marked(analyst):
    page = analyst.get(f"/register/{IDS['farm']}").text
    marked = re.search(r'<mark class="sentence" id="marked">(.*?)</mark>', page, re.S).group(1)
    assert marked == INSPECTION_SENTENCE
    assert "He is the one acting" in page and 'href="/documents/kcna-1"' in page
    shipyard = analyst.get(f"/register/{IDS['shipyard']}").text
    assert re.findall(r"<mark[^>]*>(.*?)</mark>", shipyard) == [KCNA_TEXTS["kcna-2"].split(" Kim Tok")[0]]
    assert "No longer stored: gone-doc" in shipyard


def test_workbench_register_row_of_an_unknown_id_is_404(analyst):
    assert analyst.get("/register/0123456789abcdef0123").status_code == 404
    assert analyst.get("/register/" + "x" * 300).status_code == 404


def test_workbench_evidence_is_the_sentence_the_register_rebuild_reads(bench):
    from pipeline.activities import rebuild_register
    from pipeline.workbench import activity_evidence

    rebuild_register(bench)  # the register the rules make of the stored reports
    found = activity_evidence(bench, IDS["farm"])
    text = found.reports[0].text
    assert found.reports[0].evidence.basis == "sentence" and text.sentence_start + text.sentence_end == INSPECTION_SENTENCE
    assert text.before + text.sentence_start + text.span + text.sentence_end + text.after == KCNA_TEXTS["kcna-1"]


# --- tallies -----------------------------------------------------------------------------------


def test_workbench_tallies_show_register_counts_beside_the_reported_tally(analyst):
    page = analyst.get("/tallies").text
    rows = shown(page, "tallies")
    assert ["2024", "total", "all", "2", "130", "", "Report brief-1",
            "Kim Jong Un made 130 public appearances in 2024, the institute counted."] in rows
    assert ["2024", "sector", "economic", "1", "", "", "", ""] in rows
    assert ["2024", "type", "visit", "1", "", "", "", ""] in rows and ["2023", "total", "all", "1", "", "", "", ""] in rows
    assert not any(r[:3] == ["2024", "total", "all"] and r[4] == "" for r in rows)  # the reported row takes its place
    assert 'href="/documents/brief-1?fact=2#marked">130</a>' in page  # fact 1 is the review fixture's
    assert "covers 0 of 12 months of 2024 (3 of 366 days)" in page  # why no difference is given


def test_workbench_tallies_chart_puts_reported_totals_beside_the_register(analyst):
    chart = re.search(r'<svg[^>]*id="tallies-chart".*?</svg>', analyst.get("/tallies").text, re.S).group(0)
    titles = re.findall(r"<rect[^>]*><title>([^<]+)</title>", chart)
    assert titles == ["2023 register foreign: 1", "2024 register military: 1", "2024 register economic: 1",
                      "2024 reported by Report brief-1: 130"]


def test_workbench_tallies_chart_keeps_a_sector_that_a_source_reported_too():
    from nkpipe.web.workbench import year_chart
    from pipeline.workbench import TallyLine

    lines = [TallyLine(2024, "total", "all", 3, "130", 130.0, 130.0, source="Brief"),
             TallyLine(2024, "sector", "economic", 2, "28", 28.0, 28.0, source="Brief"),
             TallyLine(2024, "sector", "military", 1)]
    titles = [r.title for r in year_chart(lines).rects]
    assert titles == ["2024 register military: 1", "2024 register economic: 2", "2024 reported by Brief: 130"]


def test_workbench_tallies_filters_csv_and_api(analyst):
    params = {"year": "2024", "breakdown": "sector"}
    page = analyst.get("/tallies", params=params).text
    rows = shown(page, "tallies")
    assert {r[2] for r in rows} == {"economic", "military"} and {r[0] for r in rows} == {"2024"}
    assert csv_rows(analyst.get("/tallies", params={**params, "format": "csv"}))[1:] == rows
    everything = api(analyst, "/api/tallies")
    sliced = api(analyst, "/api/tallies", limit=2, offset=1)
    assert sliced["total"] == everything["total"] == len(shown(analyst.get("/tallies").text, "tallies"))
    assert sliced["rows"] == everything["rows"][1:3]
    reported = next(r for r in everything["rows"] if r["reported"])
    assert (reported["reported_low"], reported["fact_id"], reported["difference"]) == (130.0, 2, None)
    assert "No tallies match" in analyst.get("/tallies", params={"year": "1999"}).text


# --- facts and documents -----------------------------------------------------------------------


def _kinds(client, **params) -> list[str]:
    return [row["kind"] for row in api(client, "/api/facts", **params)["rows"]]


@pytest.mark.parametrize(("params", "expected"), [
    ({}, ["price", "activity_count", "exchange_rate", "activity_count"]),  # by period; the undated fact last
    ({"kind": "exchange_rate"}, ["exchange_rate"]),
    ({"subject": "Kim Jong-un"}, ["activity_count", "activity_count"]),  # any romanisation
    ({"subject": "jong"}, ["activity_count", "activity_count"]),
    ({"unit": "kpw"}, ["price", "exchange_rate"]),
    ({"place": "sinui"}, ["price"]),
    ({"year": "2023"}, ["price"]),
    ({"date_from": "2024-06-15", "date_to": "2024-07-01"}, ["activity_count", "exchange_rate"]),  # overlapping
    ({"year": "2024", "date_from": "2024-07-01"}, ["activity_count"]),
    ({"kind": "price", "year": "2024"}, []),
])
def test_workbench_facts_filters(analyst, params, expected):
    assert _kinds(analyst, **params) == expected


def test_workbench_facts_csv_is_exactly_the_rows_shown_and_values_link_their_sentence(analyst):
    for params in ({}, {"unit": "KPW"}, {"per_page": "1", "page": "2"}):
        page = analyst.get("/facts", params=params).text
        assert csv_rows(analyst.get("/facts", params={**params, "format": "csv"}))[1:] == shown(page, "facts")
    page = analyst.get("/facts", params={"kind": "exchange_rate"}).text
    assert shown(page, "facts") == [["exchange_rate", "", "8,000", "KPW", "June 2024", "2024-06-01", "2024-06-30",
                                     "Pyongyang", "", "Report brief-1",
                                     "The market rate reached 8,000 won per dollar in Pyongyang in June 2024."]]
    assert 'href="/documents/brief-1?fact=3#marked">8,000</a>' in page
    row = api(analyst, "/api/facts", kind="exchange_rate")["rows"][0]
    assert (row["number"], row["fact_id"], row["document_id"], row["subject"]) == (8000.0, 3, "brief-1", None)


def test_workbench_api_facts_pages(analyst):
    everything = api(analyst, "/api/facts")
    assert everything["total"] == 4
    pages = [api(analyst, "/api/facts", limit=3, offset=offset)["rows"] for offset in (0, 3)]
    assert [len(p) for p in pages] == [3, 1] and pages[0] + pages[1] == everything["rows"]


def test_workbench_document_page_marks_the_fact_sentence_and_its_number(analyst):
    page = analyst.get("/documents/brief-1", params={"fact": "3"}).text
    marked = re.search(r'<mark class="sentence" id="marked">(.*?)</mark>', page, re.S).group(1)
    assert marked == 'The market rate reached <strong class="span">8,000</strong> won per dollar in Pyongyang in June 2024.'
    assert "Kim Jong Un made 130 public appearances" in page.split('id="document-text"')[1]  # the whole text
    assert "<mark" not in analyst.get("/documents/brief-1").text
    assert analyst.get("/documents/brief-1", params={"fact": "999"}).status_code == 404
    assert analyst.get("/documents/kcna-1", params={"fact": "3"}).status_code == 404  # not this document's fact
    assert analyst.get("/documents/no-such-doc").status_code == 404


# --- the read queries on SQLite and PostgreSQL -----------------------------------------------------


def test_workbench_reads_filter_alike_on_sqlite_and_postgresql(any_store):
    from pipeline.store import workbench_rows
    from pipeline.store.workbench_rows import FactFilter, RegisterFilter
    from tests.conftest import review_document

    source = ledger.add_source(any_store, "https://x.org/feed", "article", "Feed", None)
    review_document(any_store, source.id)
    build_workbench_data(any_store)

    def register(**wanted) -> list[str]:
        return [r.activity_id for r in workbench_rows.register_page(any_store, RegisterFilter(**wanted), 0, 10).rows]

    assert register() == [IDS["talks"], IDS["farm"], IDS["shipyard"], IDS["undated"]]
    assert register(date_from=date(2024, 1, 1), place="ANGDON") == [IDS["farm"]]
    assert register(companion="tok", sector="military") == [IDS["shipyard"]]
    assert register(kind="all", sector="unknown") == [IDS["letter"], IDS["undated"]]
    assert register(counterpart=INJECTION) == [] and register(place="%") == []
    assert workbench_rows.register_page(any_store, RegisterFilter(kind="all"), 1, 2).total == 5
    assert workbench_rows.register_months(any_store, RegisterFilter()) == {
        "2023-11": {"foreign": 1}, "2024-03": {"economic": 1}, "2024-05": {"military": 1}}
    facts = workbench_rows.facts_page(any_store, FactFilter(unit="kpw", period_from=date(2024, 1, 1)), 0, 10)
    assert [f.kind for f in facts.rows] == ["exchange_rate"] and facts.total == 1
    assert workbench_rows.facts_page(any_store, FactFilter(place=INJECTION), 0, 10).total == 0
    assert workbench_rows.facts_page(any_store, FactFilter(subjects=()), 0, 10).total == 0
    assert [(t.by, t.key, t.count) for t in workbench_rows.register_tallies(any_store, 2023)] == [
        ("total", "all", 1), ("sector", "foreign", 1), ("type", "talks", 1)]
    assert workbench_rows.stored_document(any_store, "kcna-3").source_name == "KCNA archive"


# --- pieces ------------------------------------------------------------------------------------


def test_workbench_subjects_match_by_person_or_by_part():
    from pipeline.workbench import matching_subjects

    subjects = ["Kim Jong Un", "Kim Yo Jong", "Choe Son Hui"]
    assert matching_subjects(subjects, "Kim Jong-un") == ["Kim Jong Un"]
    assert matching_subjects(subjects, "kim") == ["Kim Jong Un", "Kim Yo Jong"]
    assert matching_subjects(subjects, INJECTION) == []


def test_workbench_chart_bars_are_as_high_as_their_counts():
    from nkpipe.web.charts import PLOT_HEIGHT, Bar, Group, Segment, bar_chart

    chart = bar_chart("c", "t", [Group("a", (Bar((Segment("x", 4, "#111"), Segment("y", 2, "#222"))),)),
                                 Group("b", (Bar((Segment("x", 3, "#111"),)), Bar((Segment("z", 0, "#333"),))))],
                      [("x", "#111"), ("y", "#222")])
    heights = {r.title: r.height for r in chart.rects}
    assert heights == {"a x: 4": round(PLOT_HEIGHT * 4 / 6, 1), "a y: 2": round(PLOT_HEIGHT * 2 / 6, 1),
                       "b x: 3": PLOT_HEIGHT / 2}
    a_x, a_y = (next(r for r in chart.rects if r.title == t) for t in ("a x: 4", "a y: 2"))
    assert a_y.y + a_y.height == pytest.approx(a_x.y, abs=0.11)  # stacked: y sits on x
    assert [k.label for k in chart.keys] == ["x", "y"]


# --- in a real browser ---------------------------------------------------------------------------


def _browser_or_skip() -> None:
    """Skip without Debian's chromium, unless NKPIPE_REQUIRE_BROWSER=1 (CI), where its absence fails."""
    import os

    from tests.browser import chromium_missing_reason

    missing = chromium_missing_reason()
    if missing and os.environ.get("NKPIPE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NKPIPE_REQUIRE_BROWSER=1 but {missing}")
    if missing:
        pytest.skip(missing)


@pytest.mark.browser
def test_browser_analyst_filters_the_register_and_downloads_the_csv(bench, web_config):
    _browser_or_skip()
    from tests.browser import chromium, serving, sign_in

    with serving(create_app(web_config, bench)) as base_url, chromium() as browser:
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        sign_in(page, base_url, "analyst", "analyst-password", "/register")
        assert page.url.endswith("/register") and page.locator("#register tbody tr").count() == 4
        page.fill("#register-filters input[name=date_from]", "2024-01-01")
        page.select_option("#register-filters select[name=sector]", "economic")
        page.fill("#register-filters input[name=companion]", "jo yong")
        page.click("#register-filters button")
        page.wait_for_load_state()
        assert "sector=economic" in page.url and "companion=jo+yong" in page.url
        rows = [[cell.inner_text() for cell in row.locator("td").all()]
                for row in page.locator("#register tbody tr").all()]
        assert [r[:6] for r in rows] == [["2024-03-04", "stated", "activity", "inspection", "economic", "Kangdong"]]
        assert page.locator("#register-chart rect title").all_text_contents() == ["2024-03 economic: 1"]
        with page.expect_download() as download:
            page.click("#csv-link")
        assert download.value.suggested_filename == "register.csv"
        downloaded = list(csv.reader(open(download.value.path(), encoding="utf-8")))
        assert downloaded[0][0] == "date" and downloaded[1:] == rows
        page.locator("#register tbody tr").first.get_by_role("link", name="Kim Jong Un Inspects Farm").click()
        assert page.locator("mark.sentence").inner_text() == INSPECTION_SENTENCE
        context.close()


def test_workbench_tallies_explain_the_reported_tally_under_every_counting_rule(analyst):
    from pipeline.counting_rules import counting_rule_sets

    names = [r.name for r in counting_rule_sets()]
    page = analyst.get("/tallies", params={"year": "2024"}).text
    assert 'id="tallies-explained"' in page and "the recounts count only those days" in page
    header = re.search(r'<table id="tallies-explained"[^>]*>\s*<thead><tr>(.*?)</tr>', page, re.S).group(1)
    assert [html.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", header)] == [
        "breakdown", "reported", *names, "closest", "residual", "source"]
    [row] = shown(page, "tallies-explained")
    assert row[:2] == ["all", "130"] and row[-3:-1] == ["", ""]  # the year is not covered: nothing called closest
    recounts = dict(zip(names, map(int, row[2:2 + len(names)])))
    assert recounts["register"] == 2  # the farm and the shipyard: the letter and the undated row are not counted
    assert recounts["everything incl. speeches and letters"] == 3  # ... the letter is, under this set
    answer = analyst.get("/api/tallies/explained", params={"year": "2024"}).json()
    assert answer["total"] == 1 and [r["name"] for r in answer["rule_sets"]] == names
    assert answer["rows"][0]["register"] == 2 and answer["rows"][0]["fact_id"] is not None
    assert analyst.get("/api/tallies/explained").status_code == 400
    assert 'id="tallies-explained"' not in analyst.get("/tallies").text  # every year: no single year to explain


def test_workbench_open_tables_gives_the_main_tables_as_dataframes(tmp_path):
    from nkpipe import open_tables
    from pipeline.errors import NkpipeError

    db = f"sqlite:///{tmp_path / 'nb.db'}"
    build_workbench_data(open_store(db))
    tables = open_tables(db)
    assert {"documents", "facts", "activities", "series_points"} <= set(tables) and "users" not in tables
    assert sorted(tables["facts"]["kind"]) == ["activity_count", "exchange_rate", "price"]
    assert list(open_tables(db, ["activities"])) == ["activities"] and len(tables["activities"]) == 5
    with pytest.raises(NkpipeError, match="'users'"):
        open_tables(db, ["users"])
