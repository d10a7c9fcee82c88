"""Signals from the register: constructed registers with known answers, the store's no-repeat rule,
the notify command, `nkpipe signals` and the dashboard."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nkpipe.cli import app
from nkpipe.web.app import create_app
from pipeline.config import ConfigError, SignalsConfig, config_from_mapping
from pipeline.records import Activity, Evidence, Person, Signal
from pipeline.signals import compute_signals, months_before, quantile, refresh_signals
from pipeline.store import ledger, open_store, persist, signal_rows
from pipeline.store.db import documents

LEADER = "Kim Jong Un"
START = date(2024, 1, 2)
CONFIG = SignalsConfig()


def activity(n: int, day: date, sector: str = "economic", companions: tuple[str, ...] = ()) -> Activity:
    people = tuple(Person(f"p-{name.lower().replace(' ', '-')}", name, "accompanied") for name in companions)
    return Activity(f"act-{n:04d}", LEADER, day, day + timedelta(days=1), f"activity {n}", "inspection", sector,
                    None, None, (f"doc-{n:04d}",), people)


def every(days: int, count: int, start: date = START, **kwargs) -> list[Activity]:
    return [activity(i, start + timedelta(days=days * i), **kwargs) for i in range(count)]


def kinds(signals: list[Signal]) -> dict[str, Signal]:
    return {s.key: s for s in signals}


# --- the leader's gap -----------------------------------------------------------------------------


def test_signals_planted_40_day_absence_raises_the_gap():
    register = every(3, 60)  # an activity every third day, then nothing
    last = register[-1]
    raised = kinds(compute_signals(register, last.event_date + timedelta(days=40), CONFIG))
    gap = raised[f"gap:{LEADER}"]
    assert gap.kind == "gap" and gap.value == 40 and gap.severity == "high"
    assert gap.evidence == (Evidence(last.activity_id, last.event_date),)
    assert gap.links == (f"/register/{last.activity_id}",)
    assert "40 days" in gap.summary


def test_signals_a_gap_within_his_usual_raises_nothing():
    days = [START]
    for step in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 3:  # past gaps of 1 to 10 days
        days.append(days[-1] + timedelta(days=step))
    register = [activity(i, day) for i, day in enumerate(days)]
    assert not compute_signals(register, days[-1] + timedelta(days=9), CONFIG)
    assert f"gap:{LEADER}" in kinds(compute_signals(register, days[-1] + timedelta(days=11), CONFIG))


def test_signals_gap_needs_enough_past_gaps():
    register = every(3, 10)  # nine past gaps, fewer than gap_min_history
    assert not compute_signals(register, register[-1].event_date + timedelta(days=40), CONFIG)
    fewer = replace(CONFIG, gap_min_history=5)
    assert compute_signals(register, register[-1].event_date + timedelta(days=40), fewer)


def test_signals_rows_that_do_not_count_are_not_activities():
    register = every(3, 60)
    letter = replace(activity(999, register[-1].event_date + timedelta(days=35)), kind="letter")
    raised = kinds(compute_signals([*register, letter], register[-1].event_date + timedelta(days=40), CONFIG))
    assert raised[f"gap:{LEADER}"].value == 40  # the letter is no public activity


def test_signals_quantile_and_months_before():
    assert quantile([1, 2, 3, 4, 5], 0.5) == 3 and quantile([0, 10], 0.95) == pytest.approx(9.5)
    assert months_before(date(2024, 5, 31), 3) == date(2024, 2, 29)
    assert months_before(date(2024, 2, 15), 3) == date(2023, 11, 15)


# --- absent companions ----------------------------------------------------------------------------


def test_signals_a_frequent_companion_who_vanishes_for_months_is_raised():
    as_of = date(2024, 12, 31)
    # Pak and Jo at his side every week all year; Pak stops after 2024-08-01; Ri, a rare companion, also stops
    register = [activity(i, START + timedelta(days=7 * i),
                         companions=("Jo Yong Won",) + (("Pak Jong Chon",) if START + timedelta(days=7 * i)
                                                        < date(2024, 8, 1) else ())
                         + (("Ri Il Hwan",) if i in (1, 2, 3) else ()))
                for i in range(52)]
    raised = kinds(compute_signals(register, as_of, replace(CONFIG, top_k=2)))
    absent = raised["absent:p-pak-jong-chon"]
    assert absent.kind == "absent" and "Pak Jong Chon" in absent.summary
    assert max(e.day for e in absent.evidence) < date(2024, 8, 1)
    assert absent.value == (as_of - max(e.day for e in absent.evidence)).days
    assert "absent:p-jo-yong-won" not in raised  # still at his side
    assert "absent:p-ri-il-hwan" not in raised  # not among the top 2
    # two months away is not yet three
    assert "absent:p-pak-jong-chon" not in kinds(compute_signals(register, date(2024, 9, 25), replace(CONFIG, top_k=2)))


# --- sector mix -----------------------------------------------------------------------------------


def test_signals_a_sector_shift_in_the_last_30_days_is_raised():
    year = [activity(i, START + timedelta(days=3 * i), sector="military" if i % 5 == 0 else "economic")
            for i in range(100)]  # to 2024-10-27: a fifth military
    as_of = date(2024, 12, 1)
    recent = [activity(500 + i, as_of - timedelta(days=i * 2), sector="military" if i % 5 else "economic")
              for i in range(12)]  # the last 30 days: four fifths military
    raised = kinds(compute_signals([*year, *recent], as_of, replace(CONFIG, gap_min_history=1000)))
    shift = raised["sector_mix:military:up"]
    assert shift.value == pytest.approx(9 / 12 - 20 / 100, abs=1e-3) and shift.severity == "high"
    assert all(e.activity_id.startswith("act-05") for e in shift.evidence)
    assert "sector_mix:economic:down" in raised
    steady = [activity(500 + i, as_of - timedelta(days=i * 2), sector="military" if i % 5 == 0 else "economic")
              for i in range(12)]
    assert not [s for s in compute_signals([*year, *steady], as_of, CONFIG) if s.kind == "sector_mix"]


# --- the store and the nightly step ---------------------------------------------------------------


def signal(value: float, key: str = "gap:Kim Jong Un") -> Signal:
    return Signal("gap", key, "high", value, f"{value:.0f} days", (Evidence("act-0001", date(2024, 1, 2)),),
                  date(2024, 3, 1))


def test_signals_store_reports_a_signal_once_and_again_only_when_it_grows(any_store):
    store = any_store
    night = datetime(2024, 3, 1, 2, tzinfo=UTC)
    assert signal_rows.record_signals(store, [signal(40)], night) == [signal(40)]
    assert signal_rows.record_signals(store, [signal(40)], night + timedelta(days=1)) == []
    assert signal_rows.record_signals(store, [signal(39)], night + timedelta(days=2)) == []
    assert signal_rows.record_signals(store, [signal(41)], night + timedelta(days=3)) == [signal(41)]
    assert signal_rows.record_signals(store, [signal(40.5)], night + timedelta(days=4)) == []  # below its peak
    [kept] = signal_rows.stored_signals(store)
    assert kept.first_seen == night and kept.last_seen == night + timedelta(days=4) and kept.signal.value == 40.5
    # a gap that lengthens a day each night is news again only past its peak by the configured share
    assert signal_rows.record_signals(store, [signal(45)], night + timedelta(days=4), growth=0.25) == []
    assert signal_rows.record_signals(store, [signal(52)], night + timedelta(days=4), growth=0.25) == [signal(52)]
    assert signal_rows.record_signals(store, [signal(40.5)], night + timedelta(days=4)) == []
    assert signal_rows.record_signals(store, [], night + timedelta(days=5)) == []  # it ended
    assert signal_rows.stored_signals(store) == []
    assert [s.active for s in signal_rows.stored_signals(store, include_ended=True)] == [False]
    assert signal_rows.record_signals(store, [signal(10)], night + timedelta(days=6)) == [signal(10)]  # back
    assert signal_rows.stored_signals(store)[0].first_seen == night + timedelta(days=6)


def add_document(store, source_id: int, document_id: str, published: date) -> None:
    now = datetime.now(UTC)
    with store.writing() as conn:
        conn.execute(documents.insert().values(
            document_id=document_id, source_id=source_id, doc_key=document_id, url=f"https://x.org/{document_id}",
            published=published, format="html", text="text", text_hash=document_id, word_count=1, char_count=4,
            sentence_count=1, pipeline_version="test", created_at=now, updated_at=now))


@pytest.fixture
def register_store(store):
    """A register of an activity every third day to 2024-06-27, and a document of 2024-06-28."""
    persist.write_register(store, every(3, 60))
    source = ledger.add_source(store, "https://x.org/feed", "article", "Feed", None)
    add_document(store, source.id, "doc-newest", date(2024, 6, 28))
    return store, source.id


def test_signals_newest_document_not_today_anchors_the_gap(register_store):
    store, source_id = register_store
    assert date.today() > date(2024, 8, 1)
    quiet = refresh_signals(store, CONFIG)
    assert quiet.as_of == date(2024, 6, 28) and quiet.raised == 0  # today would make a gap of years
    add_document(store, source_id, "doc-later", date(2024, 8, 6))  # 40 days after his last activity
    loud = refresh_signals(store, CONFIG)
    assert [s.key for s in loud.new] == [f"gap:{LEADER}"] and loud.new[0].value == 40
    again = refresh_signals(store, CONFIG)
    assert again.raised == 1 and again.new == ()


RECORDER = """import sys, pathlib
pathlib.Path(sys.argv[1]).write_bytes(sys.stdin.buffer.read())
"""


def test_signals_notify_command_receives_the_new_signals_as_json(register_store, tmp_path):
    store, source_id = register_store
    script, received = tmp_path / "record.py", tmp_path / "received dir" / "signals.json"
    script.write_text(RECORDER)
    received.parent.mkdir()
    config = replace(CONFIG, notify_command=f"{sys.executable} {script} '{received}'")
    add_document(store, source_id, "doc-later", date(2024, 8, 6))
    outcome = refresh_signals(store, config)
    assert outcome.notify_error is None
    sent = json.loads(received.read_text(encoding="utf-8"))
    assert [s["key"] for s in sent["signals"]] == [f"gap:{LEADER}"]
    assert sent["signals"][0]["value"] == 40 and sent["signals"][0]["evidence"][0]["link"].startswith("/register/")
    received.unlink()
    refresh_signals(store, config)  # nothing new: the command is not run
    assert not received.exists()


@pytest.mark.parametrize("command, why", [
    ("{python} -c 'import sys; sys.exit(3)'", "status 3"),
    ("{python} -c 'import time; time.sleep(5)'", "ran past"),
    ("/no/such/program", "could not start"),
])
def test_signals_a_failing_notify_command_is_reported_not_raised(register_store, command, why):
    store, source_id = register_store
    add_document(store, source_id, "doc-later", date(2024, 8, 6))
    config = replace(CONFIG, notify_command=command.format(python=sys.executable), notify_timeout_s=0.5)
    outcome = refresh_signals(store, config)
    assert why in outcome.notify_error and len(outcome.new) == 1
    assert [s.signal.key for s in signal_rows.stored_signals(store)] == [f"gap:{LEADER}"]  # stored anyway


def test_signals_config_section_overlays_defaults_and_rejects_unknown_keys():
    config = config_from_mapping({"signals": {"gap_quantile": 0.9, "notify_command": "cat"}})
    assert config.signals.gap_quantile == 0.9 and config.signals.top_k == SignalsConfig().top_k
    with pytest.raises(ConfigError, match="unknown key 'quantile'"):
        config_from_mapping({"signals": {"quantile": 0.9}})
    with pytest.raises(ConfigError, match="at most 1.0"):
        config_from_mapping({"signals": {"gap_quantile": 95}})


# --- the command line and the dashboard -----------------------------------------------------------


def test_signals_cli_lists_current_signals_as_text_and_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = open_store(url)
    night = datetime(2024, 3, 1, 2, tzinfo=UTC)
    signal_rows.record_signals(store, [signal(40), signal(5, key="absent:p-x")], night)
    signal_rows.record_signals(store, [signal(41)], night + timedelta(days=1))  # absent:p-x ended
    runner = CliRunner()
    listed = runner.invoke(app, ["--db", url, "signals"])
    assert listed.exit_code == 0, listed.output
    assert "gap:Kim Jong Un" in listed.output and "41 days" in listed.output and "/register/act-0001" in listed.output
    assert "absent:p-x" not in listed.output
    every = runner.invoke(app, ["--db", url, "signals", "--all"])
    assert "absent:p-x (ended)" in every.output
    lines = [json.loads(line) for line in runner.invoke(app, ["--db", url, "signals", "--json"]).output.splitlines()]
    assert [(s["key"], s["value"], s["active"]) for s in lines] == [("gap:Kim Jong Un", 41, True)]


def test_signals_dashboard_shows_current_signals_escaped(review_store, web_config):
    hostile = replace(signal(40), summary="<script>alert(1)</script> absent 40 days")
    signal_rows.record_signals(review_store, [hostile], datetime(2024, 3, 1, tzinfo=UTC))
    client = TestClient(create_app(web_config, review_store), base_url="http://127.0.0.1")
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"name": "analyst", "password": "analyst-password", "csrf_token": token, "next": "/"})
    html = client.get("/").text
    assert 'id="signals"' in html and "&lt;script&gt;alert(1)&lt;/script&gt; absent 40 days" in html
    assert "<script>alert(1)" not in html
    assert 'href="/register/act-0001"' in html
