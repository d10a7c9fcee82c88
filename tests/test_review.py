from dataclasses import replace
from datetime import date

from pipeline.store import document_rows, ledger, persist, register_rows
import pytest
import sqlalchemy as sa

from pipeline.activities import merge_duplicates
from pipeline.errors import ReviewError
from pipeline.corrections import Correction, alias_target, parse_fact_edit, record_correction
from pipeline.keys import activity_key, alias_key, fact_key, parse_key, sector_key
from pipeline.records import Activity, Person, activity_id_for
from pipeline.review_queue import (
    QueueFilter,
    corrections_of,
    count_lapsed_fact_corrections,
    find_item,
    lapsed_fact_corrections,
    review_queue,
    review_queue_page,
    sentence_context,
)
from pipeline.store import open_store
from tests.conftest import REVIEW_TEXT, review_document


@pytest.fixture
def seeded(store):
    source = ledger.add_source(store, "https://x.org/feed", "article", None, None)
    analyzed = review_document(store, source.id)
    return store, source, analyzed.document.text_hash


def sector_row(store) -> dict:
    frame = store.read_table("sector_labels")
    return frame.iloc[0].to_dict()


def fact_row(store) -> dict:
    return store.read_table("facts").iloc[0].to_dict()


def activity(doc_id: str = "doc-a", day: date = date(2024, 3, 1), sector: str = "military",
             confidence: float = 0.7) -> Activity:
    return Activity(activity_id_for(doc_id), "Kim Jong Un", day, day, "Kim Jong Un inspected", "inspection",
                    sector, None, None, (doc_id,), (Person("choe", "Choe Ryong Hae", "accompanied"),), confidence)


def test_review_keys_round_trip_and_refuse_other_shapes():
    assert parse_key(sector_key("h", "paragraph", 2)) == ("sector", ["h", "paragraph", "2"])
    assert parse_key(fact_key("h", 17, 19, "activity_count")) == ("fact", ["h", "17", "19", "activity_count", "0"])
    assert parse_key(alias_key("Kim Jong-un")) == ("alias", ["Kim Jong-un"])
    for bad in ("fact:h:x:19:kind:0", "fact:h:17:19:kind", "sector:h:document", "row:12", "activity:"):
        with pytest.raises(ReviewError):
            parse_key(bad)


def test_review_sector_correction_survives_reprocessing_and_feeds_training(seeded):
    store, source, text_hash = seeded
    record_correction(store, Correction(sector_key(text_hash, "document", 0), "set", "rev", "economic"))
    review_document(store, source.id)  # the pipeline rewrites the document's rows with the model's label
    row = sector_row(store)
    assert (row["sector"], row["source"], bool(row["reviewed"])) == ("economic", "reviewer", True)
    units = document_rows.reviewed_sector_units(store)
    assert [(u["document_id"], u["sector"]) for u in units] == [("doc-a", "economic")]
    assert "51 public appearances" in units[0]["text"]


def test_review_sector_correction_of_a_story_under_several_links_gives_one_training_unit(seeded):
    store, source, text_hash = seeded
    review_document(store, source.id, doc_id="doc-b")  # the same text under another link (and title)
    review_document(store, source.id, text=REVIEW_TEXT.upper().replace(" ", "  "), doc_id="doc-c")
    with store.engine.begin() as conn:  # a copy that differs in case and spacing only, title included
        conn.exec_driver_sql("UPDATE documents SET title = 'REPORT  DOC-A' WHERE document_id = 'doc-c'")
    record_correction(store, Correction(sector_key(text_hash, "document", 0), "set", "rev", "economic"))
    other_hash = store.read_table("documents").set_index("document_id").loc["doc-c", "text_hash"]
    record_correction(store, Correction(sector_key(other_hash, "document", 0), "set", "rev", "economic"))
    assert sorted(store.read_table("sector_labels")["source"]) == ["reviewer"] * 3
    assert [u["document_id"] for u in document_rows.reviewed_sector_units(store)] == ["doc-a"]


def test_review_correction_lapses_when_the_document_text_changes(seeded):
    store, source, text_hash = seeded
    record_correction(store, Correction(sector_key(text_hash, "document", 0), "set", "rev", "economic"))
    review_document(store, source.id, text=REVIEW_TEXT + " A new paragraph.")
    assert (sector_row(store)["sector"], sector_row(store)["source"]) == ("military", "model")


def test_review_later_correction_supersedes_the_earlier_one(seeded):
    store, source, text_hash = seeded
    key = sector_key(text_hash, "document", 0)
    first = record_correction(store, Correction(key, "set", "rev", "economic"))
    second = record_correction(store, Correction(key, "set", "rev", "social"))
    review_document(store, source.id)
    assert sector_row(store)["sector"] == "social"
    frame = store.read_table("corrections").set_index("id")
    assert not frame.loc[first, "active"] and frame.loc[first, "superseded_by"] == second
    assert frame.loc[second, "active"]


def test_review_fact_edit_and_reject_survive_reprocessing(seeded):
    store, source, text_hash = seeded
    key = fact_key(text_hash, 17, 19, "activity_count")
    edit = parse_fact_edit({"value": "52", "period_start": "2024-01-01", "period_end": "2024-12-31",
                            "period_label": "2024", "subject": "Kim Jong Un", "sector": ""})
    record_correction(store, Correction(key, "set", "rev", edit))
    review_document(store, source.id)
    row = fact_row(store)
    assert (row["value"], str(row["period_start"])[:10], row["period_label"], bool(row["reviewed"])) == (
        52.0, "2024-01-01", "2024", True)
    assert [f["value"] for f in document_rows.query_facts(store, "activity_count", 2024)] == [52.0]
    record_correction(store, Correction(key, "reject", "rev"))
    review_document(store, source.id)
    assert bool(fact_row(store)["rejected"]) and document_rows.query_facts(store, "activity_count") == []


def test_review_fact_edit_refuses_bad_values():
    with pytest.raises(ReviewError, match="not a number"):
        parse_fact_edit({"value": "fifty"})
    with pytest.raises(ReviewError, match="not a date"):
        parse_fact_edit({"value": "1", "period_start": "2024-13-01"})
    with pytest.raises(ReviewError, match="after period_end"):
        parse_fact_edit({"value": "1", "period_start": "2024-12-01", "period_end": "2024-01-01"})
    with pytest.raises(ReviewError, match="unknown sector"):
        parse_fact_edit({"value": "1", "sector": "sports"})


def test_review_correction_refuses_wrong_actions_and_values(seeded):
    store, _, text_hash = seeded
    with pytest.raises(ReviewError, match="unknown sector"):
        record_correction(store, Correction(sector_key(text_hash, "document", 0), "set", "rev", "sports"))
    with pytest.raises(ReviewError, match="cannot 'reject'"):
        record_correction(store, Correction(sector_key(text_hash, "document", 0), "reject", "rev"))
    assert store.read_table("corrections").empty


def test_review_not_an_activity_leaves_the_tallies_and_stays_after_a_rebuild(seeded):
    store, _, _ = seeded
    register = [activity("doc-a"), activity("doc-b", date(2024, 5, 2))]
    persist.write_register(store, register)
    total = lambda: store.read_table("activity_tallies").query("by == 'total'")["count"].tolist()  # noqa: E731
    assert total() == [2]
    record_correction(store, Correction(activity_key(activity_id_for("doc-a")), "not_activity", "rev", True))
    assert total() == [1]
    persist.write_register(store, register)  # the register is rebuilt from the documents on every run
    assert total() == [1]
    assert [a.activity_id for a in register_rows.load_register(store)] == [activity_id_for("doc-b")]
    frame = store.read_table("activities").set_index("activity_id")
    assert frame.loc[activity_id_for("doc-a"), "rejected"] and frame.loc[activity_id_for("doc-a"), "reviewed"]


def _total_tally(store) -> list[int]:
    return store.read_table("activity_tallies").query("by == 'total'")["count"].tolist()


def _rejected(store) -> dict[str, bool]:
    return {r["activity_id"]: bool(r["rejected"]) for r in store.read_table("activities").to_dict("records")}


def test_review_rejection_follows_the_story_when_another_report_of_it_sorts_first(seeded):
    store, _, _ = seeded
    persist.write_register(store, [activity("doc-a"), activity("doc-b", date(2024, 5, 2))])
    record_correction(store, Correction(activity_key(activity_id_for("doc-a")), "not_activity", "rev", True))
    # A second link to the same story whose id sorts first gives the merged activity another id.
    first = next(d for d in (f"doc-new-{n}" for n in range(100)) if activity_id_for(d) < activity_id_for("doc-a"))
    merged = merge_duplicates([activity("doc-a"), activity(first)])
    assert [a.activity_id for a in merged] == [activity_id_for(first)]
    persist.write_register(store, [*merged, activity("doc-b", date(2024, 5, 2))])
    assert _rejected(store) == {activity_id_for(first): True, activity_id_for("doc-b"): False}
    assert _total_tally(store) == [1]
    assert [a.activity_id for a in register_rows.load_register(store)] == [activity_id_for("doc-b")]


def test_review_rejection_follows_the_story_when_its_url_changes(seeded):
    store, source, _ = seeded
    persist.write_register(store, [activity("doc-a"), activity("doc-b", date(2024, 5, 2))])
    record_correction(store, Correction(activity_key(activity_id_for("doc-a")), "not_activity", "rev", True))
    review_document(store, source.id, doc_id="doc-moved")  # the same text under a new URL
    persist.write_register(store, [activity("doc-moved"), activity("doc-b", date(2024, 5, 2))])
    assert _rejected(store) == {activity_id_for("doc-moved"): True, activity_id_for("doc-b"): False}
    assert _total_tally(store) == [1]


def test_review_is_activity_undoes_not_activity_now_and_after_a_rebuild(seeded):
    store, _, _ = seeded
    register = [activity("doc-a"), activity("doc-b", date(2024, 5, 2))]
    persist.write_register(store, register)
    key = activity_key(activity_id_for("doc-a"))
    first = record_correction(store, Correction(key, "not_activity", "rev", True))
    assert _total_tally(store) == [1]
    second = record_correction(store, Correction(key, "is_activity", "rev", False))
    assert _total_tally(store) == [2] and _rejected(store)[activity_id_for("doc-a")] is False
    persist.write_register(store, register)
    assert _total_tally(store) == [2] and _rejected(store)[activity_id_for("doc-a")] is False
    history = store.read_table("corrections").set_index("id")
    assert (bool(history.loc[first, "active"]), history.loc[first, "superseded_by"]) == (False, second)


def test_review_document_sector_correction_changes_the_activity_and_its_tallies(seeded):
    store, _, text_hash = seeded
    persist.write_register(store, [activity("doc-a")])
    record_correction(store, Correction(sector_key(text_hash, "document", 0), "set", "rev", "economic"))
    tallies = store.read_table("activity_tallies").query("by == 'sector'")
    assert tallies[["key", "count"]].values.tolist() == [["economic", 1]]
    assert register_rows.load_register(store)[0].sector == "economic"


def test_review_alias_merge_and_split_apply_to_entities_now_and_after_reprocessing(seeded):
    store, source, _ = seeded
    store.engine.dispose()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO persons (person_id, canonical_name, in_gazetteer, first_seen_at) "
                             "VALUES ('kim-jong-un-2', 'Kim Jong Un (other)', 0, '2024-01-01')")
    target = alias_target(store, "Kim Jong Un", "merge", "kim-jong-un-2")
    previous = target.pop("previous")
    record_correction(store, Correction(alias_key("Kim Jong Un"), "merge", "rev", target, previous, "person_id"))
    review_document(store, source.id)
    entity = store.read_table("entities").iloc[0]
    assert (entity["canonical_id"], entity["canonical_name"]) == ("kim-jong-un-2", "Kim Jong Un (other)")
    alias = store.read_table("person_aliases").set_index("alias").loc["Kim Jong Un"]
    assert (alias["person_id"], alias["source"]) == ("kim-jong-un-2", "reviewer")
    split = alias_target(store, "Kim Jong Un", "split", "Kim Jong Un Junior")
    split.pop("previous")
    record_correction(store, Correction(alias_key("Kim Jong Un"), "split", "rev", split))
    assert store.read_table("entities").iloc[0]["canonical_name"] == "Kim Jong Un Junior"
    with pytest.raises(ReviewError, match="no person has id"):
        alias_target(store, "Kim Jong Un", "merge", "nobody")


def test_review_alias_merge_and_split_rename_the_register_people_and_companion_tallies_now(seeded):
    store, _, _ = seeded
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO persons (person_id, canonical_name, in_gazetteer, first_seen_at) "
                             "VALUES ('kim-jong-un-2', 'Kim Jong Un (other)', 0, '2024-01-01')")
    kim = Person("kim-jong-un", "Kim Jong Un", "accompanied")
    persist.write_register(store, [replace(activity("doc-a"), people=(kim,)),
                          replace(activity("doc-b", date(2024, 5, 2)), people=(kim,))])
    companions = lambda: dict(store.read_table("activity_tallies").query("by == 'companion'")[  # noqa: E731
        ["key", "count"]].values.tolist())
    assert companions() == {"Kim Jong Un": 2}
    target = alias_target(store, "Kim Jong Un", "merge", "kim-jong-un-2")
    record_correction(store, Correction(alias_key("Kim Jong Un"), "merge", "rev", target, target.pop("previous")))
    people = store.read_table("activity_people").set_index("activity_id")
    assert people.loc[activity_id_for("doc-a"), ["person_id", "name"]].tolist() == [
        "kim-jong-un-2", "Kim Jong Un (other)"]
    assert people.loc[activity_id_for("doc-b"), "person_id"] == "kim-jong-un"  # doc-b does not use the alias
    assert companions() == {"Kim Jong Un": 1, "Kim Jong Un (other)": 1}
    split = alias_target(store, "Kim Jong Un", "split", "Kim Jong Un Junior")
    record_correction(store, Correction(alias_key("Kim Jong Un"), "split", "rev", split, split.pop("previous")))
    assert companions() == {"Kim Jong Un": 1, "Kim Jong Un Junior": 1}


def test_review_queue_puts_uncertain_items_that_feed_tallies_first(store):
    source = ledger.add_source(store, "https://x.org/feed", "article", None, None)
    review_document(store, source.id, doc_id="doc-a", probability=0.9)
    review_document(store, source.id, text="Another text about 12 things. " * 3, doc_id="doc-b", probability=0.5)
    persist.write_register(store, [activity("doc-a", confidence=0.9)])
    items = review_queue(store, QueueFilter(kind="sector"))
    # doc-a is more certain (0.9) but feeds an activity: (1-0.9)*(1+1) = 0.2 < (1-0.5)*1 = 0.5
    assert [(i.document_id, i.priority) for i in items] == [("doc-b", 0.5), ("doc-a", 0.2)]
    everything = review_queue(store)
    assert everything[0].kind == "fact" and everything[0].priority == pytest.approx(0.4 * 4)
    assert {i.kind for i in everything} == {"fact", "sector", "activity"}


def test_review_queue_pages_follow_the_queue_order(seeded):
    store, _, _ = seeded
    whole = review_queue(store, limit=100)
    assert len(whole) >= 2
    pages = [review_queue_page(store, QueueFilter(), number, 1) for number in range(1, len(whole) + 2)]
    assert [p.items[0].key for p in pages[:-1]] == [i.key for i in whole]
    assert pages[-1].items == [] and {p.total for p in pages} == {len(whole)}
    assert (pages[1].first_number, pages[1].pages) == (2, len(whole))
    with pytest.raises(ReviewError, match="pages start at 1"):
        review_queue_page(store, QueueFilter(), 0)


def test_review_queue_filters_and_drops_reviewed_items(seeded):
    store, _, text_hash = seeded
    assert [i.kind for i in review_queue(store, QueueFilter(sector="military"))] == ["sector"]
    assert review_queue(store, QueueFilter(source_id=999)) == []
    assert review_queue(store, QueueFilter(date_from=date(2030, 1, 1))) == []
    record_correction(store, Correction(sector_key(text_hash, "document", 0), "set", "rev", "economic"))
    assert [i.kind for i in review_queue(store)] == ["fact"]
    reviewed = review_queue(store, QueueFilter(kind="sector", include_reviewed=True))
    assert reviewed[0].reviewed and reviewed[0].sector == "economic"


def test_review_item_context_marks_the_extracted_span(seeded):
    store, _, text_hash = seeded
    item = find_item(store, fact_key(text_hash, 17, 19, "activity_count"))
    assert (item.context.before, item.context.span) == ("Kim Jong Un made ", "51")
    # the sentence ends where pipeline.text's one splitter ends it: at a full stop before a capital or quote
    assert item.context.after == " public appearances in 2024, the report said. <script>window.pwned = 1</script> " \
                                 "Readers saw it as text."
    assert sentence_context("One. Two 3 four. Five.", 9, 10).before == "Two "


def test_review_migration_adds_review_tables_and_flags_to_an_older_store(tmp_path):
    from alembic import command

    from pipeline.store.migrate import alembic_config, current_revision, head_revision

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")  # the last revision before review
        assert "corrections" not in sa.inspect(conn).get_table_names()
        conn.exec_driver_sql(
            "INSERT INTO sources (url, kind, enabled, added_at) VALUES ('https://x.org/', 'article', 1, '2026-01-01')")
        conn.exec_driver_sql(
            "INSERT INTO activities (activity_id, actor, activity_type, document_ids) VALUES ('a1', 'kju', 'visit', '[]')")
    engine.dispose()
    upgraded = open_store(url)
    assert current_revision(upgraded.engine) == head_revision()
    inspector = sa.inspect(upgraded.engine)
    assert {"reviewed", "rejected"} <= {c["name"] for c in inspector.get_columns("facts")}
    assert {"corrections", "users", "web_sessions"} <= set(inspector.get_table_names())
    with upgraded.engine.connect() as conn:  # rows made before review are unreviewed, not rejected
        assert conn.exec_driver_sql("SELECT reviewed, rejected FROM activities").one() == (0, 0)
    assert ledger.count_sources(upgraded) == 1


def test_review_two_facts_on_one_span_are_corrected_apart(store):
    from pipeline.records import AnalyzedDocument, CleanDocument

    source = ledger.add_source(store, "https://x.org/feed", "article", None, None)
    text = "He made about 100 appearances in 2022 and 2023."
    document = CleanDocument(key="d", url="https://x.org/d", title="T", author=None, published=None,
                             text=text, format="text")
    rows = tuple({"kind": "activity_count", "value": 100.0, "start_char": 8, "end_char": 17, "period_label": year,
                  "sentence": text, "extractor_version": "f", "confidence": 0.8} for year in ("2022", "2023"))
    analyzed = AnalyzedDocument("d", source.id, document, (), 1, derived=(("facts", rows),))
    persist.write_documents(store, None, [analyzed], "v1", "n1")
    keys = [i.key for i in review_queue(store, QueueFilter(kind="fact"))]
    assert sorted(keys) == [fact_key(document.text_hash, 8, 17, "activity_count", n) for n in (0, 1)]
    record_correction(store, Correction(keys[0].rsplit(":", 1)[0] + ":1", "reject", "rev"))
    persist.write_documents(store, None, [analyzed], "v1", "n1")
    assert [(f["period_label"], f["rejected"]) for f in store.read_table("facts").to_dict("records")] == [
        ("2022", False), ("2023", True)]


def _two_facts_on_one_span(store, source_id: int, labels: tuple[str, ...], value: float = 100.0):
    from pipeline.records import AnalyzedDocument, CleanDocument

    text = "He made about 100 appearances in 2022 and 2023."
    document = CleanDocument(key="d", url="https://x.org/d", title="T", author=None, published=None,
                             text=text, format="text")
    rows = tuple({"kind": "activity_count", "value": value, "start_char": 8, "end_char": 17, "period_label": label,
                  "sentence": text, "extractor_version": "f", "confidence": 0.8} for label in labels)
    persist.write_documents(store, None, [AnalyzedDocument("d", source_id, document, (), 1, derived=(("facts", rows),))],
                          "v1", "n1")
    return fact_key(document.text_hash, 8, 17, "activity_count", 1)


def _facts_by_label(store) -> dict[str, tuple]:
    return {f["period_label"]: (f["value"], f["rejected"], f["reviewed"])
            for f in store.read_table("facts").to_dict("records")}


def test_review_fact_correction_stays_on_its_fact_when_extraction_order_changes(store):
    source = ledger.add_source(store, "https://x.org/feed", "article", None, None)
    second = _two_facts_on_one_span(store, source.id, ("2022", "2023"))
    record_correction(store, Correction(second, "set", "rev", {"value": 120.0}))
    assert _facts_by_label(store) == {"2022": (100.0, False, False), "2023": (120.0, False, True)}
    _two_facts_on_one_span(store, source.id, ("2023", "2022"))  # the re-run extracts them the other way round
    assert _facts_by_label(store) == {"2022": (100.0, False, False), "2023": (120.0, False, True)}
    record_correction(store, Correction(second, "reject", "rev"))  # rank 1 is now the 2022 fact
    _two_facts_on_one_span(store, source.id, ("2022", "2023"))
    assert _facts_by_label(store) == {"2022": (100.0, True, True), "2023": (120.0, False, True)}
    assert [c["state"] for c in corrections_of(store, second)] == ["applied", "applied"]
    record_correction(store, Correction(second, "set", "rev", {"value": 130.0}))  # the 2023 fact, edited before
    _two_facts_on_one_span(store, source.id, ("2023", "2022"))
    assert _facts_by_label(store) == {"2022": (100.0, True, True), "2023": (130.0, False, True)}
    assert [c["state"] for c in corrections_of(store, second)] == ["applied", "applied", "superseded"]


def test_review_fact_correction_lapses_visibly_when_its_fact_is_no_longer_extracted(store):
    source = ledger.add_source(store, "https://x.org/feed", "article", None, None)
    second = _two_facts_on_one_span(store, source.id, ("2022", "2023"))
    record_correction(store, Correction(second, "reject", "rev"))
    _two_facts_on_one_span(store, source.id, ("2022", "2024"))
    assert _facts_by_label(store) == {"2022": (100.0, False, False), "2024": (100.0, False, False)}
    assert [c["state"] for c in corrections_of(store, second)] == ["lapsed"]


_TALLY_TEXT = "He made 51 public appearances in 2024 and 12 trips abroad."


def _extracted(store, source_id: int, *facts: tuple[int, int, float, str]) -> str:
    """Store the tally text with these (start, end, value, period label) facts, as one extractor run would."""
    from pipeline.records import AnalyzedDocument, CleanDocument

    document = CleanDocument(key="d", url="https://x.org/d", title="T", author=None, published=None,
                             text=_TALLY_TEXT, format="text")
    rows = tuple({"kind": "activity_count", "value": value, "start_char": start, "end_char": end,
                  "period_label": label, "sentence": _TALLY_TEXT, "extractor_version": "f", "confidence": 0.8}
                 for start, end, value, label in facts)
    persist.write_documents(store, None, [AnalyzedDocument("d", source_id, document, (), 1, derived=(("facts", rows),))],
                            "v1", "n1")
    return document.text_hash


def _fact_states(store) -> dict[tuple[int, int], tuple]:
    return {(f["start_char"], f["end_char"]): (f["value"], f["period_label"], f["rejected"], f["reviewed"])
            for f in store.read_table("facts").to_dict("records")}


def test_review_fact_correction_is_reanchored_to_the_new_fact_of_the_same_number(store):
    source = ledger.add_source(store, "https://x.org/feed", "article", None, None)
    text_hash = _extracted(store, source.id, (8, 29, 51.0, "2024"), (42, 50, 12.0, "2024"))
    old_key = fact_key(text_hash, 8, 29, "activity_count", 0)
    record_correction(store, Correction(old_key, "set", "rev", {"period_label": "2024 (calendar year)"}, comment="year"))
    record_correction(store, Correction(fact_key(text_hash, 42, 50, "activity_count", 0), "reject", "rev"))
    # A new extractor: spans on the number and its noun only, its own period labels, the trips read as 13.
    _extracted(store, source.id, (8, 10, 51.0, "Jan-Dec 2024"), (42, 44, 13.0, "Jan-Dec 2024"))
    assert _fact_states(store) == {(8, 10): (51.0, "2024 (calendar year)", False, True),
                                   (42, 44): (13.0, "Jan-Dec 2024", False, False)}
    assert [c["state"] for c in corrections_of(store, old_key)] == ["re-anchored"]
    new_key = fact_key(text_hash, 8, 10, "activity_count", 0)
    [moved] = corrections_of(store, new_key)
    assert (moved["state"], moved["reviewer"], moved["action"]) == ("applied", "rev", "set")
    assert moved["comment"].startswith("year (re-anchored from " + old_key)
    [lapsed] = lapsed_fact_corrections(store)  # the rejected 12 has no fact of its value any more
    assert lapsed.correction["target_key"] == fact_key(text_hash, 42, 50, "activity_count", 0)
    assert (lapsed.title, lapsed.context.span) == ("T", "12 trips")
    assert count_lapsed_fact_corrections(store) == 1
    # Another run of the new extractor finds the moved correction by its new key, and moves nothing again.
    _extracted(store, source.id, (8, 10, 51.0, "Jan-Dec 2024"), (42, 44, 13.0, "Jan-Dec 2024"))
    assert _fact_states(store)[(8, 10)] == (51.0, "2024 (calendar year)", False, True)
    assert len(store.read_table("corrections")) == 3


def test_review_fact_correction_is_not_reanchored_when_two_new_facts_could_take_it(store):
    source = ledger.add_source(store, "https://x.org/feed", "article", None, None)
    text_hash = _extracted(store, source.id, (8, 29, 51.0, "2024"))
    old_key = fact_key(text_hash, 8, 29, "activity_count", 0)
    record_correction(store, Correction(old_key, "reject", "rev"))
    _extracted(store, source.id, (8, 10, 51.0, "2024"), (8, 29, 51.0, "2023-24"))
    assert {state[2] for state in _fact_states(store).values()} == {False}
    assert [c["state"] for c in corrections_of(store, old_key)] == ["lapsed"]
    assert count_lapsed_fact_corrections(store) == 1
