from datetime import date

from pipeline.store import ledger
import pytest

from pipeline.errors import DuplicateSourceError, InvalidSourceError, UnknownSourceError
from pipeline.sources import (
    SourceSpec,
    ensure_source,
    normalise_source_url,
    read_source_list,
    register_default_sources,
    register_source,
)
from tests.conftest import CORPUS, SEED_ARTICLE


@pytest.mark.parametrize("raw, expected", [
    ("HTTP://Example.COM:80/a/b?utm_source=x&b=2&a=1#frag", "http://example.com/a/b?a=1&b=2"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("  https://www.38north.org/2025/01/page/  ", "https://www.38north.org/2025/01/page/"),
])
def test_sources_normalise_http_urls(raw, expected):
    assert normalise_source_url(raw) == expected


@pytest.mark.parametrize("raw, message", [
    ("ftp://example.com/file.txt", "unsupported scheme 'ftp'"),
    ("javascript:alert(1)", "unsupported scheme"),
    ("http://", "no valid host"),
    ("http:/example.com", "expected http://"),
    ("https://exa mple.com/", "spaces"),
    ("https://bad_host!/x", "no valid host"),
    ("", "empty source"),
    ("/no/such/file.html", "does not exist"),
])
def test_sources_refuse_malformed_and_other_schemes(raw, message):
    with pytest.raises(InvalidSourceError, match=message):
        normalise_source_url(raw)


def test_sources_local_paths_become_file_uris(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<p>x</p>")
    assert normalise_source_url(str(page)) == page.resolve().as_uri()
    assert normalise_source_url("page.html", base_dir=tmp_path) == page.resolve().as_uri()
    assert normalise_source_url(page.as_uri()) == page.resolve().as_uri()


def test_sources_directory_is_refused(tmp_path):
    with pytest.raises(InvalidSourceError, match="not a file"):
        normalise_source_url(str(tmp_path))


def test_sources_duplicates_after_normalisation_are_refused(store):
    first = register_source(store, SourceSpec("https://Example.com/a?b=1&utm_medium=m"))
    with pytest.raises(DuplicateSourceError, match=f"source {first.id}"):
        register_source(store, SourceSpec("https://example.com:443/a?b=1#top"))
    assert len(ledger.list_sources(store)) == 1


def test_sources_kind_is_guessed_and_validated(store, tmp_path):
    archive = tmp_path / "a.json"
    archive.write_text("[]")
    assert register_source(store, SourceSpec(str(archive))).kind == "kcna"
    assert register_source(store, SourceSpec("https://x.org/brief.pdf")).kind == "brief"
    assert register_source(store, SourceSpec("https://x.org/news")).kind == "article"
    with pytest.raises(InvalidSourceError, match="unknown kind"):
        register_source(store, SourceSpec("https://x.org/other", kind="tweet"))


def test_sources_published_date_is_parsed(store):
    source = register_source(store, SourceSpec("https://x.org/n", published="2025-11-19"))
    assert source.published == date(2025, 11, 19)
    with pytest.raises(InvalidSourceError, match="YYYY-MM-DD"):
        register_source(store, SourceSpec("https://x.org/m", published="19/11/2025"))


def test_sources_disable_and_enable(store):
    source = register_source(store, SourceSpec(str(SEED_ARTICLE)))
    assert ledger.set_source_enabled(store, source.id, False).enabled is False
    assert ledger.list_sources(store, enabled_only=True) == []
    assert ledger.set_source_enabled(store, source.id, True).enabled is True
    with pytest.raises(UnknownSourceError, match="no source has id 99"):
        ledger.set_source_enabled(store, 99, False)


def test_sources_default_list_registered_only_on_empty_store(store):
    specs = read_source_list(CORPUS / "sources.toml")
    assert {s.kind for s in specs} == {"article", "brief", "kcna"}
    registered = register_default_sources(store, CORPUS / "sources.toml")
    assert len(registered) == len(specs)
    assert all(s.url.startswith("file://") for s in registered)
    assert register_default_sources(store, CORPUS / "sources.toml") == []


def test_sources_first_runs_at_once_both_register_the_default_list(any_db_url):
    """Two first-ever runs on an empty store: each ends with the whole list, neither fails."""
    import threading

    from pipeline.store import open_store

    stores = [open_store(any_db_url) for _ in range(2)]
    specs = read_source_list(CORPUS / "sources.toml")
    results, errors = {}, []

    def first_run(index, store, barrier, all_specs):
        try:
            barrier.wait()
            results[index] = [ensure_source(store, spec).id for spec in all_specs]
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    for round_ in range(5):
        barrier = threading.Barrier(2)
        all_specs = [*specs, *(SourceSpec(f"https://x.org/{round_}/{i}") for i in range(10))]
        threads = [threading.Thread(target=first_run, args=(i, s, barrier, all_specs)) for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert results[0] == results[1]
    assert ledger.count_sources(stores[0]) == len(specs) + 50
    for store in stores:
        store.engine.dispose()


def test_sources_ensure_finds_a_source_registered_after_it_looked(store, monkeypatch):
    registered = register_source(store, SourceSpec("https://x.org/a"))
    real_find, looked = ledger.find_source, []

    def find_late(store_, url):  # the first look comes before the other run registered it
        looked.append(url)
        return None if len(looked) == 1 else real_find(store_, url)

    monkeypatch.setattr(ledger, "find_source", find_late)
    assert ensure_source(store, SourceSpec("https://x.org/a")) == registered


def test_sources_duplicate_found_at_insert_names_the_registered_id(store, monkeypatch):
    import sqlalchemy as sa

    registered = register_source(store, SourceSpec("https://x.org/a"))
    real_execute = sa.engine.Connection.execute

    def missing_the_other_run(conn, statement, *args, **kwargs):  # as if it committed after this check
        if isinstance(statement, sa.Select) and list(statement.selected_columns.keys()) == ["id"]:
            statement = statement.where(sa.false())
        return real_execute(conn, statement, *args, **kwargs)

    monkeypatch.setattr(sa.engine.Connection, "execute", missing_the_other_run)
    with pytest.raises(DuplicateSourceError) as raised:
        ledger.add_source(store, "https://x.org/a", "article", None, None)
    monkeypatch.undo()
    assert "-1" not in str(raised.value) and f"source {registered.id}" in str(raised.value)
    assert raised.value.existing_id == registered.id
