"""Tables of the SQL bulletin board (SQLAlchemy Core).

The public record lives in ``elections`` (one row per election: the archive timestamp and
the chain head) and ``events`` (one row per event: its exact bytes and hash, and the exact
bytes of the data lines written before it, joined by ``\\n`` — a line never holds one).
``ballots`` indexes the Ballot events (ballot hash, unique per election, and the credential
that signed it) so that the replay and re-vote checks cost one indexed look-up. The re-vote
index holds the SHA-256 of the credential (32 bytes, :func:`credential_sha256`), not the
credential's ~617 digits: a look-up compares the digest, then the credential itself (a digest
match alone proves nothing). Both indexes lead with the digest, not the election, so that a
look-up by digest alone has one index to take whatever the planner's statistics say (a new
election has none: ``bench/serve_ingest/README.md``, pgix7).

Beside the record, never in it: ``voters`` (a voter's login bound to her public credential,
and the hash of her login secret) and ``secrets`` (hashes of the administrator's, the
credential authority's and the trustees' secrets). No secret is stored in clear.

The Alembic migrations in :mod:`viche.record.sql.migrations` create exactly these tables;
a test checks that they agree.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

elections = Table(
    "elections",
    metadata,
    Column("uuid", String(64), primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("head_height", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("head_type", String(32), nullable=False),
    Column("receipt_key", String(64), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("election", String(64), ForeignKey("elections.uuid"), primary_key=True),
    Column("height", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("lines", LargeBinary, nullable=False),
)

ballots = Table(
    "ballots",
    metadata,
    Column("election", String(64), ForeignKey("elections.uuid"), primary_key=True),
    Column("height", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("credential", String(1024), nullable=False),
    Column("credential_sha256", LargeBinary(32), nullable=False),
    Index("ballots_by_hash", "hash", "election", unique=True),
    Index("ballots_by_credential_sha256", "credential_sha256", "election", "height"),
)


def credential_sha256(credential: str) -> bytes:
    """The key of the re-vote index: the SHA-256 of the public credential's text (UTF-8)."""
    return hashlib.sha256(credential.encode()).digest()


voters = Table(
    "voters",
    metadata,
    Column("election", String(64), ForeignKey("elections.uuid"), primary_key=True),
    Column("login", String(255), primary_key=True),
    Column("address", String(255), nullable=False),
    Column("credential", String(1024), nullable=False),
    Column("secret_hash", String(255), nullable=True),
    Index("voters_by_credential", "election", "credential", unique=True),
)

secrets = Table(
    "secrets",
    metadata,
    Column("election", String(64), primary_key=True),
    Column("role", String(64), primary_key=True),
    Column("hash", String(255), nullable=False),
)

#: Ballots audited in the booth (their randomness revealed): the hash (hex SHA-256) of each,
#: so that the voting server refuses to cast one. Beside the record, never in it.
audits = Table(
    "audits",
    metadata,
    Column("election", String(64), primary_key=True),
    Column("hash", String(64), primary_key=True),
)

#: Elections being set up (before their Setup event): one JSON document each, owned by
#: :mod:`viche.service.admin` (template, roll, trustee keys, public credentials). No secret.
drafts = Table(
    "drafts",
    metadata,
    Column("uuid", String(64), primary_key=True),
    Column("state", LargeBinary, nullable=False),
)

#: When an election opens and closes by itself (Unix seconds, UTC; either may be unset),
#: when a server process last claimed the opening (so that one process opens it), and the
#: last failure of a scheduled opening or closing, if it has not succeeded since: which
#: (``open``/``close``), the error's code and message, when, and how many attempts in a row
#: failed (a new schedule or a success clears it).
schedules = Table(
    "schedules",
    metadata,
    Column("election", String(64), primary_key=True),
    Column("open_at", BigInteger, nullable=True),
    Column("close_at", BigInteger, nullable=True),
    Column("claimed_at", BigInteger, nullable=True),
    Column("failed_action", String(8), nullable=True),
    Column("failed_code", String(8), nullable=True),
    Column("failed_message", String(1000), nullable=True),
    Column("failed_at", BigInteger, nullable=True),
    Column("failures", Integer, nullable=True),
)

#: The one-time code last sent to a voter (its hash only), when it was sent and expires, and
#: how many checks it has had.
voter_codes = Table(
    "voter_codes",
    metadata,
    Column("election", String(64), primary_key=True),
    Column("login", String(255), primary_key=True),
    Column("code_hash", String(255), nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
)

#: The hashes (argon2id) of the secrets of a national event's polling stations and units'
#: relays (``kind`` ``station`` or ``relay``, ``name`` the station id or unit code), issued
#: by the commission (``viche event secret``). Beside the record, never in it.
event_secrets = Table(
    "event_secrets",
    metadata,
    Column("event", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("hash", String(255), nullable=False),
)
