"""Elections hosted on the SQL bulletin board: opening one, its receipt key, its voters.

* :func:`open_election` checks a setup (trustee keys and proofs, the election key, the
  public credentials), writes the Setup event, binds each voter's login to her public
  credential (the ids of the credential authority's ``T.pubcreds``) and creates the
  election's receipt-signing key (kept in ``keys_dir``, never in the database).
* :class:`Host` is what the web layer holds: the board, the receipt keys, each election's
  parsed setup (cached), and the voter authenticator.
* :class:`VoterAuthenticator` is the pluggable voter check; :class:`LoginSecrets` checks a
  login and a secret handed out with the credential, :class:`~viche.service.onetime.
  OneTimeCodes` a one-time code mailed to the voter (it is also a :class:`CodeSender`); an
  external identity provider would be another implementation (the ``proof`` it gets would
  be the provider's token, checked against the provider).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from viche.errors import (
    AuthenticationError,
    CredentialBindingError,
    Location,
    ProtocolError,
    StorageError,
    UnknownElectionError,
    VicheError,
)
from viche.protocol import codec
from viche.protocol.ballot import CheckedFacts
from viche.protocol.election import Election, PublicCredentials
from viche.protocol.trustees import Trustees
from viche.record.sql import SqlBoard, SqlElectionStore
from viche.record.sql.accounts import VoterAccount, add_voters
from viche.service.archive import VOTING, ElectionRecord, check_setup
from viche.service.receipts import ReceiptKey
from viche.service.secrets import check_login_secret
from viche.verify.ballots import warm_tables


@dataclass(frozen=True)
class RollEntry:
    """A voter to bind: her login (the id in ``T.pubcreds``), address and login secret hash."""

    login: str
    address: str
    secret_hash: str | None = field(default=None, repr=False)


def key_path(keys_dir: Path, uuid: str) -> Path:
    return keys_dir / f"{uuid}.ed25519"


def open_election(
    board: SqlBoard,
    keys_dir: Path,
    *,
    election: Election,
    trustees: Trustees,
    credentials: PublicCredentials,
    ids: list[str],
    roll: dict[str, RollEntry],
    timestamp: int | None = None,
) -> SqlElectionStore:
    """Check the setup, create the receipt key and write the Setup event with the voters.

    ``ids[i]`` is the voter id of ``credentials.entries[i]``; every id must be in ``roll``
    and every roll entry must have a credential."""
    check_setup(election, trustees, credentials)
    where = Location(member=f"database / {election.uuid}", path=("voters",))
    if len(ids) != len(credentials):
        raise ProtocolError(f"{len(ids)} voter ids for {len(credentials)} credentials", where=where)
    missing = sorted(set(roll) - set(ids))
    if missing:
        raise ProtocolError(f"voter {missing[0]!r} of the roll has no credential", where=where)
    unknown = sorted(set(ids) - set(roll))
    if unknown:
        raise ProtocolError(f"credential for {unknown[0]!r}, who is not on the roll", where=where)
    key = ReceiptKey.load_or_create(key_path(keys_dir, election.uuid))
    store = board.create_election(
        int(time.time()) if timestamp is None else timestamp,
        election.raw,
        codec.to_bytes(trustees.to_json()),
        credentials.raw,
        uuid=election.uuid,
        receipt_key=key.public,
    )
    add_voters(
        board,
        election.uuid,
        [
            VoterAccount(ident, roll[ident].address, entry.text, roll[ident].secret_hash)
            for ident, entry in zip(ids, credentials.entries, strict=True)
        ],
    )
    return store


class VoterAuthenticator(Protocol):
    """Who is casting: given the roll's entry for the login as the cast read it
    (:func:`~viche.record.sql.accounts.voter_and_state`, with the voting state in the same
    look-up; ``None``: no such login on the roll), returns that account once ``proof`` is
    checked, or raises :class:`~viche.errors.AuthenticationError`."""

    def authenticate(self, uuid: str, account: VoterAccount | None, proof: str) -> VoterAccount: ...


@runtime_checkable
class CodeSender(Protocol):
    """An authenticator that sends voters a code on request; returns the code's lifetime
    in seconds, at once and the same whether or not the login is on the roll. A login is
    sent a code at most once every ``resend_after`` seconds."""

    resend_after: int

    def send_code(self, uuid: str, login: str) -> int: ...


@dataclass(frozen=True)
class LoginSecrets:
    """Voters authenticate with their login and the secret handed out with the demo."""

    def authenticate(self, uuid: str, account: VoterAccount | None, proof: str) -> VoterAccount:
        stored = account.secret_hash if account is not None else None
        if not check_login_secret(stored, proof) or account is None:
            raise AuthenticationError(
                "unknown voter or wrong login secret", where=Location(path=("authorization",))
            )
        return account


class Host:
    """The board, the receipt keys and the parsed setups, shared by the request handlers."""

    def __init__(
        self,
        board: SqlBoard,
        keys_dir: Path,
        authenticator: VoterAuthenticator | None = None,
    ) -> None:
        self.board = board
        self.keys_dir = keys_dir
        self.authenticator: VoterAuthenticator = authenticator or LoginSecrets()
        self._stores: dict[str, SqlElectionStore] = {}
        self._records: dict[str, ElectionRecord] = {}
        self._keys: dict[str, ReceiptKey] = {}
        self._lock = threading.Lock()
        #: election uuid -> the rules beyond Belenios's that an online ballot of it must
        #: pass under the store's lock (a national event's styles: :mod:`viche.event.hosted`)
        self.guards: dict[str, Callable[[CheckedFacts], None]] = {}

    def store(self, uuid: str) -> SqlElectionStore:
        """The election's store (kept once found: an election is never removed)."""
        with self._lock:
            found = self._stores.get(uuid)
        if found is None:
            found = self._find(uuid)
            with self._lock:
                found = self._stores.setdefault(uuid, found)
        return found

    def _find(self, uuid: str) -> SqlElectionStore:
        """The election on the board; an election still being set up (a draft) is
        :class:`~viche.errors.NotOpenYetError`, any other unknown one
        :class:`~viche.errors.UnknownElectionError`. Nothing is kept of either."""
        from viche.service.schedule import not_open_yet  # it imports this module

        try:
            return self.board.store(uuid)
        except UnknownElectionError:
            pending = not_open_yet(self.board, uuid, time.time())
            if pending is not None:
                raise pending from None
        # opened between the two looks (the Setup event is written before the draft goes)
        return self.board.store(uuid)

    def record(self, uuid: str) -> ElectionRecord:
        """The election on the board with its setup parsed (once per process)."""
        with self._lock:
            found = self._records.get(uuid)
        if found is None:
            found = ElectionRecord(self.store(uuid))
            _ = found.election, found.credentials  # parse once, outside the lock
            warm_tables(found.election)  # the fixed-base tables of g and y, once
            with self._lock:
                found = self._records.setdefault(uuid, found)
        return found

    def warm(self) -> list[str]:
        """Load every election that takes ballots now (its setup parsed, the tables of g
        and y built, its receipt key read), so that the first voters do not wait for it;
        a worker does this when it starts. Returns their uuids; an election that cannot
        be loaded is left for its first request to report."""
        warmed: list[str] = []
        for uuid in self.board.elections():
            try:
                if self.store(uuid).head().type in VOTING:
                    self.record(uuid)
                    self.receipt_key(uuid)
                    warmed.append(uuid)
            except VicheError:
                continue
        return warmed

    def receipt_key(self, uuid: str) -> ReceiptKey:
        with self._lock:
            key = self._keys.get(uuid)
        if key is None:
            published = self.board.receipt_key(uuid)
            path = key_path(self.keys_dir, uuid)
            if not path.exists():
                raise StorageError(
                    "the election's receipt key is not in the keys folder",
                    where=Location(file=str(path)),
                )
            key = ReceiptKey.load_or_create(path)
            if key.public != published:
                raise StorageError(
                    "the receipt key in the keys folder is not the election's published key",
                    where=Location(file=str(key_path(self.keys_dir, uuid))),
                )
            with self._lock:
                self._keys[uuid] = key
        return key


def check_binding(checked: CheckedFacts, account: VoterAccount) -> None:
    """The ballot must be signed with the authenticated voter's own credential."""
    if checked.credential != account.credential:
        raise CredentialBindingError(
            "this ballot is signed with another voter's credential",
            where=Location(path=("ballot", "credential")),
        )
