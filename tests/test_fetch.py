"""The fetch stage against a local HTTP server and local files."""

from __future__ import annotations

import os
import time
import tracemalloc
from dataclasses import replace
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from pipeline.config import FetchConfig
from pipeline.errors import RejectedContent, TransientError
from pipeline.fetch import FETCH_VERSION, fetch
from pipeline.records import FetchState, sha256_hex
from tests.http_server import (  # noqa: F401 (fixtures)
    LEGACY_HTML,
    LocalServer,
    bench_names,
    bench_page,
    etag_for,
    http_server,
    unreachable_url,
)

pytestmark = pytest.mark.timeout(30)

BACKOFF = 1.0


@pytest.fixture
def config() -> FetchConfig:
    return FetchConfig(
        timeout_s=5.0,
        connect_timeout_s=2.0,
        attempts=3,
        backoff_s=BACKOFF,
        backoff_max_s=30.0,
        max_bytes=5_000_000,
    )


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def get(config: FetchConfig, sleeps: list[float]):
    """``fetch`` with the test config and a sleep that only records its delays."""

    def _get(url: str, previous: FetchState | None = None, **overrides):
        return fetch(
            url, previous=previous, config=replace(config, **overrides), sleep=sleeps.append
        )

    return _get


def rejected(get, url: str, **overrides) -> str:
    with pytest.raises(RejectedContent) as info:
        get(url, **overrides)
    assert info.value.reason == str(info.value)
    return info.value.reason


# --- success -------------------------------------------------------------------------


def test_fetch_version_is_set():
    assert FETCH_VERSION == "fetch-1"


def test_fetch_benchmark_page_succeeds(http_server: LocalServer, get, config, sleeps):
    name = bench_names()[0]
    url = http_server.url(f"/bench/{name}.html")
    expected = bench_page(name)

    fetched = get(url)

    assert fetched.url == url
    assert not fetched.not_modified
    assert fetched.body == expected
    assert fetched.content_hash == sha256_hex(expected)
    assert fetched.content_type == "text/html"
    assert fetched.charset == "utf-8"
    assert fetched.etag == etag_for(expected)
    assert parsedate_to_datetime(fetched.last_modified) is not None
    assert fetched.http_status == 200
    assert sleeps == []
    assert http_server.last_headers(f"/bench/{name}.html")["User-Agent"] == config.user_agent


def test_fetch_follows_redirects_and_keeps_the_requested_url(http_server: LocalServer, get):
    url = http_server.url("/redirect")
    fetched = get(url)
    assert fetched.url == url
    assert b"Sohae" in fetched.body
    assert http_server.count("/article") == 1


def test_fetch_missing_content_type_is_allowed(http_server: LocalServer, get):
    fetched = get(http_server.url("/no-type"))
    assert fetched.content_type is None
    assert fetched.charset is None
    assert b"Sohae" in fetched.body


def test_fetch_uses_the_given_client_and_leaves_it_open(http_server: LocalServer, config):
    with httpx.Client() as client:
        fetched = fetch(http_server.url("/article"), previous=None, config=config, client=client)
        assert not client.is_closed
    assert fetched.http_status == 200


# --- conditional GET -----------------------------------------------------------------


def test_fetch_conditional_get_returns_not_modified(http_server: LocalServer, get):
    path = f"/bench/{bench_names()[0]}.html"
    first = get(http_server.url(path))
    previous = FetchState(first.etag, first.last_modified, first.content_hash, "any")

    again = get(http_server.url(path), previous)

    assert again.not_modified
    assert again.body is None
    assert again.size == 0
    assert again.http_status == 304
    assert again.content_hash == first.content_hash
    assert again.etag == first.etag
    assert again.last_modified == first.last_modified
    assert http_server.count(path) == 2
    sent = http_server.last_headers(path)
    assert sent["If-None-Match"] == first.etag
    assert sent["If-Modified-Since"] == first.last_modified


def test_fetch_conditional_get_with_a_stale_etag_gets_the_body(http_server: LocalServer, get):
    path = f"/bench/{bench_names()[0]}.html"
    fetched = get(http_server.url(path), FetchState(etag='"stale"', content_hash="old"))
    assert not fetched.not_modified
    assert fetched.content_hash == sha256_hex(bench_page(bench_names()[0]))
    assert http_server.last_headers(path)["If-None-Match"] == '"stale"'


def test_fetch_sends_no_conditional_headers_without_previous_state(
    http_server: LocalServer, get
):
    get(http_server.url("/article"), FetchState())
    sent = http_server.last_headers("/article")
    assert sent["If-None-Match"] is None
    assert sent["If-Modified-Since"] is None


# --- rejected content ----------------------------------------------------------------


def test_fetch_404_is_rejected(http_server: LocalServer, get, sleeps):
    assert rejected(get, http_server.url("/missing")) == "HTTP 404 Not Found"
    assert http_server.count("/missing") == 1
    assert sleeps == []


def test_fetch_redirect_loop_is_rejected(http_server: LocalServer, get, sleeps):
    assert rejected(get, http_server.url("/loop")) == "too many redirects (limit 5)"
    assert sleeps == []


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"])
def test_fetch_huge_body_is_rejected_without_holding_it(http_server: LocalServer, get, path):
    limit = 1_000_000
    started = time.monotonic()
    tracemalloc.start()
    try:
        reason = rejected(get, http_server.url(path), max_bytes=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reason == f"body larger than the {limit}-byte limit"
    # The server sends 50 MB; holding it would need far more than a few limits.
    assert peak < 8 * limit
    assert time.monotonic() - started < 5
    assert http_server.count(path) == 1


def test_fetch_huge_body_names_the_default_limit(http_server: LocalServer, sleeps):
    with pytest.raises(RejectedContent, match="body larger than the 20000000-byte limit"):
        fetch(http_server.url("/huge"), previous=None, config=FetchConfig(), sleep=sleeps.append)


def test_fetch_binary_html_is_fetched_unsniffed(http_server: LocalServer, get):
    # fetch trusts the declared type; the clean stage is what rejects binary bodies.
    fetched = get(http_server.url("/binary.html"))
    assert fetched.content_type == "text/html"
    assert fetched.body.startswith(b"\x89PNG")


def test_fetch_image_is_rejected_as_unsupported_type(http_server: LocalServer, get, sleeps):
    assert rejected(get, http_server.url("/image.png")) == "unsupported content type image/png"
    assert sleeps == []


def test_fetch_empty_body_is_rejected(http_server: LocalServer, get, sleeps):
    assert rejected(get, http_server.url("/empty")) == "empty body"
    assert http_server.count("/empty") == 1
    assert sleeps == []


# --- other content -------------------------------------------------------------------


def test_fetch_legacy_charset_is_reported(http_server: LocalServer, get):
    fetched = get(http_server.url("/legacy"))
    assert fetched.charset == "windows-1251"
    assert fetched.body == LEGACY_HTML
    assert "Спутниковые" in fetched.body.decode(fetched.charset)


def test_fetch_scanned_pdf_is_fetched(http_server: LocalServer, get):
    # A PDF without a text layer is the clean stage's to reject, not fetch's.
    fetched = get(http_server.url("/scanned.pdf"))
    assert fetched.content_type == "application/pdf"
    assert fetched.body.startswith(b"%PDF")


# --- transient failures --------------------------------------------------------------


def test_fetch_retries_5xx_then_succeeds(http_server: LocalServer, get, sleeps):
    fetched = get(http_server.url("/flaky?fail=2&id=retries"), attempts=3)
    assert fetched.http_status == 200
    assert b"Sohae" in fetched.body
    assert sleeps == [BACKOFF, 2 * BACKOFF]
    assert http_server.count("/flaky") == 3


def test_fetch_always_500_is_transient_after_all_attempts(http_server: LocalServer, get, sleeps):
    url = http_server.url("/always500")
    with pytest.raises(TransientError) as info:
        get(url, attempts=4)
    message = str(info.value)
    assert url in message
    assert "HTTP 500" in message
    assert "4 tries" in message
    assert "next run" in message
    assert http_server.count("/always500") == 4
    assert sleeps == [BACKOFF, 2 * BACKOFF, 4 * BACKOFF]


def test_fetch_backoff_is_capped(http_server: LocalServer, get, sleeps):
    with pytest.raises(TransientError):
        get(http_server.url("/always500"), attempts=5, backoff_max_s=3.0)
    assert sleeps == [1.0, 2.0, 3.0, 3.0]


def test_fetch_429_honours_retry_after(http_server: LocalServer, get, sleeps):
    fetched = get(http_server.url("/flaky?fail=1&id=429&status=429&retry_after=7"))
    assert fetched.http_status == 200
    assert sleeps == [7.0]


def test_fetch_retry_after_is_capped(http_server: LocalServer, get, sleeps):
    get(http_server.url("/flaky?fail=1&id=cap&status=503&retry_after=3600"))
    assert sleeps == [30.0]


def test_fetch_unreachable_port_is_transient(get, sleeps, unreachable_url):
    with pytest.raises(TransientError, match="ConnectError") as info:
        get(unreachable_url, attempts=2)
    assert "2 tries" in str(info.value)
    assert sleeps == [BACKOFF]


def test_fetch_slow_server_times_out(http_server: LocalServer, get, sleeps):
    started = time.monotonic()
    with pytest.raises(TransientError, match="Timeout"):
        get(http_server.url("/slow"), timeout_s=0.3, attempts=2)
    # Two tries of 0.3 s each, well before the server's 1.5 s answer.
    assert time.monotonic() - started < 1.4
    assert http_server.count("/slow") == 2
    assert sleeps == [BACKOFF]


# --- local files ---------------------------------------------------------------------


def test_fetch_local_file_succeeds(tmp_path: Path, get):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"Pyongyang announced a new five-year plan.")
    os.utime(path, (1_700_000_000, 1_700_000_000))

    fetched = get(path.as_uri())

    assert fetched.url == path.as_uri()
    assert not fetched.not_modified
    assert fetched.body == path.read_bytes()
    assert fetched.content_type == "text/plain"
    assert fetched.charset is None
    assert fetched.etag is None
    assert fetched.http_status is None
    assert fetched.content_hash == sha256_hex(fetched.body)
    assert parsedate_to_datetime(fetched.last_modified).timestamp() == 1_700_000_000


def test_fetch_local_json_with_a_space_in_its_name(tmp_path: Path, get):
    path = tmp_path / "kcna items.json"
    path.write_text('{"items": []}', encoding="utf-8")
    fetched = get(path.as_uri())
    assert "%20" in path.as_uri()
    assert fetched.content_type == "application/json"
    assert fetched.body == b'{"items": []}'


def test_fetch_local_missing_file_is_rejected(tmp_path: Path, get):
    path = tmp_path / "gone.html"
    assert rejected(get, path.as_uri()) == f"file not found: {path}"


def test_fetch_local_empty_file_is_rejected(tmp_path: Path, get):
    path = tmp_path / "empty.html"
    path.touch()
    assert rejected(get, path.as_uri()) == "empty file"


def test_fetch_local_directory_is_rejected(tmp_path: Path, get):
    assert "not a regular file" in rejected(get, tmp_path.as_uri())


def test_fetch_local_file_over_the_limit_is_rejected(tmp_path: Path, get):
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 101)
    assert "100-byte limit" in rejected(get, path.as_uri(), max_bytes=100)
