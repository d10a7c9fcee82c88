from dataclasses import replace
from datetime import date

from pipeline.store import document_rows, ledger, persist, register_rows
import pytest
import sqlalchemy as sa

from pipeline.records import AnalyzedDocument, CleanDocument, Entity, Fetched, RunCounts
from pipeline.config import resolve_db_url
from pipeline.store import open_store
from pipeline.store.db import entities, facts


def analyzed(doc_id: str, text: str, n_entities: int, source_id: int, fact_rows=()) -> AnalyzedDocument:
    document = CleanDocument(key=doc_id, url=f"https://x.org/{doc_id}", title="T", author=None,
                             published=None, text=text, format="text")
    ents = tuple(Entity("GPE", text[:3], 0, 3, 0, len(text)) for _ in range(n_entities))
    derived = (("facts", tuple(fact_rows)),) if fact_rows else ()
    return AnalyzedDocument(doc_id, source_id, document, ents, 1, raw_hash="hash", derived=derived)


@pytest.fixture
def store(any_store):
    """Every test here runs against SQLite and PostgreSQL."""
    return any_store


def add_source(store):
    return ledger.add_source(store, "https://x.org/feed", "article", None, None)


def test_store_sqlite_uses_wal(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'wal.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_store_relative_sqlite_path_resolves_against_base_dir(tmp_path):
    assert resolve_db_url("sqlite:///data/x.db", tmp_path) == f"sqlite:///{tmp_path}/data/x.db"
    assert resolve_db_url("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert resolve_db_url("postgresql+psycopg://u@h/db", tmp_path) == "postgresql+psycopg://u@h/db"


def test_store_rewriting_a_document_replaces_its_derived_rows(store):
    source = add_source(store)
    fact = {"kind": "activity_count", "value": 51.0, "extractor_version": "t"}
    persist.write_documents(store, 1, [analyzed("a", "Seoul is here.", 3, source.id, [fact])], "v1", "n1")
    persist.write_documents(store, 2, [analyzed("a", "Seoul is there.", 2, source.id, [fact])], "v1", "n1")
    assert document_rows.count_documents(store) == 1
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(entities)).scalar() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(facts)).scalar() == 1
    frame = store.read_table("documents")
    assert frame.loc[0, "text"] == "Seoul is there."
    assert frame.loc[0, "first_run_id"] == 1 and frame.loc[0, "last_run_id"] == 2


def test_store_failed_batch_leaves_no_partial_rows(store):
    source = add_source(store)
    bad = analyzed("b", "Pyongyang.", 1, source_id=999)  # violates the source foreign key
    good = analyzed("a", "Seoul.", 1, source.id)
    try:
        persist.write_documents(store, 1, [good, bad], "v1", "n1")
    except Exception:
        pass
    else:  # pragma: no cover
        raise AssertionError("the foreign key violation should abort the batch")
    assert document_rows.count_documents(store) == 0
    assert len(store.read_table("entities")) == 0


def test_store_document_versions_report_hash_version_and_publication_date(store):
    source = add_source(store)
    a = analyzed("a", "Seoul.", 1, source.id)
    a = replace(a, document=replace(a.document, published=date(2024, 5, 1)))
    persist.write_documents(store, 1, [a], "v1", "n1")
    assert document_rows.document_versions(store, ["a", "zzz"]) == {"a": (a.document.text_hash, "v1", date(2024, 5, 1))}


def test_store_raw_bytes_are_kept_compressed_once(store):
    body = b"<html>" + b"x" * 10_000 + b"</html>"
    fetched = Fetched("https://x.org", False, body, "text/html", None, None, None, 200, "h1")
    ledger.save_raw(store, fetched)
    ledger.save_raw(store, fetched)
    frame = store.read_table("raw_contents")
    assert len(frame) == 1 and frame.loc[0, "size_bytes"] == len(body)
    assert len(frame.loc[0, "data"]) < len(body) / 10
    assert ledger.load_raw(store, "h1") == body
    assert ledger.load_raw(store, "other") is None


def test_store_runs_record_counts(store):
    run_id = ledger.start_run(store, "ingest", 3, "v1")
    ledger.finish_run(store, run_id, RunCounts(new=2, unchanged=5, skipped=1, failed=1, words=10), "completed")
    run = ledger.get_run(store, run_id)
    assert (run["new"], run["unchanged"], run["skipped"], run["failed"], run["status"]) == (
        2, 5, 1, 1, "completed")


def test_store_schema_creation_is_idempotent(any_db_url):
    url = any_db_url
    first = open_store(url)
    ledger.add_source(first, "https://x.org/", "article", None, None)
    assert ledger.count_sources(open_store(url)) == 1


def test_store_person_alias_mentions_do_not_grow_on_reprocessing(store):
    source = add_source(store)
    person = Entity("PERSON", "Kim Jong-un", 0, 11, 0, 20, "kim-jong-un", "Kim Jong Un")
    document = CleanDocument(key="a", url="https://x.org/a", title=None, author=None, published=None,
                             text="Kim Jong-un and Kim Jong-un.", format="text")
    analyzed_twice = AnalyzedDocument("a", source.id, document, (person, person), 1)
    for run in (1, 2, 3):
        persist.write_documents(store, run, [analyzed_twice], "v1", "n1")
    aliases = store.read_table("person_aliases")
    assert aliases.set_index("alias").loc["Kim Jong-un", "mentions"] == 2
    assert store.read_table("persons").person_id.tolist() == ["kim-jong-un"]


def test_store_concurrent_writers_of_shared_documents_and_new_aliases(any_db_url):
    """Two runs writing the same documents in opposite orders, each naming new people at once."""
    import threading

    from pipeline.records import Entity

    stores = [open_store(any_db_url) for _ in range(2)]
    source = add_source(stores[0])
    errors = []

    def batch(round_: int, doc_ids: list[str]) -> list[AnalyzedDocument]:
        person = Entity("PERSON", f"Person {round_}", 0, 8, 0, 20, f"person-{round_}", f"Person {round_}")
        return [AnalyzedDocument(d, source.id, CleanDocument(key=d, url=f"https://x.org/{d}", title=None, author=None,
                                                             published=None, text="Person here.", format="text"),
                                 (person,), 1) for d in doc_ids]

    def writer(store, round_, doc_ids, barrier):
        try:
            barrier.wait()
            persist.write_documents(store, round_, batch(round_, doc_ids), "v1", "n1")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    for round_ in range(15):
        ids = [f"r{round_}-{i}" for i in range(6)]
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=writer, args=(stores[0], round_, ids, barrier)),
                   threading.Thread(target=writer, args=(stores[1], round_, ids[::-1], barrier))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert document_rows.count_documents(stores[0]) == 90
    assert len(stores[0].read_table("entities")) == 90
    aliases = stores[0].read_table("person_aliases")
    assert len(aliases) == 15 and set(aliases.mentions) == {6}
    for store in stores:
        store.engine.dispose()


def kcna_document(doc_id: str, source_id: int) -> AnalyzedDocument:
    document = CleanDocument(key=doc_id, url=f"https://kcna.example/{doc_id}", title="T", author=None,
                             published=None, text="Kim Jong Un inspected a farm.", format="kcna")
    return AnalyzedDocument(doc_id, source_id, document, (), 1)


def test_store_register_rebuilds_take_turns_and_read_after_the_other_wrote(store, monkeypatch):
    """Run 1 reads the documents and is slow; run 2 stores a document and rebuilds meanwhile."""
    import threading
    import time
    from datetime import date

    import pipeline.activities as activities_module
    from pipeline.records import Activity, activity_id_for

    source = add_source(store)
    persist.write_documents(store, 1, [kcna_document("doc-a", source.id)], "v1", "n1")
    first_has_read, errors = threading.Event(), []

    def build(reports):
        reports = list(reports)
        if threading.current_thread().name == "run-1":
            first_has_read.set()
            time.sleep(1.0)  # run 2 writes and rebuilds now, unless the lock makes it wait
        return [Activity(activity_id_for(r.document_id), "Kim Jong Un", date(2024, 3, 1), date(2024, 3, 1), "T",
                         "inspection", None, None, None, (r.document_id,)) for r in reports]

    def run_1():
        try:
            activities_module.rebuild_register(store)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    monkeypatch.setattr(activities_module, "build_register", build)
    first = threading.Thread(target=run_1, name="run-1")
    first.start()
    assert first_has_read.wait(30)
    persist.write_documents(store, 2, [kcna_document("doc-b", source.id)], "v1", "n1")
    activities_module.rebuild_register(store)
    first.join(30)
    assert errors == []
    assert sorted(d for a in register_rows.load_register(store) for d in a.document_ids) == ["doc-a", "doc-b"]


def test_store_concurrent_writers_of_different_documents_count_a_shared_alias_once_each(any_db_url):
    """Two runs write different documents naming a known person at once: neither count is lost."""
    import threading

    stores = [open_store(any_db_url) for _ in range(2)]
    source = add_source(stores[0])
    errors = []

    def mentioning(round_: int, doc_id: str) -> AnalyzedDocument:
        person = Entity("PERSON", f"Person {round_}", 0, 8, 0, 20, f"person-{round_}", f"Person {round_}")
        document = CleanDocument(key=doc_id, url=f"https://x.org/{doc_id}", title=None, author=None,
                                 published=None, text="Person here.", format="text")
        return AnalyzedDocument(doc_id, source.id, document, (person, person), 1)

    def writer(store, round_, doc_id, barrier):
        try:
            barrier.wait()
            persist.write_documents(store, round_, [mentioning(round_, doc_id)], "v1", "n1")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    rounds = 12
    for round_ in range(rounds):
        # the alias is known already: a new one would make the second writer wait on the first's insert
        persist.write_documents(stores[0], round_, [mentioning(round_, f"r{round_}-seen")], "v1", "n1")
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=writer, args=(store, round_, f"r{round_}-{i}", barrier))
                   for i, store in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []
    aliases = stores[0].read_table("person_aliases").set_index("alias").mentions
    assert aliases.to_dict() == {f"Person {r}": 6 for r in range(rounds)}  # three documents, two mentions each
    for store in stores:
        store.engine.dispose()
