"""The last failure of a scheduled opening or closing, kept for the administrator.

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

_COLUMNS = (
    ("failed_action", sa.String(8)),
    ("failed_code", sa.String(8)),
    ("failed_message", sa.String(1000)),
    ("failed_at", sa.BigInteger),
    ("failures", sa.Integer),
)


def upgrade() -> None:
    # batch: SQLite cannot alter a table in place (a copy is made there; PostgreSQL alters)
    with op.batch_alter_table("schedules") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
