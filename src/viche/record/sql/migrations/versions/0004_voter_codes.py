"""One-time codes sent to voters (hashes only).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voter_codes",
        sa.Column("election", sa.String(64), primary_key=True),
        sa.Column("login", sa.String(255), primary_key=True),
        sa.Column("code_hash", sa.String(255), nullable=False),
        sa.Column("issued_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("voter_codes")
