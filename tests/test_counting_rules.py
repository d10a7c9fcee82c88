"""Counting rule sets: recounting the register each way, and naming the way closest to a published tally."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from pipeline.activities import Coverage, explain
from pipeline.counting_rules import counted_rows, counting_rule_sets, parse_rule_sets, recount
from pipeline.errors import RuleFileError
from pipeline.records import Activity
from pipeline.tallies import tallies


def row(event: date | None, report: date | None = None, activity_type: str = "inspection", kind: str = "activity",
        sector: str = "military", part_of: str | None = None, name: str = "") -> Activity:
    report = report or event + timedelta(days=1)
    return Activity(f"{name or event}-{activity_type}-{kind}", "Kim Jong Un", event, report, "t", activity_type, sector,
                    None, None, ("d",), kind=kind, part_of=part_of)


def rule_sets(*sets: dict) -> tuple:
    return parse_rule_sets({"tour_types": ["inspection", "visit"], "rule_sets": list(sets)})


BY_EVENT = {"name": "by event date", "description": "the register's rule"}
BY_REPORT = {"name": "by report date", "description": "on the report's day", "count_on": "report_date"}


def tally(value: float | None, sector: str | None = None, low: float | None = None, high: float | None = None,
          qualifier: str = "exact", subject: str = "Kim Jong-un") -> dict:
    return {"kind": "activity_count", "subject": subject, "sector": sector, "category": None, "counterpart": None,
            "period_start": date(2024, 1, 1), "period_end": date(2024, 12, 31), "value": value, "low": low,
            "high": high, "qualifier": qualifier, "sentence": f"{value} in 2024", "document_title": "Institute",
            "document_id": "x", "id": 7}


# nine activities of 2024, and one of 31 December 2023 reported on 1 January 2024
NEW_YEAR = [row(date(2024, 2, day)) for day in range(1, 10)] + [row(date(2023, 12, 31), date(2024, 1, 1))]


def test_counting_rules_a_tally_of_ten_is_closest_to_the_count_by_report_date():
    by_event, by_report = rule_sets(BY_EVENT, BY_REPORT)
    assert (recount(NEW_YEAR, by_event, 2024), recount(NEW_YEAR, by_report, 2024)) == (9, 10)
    [row_] = explain(NEW_YEAR, [tally(10.0), tally(3.0, subject="Kim Yo Jong")], 2024, [by_event, by_report])
    assert [(r.rule_set, r.count) for r in row_.recounts] == [("by event date", 9), ("by report date", 10)]
    assert (row_.key, row_.reported_value, row_.closest, row_.residual) == ("all", "10", ("by report date",), 0.0)
    assert (row_.source, row_.fact_id) == ("Institute", 7)


def test_counting_rules_a_tie_names_every_closest_set_and_a_range_is_compared_by_its_middle():
    sets = rule_sets(BY_EVENT, BY_REPORT)
    [row_] = explain(NEW_YEAR, [tally(None, low=9.0, high=10.0, qualifier="range")], 2024, sets)
    assert (row_.reported_value, row_.closest, row_.residual) == ("9-10", ("by event date", "by report date"), -0.5)


def test_counting_rules_a_per_sector_tally_is_recounted_in_its_sector():
    register = NEW_YEAR + [row(date(2024, 3, day), sector="economic") for day in (1, 2, 3)]
    sets = rule_sets(BY_EVENT, BY_REPORT)
    [row_] = explain(register, [tally(3.0, sector="economic")], 2024, sets)
    assert (row_.key, [r.count for r in row_.recounts], row_.residual) == ("economic", [3, 3], 0.0)


def test_counting_rules_an_uncovered_year_shows_the_recounts_and_calls_none_closest():
    partial = Coverage(2024, frozenset(date(2024, 2, day) for day in range(1, 29)))
    [row_] = explain(NEW_YEAR, [tally(10.0)], 2024, rule_sets(BY_EVENT, BY_REPORT), coverage=partial)
    assert [r.count for r in row_.recounts] == [9, 10]
    assert (row_.closest, row_.residual) == ((), None)


def test_counting_rules_meetings_speeches_photo_sessions_and_letters_count_only_where_a_set_says():
    event = row(date(2024, 5, 1), name="event")
    register = [event, row(date(2024, 5, 2), activity_type="meeting"),
                row(date(2024, 5, 3), activity_type="photo_session"),
                row(date(2024, 5, 1), activity_type="speech", kind="speech", part_of=event.activity_id),
                row(date(2024, 5, 4), activity_type="speech", kind="speech"),
                row(date(2024, 5, 5), activity_type="letter", kind="letter"),
                row(date(2024, 5, 6), kind="digest", part_of=event.activity_id)]
    default, appearances, everything = rule_sets(
        BY_EVENT,
        {"name": "appearances", "description": "d", "leave_out_types": ["meeting", "photo_session", "speech"]},
        {"name": "everything", "description": "d", "kinds_always": ["activity", "speech", "letter"],
         "kinds_unless_part_of_an_event": []})
    # the register's rule: the event, the meeting, the photo session and the speech given apart from an event
    assert recount(register, default, 2024) == 4 == sum(n for _, n in tallies(register, 2024, "type"))
    assert recount(register, appearances, 2024) == 1
    assert recount(register, everything, 2024) == 6  # both speeches and the letter; the digest never


def test_counting_rules_a_days_tour_counts_once_and_a_cut_off_ends_the_year_early():
    tour = [row(date(2024, 9, 7), activity_type=t, name=f"site{n}") for n, t in enumerate(("inspection", "visit"))]
    register = tour + [row(date(2024, 9, 7), activity_type="drill"), row(date(2024, 12, 20))]
    each_site, once, to_mid_december = rule_sets(
        BY_EVENT, {"name": "tours once", "description": "d", "sites": "once_per_day"},
        {"name": "mid-December", "description": "d", "cut_off": "12-15"})
    assert recount(register, each_site, 2024) == 4
    assert sorted(a.activity_id for a in counted_rows(register, once, 2024)) == sorted(
        a.activity_id for a in register if a.activity_type != "visit")  # the visit was the same day's tour
    assert recount(register, to_mid_december, 2024) == 3


def test_counting_rules_the_shipped_file_loads_and_its_first_set_is_the_registers_own_rule():
    shipped = counting_rule_sets()
    assert len(shipped) >= 4 and len({r.name for r in shipped}) == len(shipped)
    assert recount(NEW_YEAR, shipped[0], 2024) == sum(n for _, n in tallies(NEW_YEAR, 2024, "sector"))


@pytest.mark.parametrize(("bad", "named"), [
    ({"rule_sets": [{**BY_EVENT, "count_by": "event_date"}]}, "'count_by'"),
    ({"rule_sets": [{**BY_EVENT, "count_on": "publication"}]}, "count_on must be one of"),
    ({"rule_sets": [{**BY_EVENT, "leave_out_types": ["photo session"]}]}, "'photo session' is not one of"),
    ({"rule_sets": [{**BY_EVENT, "kinds_always": ["appearance"]}]}, "'appearance' is not one of"),
    ({"rule_sets": [{**BY_EVENT, "cut_off": "12-32"}]}, "cut_off must be a day of the year"),
    ({"rule_sets": [{**BY_EVENT, "sites": "per_site"}]}, "sites must be one of"),
    ({"rule_sets": [{"description": "no name"}]}, "needs a name"),
    ({"rule_sets": [BY_EVENT, BY_EVENT]}, "'by event date' is repeated"),
    ({"rule_sets": []}, "non-empty list"),
    ({"rule_sets": [BY_EVENT], "tours": []}, "unknown key 'tours'"),
])
def test_counting_rules_a_bad_rule_file_is_refused_with_what_is_wrong(bad, named):
    with pytest.raises(RuleFileError, match="counting_rules.json") as refused:
        parse_rule_sets(bad)
    assert named in str(refused.value)


def test_counting_rules_cli_explains_each_tally_and_warns_when_the_year_is_not_covered(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import pipeline.activities
    import pipeline.workbench
    from nkpipe.cli import app
    from tests.test_activities import GUIDANCE, TOPIC

    archive = tmp_path / "kcna.json"  # one guidance of 29 September 2024, reported on 30 September
    archive.write_text(json.dumps([
        {"topic": TOPIC, "headline": "Kim Jong Un Guides Rehabilitation Campaign", "link": "http://kcna.example/1",
         "date": 1727654400000, "date_str": "2024-09-30", "story_text": GUIDANCE}]))
    article = tmp_path / "tally.txt"
    article.write_text("Kim Jong Un made 1 public appearance in 2024, the Unification Ministry said on Monday.\n")
    runner = CliRunner()
    db = ["--db", f"sqlite:///{tmp_path / 'r.db'}"]
    assert runner.invoke(app, [*db, "ingest", str(archive)]).exit_code == 0
    assert runner.invoke(app, [*db, "ingest", str(article), "--published", "2025-01-06"]).exit_code == 0

    partial = runner.invoke(app, [*db, "reconcile", "--year", "2024", "--explain"])
    assert partial.exit_code == 0, partial.output
    assert "WARNING: the corpus covers 0 of 12 months of 2024 (1 of 366 days)" in partial.output
    assert "recounts over covered days only" in partial.output
    [line] = [x for x in partial.output.splitlines() if x.startswith("all ")]
    assert line.split()[1:] == ["1"] + ["1"] * len(counting_rule_sets()) + ["-"]

    whole = Coverage(2024, frozenset(date(2024, 1, 1) + timedelta(days=i) for i in range(366)))
    monkeypatch.setattr(pipeline.activities, "corpus_coverage", lambda store, year: whole)
    monkeypatch.setattr(pipeline.workbench, "corpus_coverage", lambda store, year: whole)  # --explain reads it there
    covered = runner.invoke(app, [*db, "reconcile", "--year", "2024", "--explain"]).output
    assert "WARNING" not in covered and "over covered days" not in covered
    [line] = [x for x in covered.splitlines() if x.startswith("all ")]
    assert line.endswith(" = ".join(r.name for r in counting_rule_sets()) + " (+0)")
    assert "the register counts only" not in runner.invoke(app, [*db, "reconcile", "--year", "2024"]).output

    described = runner.invoke(app, ["reconcile", "--help"]).output
    assert all(r.name in described for r in counting_rule_sets()) and "counting_rules.json" in described
