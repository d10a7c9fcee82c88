"""Where fetches may connect, and for how long: the network under ``pipeline.fetch``'s HTTP client.

httpx resolves a host and connects wherever the name points, redirect after redirect. Here the
connection is made by ``GuardedBackend`` instead: it resolves the host itself, checks every
address against the source's address policy (``pipeline.addresses``) and connects to an address
it checked, so neither a redirect to 127.0.0.1 nor a DNS answer that changes between a check
and the connection reaches an address the policy refuses. Every read and write also honours
the deadline of the request in progress (``request_deadline``), so a server that sends one
byte every few seconds cannot hold a run longer than ``[fetch] deadline_s``.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterable, Iterator

import httpcore
from httpcore._backends.sync import SyncBackend

from pipeline.addresses import refusal, resolve
from pipeline.errors import RejectedContent

_local = threading.local()


@contextlib.contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Every connect, read and write in this thread within the block ends by ``seconds`` from now."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.deadline = previous


def _bounded(timeout: float | None) -> float | None:
    """``timeout`` cut to what is left of the deadline; ReadTimeout once nothing is."""
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the fetch ran past its deadline ([fetch] deadline_s)")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the address policy allows, and only within the deadline."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self._inner = SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        addresses = resolve(host)
        reason = refusal(host, addresses, self.policy)
        if reason is not None:
            raise RejectedContent(f"not fetched: {reason}")
        last_error: Exception | None = None
        for address in addresses:  # every one was checked above; connect to the first that answers
            try:
                stream = self._inner.connect_tcp(str(address), port, _bounded(timeout), local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            return DeadlineStream(stream)
        raise last_error or httpcore.ConnectError(f"cannot connect to {host}")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        raise RejectedContent("not fetched: sources are fetched over TCP only")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
