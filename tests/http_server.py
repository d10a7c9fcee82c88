"""A local HTTP server with the awkward answers real sources give, for tests.

Use it as a pytest plugin (``pytest_plugins = ["tests.http_server"]``) or import
the fixtures: ``from tests.http_server import http_server  # noqa: F401``.
The ``http_server`` fixture yields a started ``LocalServer`` bound to
127.0.0.1 on a free port; ``server.url("/missing")`` builds a URL and
``server.count("/flaky")`` says how many requests a path received.

Routes (anything else is 404):

* ``/bench/<name>.html``: the benchmark page ``<name>.html.gz`` from the shared
  extraction benchmark, with ETag and Last-Modified; 304 to a matching
  If-None-Match (or, without one, to a fresh If-Modified-Since).
* ``/article``: a small English HTML article.
* ``/redirect``: 302 to ``/article``.
* ``/missing``: 404.
* ``/flaky?fail=N&id=X``: ``status`` (default 500) for the first N requests
  carrying id X, then the article; ``retry_after=S`` adds a Retry-After header
  to the failures.
* ``/always500``: 500.
* ``/loop`` <-> ``/loop2``: a redirect loop.
* ``/huge`` (with Content-Length) and ``/huge-chunked`` (chunked, no length):
  50 MB of text/html, generated as it is sent.
* ``/binary.html``: binary bytes (a PNG header and NULs) labelled text/html.
* ``/legacy``: a Russian article in windows-1251, declared only in the header.
* ``/empty``: 200 with an empty body.
* ``/no-type``: the article without a Content-Type header.
* ``/scanned.pdf``: a one-page PDF without a text layer.
* ``/slow?s=S``: answers after S seconds (default 1.5).
* ``/image.png``: a 1x1 PNG.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate, parsedate_to_datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BENCH_HTML = SHARED / "data" / "extraction-benchmark" / "html"

HUGE_BYTES = 50_000_000
SLOW_SECONDS = 1.5

ARTICLE_HTML = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Test article</title></head>
<body><article>
<h1>Satellite images show new construction at Sohae</h1>
<p>Commercial satellite imagery taken in March shows new construction at the
Sohae Satellite Launching Station in North Pyongan Province, North Korea.</p>
<p>Analysts said the work suggests preparations for another launch attempt
later this year, although no date has been announced.</p>
</article></body></html>
"""

LEGACY_HTML = """<!DOCTYPE html>
<html lang="ru"><head><title>Новости</title></head>
<body><article>
<h1>Спутниковые снимки показывают новое строительство</h1>
<p>Коммерческие спутниковые снимки, сделанные в марте, показывают новое
строительство на космодроме Сохэ в провинции Пхёнан-Пукто.</p>
<p>Аналитики считают, что работы говорят о подготовке к новому запуску.</p>
</article></body></html>
""".encode("windows-1251")

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
BINARY_AS_HTML = b"\x89PNG\r\n\x1a\n" + b"\x00" * 4096

_FILLER_BLOCK = (b"<p>nkpipe test filler paragraph.</p>\n" * 2000)[:65536]
_BENCH_PATH = re.compile(r"/bench/([0-9A-Za-z_-]+)\.html")


def bench_names() -> list[str]:
    """Names of the benchmark pages ``/bench/<name>.html`` can serve, sorted."""
    return sorted(p.name.removesuffix(".html.gz") for p in BENCH_HTML.glob("*.html.gz"))


def bench_page(name: str) -> bytes:
    return gzip.decompress((BENCH_HTML / f"{name}.html.gz").read_bytes())


def etag_for(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@cache
def scanned_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (barring a race with other processes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RecordedRequest:
    path: str  # without the query
    target: str  # as requested, with the query
    headers: Message


class LocalServer:
    """The running server as the tests see it: URLs and what it was asked."""

    def __init__(self) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.state = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._flaky: Counter[str] = Counter()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """Requests received, all or those whose path (or path with query) is ``path``."""
        with self._lock:
            return [r for r in self._requests if path is None or path in (r.path, r.target)]

    def count(self, path: str) -> int:
        return len(self.requests(path))

    def last_headers(self, path: str) -> Message:
        return self.requests(path)[-1].headers

    def start(self) -> "LocalServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _bump_flaky(self, key: str) -> int:
        with self._lock:
            self._flaky[key] += 1
            return self._flaky[key]


class _Server(ThreadingHTTPServer):
    # Daemon threads and no join on close: a handler still sleeping in /slow
    # must not keep the test session alive.
    daemon_threads = True
    block_on_close = False
    state: LocalServer

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-request (the size-limit and timeout tests do) is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end on their own
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        parts = urlsplit(self.path)
        self.server.state._record(RecordedRequest(parts.path, self.path, self.headers))
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        try:
            self._route(parts.path)(query)
        except (ConnectionError, TimeoutError):
            # The client gave up on purpose (timeout, size limit).
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep test output clean

    def _route(self, path: str) -> Callable[[dict[str, str]], None]:
        match = _BENCH_PATH.fullmatch(path)
        if match:
            return lambda query: self._bench(match.group(1))
        handler = _ROUTES.get(path)
        if handler is None:
            return lambda query: self._send(404, b"not found", "text/plain")
        return lambda query: handler(self, query)

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _bench(self, name: str) -> None:
        source = BENCH_HTML / f"{name}.html.gz"
        if not source.is_file():
            self._send(404, b"no such benchmark page", "text/plain")
            return
        body = gzip.decompress(source.read_bytes())
        mtime = int(source.stat().st_mtime)
        headers = {"ETag": etag_for(body), "Last-Modified": formatdate(mtime, usegmt=True)}
        if self._unchanged(headers["ETag"], mtime):
            self.send_response(304)
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            return
        self._send(200, body, "text/html; charset=utf-8", headers)

    def _unchanged(self, etag: str, mtime: int) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if not since:
            return False
        try:
            return mtime <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False

    def _article(self, query: dict[str, str]) -> None:
        self._send(200, ARTICLE_HTML)

    def _redirect_to(self, location: str) -> None:
        self._send(302, b"", None, {"Location": location})

    def _flaky(self, query: dict[str, str]) -> None:
        key = query.get("id", "default")
        if self.server.state._bump_flaky(key) > int(query.get("fail", "1")):
            self._article(query)
            return
        headers = {"Retry-After": query["retry_after"]} if "retry_after" in query else {}
        self._send(int(query.get("status", "500")), b"try again later", "text/plain", headers)

    def _huge(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()
        for block in _filler(HUGE_BYTES):
            self.wfile.write(block)

    def _huge_chunked(self, query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for block in _filler(HUGE_BYTES):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
        self.wfile.write(b"0\r\n\r\n")

    def _slow(self, query: dict[str, str]) -> None:
        time.sleep(float(query.get("s", SLOW_SECONDS)))
        self._article(query)


def _filler(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        block = _FILLER_BLOCK[: total - sent]
        sent += len(block)
        yield block


_ROUTES: dict[str, Callable[[_Handler, dict[str, str]], None]] = {
    "/article": _Handler._article,
    "/redirect": lambda h, q: h._redirect_to("/article"),
    "/missing": lambda h, q: h._send(404, b"not found", "text/plain"),
    "/flaky": _Handler._flaky,
    "/always500": lambda h, q: h._send(500, b"internal error", "text/plain"),
    "/loop": lambda h, q: h._redirect_to("/loop2"),
    "/loop2": lambda h, q: h._redirect_to("/loop"),
    "/huge": _Handler._huge,
    "/huge-chunked": _Handler._huge_chunked,
    "/binary.html": lambda h, q: h._send(200, BINARY_AS_HTML, "text/html"),
    "/legacy": lambda h, q: h._send(200, LEGACY_HTML, "text/html; charset=windows-1251"),
    "/empty": lambda h, q: h._send(200, b"", "text/html"),
    "/no-type": lambda h, q: h._send(200, ARTICLE_HTML, None),
    "/scanned.pdf": lambda h, q: h._send(200, scanned_pdf(), "application/pdf"),
    "/slow": _Handler._slow,
    "/image.png": lambda h, q: h._send(200, PNG_1X1, "image/png"),
}


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    server = LocalServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def unreachable_url() -> str:
    return f"http://127.0.0.1:{unused_port()}/nothing-listens-here"
