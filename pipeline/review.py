"""Reviewer corrections: stable keys, recording, applying, and the review queue.

A correction is stored apart from what the models produced (table ``corrections``)
and applied on top of it, wherever the rows are (re)written: ``Store.write_documents``
applies the corrections of the documents it writes, ``Store.write_register`` those of
the activities, in the same transaction. So a re-run of the pipeline never erases a
reviewer's decision. Keys never use database row ids, which change on every re-run:

* sector label: ``sector:<text hash>:<unit>:<unit index>``
* fact:         ``fact:<text hash>:<start char>:<end char>:<kind>:<n>`` (n: the n-th fact of that span
                and kind, in extraction order: "about 100 in 2022 and 2023" is two facts on one span).
                Extraction order may change, so the correction also keeps the fact's fingerprint
                (kind, period label, subject, value as extracted) and is applied again only to the
                fact of that span with that fingerprint; when none has it, the correction lapses
                (shown as "lapsed" in the item's history).
* activity:     ``activity:<activity id>`` (derived from its first report's document id). That id
                changes when another link to the story sorts first or a URL changes, so the
                correction also keeps the activity's document ids and text hashes and applies to
                every activity that shares one of them.
* person alias: ``alias:<surface form>``

The text hash is the sha256 of the cleaned document text, so a correction follows the
text it was made on, under any URL, and lapses when that text changes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.errors import ReviewError
from pipeline.sectors import SECTORS, paragraphs
from pipeline.store import (
    Store,
    activities,
    activity_people,
    activity_tallies,
    corrections,
    documents,
    entities,
    facts,
    person_aliases,
    persons,
    sector_labels,
    utcnow,
)

ACTIONS: dict[str, tuple[str, ...]] = {
    "sector": ("set",),
    "fact": ("set", "reject"),
    "activity": ("not_activity", "is_activity"),  # is_activity undoes a not_activity
    "alias": ("merge", "split"),
}
FACT_FIELDS = ("value", "period_start", "period_end", "period_label", "subject", "sector")
# What identifies a fact among the facts of one span, whatever order they were extracted in.
FINGERPRINT_FIELDS = ("kind", "period_label", "subject", "value")
# Extra weight of a fact kind in the queue: activity counts are what reconciliation compares.
FACT_WEIGHTS = {"activity_count": 3, "companion_count": 1}
QUEUE_KINDS = ("sector", "fact", "activity")


# --- stable keys --------------------------------------------------------------------


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
    shapes = {"sector": 3, "fact": 5, "activity": 1, "alias": 1}
    if target_type not in shapes or not rest:
        raise ReviewError(f"{key!r} is not a correction key; keys start with sector:, fact:, activity: or alias:")
    parts = [rest] if shapes[target_type] == 1 else rest.split(":")
    if len(parts) != shapes[target_type] or (target_type in ("sector", "fact") and not _numeric_tail(target_type, parts)):
        raise ReviewError(f"{key!r} is not a valid {target_type} key")
    return target_type, parts


def _numeric_tail(target_type: str, parts: list[str]) -> bool:
    numbers = parts[2:3] if target_type == "sector" else parts[1:3] + parts[4:5]
    return all(p.isdigit() for p in numbers)


# --- recording a correction ---------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    """One reviewer decision about one target, before it is stored."""

    target_key: str
    action: str
    reviewer: str
    new_value: Any = None
    old_value: Any = None
    field: str | None = None
    comment: str | None = None
    document_id: str | None = None

    @property
    def target_type(self) -> str:
        return parse_key(self.target_key)[0]

    @property
    def text_hash(self) -> str | None:
        target_type, parts = parse_key(self.target_key)
        return parts[0] if target_type in ("sector", "fact") else None


def record_correction(store: Store, correction: Correction) -> int:
    """Store the correction, retire the earlier ones of its target, and apply it to the current rows."""
    _validate(correction)
    with store.writing() as conn:
        old_value, new_value = _values_to_store(conn, correction)
        correction_id = conn.execute(corrections.insert().values(
            created_at=utcnow(), reviewer=correction.reviewer, target_type=correction.target_type,
            target_key=correction.target_key, text_hash=correction.text_hash, document_id=correction.document_id,
            action=correction.action, field=correction.field, old_value=_json(old_value),
            new_value=_json(new_value), comment=correction.comment or None, active=True,
        )).inserted_primary_key[0]
        row = conn.execute(sa.select(corrections).where(corrections.c.id == correction_id)).one()
        conn.execute(corrections.update().where(corrections.c.id.in_(_superseded(conn, row)))
                     .values(active=False, superseded_by=correction_id))
        if _apply(conn, row, as_seen=True):
            refresh_tallies(conn)
    return correction_id


def _values_to_store(conn: Connection, correction: Correction) -> tuple[Any, Any]:
    """(old, new) value to store: what lets the correction find its target again after a re-run."""
    if correction.target_type == "fact":
        return _with_fingerprint(conn, correction), correction.new_value
    if correction.target_type == "activity":
        return correction.old_value, _activity_decision(conn, correction)
    return correction.old_value, correction.new_value


def _superseded(conn: Connection, row: sa.Row) -> list[int]:
    """Ids of the active corrections the new one replaces: those of the same target.

    A fact's target is its span and fingerprint: the same key may name another fact after a re-run.
    """
    fingerprint = _stored_fingerprint(row) if row.target_type == "fact" else None
    if fingerprint is None:
        return list(conn.execute(sa.select(corrections.c.id).where(
            corrections.c.target_key == row.target_key, corrections.c.active.is_(True),
            corrections.c.id != row.id)).scalars())
    return [c.id for c in _active_span_corrections(conn, row.target_key)
            if c.id != row.id and _stored_fingerprint(c) == fingerprint]


def _active_span_corrections(conn: Connection, key: str) -> list[sa.Row]:
    """The active fact corrections of the key's span and kind, whatever their rank."""
    span = key.rsplit(":", 1)[0]
    return conn.execute(sa.select(corrections).where(
        corrections.c.target_key.startswith(f"{span}:", autoescape=True), corrections.c.active.is_(True))
        .order_by(corrections.c.id)).all()


def _with_fingerprint(conn: Connection, correction: Correction) -> Any:
    """The old value with the fingerprint, as extracted, of the fact the key names now."""
    ids = _fact_ids(conn, parse_key(correction.target_key)[1])
    if not ids:
        return correction.old_value
    fact = conn.execute(sa.select(facts).where(facts.c.id == ids[0])).one()
    fingerprint = _fingerprint(fact)
    if fact.reviewed:  # an earlier correction edited it: keep the fingerprint that one found it by
        fingerprint = next((_stored_fingerprint(c) for c in _active_span_corrections(conn, correction.target_key)
                            if _expected_fingerprint(c) == fingerprint), fingerprint)
    old = correction.old_value if isinstance(correction.old_value, dict) else {"value": correction.old_value}
    return {**old, "fingerprint": fingerprint}


def _fingerprint(fact: sa.Row) -> dict[str, Any]:
    return {name: getattr(fact, name) for name in FINGERPRINT_FIELDS}


def _activity_decision(conn: Connection, correction: Correction) -> dict[str, Any]:
    """The decision with the activity's reports, so it follows the story when the activity's id changes."""
    activity_id = parse_key(correction.target_key)[1][0]
    stored = conn.execute(sa.select(activities.c.document_ids).where(activities.c.activity_id == activity_id)).scalar()
    document_ids = json.loads(stored) if stored else []
    text_hashes = conn.execute(sa.select(documents.c.text_hash).distinct().where(
        documents.c.document_id.in_(document_ids))).scalars()
    return {"rejected": correction.action == "not_activity", "document_ids": document_ids,
            "text_hashes": sorted(text_hashes)}


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _validate(correction: Correction) -> None:
    target_type = correction.target_type
    if correction.action not in ACTIONS[target_type]:
        raise ReviewError(f"a {target_type} correction cannot {correction.action!r}; "
                          f"choose one of {', '.join(ACTIONS[target_type])}")
    if target_type == "sector" and correction.new_value not in SECTORS:
        raise ReviewError(f"unknown sector {correction.new_value!r}; choose one of {', '.join(SECTORS)}")
    if target_type == "fact" and correction.action == "set":
        unknown = set(correction.new_value or {}) - set(FACT_FIELDS)
        if unknown or not correction.new_value:
            raise ReviewError(f"a fact edit sets some of {', '.join(FACT_FIELDS)}; got {sorted(unknown) or 'nothing'}")
    if target_type == "alias" and not (correction.new_value or {}).get("person_id"):
        raise ReviewError("an alias correction needs the person it belongs to")


def parse_fact_edit(form: dict[str, str]) -> dict[str, Any]:
    """The edited fact fields of a form, typed; ReviewError naming the field that is wrong."""
    edit: dict[str, Any] = {}
    value = (form.get("value") or "").strip().replace(",", "")
    try:
        edit["value"] = float(value) if value else None
    except ValueError as exc:
        raise ReviewError(f"value {value!r} is not a number; write e.g. 51 or 8000.5") from exc
    for name in ("period_start", "period_end"):
        text = (form.get(name) or "").strip()
        try:
            edit[name] = date.fromisoformat(text).isoformat() if text else None
        except ValueError as exc:
            raise ReviewError(f"{name} {text!r} is not a date; write YYYY-MM-DD") from exc
    if edit["period_start"] and edit["period_end"] and edit["period_start"] > edit["period_end"]:
        raise ReviewError("period_start is after period_end; swap them")
    sector = (form.get("sector") or "").strip() or None
    if sector is not None and sector not in SECTORS:
        raise ReviewError(f"unknown sector {sector!r}; choose one of {', '.join(SECTORS)} or leave it empty")
    edit.update(sector=sector, subject=(form.get("subject") or "").strip() or None,
                period_label=(form.get("period_label") or "").strip() or None)
    return edit


# --- applying corrections -----------------------------------------------------------


def apply_document_corrections(conn: Connection, document_ids: Sequence[str]) -> None:
    """Re-apply the active corrections of these (just rewritten) documents and of their people."""
    hashes = list(conn.execute(sa.select(documents.c.text_hash).where(documents.c.document_id.in_(document_ids)))
                  .scalars())
    aliases = conn.execute(sa.select(entities.c.text).distinct().where(
        entities.c.document_id.in_(document_ids), entities.c.label == "PERSON")).scalars()
    wanted = sa.or_(corrections.c.text_hash.in_(hashes), corrections.c.target_key.in_([alias_key(a) for a in aliases]))
    changed_sector = False
    for row in conn.execute(sa.select(corrections).where(corrections.c.active.is_(True), wanted)
                            .order_by(corrections.c.id)).all():
        changed_sector |= _apply(conn, row)
    if changed_sector:
        refresh_tallies(conn)


def apply_register_corrections(conn: Connection) -> None:
    """Re-apply activity corrections after the register was rebuilt (before its tallies are counted)."""
    # In the order they were made: a later decision about the same story wins.
    for row in conn.execute(sa.select(corrections).where(
            corrections.c.active.is_(True), corrections.c.target_type == "activity").order_by(corrections.c.id)).all():
        _apply(conn, row)


def _apply(conn: Connection, row: sa.Row, as_seen: bool = False) -> bool:
    """Apply one stored correction to the current rows; True when the register's tallies may change.

    ``as_seen``: the correction was just made on the rows as the reviewer saw them, so a fact key's
    rank names the fact; on re-applying after a re-run the fact is found by its fingerprint instead.
    """
    target_type, parts = parse_key(row.target_key)
    new_value = json.loads(row.new_value) if row.new_value else None
    if target_type == "sector":
        return _apply_sector(conn, parts[0], parts[1], int(parts[2]), new_value)
    if target_type == "fact":
        fingerprint = None if as_seen else _stored_fingerprint(row)
        _apply_fact(conn, _fact_ids(conn, parts, fingerprint), row.action, new_value)
        return False
    if target_type == "activity":
        _apply_activity(conn, parts[0], new_value)
        return True
    _apply_alias(conn, parts[0], new_value)
    return True


def _apply_activity(conn: Connection, activity_id: str, decision: Any) -> None:
    # Corrections stored before decisions kept their reports hold just `true` (not an activity).
    decision = decision if isinstance(decision, dict) else {"rejected": True}
    same_story = {activity_id} | _activities_sharing_reports(conn, decision)
    conn.execute(activities.update().where(activities.c.activity_id.in_(same_story))
                 .values(rejected=decision["rejected"], reviewed=True))


def _activities_sharing_reports(conn: Connection, decision: dict) -> set[str]:
    """Ids of the activities with one of the decision's documents, or a document with one of its texts."""
    reports = set(decision.get("document_ids", ()))
    if decision.get("text_hashes"):
        reports.update(conn.execute(sa.select(documents.c.document_id).where(
            documents.c.text_hash.in_(decision["text_hashes"]))).scalars())
    if not reports:
        return set()
    return {activity_id for activity_id, document_ids in conn.execute(
        sa.select(activities.c.activity_id, activities.c.document_ids)) if reports & set(json.loads(document_ids))}


def _documents_with(text_hash: str):
    return sa.select(documents.c.document_id).where(documents.c.text_hash == text_hash).scalar_subquery()


def _apply_sector(conn: Connection, text_hash: str, unit: str, unit_index: int, sector: str) -> bool:
    # source='reviewer' is what Store.reviewed_sector_units() reads to train the sector model.
    conn.execute(sector_labels.update().where(
        sector_labels.c.document_id.in_(_documents_with(text_hash)), sector_labels.c.unit == unit,
        sector_labels.c.unit_index == unit_index).values(sector=sector, source="reviewer", reviewed=True))
    if unit != "document":
        return False
    from pipeline.activities import activity_id_for

    ids = [activity_id_for(d) for d in conn.execute(
        sa.select(documents.c.document_id).where(documents.c.text_hash == text_hash)).scalars()]
    changed = conn.execute(activities.update().where(activities.c.activity_id.in_(ids)).values(sector=sector))
    return changed.rowcount > 0


def _stored_fingerprint(row: sa.Row) -> dict[str, Any] | None:
    old = json.loads(row.old_value) if row.old_value else None
    return old.get("fingerprint") if isinstance(old, dict) else None


def _expected_fingerprint(row: sa.Row) -> dict[str, Any] | None:
    """The fingerprint the corrected fact has once the correction is applied."""
    fingerprint = _stored_fingerprint(row)
    if fingerprint is None:
        return None
    edit = json.loads(row.new_value) if row.action == "set" and row.new_value else {}
    return {**fingerprint, **{k: v for k, v in edit.items() if k in FINGERPRINT_FIELDS}}


def _span_facts(conn: Connection, parts: list[str]) -> dict[str, list[sa.Row]]:
    """The facts of a key's span and kind, per document with the key's text, in extraction order."""
    text_hash, start, end, kind, _ = parts
    query = sa.select(facts).where(
        facts.c.document_id.in_(_documents_with(text_hash)), facts.c.start_char == int(start),
        facts.c.end_char == int(end), facts.c.kind == kind).order_by(facts.c.document_id, facts.c.id)
    by_document: dict[str, list[sa.Row]] = {}
    for fact in conn.execute(query):
        by_document.setdefault(fact.document_id, []).append(fact)
    return by_document


def _fact_ids(conn: Connection, parts: list[str], fingerprint: dict | None = None) -> list[int]:
    """Row ids of the fact a key names, in every document with that text (one per document).

    With a fingerprint, the fact of the span that has it, whatever its rank; else the key's rank.
    """
    ordinal = int(parts[4])
    chosen = []
    for span in _span_facts(conn, parts).values():
        if fingerprint is not None:
            chosen += [next((f.id for f in span if _fingerprint(f) == fingerprint), None)]
        elif ordinal < len(span):
            chosen.append(span[ordinal].id)
    return [fact_id for fact_id in chosen if fact_id is not None]


def _apply_fact(conn: Connection, fact_ids: list[int], action: str, edit: dict | None) -> None:
    where = (facts.c.id.in_(fact_ids),)
    if action == "reject":
        conn.execute(facts.update().where(*where).values(rejected=True, reviewed=True))
        return
    values = {k: (date.fromisoformat(v) if k.startswith("period_") and k != "period_label" and v else v)
              for k, v in (edit or {}).items()}
    conn.execute(facts.update().where(*where).values(**values, reviewed=True, rejected=False))


def _apply_alias(conn: Connection, alias: str, target: dict) -> None:
    person_id, name = target["person_id"], target.get("canonical_name")
    known = conn.execute(sa.select(persons.c.canonical_name).where(persons.c.person_id == person_id)).scalar()
    if known is None:
        conn.execute(persons.insert().values(person_id=person_id, canonical_name=name or alias,
                                             in_gazetteer=False, first_seen_at=utcnow()))
    name = known or name or alias
    mentions = conn.execute(sa.select(sa.func.count()).select_from(entities).where(
        entities.c.label == "PERSON", entities.c.text == alias)).scalar_one()
    if conn.execute(sa.select(person_aliases.c.alias).where(person_aliases.c.alias == alias)).first():
        conn.execute(person_aliases.update().where(person_aliases.c.alias == alias).values(
            person_id=person_id, source="reviewer", mentions=mentions, updated_at=utcnow()))
    else:
        conn.execute(person_aliases.insert().values(alias=alias, person_id=person_id, source="reviewer",
                                                    mentions=mentions, updated_at=utcnow()))
    mentions_before = conn.execute(sa.select(entities.c.document_id, entities.c.canonical_id).where(
        entities.c.label == "PERSON", entities.c.text == alias)).all()
    conn.execute(entities.update().where(entities.c.label == "PERSON", entities.c.text == alias)
                 .values(canonical_id=person_id, canonical_name=name))
    _rename_activity_people(conn, mentions_before, person_id, name)


def _rename_activity_people(conn: Connection, mentions: Sequence[sa.Row], person_id: str, name: str) -> None:
    """Give the activities reporting the alias its new person now: the register is rebuilt only on the next run."""
    documents_with_alias = {m.document_id for m in mentions}
    previous_ids = {m.canonical_id for m in mentions if m.canonical_id and m.canonical_id != person_id}
    if not previous_ids:
        return
    for activity_id, document_ids in conn.execute(sa.select(activities.c.activity_id, activities.c.document_ids)):
        if not documents_with_alias & set(json.loads(document_ids)):
            continue
        of_activity = activity_people.c.activity_id == activity_id
        moved = sa.and_(of_activity, activity_people.c.person_id.in_(previous_ids))
        already_there = conn.execute(sa.select(activity_people.c.id).where(
            of_activity, activity_people.c.person_id == person_id)).first()
        if already_there:  # one row per person and activity, as the register builds them
            conn.execute(activity_people.delete().where(moved))
        else:
            conn.execute(activity_people.update().where(moved).values(person_id=person_id, name=name))


def refresh_tallies(conn: Connection) -> None:
    """Count the register's tallies again from its activities, leaving out rejected ones."""
    from pipeline.activities import tally_rows

    conn.execute(activity_tallies.delete())
    rows = tally_rows(register_from(conn))
    if rows:
        conn.execute(activity_tallies.insert(), rows)


def register_from(conn: Connection, include_rejected: bool = False) -> list:
    """The stored register as Activity objects (rejected activities left out unless asked for)."""
    from pipeline.activities import Activity, Person

    people: dict[str, list] = {}
    for p in conn.execute(sa.select(activity_people).order_by(activity_people.c.id)):
        people.setdefault(p.activity_id, []).append(Person(p.person_id, p.name, p.role))
    query = sa.select(activities)
    if not include_rejected:
        query = query.where(activities.c.rejected.is_(False))
    return [Activity(r.activity_id, r.actor, r.event_date, r.report_date, r.title, r.activity_type,
                     r.sector, r.place, r.counterpart_country, tuple(json.loads(r.document_ids)),
                     tuple(people.get(r.activity_id, ())), r.confidence)
            for r in conn.execute(query)]


# --- the review queue ---------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilter:
    kind: str | None = None  # sector | fact | activity
    sector: str | None = None
    source_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    include_reviewed: bool = False


@dataclass(frozen=True)
class Context:
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
    context: Context | None = None

    @property
    def priority(self) -> float:
        return round((1.0 - self.confidence) * (1 + self.feeds), 4)


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
    with store.engine.connect() as conn:
        fed = activities_per_document(conn)
        items: list[QueueItem] = []
        if wanted.kind in (None, "sector"):
            items += _sector_items(conn, wanted, fed)
        if wanted.kind in (None, "fact"):
            items += _fact_items(conn, wanted)
        if wanted.kind in (None, "activity"):
            items += _activity_items(conn, wanted)
        items = [i for i in items if _matches(i, wanted)]
        items.sort(key=lambda i: (-i.priority, i.key))
        start = (page - 1) * per_page
        shown = [with_context(conn, i) for i in items[start:start + per_page]]
        return QueuePage(shown, len(items), page, per_page)


def activities_per_document(conn: Connection) -> Counter[str]:
    fed: Counter[str] = Counter()
    for ids in conn.execute(sa.select(activities.c.document_ids).where(activities.c.rejected.is_(False))).scalars():
        fed.update(json.loads(ids))
    return fed


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
                     r.confidence if r.confidence is not None else 0.5, FACT_WEIGHTS.get(r.kind, 0),
                     r.extractor_version, r.reviewed, values,
                     Context("", "", "") if r.start_char is None else None)


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
    # An activity feeds its year's total, sector, type and month tallies, and one per companion.
    values = {"activity_type": r.activity_type, "event_date": r.event_date, "report_date": r.report_date,
              "sector": r.sector, "place": r.place, "counterpart_country": r.counterpart_country,
              "reports": len(json.loads(r.document_ids)), "rejected": r.rejected}
    return QueueItem("activity", activity_key(r.activity_id), r.activity_type, first_document, r.title,
                     r.report_date, source_id, r.sector, r.confidence or 0.0, 4 + companions,
                     r.register_version, r.reviewed, values)


def with_context(conn: Connection, item: QueueItem) -> QueueItem:
    """The item with the text it was extracted from, the extracted span marked by offsets."""
    if item.document_id is None or item.context is not None:
        return item
    text = conn.execute(sa.select(documents.c.text).where(documents.c.document_id == item.document_id)).scalar()
    if text is None:
        return item
    return _replace_context(item, context_for(item, text))


def _replace_context(item: QueueItem, context: Context) -> QueueItem:
    from dataclasses import replace

    return replace(item, context=context)


def context_for(item: QueueItem, text: str) -> Context:
    if item.kind == "fact":
        _, parts = parse_key(item.key)
        return sentence_context(text, int(parts[1]), int(parts[2]))
    if item.kind == "sector" and item.values.get("unit") == "paragraph":
        parts = paragraphs(text)
        index = item.values["unit_index"]
        return Context("", _clip(parts[index] if index < len(parts) else ""), "")
    return Context("", "", _clip(text))


def sentence_context(text: str, start: int, end: int, radius: int = 300) -> Context:
    """The sentence around ``text[start:end]`` (at most ``radius`` characters either side)."""
    low = max(0, start - radius)
    breaks = [m.end() for m in _SENTENCE_BREAK.finditer(text, low, start)]
    left = breaks[-1] if breaks else low
    found = _SENTENCE_BREAK.search(text, end, min(len(text), end + radius))
    right = found.start() + 1 if found else min(len(text), end + radius)
    return Context(text[left:start], text[start:end], text[end:right])


_SENTENCE_BREAK = re.compile(r"[.!?](?=\s)|\n")


def _clip(text: str, limit: int = 700) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def find_item(store: Store, key: str) -> QueueItem | None:
    """The queue item of one key, reviewed or not, with its context."""
    target_type, parts = parse_key(key)
    finders = {"sector": _find_sector, "fact": _find_fact, "activity": _find_activity}
    if target_type not in finders:
        return None
    with store.engine.connect() as conn:
        item = finders[target_type](conn, key, parts)
        return with_context(conn, item) if item else None


def _find_sector(conn: Connection, key: str, parts: list[str]) -> QueueItem | None:
    query = sa.select(sector_labels, *_DOC).join(documents, sector_labels.c.document_id == documents.c.document_id)
    row = conn.execute(query.where(documents.c.text_hash == parts[0], sector_labels.c.unit == parts[1],
                                   sector_labels.c.unit_index == int(parts[2]))).first()
    if row is None:
        return None
    return _sector_item(row, activities_per_document(conn)[row.document_id] if parts[1] == "document" else 0)


def _find_fact(conn: Connection, key: str, parts: list[str]) -> QueueItem | None:
    ids = _fact_ids(conn, parts)
    if not ids:
        return None
    query = sa.select(facts, *_DOC).join(documents, facts.c.document_id == documents.c.document_id)
    return _fact_item(conn.execute(query.where(facts.c.id == ids[0])).one(), int(parts[4]))


def _find_activity(conn: Connection, key: str, parts: list[str]) -> QueueItem | None:
    return next((i for i in _activity_items(conn, QueueFilter(include_reviewed=True)) if i.key == key), None)


def corrections_of(store: Store, key: str) -> list[dict]:
    """Every correction of one target, newest first (the audit trail shown beside the form).

    Each has a ``state``: applied, superseded (by a later one), or lapsed (a fact correction
    whose fact, by its fingerprint, is no longer extracted from that span).
    """
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(corrections).where(corrections.c.target_key == key)
                            .order_by(corrections.c.id.desc())).all()
        return [dict(r._mapping, state=_state(conn, r)) for r in rows]


def _state(conn: Connection, row: sa.Row) -> str:
    if not row.active:
        return "superseded"
    expected = _expected_fingerprint(row) if row.target_type == "fact" else None
    if expected is None:
        return "applied"
    holds = any(f.reviewed and _fingerprint(f) == expected and (row.action != "reject" or f.rejected)
                for span in _span_facts(conn, parse_key(row.target_key)[1]).values() for f in span)
    return "applied" if holds else "lapsed"


def recent_corrections(store: Store, limit: int = 20) -> list[dict]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(corrections).order_by(corrections.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


# --- people -------------------------------------------------------------------------


def person_aliases_overview(store: Store) -> list[dict]:
    """Every alias with its person, most mentioned first, for the merge/split page."""
    query = (sa.select(person_aliases, persons.c.canonical_name)
             .join(persons, person_aliases.c.person_id == persons.c.person_id)
             .order_by(person_aliases.c.mentions.desc(), person_aliases.c.alias))
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def alias_target(store: Store, alias: str, action: str, person: str) -> dict[str, str]:
    """The person an alias is merged into (an existing id) or split off to (a new name)."""
    with store.engine.connect() as conn:
        current = conn.execute(sa.select(person_aliases.c.person_id).where(person_aliases.c.alias == alias)).scalar()
        if current is None:
            raise ReviewError(f"no alias {alias!r} is known; pick one from the people page")
        if action == "merge":
            if conn.execute(sa.select(persons.c.person_id).where(persons.c.person_id == person)).first() is None:
                raise ReviewError(f"no person has id {person!r}; merge into an id listed on the people page")
            return {"person_id": person, "previous": current}
    name = person.strip()
    if not name:
        raise ReviewError("a split needs the name of the new person")
    return {"person_id": _new_person_id(name, current), "canonical_name": name, "previous": current}


def _new_person_id(name: str, current: str) -> str:
    from pipeline.entities import canonical_person

    found = canonical_person(name)
    candidate = found.person_id if found else re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if candidate == current:
        candidate = f"{candidate}-split"
    return candidate


def reviewed_counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.reviewed.is_(True))).scalar_one()
                for t in (sector_labels, facts, activities)}
