"""The sector model: labels, the shipped model and its card, training and promotion, the stage."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace
from pathlib import Path

from pipeline.store import document_rows
import pytest

from pipeline.errors import ModelError
from pipeline.records import SECTORS
from pipeline.sectors import LabelledUnit, load_hand_labels, load_model
from pipeline.text import paragraphs
from pipeline.train import train_sector_model
from tests.conftest import CORPUS, REPO, SEED_BRIEF

MODEL_DIR = REPO / "models" / "sector"


@pytest.fixture(scope="module")
def units():
    return load_hand_labels(CORPUS / "labels", CORPUS)


@pytest.fixture(scope="module")
def model():
    return load_model(MODEL_DIR)


def test_sectors_hand_labels_cover_five_sectors_with_a_separate_test_split(units):
    assert len(units) >= 500
    test = [u for u in units if u.split == "test"]
    assert len(test) >= 150
    assert {u.sector for u in test} == set(SECTORS) == {u.sector for u in units if u.split == "train"}
    train_texts = {" ".join(u.text.split()).lower() for u in units if u.split == "train"}
    assert not any(" ".join(u.text.split()).lower() in train_texts for u in test), "a test text is also trained on"


def test_sectors_every_label_has_a_reason():
    for path in (CORPUS / "labels").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            label = json.loads(line)
            assert label["sector"] in SECTORS and label["reason"].strip(), label["unit_id"]


def test_sectors_shipped_model_card_describes_the_model(model):
    card = model.card
    assert card["labels"] == list(SECTORS)
    assert card["version"].startswith("sector-") and len(card["training_data_hash"]) == 64
    assert {"scikit-learn", "skops", "numpy", "spacy"} <= set(card["libraries"])
    assert card["metrics"]["test"]["macro_f1"] >= 0.8


def test_sectors_predictions_have_five_probabilities(model):
    [(sector, probability, probabilities)] = model.predict(
        ["Kim Jong Un oversaw a test-fire of a new-type intercontinental ballistic missile by the KPA."])
    assert sector == "military"
    assert set(probabilities) == set(SECTORS)
    assert abs(sum(probabilities.values()) - 1) < 1e-6 and probability == max(probabilities.values())


@pytest.mark.parametrize("text", ["", "Pyongyang", "조선중앙통신에 의하면 김정은 동지께서 공장을 현지지도하시였다.",
                                  "Привет, это текст не на английском языке вообще."])
def test_sectors_out_of_domain_text_gets_a_low_probability(model, text):
    [(sector, probability, _)] = model.predict([text])
    assert sector in SECTORS and probability <= 0.25


def test_sectors_one_megabyte_document_is_labelled(model):
    text = ("The farm workers harvested wheat and barley in the cooperative fields. " * 15_000)[:1_000_000]
    [(sector, probability, _)] = model.predict([text])
    assert sector == "economic" and probability > 0.2


def test_sectors_a_long_text_is_vectorized_in_pieces_and_its_pieces_weighed_by_length(model, monkeypatch):
    from dataclasses import replace as dc_replace

    from pipeline import sectors

    seen = []

    class Recording:
        classes_ = model.pipeline.classes_

        def predict_proba(self, texts):
            seen.append(sum(map(len, texts)))
            return model.pipeline.predict_proba(texts)

    monkeypatch.setattr(sectors, "PREDICT_CHARS", 2_000)
    recording = dc_replace(model, pipeline=Recording())
    military = "The artillery units fired missiles in a drill inspected by the commander. " * 20
    farming = "The farm workers harvested wheat and barley in the cooperative fields. " * 60
    short = "Soldiers trained with tanks."
    [(_, _, long_probs), (_, _, short_probs)] = recording.predict([military + farming, short])
    assert max(seen) <= 2_000 and len(seen) > 2  # never more than the limit at once
    pieces = sectors.text_pieces(military + farming)
    rows = model.pipeline.predict_proba(pieces)
    weights = [len(p) for p in pieces]
    for column, sector in enumerate(model.pipeline.classes_):
        expected = sum(w * row[column] for w, row in zip(weights, rows)) / sum(weights)
        assert long_probs[sector] == pytest.approx(expected)
    assert short_probs == model.predict([short])[0][2]  # a short text is read as before, whole


def copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "sector"
    shutil.copytree(MODEL_DIR, target)
    return target


def test_sectors_tampered_model_file_is_refused(tmp_path):
    target = copy_model(tmp_path)
    data = bytearray((target / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (target / "model.skops").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its model card"):
        load_model(target)


def test_sectors_incompatible_or_broken_card_is_refused(tmp_path):
    target = copy_model(tmp_path)
    card = json.loads((target / "card.json").read_text())
    card["libraries"]["scikit-learn"] = "0.24.2"
    (target / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="scikit-learn 0.24.2"):
        load_model(target)
    (target / "card.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model(target)
    shutil.rmtree(target)
    with pytest.raises(ModelError, match="nkpipe train"):
        load_model(target)


def test_sectors_run_refuses_a_tampered_model_before_processing(tmp_path, store, config):
    from pipeline.ingest import run_ingest
    from pipeline.sectors import cached_model
    from pipeline.sources import SourceSpec, register_source

    target = copy_model(tmp_path)
    (target / "model.skops").write_bytes(b"PK\x03\x04 not a model")
    cached_model.cache_clear()
    bad = replace(config, sectors=replace(config.sectors, model_dir=str(target)))
    source = register_source(store, SourceSpec(str(SEED_BRIEF)))
    with pytest.raises(ModelError):
        run_ingest(store, bad, [source])
    assert document_rows.count_documents(store) == 0


def test_sectors_stage_labels_documents_and_paragraphs(store, config):
    from pipeline.ingest import run_ingest
    from pipeline.sources import SourceSpec, register_source

    source = register_source(store, SourceSpec(str(SEED_BRIEF), published="2025-11-19"))
    run_ingest(store, config, [source])
    labels = store.read_table("sector_labels")
    document = store.read_table("documents").text[0]
    assert (labels.unit == "document").sum() == 1
    assert (labels.unit == "paragraph").sum() == len(paragraphs(document)) > 1
    assert set(labels.sector) <= set(SECTORS) and labels.probability.between(0, 1).all()
    assert labels.model_version.nunique() == 1 and (labels.source == "model").all()
    assert all(abs(sum(json.loads(p).values()) - 1) < 1e-3 for p in labels.probabilities)


def test_sectors_training_promotes_only_when_not_worse(tmp_path, units):
    # a third of the training units: what is tested is the promotion, not how good the model gets
    units = [u for i, u in enumerate(units) if u.split == "test" or i % 3 == 0]
    model_dir = tmp_path / "model"
    first = train_sector_model(units, model_dir, designs=("tfidf_logreg",))
    assert first.promoted and first.test_metrics["macro_f1"] > 0.75
    assert load_model(model_dir).version == first.version
    shuffled_sectors = [u.sector for u in units]
    random.Random(0).shuffle(shuffled_sectors)
    noisy = [replace(u, sector=s) if u.split == "train" else u for u, s in zip(units, shuffled_sectors)]
    second = train_sector_model(noisy, model_dir, designs=("tfidf_logreg",))
    assert not second.promoted and second.test_metrics["macro_f1"] < first.test_metrics["macro_f1"]
    assert load_model(model_dir).version == first.version
    history = [json.loads(line) for line in (model_dir / "history.jsonl").read_text().splitlines()]
    assert [h["promoted"] for h in history] == [True, False]


def test_sectors_reviewer_corrections_join_training_but_never_the_test_split():
    from pipeline.train import reviewer_units

    rows = [{"document_id": "d1", "unit": "document", "unit_index": 0, "sector": "social", "text": "A new text."},
            {"document_id": "d2", "unit": "document", "unit_index": 0, "sector": "social", "text": "Test  TEXT"}]
    added = reviewer_units(rows, test_texts={"test text"})
    assert [u.unit_id for u in added] == ["reviewed:d1#document0"]
    assert added[0] == LabelledUnit("reviewed:d1#document0", "A new text.", "social", "train", source="reviewer")


def test_sectors_reviewer_label_replaces_the_hand_label_of_the_same_training_text_only():
    from pipeline.train import reviewer_units, with_reviewer_labels

    hand = [LabelledUnit("h1", "Same  Text", "military", "train"), LabelledUnit("h2", "Other text", "social", "train"),
            LabelledUnit("h3", "Test text", "military", "test")]
    rows = [{"document_id": "d1", "unit": "document", "unit_index": 0, "sector": "economic", "text": "same text"},
            {"document_id": "d2", "unit": "document", "unit_index": 0, "sector": "economic", "text": "test TEXT"}]
    reviewed = reviewer_units(rows, test_texts={"test text"})
    units = with_reviewer_labels(hand, reviewed)
    assert sorted((u.unit_id, u.sector, u.split) for u in units) == [
        ("h2", "social", "train"), ("h3", "military", "test"), ("reviewed:d1#document0", "economic", "train")]
