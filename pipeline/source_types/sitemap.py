"""XML sitemaps and sitemap indexes, news sitemaps included (``pipeline.discovery.sitemap_links``)."""

from __future__ import annotations

from pipeline.config import CleanConfig
from pipeline.discovery import XML_CONTENT_TYPES, looks_like_sitemap, sitemap_links
from pipeline.records import CleanResult
from pipeline.source_types import SOURCE_TYPES, Probe, SourceInput, SourceType


def _accepts(probe: Probe) -> bool:
    return looks_like_sitemap(probe.head, probe.content_type)


def _split(source: SourceInput, config: CleanConfig) -> CleanResult:
    links, _ = sitemap_links(source.body, source.url)
    return CleanResult(documents=(), links=tuple(links))


SOURCE_TYPES.register(SourceType(
    name="sitemap", format="html", priority=70, accepts=_accepts, split=_split,
    describes="an XML sitemap or sitemap index", content_types=XML_CONTENT_TYPES, yields="links"))
