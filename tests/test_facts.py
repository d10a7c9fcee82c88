"""The fact extractor: tallies, companions, rates and prices with periods and provenance."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pipeline.config import NlpConfig
from pipeline.ingest import with_publication_date
from pipeline.nlp import analyze_documents
from pipeline.records import BatchItem, CleanDocument
from tests.conftest import SEED_ARTICLE, SEED_BRIEF, SHARED


def facts_of(text: str, published: date | None = date(2025, 6, 1)) -> list[dict]:
    document = with_publication_date(CleanDocument(
        key="k", url="https://x.org/k", title=None, author=None, published=published, text=text, format="text"))
    [analyzed] = analyze_documents([BatchItem("d", 1, document, None)], NlpConfig())
    rows = list(analyzed.derived_rows("facts"))
    for row in rows:  # provenance: the span is inside the text and inside its sentence
        assert text[row["start_char"]:row["end_char"]] in row["sentence"]
    return rows


def key(row: dict) -> tuple:
    return (row["kind"], row["sector"], row["counterpart"], row["period_end"].year if row["period_end"] else None,
            row["value"], row["low"], row["high"], row["qualifier"])


@pytest.fixture(scope="module")
def seed_rows(nlp):
    from pipeline.clean import clean_plain_text

    article, _ = clean_plain_text(SEED_ARTICLE.read_bytes(), charset=None)
    brief, _ = clean_plain_text(SEED_BRIEF.read_bytes(), charset=None)
    return facts_of(article, None), facts_of(brief, date(2025, 11, 19))


def test_facts_seed_article_tallies_match_the_gold(seed_rows):
    rows, _ = seed_rows
    gold = [json.loads(line) for line in (SHARED / "gold" / "seed_facts.jsonl").read_text().splitlines()]
    expected = sorted((
        ("activity_count", g["sector"], g.get("counterpart"), g["year"], float(g["value"]), None, None, g["qualifier"])
        for g in gold if g["doc"].startswith("000")), key=repr)
    assert sorted((key(r) for r in rows), key=repr) == expected
    assert {r["subject"] for r in rows} == {"Kim Jong Un"}


def test_facts_seed_brief_exchange_rates(seed_rows):
    _, rows = seed_rows
    found = {(r["period_label"], r["low"], r["high"], r["qualifier"], r["unit"]) for r in rows}
    assert found == {
        ("2020/2022", 8000.0, 8999.0, "range", "KPW/USD"),
        ("2025-summer", 30000.0, None, "more_than", "KPW/USD"),
        ("2025-summer", 40000.0, 49999.0, "range", "KPW/USD"),
    }
    assert all(r["kind"] == "exchange_rate" and r["category"] == "market" for r in rows)


def test_facts_comparison_in_parentheses_gets_the_previous_year(nlp):
    rows = facts_of("Kim Jong Un made 51 military visits in 2025 (53 in 2024) and 37 economic ones (28).")
    # "in 2025" in a report of June 2025 is the year so far: it ends on the publication date
    assert {(r["period_end"].year, r["value"], r["sector"]) for r in rows} == {
        (2025, 51.0, "military"), (2024, 53.0, "military"), (2025, 37.0, "economic"), (2024, 28.0, "economic")}


def test_facts_last_years_possessive_is_the_previous_year(nlp):
    rows = facts_of("Kim Jong Un's public activities rose to 140 this year from last year's 127.",
                    published=date(2025, 12, 20))
    assert {(r["period_start"], r["period_end"], r["value"]) for r in rows} == {
        (date(2025, 1, 1), date(2025, 12, 20), 140.0), (date(2024, 1, 1), date(2024, 12, 31), 127.0)}


@pytest.mark.parametrize("text, unit, place, low, high, value, qualifier", [
    ("In Pyongyang markets the dollar traded at 8,130 won on March 3.", "KPW/USD", "Pyongyang", None, None, 8130.0, "exact"),
    ("The yuan fetched around 1,150 won in Sinuiju last week.", "KPW/CNY", "Sinuiju", None, None, 1150.0, "approx"),
    ("The exchange rate climbed above 30,000 won per dollar in 2025.", "KPW/USD", None, 30000.0, None, None, "more_than"),
])
def test_facts_exchange_rates(nlp, text, unit, place, low, high, value, qualifier):
    [row] = facts_of(text)
    assert (row["kind"], row["unit"], row["place"], row["low"], row["high"], row["value"], row["qualifier"]) == (
        "exchange_rate", unit, place, low, high, value, qualifier)


def test_facts_prices_per_kilogram(nlp):
    rows = facts_of("Rice sold for 5,770 won per kg in Sinuiju, while corn stayed at 2,400-2,500 won in Hyesan.")
    found = {(r["kind"], r["category"], r["place"], r["value"], r["low"], r["high"], r["unit"]) for r in rows}
    assert found == {("price", "rice", "Sinuiju", 5770.0, None, None, "KPW/kg"),
                     ("price", "corn", "Hyesan", None, 2400.0, 2500.0, "KPW/kg")}


@pytest.mark.parametrize("text", [
    "The 80th anniversary of the Workers' Party of Korea was celebrated in October 2025.",
    "The 20×10 regional development policy builds factories in 20 cities and counties every year.",
    "Preparations for the Ninth Party Congress in 2026 are under way.",
    "The plan calls for 20 city and county hospitals annually.",
    "North Korea fired two short-range ballistic missiles on 14 January 2024.",
    "Grain output rose by 12 percent in 2024.",
    "The five-year plan (2021-2025) ends this year.",
])
def test_facts_numbers_that_are_not_facts(nlp, text):
    assert facts_of(text) == []


def test_facts_bad_input_spelled_numbers_and_lines(nlp):
    rows = facts_of("Kim Jong Un made twelve on-site\ninspections in the first half of 2024.")
    [row] = rows
    assert (row["value"], row["category"], row["period_label"]) == (12.0, "on-site inspections", "2024-H1")


def test_facts_absurd_values_are_kept_with_low_confidence(nlp):
    [row] = facts_of("Kim Jong Un made 15,000 public appearances in 2024.")
    assert row["value"] == 15000.0 and row["confidence"] < 0.5


def test_facts_text_without_any_date_has_low_confidence_not_invented_periods(nlp):
    rows = facts_of("Kim Jong Un made 20 military-related public appearances.", published=None)
    [row] = rows
    assert row["period_start"] is None and row["confidence"] <= 0.5


def test_facts_companion_counts(nlp):
    rows = facts_of("Kim Jong Un made 130 public appearances in 2024. "
                    "Jo Yong Won accompanied him 40 times, more than any other official.")
    companion = [r for r in rows if r["kind"] == "companion_count"]
    assert [(r["subject"], r["value"], r["period_label"]) for r in companion] == [("Jo Yong Won", 40.0, "2024")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list("0123456789,.- ()won rangeKimJongUn abouts2024\n")), max_size=200))
def test_facts_never_crash_on_odd_text(nlp, text):
    for row in facts_of(text or " "):
        assert row["kind"] in {"activity_count", "companion_count", "exchange_rate", "price"}


def test_facts_companions_listed_by_name_each_get_their_own_count(nlp):
    rows = facts_of("Kim Jong Un made 120 public appearances in 2023. Ri Il Hwan was at his side most often, "
                    "on 51 occasions, followed by Pak Thae Song (37) and Kim Tok Hun (22); Choe Son Hui, 59, joined 14.")
    companion = {(r["subject"], r["value"], r["period_label"]) for r in rows if r["kind"] == "companion_count"}
    assert companion == {("Ri Il Hwan", 51.0, "2023"), ("Pak Thae Song", 37.0, "2023"), ("Kim Tok Hun", 22.0, "2023"),
                         ("Choe Son Hui", 14.0, "2023")}  # not 59: her age


def test_facts_sector_words_next_to_numbers_break_down_the_count(nlp):
    rows = facts_of("Kim Jong Un made 96 public appearances in 2022, up from 70 in 2021. "
                    "Of them, 33 were military-related and 21 economic, while political ones accounted for 18.")
    counts = {(r["sector"], r["value"], r["period_label"]) for r in rows if r["kind"] == "activity_count"}
    assert counts == {(None, 96.0, "2022"), (None, 70.0, "2021"), ("military", 33.0, "2022"),
                      ("economic", 21.0, "2022"), ("political", 18.0, "2022")}


def test_facts_compared_with_last_year_counts_back_from_the_years_talked_about(nlp):
    rows = facts_of("Kim Jong Un conducted 140 public activities in 2016, compared with 121 last year.",
                    published=date(2017, 1, 9))
    assert {(r["value"], r["period_label"]) for r in rows} == {(140.0, "2016"), (121.0, "2015")}


def test_facts_a_count_in_a_relative_clause_keeps_its_since_period(nlp):
    [row] = facts_of("Kim, who has now met the Chinese leader four times since 2018, left Beijing on Wednesday.",
                     published=date(2019, 6, 21))
    assert (row["value"], row["counterpart"], str(row["period_start"]), str(row["period_end"])) == (
        4, "China", "2018-01-01", "2019-06-21")


def test_facts_a_half_without_a_year_is_in_the_year_the_sentence_talks_about(nlp):
    rows = facts_of("In the second half of 2023, Kim Jong Un was seen at 58 events, compared with 44 in the first half.",
                    published=date(2024, 2, 20))
    assert {(r["value"], str(r["period_start"]), str(r["period_end"])) for r in rows} == {
        (58.0, "2023-07-01", "2023-12-31"), (44.0, "2023-01-01", "2023-06-30")}


def test_facts_market_city_named_in_an_earlier_sentence(nlp):
    rows = facts_of("Our correspondent checked prices at the main market in Hoeryong on March 4. "
                    "A kilogram of rice cost 5,200 won and corn 2,300 won; the dollar fetched 8,700 won.",
                    published=date(2019, 3, 12))
    assert {(r["kind"], r["place"], str(r["period_start"]), r["value"]) for r in rows} == {
        ("price", "Hoeryong", "2019-03-04", 5200.0), ("price", "Hoeryong", "2019-03-04", 2300.0),
        ("exchange_rate", "Hoeryong", "2019-03-04", 8700.0)}


def test_facts_market_quotes_respectively_and_in_both_cities(nlp):
    rows = facts_of("Rice sold for 4,900 won and 5,050 won per kilogram in Sinuiju and Chongjin, respectively. "
                    "The dollar traded at about 8,100 won in both Pyongyang and Hyesan.", published=date(2018, 5, 2))
    assert {(r["kind"], r["place"], r["value"]) for r in rows} == {
        ("price", "Sinuiju", 4900.0), ("price", "Chongjin", 5050.0),
        ("exchange_rate", "Pyongyang", 8100.0), ("exchange_rate", "Hyesan", 8100.0)}


def test_facts_market_average_official_and_changes(nlp):
    rows = facts_of("In the third quarter the dollar averaged 8,150 won in Sinuiju, while the official rate stood near "
                    "105 won. The yuan traded at 1,200 won, 15 won lower than a week earlier.", published=date(2016, 10, 3))
    assert {(r["category"], r["place"], r["qualifier"], r["value"], r["unit"]) for r in rows} == {
        ("market", "Sinuiju", "average", 8150.0, "KPW/USD"), ("official", None, "approx", 105.0, "KPW/USD"),
        ("market", "Sinuiju", "exact", 1200.0, "KPW/CNY")}


def test_facts_owned_totals_and_relatives_by_kinship(nlp):
    rows = facts_of("The ministry put Kim Jong Un's public activities for 2016 at 140. "
                    "His father's tally of public activities had stood at 95 in 2009.", published=date(2016, 12, 28))
    assert {(r["subject"], r["value"], r["period_end"].year) for r in rows} == {
        ("Kim Jong Un", 140.0, 2016), ("Kim Jong Il", 95.0, 2009)}


def test_facts_a_leader_tally_has_no_counterpart_in_his_own_country_nor_a_since_period_for_its_breakdown(nlp):
    rows = facts_of("By the end of October, Kim Jong Un had appeared in public 64 times this year — the fewest since "
                    "he came to power in 2012 — while border closures kept him near Pyongyang. Only 15 of them were "
                    "military events.", published=date(2021, 11, 3))
    assert {(r["value"], r["sector"], r["counterpart"], str(r["period_start"]), str(r["period_end"])) for r in rows} == {
        (64.0, None, None, "2021-01-01", "2021-10-31"), (15.0, "military", None, "2021-01-01", "2021-10-31")}


def test_facts_the_figure_he_logged_a_year_earlier_is_the_same_span_of_the_year_before(nlp):
    rows = facts_of("Kim Jong Un made 22 public appearances in April-June, more than twice the 10 he logged a year "
                    "earlier, the ministry said.", published=date(2016, 7, 5))
    assert {(r["value"], str(r["period_start"]), str(r["period_end"])) for r in rows} == {
        (22.0, "2016-04-01", "2016-06-30"), (10.0, "2015-04-01", "2015-06-30")}


def test_facts_the_north_korean_leader_is_never_the_foreign_leader_named_after_him(nlp):
    [row] = facts_of("During the trip, the North Korean leader made six public appearances in China, from talks with "
                     "Xi Jinping in Beijing to a visit to a farm outside the city.", published=date(2019, 1, 12))
    assert (row["subject"], row["value"], row["counterpart"]) == ("Kim Jong Un", 6, "China")


def test_facts_the_period_of_the_clause_that_says_which_events_were_counted(nlp):
    rows = facts_of("Kim Jong Un's spring was about weapons: of the 31 public events state media reported between April "
                    "and June, he attended five missile tests.", published=date(2022, 7, 15))
    assert {(r["value"], r["category"], str(r["period_start"]), str(r["period_end"])) for r in rows} == {
        (31.0, None, "2022-04-01", "2022-06-30"), (5, "weapons tests", "2022-04-01", "2022-06-30")}


def test_facts_the_activities_a_reporter_recorded_for_him_running_to_a_date(nlp):
    rows = facts_of("Construction was the theme of the North Korean leader's year. Of the 58 public appearances KCNA "
                    "logged for him as of November 20, 20 were economic and 11 military.", published=date(2023, 11, 24))
    assert {(r["subject"], r["sector"], r["value"], str(r["period_start"]), str(r["period_end"])) for r in rows} == {
        ("Kim Jong Un", None, 58.0, "2023-01-01", "2023-11-20"), ("Kim Jong Un", "economic", 20.0, "2023-01-01", "2023-11-20"),
        ("Kim Jong Un", "military", 11.0, "2023-01-01", "2023-11-20")}


def test_facts_a_total_reached_by_the_counted_noun_not_by_the_number_of_an_aside(nlp):
    rows = facts_of("Kim Jong Un made 70 public appearances by August. Military activities, only nine in the two "
                    "previous years combined, have already reached 23 this year.", published=date(2024, 9, 10))
    assert ("Kim Jong Un", "military", 23.0) in {(r["subject"], r["sector"], r["value"]) for r in rows}


def test_facts_a_bracketed_figure_after_a_verb_and_a_sector_is_that_sector(nlp):
    rows = facts_of("Kim Jong Un made 112 public appearances in 2023. Military events, at 50, outnumbered economic ones "
                    "(38).", published=date(2024, 1, 8))
    assert {(r["sector"], r["value"], r["period_end"].year) for r in rows} == {
        (None, 112.0, 2023), ("military", 50.0, 2023), ("economic", 38.0, 2023)}


def test_facts_a_part_that_names_party_meetings_is_counted_as_party_meetings(nlp):
    rows = facts_of("In the second quarter, Kim Jong Un was reported at 24 public events, seven of which were party "
                    "meetings.", published=date(2021, 7, 5))
    assert {(r["category"], r["value"]) for r in rows} == {(None, 24.0), ("party meetings", 7)}


def test_facts_a_flattened_price_table_under_a_won_header(nlp):
    rows = facts_of("Market survey of April 3 (prices in won, grain per kg). "
                    "KAESONG: USD 9,120 | CNY 1,270 | rice/kg 5,420 | egg (each) 900. "
                    "Haeju: USD 9,150 / corn 2,380.", published=date(2022, 4, 6))
    assert {(r["kind"], r["place"], r["category"], r["value"], r["unit"]) for r in rows} == {
        ("exchange_rate", "Kaesong", "market", 9120.0, "KPW/USD"), ("exchange_rate", "Kaesong", "market", 1270.0, "KPW/CNY"),
        ("price", "Kaesong", "rice", 5420.0, "KPW/kg"),
        ("exchange_rate", "Haeju", "market", 9150.0, "KPW/USD"), ("price", "Haeju", "corn", 2380.0, "KPW/kg")}
    assert {r["period_label"] for r in rows} == {"2022-04-03"}


def test_facts_bare_numbers_that_continue_a_won_quote(nlp):
    rows = facts_of("The dollar fetched 9,400 won in Kanggye on May 2, 9,450 in Manpo and 9,500 in Rason, "
                    "down from 9,900 in March; rice was 5,100 won a kilogram and corn is 2,450, a trader said. "
                    "About 30 people queued at 7 a.m.", published=date(2022, 5, 9))
    found = {(r["kind"], r["place"], r["value"]) for r in rows}
    assert {("exchange_rate", "Kanggye", 9400.0), ("exchange_rate", "Manpo", 9450.0), ("exchange_rate", "Rason", 9500.0),
            ("price", None, 5100.0)} <= {(k, p if k == "exchange_rate" else None, v) for k, p, v in found}
    assert ("price", 2450.0) in {(r["kind"], r["value"]) for r in rows}
    assert 9900.0 in {r["value"] for r in rows if r["kind"] == "exchange_rate"}
    assert not {30.0, 7.0} & {r["value"] for r in rows}


def test_facts_currencies_respectively_and_the_rate_each_number_is_named_by(nlp):
    rows = facts_of("In Haeju the dollar and the yuan went for 9,010 and 1,240 won respectively. The market rate "
                    "averaged 9,000 per dollar, about 90 times the official rate of roughly 100 won; the state-set "
                    "rate stood near 98.", published=date(2022, 7, 1))
    assert {(r["category"], r["unit"], r["value"]) for r in rows} == {
        ("market", "KPW/USD", 9010.0), ("market", "KPW/CNY", 1240.0), ("market", "KPW/USD", 9000.0),
        ("official", "KPW/USD", 100.0), ("official", "KPW/USD", 98.0)}


@pytest.mark.parametrize("text", [
    "A litre of gasoline cost 15,500 won in Kanggye on May 3.",
    "Pork rose to 2,300 won per 100 grams at a Seoul supermarket.",
    "Rice, at 58,000 won per 20 kg, rose 4 percent in South Korea.",
    "Eggs sold for 650 won apiece in Sinuiju on May 3.",
])
def test_facts_prices_in_another_unit_are_not_per_kg_prices(nlp, text):
    assert [r for r in facts_of(text, published=date(2022, 5, 9)) if r["kind"] == "price"] == []


def test_facts_a_number_in_words_with_thousands_and_hundreds_and_the_city_before_its_province(nlp):
    [row] = facts_of("Corn in Kanggye, Chagang Province, reached four thousand two hundred won a kilogram on May 3.",
                     published=date(2022, 5, 9))
    assert (row["kind"], row["place"], row["value"]) == ("price", "Kanggye", 4200.0)


def test_facts_one_as_a_count_and_counts_per_country_each(nlp):
    rows = facts_of("Kim Jong Un held seven summits in 2019: two apiece with Xi Jinping and Vladimir Putin, "
                    "and one each with Moon Jae-in, Donald Trump and To Lam. One of them was cut short.",
                    published=date(2019, 12, 30))
    assert {(r["counterpart"], r["value"]) for r in rows} == {
        (None, 7.0), ("China", 2.0), ("Russia", 2.0), ("South Korea", 1.0), ("United States", 1.0),
        ("Vietnam", 1.0)}
    assert {r["category"] for r in rows} == {"summit talks"}


def test_facts_items_a_participle_clause_includes_belong_to_the_main_subject(nlp):
    rows = facts_of("Kim Jong Il stayed busy in 2010, making 161 public appearances, including four trips abroad — "
                    "three to China and one to Russia.", published=date(2010, 12, 30))
    assert {(r["subject"], r["category"], r["counterpart"], r["value"]) for r in rows} == {
        ("Kim Jong Il", None, None, 161.0), ("Kim Jong Il", "foreign visits", None, 4.0),
        ("Kim Jong Il", "foreign visits", "China", 3.0), ("Kim Jong Il", "foreign visits", "Russia", 1.0)}


def test_facts_a_summary_line_and_its_year_labelled_comparisons(nlp):
    rows = facts_of("Institute data (as of Dec. 20) - Kim Jong Un public activities this year: 131 (2023: 109). "
                    "He held more talks than in 2021's 4.", published=date(2024, 12, 22))
    found = {(r["subject"], r["value"], r["period_end"].year) for r in rows if r["kind"] == "activity_count"}
    assert {("Kim Jong Un", 131.0, 2024), ("Kim Jong Un", 109.0, 2023)} <= found


def test_facts_a_year_that_opens_the_sentence_is_the_period_of_its_counts(nlp):
    [row] = facts_of("The year Juche 113 (2024) shone with the exploits of the respected Kim Jong Un, who gave "
                     "field guidance on 27 occasions at factories and farms.", published=None)
    assert (row["value"], row["category"], row["period_label"]) == (27.0, "field guidance", "2024")


def test_facts_a_numeral_after_a_year_and_colon_is_no_comparison(nlp):
    rows = facts_of("Kim Jong Un held six summits in 2019: three apiece with Xi Jinping and Vladimir Putin.",
                    published=date(2019, 12, 30))
    assert {(r["counterpart"], r["value"]) for r in rows} == {(None, 6.0), ("China", 3.0), ("Russia", 3.0)}
    assert {r["period_end"].year for r in rows} == {2019}


def test_facts_each_of_a_coordinated_subject_gets_the_number(nlp):
    rows = facts_of("Kim Yo Jong and Choe Son Hui each issued seven statements in the second quarter, while "
                    "Jo Yong Won and Ri Pyong Chol each accompanied Kim Jong Un on 12 of his 40 outings.",
                    published=date(2024, 7, 5))
    assert {(r["kind"], r["subject"], r["value"]) for r in rows} >= {
        ("activity_count", "Kim Yo Jong", 7.0), ("activity_count", "Choe Son Hui", 7.0),
        ("companion_count", "Jo Yong Won", 12.0), ("companion_count", "Ri Pyong Chol", 12.0)}
    assert not {r["subject"] for r in rows if r["value"] == 40.0} - {"Kim Jong Un"}


def test_facts_a_sector_breakdown_keeps_the_kind_its_noun_names(nlp):
    rows = facts_of("Kim Jong Un made 120 public appearances in 2015. Economic inspections accounted for 48.",
                    published=date(2015, 12, 30))
    assert ("economic", "on-site inspections", 48.0) in {(r["sector"], r["category"], r["value"]) for r in rows}


def test_facts_a_figure_or_total_that_refers_back_to_the_count_just_made(nlp):
    rows = facts_of("Kim Yo Jong issued eleven statements in the first quarter of 2023. By the end of June that "
                    "had brought the sister's total to 19. For 2022 as a whole the figure was 24. "
                    "The number of missiles fired was 12.", published=date(2023, 7, 2))
    found = {(r["subject"], r["category"], r["value"]) for r in rows}
    assert {("Kim Yo Jong", "press statements", 19.0), ("Kim Yo Jong", "press statements", 24.0)} <= found
    assert 12.0 not in {r["value"] for r in rows}
    assert {r["period_end"].year for r in rows if r["value"] == 24.0} == {2022}


def test_facts_the_text_goes_on_about_the_year_counted_not_the_year_compared_with(nlp):
    rows = facts_of("Kim Yo Jong issued 17 press statements in 2021, three times as many as in 2020 (6). "
                    "Her brother made 80 public appearances, the ministry said.", published=date(2021, 12, 30))
    years = {r["value"]: r["period_end"].year for r in rows}
    assert years == {17.0: 2021, 6.0: 2020, 80.0: 2021}  # "three times as many" is no count


def test_facts_a_schedule_counts_its_owners_activities(nlp):
    rows = facts_of("Kim Jong Il's public schedule in 2010 ran to 161 reported appearances. The 68-year-old paid two "
                    "visits to China that year.", published=date(2010, 12, 30))
    assert {(r["subject"], r["value"]) for r in rows} == {("Kim Jong Il", 161.0), ("Kim Jong Il", 2.0)}


def test_facts_wages_are_no_prices_and_a_quote_names_its_own_currency(nlp):
    rows = facts_of("In Kanggye the won traded at 9,120 against the greenback on May 3, while diesel sold for "
                    "8,300 won per kg; a factory worker's monthly wage is 4,500 won. The dollar fetched 9,100 won "
                    "in Manpo, while the yuan was at 1,270 and 1,280 won in Manpo and Kanggye respectively. "
                    "The won weakened to about 9,200 per dollar on the black market, against an official rate of "
                    "105 won.", published=date(2022, 5, 9))
    found = {(r["kind"], r["category"], r["unit"], r["value"]) for r in rows}
    assert {("exchange_rate", "market", "KPW/USD", 9120.0), ("price", "diesel", "KPW/kg", 8300.0),
            ("exchange_rate", "market", "KPW/CNY", 1270.0), ("exchange_rate", "market", "KPW/CNY", 1280.0),
            ("exchange_rate", "market", "KPW/USD", 9200.0), ("exchange_rate", "official", "KPW/USD", 105.0)} <= found
    assert 4500.0 not in {r["value"] for r in rows}


@pytest.mark.parametrize("text, expected", [
    ("Kim Jong Un held five summits in 2018 and 2019, two each with U.S. President Donald Trump and Moon Jae-in.",
     {("activity_count", 5.0), ("activity_count", 2.0)}),
    ("He visited the Wonsan resort five times the following year.", {("activity_count", 5.0)}),
    ("The number of officials accompanying him on public activities was 45.", set()),
    ("In Hyesan, people now pay 6,200 won per kilogram of rice.", {("price", 6200.0)}),
    ("Rice sold for 5,500 won per 1kg in Hyesan on May 3.", {("price", 5500.0)}),
    ("Rice sold for 5,000 won per kilogram in the South Pyongan city of Sunchon on May 3.", {("price", 5000.0)}),
    ("The official rate, traders say, is about 8,000 won to the dollar.", {("exchange_rate", 8000.0)}),
])
def test_facts_ordinary_sentences_the_newer_rules_must_not_misread(nlp, text, expected):
    rows = facts_of(text, published=date(2022, 5, 9))
    assert {(r["kind"], r["value"]) for r in rows} == expected


def test_facts_a_year_in_an_aside_is_not_the_period_and_the_official_rate_named_first_stays_official(nlp):
    rows = facts_of("Kim Jong Un, who was born in 1984, has visited the Wonsan resort 12 times. "
                    "The official rate, traders say, is about 8,000 won to the dollar.", published=date(2022, 5, 9))
    assert {(r["value"], r["period_label"] if r["kind"] == "activity_count" else r["category"]) for r in rows} == {
        (12.0, None), (8000.0, "official")}


def test_facts_a_long_row_of_comma_numbers_is_read_fast(nlp):
    import time
    row = ",".join(["1"] * 40) + " won; " + ", ".join(f"{8000 + i} won in Pyongyang" for i in range(300)) + "."
    started = time.perf_counter()
    facts_of(row, published=date(2022, 5, 9))
    assert time.perf_counter() - started < 20  # was exponential backtracking before the possessive list pattern
