"""HTML pages: the article body and metadata by trafilatura (``pipeline.clean.clean_html``)."""

from __future__ import annotations

from pipeline.clean import clean_html, looks_like_html
from pipeline.config import CleanConfig
from pipeline.records import CleanResult
from pipeline.source_types import SOURCE_TYPES, Probe, SourceInput, SourceType, single_document


def _accepts(probe: Probe) -> bool:
    return not probe.content_type.endswith("json") and ("html" in probe.content_type or looks_like_html(probe.head))


def _split(source: SourceInput, config: CleanConfig) -> CleanResult:
    text, metadata = clean_html(source.body, url=source.url, config=config, charset=source.fetched.charset)
    return single_document(source, text, metadata, "html", config)


SOURCE_TYPES.register(SourceType(
    name="html_page", format="html", priority=50, accepts=_accepts, split=_split,
    describes="an HTML page", content_types=("text/html", "application/xhtml+xml")))
