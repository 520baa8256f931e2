"""PostgreSQL: the events' data lines compressed with lz4 rather than pglz.

A ballot's data line is ~17 kB of decimal digits: the default compression (pglz, tried on
every value over 2 kB) cost the backend ~0.5 ms of CPU per ballot to store it in 12.9 kB;
lz4 stores it in 13.7 kB for ~0.05 ms (bench/serve_ingest/README.md, pgwave7). lz4 needs
PostgreSQL 14 built with it; elsewhere the line is stored out of line uncompressed
(``STORAGE EXTERNAL``: no CPU, the whole 17 kB). Rows written before keep their form.
SQLite has no such setting: nothing to do there.

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
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():  # a savepoint: a server without lz4 refuses it
            bind.execute(sa.text("ALTER TABLE events ALTER COLUMN lines SET COMPRESSION lz4"))
    except sa.exc.DBAPIError:
        bind.execute(sa.text("ALTER TABLE events ALTER COLUMN lines SET STORAGE EXTERNAL"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.execute(sa.text("ALTER TABLE events ALTER COLUMN lines SET STORAGE EXTENDED"))
    if (bind.dialect.server_version_info or (0,)) >= (14,):
        bind.execute(sa.text("ALTER TABLE events ALTER COLUMN lines SET COMPRESSION DEFAULT"))
