"""Event codec (exact bytes, key order, optional fields), event order, BELENIOS header."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from viche.errors import ChainError, JsonFormatError, Location, NonCanonicalError
from viche.record.events import PAYLOAD_LINES, ArchiveHeader, Event, EventType, next_types

HASHES = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
H1 = "ee04de96" + "0" * 56
H2 = "6ab54cb9" + "1" * 56


@st.composite
def events(draw: st.DrawFn) -> Event:
    etype = draw(st.sampled_from(list(EventType)))
    height = draw(st.integers(min_value=0, max_value=10**9))
    parent = None if height == 0 else draw(HASHES)
    payload = draw(HASHES) if etype.has_payload else None
    return Event(parent=parent, height=height, type=etype, payload=payload)


@given(events())
def test_event_roundtrip_and_key_order(event: Event) -> None:
    raw = event.to_bytes()
    assert Event.from_bytes(raw) == event
    keys = list(json.loads(raw))
    expected = [k for k in ("parent", "height", "type", "payload") if k in keys]
    assert keys == expected
    assert ("parent" in keys) == (event.height != 0)
    assert ("payload" in keys) == event.type.has_payload
    assert b" " not in raw and not raw.endswith(b"\n")


def test_exact_bytes_of_a_reference_event() -> None:
    setup = Event(parent=None, height=0, type=EventType.SETUP, payload=H2)
    assert setup.to_bytes() == b'{"height":0,"type":"Setup","payload":"' + H2.encode() + b'"}'
    end = Event(parent=H1, height=6, type=EventType.END_BALLOTS, payload=None)
    assert end.to_bytes() == b'{"parent":"' + H1.encode() + b'","height":6,"type":"EndBallots"}'


@pytest.mark.parametrize(
    "raw",
    [
        b'{"height": 0,"type":"Setup","payload":"%s"}' % H2.encode(),
        b'{"type":"Setup","height":0,"payload":"%s"}' % H2.encode(),
        b'{"height":0,"type":"Setup","payload":"%s"}\n' % H2.encode(),
    ],
)
def test_non_canonical_events_are_rejected(raw: bytes) -> None:
    with pytest.raises(NonCanonicalError):
        Event.from_bytes(raw)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"height":0,"type":"Vote","payload":"%s"}' % H2.encode(), JsonFormatError),
        (b'{"height":0,"type":"Setup","payload":"%s"}' % H2.upper().encode(), JsonFormatError),
        (b'{"height":-1,"type":"Setup","payload":"%s"}' % H2.encode(), JsonFormatError),
        (b'{"height":true,"type":"Setup","payload":"%s"}' % H2.encode(), JsonFormatError),
        (b'{"height":0,"type":"Setup","payload":"%s","x":1}' % H2.encode(), JsonFormatError),
        (b'{"height":0,"type":"Setup"}', ChainError),
        (b'{"height":1,"type":"Ballot","payload":"%s"}' % H2.encode(), ChainError),
        (
            b'{"parent":"%s","height":0,"type":"Setup","payload":"%s"}'
            % (H1.encode(), H2.encode()),
            ChainError,
        ),
        (
            b'{"parent":"%s","height":3,"type":"EndBallots","payload":"%s"}'
            % (H1.encode(), H2.encode()),
            ChainError,
        ),
        (b"[1]", JsonFormatError),
    ],
)
def test_malformed_events_are_rejected(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        Event.from_bytes(raw, Location(event=0))


def test_event_constructor_enforces_the_optional_fields() -> None:
    Event(parent=H1, height=1, type=EventType.BALLOT, payload=H2)
    with pytest.raises(ChainError):
        Event(parent=None, height=1, type=EventType.BALLOT, payload=H2)
    with pytest.raises(ChainError):
        Event(parent=H1, height=1, type=EventType.END_SHUFFLES, payload=H2)
    with pytest.raises(ChainError):
        Event(parent=H1, height=-1, type=EventType.BALLOT, payload=H2)


def test_event_order_table() -> None:
    """Walk the grammar Setup Ballot* EndBallots EncryptedTally [Shuffle* EndShuffles]
    PartialDecryption* Result."""
    E = EventType
    good = [
        [E.SETUP, E.END_BALLOTS, E.ENCRYPTED_TALLY, E.RESULT],
        [
            E.SETUP,
            E.BALLOT,
            E.BALLOT,
            E.END_BALLOTS,
            E.ENCRYPTED_TALLY,
            E.PARTIAL_DECRYPTION,
            E.PARTIAL_DECRYPTION,
            E.RESULT,
        ],
        [
            E.SETUP,
            E.BALLOT,
            E.END_BALLOTS,
            E.ENCRYPTED_TALLY,
            E.SHUFFLE,
            E.SHUFFLE,
            E.END_SHUFFLES,
            E.PARTIAL_DECRYPTION,
            E.RESULT,
        ],
    ]
    bad = [
        [E.BALLOT],
        [E.SETUP, E.SETUP],
        [E.SETUP, E.ENCRYPTED_TALLY],
        [E.SETUP, E.END_BALLOTS, E.BALLOT],
        [E.SETUP, E.END_BALLOTS, E.ENCRYPTED_TALLY, E.PARTIAL_DECRYPTION, E.SHUFFLE],
        [E.SETUP, E.END_BALLOTS, E.ENCRYPTED_TALLY, E.SHUFFLE, E.PARTIAL_DECRYPTION],
        [E.SETUP, E.END_BALLOTS, E.ENCRYPTED_TALLY, E.RESULT, E.RESULT],
    ]

    def ok(seq: list[EventType]) -> bool:
        last: EventType | None = None
        for t in seq:
            if t not in next_types(last):
                return False
            last = t
        return True

    assert all(ok(s) for s in good)
    assert not any(ok(s) for s in bad)
    assert PAYLOAD_LINES[E.ENCRYPTED_TALLY] == 2 and PAYLOAD_LINES[E.END_BALLOTS] == 0


def test_archive_header() -> None:
    raw = b'{"version":1,"timestamp":"1795345065"}'
    header = ArchiveHeader.from_bytes(raw)
    assert header.timestamp == 1795345065 and header.to_bytes() == raw
    for bad in (
        b'{"version":2,"timestamp":"1"}',
        b'{"version":1,"timestamp":1}',
        b'{"version":1,"timestamp":"01"}',
        b'{"timestamp":"1","version":1}',
        b'{"version":1, "timestamp":"1"}',
        b'{"version":1}',
    ):
        with pytest.raises((JsonFormatError, NonCanonicalError)):
            ArchiveHeader.from_bytes(bad)
