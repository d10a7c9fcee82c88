"""Corrections made on the legacy extractor's facts, after a re-run with the current extractor.

The fixture (bench/corrections_survival.py --make-fixture) holds the legacy facts and a
reviewer's corrections of them; each correction must end kept on its fact, re-anchored to
the one new fact of the same number on an overlapping span, or lapsed and listed.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import sqlalchemy as sa

from tests.conftest import REPO


def _bench():
    spec = importlib.util.spec_from_file_location("corrections_survival", REPO / "bench" / "corrections_survival.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def survived(tmp_path_factory):
    """A store holding the legacy run, its corrections, then the current extractor's re-run."""
    from pipeline.store import ledger, open_store

    bench = _bench()
    documents = json.loads(bench.FIXTURE.read_text(encoding="utf-8"))["documents"]
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('survival') / 'store.db'}")
    source = ledger.add_source(store, "bench:legacy", "article", None, None)
    analyzed = bench.store_legacy_run(store, source.id, documents)
    ids = bench.record_legacy_corrections(store, documents, legacy_format=True)
    before = store.read_table("facts")
    bench.rerun_with_current_extractor(store, analyzed)
    return store, ids, before, bench.survival(store, ids)


def test_corrections_survival_every_correction_is_kept_reanchored_or_lapsed(survived):
    store, ids, before, counts = survived
    assert counts["corrections"] == len(ids) > 10
    assert counts.get("kept", 0) + counts.get("re-anchored", 0) + counts.get("lapsed", 0) == len(ids)
    assert counts.get("kept", 0) > 0 and counts.get("re-anchored", 0) > 0  # the fixture exercises both paths
    after = store.read_table("facts")
    tallies = after[after.kind == "activity_count"]
    assert not tallies.extractor_version.isin(before.extractor_version).any()  # a real re-run, new tally extractor


def test_corrections_survival_reanchored_ones_hold_on_the_same_number(survived):
    from pipeline.keys import parse_key
    from pipeline.store.db import corrections

    store, ids, _, _ = survived
    facts = store.read_table("facts")
    with store.reading() as conn:
        moved = conn.execute(sa.select(corrections).where(corrections.c.id.in_(ids),
                                                          corrections.c.superseded_by.isnot(None))).all()
        successors = {r.id: r for r in conn.execute(sa.select(corrections).where(
            corrections.c.id.in_([m.superseded_by for m in moved])))}
    assert moved
    for old in moved:
        successor = successors[old.superseded_by]
        old_start, old_end = map(int, parse_key(old.target_key)[1][1:3])
        new_start, new_end = map(int, parse_key(successor.target_key)[1][1:3])
        assert new_start < old_end and new_end > old_start  # overlapping spans
        held = facts[(facts.start_char == new_start) & (facts.end_char == new_end) & facts.reviewed]
        fingerprint = json.loads(old.old_value)["fingerprint"]
        assert (held.value == fingerprint["value"]).any() or old.action == "set" and "value" in json.loads(old.new_value)
        assert bool(held.rejected.any()) == (old.action == "reject")


def test_corrections_survival_lapsed_ones_are_listed_with_their_sentence(survived):
    from pipeline.review_queue import lapsed_fact_corrections

    store, _, _, counts = survived
    lapsed = lapsed_fact_corrections(store)
    assert len(lapsed) == counts.get("lapsed", 0)
    for item in lapsed:
        assert item.context is not None and item.context.span
