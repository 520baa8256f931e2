"""Laws of the record, checked with Hypothesis.

* any single flipped bit anywhere in a valid archive is detected;
* a cut is accepted exactly at the end of an event (a shorter, valid board) and rejected
  everywhere else;
* whatever valid sequence of events is appended, reading gives back the same events and bytes,
  and reopening the archive resumes exactly where the writer was.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viche.errors import FormatError, RecordError
from viche.record import ArchiveWriter, EventType, read_archive
from viche.record.events import next_types

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def small_archive(reference_dir: Path) -> bytes:
    return next((reference_dir / "simple-plain-BELENIOS").glob("*.bel")).read_bytes()


@pytest.fixture(scope="module")
def event_ends(reference_dir: Path) -> set[int]:
    record = read_archive(reference_dir / "simple-plain-BELENIOS")
    ends = {ev.data[0].offset for ev in record.events[1:] if ev.data}
    ends |= {ev.offset for ev in record.events[1:] if not ev.data}
    return ends | {record.size}


@SETTINGS
@given(st.data())
def test_every_flipped_bit_is_detected(
    small_archive: bytes, tmp_path: Path, data: st.DataObject
) -> None:
    offset = data.draw(st.integers(0, len(small_archive) - 1), label="offset")
    bit = data.draw(st.integers(0, 7), label="bit")
    damaged = bytearray(small_archive)
    damaged[offset] ^= 1 << bit
    path = tmp_path / "d.bel"
    path.write_bytes(bytes(damaged))
    with pytest.raises((RecordError, FormatError)):
        read_archive(path)


@SETTINGS
@given(st.data())
def test_cuts(
    small_archive: bytes, event_ends: set[int], tmp_path: Path, data: st.DataObject
) -> None:
    cut = data.draw(
        st.one_of(st.sampled_from(sorted(event_ends)), st.integers(0, len(small_archive))),
        label="cut",
    )
    path = tmp_path / "c.bel"
    path.write_bytes(small_archive[:cut])
    if cut in event_ends:
        assert read_archive(path).size == cut
    else:
        with pytest.raises((RecordError, FormatError)):
            read_archive(path)


def _payload(etype: EventType, i: int) -> list[bytes]:
    """Payload lines of the right shape (two-line payloads reference their first line)."""
    first = b'{"n":%d}' % i
    h = hashlib.sha256(first).hexdigest().encode()
    if etype is EventType.ENCRYPTED_TALLY:
        return [first, b'{"num_tallied":0,"total_weight":0,"encrypted_tally":"%s"}' % h]
    if etype in (EventType.SHUFFLE, EventType.PARTIAL_DECRYPTION):
        return [first, b'{"owner":%d,"payload":"%s"}' % (i % 5 + 1, h)]
    if etype in (EventType.BALLOT, EventType.RESULT):
        return [first]
    return []


@st.composite
def event_sequences(draw: st.DrawFn) -> list[EventType]:
    """A valid walk of the event grammar after Setup."""
    seq: list[EventType] = []
    last = EventType.SETUP
    for _ in range(draw(st.integers(0, 25))):
        choices = sorted(next_types(last), key=lambda t: t.value)
        if not choices:
            break
        last = draw(st.sampled_from(choices))
        seq.append(last)
    return seq


@SETTINGS
@given(event_sequences(), st.integers(0, 3))
def test_append_read_roundtrip(tmp_path: Path, types: list[EventType], reopen_every: int) -> None:
    path = tmp_path / f"r{abs(hash((tuple(types), reopen_every)))}.bel"
    w = ArchiveWriter.create(path, 1234567890, b'{"e":1}', b"[]", b"[]")
    written = []
    for i, t in enumerate(types):
        if reopen_every and i % reopen_every == 0:
            w = ArchiveWriter.open(path)
        lines = _payload(t, i)
        written.append((t, w.append(t, lines), lines))
    record = read_archive(path)
    assert [(e.type, e.hash, [d.raw for d in e.data]) for e in record.events[1:]] == written
    assert record.height == len(types) == w.height
    assert record.size == path.stat().st_size == w.size
    assert len(record.ballots) == types.count(EventType.BALLOT)
    assert len(record.shuffles) == types.count(EventType.SHUFFLE)
    assert len(record.partial_decryptions) == types.count(EventType.PARTIAL_DECRYPTION)
    assert (record.result is not None) == (EventType.RESULT in types)
    path.unlink()
