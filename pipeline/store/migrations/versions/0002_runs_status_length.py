"""runs.status holds 32 characters ("completed_with_failures" did not fit PostgreSQL's 16).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("status", existing_type=sa.String(16), type_=sa.String(32), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("status", existing_type=sa.String(32), type_=sa.String(16), existing_nullable=False)
