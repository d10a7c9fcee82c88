"""activities.kind and activities.part_of: speeches, follow-ups, digests and letters as typed rows linked to their event.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="activity"))
        batch.add_column(sa.Column("part_of", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("part_of")
        batch.drop_column("kind")
