"""National events: the hashes of the polling stations' and relays' secrets.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_secrets",
        sa.Column("event", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("hash", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("event_secrets")
