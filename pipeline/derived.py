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

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipeline.config import Config
from pipeline.records import AnalyzedDocument
from pipeline.registry import Registry

Rows = Mapping[str, Sequence[dict[str, Any]]]  # table name -> rows of one document


@dataclass(frozen=True)
class ParsedDocument:
    """One analysed document with its spaCy parse, seen only inside the NLP stage.

    A long document is parsed in chunks; each chunk is kept as its ``Doc`` or, for a document of
    several chunks, serialised (without the tensors), so that memory does not grow with the
    document's size. ``docs()`` and ``span()`` give the parse back chunk by chunk.
    """

    analyzed: AnalyzedDocument
    chunks: tuple[tuple[int, int, Any], ...]  # (character offset, length, spaCy Doc or its bytes)
    vocab: Any = None  # the spaCy Vocab the bytes are read with
    _last: dict = field(default_factory=dict, compare=False, repr=False)  # the last chunk read back

    def docs(self) -> Iterator[tuple[int, Any]]:
        """(offset, Doc) of every chunk, in text order."""
        for index in range(len(self.chunks)):
            yield self._chunk(index)

    def span(self, start: int, end: int):
        """The spaCy ``Span`` over ``text[start:end]`` (widened to whole tokens); None when no chunk holds it all."""
        for index, (offset, length, _) in enumerate(self.chunks):
            if offset <= start and end <= offset + length:
                return self._chunk(index)[1].char_span(start - offset, end - offset, alignment_mode="expand")
        return None

    def _chunk(self, index: int) -> tuple[int, Any]:
        offset, _, parsed = self.chunks[index]
        if not isinstance(parsed, bytes):
            return offset, parsed
        if self._last.get("index") != index:
            from spacy.tokens import Doc  # loaded already: the NLP stage made these bytes

            self._last.update(index=index, doc=Doc(self.vocab).from_bytes(parsed))
        return offset, self._last["doc"]


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


# Ordered by name, not by which module happened to be imported first: the order is part of the
# pipeline version, and `nkpipe ingest` and the flow import them in different orders.
DERIVED_STAGES: Registry[StageFactory] = Registry(
    "derived stage", builtin_modules=("pipeline.facts", "pipeline.sectors"), order=lambda factory: factory.name)


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
