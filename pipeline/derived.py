"""Derived stages: what runs on each document after spaCy, each writing its own table(s).

A derived stage is registered in ``DERIVED_STAGES`` as a ``StageFactory``: a name and a
function that builds the stage from the config (loading its model once). The built stage
declares the tables it fills and its version, and derives rows:

* ``per_document(parsed)``: one document at a time, with its spaCy ``Doc`` (the facts stage);
* ``per_batch(analyzed)``: the whole batch at once, after the Docs are gone (the sector
  model predicts faster in bulk).

Rows come back keyed by table name. The store replaces a document's rows of every stage
table in the same transaction as its entities (``pipeline.store.persist``), and each
stage's version is part of the pipeline version, so a new stage version reprocesses every
document. A new stage is one module that registers itself here, plus an Alembic
migration for its table(s).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pipeline.config import Config
from pipeline.records import AnalyzedDocument
from pipeline.registry import Registry

Rows = Mapping[str, Sequence[dict[str, Any]]]  # table name -> rows of one document


@dataclass(frozen=True)
class ParsedDocument:
    """One analysed document with its spaCy parse, seen only inside the NLP stage."""

    analyzed: AnalyzedDocument
    docs: tuple[tuple[int, Any], ...]  # (character offset, spaCy Doc) of each chunk of the text


@dataclass(frozen=True)
class DerivedStage:
    name: str
    tables: tuple[sa.Table, ...]
    version: str
    per_document: Callable[[ParsedDocument], Rows] | None = None
    per_batch: Callable[[Sequence[AnalyzedDocument]], list[Rows]] | None = None


@dataclass(frozen=True)
class StageFactory:
    name: str
    build: Callable[[Config], DerivedStage]


DERIVED_STAGES: Registry[StageFactory] = Registry(
    "derived stage", builtin_modules=("pipeline.facts", "pipeline.sectors"))


def build_stages(config: Config) -> tuple[DerivedStage, ...]:
    """Every registered stage, built for ``config``.

    Building loads the models (each once per process: the factories cache them), so a
    missing, incompatible or tampered model file stops a run before any document is processed.
    """
    return tuple(factory.build(config) for factory in DERIVED_STAGES)


def stage_tables(stages: Sequence[DerivedStage]) -> tuple[sa.Table, ...]:
    return tuple(table for stage in stages for table in stage.tables)


def stages_version(stages: Sequence[DerivedStage]) -> str:
    return ",".join(stage.version for stage in stages)


def document_rows(parsed: ParsedDocument, stages: Sequence[DerivedStage]) -> dict[str, Sequence[dict]]:
    """The rows of the per-document stages for one document, while its Doc is alive."""
    rows: dict[str, Sequence[dict]] = {}
    for stage in stages:
        if stage.per_document is not None:
            rows.update(stage.per_document(parsed))
    return rows


def finish_batch(analyzed: Sequence[AnalyzedDocument], per_document: Sequence[Mapping[str, Sequence[dict]]],
                 stages: Sequence[DerivedStage]) -> list[AnalyzedDocument]:
    """Run the per-batch stages and attach every stage's rows to its document, in stage-table order."""
    rows = [dict(r) for r in per_document]
    for stage in stages:
        if stage.per_batch is not None:
            for index, produced in enumerate(stage.per_batch(analyzed)):
                rows[index].update(produced)
    order = [table.name for table in stage_tables(stages)]
    return [AnalyzedDocument(**{**a.__dict__, "derived": tuple((name, tuple(r.get(name, ()))) for name in order)})
            for a, r in zip(analyzed, rows)]
