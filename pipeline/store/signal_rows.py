"""Row I/O of the ``signals`` table: one row per signal key, kept from night to night.

A signal the last run raised is *active*. The next run's signal of the same key is new only when
its value grew past the largest value reported in the episode (``peak_value``), or when the key
comes back after a run that did not raise it; otherwise its row is only refreshed (``last_seen``),
so a team is not told the same thing every night.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.records import SEVERITIES, Evidence, Signal
from pipeline.store.db import Store, documents, signals, upsert


@dataclass(frozen=True)
class StoredSignal:
    """A signal as the store keeps it: the last measurement and its episode's dates."""

    signal: Signal
    first_seen: datetime
    last_seen: datetime
    raised_at: datetime
    active: bool


def newest_document_date(store: Store, today: date) -> date | None:
    """The publication date of the newest stored document, the day signals are measured to: an old
    corpus then raises nothing new night after night. A date after ``today`` (a misread one) is ignored."""
    with store.reading() as conn:
        return conn.execute(sa.select(sa.func.max(documents.c.published)).where(
            documents.c.deleted_at.is_(None), documents.c.published <= today)).scalar()


def record_signals(store: Store, raised: Sequence[Signal], now: datetime, growth: float = 0.0) -> list[Signal]:
    """Store this run's signals and end those it did not raise; returns the new ones (see the module)."""
    with store.writing() as conn:
        keys = [s.key for s in raised]
        before = {r.key: r for r in conn.execute(sa.select(signals).where(signals.c.key.in_(keys)))} if keys else {}
        new = [s for s in raised if is_new(before.get(s.key), s, growth)]
        new_keys = {s.key for s in new}
        upsert(conn, signals, [_row(s, before.get(s.key), s.key in new_keys, now) for s in raised], ["key"])
        _end_signals_not_raised(conn, keys)
    return new


def is_new(previous: sa.Row | None, signal: Signal, growth: float = 0.0) -> bool:
    """Whether ``signal`` is news: never seen, back after it ended, or grown past its episode's peak by more than
    ``growth`` (a share: 0.25 = a quarter), so a gap that lengthens by a day each night is not news each night."""
    return previous is None or not previous.active or signal.value > previous.peak_value * (1 + growth)


def _row(signal: Signal, previous: sa.Row | None, new: bool, now: datetime) -> dict:
    same_episode = previous is not None and previous.active
    return {
        "key": signal.key, "kind": signal.kind, "severity": signal.severity, "value": signal.value,
        "peak_value": signal.value if new else previous.peak_value,
        "summary": signal.summary, "evidence": _evidence_json(signal.evidence), "as_of": signal.as_of,
        "first_seen": previous.first_seen if same_episode else now, "last_seen": now,
        "raised_at": now if new else previous.raised_at, "active": True,
    }


def _end_signals_not_raised(conn: Connection, keys: Sequence[str]) -> None:
    ended = signals.update().where(signals.c.active.is_(True))
    if keys:
        ended = ended.where(signals.c.key.not_in(list(keys)))
    conn.execute(ended.values(active=False))


def stored_signals(store: Store, include_ended: bool = False) -> list[StoredSignal]:
    """The signals the last run raised (``include_ended``: every signal ever raised), most severe first."""
    query = sa.select(signals)
    if not include_ended:
        query = query.where(signals.c.active.is_(True))
    with store.reading() as conn:
        rows = [_stored(r) for r in conn.execute(query)]
    rank = {severity: i for i, severity in enumerate(reversed(SEVERITIES))}
    return sorted(rows, key=lambda s: (not s.active, rank.get(s.signal.severity, len(rank)), s.signal.kind,
                                       s.signal.key))


def _stored(row: sa.Row) -> StoredSignal:
    evidence = tuple(Evidence(e["activity_id"], date.fromisoformat(e["date"]), e.get("document_id"), e.get("fact_id"))
                     for e in json.loads(row.evidence))
    signal = Signal(row.kind, row.key, row.severity, row.value, row.summary, evidence, row.as_of)
    return StoredSignal(signal, _aware(row.first_seen), _aware(row.last_seen), _aware(row.raised_at), row.active)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back the stored UTC time without its zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _evidence_json(evidence: Sequence[Evidence]) -> str:
    return json.dumps([{key: value for key, value in e.as_json().items() if key != "link"} for e in evidence])
