"""Validate, normalise and register source URLs and local files."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit
from urllib.request import url2pathname

from pipeline.addresses import ANY, POLICIES, PUBLIC
from pipeline.config import FetchConfig
from pipeline.errors import DuplicateSourceError, InvalidSourceError, SourceError
from pipeline.records import SOURCE_KINDS, Discovery, Source
from pipeline.store import ledger
from pipeline.store.db import Store

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TRACKING_PARAMS = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


@dataclass(frozen=True)
class SourceSpec:
    """A source to register, as written on the command line or in a source list."""

    url: str
    kind: str | None = None
    name: str | None = None
    published: date | None = None
    source_type: str | None = None  # a source type's name (feed, sitemap, listing_page, ...); None: detected
    link_pattern: str | None = None  # listing pages: a regular expression the article links match
    max_pages: int | None = None  # listing pages: pages to follow (default [discovery] max_pages)
    state_media: bool = False  # its articles are state-media reports, read by the activity register


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return bool(host) and all(_HOST_LABEL.match(label) for label in labels)


def _normalise_http(raw: str) -> str:
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    if not host or not _valid_host(host):
        raise InvalidSourceError(f"{raw!r} is not a valid URL: it has no valid host name")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidSourceError(f"{raw!r} is not a valid URL: bad port") from exc
    scheme = parts.scheme.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets, or the URL would not parse again
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username:
        raise InvalidSourceError(f"{raw!r}: URLs with credentials are refused; keep secrets out of sources")
    path = quote(unquote(parts.path or "/"), safe="/:@!$&'()*+,;=-._~%")
    query = urlencode(sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING_PARAMS.match(k.lower())
    ))
    return urlunsplit((scheme, netloc, path, query, ""))


def _normalise_path(raw: str, base_dir: Path) -> str:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    path = path.resolve()
    if not path.exists():
        raise InvalidSourceError(f"local file {str(path)!r} does not exist; check the path")
    if not path.is_file():
        raise InvalidSourceError(f"{str(path)!r} is not a file; give one file per source")
    return path.as_uri()


def normalise_source_url(raw: str, base_dir: Path | None = None) -> str:
    """Canonical form used for storage and duplicate detection.

    http(s) URLs: lower-case scheme and host, no default port, no fragment,
    sorted query without tracking parameters. Local paths become ``file://`` URIs
    of the resolved absolute path.
    """
    raw = (raw or "").strip()
    base = base_dir or Path.cwd()
    if not raw:
        raise InvalidSourceError("empty source: give an http(s) URL or a local file path")
    if any(ch.isspace() for ch in raw) and _SCHEME.match(raw) and not raw.lower().startswith("file:"):
        raise InvalidSourceError(f"{raw!r} is not a valid URL: it contains spaces")
    match = _SCHEME.match(raw)
    scheme = match.group(1).lower() if match else ""
    if scheme in ("http", "https"):
        if not raw[len(scheme) + 1:].startswith("//"):
            raise InvalidSourceError(f"{raw!r} is not a valid URL: expected {scheme}://host/...")
        return _normalise_http(raw)
    if scheme == "file":
        remote = urlsplit(raw).netloc
        if remote not in ("", "localhost"):
            raise InvalidSourceError(f"{raw!r} names the host {remote!r}; file:// URLs are local files only "
                                     f"(write file:///path or the path itself)")
        return _normalise_path(url2pathname(urlsplit(raw).path), base)
    if scheme and len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise InvalidSourceError(
            f"unsupported scheme {scheme!r} in {raw!r}; nkpipe takes http(s) URLs and local file paths"
        )
    return _normalise_path(raw, base)


def guess_kind(url: str) -> str:
    lowered = url.lower()
    if lowered.endswith(".json"):
        return "kcna"
    if lowered.endswith(".pdf"):
        return "brief"
    return "article"


def command_line_policy(config: FetchConfig) -> str:
    """The address policy of sources registered on the server (`nkpipe sources add`, `nkpipe ingest`)."""
    return ANY if config.private_addresses else PUBLIC


def parse_published(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidSourceError(f"published date {value!r} is not YYYY-MM-DD") from exc


def register_source(store: Store, spec: SourceSpec, base_dir: Path | None = None,
                    address_policy: str = ANY) -> Source:
    """Validate and add one source; raises DuplicateSourceError if already there.

    ``address_policy`` (``pipeline.addresses``) says which addresses fetching it may reach.
    """
    url = normalise_source_url(spec.url, base_dir)
    kind = spec.kind or guess_kind(url)
    if kind not in SOURCE_KINDS:
        raise InvalidSourceError(f"unknown kind {kind!r}; choose one of {', '.join(SOURCE_KINDS)}")
    if address_policy not in POLICIES:
        raise InvalidSourceError(f"unknown address policy {address_policy!r}; choose one of {', '.join(POLICIES)}")
    return ledger.add_source(store, url, kind, spec.name, parse_published(spec.published), address_policy,
                             discovery_of(spec))


def discovery_of(spec: SourceSpec) -> Discovery:
    """The discovery settings a source is registered with, checked."""
    from pipeline.source_types import SOURCE_TYPES, type_names

    if spec.source_type is not None and spec.source_type not in SOURCE_TYPES:
        raise InvalidSourceError(f"unknown source type {spec.source_type!r}; choose one of {', '.join(type_names())}")
    if spec.source_type == "listing_page" and not spec.link_pattern:
        raise InvalidSourceError("a listing page needs --link-pattern: a regular expression that its article "
                                 "links match (e.g. '/news/\\d+')")
    if spec.link_pattern:
        if spec.source_type != "listing_page":
            raise InvalidSourceError("--link-pattern is for listing pages; add --type listing_page")
        try:
            re.compile(spec.link_pattern)
        except re.error as exc:
            raise InvalidSourceError(f"the link pattern {spec.link_pattern!r} is not a regular expression: {exc}") from exc
    if spec.max_pages is not None and spec.max_pages < 1:
        raise InvalidSourceError(f"--max-pages must be at least 1, got {spec.max_pages}")
    return Discovery(source_type=spec.source_type, link_pattern=spec.link_pattern, max_pages=spec.max_pages,
                     state_media=spec.state_media)


def ensure_source(store: Store, spec: SourceSpec, base_dir: Path | None = None,
                  address_policy: str = ANY, progress: Callable[[str], None] | None = None) -> Source:
    """The registered source for ``spec``, registering it if it is new.

    A registered source given a different publication date is re-dated: its documents
    are cleaned and their facts extracted again on the next run, against the new date.
    Idempotent when two runs register the same source at once: the one that finds it
    registered meanwhile returns that source.
    """
    url = normalise_source_url(spec.url, base_dir)
    existing = ledger.find_source(store, url)
    published = parse_published(spec.published)
    if existing and published is not None and existing.published != published:
        if progress:
            progress(f"source {existing.id}: publication date {existing.published or 'none'} -> {published}; "
                     f"its documents will be processed again")
        return ledger.redate_source(store, existing.id, published)
    if existing:
        return existing
    try:
        return register_source(store, spec, base_dir, address_policy)
    except DuplicateSourceError:
        again = ledger.find_source(store, url)
        if again is None:  # pragma: no cover - a source is never deleted
            raise
        return again


def read_source_list(path: Path) -> list[SourceSpec]:
    """Read a TOML source list (``[[source]]`` tables); relative paths are relative to it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SourceError(f"source list {str(path)!r} does not exist; check [paths] default_sources") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"source list {str(path)!r} is not valid TOML: {exc}") from exc
    specs = []
    for entry in data.get("source", []):
        unknown = set(entry) - {"url", "kind", "name", "published", "type", "link_pattern", "max_pages", "state_media"}
        if unknown or "url" not in entry:
            raise SourceError(
                f"{path}: each [[source]] needs url and may have kind, name, published, type, link_pattern, "
                f"max_pages, state_media; got {sorted(entry)}"
            )
        url = entry["url"]
        if not _SCHEME.match(url) or len(_SCHEME.match(url).group(1)) == 1:
            url = str((path.parent / url).resolve())
        specs.append(SourceSpec(url, entry.get("kind"), entry.get("name"), parse_published(entry.get("published")),
                                entry.get("type"), entry.get("link_pattern"), entry.get("max_pages"),
                                bool(entry.get("state_media", False))))
    return specs


def register_default_sources(store: Store, source_list: Path) -> list[Source]:
    """On a new, empty store, register the bundled source list; otherwise do nothing."""
    if ledger.count_sources(store) > 0:
        return []
    return [ensure_source(store, spec) for spec in read_source_list(source_list)]
