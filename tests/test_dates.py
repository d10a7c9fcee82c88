"""pipeline.dates: temporal expressions -> ISO periods, and publication-date inference."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.dates import (
    Period,
    TemporalMention,
    find_temporal,
    infer_publication_date,
    resolve_expression,
    year_period,
)

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"
SEED_ARTICLE = SEEDS / "000_f097f9237f64d457.txt"
SEED_BRIEF = SEEDS / "004_ac8b9aa3b2848aff.txt"
ARTICLE_PUBLISHED = date(2026, 2, 10)
BRIEF_PUBLISHED = date(2025, 11, 19)


def _seed(path: Path) -> str:
    if not path.exists():
        pytest.skip(f"seed {path} is not in this checkout")
    return path.read_text("utf-8")


def _span(period: Period | None) -> tuple[str, str, str, str] | None:
    if period is None:
        return None
    return period.start.isoformat(), period.end.isoformat(), period.label, period.granularity


def _at(mentions: list[TemporalMention], text: str, phrase: str) -> TemporalMention:
    """The mention whose text contains ``phrase`` (the first one)."""
    found = [m for m in mentions if phrase.lower() in m.text.lower()]
    assert found, f"no mention for {phrase!r} in {[m.text for m in mentions]}"
    return found[0]


def _assert_well_formed(text: str, mentions: list[TemporalMention]) -> None:
    previous_end = 0
    for m in mentions:
        assert 0 <= m.start_char < m.end_char <= len(text)
        assert text[m.start_char:m.end_char] == m.text
        assert m.start_char >= previous_end, "mentions overlap or are unsorted"
        assert m.period.start <= m.period.end
        assert m.period.granularity in ("day", "month", "season", "half", "quarter", "year", "range")
        previous_end = m.end_char


P26 = date(2026, 2, 10)
P25 = date(2025, 11, 19)

# --------------------------------------------------------------------------- expressions, one bullet each


@pytest.mark.parametrize(("expression", "published", "expected"), [
    ("2024", None, ("2024-01-01", "2024-12-31", "2024", "year")),
    ("in 2024", None, ("2024-01-01", "2024-12-31", "2024", "year")),
    ("from 2021 to 2025", None, ("2021-01-01", "2025-12-31", "2021/2025", "range")),
    ("between 2021 and 2025", None, ("2021-01-01", "2025-12-31", "2021/2025", "range")),
    ("2021-2025", None, ("2021-01-01", "2025-12-31", "2021/2025", "range")),
    ("2021–2025", None, ("2021-01-01", "2025-12-31", "2021/2025", "range")),
    ("(20212025)", None, ("2021-01-01", "2025-12-31", "2021/2025", "range")),
    ("in the 1990s", None, ("1990-01-01", "1999-12-31", "1990/1999", "range")),
    ("(20252021)", None, None),  # second half before the first: not a range
    ("2100", None, ("2100-01-01", "2100-12-31", "2100", "year")),
    ("1899", None, None),
])
def test_dates_years(expression, published, expected):
    assert _span(resolve_expression(expression, published)) == expected


@pytest.mark.parametrize(("expression", "published", "expected"), [
    ("this year", P26, ("2026-01-01", "2026-12-31", "2026", "year")),
    ("last year", P26, ("2025-01-01", "2025-12-31", "2025", "year")),
    ("last year's", P26, ("2025-01-01", "2025-12-31", "2025", "year")),
    ("the previous year", P26, ("2025-01-01", "2025-12-31", "2025", "year")),
    ("the past year", P26, ("2025-02-11", "2026-02-10", "2025-02-11/2026-02-10", "range")),  # the twelve months up to publication
    ("next year", P26, ("2027-01-01", "2027-12-31", "2027", "year")),
    ("the past five years", P26, ("2022-01-01", "2026-12-31", "2022/2026", "range")),
    ("over the past five years", P26, ("2022-01-01", "2026-12-31", "2022/2026", "range")),
    ("the last 3 years", P26, ("2024-01-01", "2026-12-31", "2024/2026", "range")),
    ("the past decade", P26, ("2017-01-01", "2026-12-31", "2017/2026", "range")),
    ("two years ago", P26, ("2024-01-01", "2024-12-31", "2024", "year")),
    ("a year ago", P26, ("2025-01-01", "2025-12-31", "2025", "year")),
    ("this month", P26, ("2026-02-01", "2026-02-28", "2026-02", "month")),
    ("last month", P26, ("2026-01-01", "2026-01-31", "2026-01", "month")),
])
def test_dates_relative_years(expression, published, expected):
    assert _span(resolve_expression(expression, published)) == expected


@pytest.mark.parametrize(("expression", "published", "expected"), [
    ("on February 7", P26, "2026-02-07"),
    ("February 7", P26, "2026-02-07"),
    ("Feb. 7", P26, "2026-02-07"),
    ("7 February", P26, "2026-02-07"),
    ("the 7th of February", P26, "2026-02-07"),
    ("February 7, 2025", P26, "2025-02-07"),
    ("February 7 2025", None, "2025-02-07"),
    ("on September 3 last year", P26, "2025-09-03"),
    ("February 15", P26, "2026-02-15"),  # up to 7 days ahead: an announced event
    ("February 20", P26, "2025-02-20"),  # further ahead: last year's
    ("December 24", date(2026, 1, 5), "2025-12-24"),
    ("last June 19", P26, "2025-06-19"),
    ("yesterday", P26, "2026-02-09"),
    ("today", P26, "2026-02-10"),
    ("the day before", P26, "2026-02-09"),
    ("February 29", date(2025, 3, 1), "2024-02-29"),
])
def test_dates_days(expression, published, expected):
    assert _span(resolve_expression(expression, published)) == (expected, expected, expected, "day")


@pytest.mark.parametrize(("expression", "published", "expected"), [
    ("in November", P25, ("2025-11-01", "2025-11-30", "2025-11", "month")),
    ("in November", date(2025, 10, 1), ("2024-11-01", "2024-11-30", "2024-11", "month")),
    ("November 2023", None, ("2023-11-01", "2023-11-30", "2023-11", "month")),
    ("in December 2023", None, ("2023-12-01", "2023-12-31", "2023-12", "month")),
    ("November last year", P26, ("2025-11-01", "2025-11-30", "2025-11", "month")),
    ("next February", date(2023, 12, 24), ("2024-02-01", "2024-02-29", "2024-02", "month")),
    ("as of the end of November", P25, ("2025-11-30", "2025-11-30", "2025-11-30", "day")),
    ("as of the end of November", date(2025, 10, 1), ("2024-11-30", "2024-11-30", "2024-11-30", "day")),
    ("early November", P25, ("2025-11-01", "2025-11-10", "2025-11-early", "range")),
    ("mid-November", P25, ("2025-11-11", "2025-11-20", "2025-11-mid", "range")),
    ("late November", P25, ("2025-11-21", "2025-11-30", "2025-11-late", "range")),
    ("late February 2024", None, ("2024-02-21", "2024-02-29", "2024-02-late", "range")),
    ("in early 2024", None, ("2024-01-01", "2024-04-30", "2024-early", "range")),
    ("mid-2024", None, ("2024-05-01", "2024-08-31", "2024-mid", "range")),
    ("late 2024", None, ("2024-09-01", "2024-12-31", "2024-late", "range")),
    ("late last year", P26, ("2025-09-01", "2025-12-31", "2025-late", "range")),
    ("by the end of 2025", None, ("2025-12-31", "2025-12-31", "2025-12-31", "day")),
])
def test_dates_months(expression, published, expected):
    assert _span(resolve_expression(expression, published)) == expected


@pytest.mark.parametrize(("expression", "published", "expected"), [
    ("by the summer of 2025", None, ("2025-06-01", "2025-08-31", "2025-summer", "season")),
    ("the summer of 2025", None, ("2025-06-01", "2025-08-31", "2025-summer", "season")),
    ("summer 2025", None, ("2025-06-01", "2025-08-31", "2025-summer", "season")),
    ("spring 2024", None, ("2024-03-01", "2024-05-31", "2024-spring", "season")),
    ("fall 2024", None, ("2024-09-01", "2024-11-30", "2024-autumn", "season")),
    ("the winter of 2023", None, ("2023-12-01", "2024-02-29", "2023-winter", "season")),
    ("this summer", P25, ("2025-06-01", "2025-08-31", "2025-summer", "season")),
    ("last summer", P26, ("2025-06-01", "2025-08-31", "2025-summer", "season")),
    ("this winter", P26, ("2025-12-01", "2026-02-28", "2025-winter", "season")),
    ("next spring", P25, ("2026-03-01", "2026-05-31", "2026-spring", "season")),
    ("the second half of 2025", None, ("2025-07-01", "2025-12-31", "2025-H2", "half")),
    ("in the second half", P25, ("2025-07-01", "2025-12-31", "2025-H2", "half")),
    ("the first half of this year", P26, ("2026-01-01", "2026-06-30", "2026-H1", "half")),
    ("H1 2024", None, ("2024-01-01", "2024-06-30", "2024-H1", "half")),
    ("the first quarter of 2024", None, ("2024-01-01", "2024-03-31", "2024-Q1", "quarter")),
    ("Q3 2024", None, ("2024-07-01", "2024-09-30", "2024-Q3", "quarter")),
    ("in the fourth quarter of last year", P26, ("2025-10-01", "2025-12-31", "2025-Q4", "quarter")),
])
def test_dates_seasons_halves_quarters(expression, published, expected):
    assert _span(resolve_expression(expression, published)) == expected


@pytest.mark.parametrize("expression", [
    "during the pandemic", "the pandemic", "the COVID-19 pandemic", "COVID-19 period",
    "during the border closure", "during the border closures", "the border closure period",
])
def test_dates_named_periods(expression):
    assert _span(resolve_expression(expression, None)) == ("2020-01-01", "2022-12-31", "2020/2022", "range")


@pytest.mark.parametrize("expression", ["2025-11-19", "2025.11.19", "Date 2025-11-19", "2025/11/19"])
def test_dates_iso(expression):
    assert _span(resolve_expression(expression, None)) == ("2025-11-19", "2025-11-19", "2025-11-19", "day")


@pytest.mark.parametrize("expression", [
    "", "hello", "the second half of the match", "the fall of Saigon", "2025-13-45", "Brief 2025-30",
])
def test_dates_resolve_expression_none(expression):
    assert resolve_expression(expression, P26) is None


# --------------------------------------------------------------------------- in running text


@pytest.mark.parametrize("text", [
    "exports of 2,024 tons", "a price of 2024 won", "2024 tons of rice", "2024 people fled",
    "serial 12024", "a ratio of 2024.5", "about 2000 soldiers", "$2024", "at 1950 meters",
])
def test_dates_quantities_are_not_years(text):
    assert [m for m in find_temporal(text, P26) if m.period.granularity in ("year", "range")] == []


def test_dates_both_years_are_two_mentions():
    text = "approximately 100 in both 2022 and 2023"
    mentions = find_temporal(text, None)
    assert [(m.text, m.period.label) for m in mentions] == [("2022", "2022"), ("2023", "2023")]


def test_dates_two_days_in_one_month():
    text = "Balloons crossed the border on Dec. 1 and 27, the ministry said."
    mentions = find_temporal(text, date(2025, 12, 30))
    assert [(m.text, m.period.label) for m in mentions] == [("on Dec. 1", "2025-12-01"), ("27", "2025-12-27")]


def test_dates_kcna_dateline():
    text = "Pyongyang, December 24 (KCNA) -- Japan plans the fourth-round discharge next February."
    mentions = find_temporal(text, date(2023, 12, 24))
    assert [(m.text, m.period.label, m.relative) for m in mentions] == [
        ("December 24", "2023-12-24", True), ("next February", "2024-02", True)]


def test_dates_relative_needs_publication_date():
    text = "Last year exports rose; in 2024 they fell, and on February 7 a report said so."
    mentions = find_temporal(text, None)
    assert [(m.text, m.relative) for m in mentions] == [("in 2024", False)]


def test_dates_previous_year_refers_to_year_in_sentence():
    text = "Activity rose in 2025, more than doubling compared to the previous year."
    mention = _at(find_temporal(text, P26), text, "previous year")
    assert mention.period.label == "2024" and mention.relative


def test_dates_longest_match_wins():
    text = "On September 3 last year, Kim attended."
    mentions = find_temporal(text, P26)
    assert [(m.text, m.period.label) for m in mentions] == [("On September 3 last year", "2025-09-03")]


def test_dates_datetime_published_is_its_day():
    assert resolve_expression("yesterday", datetime(2026, 2, 10, 23, 59)) == Period(
        date(2026, 2, 9), date(2026, 2, 9), "2026-02-09", "day")


def test_dates_year_period():
    assert year_period(2025) == Period(date(2025, 1, 1), date(2025, 12, 31), "2025", "year")


# --------------------------------------------------------------------------- seeds


def test_dates_seed_article():
    text = _seed(SEED_ARTICLE)
    mentions = find_temporal(text, ARTICLE_PUBLISHED)
    _assert_well_formed(text, mentions)
    assert _span(_at(mentions, text, "September 3 last year").period)[:2] == ("2025-09-03", "2025-09-03")
    assert _at(mentions, text, "February 7").period.label == "2026-02-07"
    assert _at(mentions, text, "in 2021").period.label == "2021"
    assert _at(mentions, text, "in 2025").period == year_period(2025)
    assert _at(mentions, text, "past five years").period.label == "2022/2026"
    assert [m.text for m in mentions if m.text in ("2022", "2023")] == ["2022", "2023"]


def test_dates_seed_brief():
    text = _seed(SEED_BRIEF)
    mentions = find_temporal(text, BRIEF_PUBLISHED)
    _assert_well_formed(text, mentions)
    assert _at(mentions, text, "20212025").period.label == "2021/2025"
    assert _span(_at(mentions, text, "during the pandemic").period) == (
        "2020-01-01", "2022-12-31", "2020/2022", "range")
    assert _span(_at(mentions, text, "by the summer of 2025").period) == (
        "2025-06-01", "2025-08-31", "2025-summer", "season")
    assert _span(_at(mentions, text, "the second half of 2025").period) == (
        "2025-07-01", "2025-12-31", "2025-H2", "half")
    assert _at(mentions, text, "2025-11-19").period.label == "2025-11-19"
    assert _at(mentions, text, "November 2025").period.label == "2025-11"
    assert not any("2025-30" in m.text for m in mentions)  # "Brief 2025-30" is a serial number


def test_dates_seeds_without_publication_date_keep_absolute_only():
    for path in (SEED_ARTICLE, SEED_BRIEF):
        text = _seed(path)
        mentions = find_temporal(text, None)
        _assert_well_formed(text, mentions)
        assert mentions
        # only anaphora with an anchor in the text survive: "in 2025, ... the previous year"
        assert [(m.text, m.period.label) for m in mentions if m.relative] in ([], [("the previous year", "2024")])


def test_dates_infer_publication_seed_article():
    # "last year" about 2025 events -> 2026; "Reports on February 7" -> not before 2026-02-07
    assert infer_publication_date(_seed(SEED_ARTICLE)) == date(2026, 2, 7)


def test_dates_infer_publication_seed_brief():
    assert infer_publication_date(_seed(SEED_BRIEF)) == date(2025, 11, 19)


def test_dates_infer_publication_seed_brief_without_date_line():
    text = "\n".join(line for line in _seed(SEED_BRIEF).splitlines() if not line.startswith("Date "))
    inferred = infer_publication_date(text)
    assert inferred is not None and date(2025, 11, 1) <= inferred <= date(2025, 12, 31)


@pytest.mark.parametrize(("text", "expected"), [
    ("Title\nPublished: February 10, 2026\n\nBody text mentions 2019.", date(2026, 2, 10)),
    ("Daily NK | 10 February 2026\n\nKim visited a farm.", date(2026, 2, 10)),
    ("Pyongyang, December 24, 2023 (KCNA) -- A meeting was held.", date(2023, 12, 24)),
    ("Pyongyang, December 24 (KCNA) -- This year, in 2023, output rose.", date(2023, 12, 24)),
    ("Exports rose last year. In 2024 they reached a record.", date(2025, 1, 1)),
    ("Kim spoke about the plan.", None),
    ("The plan runs by 2035 and the congress in 2026 will review it.", None),
    ("One day in May Juche 106 (2017), Kim visited a factory.", None),  # an anecdote, not a date
    ("", None),
])
def test_dates_infer_publication_date(text, expected):
    assert infer_publication_date(text) == expected


# --------------------------------------------------------------------------- properties

_TOKENS = ["2024", "2025", "20212025", "in", "on", "the", "last", "this", "next", "year", "year's", "February", "Feb.",
           "7", "31", "and", "of", "summer", "second", "half", "quarter", "Q3", "H2", "early", "mid-", "end", "as",
           "pandemic", "during", "border", "closure", ",", ".", "-", "–", "(", ")", "won", "tons", "2,024", "past",
           "five", "years", "ago", "yesterday", "the day before", "2025-11-19", "Date", "Pyongyang,", "(KCNA)", "\n"]
_texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(_TOKENS), max_size=40).map(" ".join),
    st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join),
)
_published = st.one_of(st.none(), st.dates())


@settings(max_examples=150, deadline=None)
@given(text=_texts, published=_published)
def test_dates_find_temporal_never_raises_and_offsets_are_valid(text, published):
    _assert_well_formed(text, find_temporal(text, published))


@settings(max_examples=100, deadline=None)
@given(text=_texts)
def test_dates_infer_publication_date_never_raises(text):
    inferred = infer_publication_date(text)
    assert inferred is None or isinstance(inferred, date)


@settings(max_examples=100, deadline=None)
@given(published=st.dates(min_value=date(2, 1, 1)))
def test_dates_last_year_is_previous_calendar_year(published):
    assert resolve_expression("last year", published) == year_period(published.year - 1)


@settings(max_examples=50, deadline=None)
@given(expression=st.text(max_size=60), published=_published)
def test_dates_resolve_expression_never_raises(expression, published):
    period = resolve_expression(expression, published)
    assert period is None or period.start <= period.end


def test_dates_weekdays_are_the_latest_such_day_up_to_the_report():
    from pipeline.dates import find_temporal

    found = {m.text: m.period.start.isoformat()
             for m in find_temporal("Missiles were fired on Wednesday and on Thursday; last Thursday too.", date(2024, 9, 19))}
    assert found == {"on Wednesday": "2024-09-18", "on Thursday": "2024-09-19", "last Thursday": "2024-09-12"}
