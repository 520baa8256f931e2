"""Scheduled opening and closing of elections.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("election", sa.String(64), primary_key=True),
        sa.Column("open_at", sa.BigInteger, nullable=True),
        sa.Column("close_at", sa.BigInteger, nullable=True),
        sa.Column("claimed_at", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("schedules")
