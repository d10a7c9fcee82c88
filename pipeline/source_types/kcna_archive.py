"""KCNA archives: a JSON list of items with link, headline, topic, date and story_text.

The format of the bundled archive (``corpus/kcna/``). One document per link; its documents
are state-media reports, so the activity register reads them. A source registered with
kind ``kcna`` is read as an archive whatever its content type says.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from pipeline.clean import clean_field, looks_like_json_list, normalise_text
from pipeline.config import CleanConfig
from pipeline.entities import repair_glued_words
from pipeline.errors import RejectedContent
from pipeline.records import CleanDocument, CleanResult, ItemSkip
from pipeline.source_types import SOURCE_TYPES, Probe, SourceInput, SourceType

FORMAT = "kcna"
EMPTY_STORY = "empty story_text in archive"
DUPLICATE_LINK = "duplicate of another item with the same link (kept the longer version)"

_KCNA_KEYS = ("link", "story_text")

def _load_archive(body: bytes) -> list[dict[str, Any]]:
    try:
        items = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RejectedContent(f"not a KCNA archive: invalid JSON ({exc})") from exc
    except RecursionError as exc:  # [[[[...]]]] a hundred thousand deep
        raise RejectedContent("not a KCNA archive: JSON nested too deeply to read") from exc
    if not isinstance(items, list):
        raise RejectedContent(
            f"not a KCNA archive: expected a JSON list of items, got {type(items).__name__}"
        )
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in _KCNA_KEYS):
            raise RejectedContent(
                f"not a KCNA archive: item {index} is not an object with string "
                f"'link' and 'story_text' fields"
            )
        if not item["link"].strip():
            raise RejectedContent(f"not a KCNA archive: item {index} has an empty 'link'")
    return items

def _kcna_date(item: dict[str, Any]) -> date | None:
    """The UTC day of ``date`` (epoch milliseconds), else ``date_str``."""
    millis = item.get("date")
    if isinstance(millis, (int, float)) and not isinstance(millis, bool):
        try:
            return datetime.fromtimestamp(millis / 1000, tz=timezone.utc).date()
        except (OverflowError, OSError, ValueError):
            pass
    try:
        return date.fromisoformat(str(item.get("date_str") or "")[:10])
    except ValueError:
        return None

def _kcna_document(item: dict[str, Any], text: str) -> CleanDocument:
    link = item["link"].strip()
    topic = item.get("topic")
    return CleanDocument(
        key=link,
        url=link,
        title=clean_field(item.get("headline")),
        author=None,
        published=_kcna_date(item),
        text=text,
        format=FORMAT,
        section=clean_field(topic),
    )

def clean_kcna_archive(body: bytes) -> CleanResult:
    """One document per link of a KCNA JSON archive.

    Several items can share a link (revisions of one story): the longest text is
    kept so a story is counted once, and every other copy is a recorded skip.
    """
    kept: dict[str, CleanDocument] = {}
    skips: list[ItemSkip] = []
    for item in _load_archive(body):
        link = item["link"].strip()
        text = repair_glued_words(normalise_text(item["story_text"]))  # "ComradeKim Jong Uninspected"
        if not text:
            skips.append(ItemSkip(key=link, reason=EMPTY_STORY))
            continue
        document = _kcna_document(item, text)
        previous = kept.get(link)
        if previous is not None:
            skips.append(ItemSkip(key=link, reason=DUPLICATE_LINK))
            if len(previous.text) >= len(text):
                continue
        kept[link] = document
    return CleanResult(documents=tuple(kept.values()), skips=tuple(skips))


def _is_archive(body: bytes) -> bool:
    try:
        _load_archive(body)
    except RejectedContent:
        return False
    return True


def _accepts(probe: Probe) -> bool:
    json_like = probe.content_type.endswith("json") or looks_like_json_list(probe.head)
    return probe.kind == "kcna" or (json_like and _is_archive(probe.body))


def _split(source: SourceInput, config: CleanConfig) -> CleanResult:
    return clean_kcna_archive(source.body)


SOURCE_TYPES.register(SourceType(
    name="kcna_archive", format=FORMAT, priority=90, accepts=_accepts, split=_split,
    describes="a KCNA archive (a list of items with link and story_text)",
    content_types=("application/json",), state_media=True))
