"""The public record as the use cases see it: an :class:`~viche.record.store.ElectionStore`
with its setup parsed (:class:`ElectionRecord`), and creating a new one (``archive init``).

The use cases (casting in :mod:`viche.service.cast`, closing and tallying in
:mod:`viche.service.tally`, shuffling in :mod:`viche.service.shuffle`) take an
:class:`ElectionRecord` and talk to its store only through the interface, so the ``.bel``
file (:class:`~viche.record.archive_store.ArchiveStore`) and the SQL bulletin board serve
them alike. :meth:`ElectionRecord.contents` (every event after Setup, O(n)) is read only
after the vote, never when casting.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from viche.crypto.hashing import sha256_hex
from viche.errors import Location, ProtocolError, UsageError
from viche.protocol import codec
from viche.protocol.election import Election, PublicCredentials
from viche.protocol.threshold import check_trustees
from viche.protocol.trustees import Trustees
from viche.record.archive_store import ArchiveStore
from viche.record.chain import owned_owner
from viche.record.events import EventType
from viche.record.files import ARCHIVE_SUFFIX
from viche.record.store import ElectionStore
from viche.service.credentials import read_public_credentials
from viche.service.files import read_bytes, require_dir
from viche.service.setup import read_election, read_trustees

_TRUSTEES = Location(path=("archive", "trustees"))


# ---------------------------------------------------------------------- what a record holds


@dataclass(frozen=True)
class BallotLine:
    """A Ballot event: its height, the raw ballot and its hex SHA-256."""

    height: int
    raw: bytes
    hash: str


@dataclass(frozen=True)
class TallyLines:
    """The EncryptedTally event: encrypted_tally and sized_encrypted_tally."""

    height: int
    tally_raw: bytes
    sized_raw: bytes


@dataclass(frozen=True)
class OwnedLines:
    """A Shuffle or PartialDecryption event: the payload and its ``owned`` wrapper."""

    height: int
    owner: int
    payload_raw: bytes
    owned_raw: bytes


@dataclass(frozen=True)
class ResultLine:
    height: int
    raw: bytes


@dataclass(frozen=True)
class RecordContents:
    """Every event after Setup, grouped by type (heights of the marker events)."""

    ballots: tuple[BallotLine, ...]
    end_ballots: int | None
    encrypted_tally: TallyLines | None
    shuffles: tuple[OwnedLines, ...]
    end_shuffles: int | None
    partial_decryptions: tuple[OwnedLines, ...]
    result: ResultLine | None


def read_contents(store: ElectionStore) -> RecordContents:
    """One pass over ``store.events()``."""
    ballots: list[BallotLine] = []
    shuffles: list[OwnedLines] = []
    decryptions: list[OwnedLines] = []
    end_ballots = end_shuffles = None
    tally: TallyLines | None = None
    result: ResultLine | None = None
    for height, (etype, lines) in enumerate(store.events(), start=1):
        if etype is EventType.BALLOT:
            ballots.append(BallotLine(height, lines[0], sha256_hex(lines[0])))
        elif etype is EventType.END_BALLOTS:
            end_ballots = height
        elif etype is EventType.ENCRYPTED_TALLY:
            tally = TallyLines(height, lines[0], lines[1])
        elif etype is EventType.END_SHUFFLES:
            end_shuffles = height
        elif etype is EventType.RESULT:
            result = ResultLine(height, lines[0])
        elif etype in (EventType.SHUFFLE, EventType.PARTIAL_DECRYPTION):
            where = Location(file=store.name, event=height)
            owner = owned_owner(lines[1], sha256_hex(lines[0]), where)
            entry = OwnedLines(height, owner, lines[0], lines[1])
            (shuffles if etype is EventType.SHUFFLE else decryptions).append(entry)
    return RecordContents(
        tuple(ballots),
        end_ballots,
        tally,
        tuple(shuffles),
        end_shuffles,
        tuple(decryptions),
        result,
    )


#: The phases in which ballots are accepted (the head is Setup or a Ballot).
VOTING = frozenset({EventType.SETUP, EventType.BALLOT})


class ElectionRecord:
    """An election's store with its setup parsed once (election, trustees, credentials)."""

    def __init__(self, store: ElectionStore) -> None:
        self.store = store

    @cached_property
    def election(self) -> Election:
        return Election.from_bytes(
            self.store.setup().election, Location(path=("archive", "election"))
        )

    @cached_property
    def trustees(self) -> Trustees:
        return Trustees.from_bytes(self.store.setup().trustees, _TRUSTEES)

    @cached_property
    def credentials(self) -> PublicCredentials:
        return PublicCredentials.from_bytes(
            self.store.setup().credentials, Location(path=("archive", "public credentials"))
        )

    @property
    def name(self) -> str:
        return self.store.name

    @property
    def where(self) -> Location:
        return Location(file=self.store.name)

    @cached_property
    def record(self) -> RecordContents:
        """Every event after Setup (read once; :meth:`refresh` after appending)."""
        return read_contents(self.store)

    def refresh(self) -> None:
        """Forget :attr:`record`, so the next use reads the store again."""
        self.__dict__.pop("record", None)


@contextmanager
def open_record(path: str | os.PathLike[str]) -> Iterator[ElectionRecord]:
    """The election whose archive ``path`` names (a ``.bel`` file or a directory holding
    one), open for the use cases; closed on leaving."""
    with ArchiveStore.open(path) as store:
        yield ElectionRecord(store)


# ---------------------------------------------------------------------- init


def check_setup(election: Election, trustees: Trustees, credentials: PublicCredentials) -> None:
    """What a server checks before opening an election: trustee keys and their proofs, the
    election key is the trustees' key, public credentials are group elements."""
    group = election.group
    check_trustees(group, trustees)
    if trustees.public_key(group) != election.public_key.y:
        raise ProtocolError(
            "the election public key is not the key of these trustees",
            where=Location(path=("election", "public_key")),
        )
    credentials.check_members(group)
    if len(credentials) == 0:
        raise ProtocolError(
            "the list of public credentials is empty", where=Location(path=("credentials",))
        )
    if election.has_nh_questions:
        for i, entry in enumerate(credentials.entries):
            if entry.effective_weight != 1:
                raise ProtocolError(
                    f"weight {entry.effective_weight}: weights are only allowed when every "
                    "question is homomorphic (spec 1, 'Weights')",
                    where=Location(path=(f"credentials[{i}]",)),
                )


def init_archive(
    directory: Path,
    election_path: Path,
    trustees_path: Path,
    credentials_path: Path,
    timestamp: int | None = None,
) -> ArchiveStore:
    """``archive init``: write ``DIR/<uuid>.bel`` with the Setup event; returns the open
    store (the caller closes it)."""
    require_dir(directory, "election directory")
    existing = sorted(directory.glob(f"*{ARCHIVE_SUFFIX}"))
    if existing:
        raise UsageError(
            "the directory already holds an archive", where=Location(file=str(existing[0]))
        )
    election = read_election(election_path)
    trustees = read_trustees(trustees_path)
    credentials = read_public_credentials(credentials_path)
    check_setup(election, trustees, credentials)
    return ArchiveStore.create(
        directory / f"{election.uuid}{ARCHIVE_SUFFIX}",
        int(time.time()) if timestamp is None else timestamp,
        election.raw,
        codec.to_bytes(trustees.to_json()),
        credentials.raw,
    )


# ---------------------------------------------------------------------- ballots


def ballot_from_file(path: Path) -> bytes:
    """A ballot file as ``generate-ballot`` prints it: one line (a final newline is allowed)."""
    raw = read_bytes(path, "ballot")
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if not raw:
        raise UsageError("the ballot file is empty", where=Location(file=str(path)))
    return raw
