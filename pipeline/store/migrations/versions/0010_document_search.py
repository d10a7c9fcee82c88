"""document search: full-text search over documents' titles and texts (SQLite FTS5, PostgreSQL GIN).

Revision ID: 0010
Revises: 0009

SQLite: an FTS5 table ``documents_fts`` (title, text) with its own copy of both, its rows keyed by
``document_search_keys.search_id``, an integer that stays the document's while it is stored (the
documents table has a text key; its hidden rowid may change when SQLite copies the table). Triggers
on documents add, replace and delete a document's row as its title or text changes, so every writer
keeps the index in step, the store's write path and a hand-made DELETE alike.

PostgreSQL: a GIN index over the expression ``pipeline.store.document_search`` searches with (title
weighted above text; the first 250,000 characters of a text, which keeps a vector under PostgreSQL's
1 MB limit for any text). The database keeps an index in step itself.

Existing documents are indexed here. The SQL is written out (not imported) so that this revision
stays what it was when a later one changes the search.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.errors import StoreError

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SQLITE_UP = (
    "CREATE TABLE document_search_keys (search_id INTEGER PRIMARY KEY, document_id VARCHAR(32) NOT NULL UNIQUE)",
    # porter: 'inspections' finds 'inspected'; remove_diacritics: 'Pyŏngyang' finds 'Pyongyang'
    "CREATE VIRTUAL TABLE documents_fts USING fts5(title, text, tokenize = 'porter unicode61 remove_diacritics 2')",
    """CREATE TRIGGER documents_search_insert AFTER INSERT ON documents BEGIN
         INSERT INTO document_search_keys (document_id) VALUES (new.document_id);
         INSERT INTO documents_fts (rowid, title, text) VALUES (last_insert_rowid(), new.title, new.text);
       END""",
    # An upsert that rewrites a document with the same title and text changes nothing here.
    """CREATE TRIGGER documents_search_update AFTER UPDATE OF document_id, title, text ON documents
       WHEN old.document_id IS NOT new.document_id OR old.title IS NOT new.title OR old.text IS NOT new.text BEGIN
         DELETE FROM documents_fts WHERE rowid =
           (SELECT search_id FROM document_search_keys WHERE document_id = old.document_id);
         DELETE FROM document_search_keys WHERE document_id = old.document_id;
         INSERT INTO document_search_keys (document_id) VALUES (new.document_id);
         INSERT INTO documents_fts (rowid, title, text) VALUES (last_insert_rowid(), new.title, new.text);
       END""",
    """CREATE TRIGGER documents_search_delete AFTER DELETE ON documents BEGIN
         DELETE FROM documents_fts WHERE rowid =
           (SELECT search_id FROM document_search_keys WHERE document_id = old.document_id);
         DELETE FROM document_search_keys WHERE document_id = old.document_id;
       END""",
    "INSERT INTO document_search_keys (document_id) SELECT document_id FROM documents ORDER BY document_id",
    """INSERT INTO documents_fts (rowid, title, text)
       SELECT k.search_id, d.title, d.text FROM documents d JOIN document_search_keys k USING (document_id)""",
)
_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS documents_search_insert", "DROP TRIGGER IF EXISTS documents_search_update",
    "DROP TRIGGER IF EXISTS documents_search_delete", "DROP TABLE IF EXISTS documents_fts",
    "DROP TABLE IF EXISTS document_search_keys",
)
_PG_UP = (
    """CREATE INDEX ix_documents_search ON documents USING gin ((
         setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
         || setweight(to_tsvector('english'::regconfig, left(text, 250000)), 'B')))""",
)
_PG_DOWN = ("DROP INDEX IF EXISTS ix_documents_search",)


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        for statement in _PG_UP:
            op.execute(statement)
        return
    try:
        op.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x)")
        op.execute("DROP TABLE temp.fts5_probe")
    except sa.exc.OperationalError as exc:
        raise StoreError(f"this Python's SQLite has no FTS5 ({exc.orig}), which document search needs; run nkpipe "
                         f"with a Python whose sqlite3 module has it (python.org and Debian builds do), or use "
                         f"PostgreSQL") from exc
    for statement in _SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in _SQLITE_DOWN if op.get_context().dialect.name == "sqlite" else _PG_DOWN:
        op.execute(statement)
