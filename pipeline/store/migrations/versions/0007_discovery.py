"""Discovery: discovered articles as sources under the feed, sitemap or listing that found them;
document languages, revisions and deletions; near-duplicate story clusters.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("source_type", sa.String(32)))
        batch.add_column(sa.Column("link_pattern", sa.Text))
        batch.add_column(sa.Column("max_pages", sa.Integer))
        batch.add_column(sa.Column("state_media", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("parent_id", sa.Integer))
        batch.add_column(sa.Column("listed_date", sa.Date))
        batch.add_column(sa.Column("page", sa.Integer))
        batch.add_column(sa.Column("next_check_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("checks", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("last_discovered_at", sa.DateTime(timezone=True)))
        batch.create_foreign_key("fk_sources_parent", "sources", ["parent_id"], ["id"])
        batch.create_index("ix_sources_parent_id", ["parent_id"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("discovered", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("non_english", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("days_covered", sa.Integer))
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("language", sa.String(8)))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True)))
    op.create_table(
        "document_revisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.document_id"), nullable=False, index=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_by_run", sa.Integer),
        sa.Column("diff_summary", sa.Text),
        sa.UniqueConstraint("document_id", "revision", name="uq_document_revisions"),
    )
    op.create_table(
        "document_signatures",
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.document_id"), primary_key=True),
        sa.Column("text_hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "story_clusters",
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.document_id"), primary_key=True),
        sa.Column("cluster_id", sa.String(32), nullable=False, index=True),
        sa.Column("representative", sa.Boolean, nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("story_clusters")
    op.drop_table("document_signatures")
    op.drop_table("document_revisions")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("language")
    with op.batch_alter_table("runs") as batch:
        for column in ("days_covered", "non_english", "discovered"):
            batch.drop_column(column)
    with op.batch_alter_table("sources") as batch:
        batch.drop_index("ix_sources_parent_id")
        batch.drop_constraint("fk_sources_parent", type_="foreignkey")
        for column in ("last_discovered_at", "deleted_at", "checks", "next_check_at", "page", "listed_date",
                       "parent_id", "state_media", "max_pages", "link_pattern", "source_type"):
            batch.drop_column(column)
