"""series_points: market numbers from the facts, one row per source's observation (pipeline.series).

Revision ID: 0012
Revises: 0011

After 0011 (signals). Rebuilt from the facts by every nightly run (and by `nkpipe series --rebuild`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "series_points",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("survey_start", sa.Date(), nullable=False),
        sa.Column("survey_end", sa.Date(), nullable=False),
        sa.Column("dated_by", sa.String(length=16), nullable=False),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=True),
        sa.Column("high", sa.Float(), nullable=True),
        sa.Column("qualifier", sa.String(length=16), nullable=True),
        sa.Column("outlet", sa.Text(), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("fact_id", sa.Integer(), nullable=True),
        sa.Column("sentence", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_series_points_measure_place_month", "series_points", ["measure", "place", "month"])


def downgrade() -> None:
    op.drop_index("ix_series_points_measure_place_month", table_name="series_points")
    op.drop_table("series_points")
