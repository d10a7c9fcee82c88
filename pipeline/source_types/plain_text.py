"""Plain text files and pages: decoded, boilerplate lines removed; the first line may be the title."""

from __future__ import annotations

from pipeline.clean import clean_plain_text
from pipeline.config import CleanConfig
from pipeline.records import CleanResult
from pipeline.source_types import SOURCE_TYPES, Probe, SourceInput, SourceType, single_document


def _accepts(probe: Probe) -> bool:
    return not probe.content_type.endswith("json")  # what no other type took, unless it claims to be data


def _split(source: SourceInput, config: CleanConfig) -> CleanResult:
    text, title = clean_plain_text(source.body, charset=source.fetched.charset)
    metadata = {"title": title, "author": None, "published": None, "sitename": None}
    return single_document(source, text, metadata, "text", config)


SOURCE_TYPES.register(SourceType(
    name="plain_text", format="text", priority=0, accepts=_accepts, split=_split,
    describes="plain text", content_types=("text/plain",)))
