"""The activity register: detection, dates, companions, de-duplication, tallies, reconciliation, report."""

from __future__ import annotations

import json
import re
from html import escape
from dataclasses import replace
from datetime import date, timedelta

import pytest

from pipeline.activities import build_register, detect, reconcile
from pipeline.config import NlpConfig
from pipeline.nlp import analyze_documents
from pipeline.records import Activity, BatchItem, CleanDocument, Person, Report, ReportEntity
from pipeline.tallies import tallies

TOPIC = "WPK General Secretary Kim Jong Un's Revolutionary Activities"


def report(text: str, report_date=date(2024, 9, 30), section=TOPIC, title="T", document_id="d1") -> Report:
    document = CleanDocument(key=document_id, url=f"http://kcna.example/{document_id}", title=title, author=None,
                             published=report_date, text=text, format="kcna", section=section)
    [analyzed] = analyze_documents([BatchItem(document_id, 1, document, None)], NlpConfig(), stages=())
    entities = tuple(ReportEntity(e.label, e.text, e.start_char, e.end_char, e.canonical_id, e.canonical_name)
                     for e in analyzed.entities)
    return Report(document_id, title, text, report_date, entities, "economic", section)


GUIDANCE = ("Pyongyang, September 30 (KCNA) -- Kim Jong Un, general secretary of the Workers' Party of Korea and "
            "president of the State Affairs of the DPRK, gave field guidance over the rehabilitation projects in the "
            "flood-hit areas in North Phyongan Province on September 29. He was accompanied by Jo Yong Won and "
            "Ri Il Hwan, secretaries of the WPK Central Committee, and Kim Yong Bok, deputy chief of the General "
            "Staff of the Korean People's Army. He was greeted by Pak Jong Chon on the spot.")


def test_activities_field_guidance_with_event_date_and_companions(nlp):
    activity = detect(report(GUIDANCE))
    assert activity is not None
    assert (activity.activity_type, activity.event_date, activity.report_date) == (
        "field_guidance", date(2024, 9, 29), date(2024, 9, 30))
    roles = {p.name: p.role for p in activity.people}
    assert roles == {"Jo Yong Won": "accompanied", "Ri Il Hwan": "accompanied", "Kim Yong Bok": "accompanied",
                     "Pak Jong Chon": "present"}


@pytest.mark.parametrize("text", [
    "Pyongyang, September 30 (KCNA) -- Kim Jong Un, general secretary of the Workers' Party of Korea, sent a "
    "congratulatory message to To Lam on September 29.",
    "Pyongyang, September 30 (KCNA) -- Kim Jong Un, president of the State Affairs, replied to a message of sympathy "
    "sent by Thongloun Sisoulith.",
    "Pyongyang, September 30 (KCNA) -- Kim Jong Un received greetings from the Emir of Kuwait on September 28.",
    "Pyongyang, September 30 (KCNA) -- Kim Jong Un received a floral basket from the Chongryon on September 27.",
])
def test_activities_his_messages_and_letters_are_letter_rows_that_no_tally_counts(nlp, text):
    from pipeline.tallies import counted

    letter = detect(report(text))  # reported on September 30, 2024
    assert letter is not None and (letter.kind, letter.activity_type) == ("letter", "letter")
    assert letter.people == () and counted([letter]) == []
    assert tallies([letter], 2024, "type") == [] and tallies([replace(letter, kind="activity")], 2024, "type")


@pytest.mark.parametrize("text", [
    "Pyongyang, July 18 (KCNA) -- The seminar sent a message to Kim Jong Un on July 8. The message said he visited "
    "many factories.",
    "Pyongyang, July 18 (KCNA) -- Kim Jong Un was elected chairman of the State Affairs Commission on July 17.",
    "Pyongyang, July 18 (KCNA) -- Kim Jong Un published a work titled On Rural Development on July 17.",
])
def test_activities_messages_to_him_works_and_elections_make_no_row(nlp, text):
    assert detect(report(text)) is None


def test_activities_anecdotes_without_a_date_outside_the_leader_topic_are_not_new_activities(nlp):
    anecdote = ("Kim Jong Un visited the Ryongsong Machine Complex and praised its workers. "
                "Their pride knew no bounds.")
    assert detect(report(anecdote, section="Revolutionary Anecdote")) is None
    assert detect(report(anecdote, section=TOPIC)) is not None
    old = "Pyongyang, May 2 (KCNA) -- Kim Jong Un visited the farm on June 10, 2019, and gave instructions."
    assert detect(report(old, report_date=date(2024, 5, 2), section="Home News")) is None


def test_activities_the_same_event_reported_twice_is_one_activity(nlp):
    first = detect(report(GUIDANCE, document_id="a", title="Kim Jong Un Guides Rehabilitation Campaign in North Phyongan"))
    follow_up = detect(report(GUIDANCE.replace("He was greeted by Pak Jong Chon on the spot.", ""), document_id="b",
                              title="Kim Jong Un Guides Rehabilitation Campaign in North Phyongan Province"))
    other = detect(report(GUIDANCE.replace("September 29", "September 12"), document_id="c",
                          report_date=date(2024, 9, 13), title="Kim Jong Un Guides Rehabilitation Campaign"))
    register = build_register([])  # empty input is an empty register
    assert register == []
    from pipeline.activities import merge_duplicates

    merged = merge_duplicates([first, follow_up, other])
    assert len(merged) == 2
    [twice] = [a for a in merged if len(a.document_ids) == 2]
    assert set(twice.document_ids) == {"a", "b"}
    assert "Pak Jong Chon" in {p.name for p in twice.people}


def activity(day, sector, kind="inspection", people=(), country=None) -> Activity:
    return Activity(f"id{day}{sector}{kind}", "Kim Jong Un", day, day, "t", kind, sector, None, country, ("d",),
                    tuple(people))


def test_activities_tallies_by_sector_type_month_and_companion():
    jo = Person("jo-yong-won", "Jo Yong Won", "accompanied")
    register = [activity(date(2024, 1, 5), "military", people=[jo]), activity(date(2024, 1, 9), "economic"),
                activity(date(2024, 3, 1), "military", "drill", [jo]), activity(date(2023, 12, 30), "military")]
    assert tallies(register, 2024, "sector") == [("military", 2), ("economic", 1)]
    assert tallies(register, 2024, "month") == [("2024-01", 2), ("2024-03", 1)]
    assert dict(tallies(register, 2024, "type")) == {"inspection": 2, "drill": 1}
    assert tallies(register, 2024, "companion") == [("Jo Yong Won", 2)]
    with pytest.raises(ValueError):
        tallies(register, 2024, "weekday")


def test_activities_reconcile_puts_reported_tallies_beside_the_register():
    register = [activity(date(2024, 2, d), "military") for d in range(1, 6)] + [activity(date(2024, 4, 1), "foreign", country="Russia")]
    facts = [
        {"kind": "activity_count", "subject": "Kim Jong-un", "sector": None, "category": None, "counterpart": None,
         "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31), "value": 130.0, "low": None,
         "high": None, "qualifier": "exact", "sentence": "130 in 2024", "document_title": "Asan", "document_id": "x"},
        {"kind": "activity_count", "subject": "Kim Jong Un", "sector": "military", "category": None, "counterpart": None,
         "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31), "value": 53.0, "low": None,
         "high": None, "qualifier": "exact", "sentence": "53 in 2024", "document_title": "Asan", "document_id": "x"},
        {"kind": "activity_count", "subject": "Kim Jong Un", "sector": "foreign", "category": None, "counterpart": "Russia",
         "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31), "value": None, "low": 4.0,
         "high": None, "qualifier": "more_than", "sentence": "more than 4 with Russia", "document_title": "B", "document_id": "y"},
        {"kind": "activity_count", "subject": "Kim Yo Jong", "sector": None, "category": None, "counterpart": None,
         "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31), "value": 25.0, "low": None,
         "high": None, "qualifier": "exact", "sentence": "25 statements", "document_title": "C", "document_id": "z"},
    ]
    rows = reconcile(register, facts, 2024)
    assert [(r.key, r.reported_value, r.register_count, r.difference) for r in rows] == [
        ("all", "130", 6, -124.0), ("military", "53", 5, -48.0), ("with Russia", ">4", 1, -3.0)]


def test_activities_coverage_counts_days_and_months_with_reports():
    from pipeline.activities import Coverage

    july = {date(2024, 7, d) for d in range(1, 22)}  # 21 of 31 days: at least two thirds
    june = {date(2024, 6, d) for d in range(1, 20)}  # 19 of 30: less
    coverage = Coverage(2024, frozenset(july | june | {date(2024, 11, 1)}))
    assert coverage.months == [7] and not coverage.complete
    assert coverage.describe() == "the corpus covers 1 of 12 months of 2024 (41 of 366 days)"
    whole = Coverage(2023, frozenset(date(2023, 1, 1) + timedelta(days=i) for i in range(365)))
    assert whole.complete and len(whole.months) == 12


def test_activities_reconcile_gives_no_difference_when_the_corpus_misses_days():
    from pipeline.activities import Coverage

    register = [activity(date(2024, 2, d), "military") for d in range(1, 6)]
    fact = {"kind": "activity_count", "subject": "Kim Jong Un", "sector": None, "category": None, "counterpart": None,
            "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31), "value": 127.0, "low": None,
            "high": None, "qualifier": "exact", "sentence": "127 in 2024", "document_title": "Asan", "document_id": "x"}
    partial = Coverage(2024, frozenset(date(2024, 2, d) for d in range(1, 30)))
    [row] = reconcile(register, [fact], 2024, coverage=partial)
    assert (row.register_count, row.difference) == (5, None)
    whole = Coverage(2024, frozenset(date(2024, 1, 1) + timedelta(days=i) for i in range(366)))
    [row] = reconcile(register, [fact], 2024, coverage=whole)
    assert row.difference == -122.0


def test_activities_report_is_self_contained_and_escapes_text(tmp_path):
    from pipeline.report import render_report

    register = [activity(date(2024, m, 3), s) for m, s in [(1, "military"), (1, "economic"), (5, "social")]]
    from pipeline.activities import Reconciliation

    rows = [Reconciliation("all", "130", None, None, 3, -127.0, "<script>alert(1)</script>", "x < y")]
    html = render_report(register, rows, 2024)
    assert html.count("<rect") >= 3 and "<svg" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing loaded from elsewhere


def test_activities_report_shows_the_tally_recounted_under_every_rule_set():
    from pipeline.activities import Explanation, Recount
    from pipeline.counting_rules import counting_rule_sets
    from pipeline.report import render_report

    rule_sets = counting_rule_sets()
    explained = [Explanation("all", "130", tuple(Recount(r.name, 120 + i) for i, r in enumerate(rule_sets)),
                             (rule_sets[-1].name,), -10 + len(rule_sets) - 1, "<b>brief</b>", "It made 130.")]
    html = render_report([], [], 2024, rule_sets=rule_sets, explained=explained)
    assert "Why published tallies differ" in html and all(escape(r.name) in html for r in rule_sets)
    row = html.split("<td>all</td>")[1].split("</tr>")[0]
    assert [int(n) for n in re.findall(r"<td class=n>(\d+)</td>", row)][1:] == [120 + i for i in range(len(rule_sets))]
    assert f"<td>{escape(rule_sets[-1].name)}</td>" in row
    assert "Why published tallies differ" not in render_report([], [], 2024)  # nothing to explain: no section


def test_activities_cli_register_after_ingesting_kcna_items(tmp_path):
    from typer.testing import CliRunner

    from nkpipe.cli import app

    archive = tmp_path / "kcna.json"
    archive.write_text(json.dumps([
        {"topic": TOPIC, "headline": "Kim Jong Un Guides Rehabilitation Campaign", "link": "http://kcna.example/1",
         "date": 1727654400000, "date_str": "2024-09-30", "story_text": GUIDANCE},
        {"topic": TOPIC, "headline": "Kim Jong Un Sends Greetings", "link": "http://kcna.example/2",
         "date": 1727654400000, "date_str": "2024-09-30",
         "story_text": "Pyongyang, September 30 (KCNA) -- Kim Jong Un sent greetings to the president of Vietnam."},
    ]))
    runner = CliRunner()
    db = ["--db", f"sqlite:///{tmp_path / 'r.db'}"]
    assert runner.invoke(app, [*db, "ingest", str(archive)]).exit_code == 0
    result = runner.invoke(app, [*db, "tallies", "--year", "2024", "--by", "companion"])
    assert result.exit_code == 0 and "1 public activities in 2024" in result.output
    assert "not counted: 1 letter rows" in result.output  # the greetings: a row of its own, in no tally
    assert "Jo Yong Won" in result.output
    assert runner.invoke(app, [*db, "tallies", "--year", "2024", "--by", "weekday"]).exit_code == 2
    reconciled = runner.invoke(app, [*db, "reconcile", "--year", "2024"]).output
    assert "no reported tallies" in reconciled
    assert "the corpus covers 0 of 12 months of 2024 (1 of 366 days)" in reconciled  # both items are of Sept 30
    out = tmp_path / "r.html"
    assert runner.invoke(app, [*db, "report", "--year", "2024", "--out", str(out)]).exit_code == 0
    assert "<svg" in out.read_text()


def test_activities_digest_lines_are_rows_linked_to_the_reported_activity_and_never_counted(nlp):
    from pipeline.activities import merge_duplicates

    original = detect(report(GUIDANCE, document_id="a", title="Kim Jong Un Guides Rehabilitation Campaign"))
    digest_text = ("Pyongyang, October 1 (KCNA) -- Rodong Sinmun today reports that Kim Jong Un gave field guidance over "
                   "the rehabilitation projects on September 29.")
    digest = detect(report(digest_text, document_id="b", title="Press Review", section="Home News",
                           report_date=date(2024, 10, 1)))
    assert digest is not None and digest.kind == "digest"
    lonely = detect(report(digest_text.replace("September 29", "September 1"), document_id="c", title="Press Review",
                           section="Home News", report_date=date(2024, 9, 2)))
    from pipeline.tallies import counted

    by_id = {a.activity_id: a for a in merge_duplicates([original, digest, lonely])}
    assert [a.kind for a in by_id.values()] == ["activity", "digest", "digest"]
    assert by_id[digest.activity_id].part_of == original.activity_id
    assert by_id[lonely.activity_id].part_of is None  # nothing reported in the days before: a digest alone
    assert counted(list(by_id.values())) == [by_id[original.activity_id]]


def test_activities_an_undated_report_takes_the_date_and_sector_of_its_event_or_the_day_before_its_report():
    from pipeline.activities import merge_duplicates
    from pipeline.tallies import counted

    completion = Activity("a", "Kim Jong Un", date(2024, 10, 9), date(2024, 10, 10), "Kim Jong Un Attends Completion "
                          "Ceremony of Kangdong Hospital", "ceremony", "social", "Kangdong County", None, ("d1",),
                          date_precision="stated")
    speech = Activity("b", "Kim Jong Un", None, date(2024, 10, 10), "Speech at Completion of Kangdong Hospital",
                      "speech", "political", None, None, ("d2",), kind="speech")
    unrelated = Activity("c", "Kim Jong Un", None, date(2024, 10, 12), "Kim Jong Un Visits Construction Site",
                         "visit", "economic", "Hwasong District", None, ("d3",))
    by_id = {a.activity_id: a for a in merge_duplicates([completion, speech, unrelated])}
    assert (by_id["a"].event_date, by_id["a"].date_precision) == (date(2024, 10, 9), "stated")
    assert (by_id["b"].event_date, by_id["b"].date_precision) == (date(2024, 10, 9), "linked")
    assert by_id["b"].sector == "social"  # a speech takes the sector of the event it was given at
    assert (by_id["b"].kind, by_id["b"].part_of) == ("speech", "a")  # and is counted with it, not apart
    assert [a.activity_id for a in counted(list(by_id.values()))] == ["a", "c"]
    assert (by_id["c"].event_date, by_id["c"].date_precision) == (date(2024, 10, 11), "inferred")


def test_activities_date_precision_is_stored_with_the_register(store):
    from pipeline.store import persist, register_rows

    dated = Activity("a", "Kim Jong Un", date(2024, 10, 9), date(2024, 10, 10), "t", "visit", "social", None, None,
                     ("d1",), date_precision="inferred")
    persist.write_register(store, [dated], "register-test")
    [loaded] = register_rows.load_register(store)
    assert loaded.date_precision == "inferred"


def test_activities_kinds_and_links_are_stored_and_only_counted_rows_make_the_tallies(store):
    import sqlalchemy as sa

    from pipeline.store import persist, register_rows
    from pipeline.store.db import activity_tallies

    day = date(2024, 10, 9)
    event = Activity("a", "Kim Jong Un", day, day, "t", "ceremony", "social", None, None, ("d1",))
    speech = replace(event, activity_id="b", activity_type="speech", document_ids=("d2",), kind="speech", part_of="a")
    letter = replace(event, activity_id="c", activity_type="letter", document_ids=("d3",), kind="letter")
    persist.write_register(store, [event, speech, letter], "register-test")
    assert register_rows.load_register(store) == [event]
    assert sorted((a.activity_id, a.kind, a.part_of) for a in register_rows.load_register(store, every_row=True)) == [
        ("a", "activity", None), ("b", "speech", "a"), ("c", "letter", None)]
    with store.reading() as conn:
        total = conn.execute(sa.select(activity_tallies.c.count).where(
            activity_tallies.c.by == "total", activity_tallies.c.year == 2024)).scalar()
    assert total == 1


@pytest.mark.parametrize(("text", "activity_type"), [
    ("Pyongyang, September 30 (KCNA) -- A test-fire of a new-type intercontinental ballistic missile was conducted on "
     "September 29 under the guidance of Kim Jong Un, general secretary of the Workers' Party of Korea.", "weapons_test"),
    ("Pyongyang, September 30 (KCNA) -- The 11th Session of the 14th Supreme People's Assembly opened in Pyongyang on "
     "September 29 with Kim Jong Un, president of the State Affairs, in attendance.", "party_meeting"),
    ("Pyongyang, September 30 (KCNA) -- The Second Plenary Meeting of the Ninth WPK Central Committee, attended by "
     "Kim Jong Un, opened on September 29.", "party_meeting"),
    ("Pyongyang, September 30 (KCNA) -- Kim Jong Un planted trees at the Central Botanical Garden on September 29.",
     "other"),
    ("Pyongyang, September 30 (KCNA) -- A football match between the April 25 Sports Team and the Amnokgang Sports "
     "Team was played on September 29. Kim Jong Un watched the match.", "performance"),
    ("Pyongyang, September 30 (KCNA) -- Kim Jong Un supervised a firing drill of artillery units on September 29.",
     "drill"),
])
def test_activities_he_attended_or_supervised_without_inspecting_are_registered(nlp, text, activity_type):
    found = detect(report(text, section="Home News"))  # outside the leader's own topic: the day must be stated
    assert found is not None and (found.kind, found.activity_type, found.event_date) == (
        "activity", activity_type, date(2024, 9, 29))


@pytest.mark.parametrize("text", [
    "Pyongyang, September 30 (KCNA) -- An enlarged meeting of the Political Bureau of the WPK Central Committee was "
    "held on September 29. It discussed ways of implementing the tasks set forth by Kim Jong Un.",
    "Pyongyang, September 30 (KCNA) -- The Korean people are advancing under the guidance of Kim Jong Un toward new "
    "victories, speakers said on September 29.",
    "Pyongyang, September 30 (KCNA) -- A meeting was held on September 29 to convey the thanks of Kim Jong Un to the "
    "builders.",
])
def test_activities_meetings_he_did_not_attend_are_not_registered(nlp, text):
    assert detect(report(text, section="Home News")) is None


@pytest.mark.parametrize(("text", "title", "section", "expected"), [
    ("Pyongyang, September 30 (KCNA) -- The Missile Administration conducted a test-fire of a cruise missile on "
     "Sunday. The test was watched by Kim Jong Un, general secretary of the WPK.", "Cruise Missile Test-fired",
     "Top News", ("activity", "weapons_test", date(2024, 9, 29))),
    ("Pyongyang, September 30 (KCNA) -- Artillery units conducted a firing exercise on September 29, with Kim Jong Un, "
     "president of the State Affairs, observing.", "Firing Exercise Conducted", "Top News",
     ("activity", "drill", date(2024, 9, 29))),
    ("Pyongyang, September 30 (KCNA) -- The following is the speech made by Kim Jong Un, general secretary of the WPK, "
     "at the ceremony for the completion of the Ryongbong Hospital on September 28.",
     "Speech by Kim Jong Un at Completion Ceremony", TOPIC, ("speech", "speech", date(2024, 9, 28))),
    ("Pyongyang, September 30 (KCNA) -- Rodong Sinmun Monday carries an article that the respected Comrade Kim Jong Un "
     "watched a football match. It also carries an article on the harvest.", "Press Review", "Home News",
     ("digest", "performance", None)),
    ("Pyongyang, September 30 (KCNA) -- Kim Jong Un, general secretary of the WPK, had a photo session with the "
     "participants in the plenary meeting of the WPK Central Committee.",
     "Kim Jong Un Has Photo Session with Participants in Plenary Meeting", "Home News",
     ("activity", "photo_session", None)),
    ("Pyongyang, September 30 (KCNA) -- The artillery and missile units conducted a joint striking drill on "
     "September 29 under the guidance of Kim Jong Un.", "Kim Jong Un Guides Striking Drill", "Top News",
     ("activity", "drill", date(2024, 9, 29))),
    ("Pyongyang, September 30 (KCNA) -- A plenary meeting of the WPK Central Committee was held from September 27 to 29. "
     "Kim Jong Un, general secretary of the WPK, guided the meeting.", "Plenary Meeting of WPK Central Committee Held",
     TOPIC, ("activity", "party_meeting", date(2024, 9, 27))),
    ("Pyongyang, September 30 (KCNA) -- Kim Jong Un received on September 29 the members of the congratulatory group "
     "of Koreans in Japan.", "Kim Jong Un Receives Congratulatory Group", TOPIC, ("activity", "reception", date(2024, 9, 29))),
    ("Pyongyang, September 30 (KCNA) -- Kim Jong Un, who followed the test-fire from an observation post on "
     "September 28, said the missile was reliable.", "T", "Top News", ("activity", "weapons_test", date(2024, 9, 28))),
    ("Pyongyang, September 30 (KCNA) -- A frigate was launched at the Chongjin Shipyard on September 29. Kim Jong Un "
     "witnessed the launch.", "T", "Top News", ("activity", "weapons_test", date(2024, 9, 29))),
    ("Pyongyang, September 30 (KCNA) -- Kim Jong Un cast his vote on Sunday in the elections of deputies to the local "
     "people's assemblies.", "T", "Top News", ("activity", "other", date(2024, 9, 29))),
    ("Pyongyang, September 30 (KCNA) -- Talks between Kim Jong Un and the visiting president of Laos were held at the "
     "Kumsusan Guesthouse on September 29.", "T", "Top News", ("activity", "talks", date(2024, 9, 29))),
    ("Pyongyang, September 30 (KCNA) -- The participants in the conference had a photo session with the respected "
     "Comrade Kim Jong Un on September 28.", "T", "Top News", ("activity", "photo_session", date(2024, 9, 28))),
    ("Pyongyang, September 30 (KCNA) -- Kim Jong Un delivered the following commemorative speech at the national "
     "meeting held at the April 25 House of Culture yesterday: Dear comrades, ...", "T", "Top News",
     ("speech", "speech", date(2024, 9, 29))),
])
def test_activities_presence_kinds_and_types_as_kcna_words_them(nlp, text, title, section, expected):
    """Passive and 'with ... observing' presence, speech texts and undated digest lines, present-tense
    headlines outside his topic, the verb's type kept for photo sessions, the event word (else the headline's)
    for a guided drill or meeting, a congratulatory group received (not a message); followed, witnessed, cast his
    vote, talks between, a photo session with him, and the text of a speech given yesterday."""
    found = detect(report(text, title=title, section=section))
    assert found is not None and (found.kind, found.activity_type, found.event_date) == expected


def test_activities_sector_weighs_the_type_unless_a_reviewer_set_it():
    from pipeline.activities import _activity_sector

    unsure = {"military": 0.15, "economic": 0.4, "political": 0.3, "foreign": 0.05, "social": 0.1}
    sure_military = {"military": 0.8, "economic": 0.05, "political": 0.1, "foreign": 0.03, "social": 0.02}
    assert _activity_sector(Report("d", "t", "x", None, sector="economic", sector_probabilities=unsure),
                            "party_meeting") == "political"
    assert _activity_sector(Report("d", "t", "x", None, sector="military", sector_probabilities=sure_military),
                            "party_meeting") == "military"  # a military commission's meeting stays military
    assert _activity_sector(Report("d", "t", "x", None, sector="economic", sector_probabilities=unsure),
                            "inspection") == "economic"  # an inspection's sector is what it inspected
    assert _activity_sector(Report("d", "t", "x", None, sector="economic"), "party_meeting") == "economic"  # reviewed


def test_activities_a_discourse_given_to_a_newspaper_is_no_activity_and_platform_lists_are_present(nlp):
    discourse = ("Pyongyang, October 11 (KCNA) -- Kim Jong Un gave the following discourse titled \"On our tasks\" to "
                 "Rodong Sinmun on October 10.")
    assert detect(report(discourse, report_date=date(2024, 10, 11))) is None
    meeting = ("Pyongyang, September 30 (KCNA) -- Kim Jong Un attended the national meeting held on September 29. "
               "Present on the platform were Jo Yong Won and Ri Il Hwan. Also watching the performance were Pak Jong "
               "Chon and No Kwang Chol.")
    roles = {p.name: p.role for p in detect(report(meeting)).people}
    assert roles == {"Jo Yong Won": "present", "Ri Il Hwan": "present", "Pak Jong Chon": "present",
                     "No Kwang Chol": "present"}


def test_activities_a_foreign_guest_named_by_his_title_is_a_counterpart_of_his_country(nlp):
    text = ("Pyongyang, September 30 (KCNA) -- Kim Jong Un held talks on September 29 with Andrei Belousov, minister "
            "of Defence of the Russian Federation, and with Sin Hong Chol, DPRK ambassador to Russia.")
    found = detect(report(text))
    assert found.counterpart_country == "Russia"
    assert [(p.name, p.role) for p in found.people if p.role == "counterpart"] == [("Andrei Belousov", "counterpart")]
