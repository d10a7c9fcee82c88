"""corrections.review_role and corrections.round_id: the decisions of a double review.

Revision ID: 0013
Revises: 0012

A decision on an item chosen for double review is one round: the first reviewer's decision
(review_role "first"), held back unapplied until a second reviewer decides blind ("second"); when the
two disagree, an admin's decision ("adjudication") settles it. Every decision of a round carries the
id of its first decision in round_id. Ordinary corrections leave both empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("corrections") as batch:
        batch.add_column(sa.Column("review_role", sa.String(16), nullable=True))
        batch.add_column(sa.Column("round_id", sa.Integer(), nullable=True))
    op.create_index("ix_corrections_round_id", "corrections", ["round_id"])


def downgrade() -> None:
    op.drop_index("ix_corrections_round_id", table_name="corrections")
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("round_id")
        batch.drop_column("review_role")
