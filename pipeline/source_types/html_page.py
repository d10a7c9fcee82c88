"""HTML pages: the article body and metadata by trafilatura (``pipeline.clean.clean_html``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pipeline.clean import clean_html, looks_like_html
from pipeline.config import CleanConfig
from pipeline.discovery import absolute_link
from pipeline.records import CleanResult
from pipeline.source_types import SOURCE_TYPES, Probe, SourceInput, SourceType, single_document


def _accepts(probe: Probe) -> bool:
    return not probe.content_type.endswith("json") and ("html" in probe.content_type or looks_like_html(probe.head))


def _split(source: SourceInput, config: CleanConfig) -> CleanResult:
    text, metadata = clean_html(source.body, url=source.url, config=config, charset=source.fetched.charset)
    return single_document(source, text, metadata, "html", config, url=canonical_url(source, metadata.get("canonical")))


def canonical_url(source: SourceInput, canonical: str | None) -> str:
    """The page's canonical address (rel=canonical) for a discovered article, when it is on the
    article's own host: two links to one article are one document, and no page names itself as
    another host's (or another source's) document."""
    if not canonical or source.discovery.parent_id is None:
        return source.url
    found = absolute_link(canonical, source.url)
    if found is None or urlsplit(found).netloc != urlsplit(source.url).netloc or urlsplit(found).path in ("", "/"):
        return source.url  # another host's, or the site's home page (a template default): not this article's
    return found


SOURCE_TYPES.register(SourceType(
    name="html_page", format="html", priority=50, accepts=_accepts, split=_split,
    describes="an HTML page", content_types=("text/html", "application/xhtml+xml")))
