"""Tampered copies of a reference archive: each is rejected with the right error and place.

The copies are made here with small helpers: an independent split of the archive with
Python's ``tarfile``, edits on the list of (name, content) members, and a re-join.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from viche.errors import (
    ArchiveFormatError,
    ChainError,
    HashMismatchError,
    PhaseError,
    RecordError,
)
from viche.record import read_archive
from viche.record.tar import encode_member

Members = list[tuple[str, bytes]]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split(path: Path) -> tuple[Members, int]:
    with tarfile.open(path, mode="r:") as tf:
        infos = tf.getmembers()
        out = []
        for info in infos:
            f = tf.extractfile(info)
            assert f is not None
            out.append((info.name, f.read()))
        return out, int(infos[0].mtime)


def join(members: Members, mtime: int) -> bytes:
    return b"".join(encode_member(n, c, mtime) for n, c in members)


def event_bytes(fields: dict[str, object]) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def set_event(members: Members, i: int, **changes: object) -> None:
    """Edit the event at position i and rename it after its new hash (no re-chaining)."""
    fields = json.loads(members[i][1])
    fields.update(changes)
    order = ("parent", "height", "type", "payload")
    raw = event_bytes({k: fields[k] for k in order if fields.get(k) is not None})
    members[i] = (_sha(raw) + ".event.json", raw)


def rechain(members: Members) -> None:
    """Recompute every event's parent and height so that only the intended damage is left."""
    parent = None
    height = 0
    for i, (name, _) in enumerate(members):
        if name.endswith(".event.json"):
            set_event(members, i, parent=parent, height=height)
            parent = members[i][0][:64]
            height += 1


def event_positions(members: Members) -> list[int]:
    return [i for i, (n, _) in enumerate(members) if n.endswith(".event.json")]


@pytest.fixture()
def simple(reference_dir: Path) -> tuple[Members, int]:
    return split(next((reference_dir / "simple-plain-BELENIOS").glob("*.bel")))


def write(tmp_path: Path, members: Members, mtime: int, extra: bytes = b"") -> Path:
    path = tmp_path / "t.bel"
    path.write_bytes(join(members, mtime) + extra)
    return path


def test_untouched_copy_is_accepted(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    rechain(members)  # a no-op on a valid archive
    record = read_archive(write(tmp_path, members, mtime))
    assert record.height == 10 and len(record.ballots) == 5


def test_flipped_byte_in_a_ballot(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    name, content = members[8]  # ballot 2
    members[8] = (name, content[:50] + bytes([content[50] ^ 1]) + content[51:])
    with pytest.raises(HashMismatchError) as info:
        read_archive(write(tmp_path, members, mtime))
    assert info.value.where.member == name


def test_flipped_byte_in_an_event(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    name, content = members[9]
    members[9] = (name, content.replace(b'"height":2', b'"height":3'))
    with pytest.raises(HashMismatchError, match="content hashing"):
        read_archive(write(tmp_path, members, mtime))


def test_broken_parent_link(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    set_event(members, 9, parent=members[5][0][:64])  # height 2 claims Setup as parent
    with pytest.raises(ChainError, match="parent") as info:
        read_archive(write(tmp_path, members, mtime))
    where = info.value.where
    assert where.event == 2 and where.member == members[9][0]


def test_height_gap(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    set_event(members, 9, height=3)
    with pytest.raises(ChainError, match="without gaps") as info:
        read_archive(write(tmp_path, members, mtime))
    where = info.value.where
    assert where.event == 2 and where.member == members[9][0]


def test_dropped_ballot(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    del members[8:10]  # ballot 2 and its event
    with pytest.raises(ChainError) as info:
        read_archive(write(tmp_path, members, mtime))
    # ballot 3's data is now member 9, its event (height 3 in place of 2) member 10
    where = info.value.where
    assert where.event == 2 and where.member == members[9][0]


def test_event_pointing_back_at_an_earlier_copy(
    simple: tuple[Members, int], tmp_path: Path
) -> None:
    """A replayed ballot must be written again: pointing at ballot 1's member is refused."""
    members, mtime = simple
    first_ballot = members[6][0][:64]
    del members[8]  # drop ballot 2's data; its event now reuses ballot 1's copy
    set_event(members, 8, payload=first_ballot)
    rechain(members)
    with pytest.raises(ChainError, match="immediately before") as info:
        read_archive(write(tmp_path, members, mtime))
    where = info.value.where
    assert where.event == 2 and where.member == members[8][0]
    # failure twin: writing the copy again is fine (that is what belenios does)
    members.insert(8, members[6])
    rechain(members)
    assert [b.hash for b in read_archive(write(tmp_path, members, mtime)).ballots][:2] == [
        first_ballot,
        first_ballot,
    ]


def test_payload_missing_from_the_archive(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    set_event(members, 7, payload="ab" * 32)
    rechain(members)
    with pytest.raises(ChainError, match="immediately before") as info:
        read_archive(write(tmp_path, members, mtime))
    assert info.value.where.event == 1


def test_stray_data_member_before_an_event(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    members.insert(6, (_sha(b'{"x":1}') + ".data.json", b'{"x":1}'))
    with pytest.raises(ChainError, match="2 data member"):
        read_archive(write(tmp_path, members, mtime))


def test_event_order(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    # move ballot 5 (data + event) after EndBallots
    ballot5 = members[14:16]
    del members[14:16]
    assert json.loads(members[14][1])["type"] == "EndBallots"
    members[15:15] = ballot5
    rechain(members)
    with pytest.raises(PhaseError, match="Ballot event not allowed after EndBallots") as info:
        read_archive(write(tmp_path, members, mtime))
    assert info.value.where.event == 6


def test_something_after_result(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    members += members[6:8]
    rechain(members)
    with pytest.raises(PhaseError, match="after Result"):
        read_archive(write(tmp_path, members, mtime))


def test_two_line_payload_references(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    ev = event_positions(members)
    tally_event = ev[7]
    sized = json.loads(members[tally_event - 1][1])
    sized["encrypted_tally"] = "cd" * 32
    raw = event_bytes(sized)
    members[tally_event - 1] = (_sha(raw) + ".data.json", raw)
    set_event(members, tally_event, payload=_sha(raw))
    rechain(members)
    with pytest.raises(ChainError, match="sized_encrypted_tally") as info:
        read_archive(write(tmp_path, members, mtime))
    assert info.value.where.event == 7


def test_owned_payload_reference(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    pd_event = event_positions(members)[8]
    owned = json.loads(members[pd_event - 1][1])
    owned["payload"] = "ef" * 32
    raw = event_bytes(owned)
    members[pd_event - 1] = (_sha(raw) + ".data.json", raw)
    set_event(members, pd_event, payload=_sha(raw))
    rechain(members)
    with pytest.raises(ChainError, match="owned payload") as info:
        read_archive(write(tmp_path, members, mtime))
    assert info.value.where.event == 8


def test_truncated_archive(reference_dir: Path, tmp_path: Path) -> None:
    src = next((reference_dir / "simple-plain-BELENIOS").glob("*.bel"))
    data = src.read_bytes()
    record = read_archive(src)
    third = record.events[3]  # Ballot at height 3
    path = tmp_path / "t.bel"
    # cut inside the event header, inside its content, inside its padding
    for cut in (third.offset + 100, third.offset + 512 + 10, third.offset + 512 + len(third.raw)):
        path.write_bytes(data[:cut])
        with pytest.raises(ArchiveFormatError, match="truncated") as info:
            read_archive(path)
        assert info.value.where.offset == third.offset
    # cut between the ballot data and its event
    path.write_bytes(data[: third.offset])
    with pytest.raises(ChainError, match="after the last event") as err:
        read_archive(path)
    assert err.value.where.offset == third.data[0].offset
    # failure twin: cut at an event boundary is a valid, shorter board
    path.write_bytes(data[: record.events[4].data[0].offset])
    assert read_archive(path).height == 3
    path.write_bytes(b"")
    with pytest.raises(ArchiveFormatError, match="empty"):
        read_archive(path)


def test_garbage_after_the_last_member(reference_dir: Path, tmp_path: Path) -> None:
    src = next((reference_dir / "simple-plain-BELENIOS").glob("*.bel"))
    data = src.read_bytes()
    path = tmp_path / "t.bel"
    for extra in (b"garbage\n", bytes(1024), b"x" * 512):
        path.write_bytes(data + extra)
        with pytest.raises(ArchiveFormatError) as info:
            read_archive(path)
        assert info.value.where.offset == len(data)


def test_member_timestamp_and_names(simple: tuple[Members, int], tmp_path: Path) -> None:
    members, mtime = simple
    data = bytearray(join(members, mtime))
    # member 3 written with another mtime
    off = len(join(members[:2], mtime))
    data[off : off + len(join(members[2:3], mtime))] = join(members[2:3], mtime + 1)
    path = tmp_path / "t.bel"
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveFormatError, match="mtime") as info:
        read_archive(path)
    assert info.value.where.offset == off and info.value.where.member == members[2][0]

    renamed = list(members)
    renamed[6] = (renamed[6][0].replace(".data.json", ".json"), renamed[6][1])
    with pytest.raises(ArchiveFormatError, match="unexpected member name"):
        read_archive(write(tmp_path, renamed, mtime))
    upper = list(members)
    upper[6] = (upper[6][0].upper().replace(".DATA.JSON", ".data.json"), upper[6][1])
    with pytest.raises(ArchiveFormatError, match="sha256 hex"):
        read_archive(write(tmp_path, upper, mtime))
    swapped = [members[1], members[0], *members[2:]]
    with pytest.raises(ArchiveFormatError, match="first member"):
        read_archive(write(tmp_path, swapped, mtime))
    header_only = members[:1]
    with pytest.raises(RecordError, match="no Setup"):
        read_archive(write(tmp_path, header_only, mtime))
