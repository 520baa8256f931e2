"""The bulletin board: elections, events, the ballot index, voters and secret hashes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "elections",
        sa.Column("uuid", sa.String(64), primary_key=True),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("head_height", sa.Integer, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("head_type", sa.String(32), nullable=False),
        sa.Column("receipt_key", sa.String(64), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("election", sa.String(64), sa.ForeignKey("elections.uuid"), primary_key=True),
        sa.Column("height", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("lines", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "ballots",
        sa.Column("election", sa.String(64), sa.ForeignKey("elections.uuid"), primary_key=True),
        sa.Column("height", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("credential", sa.String(1024), nullable=False),
    )
    op.create_index("ballots_by_hash", "ballots", ["election", "hash"], unique=True)
    op.create_index("ballots_by_credential", "ballots", ["election", "credential", "height"])
    op.create_table(
        "voters",
        sa.Column("election", sa.String(64), sa.ForeignKey("elections.uuid"), primary_key=True),
        sa.Column("login", sa.String(255), primary_key=True),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("credential", sa.String(1024), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=True),
    )
    op.create_index("voters_by_credential", "voters", ["election", "credential"], unique=True)
    op.create_table(
        "secrets",
        sa.Column("election", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(64), primary_key=True),
        sa.Column("hash", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    for name in ("secrets", "voters", "ballots", "events", "elections"):
        op.drop_table(name)
