"""The review queue and the audit trail: read-only queries for the review UI.

Items are sector labels, facts and activities, most useful first: priority =
(1 - confidence) x (1 + what the item feeds): for a document's sector, the register
activities made from it; for a fact, its kind's review weight (declared by its
extractor, ``pipeline.facts``); for an activity, the tallies it counts in. Each item
carries the text it came from with the extracted span marked by its offsets.
Corrections are recorded by ``pipeline.corrections``; nothing here writes.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.errors import ReviewError
from pipeline.facts import review_weights
from pipeline.keys import activity_key, fact_key, parse_key, sector_key
from pipeline.store.correction_rows import SECOND, correction_state, fact_ids_of_key, held_decisions, open_rounds
from pipeline.store.db import (
    Store,
    activities,
    activity_people,
    corrections,
    documents,
    facts,
    person_aliases,
    persons,
    sector_labels,
)
from pipeline.store.register_rows import activities_per_document
from pipeline.tallies import row_counts
from pipeline.text import paragraphs, sentence_starts

QUEUE_KINDS = ("sector", "fact", "activity")


@dataclass(frozen=True)
class QueueFilter:
    kind: str | None = None  # sector | fact | activity
    sector: str | None = None
    source_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    include_reviewed: bool = False
    # Who reads the queue: an item they decided in a double review waits for someone else, so it is left out.
    # An item whose double review is disputed waits for an admin's adjudication, and is left out for everyone.
    reviewer: str | None = None


@dataclass(frozen=True)
class Highlight:
    """The text around an extracted span, split so a template can highlight the span."""

    before: str
    span: str
    after: str


@dataclass(frozen=True)
class QueueItem:
    kind: str
    key: str
    label: str  # what was extracted: "document sector", "activity_count", "inspection" ...
    document_id: str | None
    title: str | None
    published: date | None
    source_id: int | None
    sector: str | None
    confidence: float
    feeds: int  # how many register tallies or activities a correction would change
    version: str | None
    reviewed: bool
    values: dict[str, Any] = field(default_factory=dict)
    context: Highlight | None = None

    @property
    def priority(self) -> float:
        return round((1.0 - self.confidence) * (1 + self.feeds), 4)

    @property
    def changes_tally(self) -> bool:
        """Whether correcting it changes one of the register's tallies: a counted activity, or the sector of a
        document the register has activities from (a fact's weight is what it feeds reconcile, no tally)."""
        return self.kind in ("sector", "activity") and self.feeds > 0

    @property
    def place(self) -> tuple[float, str]:
        """Where the item sorts in the queue: highest priority first, then by key."""
        return (-self.priority, self.key)


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    total: int  # items matching the filter, on all pages
    page: int  # 1-based
    per_page: int

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.per_page + 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def review_queue(store: Store, wanted: QueueFilter = QueueFilter(), limit: int = 50) -> list[QueueItem]:
    """Items most worth a reviewer's time first: low confidence times how many tallies they feed."""
    return review_queue_page(store, wanted, 1, limit).items


def review_queue_page(store: Store, wanted: QueueFilter = QueueFilter(), page: int = 1,
                      per_page: int = 50) -> QueuePage:
    """One page of the queue, in the order of ``review_queue``; a page past the end is empty."""
    if page < 1 or per_page < 1:
        raise ReviewError(f"queue page {page} of {per_page} items does not exist; pages start at 1")
    with store.reading() as conn:
        items = _queue_items(conn, wanted)
        start = (page - 1) * per_page
        shown = [with_context(conn, i) for i in items[start:start + per_page]]
        return QueuePage(shown, len(items), page, per_page)


def neighbour_key(store: Store, wanted: QueueFilter, place: tuple[float, str], step: int = 1,
                  wrap: bool = False) -> str | None:
    """The key of the queue item just after (step 1) or before (step -1) ``place``, an item's ``place``.

    The item at ``place`` need not be in the queue any more (a decided item leaves it), so the
    reviewer goes on from where they were. ``wrap``: past the end, the first item (if it is not
    the one at ``place``). None when there is no such item.
    """
    with store.reading() as conn:
        places = [i.place for i in _queue_items(conn, wanted)]
    if step > 0:
        index = bisect.bisect_right(places, place)
        if index < len(places):
            return places[index][1]
        return places[0][1] if wrap and places and places[0] != place else None
    index = bisect.bisect_left(places, place) - 1
    return places[index][1] if index >= 0 else None


def _queue_items(conn: Connection, wanted: QueueFilter) -> list[QueueItem]:
    """Every item matching the filter, in queue order, without their text (the slow part)."""
    fed = activities_per_document(conn)
    items: list[QueueItem] = []
    if wanted.kind in (None, "sector"):
        items += _sector_items(conn, wanted, fed)
    if wanted.kind in (None, "fact"):
        items += _fact_items(conn, wanted)
    if wanted.kind in (None, "activity"):
        items += _activity_items(conn, wanted)
    waiting = _waiting_rounds(conn)
    return sorted((i for i in items if _matches(i, wanted) and not _withheld(i.key, waiting, wanted.reviewer)),
                  key=lambda i: i.place)


def _waiting_rounds(conn: Connection) -> dict[str, list[sa.Row]]:
    """The held decisions of every unsettled double review, by the key of the item they decide."""
    return {held[0].target_key: held for held in open_rounds(conn).values()}


def _withheld(key: str, waiting: dict[str, list[sa.Row]], reviewer: str | None) -> bool:
    held = waiting.get(key)
    return bool(held) and any(r.review_role == SECOND or r.reviewer == reviewer for r in held)


def _matches(item: QueueItem, wanted: QueueFilter) -> bool:
    if wanted.sector and item.sector != wanted.sector:
        return False
    if wanted.source_id is not None and item.source_id != wanted.source_id:
        return False
    if wanted.date_from and (item.published is None or item.published < wanted.date_from):
        return False
    return not (wanted.date_to and (item.published is None or item.published > wanted.date_to))


_DOC = (documents.c.title, documents.c.published, documents.c.source_id, documents.c.text_hash)


def _sector_items(conn: Connection, wanted: QueueFilter, fed: Counter[str]) -> list[QueueItem]:
    query = sa.select(sector_labels, *_DOC).join(documents, sector_labels.c.document_id == documents.c.document_id)
    if not wanted.include_reviewed:
        query = query.where(sector_labels.c.reviewed.is_(False))
    return [_sector_item(r, fed[r.document_id] if r.unit == "document" else 0) for r in conn.execute(query)]


def _sector_item(r: sa.Row, feeds: int) -> QueueItem:
    label = "document sector" if r.unit == "document" else f"paragraph {r.unit_index + 1} sector"
    return QueueItem("sector", sector_key(r.text_hash, r.unit, r.unit_index), label, r.document_id, r.title,
                     r.published, r.source_id, r.sector, r.probability, feeds, r.model_version, r.reviewed,
                     {"sector": r.sector, "probability": r.probability, "source": r.source,
                      "unit": r.unit, "unit_index": r.unit_index})


def _fact_items(conn: Connection, wanted: QueueFilter) -> list[QueueItem]:
    query = (sa.select(facts, *_DOC).join(documents, facts.c.document_id == documents.c.document_id)
             .order_by(facts.c.document_id, facts.c.id))
    seen: Counter[tuple] = Counter()
    items = []
    for r in conn.execute(query):
        span = (r.document_id, r.start_char, r.end_char, r.kind)
        if wanted.include_reviewed or not r.reviewed:
            items.append(_fact_item(r, seen[span]))
        seen[span] += 1
    return items


def _fact_item(r: sa.Row, ordinal: int) -> QueueItem:
    values = {name: getattr(r, name) for name in (
        "kind", "subject", "sector", "category", "counterpart", "place", "period_start", "period_end",
        "period_label", "value", "low", "high", "qualifier", "unit", "rejected")}
    return QueueItem("fact", fact_key(r.text_hash, r.start_char or 0, r.end_char or 0, r.kind, ordinal), r.kind,
                     r.document_id, r.title, r.published, r.source_id, r.sector,
                     r.confidence if r.confidence is not None else 0.5, review_weights().get(r.kind, 0),
                     r.extractor_version, r.reviewed, values,
                     Highlight("", "", "") if r.start_char is None else None)


def _activity_items(conn: Connection, wanted: QueueFilter) -> list[QueueItem]:
    accompanied = Counter(conn.execute(sa.select(activity_people.c.activity_id)
                                       .where(activity_people.c.role == "accompanied")).scalars())
    query = sa.select(activities)
    if not wanted.include_reviewed:
        query = query.where(activities.c.reviewed.is_(False))
    rows = conn.execute(query).all()
    first_ids = [json.loads(r.document_ids)[0] for r in rows]
    sources = dict(conn.execute(sa.select(documents.c.document_id, documents.c.source_id)
                                .where(documents.c.document_id.in_(first_ids))).all())
    return [_activity_item(r, first, sources.get(first), accompanied[r.activity_id])
            for r, first in zip(rows, first_ids)]


def _activity_item(r: sa.Row, first_document: str, source_id: int | None, companions: int) -> QueueItem:
    # A counted activity feeds its year's total, sector, type and month tallies, and one per companion;
    # a letter, digest or part of an event feeds none.
    values = {"kind": r.kind, "part_of": r.part_of, "activity_type": r.activity_type, "event_date": r.event_date,
              "report_date": r.report_date,
              "sector": r.sector, "place": r.place, "counterpart_country": r.counterpart_country,
              "reports": len(json.loads(r.document_ids)), "rejected": r.rejected}
    return QueueItem("activity", activity_key(r.activity_id), r.activity_type, first_document, r.title,
                     r.report_date, source_id, r.sector, r.confidence or 0.0,
                     4 + companions if row_counts(r.kind, r.part_of) else 0,
                     r.register_version, r.reviewed, values)


def with_context(conn: Connection, item: QueueItem) -> QueueItem:
    """The item with the text it was extracted from, the extracted span marked by offsets."""
    if item.document_id is None or item.context is not None:
        return item
    text = conn.execute(sa.select(documents.c.text).where(documents.c.document_id == item.document_id)).scalar()
    if text is None:
        return item
    return replace(item, context=context_for(item, text))


def context_for(item: QueueItem, text: str) -> Highlight:
    if item.kind == "fact":
        _, parts = parse_key(item.key)
        return sentence_context(text, int(parts[1]), int(parts[2]))
    if item.kind == "sector" and item.values.get("unit") == "paragraph":
        parts = paragraphs(text)
        index = item.values["unit_index"]
        return Highlight("", _clip(parts[index] if index < len(parts) else ""), "")
    return Highlight("", "", _clip(text))


def sentence_context(text: str, start: int, end: int, radius: int = 300) -> Highlight:
    """The sentence around ``text[start:end]`` (at most ``radius`` characters either side)."""
    low, high = max(0, start - radius), min(len(text), end + radius)
    left = ([low] + [s for s in sentence_starts(text, low, start) if s <= start])[-1]
    right = min([high] + [s for s in sentence_starts(text, end, high)])
    return Highlight(text[left:start], text[start:end], text[end:right].rstrip())


def _clip(text: str, limit: int = 700) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def find_item(store: Store, key: str) -> QueueItem | None:
    """The queue item of one key, reviewed or not, with its context."""
    with store.reading() as conn:
        item = find_item_in(conn, key)
        return with_context(conn, item) if item else None


def find_item_in(conn: Connection, key: str) -> QueueItem | None:
    """The queue item of one key, reviewed or not, without its context; None for a key no item has."""
    target_type, parts = parse_key(key)
    finders = {"sector": _find_sector, "fact": _find_fact, "activity": _find_activity}
    return finders[target_type](conn, key, parts) if target_type in finders else None


def _find_sector(conn: Connection, key: str, parts: list[str]) -> QueueItem | None:
    query = sa.select(sector_labels, *_DOC).join(documents, sector_labels.c.document_id == documents.c.document_id)
    row = conn.execute(query.where(documents.c.text_hash == parts[0], sector_labels.c.unit == parts[1],
                                   sector_labels.c.unit_index == int(parts[2]))).first()
    if row is None:
        return None
    return _sector_item(row, activities_per_document(conn)[row.document_id] if parts[1] == "document" else 0)


def _find_fact(conn: Connection, key: str, parts: list[str]) -> QueueItem | None:
    ids = fact_ids_of_key(conn, key)
    if not ids:
        return None
    query = sa.select(facts, *_DOC).join(documents, facts.c.document_id == documents.c.document_id)
    return _fact_item(conn.execute(query.where(facts.c.id == ids[0])).one(), int(parts[4]))


def _find_activity(conn: Connection, key: str, parts: list[str]) -> QueueItem | None:
    return next((i for i in _activity_items(conn, QueueFilter(include_reviewed=True)) if i.key == key), None)


def corrections_of(store: Store, key: str) -> list[dict]:
    """Every correction of one target, newest first (the audit trail shown beside the form).

    Each has a ``state``: applied, superseded (by a later one), re-anchored (moved to the new
    fact of the same number after the extractor changed), or lapsed (a fact correction whose
    fact, by its fingerprint, is no longer extracted from that span).
    """
    with store.reading() as conn:
        rows = conn.execute(sa.select(corrections).where(corrections.c.target_key == key)
                            .order_by(corrections.c.id.desc())).all()
        return [dict(r._mapping, state=correction_state(conn, r)) for r in rows]


@dataclass(frozen=True)
class LapsedCorrection:
    """A fact correction no current fact carries: its fact is no longer extracted from that
    span, and no single new fact of the same number was there to take it over."""

    correction: dict[str, Any]
    title: str | None
    document_id: str | None
    context: Highlight | None  # the sentence with the span the corrected fact had


def lapsed_fact_corrections(store: Store) -> list[LapsedCorrection]:
    """The active fact corrections that lapsed, newest first, each with the sentence it was made on."""
    with store.reading() as conn:
        return [_lapsed(conn, row) for row in _lapsed_rows(conn)]


def count_lapsed_fact_corrections(store: Store) -> int:
    with store.reading() as conn:
        return len(_lapsed_rows(conn))


def _lapsed_rows(conn: Connection) -> list[sa.Row]:
    rows = conn.execute(sa.select(corrections).where(
        corrections.c.active.is_(True), corrections.c.target_type == "fact").order_by(corrections.c.id.desc())).all()
    return [row for row in rows if correction_state(conn, row) == "lapsed"]


def _lapsed(conn: Connection, row: sa.Row) -> LapsedCorrection:
    text_hash, start, end = parse_key(row.target_key)[1][:3]
    document = conn.execute(sa.select(documents.c.document_id, documents.c.title, documents.c.text)
                            .where(documents.c.text_hash == text_hash).limit(1)).first()
    if document is None:  # the text changed: the correction's span is in no stored document
        return LapsedCorrection(dict(row._mapping), None, None, None)
    context = sentence_context(document.text, int(start), int(end)) if int(end) <= len(document.text) else None
    return LapsedCorrection(dict(row._mapping), document.title, document.document_id, context)


def recent_corrections(store: Store, limit: int = 20, reader: str | None = None) -> list[dict]:
    """The newest corrections. ``reader``: someone who may be a double review's blind second reviewer, so the
    held decisions of others are left out (None: every row)."""
    query = sa.select(corrections).order_by(corrections.c.id.desc()).limit(limit)
    if reader is not None:
        query = query.where(sa.or_(sa.not_(held_decisions()), corrections.c.reviewer == reader))
    with store.reading() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def person_aliases_overview(store: Store) -> list[dict]:
    """Every alias with its person, most mentioned first, for the merge/split page."""
    query = (sa.select(person_aliases, persons.c.canonical_name)
             .join(persons, person_aliases.c.person_id == persons.c.person_id)
             .order_by(person_aliases.c.mentions.desc(), person_aliases.c.alias))
    with store.reading() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def reviewed_counts(store: Store) -> dict[str, int]:
    with store.reading() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.reviewed.is_(True))).scalar_one()
                for t in (sector_labels, facts, activities)}


@dataclass(frozen=True)
class DisputedRound:
    """A double review whose two blind decisions disagree: it waits for an admin's adjudication."""

    round_id: int
    key: str
    decisions: list[dict[str, Any]]  # the held decisions, first first: corrections rows, values decoded
    item: QueueItem | None  # with its context; None when a later run changed what the key names


def disputed_rounds(store: Store) -> list[DisputedRound]:
    """Every disputed double review, oldest first, for the adjudication page."""
    with store.reading() as conn:
        disputed = [held for held in open_rounds(conn).values() if any(r.review_role == SECOND for r in held)]
        return [_disputed(conn, held) for held in disputed]


def _disputed(conn: Connection, held: list[sa.Row]) -> DisputedRound:
    item = find_item_in(conn, held[0].target_key)
    decisions = [dict(r._mapping, new_value=json.loads(r.new_value) if r.new_value else None) for r in held]
    return DisputedRound(held[0].round_id, held[0].target_key, decisions, with_context(conn, item) if item else None)
