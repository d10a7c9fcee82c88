"""A section page listing articles: the links that match the analyst's pattern, and the next page.

Only for sources registered as this type (``--type listing_page --link-pattern REGEX``): any
HTML page is otherwise an article (``html_page``).
"""

from __future__ import annotations

from pipeline.config import CleanConfig
from pipeline.discovery import listing_links
from pipeline.records import CleanResult
from pipeline.source_types import SOURCE_TYPES, Probe, SourceInput, SourceType
from pipeline.source_types.html_page import _accepts as _is_html


def _accepts(probe: Probe) -> bool:
    return probe.named_type == "listing_page" and _is_html(probe)


def _split(source: SourceInput, config: CleanConfig) -> CleanResult:
    links = listing_links(source.body, source.url, source.discovery.link_pattern, source.fetched.charset)
    return CleanResult(documents=(), links=tuple(links))


SOURCE_TYPES.register(SourceType(
    name="listing_page", format="html", priority=60, accepts=_accepts, split=_split,
    describes="a listing page (HTML with article links matching a pattern)",
    content_types=("text/html", "application/xhtml+xml"), yields="links", named_only=True))
