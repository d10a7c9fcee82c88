"""IO step: one source URL (http(s):// or file://) -> its bytes.

Failures come out as one of two exceptions, because the orchestration treats
them differently: ``TransientError`` is retried in the next run, while
``RejectedContent`` becomes a recorded skip with its reason.

What a hostile server can do is bounded: connections go only to addresses the
source's address policy allows, at every redirect (``pipeline.network``); each
request ends by ``[fetch] deadline_s`` and a source's tries by ``source_budget_s``;
bodies are asked for unencoded, and an encoded one is decoded here, one encoding at
most, counting the decoded bytes against ``max_bytes`` as they come.
"""

from __future__ import annotations

import mimetypes
import time
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import httpcore
import httpx

from pipeline.addresses import ANY
from pipeline.config import FetchConfig
from pipeline.errors import RejectedContent, TransientError
from pipeline.network import GuardedBackend, request_deadline
from pipeline.records import FetchState, Fetched, sha256_hex

FETCH_VERSION = "fetch-1"

Sleep = Callable[[float], None]


class _Retryable(Exception):
    """One failed try that may succeed when repeated; never leaves this module."""

    def __init__(self, cause: str, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after


def fetch(
    url: str,
    *,
    previous: FetchState | None,
    config: FetchConfig,
    policy: str = ANY,
    client: httpx.Client | None = None,
    sleep: Sleep = time.sleep,
) -> Fetched:
    """Return the bytes at ``url``, or ``not_modified`` when the server answers 304.

    Raises ``RejectedContent`` for content that cannot become a document (or an address the
    source's ``policy`` refuses, at any hop) and ``TransientError`` once ``config.attempts``
    tries have failed transiently, or the source's time budget is spent.
    """
    if url.startswith("file:"):
        return _fetch_local(url, config)
    if client is not None:
        return _fetch_http(url, previous, config, client, sleep)
    with make_client(config, policy) as own_client:
        return _fetch_http(url, previous, config, own_client, sleep)


def make_client(config: FetchConfig, policy: str = ANY) -> httpx.Client:
    """The client ``fetch`` creates when none is given: it connects only to addresses ``policy`` allows,
    asks for unencoded bodies, and gives up a request that runs past ``config.deadline_s``."""
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(  # the one place httpx lets us choose where it connects
        ssl_context=httpx.create_ssl_context(trust_env=False), max_connections=10,
        network_backend=GuardedBackend(policy))
    return httpx.Client(
        transport=transport,
        trust_env=False,  # a proxy from the environment would connect where no policy looks
        follow_redirects=True,
        max_redirects=config.max_redirects,
        timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
        headers={"User-Agent": user_agent(config), "Accept-Encoding": "identity"},
    )


def user_agent(config: FetchConfig) -> str:
    """nkpipe's honest User-Agent, with the contact of whoever runs it when the config gives one."""
    if not config.contact:
        return config.user_agent
    return f"{config.user_agent[:-1]}; {config.contact})" if config.user_agent.endswith(")") \
        else f"{config.user_agent} ({config.contact})"


# --- local files ---------------------------------------------------------------------


def _fetch_local(url: str, config: FetchConfig) -> Fetched:
    path = _local_path(url)
    if not path.exists():
        raise RejectedContent(f"file not found: {path}")
    if not path.is_file():
        raise RejectedContent(f"not a regular file: {path}")
    stat = path.stat()
    if stat.st_size > config.max_bytes:
        raise RejectedContent(f"file larger than the {config.max_bytes}-byte limit: {path}")
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise RejectedContent(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not body:
        raise RejectedContent("empty file")
    return Fetched(
        url=url,
        not_modified=False,
        body=body,
        content_type=mimetypes.guess_type(path.name)[0],
        charset=None,
        etag=None,
        last_modified=formatdate(stat.st_mtime, usegmt=True),
        http_status=None,
        content_hash=sha256_hex(body),
    )


def _local_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise RejectedContent(f"file URL names a remote host {parsed.netloc!r}: {url}")
    return Path(url2pathname(parsed.path))


# --- HTTP ----------------------------------------------------------------------------


def _fetch_http(
    url: str, previous: FetchState | None, config: FetchConfig, client: httpx.Client, sleep: Sleep
) -> Fetched:
    attempts = max(1, config.attempts)
    started = time.monotonic()
    cause = "no try made"
    for attempt in range(1, attempts + 1):
        try:
            return _try_once(url, previous, config, client)
        except _Retryable as exc:
            cause = exc.cause
            if attempt == attempts:
                break
            delay = _backoff(config, attempt, exc.retry_after)
            if time.monotonic() - started + delay >= config.source_budget_s:
                raise TransientError(
                    f"fetching {url} failed {attempt} times in {time.monotonic() - started:.0f} s (last cause: "
                    f"{cause}); the source's time budget ([fetch] source_budget_s = {config.source_budget_s:g}) "
                    f"is spent, it will be retried in the next run") from exc
            sleep(delay)
    raise TransientError(
        f"fetching {url} failed after {attempts} tries (last cause: {cause}); "
        f"it will be retried in the next run"
    )


def _backoff(config: FetchConfig, attempt: int, retry_after: float | None) -> float:
    delay = config.backoff_s * 2 ** (attempt - 1) if retry_after is None else retry_after
    return max(0.0, min(delay, config.backoff_max_s))


def _try_once(
    url: str, previous: FetchState | None, config: FetchConfig, client: httpx.Client
) -> Fetched:
    headers = _conditional_headers(previous)
    try:
        # Per request, so that a caller's client without redirects behaves the same.
        with request_deadline(config.deadline_s), client.stream(
                "GET", url, headers={**headers, "Accept-Encoding": "identity"}, follow_redirects=True) as response:
            return _read_response(url, response, previous, config, conditional=bool(headers))
    except httpx.TooManyRedirects as exc:
        raise RejectedContent(f"too many redirects (limit {client.max_redirects})") from exc
    except httpx.UnsupportedProtocol as exc:
        raise RejectedContent(f"unsupported URL scheme: {url}") from exc
    except httpx.InvalidURL as exc:
        raise RejectedContent(f"invalid URL {url}: {exc}") from exc
    except httpx.DecodingError as exc:
        raise RejectedContent(f"body cannot be decoded: {exc}") from exc
    except httpx.TransportError as exc:
        raise _Retryable(f"{type(exc).__name__}: {str(exc) or 'no detail'}") from exc
    except httpcore.TimeoutException as exc:  # the deadline, raised where httpx does not translate it
        raise _Retryable(f"ReadTimeout: {exc}") from exc


def _conditional_headers(previous: FetchState | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if previous and previous.etag:
        headers["If-None-Match"] = previous.etag
    if previous and previous.last_modified:
        headers["If-Modified-Since"] = previous.last_modified
    return headers


def _read_response(
    url: str,
    response: httpx.Response,
    previous: FetchState | None,
    config: FetchConfig,
    *,
    conditional: bool,
) -> Fetched:
    _check_status(response, conditional)
    if response.status_code == 304:
        return _not_modified(url, response, previous or FetchState())
    media_type, charset = _parse_content_type(response.headers.get("content-type"))
    # Without a content type the clean stage sniffs the bytes instead.
    if media_type and media_type not in config.allowed_content_types:
        raise RejectedContent(f"unsupported content type {media_type}")
    body = _read_body(response, config.max_bytes)
    return Fetched(
        url=url,
        not_modified=False,
        body=body,
        content_type=media_type,
        charset=charset,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        http_status=response.status_code,
        content_hash=sha256_hex(body),
    )


def _check_status(response: httpx.Response, conditional: bool) -> None:
    status = response.status_code
    described = f"HTTP {status} {response.reason_phrase}".rstrip()
    if status == 429 or status >= 500:
        raise _Retryable(described, _retry_after(response.headers.get("retry-after")))
    if status == 304 and conditional:
        return
    # A 304 we did not ask for would claim an unchanged body we never stored.
    if not 200 <= status < 300:
        raise RejectedContent(described, http_status=status)


def _not_modified(url: str, response: httpx.Response, previous: FetchState) -> Fetched:
    return Fetched(
        url=url,
        not_modified=True,
        body=None,
        content_type=None,
        charset=None,
        etag=response.headers.get("etag") or previous.etag,
        last_modified=response.headers.get("last-modified") or previous.last_modified,
        http_status=304,
        content_hash=previous.content_hash,
    )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    media_type, *params = value.split(";")
    charset = None
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip().strip('"'):
            charset = val.strip().strip('"').lower()
    return media_type.strip().lower() or None, charset


def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    too_large = RejectedContent(f"body larger than the {max_bytes}-byte limit")
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    # Streamed and counted after decoding, so an oversized body without Content-Length (or one
    # that lies about it, or a small one that inflates) is abandoned at the limit, not held in memory.
    decode = _decoder(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    received = 0
    for raw in response.iter_raw():
        for chunk in decode(raw, max_bytes - received + 1):
            received += len(chunk)
            if received > max_bytes:
                raise too_large
            chunks.append(chunk)
    if not received:
        raise RejectedContent("empty body")
    return b"".join(chunks)


def _decoder(header: str):
    """A function (raw chunk, most bytes wanted) -> decoded pieces, for the body's one content encoding."""
    encodings = [e.strip().lower() for e in header.split(",") if e.strip() and e.strip().lower() != "identity"]
    if not encodings:
        return lambda raw, limit: [raw]
    if len(encodings) > 1:
        raise RejectedContent(f"content encodings stacked ({header}); nkpipe decodes one at most")
    if encodings[0] not in ("gzip", "x-gzip", "deflate"):
        raise RejectedContent(f"unsupported content encoding {encodings[0]!r}; nkpipe asked for identity")
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # a gzip or zlib header, whichever the body has

    def decode(raw: bytes, limit: int) -> list[bytes]:
        pieces, data = [], raw
        try:
            while data:
                piece = inflater.decompress(data, max(1, limit))
                pieces.append(piece)
                limit -= len(piece)
                if limit <= 0:  # over the size limit: the caller stops at it, nothing more is inflated
                    break
                data = inflater.unconsumed_tail
        except zlib.error as exc:
            raise RejectedContent(f"body cannot be decoded ({encodings[0]}): {exc}") from exc
        return pieces

    return decode
