"""Derived stages that run after spaCy: facts and sector labels.

Each stage turns an ``AnalyzedDocument`` into rows of one table
(``facts`` or ``sector_labels``, columns as in ``pipeline.store``). The store
replaces a document's rows of every stage in the same transaction as its
entities, and each stage's version is part of the pipeline version, so a new
extractor makes the next run reprocess every document.

Loading the stages loads the sector model, so a missing, incompatible or
tampered model file stops a run before any document is processed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.facts import FACTS_VERSION, fact_rows
from pipeline.records import AnalyzedDocument
from pipeline.sectors import cached_model, default_model_dir, sector_rows_of_batch


@dataclass(frozen=True)
class DerivedStage:
    """Rows of ``table`` for each document of a batch, in batch order."""

    table: str
    version: str
    extract: Callable[[Sequence[AnalyzedDocument]], list[list[dict]]]


def _facts_of_batch(batch: Sequence[AnalyzedDocument]) -> list[list[dict]]:
    return [fact_rows(document) for document in batch]


def default_stages(sector_model_dir: Path | None = None) -> tuple[DerivedStage, ...]:
    model = cached_model(str(sector_model_dir or default_model_dir()))
    return (
        DerivedStage(table="facts", version=FACTS_VERSION, extract=_facts_of_batch),
        DerivedStage(table="sector_labels", version=model.version,
                     extract=functools.partial(sector_rows_of_batch, model)),
    )
