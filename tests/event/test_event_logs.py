"""The signed, hash-chained logs beside an event's archives (no election needed)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.errors import LockLogError
from viche.event.keys import EventKey
from viche.event.locks import StationLock, lock_log

GENESIS = "ab" * 32


def _append(log_path: Path, key: EventKey, n: int) -> StationLock:
    log = lock_log(log_path, GENESIS, key.public)

    def entry(seq: int, prev: str) -> StationLock:
        t = "2026-12-03T10:00:00+00:00"
        return StationLock(seq, "uuid", f"cred{n}", "DE-BERLIN-1", t, f"hash{n}", n + 1, prev)

    return log.append(key, entry)


@pytest.fixture()
def key(tmp_path: Path) -> EventKey:
    return EventKey.load_or_create(tmp_path / "event.ed25519")


def test_entries_chain_and_read_back(tmp_path: Path, key: EventKey) -> None:
    made = [_append(tmp_path, key, n) for n in range(3)]
    assert [m.seq for m in made] == [0, 1, 2]
    assert made[0].prev == GENESIS
    fresh = lock_log(tmp_path, GENESIS, key.public)
    assert fresh.read_all() == made
    assert fresh.head != GENESIS


def test_a_second_writer_sees_the_first_writers_lines(tmp_path: Path, key: EventKey) -> None:
    a = lock_log(tmp_path, GENESIS, key.public)
    a.refresh()
    _append(tmp_path, key, 0)  # another process
    assert [e.credential for e in a.refresh()] == ["cred0"]
    _append(tmp_path, key, 1)
    assert [e.seq for e in a.read_all()] == [0, 1]


def test_a_key_that_is_not_the_event_key_cannot_append(tmp_path: Path, key: EventKey) -> None:
    other = EventKey.load_or_create(tmp_path / "other.ed25519")
    log = lock_log(tmp_path, GENESIS, key.public)
    with pytest.raises(LockLogError):
        log.append(other, lambda seq, prev: StationLock(seq, "u", "c", "s", "t", "h", 1, prev))
    assert not (tmp_path / "station-locks.jsonl").exists()


@pytest.mark.parametrize(
    "edit",
    ["changed", "removed", "reordered", "cut", "other key", "other event", "not json"],
)
def test_every_tampering_is_found(tmp_path: Path, key: EventKey, edit: str) -> None:
    for n in range(3):
        _append(tmp_path, key, n)
    path = tmp_path / "station-locks.jsonl"
    raw = path.read_bytes()
    lines = raw.splitlines(keepends=True)
    public, genesis = key.public, GENESIS
    if edit == "changed":
        raw = raw.replace(b"cred1", b"cred9")
    elif edit == "removed":
        raw = lines[0] + lines[2]
    elif edit == "reordered":
        raw = lines[1] + lines[0] + lines[2]
    elif edit == "cut":
        raw = raw[:-5]
    elif edit == "other key":
        public = EventKey.load_or_create(tmp_path / "other.ed25519").public
    elif edit == "other event":
        genesis = "cd" * 32
    else:
        raw = lines[0] + b"{not json\n"
    path.write_bytes(raw)
    with pytest.raises(LockLogError) as info:
        lock_log(tmp_path, genesis, public).read_all()
    assert info.value.code == "V8054"
    assert info.value.where.file == str(path) and info.value.where.line is not None


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_changed_byte_is_found(data: st.DataObject) -> None:
    """Property: whatever single byte of a log is changed, reading it fails (V8054)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key = EventKey.load_or_create(folder / "event.ed25519")
        for n in range(2):
            _append(folder, key, n)
        path = folder / "station-locks.jsonl"
        raw = bytearray(path.read_bytes())
        i = data.draw(st.integers(0, len(raw) - 1), label="offset")
        b = data.draw(st.integers(0, 255).filter(lambda v: v != raw[i]), label="byte")
        raw[i] = b
        path.write_bytes(bytes(raw))
        with pytest.raises(LockLogError):
            lock_log(folder, GENESIS, key.public).read_all()


def test_a_signature_spelled_another_way_is_refused(tmp_path: Path, key: EventKey) -> None:
    """Base64 leaves the last character's low bits free: a second spelling of the same
    signature would give the line another hash; it is refused."""
    _append(tmp_path, key, 0)
    path = tmp_path / "station-locks.jsonl"
    raw = path.read_bytes()
    i = raw.index(b'=="}') - 1
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    value = alphabet.index(raw[i : i + 1])
    twin = alphabet[value ^ 1 : (value ^ 1) + 1]  # same top 2 bits, another unused bit
    path.write_bytes(raw[:i] + twin + raw[i + 1 :])
    with pytest.raises(LockLogError):
        lock_log(tmp_path, GENESIS, key.public).read_all()
