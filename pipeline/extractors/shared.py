"""Helpers the legacy tally extractors share (activity and companion counts)."""

from __future__ import annotations

import re
from datetime import date

from pipeline.dates import Period, year_period


def period_or_default(attached: list[Period], main: Period | None, carried: Period | None,
                       published: date | None) -> tuple[Period | None, float]:
    if attached:
        return attached[0], 0.0
    if main is not None:
        return main, 0.05
    if carried is not None:
        return carried, 0.15
    if published is not None:
        return year_period(published.year), 0.3
    return None, 0.4


def continues(sentence: str, start: int, end: int, dates: list[tuple[int, int]]) -> bool:
    """Is the text between two numbers only separators, dates and comparison words?"""
    gap = "".join(" " if any(s <= i < e for s, e in dates) else ch for i, ch in enumerate(sentence[start:end], start))
    return bool(re.match(r"^[\s,;:]*(?:(?:and|or|of\s+which|while|from|to|against|versus|up\s+from|down\s+from|"
                         r"compared\s+with|then\s+surged\s+to|reaching)\s+)*(?:\(|$)", gap, re.IGNORECASE))
