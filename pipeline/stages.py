"""Derived stages that run after spaCy: facts and sector labels.

Each stage turns an ``AnalyzedDocument`` into rows of one table
(``facts`` or ``sector_labels``, columns as in ``pipeline.store``). The store
replaces a document's rows of every stage in the same transaction as its
entities, and each stage's version is part of the pipeline version, so a new
extractor makes the next run reprocess every document.

The sector model is a separate piece of work; until it is added here, its
stage is registered with an extractor that returns no rows, so the table
exists, is exported, and stays empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pipeline.facts import FACTS_VERSION, fact_rows
from pipeline.records import AnalyzedDocument


@dataclass(frozen=True)
class DerivedStage:
    table: str
    version: str
    extract: Callable[[AnalyzedDocument], Iterable[dict]]


def _no_rows(_: AnalyzedDocument) -> Iterable[dict]:
    return ()


def default_stages() -> tuple[DerivedStage, ...]:
    return (
        DerivedStage(table="facts", version=FACTS_VERSION, extract=fact_rows),
        DerivedStage(table="sector_labels", version="sectors-none", extract=_no_rows),
    )
