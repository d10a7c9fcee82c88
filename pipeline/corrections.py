"""Recording reviewers' corrections: validate, store, apply at once.

A confirmation ("this is right") is a correction too: it marks its target reviewed and keeps
it as the rows hold it when it is made, with the reviewer and time, and it is applied again
after re-runs like any other (a fact's confirmation lapses when its fact is no longer extracted).

Double review: a share of the queue's items (``[review] double_review_share``, chosen by a hash of
the item's key) and every item whose correction would change a register tally
(``double_review_tallies``) get two reviewers. The first decision is stored but held back, unapplied,
so the rows show the second reviewer nothing of it; when the second decision agrees (the same action
and, for an edit, the same values) it is applied and settles the round; when it disagrees both wait
for an admin, whose decision is applied and settles the round. Each decision is a row of
``corrections`` with its role in the round.

What a correction may do is checked here; storing it and applying it to the rows (now
and after every re-run) is ``pipeline.store.correction_rows``' job, and the review
queue's read-only queries are in ``pipeline.review_queue``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.agreement import decision_label, in_double_review_share
from pipeline.config import ReviewConfig
from pipeline.entities import canonical_person
from pipeline.errors import ReviewError
from pipeline.keys import key_text_hash, parse_key
from pipeline.review_queue import QUEUE_KINDS, find_item_in
from pipeline.sectors import SECTORS
from pipeline.store import correction_rows, register_rows
from pipeline.store.correction_rows import ADJUDICATION, FIRST, SECOND, RoundPlace
from pipeline.store.db import Store, person_aliases, persons

# "confirm" (every target): the target is right as it stands; it is marked reviewed and kept so.
CONFIRM = correction_rows.CONFIRM
ACTIONS: dict[str, tuple[str, ...]] = {
    "sector": ("set", CONFIRM),
    "fact": ("set", "reject", CONFIRM),
    "activity": ("not_activity", "is_activity", CONFIRM),  # is_activity undoes a not_activity
    "alias": ("merge", "split", CONFIRM),
}
FACT_FIELDS = correction_rows.FACT_FIELDS
SINGLE_REVIEW = ReviewConfig(double_review_share=0.0, double_review_tallies=False)

# What became of a decision: applied at once; held (it waits for a second reviewer); agreed (a second
# decision that agrees, applied); disputed (a second that disagrees: both wait for an admin); adjudicated.
APPLIED, HELD, AGREED, DISPUTED, ADJUDICATED = "applied", "held", "agreed", "disputed", "adjudicated"


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
        return key_text_hash(self.target_key)


@dataclass(frozen=True)
class Recorded:
    """A stored decision: its row in ``corrections`` and what became of it (APPLIED ... ADJUDICATED)."""

    id: int
    outcome: str


def record_correction(store: Store, correction: Correction) -> int:
    """Store the correction, retire the earlier ones of its target, and apply it to the current rows."""
    return record_corrections(store, [correction])[0]


def record_corrections(store: Store, batch: Sequence[Correction]) -> list[int]:
    """``record_decisions`` without choosing items for double review (a round already open still counts)."""
    return [recorded.id for recorded in record_decisions(store, batch, SINGLE_REVIEW)]


def record_decision(store: Store, correction: Correction, review: ReviewConfig,
                    may_adjudicate: bool = False) -> Recorded:
    return record_decisions(store, [correction], review, may_adjudicate)[0]


def record_decisions(store: Store, batch: Sequence[Correction], review: ReviewConfig,
                     may_adjudicate: bool = False) -> list[Recorded]:
    """Store several decisions in one transaction (all or none), each its own audited row, each through the
    double review when its item is in one (see the module's doc); apply those that are not held back.
    ``may_adjudicate``: the reviewer is an admin, whose decision on a disputed item settles it.
    The register's tallies are counted once, after the last."""
    for correction in batch:
        _validate(correction)
    recorded, changed_register = [], False
    with store.writing() as conn:
        for correction in batch:  # one after another, as if made one by one: each sees the ones before it
            row, outcome = _decide(conn, correction, review, may_adjudicate)
            if row.active:
                changed_register |= correction_rows.apply_correction(conn, row, as_seen=True)
            recorded.append(Recorded(row.id, outcome))
        if changed_register:
            register_rows.refresh_tallies(conn)
    return recorded


def adjudicate(store: Store, round_id: int, kept_id: int, admin: str) -> Recorded:
    """An admin settles a disputed double review by keeping one of its two decisions, which is recorded
    again as the admin's (an audited correction, applied like any other)."""
    with store.reading() as conn:
        held = correction_rows.open_rounds(conn).get(round_id, [])
    if not any(r.review_role == SECOND for r in held):
        raise ReviewError(f"double review {round_id} is not waiting for adjudication (it may be settled "
                          f"already); reload the adjudication page")
    kept = next((r for r in held if r.id == kept_id), None)
    if kept is None:
        raise ReviewError(f"decision {kept_id} is not one of double review {round_id}'s; keep one of the "
                          f"decisions the adjudication page shows")
    others = ", ".join(sorted({r.reviewer for r in held if r.id != kept_id}))
    correction = Correction(kept.target_key, kept.action, admin, _decoded(kept.new_value), _decoded(kept.old_value),
                            kept.field, f"adjudicated: kept {kept.reviewer}'s decision over {others}'s",
                            kept.document_id)
    return record_decision(store, correction, SINGLE_REVIEW, may_adjudicate=True)


def _decoded(stored: str | None) -> Any:
    return json.loads(stored) if stored else None


def _decide(conn: Connection, correction: Correction, review: ReviewConfig,
            may_adjudicate: bool) -> tuple[sa.Row, str]:
    """Store one decision in its place: a round of double review's, or an ordinary correction."""
    key = correction.target_key
    held = correction_rows.open_round(conn, key)
    if any(r.review_role == SECOND for r in held):
        if not may_adjudicate:
            raise ReviewError(f"the two reviewers of {key} disagree; an admin decides it on the adjudication page")
        row = _insert(conn, correction, RoundPlace(ADJUDICATION, held[0].round_id, held=False))
        correction_rows.settle_round(conn, held, row.id)
        return row, ADJUDICATED
    if held:
        return _second_decision(conn, correction, held[0])
    if _double_reviewed(conn, key, review):
        return _insert(conn, correction, RoundPlace(FIRST, None, held=True)), HELD
    return _insert(conn, correction), APPLIED


def _second_decision(conn: Connection, correction: Correction, first: sa.Row) -> tuple[sa.Row, str]:
    if first.reviewer == correction.reviewer:
        raise ReviewError(f"you decided {correction.target_key} already; in double review it waits for another "
                          f"reviewer's decision, made without seeing yours")
    values = _stored_values(conn, correction)
    agrees = decision_label(correction.action, values.new_value) == decision_label(first.action,
                                                                                   _decoded(first.new_value))
    row = _insert(conn, correction, RoundPlace(SECOND, first.round_id, held=not agrees), values)
    if not agrees:
        return row, DISPUTED
    correction_rows.settle_round(conn, [first], row.id)
    return row, AGREED


def _double_reviewed(conn: Connection, key: str, review: ReviewConfig) -> bool:
    """Whether a decision on this item opens a double review: its key is in the configured share, or
    correcting it would change a register tally. People's aliases (not queue items) never are."""
    if parse_key(key)[0] not in QUEUE_KINDS:
        return False
    if in_double_review_share(key, review.double_review_share):
        return True
    if not review.double_review_tallies:
        return False
    item = find_item_in(conn, key)
    return item is not None and item.changes_tally


def confirmation(target_key: str, reviewer: str, comment: str | None = None) -> Correction:
    """A reviewer's "this is right" about a target: its values are read from the rows when it is stored."""
    return Correction(target_key, CONFIRM, reviewer, comment=comment)


def _stored_values(conn: Connection, correction: Correction) -> correction_rows.StoredValues:
    """The old and new value and the document a correction is stored with, completed from the rows."""
    old_value, new_value, document_id = correction.old_value, correction.new_value, correction.document_id
    if correction.action == CONFIRM:  # what is confirmed is what the rows hold now, not what a form sent
        seen = correction_rows.confirmation(conn, correction.target_key)
        old_value, new_value, document_id = seen.old_value, seen.new_value, document_id or seen.document_id
    if correction.target_type == "fact":  # what lets it find its fact again after a re-run
        old_value = correction_rows.old_value_with_fingerprint(conn, correction.target_key, old_value)
    elif correction.target_type == "activity":
        rejected = new_value["rejected"] if correction.action == CONFIRM else correction.action == "not_activity"
        new_value = correction_rows.activity_decision(conn, correction.target_key, rejected)
    return correction_rows.StoredValues(old_value, new_value, document_id)


def _insert(conn: Connection, correction: Correction, review: RoundPlace | None = None,
            values: correction_rows.StoredValues | None = None) -> sa.Row:
    values = values or _stored_values(conn, correction)
    return correction_rows.insert_correction(
        conn, reviewer=correction.reviewer, target_key=correction.target_key, action=correction.action,
        old_value=values.old_value, new_value=values.new_value, field=correction.field, comment=correction.comment,
        document_id=values.document_id, review=review)


def _validate(correction: Correction) -> None:
    target_type = correction.target_type
    if correction.action not in ACTIONS[target_type]:
        raise ReviewError(f"a {target_type} correction cannot {correction.action!r}; "
                          f"choose one of {', '.join(ACTIONS[target_type])}")
    if correction.action == CONFIRM:  # nothing to check: it keeps the values the rows hold
        return
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
    if edit["value"] is not None and not math.isfinite(edit["value"]):
        raise ReviewError(f"value {value!r} is not a finite number; write e.g. 51 or 8000.5")
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


def alias_target(store: Store, alias: str, action: str, person: str) -> dict[str, str]:
    """The person an alias is merged into (an existing id) or split off to (a new name)."""
    with store.reading() as conn:
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
    found = canonical_person(name)
    candidate = found.person_id if found else re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if candidate == current:
        candidate = f"{candidate}-split"
    return candidate
