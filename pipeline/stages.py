"""Derived stages that run after spaCy: facts and sector labels.

Each stage turns an ``AnalyzedDocument`` into rows of one table
(``facts`` or ``sector_labels``, columns as in ``pipeline.store``). The store
replaces a document's rows of every stage in the same transaction as its
entities, and each stage's version is part of the pipeline version, so a new
extractor makes the next run reprocess every document.

The fact extractor and the sector model are separate pieces of work; until
they are added here, their stages are registered with an extractor that
returns no rows, so the tables exist, are exported, and stay empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

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
        DerivedStage(table="facts", version="facts-none", extract=_no_rows),
        DerivedStage(table="sector_labels", version="sectors-none", extract=_no_rows),
    )
