"""Events of the public record and the ``BELENIOS`` header (spec 4.4, FORMAT.md §1).

* :class:`EventType` — the eight event types, their value is the JSON string.
* :class:`Event` — ``Event(parent, height, type, payload)``. :meth:`Event.to_bytes` writes
  ``{"parent":…,"height":n,"type":…,"payload":…}`` compactly, in that key order, with
  ``parent`` absent at height 0 and ``payload`` absent for ``EndBallots``/``EndShuffles``.
  :meth:`Event.from_bytes` parses strictly and requires the input to be exactly that
  canonical form (:class:`~viche.errors.NonCanonicalError` otherwise).
* :class:`ArchiveHeader` — ``{"version":1,"timestamp":"<unix seconds>"}``, the content of the
  first member.
* :data:`PAYLOAD_LINES` — how many data lines precede each event type (the last one is the
  payload): Setup 4 (election, trustees, credentials, setup_data), Ballot 1, EncryptedTally 2
  (encrypted_tally, sized_encrypted_tally), Shuffle 2 (shuffle, owned_shuffle),
  PartialDecryption 2 (partial_decryption, owned_partial_decryption), Result 1, EndBallots and
  EndShuffles 0.
* :func:`next_types` — the event order, as a transition table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from viche.crypto.hashing import is_sha256_hex
from viche.errors import NOWHERE, ChainError, JsonFormatError, Location, NonCanonicalError
from viche.protocol.codec import dumps, expect_object, get_int, get_str, loads


class EventType(Enum):
    SETUP = "Setup"
    BALLOT = "Ballot"
    END_BALLOTS = "EndBallots"
    ENCRYPTED_TALLY = "EncryptedTally"
    SHUFFLE = "Shuffle"
    END_SHUFFLES = "EndShuffles"
    PARTIAL_DECRYPTION = "PartialDecryption"
    RESULT = "Result"

    @property
    def has_payload(self) -> bool:
        return self not in (EventType.END_BALLOTS, EventType.END_SHUFFLES)


PAYLOAD_LINES: dict[EventType, int] = {
    EventType.SETUP: 4,
    EventType.BALLOT: 1,
    EventType.END_BALLOTS: 0,
    EventType.ENCRYPTED_TALLY: 2,
    EventType.SHUFFLE: 2,
    EventType.END_SHUFFLES: 0,
    EventType.PARTIAL_DECRYPTION: 2,
    EventType.RESULT: 1,
}

_E = EventType
# Which event types may follow a given one (None = the archive has no event yet).
_NEXT: dict[EventType | None, frozenset[EventType]] = {
    None: frozenset({_E.SETUP}),
    _E.SETUP: frozenset({_E.BALLOT, _E.END_BALLOTS}),
    _E.BALLOT: frozenset({_E.BALLOT, _E.END_BALLOTS}),
    _E.END_BALLOTS: frozenset({_E.ENCRYPTED_TALLY}),
    _E.ENCRYPTED_TALLY: frozenset({_E.SHUFFLE, _E.END_SHUFFLES, _E.PARTIAL_DECRYPTION, _E.RESULT}),
    _E.SHUFFLE: frozenset({_E.SHUFFLE, _E.END_SHUFFLES}),
    _E.END_SHUFFLES: frozenset({_E.PARTIAL_DECRYPTION, _E.RESULT}),
    _E.PARTIAL_DECRYPTION: frozenset({_E.PARTIAL_DECRYPTION, _E.RESULT}),
    _E.RESULT: frozenset(),
}


def next_types(last: EventType | None) -> frozenset[EventType]:
    """Event types allowed after ``last`` (``None``: empty archive, only Setup).

    Order: Setup, Ballot*, EndBallots, EncryptedTally, [Shuffle* EndShuffles],
    PartialDecryption*, Result, and nothing after Result.
    """
    return _NEXT[last]


def parse_event_type(value: str, where: Location) -> EventType:
    try:
        return EventType(value)
    except ValueError:
        raise JsonFormatError(f"unknown event type {value!r}", where=where) from None


def parse_hash(value: str, where: Location) -> str:
    """A member reference: 64 lower-case hex digits."""
    if not is_sha256_hex(value):
        raise JsonFormatError(f"{value!r} is not a lower-case hex SHA-256", where=where)
    return value


@dataclass(frozen=True)
class Event:
    """One event of the chain."""

    parent: str | None
    height: int
    type: EventType
    payload: str | None

    def __post_init__(self) -> None:
        if self.height < 0:
            raise ChainError(f"negative height {self.height}")
        if (self.parent is None) != (self.height == 0):
            raise ChainError(
                "parent must be absent exactly at height 0", where=Location(event=self.height)
            )
        if (self.payload is not None) != self.type.has_payload:
            raise ChainError(
                f"{self.type.value} event must {'' if self.type.has_payload else 'not '}"
                "have a payload",
                where=Location(event=self.height),
            )

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.parent is not None:
            out["parent"] = self.parent
        out["height"] = self.height
        out["type"] = self.type.value
        if self.payload is not None:
            out["payload"] = self.payload
        return out

    def to_bytes(self) -> bytes:
        return dumps(self.to_json()).encode("utf-8")

    @classmethod
    def from_json(cls, value: object, where: Location = NOWHERE) -> Event:
        obj = expect_object(value, where, ("height", "type"), ("parent", "payload"))
        height = get_int(obj, "height", where, minimum=0)
        etype = parse_event_type(get_str(obj, "type", where), where.sub("type"))
        parent = (
            parse_hash(get_str(obj, "parent", where), where.sub("parent"))
            if "parent" in obj
            else None
        )
        payload = (
            parse_hash(get_str(obj, "payload", where), where.sub("payload"))
            if "payload" in obj
            else None
        )
        if (parent is None) != (height == 0):
            raise ChainError("parent must be absent exactly at height 0", where=where)
        if (payload is not None) != etype.has_payload:
            raise ChainError(
                f"{etype.value} event {'without' if etype.has_payload else 'with'} a payload",
                where=where,
            )
        return cls(parent=parent, height=height, type=etype, payload=payload)

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = NOWHERE) -> Event:
        event = cls.from_json(loads(raw, where), where)
        if event.to_bytes() != raw:
            raise NonCanonicalError(
                "event is not in canonical compact form (key order parent, height, type, payload)",
                where=where,
            )
        return event


#: Where the ``BELENIOS`` member is: the first member, at byte 0.
HEADER_WHERE = Location(offset=0, member="BELENIOS")


@dataclass(frozen=True)
class ArchiveHeader:
    """The ``BELENIOS`` member: format version and the election's start timestamp."""

    timestamp: int
    version: int = 1

    def to_bytes(self) -> bytes:
        return dumps({"version": self.version, "timestamp": str(self.timestamp)}).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = HEADER_WHERE) -> ArchiveHeader:
        obj = expect_object(loads(raw, where), where, ("version", "timestamp"))
        version = get_int(obj, "version", where)
        if version != 1:
            raise JsonFormatError(f"unsupported archive version {version}", where=where)
        stamp = get_str(obj, "timestamp", where)
        # A member's mtime is 11 octal digits, so a timestamp has at most 10 decimal ones.
        if not re.fullmatch(r"0|[1-9][0-9]{0,9}", stamp) or int(stamp) >= 8**11:
            shown = stamp if len(stamp) <= 24 else stamp[:21] + "..."
            raise JsonFormatError(
                f"timestamp {shown!r} is not a decimal number below 8^11 (a tar mtime)",
                where=where.sub("timestamp"),
            )
        header = cls(timestamp=int(stamp), version=version)
        if header.to_bytes() != raw:
            raise NonCanonicalError("archive header is not in canonical form", where=where)
        return header
