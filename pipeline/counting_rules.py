"""Named counting rule sets: the ways a yearly tally of the leader's public activities can be counted.

Published tallies of one year disagree because their makers count differently: by event or report
date, a tour's sites once or each, with or without meetings, speeches, photo sessions or letters, up
to some cut-off day. Each way is a rule set in ``resources/counting_rules.json``, checked when the
file is first loaded; ``recount`` counts the register under one, and ``pipeline.activities.explain``
puts the recounts beside the published tallies. Pure functions over ``Activity`` records.

The register has one row per report of an activity, with the first place named, so a tour told in
one report is one row whatever the sites it names: "once_per_day" can merge the sites a day's
reports tell one by one, but no rule set can count the sites inside one report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipeline.errors import RuleFileError
from pipeline.records import Activity
from pipeline.rules import load_json
from pipeline.tallies import ROW_KINDS, activity_types, counting_rule

RULE_FILE = "counting_rules.json"
COUNT_ON = ("event_date", "report_date")
SITES = ("each_row", "once_per_day")
_MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")


@dataclass(frozen=True)
class CountingRuleSet:
    """One way of counting the register: which rows count, on which day, and up to when."""

    name: str
    description: str
    count_on: str  # one of COUNT_ON: the date a row counts on, the other one when it has none
    kinds_always: frozenset[str]
    kinds_unless_part_of_an_event: frozenset[str]  # counted only when no event of theirs was found
    leave_out_types: frozenset[str]
    sites: str  # one of SITES
    tour_types: frozenset[str]  # the activity types whose rows of one day make a tour (sites "once_per_day")
    cut_off: tuple[int, int] | None  # (month, day): the last day of the year counted; None: the whole year

    def counts(self, activity: Activity) -> bool:
        """Whether the set counts a row of this kind and type, whatever its day."""
        if activity.activity_type in self.leave_out_types:
            return False
        return activity.kind in self.kinds_always or (
            activity.kind in self.kinds_unless_part_of_an_event and activity.part_of is None)

    def day_of(self, activity: Activity) -> date | None:
        """The day the row counts on: the set's date, else the other one when the row lacks it."""
        if self.count_on == "report_date":
            return activity.report_date or activity.event_date
        return activity.event_date or activity.report_date

    def counts_in_year(self, activity: Activity, year: int) -> bool:
        day = self.day_of(activity)
        return (day is not None and day.year == year
                and (self.cut_off is None or (day.month, day.day) <= self.cut_off))


def counted_rows(register: Iterable[Activity], rule_set: CountingRuleSet, year: int) -> list[Activity]:
    """The register rows ``rule_set`` counts in ``year``, ordered by the day they count on."""
    rows = sorted((a for a in register if rule_set.counts(a) and rule_set.counts_in_year(a, year)),
                  key=lambda a: (rule_set.day_of(a), a.report_date or date.min, a.activity_id))
    return _one_row_per_tour_day(rows, rule_set) if rule_set.sites == "once_per_day" else rows


def recount(register: Iterable[Activity], rule_set: CountingRuleSet, year: int) -> int:
    """How many public activities ``year`` has under ``rule_set``."""
    return len(counted_rows(register, rule_set, year))


def _one_row_per_tour_day(rows: Sequence[Activity], rule_set: CountingRuleSet) -> list[Activity]:
    """The day's first tour row stands for the day's tour (its sector is the tour's in per-sector counts)."""
    toured_days: set[date] = set()
    kept = []
    for row in rows:
        if row.kind == "activity" and row.activity_type in rule_set.tour_types:
            day = rule_set.day_of(row)
            if day in toured_days:
                continue
            toured_days.add(day)
        kept.append(row)
    return kept


# --- the rule file -------------------------------------------------------------------


@functools.cache
def counting_rule_sets() -> tuple[CountingRuleSet, ...]:
    """The rule sets of ``resources/counting_rules.json``, in the file's order (the first: the register's own)."""
    return parse_rule_sets(load_json(RULE_FILE))


def parse_rule_sets(data: dict[str, Any]) -> tuple[CountingRuleSet, ...]:
    """Rule sets from the rule file's JSON; a ``RuleFileError`` names the key or value it does not accept."""
    where = f"pipeline/resources/{RULE_FILE}"
    _only_known_keys(data, ("note", "tour_types", "rule_sets"), where)
    tour_types = _activity_types(data.get("tour_types", []), f"{where}: tour_types")
    entries = data.get("rule_sets")
    if not isinstance(entries, list) or not entries:
        raise RuleFileError(f"{where}: rule_sets must be a non-empty list of rule sets; fix the file")
    rule_sets = tuple(_rule_set(entry, tour_types, f"{where}: rule set {number}")
                      for number, entry in enumerate(entries, 1))
    names = [r.name for r in rule_sets]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RuleFileError(f"{where}: rule set names must differ; {', '.join(map(repr, repeated))} is repeated; "
                            "rename one")
    return rule_sets


def _rule_set(entry: Any, tour_types: frozenset[str], where: str) -> CountingRuleSet:
    if not isinstance(entry, dict):
        raise RuleFileError(f"{where} must be an object with a name and a description, got {entry!r}; fix the file")
    _only_known_keys(entry, ("name", "description", *_PARAMETERS), where)
    for required in ("name", "description"):
        if not isinstance(entry.get(required), str) or not entry[required].strip():
            raise RuleFileError(f"{where} needs a {required} (a non-empty string); add one")
    where = f"{where} ({entry['name']!r})"
    always, unless_part = counting_rule()
    defaults = {"count_on": "event_date", "kinds_always": list(always), "kinds_unless_part_of_an_event":
                list(unless_part), "leave_out_types": [], "sites": "each_row", "cut_off": None}
    parameters = {key: read(entry.get(key, defaults[key]), f"{where}: {key}") for key, read in _PARAMETERS.items()}
    return CountingRuleSet(entry["name"], entry["description"], tour_types=tour_types, **parameters)


def _only_known_keys(table: dict[str, Any], known: Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise RuleFileError(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(known)}; "
                            "fix or remove it")


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def read(value: Any, where: str) -> str:
        if value not in choices:
            raise RuleFileError(f"{where} must be one of {', '.join(map(repr, choices))}, got {value!r}; fix the file")
        return value
    return read


def _names_from(allowed: Callable[[], Iterable[str]], what: str) -> Callable[[Any, str], frozenset[str]]:
    def read(value: Any, where: str) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RuleFileError(f"{where} must be a list of {what}, got {value!r}; fix the file")
        unknown = sorted(set(value) - set(allowed()))
        if unknown:
            raise RuleFileError(f"{where}: {unknown[0]!r} is not one of the {what} ({', '.join(sorted(allowed()))}); "
                                "fix the file")
        return frozenset(value)
    return read


def _cut_off(value: Any, where: str) -> tuple[int, int] | None:
    if value is None:
        return None
    match = _MONTH_DAY.match(value) if isinstance(value, str) else None
    if match is None or not _is_a_day(int(match[1]), int(match[2])):
        raise RuleFileError(f"{where} must be a day of the year as MM-DD (\"12-15\") or null, got {value!r}; "
                            "fix the file")
    return int(match[1]), int(match[2])


def _is_a_day(month: int, day: int) -> bool:
    try:
        date(2024, month, day)  # a leap year, so that 02-29 is a day
    except ValueError:
        return False
    return True


_activity_types = _names_from(activity_types, "activity types")
_PARAMETERS: dict[str, Callable[[Any, str], Any]] = {
    "count_on": _choice(COUNT_ON),
    "kinds_always": _names_from(lambda: ROW_KINDS, "register row kinds"),
    "kinds_unless_part_of_an_event": _names_from(lambda: ROW_KINDS, "register row kinds"),
    "leave_out_types": _activity_types,
    "sites": _choice(SITES),
    "cut_off": _cut_off,
}
