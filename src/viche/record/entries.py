"""What an archive holds, as typed values that keep the **exact raw bytes** (verification
hashes them).

* :class:`DataMember` — a ``<sha256hex>.data.json`` member;
* :class:`RecordEvent` — an event with its exact bytes, hash and the data members written
  just before it;
* :class:`SetupEntry`, :class:`BallotEntry`, :class:`TallyEntry`, :class:`OwnedEntry`
  (Shuffle and PartialDecryption), :class:`ResultEntry` — each event type's data;
* :class:`Record` — a whole archive read into memory
  (:func:`viche.record.reader.read_archive`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from viche.errors import Location
from viche.record.events import ArchiveHeader, Event, EventType

HEADER_NAME = "BELENIOS"
DATA_SUFFIX = ".data.json"
EVENT_SUFFIX = ".event.json"


@dataclass(frozen=True)
class DataMember:
    """A ``.data.json`` member: its hash (= name without suffix) and exact content, its
    byte offset and 1-based member index."""

    hash: str
    raw: bytes = field(repr=False)
    offset: int
    index: int

    @property
    def where(self) -> Location:
        return Location(offset=self.offset, member=self.hash + DATA_SUFFIX)


@dataclass(frozen=True)
class RecordEvent:
    """An event, its exact bytes and hash, and the data members written just before it."""

    event: Event
    hash: str
    raw: bytes = field(repr=False)
    offset: int
    index: int
    data: tuple[DataMember, ...] = field(repr=False)

    @property
    def height(self) -> int:
        return self.event.height

    @property
    def type(self) -> EventType:
        return self.event.type

    @property
    def where(self) -> Location:
        return event_location(self.height, self.offset, self.hash)


def event_location(height: int, offset: int, name_hash: str) -> Location:
    """Where an event member is: its byte offset, member name and height."""
    return Location(offset=offset, member=name_hash + EVENT_SUFFIX, event=height)


@dataclass(frozen=True)
class BallotEntry:
    """A ballot: the Ballot event's height and hash, the raw ballot, its hex hash."""

    height: int
    event_hash: str
    raw: bytes = field(repr=False)
    hash: str


@dataclass(frozen=True)
class TallyEntry:
    """The EncryptedTally event: encrypted_tally and sized_encrypted_tally lines."""

    height: int
    event_hash: str
    tally: DataMember
    sized: DataMember

    @property
    def tally_raw(self) -> bytes:
        return self.tally.raw

    @property
    def sized_raw(self) -> bytes:
        return self.sized.raw


@dataclass(frozen=True)
class OwnedEntry:
    """A Shuffle or PartialDecryption event: ``payload`` (the shuffle / partial decryption)
    and ``owned`` (``{"owner":id,"payload":hash}``), with the owner's trustee id."""

    height: int
    event_hash: str
    owner: int
    payload: DataMember
    owned: DataMember

    @property
    def payload_raw(self) -> bytes:
        return self.payload.raw

    @property
    def owned_raw(self) -> bytes:
        return self.owned.raw


@dataclass(frozen=True)
class ResultEntry:
    """The Result event: the raw result and its hex hash."""

    height: int
    event_hash: str
    raw: bytes = field(repr=False)
    hash: str


@dataclass(frozen=True)
class SetupEntry:
    """The four setup data members and the Setup event."""

    election: DataMember
    trustees: DataMember
    credentials: DataMember
    setup_data: DataMember
    event_hash: str


@dataclass(frozen=True)
class Record:
    """A whole archive, checked (tar, hashes, chain, order), with typed access."""

    path: Path
    header: ArchiveHeader
    setup: SetupEntry
    events: tuple[RecordEvent, ...] = field(repr=False)
    ballots: tuple[BallotEntry, ...] = field(repr=False)
    end_ballots: RecordEvent | None
    encrypted_tally: TallyEntry | None
    shuffles: tuple[OwnedEntry, ...] = field(repr=False)
    end_shuffles: RecordEvent | None
    partial_decryptions: tuple[OwnedEntry, ...] = field(repr=False)
    result: ResultEntry | None
    size: int

    @property
    def timestamp(self) -> int:
        return self.header.timestamp

    @property
    def election(self) -> bytes:
        return self.setup.election.raw

    @property
    def trustees(self) -> bytes:
        return self.setup.trustees.raw

    @property
    def public_credentials(self) -> bytes:
        return self.setup.credentials.raw

    @property
    def setup_data(self) -> bytes:
        return self.setup.setup_data.raw

    @property
    def last_event(self) -> RecordEvent:
        return self.events[-1]

    @property
    def last_hash(self) -> str:
        return self.events[-1].hash

    @property
    def height(self) -> int:
        return self.events[-1].height
