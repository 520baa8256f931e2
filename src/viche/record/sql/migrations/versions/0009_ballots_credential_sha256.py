"""The re-vote index on the credential's SHA-256; both ballot indexes lead with their key.

``ballots_by_credential (election, credential, height)`` held each ballot's credential (~617
digits) a second time: ~1.2 kB of index and WAL per ballot, ~12 entries per B-tree page.
``ballots_by_credential_sha256 (credential_sha256, election, height)`` holds its SHA-256
(32 bytes, a column that Viche fills: :func:`viche.record.sql.schema.credential_sha256`); a
look-up compares the digest, then the credential itself. ``ballots_by_hash`` becomes
``(hash, election)`` (the same unique constraint): the group commit's look-up finds ballots
by their key alone, so that a planner without statistics cannot pick an index by the
election and filter the whole election (bench/serve_ingest/README.md, pgix7).

The digest of every existing ballot is computed here, in batches of :data:`BATCH` rows (in
the order of the primary key), on SQLite and PostgreSQL alike. Downgrade: the old indexes
back, the column dropped; the record itself (events) is never touched.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from viche.record.sql.schema import credential_sha256

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: rows read and updated at a time while the digests are computed
BATCH = 1000

_ballots = sa.table(
    "ballots",
    sa.column("election", sa.String),
    sa.column("height", sa.Integer),
    sa.column("credential", sa.String),
    sa.column("credential_sha256", sa.LargeBinary),
)


def _fill(bind: sa.engine.Connection) -> None:
    """Every ballot's ``credential_sha256``, :data:`BATCH` rows at a time (keyset order on
    the primary key: each batch reads from where the last one stopped)."""
    b = _ballots.c
    read = (
        sa.select(b.election, b.height, b.credential)
        .where(sa.tuple_(b.election, b.height) > sa.tuple_(sa.bindparam("e"), sa.bindparam("h")))
        .order_by(b.election, b.height)
        .limit(BATCH)
    )
    write = (
        sa.update(_ballots)
        .where(b.election == sa.bindparam("k_election"), b.height == sa.bindparam("k_height"))
        .values(credential_sha256=sa.bindparam("digest"))
    )
    last: tuple[str, int] = ("", -1)
    while True:
        rows = bind.execute(read, {"e": last[0], "h": last[1]}).all()
        if not rows:
            return
        bind.execute(
            write,
            [{"k_election": e, "k_height": h, "digest": credential_sha256(c)} for e, h, c in rows],
        )
        last = (str(rows[-1][0]), int(rows[-1][1]))


def upgrade() -> None:
    with op.batch_alter_table("ballots") as batch:
        batch.add_column(sa.Column("credential_sha256", sa.LargeBinary(32), nullable=True))
    _fill(op.get_bind())
    op.drop_index("ballots_by_credential", table_name="ballots")
    op.drop_index("ballots_by_hash", table_name="ballots")
    # batch: SQLite cannot alter a column in place (a copy is made there; PostgreSQL alters)
    with op.batch_alter_table("ballots") as batch:
        batch.alter_column("credential_sha256", existing_type=sa.LargeBinary(32), nullable=False)
    op.create_index("ballots_by_hash", "ballots", ["hash", "election"], unique=True)
    op.create_index(
        "ballots_by_credential_sha256", "ballots", ["credential_sha256", "election", "height"]
    )


def downgrade() -> None:
    op.drop_index("ballots_by_credential_sha256", table_name="ballots")
    op.drop_index("ballots_by_hash", table_name="ballots")
    with op.batch_alter_table("ballots") as batch:
        batch.drop_column("credential_sha256")
    op.create_index("ballots_by_hash", "ballots", ["election", "hash"], unique=True)
    op.create_index("ballots_by_credential", "ballots", ["election", "credential", "height"])
