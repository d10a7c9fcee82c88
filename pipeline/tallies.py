"""Counting the activity register: per year, by sector, type, companion or month.

Pure functions over ``Activity`` records, shared by the register's store (which keeps
``activity_tallies`` current after every rebuild and correction), the CLI and the report.
An activity counts on its event date, else its report date. Which rows count at all is
data (``counting`` in ``resources/activity_rules.json``): letters and digests never, a speech
or follow-up only when it is not part of an event that counts already.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from pipeline.records import Activity
from pipeline.rules import load_json

BY = ("sector", "type", "companion", "month")
ROW_KINDS = ("activity", "speech", "follow_up", "digest", "letter")  # what a register row is (Activity.kind)


def activity_types() -> frozenset[str]:
    """Every activity type the register's rules can give a row (``Activity.activity_type``)."""
    rules = load_json("activity_rules.json")
    agents = rules["agent_markers"]
    tables = (rules["activity_verbs"], rules["type_overrides"], agents["before"], rules["headline_verbs"])
    named = {value for table in tables for key, value in table.items() if key != "note" and value}
    return frozenset(named | set(rules["fixed_types"]) | {agents["with_after_type"], rules["message_objects_kind"]})


def is_counted(activity: Activity) -> bool:
    """Whether the row is a public activity of its own under the default counting rules."""
    return row_counts(activity.kind, activity.part_of)


def counting_rule() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(kinds always counted, kinds counted unless part of an event): the rule as data, for queries too."""
    rule = load_json("activity_rules.json")["counting"]
    return tuple(rule["always"]), tuple(rule["unless_part_of_an_event"])


def row_counts(kind: str, part_of: str | None) -> bool:
    always, unless_part = counting_rule()
    return kind in always or (kind in unless_part and part_of is None)


def counted(activities: Sequence[Activity]) -> list[Activity]:
    """The rows a tally counts."""
    return [a for a in activities if is_counted(a)]


def tallies(activities: Sequence[Activity], year: int, by: str) -> list[tuple[str, int]]:
    """Counts of the year's activities (by event date, else report date) per key."""
    if by not in BY:
        raise ValueError(f"--by must be one of {', '.join(BY)}")
    counts: Counter[str] = Counter()
    for activity in counted(activities):
        day = activity.event_date or activity.report_date
        if day is None or day.year != year:
            continue
        if by == "sector":
            counts[activity.sector or "unknown"] += 1
        elif by == "type":
            counts[activity.activity_type] += 1
        elif by == "month":
            counts[f"{day:%Y-%m}"] += 1
        else:
            for person in activity.people:
                if person.role == "accompanied":
                    counts[person.name] += 1
    ordered = sorted(counts.items(), key=lambda kv: kv[0]) if by == "month" else counts.most_common()
    return ordered


def monthly_by_sector(activities: Sequence[Activity], year: int) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for activity in counted(activities):
        day = activity.event_date or activity.report_date
        if day is not None and day.year == year:
            table[f"{day:%Y-%m}"][activity.sector or "unknown"] += 1
    return {month: dict(row) for month, row in sorted(table.items())}


def tally_rows(activities: Sequence[Activity]) -> list[dict[str, Any]]:
    """Every tally of the register (each year, each breakdown), for the activity_tallies table."""
    activities = counted(activities)
    years = sorted({(a.event_date or a.report_date).year for a in activities if (a.event_date or a.report_date)})
    rows = []
    for year in years:
        rows.append({"year": year, "by": "total", "key": "all",
                     "count": sum(1 for a in activities if (a.event_date or a.report_date or date.min).year == year)})
        for by in BY:
            rows.extend({"year": year, "by": by, "key": key, "count": count} for key, count in tallies(activities, year, by))
    return rows
