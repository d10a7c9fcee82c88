"""An example source type in one file: a CSV archive of state-media items, one document per row.

Columns ``link,title,date,text``; read when the server (or the file name) says text/csv or the
header is exactly that. Its documents are state-media reports, so the activity register reads them.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from pipeline.clean import decode_text, normalise_text
from pipeline.config import CleanConfig
from pipeline.errors import RejectedContent
from pipeline.records import CleanDocument, CleanResult, ItemSkip
from pipeline.source_types import SOURCE_TYPES, Probe, SourceInput, SourceType

HEADER = b"link,title,date,text"


def _accepts(probe: Probe) -> bool:
    return probe.content_type == "text/csv" or probe.head.lstrip(b"\xef\xbb\xbf").startswith(HEADER)


def _split(source: SourceInput, config: CleanConfig) -> CleanResult:
    reader = csv.DictReader(io.StringIO(decode_text(source.body, source.fetched.charset)))
    if reader.fieldnames != ["link", "title", "date", "text"]:
        raise RejectedContent(f"a CSV archive needs the columns link,title,date,text; got {reader.fieldnames}")
    documents, skips = [], []
    for row in reader:
        text = normalise_text(row["text"] or "")
        if not text:
            skips.append(ItemSkip(row["link"], "empty text in CSV archive"))
            continue
        documents.append(CleanDocument(key=row["link"], url=row["link"], title=row["title"] or None, author=None,
                                       published=date.fromisoformat(row["date"]) if row["date"] else None,
                                       text=text, format="csv"))  # type: ignore[arg-type]
    return CleanResult(tuple(documents), tuple(skips))


SOURCE_TYPE = SourceType(name="csv_archive", format="csv", priority=80, accepts=_accepts, split=_split,
                         describes="a CSV archive (link,title,date,text)", content_types=("text/csv",),
                         state_media=True)
SOURCE_TYPES.register(SOURCE_TYPE, replace=True)
