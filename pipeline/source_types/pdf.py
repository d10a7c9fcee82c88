"""PDF files (think-tank briefs): the text of every page, and the PDF's own title, author and date."""

from __future__ import annotations

from pipeline.clean import clean_pdf
from pipeline.config import CleanConfig
from pipeline.records import CleanResult
from pipeline.source_types import SOURCE_TYPES, Probe, SourceInput, SourceType, single_document


def _accepts(probe: Probe) -> bool:
    return b"%PDF-" in probe.head[:1024] or probe.content_type == "application/pdf"  # some writers put junk first


def _split(source: SourceInput, config: CleanConfig) -> CleanResult:
    text, metadata = clean_pdf(source.body)
    return single_document(source, text, metadata, "pdf", config)


SOURCE_TYPES.register(SourceType(
    name="pdf", format="pdf", priority=100, accepts=_accepts, split=_split, binary=True,
    describes="a PDF with a text layer", content_types=("application/pdf",)))
