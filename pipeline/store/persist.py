"""Write rows and re-apply the reviewers' corrections in one transaction.

The only place that does both: the batch writer of a run (``write_documents``) and the
register rebuild (``rebuilding_register``) come through here, so no write path can
forget a reviewer's decision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.records import Activity, AnalyzedDocument, Report
from pipeline.store import correction_rows, document_rows, register_rows
from pipeline.store.db import Store


def write_documents(store: Store, run_id: int | None, analyzed: Sequence[AnalyzedDocument],
                    pipeline_version: str, nlp_version: str,
                    derived_tables: Sequence[sa.Table] | None = None) -> None:
    """Store documents, replace their entities and derived rows, and re-apply their corrections.

    ``derived_tables``: the tables of the derived stages whose rows the documents carry and
    replace (``pipeline.derived.stage_tables``); by default the schema's tables they name.
    """
    if not analyzed:
        return
    tables = document_rows.tables_named_in(analyzed) if derived_tables is None else derived_tables
    with store.writing() as conn:
        ids, revised = document_rows.write_documents(conn, run_id, analyzed, pipeline_version, nlp_version, tables)
        for change in revised:  # an edited article: its reviewers' corrections move to the new text
            correction_rows.follow_revision(conn, change.old_hash, change.old_text, change.new_hash, change.new_text)
        correction_rows.apply_document_corrections(conn, ids)  # reviewers' decisions outlive the re-run


@dataclass
class RegisterRebuild:
    """The reads and the write of one register rebuild, on the connection that holds its lock."""

    conn: Connection

    def reports(self, formats: Sequence[str]) -> list[Report]:
        """The stored documents of these formats (state media), with entities and document sector."""
        return register_rows.read_reports(self.conn, formats)

    def write(self, register: Sequence[Activity], version: str | None = None) -> None:
        """Replace the whole register.

        Activity corrections are applied again before the tallies are counted, so an
        activity a reviewer rejected stays out of them after every rebuild.
        """
        register_rows.replace_register(self.conn, register, version)
        correction_rows.apply_register_corrections(self.conn)
        register_rows.refresh_tallies(self.conn)


@contextlib.contextmanager
def rebuilding_register(store: Store) -> Iterator[RegisterRebuild]:
    """Read the documents and replace the register under one lock, for one rebuild.

    Two runs rebuilding at once take turns, and each reads the documents only once the
    other's register is written, so neither writes a register built from a stale read
    over the other's. SQLite: the write lock (``BEGIN IMMEDIATE``); PostgreSQL: an
    advisory lock held by the transaction (READ COMMITTED, so reads after it see the
    other's commit).
    """
    with store.writing() as conn:
        register_rows.lock_register(conn)
        yield RegisterRebuild(conn)


def write_register(store: Store, register: Sequence[Activity], version: str | None = None) -> None:
    """Replace the whole register in one transaction (it is rebuilt from the documents)."""
    with rebuilding_register(store) as rebuild:
        rebuild.write(register, version)
