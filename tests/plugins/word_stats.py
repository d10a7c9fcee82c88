"""An example derived stage in one file, with its own table: words and sentences per document.

It counts alphabetic tokens of the spaCy parse, so it runs per document while the Doc is alive.
A real stage would put its table on ``pipeline.store.db.metadata`` and add an Alembic migration;
this one keeps its own ``MetaData`` so that the tests can create and drop it.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.config import Config
from pipeline.derived import DERIVED_STAGES, DerivedStage, ParsedDocument, Rows, StageFactory

metadata = sa.MetaData()
word_stats = sa.Table(
    "document_word_stats",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("document_id", sa.String(32), nullable=False, index=True),
    sa.Column("words", sa.Integer, nullable=False),
    sa.Column("sentences", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def _per_document(parsed: ParsedDocument) -> Rows:
    words = sum(1 for _, doc in parsed.docs() for token in doc if token.is_alpha)
    return {word_stats.name: [{"words": words, "sentences": len(parsed.analyzed.sentences)}]}


def _build(config: Config) -> DerivedStage:
    return DerivedStage(name="word_stats", tables=(word_stats,), version="word-stats-1", per_document=_per_document)


FACTORY = StageFactory(name="word_stats", build=_build)
DERIVED_STAGES.register(FACTORY, replace=True)
