"""Row I/O of reviewers' corrections: storing them, and applying them to the rows they correct.

A correction is stored apart from what the models produced (table ``corrections``) and
applied on top of it wherever the rows are (re)written: ``pipeline.store.persist`` applies
the corrections of the documents it writes, and those of the activities after a register
rebuild, in the same transaction. So a re-run never erases a reviewer's decision.

Keys (``pipeline.keys``) never use row ids. Extraction order may change, so a fact
correction also keeps the fact's fingerprint (kind, period label, subject, value and range
as extracted) and is applied again only to the fact of that span with that fingerprint.
When none has it (a new extractor reads the sentence differently), the correction is
re-anchored to the one unreviewed fact of that kind whose span overlaps the old one and
whose value agrees: a successor correction is stored for the new fact, and the old one is
marked superseded by it, so the audit trail shows the move. When no fact, or more than one,
qualifies, the correction lapses and the review UI lists it. An activity's id changes when another link to the story
sorts first, so an activity decision also keeps the activity's document ids and text hashes
and applies to every activity that shares one of them.

A confirmation ("this is right", action ``confirm``) is stored like any correction, its new value
the target as the rows held it when it was made (for a fact: the edited fields and whether it is
rejected), and applied by the same functions: so it is kept, re-anchored or lapses like the others.

One apply function per target type, chosen from ``APPLIERS``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.errors import ReviewError
from pipeline.keys import alias_key, fact_key, parse_key
from pipeline.records import activity_id_for
from pipeline.store.db import (
    activities,
    activity_people,
    corrections,
    documents,
    entities,
    facts,
    person_aliases,
    persons,
    sector_labels,
    utcnow,
)
from pipeline.store.document_rows import sentences_of
from pipeline.store.register_rows import refresh_tallies

# The fact fields a reviewer may edit; a confirmation keeps them as the reviewer saw them.
FACT_FIELDS = ("value", "period_start", "period_end", "period_label", "subject", "sector")
CONFIRM = "confirm"

# What identifies a fact among the facts of one span, whatever order they were extracted in.
# Corrections stored before low and high were part of it keep the first four: fingerprints
# are compared on the fields both have.
FINGERPRINT_FIELDS = ("kind", "period_label", "subject", "value", "low", "high")


# --- storing ----------------------------------------------------------------------------------


def insert_correction(conn: Connection, *, reviewer: str, target_key: str, action: str, old_value: Any,
                      new_value: Any, field: str | None, comment: str | None, document_id: str | None,
                      review: RoundPlace | None = None) -> sa.Row:
    """Store one correction and retire the earlier ones of its target; returns the stored row.

    ``review``: its place in a double review; a held decision (``review.held``) is stored inactive,
    retires nothing and is not applied until the round is settled.
    """
    target_type, parts = parse_key(target_key)
    held = review is not None and review.held
    correction_id = conn.execute(corrections.insert().values(
        created_at=utcnow(), reviewer=reviewer, target_type=target_type, target_key=target_key,
        text_hash=parts[0] if target_type in ("sector", "fact") else None, document_id=document_id,
        action=action, field=field, old_value=_json(old_value), new_value=_json(new_value),
        comment=comment or None, active=not held,
        review_role=review.role if review else None, round_id=review.round_id if review else None,
    )).inserted_primary_key[0]
    if review is not None and review.round_id is None:  # a round's first decision names the round
        conn.execute(corrections.update().where(corrections.c.id == correction_id).values(round_id=correction_id))
    row = conn.execute(sa.select(corrections).where(corrections.c.id == correction_id)).one()
    if not held:
        conn.execute(corrections.update().where(corrections.c.id.in_(_superseded(conn, row)))
                     .values(active=False, superseded_by=correction_id))
    return row


# --- double review ----------------------------------------------------------------------------

FIRST, SECOND, ADJUDICATION = "first", "second", "adjudication"


@dataclass(frozen=True)
class RoundPlace:
    """Where a decision stands in a double review: its role, its round (None: it opens one), and whether
    it is held back unapplied (a first decision, or a second that disagrees with it)."""

    role: str
    round_id: int | None
    held: bool


def held_decisions() -> sa.ColumnElement[bool]:
    """Which rows are decisions of unsettled double reviews: held back, and not yet settled."""
    return sa.and_(corrections.c.review_role.in_((FIRST, SECOND)), corrections.c.active.is_(False),
                   corrections.c.superseded_by.is_(None))


def open_round(conn: Connection, key: str) -> list[sa.Row]:
    """The held decisions of the key's unsettled double review, first decision first; [] when none is open."""
    return conn.execute(sa.select(corrections).where(corrections.c.target_key == key, held_decisions())
                        .order_by(corrections.c.id)).all()


def open_rounds(conn: Connection) -> dict[int, list[sa.Row]]:
    """Every unsettled double review: round id -> its held decisions, oldest round first."""
    rounds: dict[int, list[sa.Row]] = {}
    for row in conn.execute(sa.select(corrections).where(held_decisions()).order_by(corrections.c.round_id, corrections.c.id)):
        rounds.setdefault(row.round_id, []).append(row)
    return rounds


def settle_round(conn: Connection, held: Sequence[sa.Row], settled_by: int) -> None:
    """Mark a round's held decisions as settled by the decision that is now applied."""
    conn.execute(corrections.update().where(corrections.c.id.in_([r.id for r in held]))
                 .values(superseded_by=settled_by))


def round_decisions(conn: Connection) -> list[sa.Row]:
    """The first and second decisions of every double review, by round, in the order they were made."""
    return conn.execute(sa.select(corrections).where(corrections.c.review_role.in_((FIRST, SECOND)))
                        .order_by(corrections.c.round_id, corrections.c.id)).all()


def old_value_with_fingerprint(conn: Connection, key: str, old_value: Any) -> Any:
    """The old value of a fact correction with the fingerprint, as extracted, of the fact the key names now."""
    ids = _fact_ids(conn, parse_key(key)[1])
    if not ids:
        return old_value
    fact = conn.execute(sa.select(facts).where(facts.c.id == ids[0])).one()
    fingerprint = _fingerprint(fact)
    if fact.reviewed:  # an earlier correction edited it: keep the fingerprint that one found it by
        fingerprint = next((stored_fingerprint(c) for c in _active_span_corrections(conn, key)
                            if _agree(expected_fingerprint(c), fingerprint)), fingerprint)
    old = old_value if isinstance(old_value, dict) else {"value": old_value}
    return {**old, "fingerprint": fingerprint}


def activity_decision(conn: Connection, key: str, rejected: bool) -> dict[str, Any]:
    """The decision with the activity's reports, so it follows the story when the activity's id changes."""
    activity_id = parse_key(key)[1][0]
    stored = conn.execute(sa.select(activities.c.document_ids).where(activities.c.activity_id == activity_id)).scalar()
    document_ids = json.loads(stored) if stored else []
    text_hashes = conn.execute(sa.select(documents.c.text_hash).distinct().where(
        documents.c.document_id.in_(document_ids))).scalars()
    return {"rejected": rejected, "document_ids": document_ids, "text_hashes": sorted(text_hashes)}


@dataclass(frozen=True)
class StoredValues:
    """The old and new value a correction is stored with, and where it was seen (for a confirmation: the
    target as the rows hold it now)."""

    old_value: Any
    new_value: Any
    document_id: str | None


def confirmation(conn: Connection, key: str) -> StoredValues:
    """The target's current state as the value a confirmation keeps; ReviewError when the key names nothing.

    Read inside the writing transaction, so what is confirmed is what the rows hold at that moment,
    never values a form sent.
    """
    target_type, parts = parse_key(key)
    found = CONFIRMED_STATE[target_type](conn, parts)
    if found is None:
        raise ReviewError(f"nothing stored has the key {key} now (a later run may have changed it); "
                          f"reload the review queue and decide again")
    return found


def _sector_state(conn: Connection, parts: list[str]) -> StoredValues | None:
    row = conn.execute(sa.select(sector_labels.c.sector, sector_labels.c.document_id).join(
        documents, sector_labels.c.document_id == documents.c.document_id).where(
        documents.c.text_hash == parts[0], sector_labels.c.unit == parts[1],
        sector_labels.c.unit_index == int(parts[2])).order_by(sector_labels.c.document_id).limit(1)).first()
    return None if row is None else StoredValues(row.sector, row.sector, row.document_id)


def _fact_state(conn: Connection, parts: list[str]) -> StoredValues | None:
    ids = _fact_ids(conn, parts)
    if not ids:
        return None
    fact = conn.execute(sa.select(facts).where(facts.c.id == ids[0])).one()
    seen = {name: getattr(fact, name) for name in FACT_FIELDS}
    return StoredValues(seen, {**seen, "rejected": bool(fact.rejected)}, fact.document_id)


def _activity_state(conn: Connection, parts: list[str]) -> StoredValues | None:
    row = conn.execute(sa.select(activities.c.rejected, activities.c.document_ids)
                       .where(activities.c.activity_id == parts[0])).first()
    if row is None:
        return None
    # the same convention as the other activity decisions: the old value says "it is an activity"
    return StoredValues(not row.rejected, {"rejected": bool(row.rejected)}, (json.loads(row.document_ids) or [None])[0])


def _alias_state(conn: Connection, parts: list[str]) -> StoredValues | None:
    person_id = conn.execute(sa.select(person_aliases.c.person_id).where(person_aliases.c.alias == parts[0])).scalar()
    return None if person_id is None else StoredValues(person_id, {"person_id": person_id}, None)


CONFIRMED_STATE: dict[str, Callable[[Connection, list[str]], StoredValues | None]] = {
    "sector": _sector_state,
    "fact": _fact_state,
    "activity": _activity_state,
    "alias": _alias_state,
}


def _superseded(conn: Connection, row: sa.Row) -> list[int]:
    """Ids of the active corrections the new one replaces: those of the same target.

    A fact's target is its span and fingerprint: the same key may name another fact after a re-run.
    """
    fingerprint = stored_fingerprint(row) if row.target_type == "fact" else None
    if fingerprint is None:
        return list(conn.execute(sa.select(corrections.c.id).where(
            corrections.c.target_key == row.target_key, corrections.c.active.is_(True),
            corrections.c.id != row.id)).scalars())
    return [c.id for c in _active_span_corrections(conn, row.target_key)
            if c.id != row.id and _agree(stored_fingerprint(c), fingerprint)]


def _active_span_corrections(conn: Connection, key: str) -> list[sa.Row]:
    """The active fact corrections of the key's span and kind, whatever their rank."""
    span = key.rsplit(":", 1)[0]
    return conn.execute(sa.select(corrections).where(
        corrections.c.target_key.startswith(f"{span}:", autoescape=True), corrections.c.active.is_(True))
        .order_by(corrections.c.id)).all()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


# --- applying ---------------------------------------------------------------------------------


def apply_document_corrections(conn: Connection, document_ids: Sequence[str]) -> None:
    """Re-apply the active corrections of these (just rewritten) documents and of their people."""
    hashes = list(conn.execute(sa.select(documents.c.text_hash).where(documents.c.document_id.in_(document_ids)))
                  .scalars())
    aliases = conn.execute(sa.select(entities.c.text).distinct().where(
        entities.c.document_id.in_(document_ids), entities.c.label == "PERSON")).scalars()
    wanted = sa.or_(corrections.c.text_hash.in_(hashes), corrections.c.target_key.in_([alias_key(a) for a in aliases]))
    changed_register = False
    for row in conn.execute(sa.select(corrections).where(corrections.c.active.is_(True), wanted)
                            .order_by(corrections.c.id)).all():
        changed_register |= apply_correction(conn, row)
    if changed_register:
        refresh_tallies(conn)


def apply_register_corrections(conn: Connection) -> None:
    """Re-apply activity corrections after the register was rebuilt (before its tallies are counted)."""
    # In the order they were made: a later decision about the same story wins.
    for row in conn.execute(sa.select(corrections).where(
            corrections.c.active.is_(True), corrections.c.target_type == "activity").order_by(corrections.c.id)).all():
        apply_correction(conn, row)


def apply_correction(conn: Connection, row: sa.Row, as_seen: bool = False) -> bool:
    """Apply one stored correction to the current rows; True when the register's tallies may change.

    ``as_seen``: the correction was just made on the rows as the reviewer saw them, so a fact key's
    rank names the fact; on re-applying after a re-run the fact is found by its fingerprint instead.
    """
    target_type, parts = parse_key(row.target_key)
    return APPLIERS[target_type](conn, row, parts, as_seen)


def _apply_sector(conn: Connection, row: sa.Row, parts: list[str], as_seen: bool) -> bool:
    text_hash, unit, unit_index = parts[0], parts[1], int(parts[2])
    sector = _new_value(row)
    # source='reviewer' is what document_rows.reviewed_sector_units() reads to train the sector model.
    conn.execute(sector_labels.update().where(
        sector_labels.c.document_id.in_(_documents_with(text_hash)), sector_labels.c.unit == unit,
        sector_labels.c.unit_index == unit_index).values(sector=sector, source="reviewer", reviewed=True))
    if unit != "document":
        return False
    ids = [activity_id_for(d) for d in conn.execute(
        sa.select(documents.c.document_id).where(documents.c.text_hash == text_hash)).scalars()]
    changed = conn.execute(activities.update().where(activities.c.activity_id.in_(ids)).values(sector=sector))
    return changed.rowcount > 0


def _apply_fact(conn: Connection, row: sa.Row, parts: list[str], as_seen: bool) -> bool:
    fingerprint = None if as_seen else stored_fingerprint(row)
    fact_ids = _fact_ids(conn, parts, fingerprint)
    if not fact_ids and fingerprint is not None:
        successor = _reanchor(conn, row, parts, fingerprint)
        return successor is not None and _apply_fact(conn, successor, parse_key(successor.target_key)[1], False)
    where = (facts.c.id.in_(fact_ids),)
    if _rejects(row):
        conn.execute(facts.update().where(*where).values(rejected=True, reviewed=True))
        return False
    values = {k: (date.fromisoformat(v) if k.startswith("period_") and k != "period_label" and v else v)
              for k, v in (_new_value(row) or {}).items() if k in FACT_FIELDS}
    conn.execute(facts.update().where(*where).values(**values, reviewed=True, rejected=False))
    return False


def _apply_activity(conn: Connection, row: sa.Row, parts: list[str], as_seen: bool) -> bool:
    decision = _new_value(row)
    # Corrections stored before decisions kept their reports hold just `true` (not an activity).
    decision = decision if isinstance(decision, dict) else {"rejected": True}
    same_story = {parts[0]} | _activities_sharing_reports(conn, decision)
    conn.execute(activities.update().where(activities.c.activity_id.in_(same_story))
                 .values(rejected=decision["rejected"], reviewed=True))
    return True


def _apply_alias(conn: Connection, row: sa.Row, parts: list[str], as_seen: bool) -> bool:
    alias, target = parts[0], _new_value(row)
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
    return True


APPLIERS: dict[str, Callable[[Connection, sa.Row, list[str], bool], bool]] = {
    "sector": _apply_sector,
    "fact": _apply_fact,
    "activity": _apply_activity,
    "alias": _apply_alias,
}


def _new_value(row: sa.Row) -> Any:
    return json.loads(row.new_value) if row.new_value else None


def _rejects(row: sa.Row) -> bool:
    """Whether a fact correction leaves its fact rejected: a reject, or the confirmation of a rejected fact."""
    if row.action == CONFIRM:
        return bool((_new_value(row) or {}).get("rejected"))
    return row.action == "reject"


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


# --- re-anchoring ----------------------------------------------------------------------------

SPAN_CONTEXT_CHARS = 60
LIGHT_EDIT_OVERLAP = 0.8  # share of sentences two versions have in common for a document's sector to follow


def _sentence_overlap(old_text: str, new_text: str) -> float:
    before, after = set(sentences_of(old_text)), set(sentences_of(new_text))
    return len(before & after) / len(before | after) if before | after else 1.0


def follow_revision(conn: Connection, old_hash: str, old_text: str, new_hash: str, new_text: str) -> int:
    """Move the active fact and document-sector corrections made on a document's earlier text to its new
    text (a source edited the article): a fact's span is found again by the text around it, unchanged;
    one whose passage was edited is left on the old text, where it shows as lapsed. When another document
    still has the earlier text, the corrections stay for it too. Returns how many moved."""
    still_used = conn.execute(sa.select(documents.c.document_id).where(documents.c.text_hash == old_hash).limit(1)).first()
    moved = 0
    for row in conn.execute(sa.select(corrections).where(corrections.c.active.is_(True),
                                                         corrections.c.text_hash == old_hash)
                            .order_by(corrections.c.id)).all():
        key = _key_in_revision(row.target_key, old_text, new_hash, new_text)
        if key is None:
            continue
        successor = insert_correction(
            conn, reviewer=row.reviewer, target_key=key, action=row.action,
            old_value={**(json.loads(row.old_value) if row.old_value and row.old_value.startswith("{") else
                          {"value": json.loads(row.old_value) if row.old_value else None}),
                       "reanchored_from": row.target_key},
            new_value=_new_value(row), field=row.field, document_id=row.document_id,
            comment=((row.comment + " ") if row.comment else "") + "(moved to the article's revised text)")
        if not still_used:
            conn.execute(corrections.update().where(corrections.c.id == row.id)
                         .values(active=False, superseded_by=successor.id))
        moved += 1
    return moved


def _key_in_revision(key: str, old_text: str, new_hash: str, new_text: str) -> str | None:
    target_type, parts = parse_key(key)
    if target_type == "sector":  # a document's sector follows a light edit, not a rewrite
        light = _sentence_overlap(old_text, new_text) >= LIGHT_EDIT_OVERLAP
        return f"sector:{new_hash}:{parts[1]}:{parts[2]}" if parts[1] == "document" and light else None
    start, end = int(parts[1]), int(parts[2])
    left, right = max(0, start - SPAN_CONTEXT_CHARS), min(len(old_text), end + SPAN_CONTEXT_CHARS)
    # the span with the text on both sides, else on one side: an edit next to it may leave the other
    for context_start, context_end in ((left, right), (left, end), (start, right)):
        context = old_text[context_start:context_end]
        found = new_text.find(context)
        if found >= 0 and new_text.find(context, found + 1) < 0:
            shift = found - context_start
            return f"fact:{new_hash}:{start + shift}:{end + shift}:{parts[3]}:{parts[4]}"
    return None  # the passage around it was edited, or is no longer one place: the correction lapses


def _reanchor(conn: Connection, row: sa.Row, parts: list[str], fingerprint: dict[str, Any]) -> sa.Row | None:
    """Move a correction whose fact is gone to the new fact of the same number; None when it lapses."""
    fact = _successor_fact(conn, parts, fingerprint)
    if fact is None:
        return None
    text_hash, kind = parts[0], parts[3]
    span = span_facts(conn, [text_hash, str(fact.start_char), str(fact.end_char), kind, "0"])[fact.document_id]
    key = fact_key(text_hash, fact.start_char, fact.end_char, kind, [f.id for f in span].index(fact.id))
    old = json.loads(row.old_value) if row.old_value else {}
    moved = {**old, "fingerprint": _fingerprint(fact), "reanchored_from": row.target_key}
    note = f"re-anchored from {row.target_key}: the extractor now reads this number differently"
    successor = insert_correction(
        conn, reviewer=row.reviewer, target_key=key, action=row.action, old_value=moved, new_value=_new_value(row),
        field=row.field, comment=f"{row.comment} ({note})" if row.comment else note, document_id=row.document_id)
    conn.execute(corrections.update().where(corrections.c.id == row.id)
                 .values(active=False, superseded_by=successor.id))
    return successor


def _successor_fact(conn: Connection, parts: list[str], fingerprint: dict[str, Any]) -> sa.Row | None:
    """The one unreviewed fact of the key's kind, in the first document with the key's text, whose span
    overlaps the key's and whose value (and range) agrees with the fingerprint; None when not exactly one."""
    text_hash, start, end, kind, _ = parts
    if fingerprint.get("value") is None and fingerprint.get("low") is None:
        return None  # nothing to compare: a range stored before fingerprints kept low and high
    query = sa.select(facts).where(
        facts.c.document_id.in_(_documents_with(text_hash)), facts.c.kind == kind,
        facts.c.start_char < int(end), facts.c.end_char > int(start)).order_by(facts.c.document_id, facts.c.id)
    overlapping = conn.execute(query).all()
    first_document = [f for f in overlapping if f.document_id == overlapping[0].document_id] if overlapping else []
    agreeing = [f for f in first_document if not f.reviewed and _value_agrees(f, fingerprint)]
    return agreeing[0] if len(agreeing) == 1 else None


def _value_agrees(fact: sa.Row, fingerprint: dict[str, Any]) -> bool:
    return all(getattr(fact, name) == fingerprint[name] for name in ("value", "low", "high") if name in fingerprint)


# --- fingerprints ----------------------------------------------------------------------------


def _fingerprint(fact: sa.Row) -> dict[str, Any]:
    return {name: getattr(fact, name) for name in FINGERPRINT_FIELDS}


def _agree(first: dict[str, Any] | None, second: dict[str, Any] | None) -> bool:
    """Whether two fingerprints agree on every field both have (older ones have fewer)."""
    if first is None or second is None:
        return first is second
    return all(first[name] == second[name] for name in first.keys() & second.keys())


def stored_fingerprint(row: sa.Row) -> dict[str, Any] | None:
    old = json.loads(row.old_value) if row.old_value else None
    return old.get("fingerprint") if isinstance(old, dict) else None


def expected_fingerprint(row: sa.Row) -> dict[str, Any] | None:
    """The fingerprint the corrected fact has once the correction is applied."""
    fingerprint = stored_fingerprint(row)
    if fingerprint is None:
        return None
    # a confirmation keeps the values the reviewer saw, which may be an earlier correction's edit
    edit = json.loads(row.new_value) if row.action in ("set", CONFIRM) and row.new_value else {}
    return {**fingerprint, **{k: v for k, v in edit.items() if k in FINGERPRINT_FIELDS}}


def span_facts(conn: Connection, parts: list[str]) -> dict[str, list[sa.Row]]:
    """The facts of a key's span and kind, per document with the key's text, in extraction order."""
    text_hash, start, end, kind, _ = parts
    query = sa.select(facts).where(
        facts.c.document_id.in_(_documents_with(text_hash)), facts.c.start_char == int(start),
        facts.c.end_char == int(end), facts.c.kind == kind).order_by(facts.c.document_id, facts.c.id)
    by_document: dict[str, list[sa.Row]] = {}
    for fact in conn.execute(query):
        by_document.setdefault(fact.document_id, []).append(fact)
    return by_document


def fact_ids_of_key(conn: Connection, key: str) -> list[int]:
    """Row ids of the fact a fact key names (by its rank), one per document with the key's text."""
    return _fact_ids(conn, parse_key(key)[1])


def _fact_ids(conn: Connection, parts: list[str], fingerprint: dict | None = None) -> list[int]:
    """Row ids of the fact a key names, in every document with that text (one per document).

    With a fingerprint, the fact of the span that has it, whatever its rank; else the key's rank.
    """
    ordinal = int(parts[4])
    chosen = []
    for span in span_facts(conn, parts).values():
        if fingerprint is not None:
            chosen += [next((f.id for f in span if _agree(_fingerprint(f), fingerprint)), None)]
        elif ordinal < len(span):
            chosen.append(span[ordinal].id)
    return [fact_id for fact_id in chosen if fact_id is not None]


def correction_state(conn: Connection, row: sa.Row) -> str:
    """applied; superseded (by a later one); re-anchored (moved to the new fact of its number after the
    extractor changed); or lapsed (a fact correction whose fact is no longer extracted). A held decision
    of a double review is awaiting a second review, or disputed (waiting for an admin), until the
    round is agreed or adjudicated."""
    settled = _round_state(conn, row) if row.review_role in (FIRST, SECOND) and not row.active else None
    if settled is not None:
        return settled
    if not row.active:
        successor = conn.execute(sa.select(corrections.c.old_value).where(corrections.c.id == row.superseded_by)).scalar()
        moved = json.loads(successor).get("reanchored_from") if successor and successor.startswith("{") else None
        return "re-anchored" if moved == row.target_key else "superseded"
    expected = expected_fingerprint(row) if row.target_type == "fact" else None
    if expected is None:
        return "applied"
    holds = any(f.reviewed and _agree(_fingerprint(f), expected) and (not _rejects(row) or f.rejected)
                for span in span_facts(conn, parse_key(row.target_key)[1]).values() for f in span)
    return "applied" if holds else "lapsed"


def _round_state(conn: Connection, row: sa.Row) -> str | None:
    """The state of a double review's decision within its round; None once a later round or an ordinary
    correction superseded it (then it is superseded like any other)."""
    if row.superseded_by is not None:
        settled_by = conn.execute(sa.select(corrections.c.review_role, corrections.c.round_id)
                                  .where(corrections.c.id == row.superseded_by)).first()
        if settled_by is None or settled_by.round_id != row.round_id:
            return None
        return "adjudicated" if settled_by.review_role == ADJUDICATION else "agreed"
    second = conn.execute(sa.select(corrections.c.id).where(corrections.c.round_id == row.round_id,
                                                            corrections.c.review_role == SECOND)).first()
    return "disputed" if second else "awaiting a second review"
