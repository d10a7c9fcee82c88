"""How the review goes: agreement of the double review (Cohen's kappa per reviewer pair and per item kind)
and each reviewer's throughput (decisions per hour of work), from the ``corrections`` rows.

Read-only; shown on the admin's review statistics page and printed by ``nkpipe review stats``.
The arithmetic is ``pipeline.agreement``'s.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from pipeline.agreement import cohen_kappa, decision_label, decisions_per_hour, working_hours
from pipeline.config import ReviewConfig
from pipeline.store.correction_rows import FIRST, SECOND, open_rounds, round_decisions
from pipeline.store.db import Store, corrections


@dataclass(frozen=True)
class Agreement:
    """Agreement of the double reviews of one group (a reviewer pair, or an item kind)."""

    group: str
    rounds: int  # double reviews with both decisions made
    agreed: int
    kappa: float | None  # None: undefined (see pipeline.agreement.cohen_kappa)

    @property
    def share_agreed(self) -> float:
        return self.agreed / self.rounds if self.rounds else 0.0


@dataclass(frozen=True)
class Throughput:
    reviewer: str
    decisions: int
    hours: float  # time spent deciding (working spans only)
    per_hour: float | None


@dataclass(frozen=True)
class ReviewStats:
    by_pair: list[Agreement]
    by_kind: list[Agreement]
    throughput: list[Throughput]
    waiting_for_second: int  # double reviews with one decision so far
    disputed: int  # double reviews waiting for an admin


@dataclass(frozen=True)
class _Pair:
    kind: str
    first_reviewer: str
    first: str  # the decision's label (pipeline.agreement.decision_label)
    second_reviewer: str
    second: str


def review_stats(store: Store, review: ReviewConfig) -> ReviewStats:
    with store.reading() as conn:
        pairs = _pairs(round_decisions(conn))
        waiting = list(open_rounds(conn).values())
        decisions = conn.execute(sa.select(corrections.c.reviewer, corrections.c.created_at, corrections.c.old_value)
                                 .order_by(corrections.c.id)).all()
    disputed = sum(any(r.review_role == SECOND for r in held) for held in waiting)
    return ReviewStats(agreement_by_pair(pairs), agreement_by_kind(pairs),
                       throughput(decisions, timedelta(minutes=review.idle_minutes)),
                       len(waiting) - disputed, disputed)


def _pairs(rows: Sequence[sa.Row]) -> list[_Pair]:
    """The (first, second) decisions of every double review that has both."""
    by_round: dict[int, dict[str, sa.Row]] = defaultdict(dict)
    for row in rows:
        by_round[row.round_id][row.review_role] = row
    return [_Pair(r[FIRST].target_type, r[FIRST].reviewer, _label(r[FIRST]), r[SECOND].reviewer, _label(r[SECOND]))
            for r in by_round.values() if FIRST in r and SECOND in r]


def _label(row: sa.Row) -> str:
    return decision_label(row.action, json.loads(row.new_value) if row.new_value else None)


def agreement_by_pair(pairs: Iterable[_Pair]) -> list[Agreement]:
    """Per pair of reviewers (named in alphabetical order, whose decision was made first does not matter):
    each reviewer is one rater, so the kappa sees each one's own habits."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pair in pairs:
        (a, a_label), (b, b_label) = sorted([(pair.first_reviewer, pair.first), (pair.second_reviewer, pair.second)])
        groups[f"{a} & {b}"].append((a_label, b_label))
    return _agreements(groups)


def agreement_by_kind(pairs: Iterable[_Pair]) -> list[Agreement]:
    """Per item kind (sector, fact, activity): the first decision is one rater, the second the other."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pair in pairs:
        groups[pair.kind].append((pair.first, pair.second))
    return _agreements(groups)


def _agreements(groups: dict[str, list[tuple[str, str]]]) -> list[Agreement]:
    return [Agreement(group, len(labels), sum(a == b for a, b in labels), cohen_kappa(labels))
            for group, labels in sorted(groups.items())]


def throughput(decisions: Sequence[sa.Row], idle: timedelta) -> list[Throughput]:
    """Decisions per hour of work for every reviewer. A correction moved by the pipeline to a new fact or a
    revised text keeps its reviewer's name but is no decision of theirs, so it is not counted."""
    times = defaultdict(list)
    for row in decisions:
        if '"reanchored_from"' not in (row.old_value or ""):
            times[row.reviewer].append(row.created_at)
    return [Throughput(name, len(made), round(working_hours(made, idle), 3), decisions_per_hour(made, idle))
            for name, made in sorted(times.items())]


def format_stats(stats: ReviewStats) -> str:
    """The statistics as plain-text tables (``nkpipe review stats``)."""
    lines = [f"double reviews waiting for a second reviewer: {stats.waiting_for_second}; "
             f"disputed, waiting for an admin: {stats.disputed}", ""]
    for title, agreements in (("reviewer pair", stats.by_pair), ("item kind", stats.by_kind)):
        lines.append(f"{title:<32} {'rounds':>6} {'agreed':>6} {'kappa':>6}")
        lines += [f"{a.group:<32} {a.rounds:>6} {a.agreed:>6} {format_kappa(a.kappa):>6}" for a in agreements]
        lines += ["(no double review has two decisions yet)"] if not agreements else []
        lines.append("")
    lines.append(f"{'reviewer':<32} {'decisions':>9} {'hours':>7} {'per hour':>8}")
    lines += [f"{t.reviewer:<32} {t.decisions:>9} {t.hours:>7.2f} {format_rate(t.per_hour):>8}" for t in stats.throughput]
    return "\n".join(lines)


def format_kappa(kappa: float | None) -> str:
    return "n/a" if kappa is None else f"{kappa:.2f}"


def format_rate(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1f}"
