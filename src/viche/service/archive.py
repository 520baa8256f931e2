"""The public archive: create it, add ballots (after every check), close the vote.

A refused ballot leaves the archive byte for byte as it was: every check runs before
:meth:`viche.record.archive.ArchiveWriter.append`, which itself writes all or nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from viche.errors import (
    NOWHERE,
    Location,
    PhaseError,
    ProtocolError,
    ReplayedBallotError,
    UsageError,
)
from viche.protocol import codec
from viche.protocol.ballot import CheckedBallot, check_ballot
from viche.protocol.election import Election, PublicCredentials
from viche.protocol.threshold import check_trustees
from viche.protocol.trustees import Trustees
from viche.record.archive import ArchiveWriter, Record, read_archive, resolve_archive
from viche.record.events import EventType
from viche.service.credentials import read_public_credentials
from viche.service.files import read_bytes, require_dir
from viche.service.setup import read_election, read_trustees

_TRUSTEES = Location(path=("archive", "trustees"))


@dataclass(frozen=True)
class ElectionRecord:
    """An archive read from disk, with its setup parsed."""

    record: Record

    @cached_property
    def election(self) -> Election:
        return Election.from_bytes(self.record.election, Location(path=("archive", "election")))

    @cached_property
    def trustees(self) -> Trustees:
        return Trustees.from_json(codec.loads(self.record.trustees, _TRUSTEES), _TRUSTEES)

    @cached_property
    def credentials(self) -> PublicCredentials:
        return PublicCredentials.from_bytes(
            self.record.public_credentials, Location(path=("archive", "public credentials"))
        )

    @property
    def path(self) -> Path:
        return self.record.path

    @property
    def closed(self) -> bool:
        return self.record.end_ballots is not None


def load(directory: Path) -> ElectionRecord:
    """The election archive of ``directory`` (or a ``.bel`` path), fully read and checked."""
    return ElectionRecord(read_archive(resolve_archive(directory)))


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
) -> Path:
    """``archive init``: write ``DIR/<uuid>.bel`` with the Setup event."""
    require_dir(directory, "election directory")
    existing = sorted(directory.glob("*.bel"))
    if existing:
        raise UsageError(
            "the directory already holds an archive", where=Location(file=str(existing[0]))
        )
    election = read_election(election_path)
    trustees = read_trustees(trustees_path)
    credentials = read_public_credentials(credentials_path)
    check_setup(election, trustees, credentials)
    path = directory / f"{election.uuid}.bel"
    ArchiveWriter.create(
        path,
        int(time.time()) if timestamp is None else timestamp,
        election.raw,
        codec.to_bytes(trustees.to_json()),
        credentials.raw,
    )
    return path


# ---------------------------------------------------------------------- ballots


def ballot_from_file(path: Path) -> bytes:
    """A ballot file as ``generate-ballot`` prints it: one line (a final newline is allowed)."""
    raw = read_bytes(path, "ballot")
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if not raw:
        raise UsageError("the ballot file is empty", where=Location(file=str(path)))
    return raw


def check_new_ballot(
    state: ElectionRecord, raw: bytes, source: Location = NOWHERE
) -> CheckedBallot:
    """Every check of the ballot against the archive, in the voting server's order."""
    if state.closed:
        raise PhaseError(
            "the vote is closed (EndBallots is in the archive)",
            where=Location(file=str(state.path)),
        )
    checked = check_ballot(state.election, raw, state.credentials, where=source)
    for entry in state.record.ballots:
        if entry.hash == checked.hex_hash:
            raise ReplayedBallotError(
                f"this exact ballot is already in the archive (event {entry.height}); "
                "a replayed ballot is refused",
                where=Location(ballot=checked.tracker),
            )
    return checked


@dataclass(frozen=True)
class Accepted:
    tracker: str
    event_hash: str
    height: int
    revote: bool
    weight: int


def add_ballot(directory: Path, raw: bytes, source: Location = NOWHERE) -> Accepted:
    """Check a ballot fully and append it; on any failure nothing is written. ``source``
    (e.g. the file) is the ``where`` of errors, completed with the ballot's tracker."""
    path = resolve_archive(directory)
    state = ElectionRecord(read_archive(path))
    # Continues the record just read (no second read); refuses to append if the file
    # changed since.
    writer = ArchiveWriter.for_record(state.record)
    checked = check_new_ballot(state, raw, source)
    revote = any(_credential_of(e.raw) == checked.credential for e in state.record.ballots)
    event_hash = writer.append(EventType.BALLOT, [raw])
    return Accepted(checked.tracker, event_hash, writer.height, revote, checked.weight)


def _credential_of(raw: bytes) -> str:
    """The credential field of a ballot already in the archive (checked when it was added)."""
    obj = codec.loads(raw, Location(path=("ballot",)))
    return str(obj.get("credential", "")) if isinstance(obj, dict) else ""
