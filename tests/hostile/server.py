"""A hostile HTTP server on loopback: redirects inward, compression bombs, slow drips.

It binds 127.0.0.2 by default, which the tests treat as a public address (``public_loopback``
in conftest): the server plays a public site on the internet, and 127.0.0.1 the inside of the
machine that a public source must never reach. Raw sockets, so that nothing normalises what a
hostile server would send. Every request is recorded.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import parse_qs, urlsplit

ARTICLE = (b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Report</title></head><body><article>"
           b"<h1>Market report</h1><p>Rice sold for 6,200 won per kilogram in Pyongyang markets this week, "
           b"traders said, while corn stayed near 3,100 won.</p><p>The dollar traded at 8,050 won.</p>"
           b"</article></body></html>")
BOMB_BYTES = 2 * 2**30  # what the bombs inflate to: 2 GiB of zeros


@cache
def gzipped_zeros() -> bytes:
    """2 GiB of zeros, gzipped (about 2 MB)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * 2**24
    parts = [squeeze.compress(block) for _ in range(BOMB_BYTES // len(block))]
    return b"".join(parts) + squeeze.flush()


@cache
def stacked_bomb() -> bytes:
    """The same zeros gzipped twice: a few kilobytes on the wire."""
    return gzip.compress(gzipped_zeros(), 9)


Handler = Callable[[socket.socket, str, dict], None]


@dataclass
class HostileServer:
    host: str = "127.0.0.2"
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.host, 0))
        self._socket.listen(64)
        self.port = self._socket.getsockname()[1]
        self._stopped = threading.Event()
        self.routes = {**default_routes(), **self.routes}
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str, host: str | None = None) -> str:
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"http://{name}:{self.port}{path}"

    def stop(self) -> None:
        self._stopped.set()
        self._socket.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            request_line, *header_lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
            target = request_line.split(" ")[1]
            self.requests.append(target)
            headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
            handler = self.routes.get(urlsplit(target).path, not_found)
            handler(conn, target, headers)
        except OSError:
            pass
        finally:
            with _quiet():
                conn.close()


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True


def send(conn: socket.socket, status: str, headers: dict[str, str], body: bytes = b"") -> None:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close", "", ""]
    conn.sendall("\r\n".join(lines).encode("latin-1") + body)


def query(target: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}


def not_found(conn, target, headers) -> None:
    send(conn, "404 Not Found", {"Content-Length": "0"})


def article(conn, target, headers) -> None:
    send(conn, "200 OK", {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(ARTICLE))}, ARTICLE)


def redirect(conn, target, headers) -> None:
    send(conn, "302 Found", {"Location": query(target)["to"], "Content-Length": "0"})


def gzip_bomb(conn, target, headers) -> None:
    body = gzipped_zeros()
    send(conn, "200 OK", {"Content-Type": "text/html", "Content-Encoding": "gzip", "Content-Length": str(len(body))},
         body)


def stacked_gzip_bomb(conn, target, headers) -> None:
    body = stacked_bomb()
    send(conn, "200 OK", {"Content-Type": "text/html", "Content-Encoding": "gzip, gzip",
                          "Content-Length": str(len(body))}, body)


def drip(conn, target, headers) -> None:
    """Headers at once, then one byte every ``every`` seconds, for as long as the client stays."""
    every = float(query(target).get("every", "0.5"))
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(100000):
        conn.sendall(b"x")
        time.sleep(every)


def deep_json(conn, target, headers) -> None:
    body = ("[" * 100_000 + "]" * 100_000).encode()
    send(conn, "200 OK", {"Content-Type": "application/json", "Content-Length": str(len(body))}, body)


def poisoned_archive_for(url: str) -> bytes:
    """A KCNA-format archive whose one item claims ``url``, with a fake tally."""
    return json.dumps([{"topic": "Top News", "headline": "Report", "link": url, "date_str": "2024-06-01",
                        "story_text": "Kim Jong Un made 999 military inspections in 2024, the report said."}]).encode()


def default_routes() -> dict[str, Handler]:
    return {"/article": article, "/redirect": redirect, "/gzip-bomb": gzip_bomb, "/gzip-stacked": stacked_gzip_bomb,
            "/drip": drip, "/deep.json": deep_json}
