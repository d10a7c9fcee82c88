"""A small fake web on 127.0.0.1 for discovery tests: several hosts (one port each), whose pages a
test sets night by night, answering conditional GETs, and recording every request.

``FakeWeb`` starts ``hosts`` servers; ``web[name].put(path, body, content_type)`` serves a page,
``web[name].remove(path)`` makes it 404 (or ``gone=True``: 410); ``web[name].requests()``
lists what was asked, with the time each request started and ended.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Hit:
    path: str
    started: float
    ended: float
    user_agent: str
    conditional: bool
    status: int


@dataclass
class Page:
    body: bytes
    content_type: str
    status: int = 200
    delay_s: float = 0.0

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'


class FakeHost:
    def __init__(self, name: str) -> None:
        self.name = name
        self.pages: dict[str, Page] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests this host was answering at once
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.host = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
            delay_s: float = 0.0) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self.pages[path] = Page(data, content_type, delay_s=delay_s)

    def remove(self, path: str, gone: bool = False) -> None:
        with self.lock:
            self.pages[path] = Page(b"gone" if gone else b"not found", "text/plain", status=410 if gone else 404)

    def requests(self, path: str | None = None) -> list[Hit]:
        with self.lock:
            return [hit for hit in self.hits if path is None or hit.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        host: FakeHost = self.server.host  # type: ignore[attr-defined]
        started = time.monotonic()
        with host.lock:
            page = host.pages.get(self.path)
            host.in_flight += 1
            host.max_in_flight = max(host.max_in_flight, host.in_flight)
        if page is not None and page.delay_s:
            time.sleep(page.delay_s)
        conditional = "If-None-Match" in self.headers
        if page is None:
            status, body, headers = 404, b"not found", {"Content-Type": "text/plain"}
        elif page.status != 200:
            status, body, headers = page.status, page.body, {"Content-Type": page.content_type}
        elif conditional and self.headers["If-None-Match"] == page.etag:
            status, body, headers = 304, b"", {"ETag": page.etag}
        else:
            status, body, headers = 200, page.body, {"Content-Type": page.content_type, "ETag": page.etag}
        with host.lock:
            host.in_flight -= 1  # before the answer goes out: the client may ask again as soon as it has it
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
        with host.lock:
            host.hits.append(Hit(self.path, started, time.monotonic(), self.headers.get("User-Agent", ""),
                                 conditional, status))


class FakeWeb:
    def __init__(self, names: list[str]) -> None:
        self.hosts = {name: FakeHost(name) for name in names}

    def __getitem__(self, name: str) -> FakeHost:
        return self.hosts[name]

    def close(self) -> None:
        for host in self.hosts.values():
            host.close()
