"""Plain-text units shared by every stage: sentences and paragraphs of clean text.

One sentence splitter for the stages that read raw text (the register, the review
UI's context, chunking for spaCy); the NLP stage itself uses spaCy's sentences.
A sentence ends at ``.``, ``!`` or ``?`` followed by space and a capital or a quote,
or at a line break.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])|\n+")
MIN_PARAGRAPH_CHARS = 200  # shorter blocks are headings, captions or lists, not paragraphs to label


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of ``text``, without the space between them."""
    spans, start = [], 0
    for match in SENTENCE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def sentence_starts(text: str, start: int = 0, end: int | None = None) -> list[int]:
    """Offsets where a new sentence starts, after a break that begins between ``start`` and ``end``."""
    end = len(text) if end is None else end
    found = []
    for match in SENTENCE_END.finditer(text, start):
        if match.start() >= end:
            break
        found.append(match.end())
    return found


def sentence_bounds(text: str, start: int, end: int | None = None) -> tuple[int, int]:
    """(start, end) of the sentence holding ``text[start:end]`` (end defaults to start)."""
    end = start if end is None else end
    for window in (max(0, start - 2000), 0):  # a near window first: long texts are read many times
        first, last = None, len(text)
        for match in SENTENCE_END.finditer(text, window):
            if match.end() <= start:
                first = match.end()
            elif match.start() >= end:
                last = match.start()
                break
        if first is not None or window == 0:
            return first or 0, last
    return 0, len(text)  # pragma: no cover - the loop always returns


def paragraphs(text: str) -> list[str]:
    """Paragraphs long enough to label on their own (the rule the hand labels used)."""
    blocks = [block.strip() for block in text.strip().split("\n\n")]
    return [block for block in blocks if len(block) >= MIN_PARAGRAPH_CHARS]


def text_key(text: str) -> str:
    """Case and whitespace folded: copies of one story under two links share a key."""
    return " ".join(text.split()).lower()


def unit_text(title: str | None, text: str) -> str:
    """What a document-level label reads: the title, then the text."""
    return f"{title}\n{text}" if title else text


def groups_by_chars(texts: Iterable[str], max_chars: int) -> Iterator[list[str]]:
    """Consecutive texts, at most ``max_chars`` characters a group (a longer text alone), so that
    whatever reads a group at once holds memory that follows the limit, not the input."""
    group: list[str] = []
    size = 0
    for text in texts:
        if group and size + len(text) > max_chars:
            yield group
            group, size = [], 0
        group.append(text)
        size += len(text)
    if group:
        yield group
