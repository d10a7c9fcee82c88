"""The workbench's documents and people: full-text search (SQLite FTS5 and PostgreSQL), the index kept
in step with the documents, and the people reads
(appearances with the leader by month and year, rank among companions)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command

from pipeline.records import Activity, Person
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
from tests.conftest import review_document
from tests.test_workbench import INJECTION, KCNA_TEXTS, _store_document, build_workbench_data

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


def test_document_search_migration_indexes_the_documents_already_stored(any_db_url):
    engine = create_engine_for(any_db_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0009")
    older = Store(engine)
    source = ledger.add_source(older, "https://x.org/feed", "article", "Feed", None)
    _store_document(older, source.id, "old-1", "A greenhouse farm was stored before the search.", date(2024, 1, 2),
                    "text")
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
