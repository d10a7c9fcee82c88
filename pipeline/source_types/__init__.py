"""Source types: what nkpipe can read from a fetched source, and how it splits into documents.

A source type is one module that registers a ``SourceType`` in ``SOURCE_TYPES``: what it
accepts (``accepts`` on a probe of the bytes, the content type and the source's declared
kind), what it yields, and how it turns the bytes into documents (``split``). A page, a
PDF or a text file is one document; an archive is one document per item. A type may
instead yield links to fetch as documents of the same source (a feed, a sitemap, a
listing page: ``yields = "links"``), which the discovery issue fills in. Types are asked
by priority; binary content reaches only types that read binary (PDF), the rest of it is
a recorded skip. A type whose documents are state-media reports (``state_media``) feeds
the activity register.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pipeline.clean import binary_reason
from pipeline.config import CleanConfig
from pipeline.errors import RejectedContent
from pipeline.records import CleanDocument, CleanResult, Discovery, Fetched
from pipeline.registry import Registry

PROBE_BYTES = 8192


@dataclass(frozen=True)
class Probe:
    """What a type looks at to decide whether it reads a source."""

    body: bytes
    head: bytes  # the first PROBE_BYTES
    content_type: str  # lower case, without parameters ("" when the server sent none)
    kind: str  # the source's declared kind: article | brief | kcna
    named_type: str | None = None  # the type the analyst named for the source, if any


@dataclass(frozen=True)
class SourceInput:
    """A fetched source as a type's ``split`` gets it."""

    fetched: Fetched
    body: bytes
    url: str
    published: date | None  # given when the source was registered; beats the date found in the page
    kind: str
    discovery: Discovery = Discovery()  # a listing page's link pattern, a discovered article's place


@dataclass(frozen=True)
class SourceType:
    name: str
    format: str  # documents.format of what it yields
    priority: int  # asked before types of lower priority
    accepts: Callable[[Probe], bool]
    split: Callable[[SourceInput, CleanConfig], CleanResult]
    describes: str  # for messages: "a KCNA archive (a list of items with link and story_text)"
    content_types: tuple[str, ...] = ()  # what servers call it
    binary: bool = False  # reads binary content (else binary bytes are a skip before it is asked)
    yields: Literal["documents", "links"] = "documents"
    state_media: bool = False  # its documents are state-media reports, read by the activity register
    named_only: bool = False  # read only sources registered as this type (a listing page is HTML too)


SOURCE_TYPES: Registry[SourceType] = Registry(
    "source type",
    builtin_modules=("pipeline.source_types.pdf", "pipeline.source_types.kcna_archive",
                     "pipeline.source_types.feed", "pipeline.source_types.sitemap",
                     "pipeline.source_types.listing_page",
                     "pipeline.source_types.html_page", "pipeline.source_types.plain_text"),
    order=lambda source_type: (-source_type.priority, source_type.name),
)


def state_media_formats() -> tuple[str, ...]:
    """Document formats of the types whose documents are state-media reports."""
    return tuple(t.format for t in SOURCE_TYPES if t.state_media)


def type_names() -> tuple[str, ...]:
    return tuple(t.name for t in SOURCE_TYPES)


def link_types() -> tuple[str, ...]:
    """Names of the types that yield links to fetch (feeds, sitemaps, listing pages)."""
    return tuple(t.name for t in SOURCE_TYPES if t.yields == "links")


def detect_source_type(body: bytes, content_type: str | None, kind: str,
                       named_type: str | None = None) -> SourceType:
    """The type that reads these bytes (the one named for the source, if any, when it accepts them);
    RejectedContent (a recorded skip) when none does."""
    probe = Probe(body, body[:PROBE_BYTES], (content_type or "").split(";")[0].strip().lower(), kind, named_type)
    if named_type:
        named = SOURCE_TYPES.get(named_type)
        if (not named.binary and binary_reason(probe.head)) or not named.accepts(probe):
            raise RejectedContent(f"the source was registered as {named.describes}, and this is not one "
                                  f"(content type {probe.content_type or 'unknown'})")
        return named
    types = [t for t in SOURCE_TYPES if not t.named_only]
    found = next((t for t in types if t.binary and t.accepts(probe)), None)
    if found is not None:
        return found
    reason = binary_reason(probe.head)
    if reason:
        raise RejectedContent(reason)
    found = next((t for t in types if not t.binary and t.accepts(probe)), None)
    if found is not None:
        return found
    readers = [t.describes for t in types if _reads(t, probe.content_type)] or [t.describes for t in types]
    what = "JSON" if probe.content_type.endswith("json") else f"content of type {probe.content_type or 'unknown'}"
    raise RejectedContent(f"{what} that is not {' or '.join(readers)}")


def _reads(source_type: SourceType, content_type: str) -> bool:
    if content_type.endswith("json"):
        return any(known.endswith("json") for known in source_type.content_types)
    return content_type in source_type.content_types


def split_source(fetched: Fetched, *, kind: str, url: str, published: date | None,
                 config: CleanConfig, discovery: Discovery = Discovery()) -> CleanResult:
    """The documents of one fetched source (one, or one per archive item), or the links it lists."""
    if fetched.not_modified:
        raise ValueError("split_source needs a body; a 304 Not Modified response has none")
    body = fetched.body or b""
    if not body.strip():
        raise RejectedContent("empty body")
    source_type = detect_source_type(body, fetched.content_type, kind, discovery.source_type)
    return source_type.split(SourceInput(fetched, body, url, published, kind, discovery), config)


def single_document(source: SourceInput, text: str, metadata: dict, fmt: str, config: CleanConfig,
                    url: str | None = None) -> CleanResult:
    """A page, file or brief as one document keyed by its URL (``url``: its canonical one, if another)."""
    if len(text) < config.min_text_chars:
        raise RejectedContent(f"no article text found ({len(text)} characters after cleaning)")
    document = CleanDocument(
        key=url or source.url, url=url or source.url, title=metadata["title"], author=metadata["author"],
        published=source.published or metadata["published"], text=text,
        format=fmt,  # type: ignore[arg-type]  # one of the Literal values by construction
    )
    return CleanResult(documents=(document,))
