"""RSS, Atom and JSON Feed documents: the articles they list (``pipeline.discovery.feed_links``)."""

from __future__ import annotations

from pipeline.config import CleanConfig
from pipeline.discovery import FEED_CONTENT_TYPES, feed_links, looks_like_feed
from pipeline.records import CleanResult
from pipeline.source_types import SOURCE_TYPES, Probe, SourceInput, SourceType


def _accepts(probe: Probe) -> bool:
    return looks_like_feed(probe.head, probe.content_type)


def _split(source: SourceInput, config: CleanConfig) -> CleanResult:
    content_type = (source.fetched.content_type or "").lower()
    return CleanResult(documents=(), links=tuple(feed_links(source.body, source.url, content_type)))


SOURCE_TYPES.register(SourceType(
    name="feed", format="html", priority=70, accepts=_accepts, split=_split,
    describes="an RSS, Atom or JSON feed", content_types=FEED_CONTENT_TYPES, yields="links"))
