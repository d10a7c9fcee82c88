"""Stable keys of what reviewers correct; they never use database row ids, which change on every re-run.

* sector label: ``sector:<text hash>:<unit>:<unit index>``
* fact:         ``fact:<text hash>:<start char>:<end char>:<kind>:<n>`` (n: the n-th fact of that span
                and kind, in extraction order: "about 100 in 2022 and 2023" is two facts on one span)
* activity:     ``activity:<activity id>``
* person alias: ``alias:<surface form>``

The text hash is the sha256 of the cleaned document text, so a correction follows the
text it was made on, under any URL, and lapses when that text changes.
"""

from __future__ import annotations

from pipeline.errors import ReviewError

# target type -> how many ":"-separated parts follow it (1: the rest, colons included)
KEY_SHAPES = {"sector": 3, "fact": 5, "activity": 1, "alias": 1}


def sector_key(text_hash: str, unit: str, unit_index: int) -> str:
    return f"sector:{text_hash}:{unit}:{unit_index}"


def fact_key(text_hash: str, start_char: int, end_char: int, kind: str, ordinal: int = 0) -> str:
    return f"fact:{text_hash}:{start_char}:{end_char}:{kind}:{ordinal}"


def activity_key(activity_id: str) -> str:
    return f"activity:{activity_id}"


def alias_key(alias: str) -> str:
    return f"alias:{alias}"


def parse_key(key: str) -> tuple[str, list[str]]:
    """(target type, parts) of a key; ReviewError when it is not one of the four shapes."""
    target_type, _, rest = key.partition(":")
    if target_type not in KEY_SHAPES or not rest:
        raise ReviewError(f"{key!r} is not a correction key; keys start with sector:, fact:, activity: or alias:")
    parts = [rest] if KEY_SHAPES[target_type] == 1 else rest.split(":")
    if len(parts) != KEY_SHAPES[target_type] or (target_type in ("sector", "fact") and not _numeric_tail(target_type, parts)):
        raise ReviewError(f"{key!r} is not a valid {target_type} key")
    return target_type, parts


def key_text_hash(key: str) -> str | None:
    """The document text a sector or fact key points into; None for activities and aliases."""
    target_type, parts = parse_key(key)
    return parts[0] if target_type in ("sector", "fact") else None


def _numeric_tail(target_type: str, parts: list[str]) -> bool:
    numbers = parts[2:3] if target_type == "sector" else parts[1:3] + parts[4:5]
    return all(p.isdigit() for p in numbers)
