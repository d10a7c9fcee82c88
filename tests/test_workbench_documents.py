"""The workbench's documents and people: full-text search (SQLite FTS5 and PostgreSQL), the index kept
in step with the documents, a document page with its entities, facts and sector labels marked, and the
people pages (appearances with the leader by month and year, rank among companions)."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from nkpipe.web.app import create_app
from nkpipe.web.documents import DOCUMENT_COLUMNS
from nkpipe.web.people import ACTIVITY_COLUMNS, PEOPLE_COLUMNS
from pipeline import accounts
from pipeline.records import Activity, AnalyzedDocument, CleanDocument, Entity, Person
from pipeline.store import ledger, open_store, persist
from pipeline.store.db import (
    PG_SEARCH_INDEX,
    SEARCH_KEYS_TABLE,
    SEARCH_TABLE,
    Store,
    activities,
    create_engine_for,
    documents,
    metadata,
    sector_labels,
    story_clusters,
)
from pipeline.store.document_search import (
    DocumentFilter,
    Fragment,
    SearchQuery,
    Term,
    fragments,
    fts5_query,
    parse_search,
    search_documents,
)
from pipeline.store.migrate import alembic_config
from pipeline.store.people_rows import PeopleFilter, people_page, person_months, person_years
from pipeline.store.workbench_rows import EntityRow, FactRow
from pipeline.workbench import annotated_text
from tests.conftest import review_document
from tests.test_web import login
from tests.test_workbench import INJECTION, KCNA_TEXTS, _store_document, api, build_workbench_data, csv_rows, shown

# Searches whose characters are FTS5 or tsquery syntax, or SQL: each must answer, none may fail.
SYNTAX_QUERIES = ['"', '""', "*", "farm*", ":", "title:farm", "text : farm", "OR", "farm OR", "OR farm", "AND",
                  "NOT", "NEAR(farm shipyard)", "(farm", "farm)", "{title text}: farm", "^farm", "-", "--", "- -farm",
                  '"unclosed phrase', "'", "\\", "%", "_", "&", "|", "!", "<->", "farm & !shipyard", "a:* | b",
                  INJECTION, "x\" OR 1=1 --", "'; DROP TABLE documents; --", "ünïcödé", "…"]


def _add_search_documents(store) -> None:
    """Beside the workbench data: a word in one title and in another's text, and a stored copy of kcna-2."""
    source = ledger.add_source(store, "https://news.example/feed", "article", "News", None)
    _store_document(store, source.id, "tractor-title", "Workers celebrated the first output of the year.",
                    date(2024, 2, 1), "text", title="Tractor factory opens")
    _store_document(store, source.id, "tractor-text", "A tractor left the assembly line. Many workers watched it.",
                    date(2024, 2, 2), "text", title="Factory news")
    _store_document(store, source.id, "kcna-2-copy", KCNA_TEXTS["kcna-2"], date(2024, 5, 11), "text",
                    title="A copy of the shipyard story")
    with store.writing() as conn:
        conn.execute(story_clusters.insert(), [
            dict(document_id="kcna-2", cluster_id="kcna-2", representative=True, similarity=1.0),
            dict(document_id="kcna-2-copy", cluster_id="kcna-2", representative=False, similarity=0.98)])


def _found(store, search: str | None, **period) -> list[str]:
    return [h.document_id for h in search_documents(store, DocumentFilter(search, **period), 0, 50).hits]


def _delete_document(store, document_id: str) -> None:
    """Delete a stored document the way a hand-made DELETE would: its rows in every table first."""
    with store.writing() as conn:
        for table in metadata.sorted_tables[::-1]:
            if table is not documents and "document_id" in table.c:
                conn.execute(table.delete().where(table.c.document_id == document_id))
        conn.execute(documents.delete().where(documents.c.document_id == document_id))


# --- the search syntax -----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "clauses", "excluded", "fts5"), [
    ("greenhouse farm", [["greenhouse"], ["farm"]], [], '("greenhouse") AND ("farm")'),
    ('"Wonsan shipyard" visit', [["Wonsan shipyard"], ["visit"]], [], '("Wonsan shipyard") AND ("visit")'),
    ("putin or Shoigu OR Lavrov", [["putin", "Shoigu", "Lavrov"]], [], '("putin" OR "Shoigu" OR "Lavrov")'),
    ('missile -launch -"test fire"', [["missile"]], ["launch", "test fire"], '("missile") NOT "launch" NOT "test fire"'),
    ('"unclosed phrase', [["unclosed phrase"]], [], '("unclosed phrase")'),
    ('say "x"" OR', [["say"], ["x"], [" OR"]], [], '("say") AND ("x") AND (" OR")'),  # a quote opens a phrase
    ("OR farm OR", [["farm"]], [], '("farm")'),  # an OR with nothing to join is dropped
    ("* : - ( ) ^ | &", [], [], ""),  # no letter or digit: nothing to find
    ("-only -excluded", [], ["only", "excluded"], ' NOT "only" NOT "excluded"'),
])
def test_document_search_syntax_is_words_phrases_or_and_exclusions(text, clauses, excluded, fts5):
    parsed = parse_search(text)
    assert [[t.words for t in clause] for clause in parsed.clauses] == clauses
    assert [t.words for t in parsed.excluded] == excluded
    assert parsed.finds_anything == bool(parsed.clauses)
    assert fts5_query(parsed) == fts5


def test_document_search_quotes_every_term_so_fts5_reads_none_as_syntax():
    query = SearchQuery(((Term('a"b'), Term("title:x")), (Term("NEAR(y z)"),)), (Term("*"),))
    assert fts5_query(query) == '("a""b" OR "title:x") AND ("NEAR(y z)") NOT "*"'
    assert parse_search('x"y').clauses == ((Term('x"y'),),)


def test_document_search_fragments_cut_a_marked_text():
    assert fragments("a \ue000b\ue001 c\ue000d\ue001") == (Fragment("a ", False), Fragment("b", True),
                                                          Fragment(" c", False), Fragment("d", True))
    assert fragments("") == () and fragments("plain") == (Fragment("plain", False),)


# --- search on SQLite and PostgreSQL ---------------------------------------------------------------


@pytest.fixture
def searched(any_store):
    source = ledger.add_source(any_store, "https://x.org/feed", "article", "Feed", None)
    review_document(any_store, source.id)
    build_workbench_data(any_store)
    _add_search_documents(any_store)
    return any_store


@pytest.mark.parametrize(("search", "expected"), [
    ("shipyard", {"kcna-2", "kcna-4"}),
    ('"Wonsan shipyard"', {"kcna-2"}),  # the copy of kcna-2 is left out: its representative is found
    ('"shipyard Wonsan"', set()),
    ("Wonsan shipyard", {"kcna-2"}),
    ("putin OR greenhouse", {"kcna-1", "kcna-3"}),
    ("shipyard -wonsan", {"kcna-4"}),
    ('shipyard -"Wonsan shipyard"', {"kcna-4"}),
    ("inspections", {"kcna-1"}),  # 'inspected': the same stem
    ("PUTIN", {"kcna-3"}),
    ("factory", {"tractor-title", "tractor-text"}),
    ("-shipyard", set()),  # nothing to look for
    ("kcna", {"kcna-1", "kcna-2", "kcna-3", "kcna-4"}),
])
def test_document_search_finds_alike_on_sqlite_and_postgresql(searched, search, expected):
    assert set(_found(searched, search)) == expected


def test_document_search_ranks_a_title_match_first_and_filters_by_publication(searched):
    assert _found(searched, "tractor") == ["tractor-title", "tractor-text"]
    page = search_documents(searched, DocumentFilter("tractor"), 0, 10)
    assert page.hits[0].score > page.hits[1].score and page.total == 2
    assert _found(searched, "tractor", published_to=date(2024, 2, 1)) == ["tractor-title"]
    assert _found(searched, "tractor", published_from=date(2024, 2, 2)) == ["tractor-text"]
    assert _found(searched, None, published_from=date(2024, 5, 1)) == ["brief-1", "kcna-4", "kcna-2"]  # newest first


def test_document_search_marks_the_words_it_found_in_the_title_and_a_snippet(searched):
    hit = search_documents(searched, DocumentFilter('"Wonsan shipyard"'), 0, 10).hits[0]
    assert " ".join(f.text for f in hit.snippet if f.matched).split() == ["Wonsan", "shipyard"]
    assert "".join(f.text for f in hit.snippet).strip("… ") in KCNA_TEXTS["kcna-2"]
    titled = search_documents(searched, DocumentFilter("tractor"), 0, 10).hits[0]
    assert titled.title_fragments == (Fragment("Tractor", True), Fragment(" factory opens", False))
    assert not any(f.matched for f in titled.snippet)  # the text does not have the word


def test_document_search_pages_and_never_fails_on_syntax(searched):
    everything = search_documents(searched, DocumentFilter("kim"), 0, 50)
    assert everything.total == 6 == len(everything.hits)
    pages = [search_documents(searched, DocumentFilter("kim"), offset, 2) for offset in (0, 2, 4)]
    assert [h.document_id for p in pages for h in p.hits] == [h.document_id for h in everything.hits]
    assert {p.total for p in pages} == {6}
    for search in SYNTAX_QUERIES:
        found = search_documents(searched, DocumentFilter(search), 0, 10)
        assert found.total == len(found.hits), search
    assert _found(searched, "farm*") == _found(searched, "farm")


def test_document_search_index_follows_every_write_of_a_document(any_store):
    source = ledger.add_source(any_store, "https://x.org/feed", "article", "Feed", None)
    _store_document(any_store, source.id, "sync-1", "The tractor plant met its plan.", date(2024, 1, 2), "text",
                    title="Plant report")
    _store_document(any_store, source.id, "sync-2", "Rice planting began.", date(2024, 1, 3), "text")
    assert _found(any_store, "tractor") == ["sync-1"]
    # re-ingested with a new text (the earlier one is kept as a revision, not searched)
    _store_document(any_store, source.id, "sync-1", "The combine works met its plan.", date(2024, 1, 2), "text",
                    title="Plant report")
    assert _found(any_store, "tractor") == [] and _found(any_store, "combine") == ["sync-1"]
    _store_document(any_store, source.id, "sync-1", "The combine works met its plan.", date(2024, 1, 2), "text",
                    title="Harvester news")  # a new title alone
    assert _found(any_store, "harvester") == ["sync-1"] and _found(any_store, '"plant report"') == []
    _delete_document(any_store, "sync-1")
    assert _found(any_store, "combine") == [] and _found(any_store, "rice") == ["sync-2"]
    if any_store.engine.dialect.name == "sqlite":  # one index row per document, none left behind
        with any_store.reading() as conn:
            for table in (SEARCH_TABLE, SEARCH_KEYS_TABLE):
                assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 1, table


def test_document_search_sqlite_rewrite_with_the_same_text_leaves_the_index_alone(store):
    source = ledger.add_source(store, "https://x.org/feed", "article", "Feed", None)
    for _ in range(2):
        _store_document(store, source.id, "same", "The tractor plant met its plan.", date(2024, 1, 2), "text")
    with store.reading() as conn:
        assert conn.exec_driver_sql(f"SELECT search_id, document_id FROM {SEARCH_KEYS_TABLE}").all() == [(1, "same")]


def _insert_document_at_old_revision(engine, source_id: int, doc_id: str, text: str) -> None:
    """A document row as a store at an older revision holds it: a plain insert into the columns that revision
    has (today's pipeline code reads and writes today's schema, e.g. corrections' double-review columns)."""
    with engine.begin() as conn:
        table = sa.Table("documents", sa.MetaData(), autoload_with=conn)
        now = sa.func.now() if conn.dialect.name == "postgresql" else sa.func.current_timestamp()
        conn.execute(table.insert().values(
            document_id=doc_id, source_id=source_id, doc_key=doc_id, url=f"https://x.org/{doc_id}", title=doc_id,
            published=date(2024, 1, 2), published_inferred=False, format="text", text=text,
            text_hash=hashlib.sha256(text.encode()).hexdigest(), word_count=len(text.split()),
            char_count=len(text), sentence_count=1, pipeline_version="v1", created_at=now, updated_at=now))


def test_document_search_migration_indexes_the_documents_already_stored(any_db_url):
    engine = create_engine_for(any_db_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0009")
    older = Store(engine)
    source = ledger.add_source(older, "https://x.org/feed", "article", "Feed", None)
    _insert_document_at_old_revision(engine, source.id, "old-1", "A greenhouse farm was stored before the search.")
    store = open_store(any_db_url)
    assert _found(store, "greenhouse") == ["old-1"]
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0009")
        tables = set(sa.inspect(conn).get_table_names())
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("documents")}
        assert SEARCH_TABLE not in tables and SEARCH_KEYS_TABLE not in tables and PG_SEARCH_INDEX not in indexes
        command.upgrade(alembic_config(conn), "head")
    assert _found(store, "greenhouse") == ["old-1"]
    store.engine.dispose()
    engine.dispose()


def test_document_search_postgresql_uses_the_gin_index(pg_url):
    store = open_store(pg_url)
    source = ledger.add_source(store, "https://x.org/feed", "article", "Feed", None)
    _store_document(store, source.id, "doc-1", "The greenhouse farm.", date(2024, 1, 2), "text")
    searches: list[tuple[str, dict]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "@@" in statement and "count(" in statement:
            searches.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    assert _found(store, "farm") == ["doc-1"]
    sa.event.remove(store.engine, "before_cursor_execute", seen)
    statement, parameters = searches[0]
    with store.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a table this small is read whole otherwise
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert PG_SEARCH_INDEX in plan, plan
    store.engine.dispose()


# --- the documents page and /api/documents ---------------------------------------------------------


@pytest.fixture
def bench(review_store):
    build_workbench_data(review_store)
    _add_search_documents(review_store)
    return review_store


@pytest.fixture
def client(bench, web_config):
    return TestClient(create_app(web_config, bench), base_url="http://127.0.0.1")


@pytest.fixture
def analyst(client):
    login(client, "analyst")
    return client


PAGES = ["/documents", "/documents?q=shipyard", "/documents?q=shipyard&format=csv", "/documents/kcna-1",
         "/people", "/people?year=2024&name=jo", "/people?format=csv", "/people/jo-yong-won",
         "/people/jo-yong-won?format=csv"]
API = ["/api/documents", "/api/documents?q=shipyard", "/api/people", "/api/people/jo-yong-won"]


@pytest.mark.parametrize("path", PAGES)
def test_documents_and_people_pages_send_visitors_to_sign_in_and_let_analysts_in(client, path):
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=%2F")
    login(client, "analyst")
    page = client.get(path)
    policy = page.headers["content-security-policy"]
    assert page.status_code == 200 and "script-src 'self'" in policy and "unsafe" not in policy


@pytest.mark.parametrize("path", API)
def test_documents_and_people_api_reads_with_a_session_or_a_token_only(client, bench, path):
    refused = client.get(path)
    assert refused.status_code == 401 and "nkpipe users token" in refused.json()["error"]
    token = accounts.issue_api_token(bench, "reviewer")
    with_token = TestClient(client.app, base_url="http://127.0.0.1").get(path, headers={"Authorization": f"Bearer {token}"})
    assert with_token.status_code == 200 and with_token.json()["total"] > 0
    login(client, "analyst")
    assert client.get(path).json() == with_token.json()
    assert client.get(path, headers={"Authorization": "Bearer nkp_wrong"}).status_code == 401


def test_documents_and_people_are_in_the_menu_and_the_alias_page_is_apart(client):
    login(client, "analyst")
    menu = client.get("/").text.split("<nav>")[1].split("</nav>")[0]
    assert 'href="/documents"' in menu and 'href="/people"' in menu and "/review/people" not in menu
    login(client, "reviewer")
    menu = client.get("/").text.split("<nav>")[1].split("</nav>")[0]
    assert '<a href="/review/people">Aliases</a>' in menu and '<a href="/people">People</a>' in menu
    aliases = client.get("/review/people").text
    assert 'href="/people/kim-jong-un"' in aliases  # an alias's person opens the person's page
    assert 'href="/review/people"' in client.get("/people/jo-yong-won").text


def test_documents_search_shows_ranked_hits_with_the_found_words_marked_and_escaped(analyst):
    page = analyst.get("/documents", params={"q": "pwned"}).text
    assert "<script>" not in page
    assert "&lt;script&gt;window.<mark class=\"hit\">pwned</mark> = 1&lt;/script&gt;" in page
    bold = analyst.get("/documents", params={"q": "bold"}).text
    assert "Kim Jong Un in kcna-1 &lt;b&gt;<mark class=\"hit\">bold</mark>&lt;/b&gt;" in bold and "<b>bold" not in bold
    rows = shown(analyst.get("/documents", params={"q": "tractor"}).text, "documents")
    assert [r[0] for r in rows] == ["Tractor factory opens", "Factory news"]
    assert rows[1][4] == "A tractor left the assembly line. Many workers watched it." and rows[1][1] == "2024-02-02"
    echoed = analyst.get("/documents", params={"q": '"><script>alert(1)</script>'}).text
    assert "<script>alert" not in echoed and 'value="&#34;&gt;&lt;script&gt;' in echoed
    assert 'href="/documents/tractor-title"' in analyst.get("/documents", params={"q": "tractor"}).text


def test_documents_search_reaches_sql_only_as_bound_parameters(analyst, bench):
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(bench.engine, "before_cursor_execute", seen)
    try:
        for search in SYNTAX_QUERIES:
            assert analyst.get("/documents", params={"q": search}).status_code == 200, search
            assert analyst.get("/api/documents", params={"q": search}).status_code == 200, search
    finally:
        sa.event.remove(bench.engine, "before_cursor_execute", seen)
    assert not any("'1'='1" in statement or "DROP TABLE" in statement for statement, _ in statements)
    values = [str(v) for _, parameters in statements
              for v in (parameters.values() if isinstance(parameters, dict) else parameters)]
    assert any("'1'='1" in v for v in values)  # inside the FTS5 string, as a bound parameter
    assert api(analyst, "/api/documents", q=INJECTION)["total"] == 0


def test_documents_search_with_nothing_to_look_for_says_so(analyst):
    page = analyst.get("/documents", params={"q": "-shipyard"}).text
    assert 'id="nothing-to-find"' in page and "No rows match" in page
    assert api(analyst, "/api/documents", q="-shipyard")["total"] == 0
    assert 'id="nothing-to-find"' not in analyst.get("/documents", params={"q": "shipyard"}).text


@pytest.mark.parametrize(("params", "message"), [
    ({"q": "x" * 201}, "at most 200"), ({"q": "farm\x00"}, "NUL"), ({"date_from": "2024-13-01"}, "not a date"),
    ({"date_from": "2024-05-01", "date_to": "2024-01-01"}, "swap them"), ({"limit": "0"}, "whole number"),
])
def test_documents_bad_parameters_answer_a_clear_400(analyst, params, message):
    answer = analyst.get("/api/documents", params=params)
    assert answer.status_code == 400 and message in answer.json()["error"]
    if "limit" not in params:
        page = analyst.get("/documents", params=params)
        assert page.status_code == 400 and message in html.unescape(page.text)


def test_documents_csv_is_exactly_the_rows_shown(analyst):
    for params in ({"q": "kim"}, {"q": "kim", "per_page": "2", "page": "2"}, {}, {"date_to": "2024-02-28"}):
        page = analyst.get("/documents", params=params).text
        rows = csv_rows(analyst.get("/documents", params={**params, "format": "csv"}))
        assert rows[0] == list(DOCUMENT_COLUMNS)
        assert rows[1:] == shown(page, "documents") and rows[1:], params


def test_documents_pages_keep_the_search_and_the_api_pages_alike(analyst):
    first = analyst.get("/documents", params={"q": "kim", "per_page": "2"}).text
    assert "page 1 of 3" in first and 'href="/documents?q=kim&amp;per_page=2&amp;page=2"' in first
    everything = api(analyst, "/api/documents", q="kim")
    pages = [api(analyst, "/api/documents", q="kim", limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [r for p in pages for r in p["rows"]] == everything["rows"] and everything["total"] == 6
    hit = api(analyst, "/api/documents", q="tractor")["rows"][0]
    assert (hit["document_id"], hit["title"], hit["url"]) == ("tractor-title", "Tractor factory opens",
                                                             "https://kcna.example/tractor-title")
    assert hit["score"] > 0 and hit["snippet_marked"] == [{"text": "Workers celebrated the first output of the year.",
                                                           "matched": False}]
    newest = api(analyst, "/api/documents", limit=3)
    assert newest["total"] == 8 and newest["rows"][0]["score"] is None and newest["rows"][0]["snippet"] is None


# --- the document page -----------------------------------------------------------------------------


def test_document_page_marks_entities_by_label_and_links_people(analyst):
    page = analyst.get("/documents/kcna-1").text
    text = page.split('id="document-text">')[1].split("</div>")[0]
    assert ('<a class="ent" data-label="PERSON" href="/people/jo-yong-won" title="PERSON: Jo Yong Won">Jo Yong Won</a>'
            in text)
    assert '<a class="ent" data-label="PERSON" href="/people/kim-jong-un"' in text
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in text and "<script>" not in page
    assert html.unescape(re.sub(r"<[^>]+>", "", text)) == KCNA_TEXTS["kcna-1"]  # the whole text, nothing added
    assert '<span class="ent" data-label="PERSON">PERSON</span> 2' in page  # the legend counts each label


def test_document_page_links_each_fact_and_shows_the_sector_labels(analyst):
    page = analyst.get("/documents/brief-1").text
    text = page.split('id="document-text">')[1].split("</div>")[0]
    assert re.findall(r'<a class="fact" href="([^"]+)"[^>]*>([^<]+)</a>', text) == [
        ("/documents/brief-1?fact=2#marked", "130"), ("/documents/brief-1?fact=3#marked", "8,000"),
        ("/documents/brief-1?fact=4#marked", "5,000")]
    assert len(shown(page, "document-facts")) == 3
    assert 'id="sector-labels"' not in page  # brief-1 has none


def test_document_page_shows_its_sector_labels_with_their_probabilities(analyst, bench):
    first = "The factory raised its output of tractors for the farms of the province again this month. " * 3
    second = "Farmers planted rice on every field of the cooperative farm ahead of the season. " * 3
    text = f"Workers met.\n\n{first.strip()}\n\n{second.strip()} <i>Again</i>."  # the short block is no paragraph
    labels = [dict(unit="document", unit_index=0, sector="economic", probability=0.7, model_version="sector-test",
                   source="model", probabilities={"economic": 0.7, "military": 0.1, "social": 0.2}),
              dict(unit="paragraph", unit_index=1, sector="social", probability=0.55, model_version="sector-test",
                   source="model", probabilities={"economic": 0.45, "social": 0.55})]
    document = CleanDocument("labelled", "https://x.org/labelled", "Labelled", None, date(2024, 1, 1), text, "text")
    persist.write_documents(bench, None, [AnalyzedDocument("labelled", 1, document, (), 3,
                                                           derived=(("sector_labels", labels),))], "v1", "n1")
    with bench.writing() as conn:  # a reviewer's sector: the model's probabilities no longer describe it
        conn.execute(sector_labels.update().where(sector_labels.c.document_id == "doc-a").values(reviewed=True))
    page = analyst.get("/documents/labelled").text
    assert shown(page, "sector-labels") == [
        ["document", "economic", "0.70", "economic 0.70 · social 0.20 · military 0.10", "sector-test"],
        ["paragraph 2 “Farmers planted rice on every field of the cooperative...”", "social", "0.55",
         "social 0.55 · economic 0.45", "sector-test"]]
    assert "<i>" not in page and 'data-sector="economic"' in page
    assert shown(analyst.get("/documents/doc-a").text, "sector-labels") == [
        ["document", "military", "set by a reviewer", "", "sector-test"]]


def test_document_page_escapes_entity_names_and_keeps_a_fact_focus_with_entities(analyst, bench):
    source = ledger.add_source(bench, "https://x.org/odd", "article", "Odd", None)
    text = "Kim Jong Un praised 40 workers. The end."
    odd = Entity("PERSON", "Kim Jong Un", 0, 11, 0, 31, '"><script>x</script>', '<img src=x onerror=alert(1)>')
    number = Entity("CARDINAL", "40", 20, 22, 0, 31, None, None)
    fact = {"kind": "activity_count", "value": 40.0, "start_char": 20, "end_char": 30, "sentence": text[:31],
            "extractor_version": "facts-test", "confidence": 0.9}
    _store_document(bench, source.id, "odd-1", text, date(2024, 1, 1), "text", (odd, number), (fact,))
    stored = bench.read_table("facts")
    fact_id = int(stored[stored.document_id == "odd-1"].id.iloc[0])
    page = analyst.get("/documents/odd-1", params={"fact": fact_id}).text
    assert "<script>x" not in page and "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    marked = re.search(r'<mark class="sentence" id="marked">(.*?)</mark>', page, re.S).group(1)
    assert marked.startswith('<a class="ent" data-label="PERSON" href="/people/%22%3E%3Cscript%3Ex%3C/script%3E"')
    assert ('<strong class="span"><span class="ent" data-label="CARDINAL" title="CARDINAL">40</span></strong>'
            '<strong class="span"> workers</strong>.') in marked


def _entity(label: str, start: int, end: int) -> EntityRow:
    return EntityRow(label, "", start, end, None, None)


def _fact_at(fact_id: int, start: int | None, end: int | None) -> FactRow:
    return FactRow(fact_id, "d", "price", *([None] * 15), start, end, None, False, None, None)


def test_document_annotation_cuts_the_text_where_marks_begin_and_end():
    text = "Kim Jong Un saw 40 tractors in Pyongyang."
    kim, forty, city = _entity("PERSON", 0, 11), _entity("CARDINAL", 16, 18), _entity("GPE", 31, 40)
    count = _fact_at(7, 16, 27)
    out = annotated_text(text, [kim, forty, city], [count])
    assert [(p.text, p.entity.label if p.entity else None, p.fact.fact_id if p.fact else None) for p in out.before] == [
        ("Kim Jong Un", "PERSON", None), (" saw ", None, None), ("40", "CARDINAL", 7), (" tractors", None, 7),
        (" in ", None, None), ("Pyongyang", "GPE", None), (".", None, None)]
    assert out.sentence == () and out.after == ()
    focused = annotated_text(text + " Next one.", [kim, forty], [count], focus=count)
    assert "".join(p.text for p in focused.sentence) == text
    assert [p.text for p in focused.sentence if p.focused] == ["40", " tractors"]
    assert "".join(p.text for p in focused.after) == " Next one." and focused.before == ()
    clipped = annotated_text("short", [_entity("ORG", 3, 99)], [_fact_at(1, None, None), _fact_at(2, 80, 90)])
    assert [(p.text, bool(p.entity)) for p in clipped.before] == [("sho", False), ("rt", True)]
    overlapping = annotated_text("abcdef", [], [_fact_at(1, 0, 4), _fact_at(2, 2, 6)])
    assert [(p.text, p.fact.fact_id) for p in overlapping.before] == [("abcd", 1), ("ef", 2)]


# --- people ----------------------------------------------------------------------------------------

JO, KIM, RI, PUTIN = (("jo-yong-won", "Jo Yong Won"), ("kim-tok-hun", "Kim Tok Hun"), ("ri-il-hwan", "Ri Il Hwan"),
                      ("vladimir-putin", "Vladimir Putin"))


def _row(name: str, day: date | None, people: tuple, kind: str = "activity") -> Activity:
    return Activity(f"act-{name}", "Kim Jong Un", day, day, f"Activity {name}", "inspection", "economic", "Wonsan",
                    None, (f"doc-{name}",), tuple(Person(p[0], p[1], role) for p, role in people), kind=kind)


def write_people_register(store) -> None:
    """Jo: 3 companion rows in 2024 and one undated; Ri: 2 in 2023, 1 in 2024; Kim Tok Hun: 1 each year;
    Putin met once; a letter and a rejected row name Jo and count nowhere."""
    persist.write_register(store, [
        _row("a1", date(2024, 1, 10), ((JO, "accompanied"), (KIM, "accompanied"))),
        _row("a2", date(2024, 2, 11), ((JO, "accompanied"),)),
        _row("a3", date(2024, 2, 20), ((JO, "present"), (RI, "accompanied"))),
        _row("a4", date(2023, 12, 1), ((KIM, "accompanied"), (RI, "present"))),
        _row("a5", date(2023, 12, 5), ((RI, "accompanied"),)),
        _row("a6", date(2024, 3, 1), ((JO, "accompanied"),), kind="letter"),
        _row("a7", date(2024, 3, 2), ((JO, "accompanied"),)),
        _row("a8", None, ((JO, "accompanied"),)),
        _row("a9", date(2024, 4, 1), ((PUTIN, "counterpart"),)),
    ])
    with store.writing() as conn:
        conn.execute(activities.update().where(activities.c.activity_id == "act-a7").values(rejected=True))


def _counts(page) -> list[tuple]:
    return [(p.person_id, p.appearances, p.accompanied, p.present, p.met, p.first_seen, p.last_seen, p.rank,
             p.companions) for p in page.rows]


def test_people_reads_alike_on_sqlite_and_postgresql(any_store):
    write_people_register(any_store)
    d = date
    assert _counts(people_page(any_store, PeopleFilter(), 0, 10)) == [
        ("jo-yong-won", 4, 3, 1, 0, d(2024, 1, 10), d(2024, 2, 20), 1, 3),  # the undated row counts, dates nothing
        ("ri-il-hwan", 3, 2, 1, 0, d(2023, 12, 1), d(2024, 2, 20), 2, 3),
        ("kim-tok-hun", 2, 2, 0, 0, d(2023, 12, 1), d(2024, 1, 10), 3, 3),
        ("vladimir-putin", 1, 0, 0, 1, d(2024, 4, 1), d(2024, 4, 1), None, 3)]
    assert _counts(people_page(any_store, PeopleFilter(year=2024), 0, 10)) == [
        ("jo-yong-won", 3, 2, 1, 0, d(2024, 1, 10), d(2024, 2, 20), 1, 3),
        ("kim-tok-hun", 1, 1, 0, 0, d(2024, 1, 10), d(2024, 1, 10), 2, 3),  # ties share a rank
        ("ri-il-hwan", 1, 1, 0, 0, d(2024, 2, 20), d(2024, 2, 20), 2, 3),
        ("vladimir-putin", 1, 0, 0, 1, d(2024, 4, 1), d(2024, 4, 1), None, 3)]
    assert _counts(people_page(any_store, PeopleFilter(year=2024, name="IL HW"), 0, 10))[0][7] == 2  # rank kept
    assert people_page(any_store, PeopleFilter(name=INJECTION), 0, 10).total == 0
    assert people_page(any_store, PeopleFilter(name="%"), 0, 10).total == 0
    page = people_page(any_store, PeopleFilter(), 1, 2)
    assert page.total == 4 and [p.person_id for p in page.rows] == ["ri-il-hwan", "kim-tok-hun"]
    assert [(y.year, y.counts.appearances, y.counts.rank, y.counts.companions) for y in person_years(any_store, RI[0])] == [
        (2023, 2, 1, 2), (2024, 1, 2, 3)]
    assert person_months(any_store, JO[0]) == {"2024-01": {"accompanied": 1},
                                               "2024-02": {"accompanied": 1, "present": 1}}


@pytest.fixture
def people_client(review_store, web_config):
    write_people_register(review_store)
    client = TestClient(create_app(web_config, review_store), base_url="http://127.0.0.1")
    login(client, "analyst")
    return client


def test_people_index_lists_counts_and_ranks_filtered_by_year(people_client):
    rows = shown(people_client.get("/people").text, "people")
    assert rows[0] == ["Jo Yong Won", "4", "3", "1", "0", "2024-01-10", "2024-02-20", "1"]
    assert rows[-1] == ["Vladimir Putin", "1", "0", "0", "1", "2024-04-01", "2024-04-01", ""]
    in_2023 = shown(people_client.get("/people", params={"year": "2023"}).text, "people")
    assert [r[0] for r in in_2023] == ["Ri Il Hwan", "Kim Tok Hun"] and [r[7] for r in in_2023] == ["1", "2"]
    page = people_client.get("/people", params={"year": "2023"}).text
    assert "among his 2 companions in 2023" in page and 'href="/people/ri-il-hwan"' in page
    assert people_client.get("/people", params={"year": "twenty"}).status_code == 400


def test_people_csv_and_api_are_the_rows_shown(people_client):
    for params in ({}, {"year": "2024"}, {"per_page": "2", "page": "2"}, {"name": "ri"}):
        page = people_client.get("/people", params=params).text
        rows = csv_rows(people_client.get("/people", params={**params, "format": "csv"}))
        assert rows[0] == list(PEOPLE_COLUMNS) and rows[1:] == shown(page, "people") and rows[1:], params
    everything = api(people_client, "/api/people")
    assert everything["total"] == 4 and everything["rows"][0] == {
        "person": "Jo Yong Won", "appearances": 4, "accompanied": 3, "present": 1, "met": 0,
        "first_seen": "2024-01-10", "last_seen": "2024-02-20", "rank": 1, "person_id": "jo-yong-won", "companions": 3}
    assert everything["rows"][-1]["rank"] is None
    sliced = [api(people_client, "/api/people", limit=3, offset=offset)["rows"] for offset in (0, 3)]
    assert sliced[0] + sliced[1] == everything["rows"]


def test_person_page_charts_months_ranks_years_and_lists_the_activities(people_client):
    page = people_client.get("/people/jo-yong-won").text
    assert '<h1 id="person-name">Jo Yong Won</h1>' in page
    summary = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.split('id="person-summary">')[1].split("</p>")[0]))
    assert summary == ("4 appearances with the leader (3 accompanied, 1 present, 0 met as counterpart); first seen "
                       "2024-01-10, last seen 2024-02-20; rank 1 of 3 companions over every year.")
    chart = re.search(r'<svg[^>]*id="person-chart".*?</svg>', page, re.S).group(0)
    assert re.findall(r"<rect[^>]*><title>([^<]+)</title>", chart) == [
        "2024-01 accompanied: 1", "2024-02 accompanied: 1", "2024-02 present: 1"]
    assert shown(page, "years") == [["2024", "3", "2", "1", "0", "2024-01-10", "2024-02-20", "1", "3"]]
    activities = shown(page, "activities")
    assert [(r[0], r[1], r[5], r[7]) for r in activities] == [
        ("2024-03-01", "letter", "accompanied", "no"), ("2024-02-20", "activity", "present", "yes"),
        ("2024-02-11", "activity", "accompanied", "yes"), ("2024-01-10", "activity", "accompanied", "yes"),
        ("", "activity", "accompanied", "yes")]  # newest first, the undated last; the rejected row is left out
    assert 'href="/register/act-a3"' in page and "Activity a7" not in page


def test_person_csv_api_and_unknown_ids(people_client):
    for params in ({}, {"per_page": "2", "page": "2"}):
        page = people_client.get("/people/jo-yong-won", params=params).text
        rows = csv_rows(people_client.get("/people/jo-yong-won", params={**params, "format": "csv"}))
        assert rows[0] == list(ACTIVITY_COLUMNS) and rows[1:] == shown(page, "activities") and rows[1:]
    answer = api(people_client, "/api/people/ri-il-hwan", limit=1)
    assert answer["total"] == 3 and len(answer["rows"]) == 1 and answer["rows"][0]["activity_id"] == "act-a3"
    assert answer["person"] == {"person_id": "ri-il-hwan", "name": "Ri Il Hwan", "aliases": []}
    assert [(y["year"], y["rank"], y["companions"]) for y in answer["years"]] == [(2023, 1, 2), (2024, 2, 3)]
    assert answer["months"] == {"2023-12": {"accompanied": 1, "present": 1}, "2024-02": {"accompanied": 1}}
    putin = people_client.get("/people/vladimir-putin").text
    assert "0 accompanied, 0 present, 1 met as counterpart" in putin and shown(putin, "years")[0][7] == ""
    for unknown in ("nobody", "x" * 65, "a b"):
        assert people_client.get(f"/people/{unknown}").status_code == 404
        missing = people_client.get(f"/api/people/{unknown}")
        assert missing.status_code == 404 and "find the person on /people" in missing.json()["error"]


# --- in a real browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_analyst_searches_the_documents_and_opens_a_person(bench, web_config):
    from tests.browser import chromium, serving, sign_in
    from tests.test_workbench import _browser_or_skip

    _browser_or_skip()
    with serving(create_app(web_config, bench)) as base_url, chromium() as browser:
        page = browser.new_page()
        sign_in(page, base_url, "analyst", "analyst-password", "/documents")
        page.fill("#document-search input[name=q]", "greenhouse OR tractor")
        page.click("#document-search button")
        page.wait_for_load_state()
        assert "q=greenhouse+OR+tractor" in page.url
        assert page.locator("#documents tbody tr").count() == 3
        assert page.locator("#documents mark.hit").first.inner_text().lower() in ("tractor", "greenhouse")
        page.get_by_role("link", name="Kim Jong Un in kcna-1 <b>bold</b>").click()
        page.wait_for_load_state()
        page.locator("#document-text a.ent", has_text="Jo Yong Won").click()
        page.wait_for_load_state()
        assert page.locator("#person-name").inner_text() == "Jo Yong Won"
        assert page.locator("#person-chart rect title").all_text_contents() == ["2024-03 accompanied: 1"]
