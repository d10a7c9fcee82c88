"""Market series: points from facts, monthly medians across outlets, divergence, the series signal, the
store, `nkpipe series` and the nightly step; constructed facts with known answers."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pandas as pd
import pytest
from typer.testing import CliRunner

from nkpipe.cli import app
from pipeline.config import SignalsConfig
from pipeline.records import Evidence
from pipeline.series import build_points, measure_of, monthly, refresh_series, select
from pipeline.signals import compute_signals, series_signals
from pipeline.store import open_store, series_rows

SIGNALS = SignalsConfig()
_ids = iter(range(1, 10_000))


def rate(value: float | None, day: date | None, outlet: str = "dailynk.com", place: str | None = "Pyongyang",
         unit: str = "KPW/USD", category: str = "market", published: date | None = None, **extra) -> dict:
    """A stored fact as ``query_facts`` gives it."""
    n = next(_ids)
    return {"id": n, "kind": "exchange_rate", "unit": unit, "category": category, "place": place, "value": value,
            "low": None, "high": None, "qualifier": "exact", "period_start": day, "period_end": day,
            "document_id": f"doc-{n}", "document_url": f"https://www.{outlet}/article/{n}",
            "document_published": published or day, "sentence": f"The dollar traded at {value} won.", **extra}


def price(good: str, value: float, day: date, outlet: str = "asiapress.org", place: str = "Hyesan") -> dict:
    return rate(value, day, outlet, place, unit="KPW/kg", category=good) | {"kind": "price"}


# --- points -------------------------------------------------------------------------------------


def test_series_measures_name_rates_official_rates_and_goods():
    assert measure_of(rate(8000, date(2025, 1, 5))) == ("KPW/USD", "KPW/USD")
    assert measure_of(rate(1100, date(2025, 1, 5), unit="KPW/CNY")) == ("KPW/CNY", "KPW/CNY")
    assert measure_of(rate(100, date(2025, 1, 5), category="official")) == ("KPW/USD official", "KPW/USD")
    assert measure_of(price("Rice", 6000, date(2025, 1, 5))) == ("rice", "KPW/kg")
    assert measure_of({"kind": "activity_count", "value": 51, "unit": None}) is None


def test_series_point_is_dated_by_its_survey_else_by_publication():
    surveyed = rate(8000, date(2025, 3, 2), published=date(2025, 3, 9))
    undated = rate(8100, None, published=date(2025, 3, 10))
    points = {p.value: p for p in build_points([surveyed, undated]).points}
    assert (points[8000].survey_end, points[8000].dated_by, points[8000].published) == (
        date(2025, 3, 2), "survey", date(2025, 3, 9))
    assert (points[8100].survey_end, points[8100].dated_by) == (date(2025, 3, 10), "publication")


def test_series_range_counts_by_its_middle_and_a_bound_by_itself():
    ranged = rate(None, date(2025, 4, 1), low=8000, high=8999, qualifier="range")
    above = rate(None, date(2025, 4, 2), outlet="rfa.org", low=9000, qualifier="more_than")
    values = sorted(p.value for p in build_points([ranged, above]).points)
    assert values == [8499.5, 9000]


def test_series_long_periods_are_skipped_and_counted_not_dropped_silently():
    yearly = rate(7500, None, published=date(2025, 12, 30)) | {"period_start": date(2025, 1, 1),
                                                               "period_end": date(2025, 12, 31)}
    built = build_points([yearly, rate(8000, date(2025, 12, 3))])
    assert [p.value for p in built.points] == [8000]
    assert sum(built.skipped.values()) == 1 and "longer than 31 days" in next(iter(built.skipped))


def test_series_the_same_outlet_quoting_the_same_survey_twice_counts_once():
    day = date(2025, 5, 4)
    built = build_points([rate(8200, day), rate(8200, day, published=date(2025, 5, 20)), rate(8300, day, "rfa.org")])
    assert sorted((p.outlet, p.value) for p in built.points) == [("dailynk.com", 8200), ("rfa.org", 8300)]
    assert list(built.skipped.values()) == [1]


# --- months across outlets ----------------------------------------------------------------------


def test_series_two_outlets_15_percent_apart_are_flagged_divergent():
    day = date(2025, 6, 10)
    points = build_points([rate(8000, day, "dailynk.com"), rate(9200, day, "asiapress.org")]).points
    [month] = monthly(points, divergence_share=0.10)
    assert (month.median, month.low, month.high, month.sources, month.divergent) == (8600, 8000, 9200, 2, True)
    assert month.spread == pytest.approx(1200 / 8600)
    [lenient] = monthly(points, divergence_share=0.20)
    assert not lenient.divergent


def test_series_an_outlet_quoting_weekly_does_not_outvote_one_quoting_monthly():
    weekly = [rate(v, date(2025, 7, d), "dailynk.com") for v, d in ((8000, 1), (8010, 8), (8020, 15), (8030, 22))]
    monthly_quote = rate(9000, date(2025, 7, 20), "asiapress.org")
    [month] = monthly(build_points([*weekly, monthly_quote]).points, divergence_share=0.5)
    assert (month.median, month.sources, month.points) == ((8015 + 9000) / 2, 2, 5)


def test_series_cities_and_measures_stay_apart():
    day = date(2025, 8, 1)
    points = build_points([rate(8000, day), rate(8400, day, place="Sinuiju"), rate(1100, day, unit="KPW/CNY"),
                           price("rice", 6000, day)]).points
    summaries = monthly(points, 0.1)
    assert {(m.measure, m.place, m.median) for m in summaries} == {
        ("KPW/USD", "Pyongyang", 8000), ("KPW/USD", "Sinuiju", 8400), ("KPW/CNY", "Pyongyang", 1100),
        ("rice", "Hyesan", 6000)}
    assert [p.value for p in select(points, "kpw/usd", "sinuiju")] == [8400]


# --- the series signal --------------------------------------------------------------------------


def six_months_then(last: float, history=(8000, 8050, 7990, 8020, 8010, 8040)) -> list:
    facts = [rate(v, date(2025, m, 15)) for m, v in enumerate(history, start=1)]
    return build_points([*facts, rate(last, date(2025, 7, 15))]).points


def test_series_signal_a_planted_jump_is_raised_with_the_points_behind_it():
    points = six_months_then(12000)
    [signal] = series_signals(points, date(2025, 7, 20), SIGNALS)
    assert signal.kind == "series" and signal.key == "series:KPW/USD:Pyongyang:2025-07"
    assert signal.severity == "high" and "12,000" in signal.summary and "up from a median of 8,015" in signal.summary
    jump = next(p for p in points if p.value == 12000)
    assert signal.evidence == (Evidence(None, jump.survey_end, jump.document_id, jump.fact_id),)
    assert signal.links == (f"/documents/{jump.document_id}",)
    assert signal.as_json()["evidence"][0]["fact_id"] == jump.fact_id


def test_series_signal_ordinary_movement_raises_nothing():
    assert series_signals(six_months_then(8060), date(2025, 7, 20), SIGNALS) == []


def test_series_signal_one_misprint_in_the_history_does_not_hide_a_jump():
    points = six_months_then(12000, history=(8000, 80500, 7990, 8020, 8010, 8040))
    assert [s.key for s in series_signals(points, date(2025, 7, 20), SIGNALS)] == ["series:KPW/USD:Pyongyang:2025-07"]


def test_series_signal_needs_history_and_a_recent_month():
    short = build_points([rate(8000, date(2025, 6, 15)), rate(12000, date(2025, 7, 15))]).points
    assert series_signals(short, date(2025, 7, 20), SIGNALS) == []
    assert series_signals(six_months_then(12000), date(2026, 3, 1), SIGNALS) == []  # months old: history
    assert [s.kind for s in compute_signals([], date(2025, 7, 20), SIGNALS, six_months_then(12000))] == ["series"]


def test_series_signal_counts_only_points_up_to_the_newest_document():
    points = six_months_then(12000)
    assert series_signals(points, date(2025, 7, 1), SIGNALS) == []  # the jump's survey is after as_of


# --- store, nightly step and CLI ----------------------------------------------------------------


def test_series_points_survive_the_store_and_the_rebuild(tmp_path, monkeypatch):
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    facts = [rate(8000, date(2025, 6, 10)), rate(9200, date(2025, 6, 12), "asiapress.org"),
             {"kind": "activity_count", "value": 51, "unit": None}]
    monkeypatch.setattr("pipeline.series.document_rows.query_facts",
                        lambda _store, kind=None, year=None: [f for f in facts if f["kind"] == kind])
    built = refresh_series(store)
    assert series_rows.load_points(store) == list(built.points) and len(built.points) == 2
    refresh_series(store)  # rebuilt, not appended
    assert len(series_rows.load_points(store)) == 2


def test_series_cli_lists_prints_and_writes(tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = open_store(db)
    series_rows.replace_points(store, build_points([rate(8000, date(2025, 6, 10)),
                                                    rate(9200, date(2025, 6, 12), "asiapress.org"),
                                                    rate(8100, date(2025, 7, 3))]).points)
    runner = CliRunner()
    listed = runner.invoke(app, ["--db", db, "series"])
    assert listed.exit_code == 0 and "KPW/USD" in listed.output and "Pyongyang" in listed.output
    shown = runner.invoke(app, ["--db", db, "series", "--measure", "KPW/USD", "--place", "pyongyang"])
    assert shown.exit_code == 0
    june = next(line for line in shown.output.splitlines() if line.startswith("2025-06"))
    assert "8,600" in june and "DIVERGENT" in june
    out = tmp_path / "rate.csv"
    written = runner.invoke(app, ["--db", db, "series", "--measure", "KPW/USD", "--out", str(out)])
    assert written.exit_code == 0, written.output
    frame = pd.read_csv(out)
    assert list(frame["month"]) == ["2025-06", "2025-07"] and list(frame["median"]) == [8600, 8100]
    assert list(frame["sources"]) == [2, 1] and list(frame["divergent"]) == [True, False]
    points_out = tmp_path / "points.parquet"
    assert runner.invoke(app, ["--db", db, "series", "--measure", "KPW/USD", "--points", "--out",
                               str(points_out)]).exit_code == 0
    assert sorted(pd.read_parquet(points_out)["outlet"]) == ["asiapress.org", "dailynk.com", "dailynk.com"]
    missing = runner.invoke(app, ["--db", db, "series", "--measure", "rice"])
    assert missing.exit_code == 2 and "no points for rice" in missing.output


# --- the workbench page and its JSON ------------------------------------------------------------


@pytest.fixture
def series_client(review_store, web_config):
    from fastapi.testclient import TestClient

    from nkpipe.web.app import create_app
    from tests.test_web import login

    series_rows.replace_points(review_store, build_points([
        rate(8000, date(2025, 5, 10)), rate(8000, date(2025, 6, 10)), rate(9200, date(2025, 6, 12), "asiapress.org"),
        rate(8100, date(2025, 8, 3)), rate(8300, date(2025, 8, 3), place="Sinuiju"),
        price("rice", 6000, date(2025, 8, 1))]).points)
    client = TestClient(create_app(web_config, review_store), base_url="http://127.0.0.1")
    login(client, "analyst")
    return client


def test_series_page_draws_the_months_and_marks_the_divergent_one(series_client):
    page = series_client.get("/series", params={"measure": "KPW/USD", "place": "Pyongyang"})
    assert page.status_code == 200
    assert 'id="series-chart"' in page.text and "<polyline" in page.text
    assert page.text.count("<circle") == 3  # May, June, August; July has no quote and no dot
    assert "2025-07" in page.text  # ... but keeps its place on the axis
    divergent = re.findall(r'<circle[^>]*fill="([^"]+)"><title>2025-06[^<]*outlets disagree', page.text)
    assert divergent == ["#d62728"]
    assert "Sinuiju" in page.text and "8,300" not in page.text  # a place of the menu, not of this chart
    assert 'href="/documents/doc-' in page.text  # the quotes link to their documents


def test_series_page_csv_and_api_give_the_month_rows(series_client):
    csv_text = series_client.get("/series", params={"measure": "KPW/USD", "place": "Pyongyang", "format": "csv"}).text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(r["month"], r["median"], r["divergent"]) for r in rows] == [
        ("2025-05", "8000", "False"), ("2025-06", "8600", "True"), ("2025-08", "8100", "False")]
    answer = series_client.get("/api/series", params={"measure": "rice"}).json()
    assert answer["total"] == 1 and answer["rows"][0]["median"] == 6000 and answer["measure"] == "rice"
    wrong = series_client.get("/series", params={"measure": "gold"})
    assert wrong.status_code == 400 and "gold" in wrong.text


def test_series_page_needs_a_signed_in_analyst(review_store, web_config):
    from fastapi.testclient import TestClient

    from nkpipe.web.app import create_app

    anonymous = TestClient(create_app(web_config, review_store), base_url="http://127.0.0.1")
    assert anonymous.get("/series", follow_redirects=False).status_code in (303, 307)
    assert anonymous.get("/api/series").status_code == 401
