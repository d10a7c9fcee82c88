"""The activity register: one row per reported public activity of the leader.

Built from state-media reports already in the store (documents, their
entities and sector labels). A report counts when, in one of its first
sentences that names the leader, the first verb after his name is an
activity verb ("inspected", "gave field guidance", "oversaw", "made a
speech"); messages, letters, greetings, replies and published works are kept
out (see ``resources/activity_rules.json``). The event date comes from the
text, resolved against the report date, never the report date itself.
The same activity reported twice (same day, type and place, or the same
story under two links) is one row with several document ids. Which documents are
state-media reports is their source type's say (``pipeline.source_types``); the
rows are stored by ``pipeline.store.register_rows`` and counted by ``pipeline.tallies``.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, NamedTuple

from pipeline.counting_rules import CountingRuleSet, counted_rows
from pipeline.dates import find_temporal
from pipeline.entities import canonical_person, korean_surnames, person_key
from pipeline.fact_rules import rules as fact_rules, word_alternation
from pipeline.facts import format_value
from pipeline.records import Activity, Person, Report, ReportEntity, activity_id_for
from pipeline.rules import load_json
from pipeline.source_types import state_media_formats
from pipeline.store import register_rows
from pipeline.store.db import Store
from pipeline.store.persist import rebuilding_register
from pipeline.tallies import counted
from pipeline.text import sentence_spans

REGISTER_VERSION = "register-4"  # 4: the DPRK of his title is no place
_KOREAN_NAME = re.compile(r"\b([A-Z][a-z]{0,4}(?:\s+[A-Z][a-z]+){2})\b")


def rules() -> dict[str, Any]:
    return load_json("activity_rules.json")


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    r = rules()
    markers = r["companion_markers"]
    agents = r["agent_markers"]
    return {
        "activity": re.compile(rf"\b({word_alternation(r['activity_verbs'])})\b", re.IGNORECASE),
        "non_activity": re.compile(rf"\b({word_alternation(_data_keys(r['non_activity_verbs']))})\b", re.IGNORECASE),
        "override": re.compile(rf"\b({word_alternation(_data_keys(r['type_overrides']))})\b", re.IGNORECASE),
        "accompanied": re.compile(rf"\b(?:{word_alternation(markers['accompanied'])})\b", re.IGNORECASE),
        "present": re.compile(rf"\b(?:{word_alternation(markers['present'])})\b", re.IGNORECASE),
        "message_object": re.compile(rf"^[^.;]{{0,60}}?\b(?:{word_alternation(r['message_objects'])})\b", re.IGNORECASE),
        "object_before": re.compile(rf"\b(?:{word_alternation(r['object_markers'])})\s+{_LEADER_TITLE}$", re.IGNORECASE),
        "agent_before": re.compile(rf"\b({word_alternation(agents['before'])})\s+{_LEADER_TITLE}$", re.IGNORECASE),
        "event_predicate": re.compile(rf"\b(?:{word_alternation(agents['event_predicates'])})\b", re.IGNORECASE),
        "with_before": re.compile(rf"\bwith\s+{_LEADER_TITLE}$", re.IGNORECASE),
        "with_after": re.compile(rf"^\s*(?:,[^.;]*?,)?\s*(?:{word_alternation(agents['with_after'])})\b", re.IGNORECASE),
        "apposition": re.compile(r"^\s*(?:,[^.;]*)?$"),
        "headline": re.compile(
            r"^(?:respected\s+comrade\s+|comrade\s+)?kim\s+jong\s+un['’]?s?\s+"
            rf"({word_alternation(_data_keys(r['headline_verbs']))})\b|^(?:[a-z]+\s+)?((?:speech|address)\s+(?:(?:made|delivered|given)\s+)?"
            r"(?:at|to|(?:by|of)(?=\s+(?:the\s+)?(?:respected\s+)?(?:comrade\s+)?kim\s+jong\s+un\b)))\b",
            re.IGNORECASE),
    }


_LEADER_TITLE = r"(?:(?:the\s+)?respected\s+)?(?:comrade\s+|marshal\s+|he\s+)?"


def _data_keys(table: dict[str, Any]) -> list[str]:
    return [k for k in table if k != "note"]


def _leader_mentions(report: Report) -> list[ReportEntity]:
    leader = rules()["leader_id"]
    return [e for e in report.entities if e.canonical_id == leader]


@dataclass(frozen=True)
class _Found:
    """Where a report shows the leader acting: the sentence, the activity type, and what the row is."""

    span: tuple[int, int]
    activity_type: str
    leader_end: int
    kind: str = "activity"


def detect(report: Report) -> Activity | None:
    """The register row a report makes: a public activity, a speech, follow-up, digest or letter; or None."""
    found = _activity_sentence(report)
    if found is None or found.kind == "letter":  # "Kim Jong Un Pays Congratulatory Visit": the headline knows better
        found = _from_headline(report) or found
    if found is None:
        return None
    start, end = found.span
    event_date = _event_date(report, start, end)
    if found.kind != "letter" and not _is_current(report, event_date):
        return None
    people, country = _people(report, start, end) if found.kind != "letter" else ([], None)
    return Activity(
        activity_id=activity_id_for(report.document_id), actor=rules()["leader_name"], event_date=event_date,
        report_date=report.report_date, title=report.title, activity_type=found.activity_type,
        sector=_activity_sector(report, found.activity_type),
        place=_place(report, found.leader_end, end), counterpart_country=country,
        document_ids=(report.document_id,), people=tuple(people), confidence=0.9 if event_date else 0.7,
        date_precision="stated" if event_date else None, kind=_kind(report, found),
    )


@dataclass(frozen=True)
class Evidence:
    """Where a report shows its register row: the span of the sentence, and what the rules read there."""

    start: int
    end: int
    # "sentence": he is the one acting in it; "headline": the headline names the activity (its report's
    # first sentence is the span); "mention": no rule fires now, so the first sentence that names him
    basis: str


def evidence(report: Report) -> Evidence | None:
    """The sentence that made the report's register row, found again by the rules of ``detect`` (the
    register keeps no offsets); else the first sentence naming the leader; None when none names him."""
    found = _activity_sentence(report)
    headline = _from_headline(report) if found is None or found.kind == "letter" else None
    if headline is not None:
        return Evidence(*headline.span, "headline")
    if found is not None:
        return Evidence(*found.span, "sentence")
    mentions = _leader_mentions(report)
    for start, end in sentence_spans(report.text):
        if any(start <= m.start_char < end for m in mentions):
            return Evidence(start, end, "mention")
    return None


def _activity_sector(report: Report, activity_type: str) -> str | None:
    """The report's sector weighed by what the activity's type says of it under the codebook (a party
    meeting is political unless the model is sure it is military); a reviewer's sector as it is."""
    prior = rules()["sector_prior_by_type"].get(activity_type)
    if prior is None or not report.sector_probabilities:
        return report.sector
    floor = rules()["model_floor"]
    weighed = {sector: (p + floor) * prior.get(sector, 0.0) for sector, p in report.sector_probabilities.items()}
    return max(weighed, key=weighed.get) if any(weighed.values()) else report.sector


def _kind(report: Report, found: _Found) -> str:
    if found.kind == "letter":
        return "letter"
    if _is_digest(report):
        return "digest"
    if found.activity_type == "speech":
        return "speech"
    return "follow_up" if _title_words(report.title) & set(rules()["follow_up_title_words"]) else "activity"


def _activity_sentence(report: Report) -> _Found | None:
    """The first sentence where the leader acts: the subject of an activity verb, or named as the one
    who guided, attended or watched ("under the guidance of", "with ... in attendance")."""
    mentions = _leader_mentions(report)
    for start, end in sentence_spans(report.text)[: rules()["first_sentences"]]:
        for mention in [m for m in mentions if start <= m.start_char < end][:1]:
            before = report.text[max(start, mention.start_char - 60):mention.start_char]
            after = report.text[mention.end_char:min(end, mention.end_char + rules()["max_verb_distance"])]
            agent = _agent_type(before, after, report.text[start:end])
            if agent is not None:
                return _Found((start, end), _activity_type(report.text[start:end], agent, report.title), mention.end_char)
            if _patterns()["object_before"].search(before):
                continue  # "a message to Kim Jong Un": he is not the one acting
            verdict = _verb_after_leader(after)
            if verdict == "skip":
                continue
            if verdict is None:
                return None
            kind, activity_type = verdict
            return _Found((start, end), _activity_type(report.text[start:end], activity_type, report.title)
                          if kind == "activity" else activity_type, mention.end_char, kind)
    return None


def _agent_type(before: str, after: str, sentence: str) -> str | None:
    """The activity type named by a phrase that makes the leader the one present, though not the subject;
    a phrase that is also a slogan only in a sentence that reports an event."""
    p, agents = _patterns(), rules()["agent_markers"]
    marker = p["agent_before"].search(before)
    if marker is not None:
        phrase = " ".join(marker.group(1).lower().split())
        if phrase in agents["slogan_markers"] and not p["event_predicate"].search(sentence):
            return None
        return agents["before"][phrase]
    if p["with_before"].search(before) and p["with_after"].match(after):
        return agents["with_after_type"]
    return None


def _verb_after_leader(after: str) -> tuple[str, str] | str | None:
    """(kind, type) of the first verb after the leader's name; "skip" when there is none to judge by,
    None when the verb says this is not a report of his (a published work, an election)."""
    p = _patterns()
    activity = p["activity"].search(after)
    blocked = p["non_activity"].search(after)
    if blocked and (activity is None or blocked.start() < activity.start()):
        kind = rules()["non_activity_verbs"][" ".join(blocked.group(1).lower().split())]
        return (kind, kind) if kind else None
    if activity is None or not p["apposition"].match(after[:activity.start()]):
        return "skip"
    if p["message_object"].match(after[activity.end():]):
        kind = rules()["message_objects_kind"]  # "received greetings", "received a floral basket"
        return kind, kind
    return "activity", rules()["activity_verbs"][" ".join(activity.group(1).lower().split())]


def _from_headline(report: Report) -> _Found | None:
    """"Respected Comrade Kim Jong Un Inspects ...": the headline names the activity when the text buries it."""
    if report.section != rules()["activities_topic"]:
        return None
    activity_type = _headline_activity(report.title)
    if activity_type is None:
        return None
    first = (sentence_spans(report.text) or [(0, len(report.text))])[0]
    return _Found(first, activity_type, first[0])


def _headline_activity(title: str | None) -> str | None:
    """The activity type a KCNA headline names in the present tense for the leader, if any."""
    match = _patterns()["headline"].match((title or "").strip())
    if match is None or _patterns()["message_object"].match(title.strip()[match.end():]):
        return None
    verb = " ".join((match.group(1) or match.group(2)).lower().split())
    return rules()["headline_verbs"].get(verb, "speech")


def _is_current(report: Report, event_date: date | None) -> bool:
    """Features and anecdotes retell old visits: keep reports of new activities only. A report naming
    no day is new in the leader's own topic, under a headline that reports his activity in the
    present tense ("Kim Jong Un Has Photo Session ..."), or in the day's press digest."""
    if event_date is None:
        return (report.section == rules()["activities_topic"] or _is_digest(report)
                or _headline_activity(report.title) is not None)
    if report.report_date is None:
        return True
    return 0 <= (report.report_date - event_date).days <= rules()["max_event_age_days"]


def _activity_type(sentence: str, base: str, title: str | None = None) -> str:
    """The type a verb or phrase gives, made precise by a word of the sentence, else of the headline
    ("oversaw ... test-fire": weapons test); KCNA's own verb decides for inspections, visits, talks,
    speeches and photo sessions."""
    r = rules()
    if base in r["fixed_types"]:
        return base
    for text in (sentence, title or ""):
        found = {r["type_overrides"][" ".join(m.group(1).lower().split())]
                 for m in _patterns()["override"].finditer(text)}
        if found:
            return min(found, key=lambda t: r["override_priority"].index(t) if t in r["override_priority"] else 99)
    return base


def _event_date(report: Report, start: int, end: int) -> date | None:
    """The day the activity took place: named in its sentence, else in the sentences before it.

    The dateline ("Pyongyang, August 17 (KCNA) --") is the report date, not the event's;
    a day after "on" ("on August 16") beats a bare one (the "April 25 Hostel" is a name).
    """
    if report.report_date is None:
        return None
    spans = sentence_spans(report.text)
    before = [(s, e) for s, e in spans if e <= start]
    after = [(s, e) for s, e in spans if s >= end]
    for s_start, s_end in [(start, end), *reversed(before[-6:]), *after[:2]]:
        found = _day_in(report.text[s_start:s_end], report.report_date)
        if found is not None:
            return found
    return None


_DATELINE = re.compile(r"^[^,\n]{0,40},\s+[A-Z][a-z]+\.?\s+\d{1,2}\s+\(KCNA\)\s*-*")


def _day_in(text: str, report_date: date) -> date | None:
    dateline = _DATELINE.match(text)
    body = text[dateline.end():] if dateline else text
    days = [m for m in find_temporal(body, report_date) if m.period.granularity == "day"
            or (m.period.granularity == "range" and m.period.start.month == m.period.end.month and m.period.start.day != 1)]
    days = [m for m in days if m.period.start <= report_date]
    preferred = [m for m in days if re.match(r"(?i)(on|from|since)\b", m.text)]
    chosen = (preferred or days)[:1]
    if not preferred and _YESTERDAY.search(body):  # "held ... yesterday" beats "the April 25 House of Culture"
        return report_date - timedelta(days=1)
    return chosen[0].period.start if chosen else None


_YESTERDAY = re.compile(r"\byesterday\b", re.IGNORECASE)


def _place(report: Report, after: int, end: int) -> str | None:
    too_wide = set(rules()["not_a_place_ids"])
    for entity in report.entities:
        if (after <= entity.start_char < end and entity.label in ("GPE", "LOC", "FAC")
                and entity.canonical_id not in too_wide):
            return entity.canonical_name or entity.text
    return None


def _people(report: Report, start: int, end: int) -> tuple[list[Person], str | None]:
    """Counterparts in the activity sentence and the first one's country; companions in "He was accompanied
    by ..." sentences."""
    found: dict[str, Person] = {}
    countries: list[str] = []
    leader = rules()["leader_id"]
    for entity in report.entities:
        if start <= entity.start_char < end and entity.label == "PERSON" and entity.canonical_id not in (None, leader):
            country = _country_of(entity.canonical_name or entity.text) or _country_in_apposition(report, entity)
            if country:
                countries.append(country)
                found.setdefault(entity.canonical_id, Person(entity.canonical_id, entity.canonical_name or entity.text,
                                                             "counterpart"))
    for s_start, s_end in sentence_spans(report.text)[:12]:
        sentence = report.text[s_start:s_end]
        role = ("accompanied" if _patterns()["accompanied"].search(sentence)
                else "present" if _patterns()["present"].search(sentence) else None)
        if role is None:
            continue
        for person in _names_in(report, s_start, s_end):
            if person.person_id != leader:
                found.setdefault(person.person_id, replace(person, role=role))
    return list(found.values()), (countries[0] if countries else None)


_APPOSITION = re.compile(r",\s*([^,;.]{3,120})")
_NORTH_KOREAN_TITLE = re.compile(r"\b(?:DPRK|Korean|ambassador\s+to)\b", re.IGNORECASE)


def _country_in_apposition(report: Report, entity: ReportEntity) -> str | None:
    """The country of a foreign guest named by his title ("Andrei Belousov, minister of Defence of the Russian
    Federation"); never a North Korean's ("Sin Hong Chol, DPRK ambassador to Russia")."""
    if _looks_korean(entity.text):
        return None
    title = _APPOSITION.match(report.text, entity.end_char)
    if title is None or _NORTH_KOREAN_TITLE.search(title.group(1)):
        return None
    return _country_of(title.group(1))


def _names_in(report: Report, start: int, end: int) -> list[Person]:
    people = [Person(e.canonical_id, e.canonical_name or e.text, "")
              for e in report.entities
              if start <= e.start_char < end and e.label == "PERSON" and e.canonical_id]
    known = {p.person_id for p in people}
    for match in _KOREAN_NAME.finditer(report.text, start, end):
        ref = canonical_person(match.group(1))
        if ref is not None and ref.person_id not in known and _looks_korean(match.group(1)):
            people.append(Person(ref.person_id, ref.canonical_name, ""))
            known.add(ref.person_id)
    return people


def _looks_korean(name: str) -> bool:
    return name.split()[0].lower() in korean_surnames()


@functools.cache
def _countries() -> dict[str, str]:
    counterparts = fact_rules()["counterparts"]
    return {w.lower(): country for country, words in counterparts.items() if country != "note" for w in words}


def _country_of(name: str) -> str | None:
    """The country of a foreign counterpart, from the names the facts rules list per country."""
    lowered = name.lower()
    words = set(re.findall(r"[\w.'-]+", lowered))
    return _countries().get(lowered) or next(
        (c for w, c in _countries().items() if len(w) > 3 and (w in words or (" " in w and w in lowered))), None)


# --- de-duplication ---------------------------------------------------------------


def _title_words(title: str | None) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", (title or "").lower()) if len(w) > 3}


def _same_activity(a: Activity, b: Activity) -> bool:
    if a.activity_type != b.activity_type or a.kind != b.kind:
        return False
    day_a, day_b = a.event_date or a.report_date, b.event_date or b.report_date
    if day_a is None or day_b is None or abs((day_a - day_b).days) > 1:
        return False
    words_a, words_b = _title_words(a.title), _title_words(b.title)
    overlap = len(words_a & words_b) / max(1, len(words_a | words_b))
    return overlap >= 0.5 or (a.place is not None and a.place == b.place and a.event_date == b.event_date)


_DIGEST = re.compile(r"^\s*(?:press review|review of rodong sinmun)\b", re.IGNORECASE)


def _is_digest(report: Report) -> bool:
    """A line of KCNA's daily press digest: it repeats an activity, never one of its own."""
    return bool(_DIGEST.match(report.title or ""))


def _with_its_event(digest: Activity, merged: Sequence[Activity]) -> Activity:
    """A digest line is linked to the activity of the same type reported in the days before, if any."""
    day = digest.event_date or digest.report_date
    candidates = [a for a in merged if a.kind == "activity" and a.activity_type == digest.activity_type
                  and day is not None and (a.event_date or a.report_date) is not None
                  and 0 <= (day - (a.event_date or a.report_date)).days <= 3]
    if not candidates:
        return digest
    event = max(candidates, key=lambda a: a.event_date or a.report_date)
    return replace(digest, part_of=event.activity_id, sector=event.sector or digest.sector,
                   event_date=digest.event_date or event.event_date,
                   date_precision=digest.date_precision or ("linked" if event.event_date else None))


def merge_duplicates(activities: Sequence[Activity]) -> list[Activity]:
    """One row per event and report kind: a report and its follow-up, or one story under two links, are
    one activity; speeches, follow-ups and digests are linked to the event they belong to."""
    merged: list[Activity] = []
    for activity in sorted((a for a in activities if a.kind != "digest"),
                           key=lambda a: (a.report_date or date.min, a.activity_id)):
        twin = next((m for m in reversed(merged[-30:]) if _same_activity(m, activity)), None)
        if twin is None:
            merged.append(activity)
            continue
        people = {p.person_id: p for p in (*twin.people, *activity.people)}
        merged[merged.index(twin)] = replace(
            twin, document_ids=twin.document_ids + activity.document_ids, people=tuple(people.values()),
            event_date=twin.event_date or activity.event_date, place=twin.place or activity.place,
            date_precision=twin.date_precision or activity.date_precision,
            confidence=max(twin.confidence, activity.confidence))
    with_digests = merged + [_with_its_event(a, merged) for a in activities if a.kind == "digest"]
    return _date_undated(with_digests)


def _date_undated(activities: list[Activity]) -> list[Activity]:
    """Every row gets an event date; a speech or follow-up is linked to its event and takes its sector.

    A speech or follow-up takes the sector of the dated activity its report belongs to, and its
    date when it names none ("linked"); any other undated row takes the report date less
    KCNA's habit of reporting the day before ("inferred").
    """
    parts = {a.activity_id for a in activities if _belongs_to_an_event(a)}
    events = [a for a in activities if a.event_date is not None and a.activity_id not in parts and a.kind == "activity"]
    lag = timedelta(days=rules()["inferred_event_lag_days"])
    result = []
    for activity in activities:
        event = _event_of(activity, events) if activity.activity_id in parts and activity.report_date else None
        if event is not None:
            activity = replace(activity, sector=event.sector or activity.sector, part_of=event.activity_id)
            if activity.event_date is None:
                activity = replace(activity, event_date=event.event_date, date_precision="linked")
        elif activity.event_date is None and activity.report_date is not None:
            activity = replace(activity, event_date=activity.report_date - lag, date_precision="inferred")
        result.append(activity)
    return result


def _belongs_to_an_event(activity: Activity) -> bool:
    """A speech or a follow-up is given at or about an event reported on its own; an inspection is its own event."""
    if activity.kind in ("digest", "letter") or activity.part_of is not None:
        return False  # a digest is linked by merge_duplicates, a letter to nothing
    return activity.activity_type in rules()["event_part_types"] or bool(
        _title_words(activity.title) & set(rules()["event_part_title_words"]))


def _event_of(activity: Activity, dated: Sequence[Activity]) -> Activity | None:
    """The dated activity reported the same day or the day before that shares the undated one's place
    or a title word ("Speech at Completion of Hospital" and "Hospital Completed")."""
    words = _title_words(activity.title) - _GENERIC_TITLE_WORDS
    candidates = [a for a in dated if a.report_date is not None
                  and 0 <= (activity.report_date - a.report_date).days <= 1
                  and ((activity.place and a.place == activity.place) or words & _title_words(a.title))]
    return max(candidates, key=lambda a: (a.report_date, a.event_date), default=None)


# words of almost every title about the leader: sharing one says nothing about the event
_GENERIC_TITLE_WORDS = frozenset({"comrade", "jong", "kim", "respected", "supreme", "leader", "general", "secretary",
                                  "dprk", "korea", "korean", "speech", "makes", "made", "delivers", "with", "from",
                                  "inspects", "visits", "guides", "tours", "oversees", "watches", "attends", "sees",
                                  "enjoys", "gives", "field", "guidance", "congratulates", "meets", "receives"})


def build_register(reports: Iterable[Report]) -> list[Activity]:
    """One activity per event the reports describe."""
    return merge_duplicates([a for a in map(detect, reports) if a is not None])


def register_needs_rebuild(store: Store, documents_changed: bool) -> bool:
    """Whether a run must rebuild the register: documents were stored or deleted, or the register was
    built by another version of its rules."""
    return documents_changed or register_rows.register_built_with(store) != REGISTER_VERSION


def rebuild_register(store: Store) -> int:
    """Detect, de-duplicate and store the register from the store's state-media reports; returns how many
    of its rows are counted activities."""
    with rebuilding_register(store) as rebuild:  # read and written under one lock: no stale read wins
        register = build_register(rebuild.reports(state_media_formats()))
        rebuild.write(register, REGISTER_VERSION)
    return len(counted(register))


@dataclass(frozen=True)
class Coverage:
    """Which days of a year the corpus holds state-media reports of: a register count is only
    comparable with a published yearly tally when the corpus covers the whole year."""

    year: int
    days: frozenset[date]

    @property
    def days_in_year(self) -> int:
        return 366 if calendar.isleap(self.year) else 365

    @property
    def months(self) -> list[int]:
        """The months with reports on at least two thirds of their days."""
        per_month = Counter(day.month for day in self.days)
        return [m for m in range(1, 13) if per_month[m] * 3 >= 2 * calendar.monthrange(self.year, m)[1]]

    @property
    def complete(self) -> bool:
        return len(self.days) == self.days_in_year

    def describe(self) -> str:
        return (f"the corpus covers {len(self.months)} of 12 months of {self.year} "
                f"({len(self.days)} of {self.days_in_year} days)")


def corpus_coverage(store: Store, year: int) -> Coverage:
    """The days of ``year`` with state-media reports in the store."""
    return Coverage(year, frozenset(register_rows.report_days(store, state_media_formats(), year)))


@dataclass(frozen=True)
class Reconciliation:
    """A reported tally beside the register's own count for the same year and breakdown."""

    key: str  # "all", a sector, or "with <country>"
    reported_value: str
    reported_low: float | None
    reported_high: float | None
    register_count: int
    difference: float | None
    source: str
    sentence: str
    document_id: str | None = None  # where the tally was reported, and which fact it is
    fact_id: int | None = None


def reconcile(activities: Sequence[Activity], facts: Sequence[dict[str, Any]], year: int,
              leader: str | None = None, coverage: Coverage | None = None) -> list[Reconciliation]:
    """Each reported tally of the leader's activities for ``year`` against the register.

    With a ``coverage`` that is not the whole year, no difference is given: the register counts
    only the covered days, and a published yearly tally counts them all.
    """
    comparable = coverage is None or coverage.complete
    in_year = [a for a in counted(activities) if (a.event_date or a.report_date or date.min).year == year]
    rows = []
    for fact in _leader_tallies(facts, year, leader):
        key, count = _register_count(in_year, fact)
        low, high = _reported_bounds(fact)
        middle = _reported_middle(fact)
        rows.append(Reconciliation(key, format_value(fact), low, high, count,
                                   None if middle is None or not comparable else round(count - middle, 1),
                                   _source_of(fact), fact["sentence"], fact.get("document_id"), fact.get("id")))
    return rows


class Recount(NamedTuple):
    rule_set: str
    count: int


@dataclass(frozen=True)
class Explanation:
    """A reported tally beside the register recounted under each counting rule set, and the set that comes closest."""

    key: str  # "all", a sector, a category, or "with <country>"
    reported_value: str
    recounts: tuple[Recount, ...]  # in the order of the rule sets
    # the rule sets whose recount is nearest the reported value (several when tied); () when the corpus
    # does not cover the whole year, or the tally gives no number to compare
    closest: tuple[str, ...]
    residual: float | None  # the (first) closest recount less the reported value
    source: str
    sentence: str
    document_id: str | None = None
    fact_id: int | None = None


def explain(activities: Sequence[Activity], facts: Sequence[dict[str, Any]], year: int,
            rule_sets: Sequence[CountingRuleSet], leader: str | None = None,
            coverage: Coverage | None = None) -> list[Explanation]:
    """Each reported tally of the leader's activities for ``year`` beside the register recounted under every
    rule set (give it every register row: letters and event parts count under some sets), with the closest
    set and its residual. With a ``coverage`` that is not the whole year, the recounts count only the
    covered days, so none is called closest."""
    comparable = coverage is None or coverage.complete
    counted_by_set = [(rule_set.name, counted_rows(activities, rule_set, year)) for rule_set in rule_sets]
    explained = []
    for fact in _leader_tallies(facts, year, leader):
        key, belongs = _breakdown(fact)
        recounts = tuple(Recount(name, sum(1 for a in rows if belongs(a))) for name, rows in counted_by_set)
        middle = _reported_middle(fact)
        closest, residual = _closest(recounts, middle) if comparable and middle is not None else ((), None)
        explained.append(Explanation(key, format_value(fact), recounts, closest, residual,
                                     _source_of(fact), fact["sentence"], fact.get("document_id"), fact.get("id")))
    return explained


def _closest(recounts: Sequence[Recount], reported: float) -> tuple[tuple[str, ...], float]:
    nearest = min(abs(r.count - reported) for r in recounts)
    closest = [r for r in recounts if abs(r.count - reported) == nearest]
    return tuple(r.rule_set for r in closest), round(closest[0].count - reported, 1)


def _leader_tallies(facts: Sequence[dict[str, Any]], year: int, leader: str | None) -> list[dict[str, Any]]:
    """The reported tallies of the leader's activities over ``year``: no other person, no period beyond it."""
    wanted = person_key(leader or rules()["leader_name"])
    return [fact for fact in facts
            if fact["kind"] == "activity_count" and fact["subject"] and person_key(fact["subject"]) == wanted
            and fact["period_start"] is not None and fact["period_start"].year == year
            and fact["period_end"].year == year]


def _source_of(fact: dict[str, Any]) -> str:
    return fact.get("document_title") or fact.get("document_url") or fact["document_id"]


def _register_count(activities: Sequence[Activity], fact: dict[str, Any]) -> tuple[str, int]:
    key, belongs = _breakdown(fact)
    return key, sum(1 for a in activities if belongs(a))


def _breakdown(fact: dict[str, Any]) -> tuple[str, Callable[[Activity], bool]]:
    """What part of the register a tally counts: its key ("all", a sector, ...) and which rows are in it."""
    if fact.get("counterpart"):
        country = fact["counterpart"]
        return f"with {country}", lambda a: a.counterpart_country == country
    if fact.get("category"):
        return fact["category"], lambda a: a.activity_type.replace("_", " ") in fact["category"]
    if fact.get("sector"):
        return fact["sector"], lambda a: a.sector == fact["sector"]
    return "all", lambda a: True


def _reported_bounds(fact: dict[str, Any]) -> tuple[float | None, float | None]:
    if fact["value"] is not None:
        return fact["value"], fact["value"]
    return fact["low"], fact["high"]


def _reported_middle(fact: dict[str, Any]) -> float | None:
    """The reported number to compare with: the value, a range's middle, or its one bound."""
    low, high = _reported_bounds(fact)
    return (low + high) / 2 if low is not None and high is not None else (low if low is not None else high)
