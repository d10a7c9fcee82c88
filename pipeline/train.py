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

from pipeline.sectors import (
    DESIGNS,
    SECTORS,
    LabelledUnit,
    data_hash,
    evaluate_predictions,
    library_versions,
    load_model,
    make_design,
    read_card,
    save_model,
)
from pipeline.errors import ModelError

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingResult:
    version: str
    design: str
    cv_macro_f1: dict[str, float]
    test_metrics: dict[str, Any]
    previous_macro_f1: float | None
    promoted: bool
    reason: str
    train_size: int
    test_size: int
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version, "design": self.design, "cv_macro_f1": self.cv_macro_f1,
            "test_macro_f1": self.test_metrics["macro_f1"], "test_ece": self.test_metrics.get("ece"),
            "previous_macro_f1": self.previous_macro_f1, "promoted": self.promoted, "reason": self.reason,
            "train_size": self.train_size, "test_size": self.test_size, "seconds": round(self.seconds, 1),
        }


def cross_validated_macro_f1(design: str, units: Sequence[LabelledUnit], folds: int = 5, seed: int = 0) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    texts = [u.text for u in units]
    labels = [u.sector for u in units]
    predicted = cross_val_predict(make_design(design, seed), texts, labels,
                                  cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    return evaluate_predictions(labels, list(predicted))["macro_f1"]


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
    designs: Sequence[str] = DESIGNS,
    progress: Progress = lambda message: None,
    seed: int = 0,
) -> TrainingResult:
    """Compare designs, fit the best, score it on the test split, promote it if not worse."""
    started = time.perf_counter()
    train, test = _split(units)
    if len({u.sector for u in train}) < len(SECTORS) or not test:
        raise ModelError("training needs hand labels of all five sectors and a test split; see docs/labeling.md")
    cv_scores: dict[str, float] = {}
    for design in designs:
        cv_scores[design] = cross_validated_macro_f1(design, train, seed=seed)
        progress(f"design {design}: cross-validated macro-F1 {cv_scores[design]:.3f}")
    best = max(designs, key=lambda d: (cv_scores[d], -designs.index(d)))
    pipeline = make_design(best, seed).fit([u.text for u in train], [u.sector for u in train])
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
        "metrics": {"cross_validated_macro_f1": cv_scores, "test": metrics},
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
        key = " ".join(row["text"].split()).lower()
        if key not in test_texts:
            units.append(LabelledUnit(f"reviewed:{row['document_id']}#{row['unit']}{row['unit_index']}",
                                      row["text"], row["sector"], "train", source="reviewer"))
    return units


def predicted_probabilities(pipeline: Any, texts: Sequence[str]) -> np.ndarray:
    probabilities = pipeline.predict_proba(list(texts))
    order = [list(pipeline.classes_).index(s) for s in SECTORS]
    return probabilities[:, order]
