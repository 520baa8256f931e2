"""What the bulletin board keeps beside the record: voters, hashes of role secrets, and the
hashes of ballots audited in the booth.

A voter is a login bound to one public credential of the election (from the credential
authority's ``T.pubcreds`` ids), with the address that receives one-time codes and the hash
of her login secret (never the secret). Role secrets (administrator, credential authority,
trustee N) are kept as hashes too. Hashing and comparing is :mod:`viche.service.secrets`'s
job; this module only stores and finds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from viche.errors import Location, ProtocolError, UnknownElectionError
from viche.record.sql import schema
from viche.record.sql.board import SqlBoard, db_error, state_of
from viche.record.store import ChainHead


@dataclass(frozen=True)
class VoterAccount:
    login: str
    address: str
    credential: str
    secret_hash: str | None = field(default=None, repr=False)


def add_voters(board: SqlBoard, uuid: str, voters: Sequence[VoterAccount]) -> None:
    """Store the voters of an election (all or none; a login or credential twice is refused)."""
    rows = [
        {
            "election": uuid,
            "login": v.login,
            "address": v.address,
            "credential": v.credential,
            "secret_hash": v.secret_hash,
        }
        for v in voters
    ]
    where = Location(member=f"database / {uuid}", path=("voters",))
    try:
        with board.engine.begin() as conn:
            if rows:
                conn.execute(insert(schema.voters), rows)
                if board.dialect == "postgresql":
                    # statistics of the roll written: without them PostgreSQL plans every
                    # cast's login look-up (``election = … AND login = …``) as a scan of the
                    # election's whole roll by ``voters_by_credential`` with a filter on the
                    # login (equal cost estimates; 1,000 rows filtered per login at 1,000
                    # voters) until autovacuum's ANALYZE, minutes later; with them, one
                    # probe of the primary key (bench/serve_ingest/README.md, pgc7)
                    conn.execute(text("ANALYZE voters"))
    except IntegrityError:
        raise ProtocolError(
            "a login or a credential appears twice among the voters", where=where
        ) from None
    except SQLAlchemyError as exc:
        raise db_error(exc, where) from None


_v = schema.voters.c
_e, _s = schema.elections.c, schema.schedules.c
#: the login look-up (one-time codes: whether to send one), built once (values bound at each
#: execution)
_VOTER = select(_v.login, _v.address, _v.credential, _v.secret_hash).where(
    _v.election == bindparam("uuid"), _v.login == bindparam("login")
)
#: what every cast reads before its check, in one statement: the election's chain head and
#: scheduled closing time, and the voter's entry on the roll if there is one (NULLs if not)
_VOTER_AND_STATE = (
    select(
        _e.head_height,
        _e.head_hash,
        _e.head_type,
        _s.close_at,
        _v.login,
        _v.address,
        _v.credential,
        _v.secret_hash,
    )
    .select_from(
        schema.elections.outerjoin(schema.schedules, _s.election == _e.uuid).outerjoin(
            schema.voters, (_v.election == _e.uuid) & (_v.login == bindparam("login"))
        )
    )
    .where(_e.uuid == bindparam("uuid"))
)


def _login_key(login: str) -> str | None:
    """The login as looked up: none longer than the column (255), which no entry has."""
    return login if len(login) <= 255 else None


def voter(board: SqlBoard, uuid: str, login: str) -> VoterAccount | None:
    key = _login_key(login)
    if key is None:
        return None
    row = board.first_row(
        _VOTER, {"uuid": uuid, "login": key}, Location(member=f"database / {uuid}")
    )
    if row is None:
        return None
    return VoterAccount(str(row[0]), str(row[1]), str(row[2]), row[3])


def voter_and_state(
    board: SqlBoard, uuid: str, login: str
) -> tuple[VoterAccount | None, ChainHead, int | None]:
    """What a cast reads before the ballot's check, in one look-up (one round trip; the
    login and the voting state were two: bench/serve_ingest/README.md, pgc7): ``login``'s
    entry on the election's roll (``None``: not on it), the chain head and the scheduled
    closing time (Unix seconds, or ``None``). :class:`UnknownElectionError` if the election
    is not on the board."""
    where = Location(member=f"database / {uuid}")
    row = board.first_row(_VOTER_AND_STATE, {"uuid": uuid, "login": _login_key(login)}, where)
    if row is None:
        raise UnknownElectionError("no such election", where=where)
    head, close_at = state_of(row[:4])
    account = (
        None if row[4] is None else VoterAccount(str(row[4]), str(row[5]), str(row[6]), row[7])
    )
    return account, head, close_at


def set_secret(board: SqlBoard, uuid: str, role: str, secret_hash: str) -> None:
    """Store (or replace) the hash of a role's secret."""
    s = schema.secrets.c
    try:
        with board.engine.begin() as conn:
            conn.execute(delete(schema.secrets).where(s.election == uuid, s.role == role))
            conn.execute(insert(schema.secrets).values(election=uuid, role=role, hash=secret_hash))
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None


def secret_hash(board: SqlBoard, uuid: str, role: str) -> str | None:
    s = schema.secrets.c
    try:
        with board.engine.connect() as conn:
            value = conn.execute(select(s.hash).where(s.election == uuid, s.role == role)).scalar()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None
    return None if value is None else str(value)


def draft(board: SqlBoard, uuid: str) -> bytes | None:
    """The stored state of an election being set up, if any."""
    d = schema.drafts.c
    try:
        with board.engine.connect() as conn:
            value = conn.execute(select(d.state).where(d.uuid == uuid)).scalar()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None
    return None if value is None else bytes(value)


def put_draft(board: SqlBoard, uuid: str, state: bytes, *, new: bool = False) -> None:
    """Store a draft's state (``new``: it must not exist yet)."""
    d = schema.drafts.c
    where = Location(member=f"database / {uuid}")
    try:
        with board.engine.begin() as conn:
            if new:
                conn.execute(insert(schema.drafts).values(uuid=uuid, state=state))
            else:
                conn.execute(update(schema.drafts).where(d.uuid == uuid).values(state=state))
    except IntegrityError:
        raise ProtocolError("an election with this uuid is being set up", where=where) from None
    except SQLAlchemyError as exc:
        raise db_error(exc, where) from None


def replace_draft(board: SqlBoard, uuid: str, old: bytes, new: bytes) -> bool:
    """Store ``new`` if the draft's state is still ``old`` (compare and swap: two roles
    writing at once never lose each other's change); returns whether it was stored."""
    d = schema.drafts.c
    try:
        with board.engine.begin() as conn:
            done = conn.execute(
                update(schema.drafts).where(d.uuid == uuid, d.state == old).values(state=new)
            )
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None
    return bool(done.rowcount == 1)


def delete_draft(board: SqlBoard, uuid: str) -> None:
    try:
        with board.engine.begin() as conn:
            conn.execute(delete(schema.drafts).where(schema.drafts.c.uuid == uuid))
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None


# ---------------------------------------------------------------------- one-time codes


def code_issued_at(board: SqlBoard, uuid: str, login: str) -> int | None:
    """When the voter's current code was sent (None: no code)."""
    c = schema.voter_codes.c
    try:
        with board.engine.connect() as conn:
            value = conn.execute(
                select(c.issued_at).where(c.election == uuid, c.login == login)
            ).scalar()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None
    return None if value is None else int(value)


def put_code(
    board: SqlBoard, uuid: str, login: str, code_hash: str, *, issued_at: int, expires_at: int
) -> None:
    """Store the hash of a voter's new code (it replaces her previous one)."""
    c = schema.voter_codes.c
    try:
        with board.engine.begin() as conn:
            conn.execute(delete(schema.voter_codes).where(c.election == uuid, c.login == login))
            conn.execute(
                insert(schema.voter_codes).values(
                    election=uuid,
                    login=login,
                    code_hash=code_hash,
                    issued_at=issued_at,
                    expires_at=expires_at,
                    attempts=0,
                )
            )
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None


def reserve_attempt(
    board: SqlBoard, uuid: str, login: str, now: int, max_attempts: int
) -> str | None:
    """Count one check of the voter's code, if it is unexpired and has checks left; returns
    its hash then (None: no code to check)."""
    c = schema.voter_codes.c
    mine = (c.election == uuid, c.login == login)
    try:
        with board.engine.begin() as conn:
            done = conn.execute(
                update(schema.voter_codes)
                .where(*mine, c.expires_at > now, c.attempts < max_attempts)
                .values(attempts=c.attempts + 1)
            )
            if done.rowcount != 1:
                return None
            value = conn.execute(select(c.code_hash).where(*mine)).scalar()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None
    return None if value is None else str(value)


def consume_code(board: SqlBoard, uuid: str, login: str, code_hash: str) -> bool:
    """Delete the code ``code_hash`` of the voter; true for the one caller that did."""
    c = schema.voter_codes.c
    try:
        with board.engine.begin() as conn:
            done = conn.execute(
                delete(schema.voter_codes).where(
                    c.election == uuid, c.login == login, c.code_hash == code_hash
                )
            )
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None
    return bool(done.rowcount == 1)


def add_audit(board: SqlBoard, uuid: str, ballot_hash: str) -> None:
    """Remember that the ballot of hex SHA-256 ``ballot_hash`` was audited (idempotent)."""
    a = schema.audits.c
    try:
        with board.engine.begin() as conn:
            known = conn.execute(
                select(a.hash).where(a.election == uuid, a.hash == ballot_hash)
            ).first()
            if known is None:
                conn.execute(insert(schema.audits).values(election=uuid, hash=ballot_hash))
    except IntegrityError:
        return  # audited at the same moment by another request: the same fact
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None


def is_audited(board: SqlBoard, uuid: str, ballot_hash: str) -> bool:
    a = schema.audits.c
    try:
        with board.engine.connect() as conn:
            found = conn.execute(
                select(a.hash).where(a.election == uuid, a.hash == ballot_hash)
            ).first()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {uuid}")) from None
    return found is not None


# ---------------------------------------------------------------------- national events


def set_event_secret(board: SqlBoard, event: str, kind: str, name: str, secret_hash: str) -> None:
    """Store (or replace) the hash of a polling station's or a relay's secret."""
    e = schema.event_secrets.c
    mine = (e.event == event, e.kind == kind, e.name == name)
    try:
        with board.engine.begin() as conn:
            conn.execute(delete(schema.event_secrets).where(*mine))
            conn.execute(
                insert(schema.event_secrets).values(
                    event=event, kind=kind, name=name, hash=secret_hash
                )
            )
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {event}")) from None


def event_secret_hash(board: SqlBoard, event: str, kind: str, name: str) -> str | None:
    e = schema.event_secrets.c
    try:
        with board.engine.connect() as conn:
            value = conn.execute(
                select(e.hash).where(e.event == event, e.kind == kind, e.name == name)
            ).scalar()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member=f"database / {event}")) from None
    return None if value is None else str(value)


def voter_in(board: SqlBoard, uuids: Sequence[str], login: str) -> tuple[str, str] | None:
    """The election among ``uuids`` whose roll has ``login``, and her public credential."""
    v = schema.voters.c
    try:
        with board.engine.connect() as conn:
            rows = conn.execute(
                select(v.election, v.credential).where(v.login == login, v.election.in_(uuids))
            ).all()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member="database / voters")) from None
    if len(rows) != 1:
        return None  # an event enrols each voter in one style only
    return str(rows[0][0]), str(rows[0][1])


def logins_in(board: SqlBoard, uuids: Sequence[str]) -> list[str]:
    """Every login on the rolls of ``uuids``."""
    v = schema.voters.c
    try:
        with board.engine.connect() as conn:
            rows = conn.execute(select(v.login).where(v.election.in_(uuids))).all()
    except SQLAlchemyError as exc:
        raise db_error(exc, Location(member="database / voters")) from None
    return [str(r[0]) for r in rows]
