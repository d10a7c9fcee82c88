"""Address policy per source, the process of each run, and document ids namespaced by source.

Document ids were a hash of the document's URL alone, so any source (an archive item can claim any
URL) could replace another source's document. They become a hash of the source's URL and the
document's (``pipeline.ingest.document_id_for``); every stored document and the rows that name it
move to the new id. Runs record their host and process id, so that a run killed with kill -9 is
marked abandoned by the next one. Sources carry their address policy (any | public).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_meta = sa.MetaData()
_sources = sa.Table("sources", _meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column("url", sa.Text))
_documents = sa.Table("documents", _meta, sa.Column("document_id", sa.String(32), primary_key=True),
                      sa.Column("source_id", sa.Integer), sa.Column("url", sa.Text))
_activities = sa.Table("activities", _meta, sa.Column("activity_id", sa.String(32), primary_key=True),
                       sa.Column("document_ids", sa.Text))
REFERRING = ("entities", "facts", "sector_labels", "corrections")  # tables with a document_id column


def new_document_id(source_url: str, document_url: str) -> str:
    return hashlib.sha256(f"{source_url}\n{document_url}".encode()).hexdigest()[:24]


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("address_policy", sa.String(8), server_default="any", nullable=False))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("host", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
    _namespace_document_ids(op.get_bind())


def _namespace_document_ids(conn) -> None:
    moves = {row.document_id: new_document_id(row.source_url, row.url) for row in conn.execute(
        sa.select(_documents.c.document_id, _documents.c.url, _sources.c.url.label("source_url"))
        .join(_sources, _sources.c.id == _documents.c.source_id))}
    moves = {old: new for old, new in moves.items() if old != new}
    if not moves:
        return
    documents = sa.Table("documents", sa.MetaData(), autoload_with=conn)
    columns = [c for c in documents.columns if c.name != "document_id"]
    for old, new in moves.items():  # the new row first, then what refers to it, then the old row
        copy = sa.select(sa.literal(new).label("document_id"), *columns).where(documents.c.document_id == old)
        conn.execute(documents.insert().from_select(["document_id", *[c.name for c in columns]], copy))
        for name in REFERRING:
            conn.execute(sa.text(f"UPDATE {name} SET document_id = :new WHERE document_id = :old"),
                         {"new": new, "old": old})
        conn.execute(documents.delete().where(documents.c.document_id == old))
    for activity_id, document_ids in conn.execute(sa.select(_activities.c.activity_id, _activities.c.document_ids)).all():
        ids = json.loads(document_ids)
        if any(i in moves for i in ids):
            conn.execute(_activities.update().where(_activities.c.activity_id == activity_id)
                         .values(document_ids=json.dumps([moves.get(i, i) for i in ids])))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("pid")
        batch.drop_column("host")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("address_policy")
