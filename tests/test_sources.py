from datetime import date

import pytest

from pipeline.errors import DuplicateSourceError, InvalidSourceError, UnknownSourceError
from pipeline.sources import (
    SourceSpec,
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
    assert len(store.list_sources()) == 1


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
    assert store.set_source_enabled(source.id, False).enabled is False
    assert store.list_sources(enabled_only=True) == []
    assert store.set_source_enabled(source.id, True).enabled is True
    with pytest.raises(UnknownSourceError, match="no source has id 99"):
        store.set_source_enabled(99, False)


def test_sources_default_list_registered_only_on_empty_store(store):
    specs = read_source_list(CORPUS / "sources.toml")
    assert {s.kind for s in specs} == {"article", "brief", "kcna"}
    registered = register_default_sources(store, CORPUS / "sources.toml")
    assert len(registered) == len(specs)
    assert all(s.url.startswith("file://") for s in registered)
    assert register_default_sources(store, CORPUS / "sources.toml") == []
