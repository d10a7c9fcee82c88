"""Train, compare and promote the sector model.

Designs are compared by cross-validated macro-F1 on the training units only;
the chosen design is fitted on all training units and scored once on the fixed
hand-labelled test split, which is never trained on. A new model replaces the
current one only if its test macro-F1 is not lower. Every training run is
recorded, promoted or not.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import Config
from pipeline.errors import ModelError
from pipeline.records import SECTORS
from pipeline.sectors import (
    _FEATURE_CACHE,
    DESIGNS,
    SELF_TRAINING_THRESHOLD,
    LabelledUnit,
    data_hash,
    evaluate_predictions,
    fit_design,
    library_versions,
    load_hand_labels,
    load_model,
    save_model,
    unlabelled_texts,
)
from pipeline.store.db import Store
from pipeline.store.document_rows import reviewed_sector_units
from pipeline.store.ledger import record_training_run
from pipeline.text import text_key

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingResult:
    version: str
    design: str
    cv_scores: dict[str, dict[str, Any]]
    test_metrics: dict[str, Any]
    previous_macro_f1: float | None
    promoted: bool
    reason: str
    train_size: int
    test_size: int
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version, "design": self.design, "cross_validation": self.cv_scores,
            "test_macro_f1": self.test_metrics["macro_f1"], "test_ece": self.test_metrics.get("ece"),
            "previous_macro_f1": self.previous_macro_f1, "promoted": self.promoted, "reason": self.reason,
            "train_size": self.train_size, "test_size": self.test_size, "seconds": round(self.seconds, 1),
        }


def cross_validate(design: str, units: Sequence[LabelledUnit], unlabelled: Sequence[str],
                   folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Macro-F1 and ECE of a design from out-of-fold predictions on the training units."""
    from sklearn.model_selection import StratifiedKFold

    texts = np.array([u.text for u in units], dtype=object)
    labels = np.array([u.sector for u in units])
    probabilities = np.zeros((len(units), len(SECTORS)))
    for fit_rows, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels):
        fitted = fit_design(design, list(texts[fit_rows]), list(labels[fit_rows]), unlabelled, seed)
        probabilities[held_out] = predicted_probabilities(fitted, list(texts[held_out]))
    predicted = [SECTORS[i] for i in probabilities.argmax(axis=1)]
    metrics = evaluate_predictions(list(labels), predicted, probabilities)
    return {"macro_f1": metrics["macro_f1"], "ece": metrics["ece"],
            "min_sector_f1": min(v["f1"] for v in metrics["per_sector"].values())}


def choose_design(scores: dict[str, dict[str, Any]], designs: Sequence[str]) -> str:
    """Best cross-validated macro-F1 among designs calibrated within 0.05 ECE (else among all)."""
    calibrated = [d for d in designs if scores[d]["ece"] <= 0.05] or list(designs)
    return max(calibrated, key=lambda d: (scores[d]["macro_f1"], -designs.index(d)))


def evaluate_model(pipeline: Any, units: Sequence[LabelledUnit]) -> dict[str, Any]:
    probabilities = pipeline.predict_proba([u.text for u in units])
    order = [list(pipeline.classes_).index(s) for s in SECTORS]
    probabilities = probabilities[:, order]
    predicted = [SECTORS[i] for i in probabilities.argmax(axis=1)]
    return evaluate_predictions([u.sector for u in units], predicted, probabilities)


def _split(units: Sequence[LabelledUnit]) -> tuple[list[LabelledUnit], list[LabelledUnit]]:
    train = [u for u in units if u.split == "train"]
    test = [u for u in units if u.split == "test" and u.source == "hand"]
    return train, test


def _current_macro_f1(model_dir: Path, test: Sequence[LabelledUnit]) -> float | None:
    """The current model's score on today's test set (re-scored if the test set changed)."""
    try:
        current = load_model(model_dir)
    except ModelError:
        return None
    if current.card.get("test_data_hash") == data_hash(test):
        return current.card["metrics"]["test"]["macro_f1"]
    return evaluate_model(current.pipeline, test)["macro_f1"]


def train_sector_model(
    units: Sequence[LabelledUnit],
    model_dir: Path,
    *,
    unlabelled: Sequence[str] = (),
    designs: Sequence[str] = DESIGNS,
    progress: Progress = lambda message: None,
    seed: int = 0,
) -> TrainingResult:
    """Compare designs, fit the best, score it on the test split, promote it if not worse."""
    started = time.perf_counter()
    train, test = _split(units)
    if len({u.sector for u in train}) < len(SECTORS) or not test:
        raise ModelError("training needs hand labels of all five sectors and a test split; see docs/labeling.md")
    cv_scores: dict[str, dict[str, Any]] = {}
    for design in designs:
        cv_scores[design] = cross_validate(design, train, unlabelled, seed=seed)
        progress(f"design {design}: cross-validated macro-F1 {cv_scores[design]['macro_f1']:.3f}, "
                 f"ECE {cv_scores[design]['ece']:.3f}")
    best = choose_design(cv_scores, list(designs))
    pipeline = fit_design(best, [u.text for u in train], [u.sector for u in train], unlabelled, seed)
    metrics = evaluate_model(pipeline, test)
    previous = _current_macro_f1(model_dir, test)
    promoted = previous is None or metrics["macro_f1"] >= previous
    reason = ("no current model" if previous is None else
              f"test macro-F1 {metrics['macro_f1']:.4f} {'>=' if promoted else '<'} current {previous:.4f}")
    version = f"sector-{datetime.now(UTC):%Y%m%d%H%M%S}-{data_hash(train)[:8]}"
    progress(f"{best}: test macro-F1 {metrics['macro_f1']:.3f}; {'promoted' if promoted else 'kept the current model'} ({reason})")
    if promoted:
        save_model(pipeline, _card(version, best, train, test, cv_scores, metrics), model_dir)
    result = TrainingResult(version, best, cv_scores, metrics, previous, promoted, reason,
                            len(train), len(test), time.perf_counter() - started)
    _append_history(model_dir, result)
    _FEATURE_CACHE.clear()  # spaCy features of every training text: not needed once the model is fitted
    return result


def _card(version: str, design: str, train: Sequence[LabelledUnit], test: Sequence[LabelledUnit],
          cv_scores: dict[str, float], metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": version, "design": design, "labels": list(SECTORS),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_data_hash": data_hash(train), "test_data_hash": data_hash(test),
        "train_size": len(train), "test_size": len(test),
        "train_sources": {s: sum(u.source == s for u in train) for s in ("hand", "reviewer")},
        "libraries": library_versions(),
        "metrics": {"cross_validation": cv_scores, "test": metrics},
        "self_training": {"threshold": SELF_TRAINING_THRESHOLD} if design.endswith("_selftrain") else None,
        "input": "title + newline + text of a document, or one paragraph (see pipeline/sectors.py)",
    }


def _append_history(model_dir: Path, result: TrainingResult) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    with open(model_dir / "history.jsonl", "a", encoding="utf-8") as history:
        history.write(json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), **result.summary()}) + "\n")


def reviewer_units(rows: Sequence[dict[str, Any]], test_texts: set[str]) -> list[LabelledUnit]:
    """Reviewer corrections as training units; never a text of the test split."""
    units = []
    for row in rows:
        if text_key(row["text"]) not in test_texts:
            units.append(LabelledUnit(f"reviewed:{row['document_id']}#{row['unit']}{row['unit_index']}",
                                      row["text"], row["sector"], "train", source="reviewer"))
    return units


def predicted_probabilities(pipeline: Any, texts: Sequence[str]) -> np.ndarray:
    probabilities = pipeline.predict_proba(list(texts))
    order = [list(pipeline.classes_).index(s) for s in SECTORS]
    return probabilities[:, order]


def training_units(config: Config, store: Store) -> list[LabelledUnit]:
    """Hand labels plus the reviewer corrections stored in ``sector_labels``."""
    hand = load_hand_labels(config.resolve(config.sectors.labels_dir), config.resolve(config.paths.corpus_dir))
    test_texts = {text_key(u.text) for u in hand if u.split == "test"}
    return with_reviewer_labels(hand, reviewer_units(reviewed_sector_units(store), test_texts))


def with_reviewer_labels(hand: Sequence[LabelledUnit], reviewed: Sequence[LabelledUnit]) -> list[LabelledUnit]:
    """Hand labels plus reviewer labels, one unit per text: a reviewer's label of a hand-labelled
    training text replaces the hand label (the test split is never touched: ``reviewed`` holds none of it)."""
    reviewed_texts = {text_key(u.text) for u in reviewed}
    kept = [u for u in hand if u.split == "test" or text_key(u.text) not in reviewed_texts]
    return kept + list(reviewed)


def run_training(config: Config, store: Store, progress: Progress = lambda message: None) -> TrainingResult:
    """Train, maybe promote, and record the training run in the store."""
    units = training_units(config, store)
    pool = unlabelled_texts(config.resolve(config.paths.corpus_dir), units)
    progress(f"training on {sum(u.split == 'train' for u in units)} units "
             f"({sum(u.source == 'reviewer' for u in units)} reviewer corrections), {len(pool)} unlabelled items")
    designs = config.sectors.designs or DESIGNS
    result = train_sector_model(units, config.sector_model_dir, unlabelled=pool, designs=designs, progress=progress)
    record_training_run(store, result.summary())
    return result
