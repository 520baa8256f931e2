"""Reading, rebuilding (byte for byte) and appending to .bel archives."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path

import pytest

from viche.errors import (
    ArchiveFormatError,
    MissingFileError,
    PhaseError,
    RecordError,
    StorageError,
)
from viche.record import ArchiveStream, ArchiveWriter, EventType, Record, read_archive

REFERENCES = [
    "simple-plain-BELENIOS",
    "simple-plain-RFC",
    "threshold-noserver-2of3",
    "threshold-weighted-revotes",
    "nh-mixnet-RFC",
    "large-10x10-BELENIOS",
]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar_members(path: Path) -> list[tuple[str, bytes, int]]:
    """An independent reading of the archive with Python's tarfile module."""
    out = []
    with tarfile.open(path, mode="r:") as tf:
        for info in tf.getmembers():
            f = tf.extractfile(info)
            assert f is not None
            out.append((info.name, f.read(), int(info.mtime)))
    return out


def _rebuild(record: Record, path: Path) -> None:
    writer = ArchiveWriter.create(
        path, record.timestamp, record.election, record.trustees, record.public_credentials
    )
    for ev in record.events[1:]:
        writer.append(ev.type, [m.raw for m in ev.data])


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_archive_is_read_and_rebuilt_byte_for_byte(
    name: str, reference_dir: Path, tmp_path: Path
) -> None:
    ref = reference_dir / name
    record = read_archive(ref)  # a directory with exactly one .bel
    meta = json.loads((ref / "meta.json").read_text())
    members = _tar_members(record.path)

    # every member, in order, as an independent tar reader sees it
    assert members[0][0] == "BELENIOS"
    assert json.loads(members[0][1])["timestamp"] == str(record.timestamp)
    assert {m[2] for m in members} == {record.timestamp}
    names = [m[0] for m in members[1:]]
    ours = []
    for ev in record.events:
        ours += [d.hash + ".data.json" for d in ev.data] + [ev.hash + ".event.json"]
    assert names == ours

    # typed access matches the independent reading
    blobs = {n.split(".")[0]: c for n, c, _ in members}
    setup = json.loads(record.setup_data)
    assert blobs[setup["election"]] == record.election
    assert blobs[setup["trustees"]] == record.trustees
    assert blobs[setup["credentials"]] == record.public_credentials
    assert json.loads(record.election)["uuid"] == meta["uuid"]
    assert len(record.ballots) == meta["nballots"]
    ballot_files = sorted((ref / "ballots").glob("*.json"))
    assert [b.raw for b in record.ballots] == [f.read_bytes().rstrip(b"\n") for f in ballot_files]
    for b in record.ballots:
        assert b.hash == _sha(b.raw)
        assert json.loads(blobs[b.event_hash])["payload"] == b.hash
        assert json.loads(blobs[b.event_hash])["height"] == b.height
    assert record.encrypted_tally is not None
    sized = json.loads(record.encrypted_tally.sized_raw)
    assert sized["encrypted_tally"] == _sha(record.encrypted_tally.tally_raw)
    assert sized["num_tallied"] <= len(record.ballots)
    assert record.result is not None
    assert json.loads(record.result.raw) == json.loads((ref / "result.json").read_text())
    owners = [p.owner for p in record.partial_decryptions]
    assert owners and len(set(owners)) == len(owners)
    for p in (*record.partial_decryptions, *record.shuffles):
        assert json.loads(p.owned_raw) == {"owner": p.owner, "payload": _sha(p.payload_raw)}
    assert (len(record.shuffles) > 0) == (record.end_shuffles is not None)
    assert record.end_ballots is not None
    assert record.height == len(record.events) - 1
    assert record.last_hash == names[-1][:64]
    assert record.size == record.path.stat().st_size

    # rebuild with the writer: identical bytes
    out = tmp_path / record.path.name
    _rebuild(record, out)
    assert out.read_bytes() == record.path.read_bytes()
    # failure twin: another timestamp gives another archive
    other = tmp_path / "other.bel"
    ArchiveWriter.create(
        other, record.timestamp + 1, record.election, record.trustees, record.public_credentials
    )
    assert other.read_bytes() != record.path.read_bytes()[: other.stat().st_size]


def test_stream_yields_the_same_events(reference_dir: Path) -> None:
    ref = reference_dir / "nh-mixnet-RFC"
    record = read_archive(ref)
    with ArchiveStream(ref) as stream:
        assert stream.header == record.header
        hashes = [ev.hash for ev in stream]
    assert hashes == [ev.hash for ev in record.events]
    assert stream.finished and stream.end == record.size
    with pytest.raises(RecordError):
        list(ArchiveStream(ref))  # not entered


def test_directory_must_hold_exactly_one_archive(reference_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="found 0"):
        read_archive(tmp_path)
    src = next((reference_dir / "simple-plain-BELENIOS").glob("*.bel"))
    (tmp_path / "a.bel").write_bytes(src.read_bytes())
    assert read_archive(tmp_path).size == src.stat().st_size
    (tmp_path / "b.bel").write_bytes(src.read_bytes())
    with pytest.raises(MissingFileError, match="found 2"):
        read_archive(tmp_path)
    with pytest.raises(MissingFileError):
        read_archive(tmp_path / "missing.bel")


# --------------------------------------------------------------------------- writer

ELECTION = b'{"version":1,"name":"test"}'
TRUSTEES = b'[["Single",{}]]'
CREDS = b'["1","2"]'


@pytest.fixture()
def fresh(tmp_path: Path) -> ArchiveWriter:
    return ArchiveWriter.create(tmp_path / "e.bel", 1700000000, ELECTION, TRUSTEES, CREDS)


def test_create_writes_header_setup_data_and_setup_event(fresh: ArchiveWriter) -> None:
    members = _tar_members(fresh.path)
    assert [n for n, _, _ in members][:4] == [
        "BELENIOS",
        _sha(ELECTION) + ".data.json",
        _sha(TRUSTEES) + ".data.json",
        _sha(CREDS) + ".data.json",
    ]
    assert members[0][1] == b'{"version":1,"timestamp":"1700000000"}'
    setup_data = members[4][1]
    assert setup_data == (
        b'{"election":"%s","trustees":"%s","credentials":"%s"}'
        % (_sha(ELECTION).encode(), _sha(TRUSTEES).encode(), _sha(CREDS).encode())
    )
    assert (
        members[5][1] == b'{"height":0,"type":"Setup","payload":"%s"}' % _sha(setup_data).encode()
    )
    assert fresh.height == 0 and fresh.last_type is EventType.SETUP
    assert fresh.last_hash == _sha(members[5][1])
    with pytest.raises(RecordError, match="already exists"):
        ArchiveWriter.create(fresh.path, 1, ELECTION, TRUSTEES, CREDS)


def test_append_ballots_and_reopen(fresh: ArchiveWriter) -> None:
    h1 = fresh.append(EventType.BALLOT, [b'{"b":1}'])
    h2 = fresh.append(EventType.BALLOT, [b'{"b":2}'])
    assert fresh.height == 2
    record = read_archive(fresh.path)
    assert [b.event_hash for b in record.ballots] == [h1, h2]
    assert [b.raw for b in record.ballots] == [b'{"b":1}', b'{"b":2}']
    assert record.ballots[1].height == 2
    again = ArchiveWriter.open(fresh.path)
    assert (again.height, again.last_hash, again.size) == (2, h2, fresh.path.stat().st_size)
    again.append(EventType.END_BALLOTS, [])
    tally = b"[[]]"
    again.append(
        EventType.ENCRYPTED_TALLY,
        [
            tally,
            b'{"num_tallied":2,"total_weight":2,"encrypted_tally":"%s"}' % _sha(tally).encode(),
        ],
    )
    pd = b'{"decryption_factors":[]}'
    again.append(
        EventType.PARTIAL_DECRYPTION, [pd, b'{"owner":1,"payload":"%s"}' % _sha(pd).encode()]
    )
    again.append(EventType.RESULT, [b'{"result":[]}'])
    record = read_archive(fresh.path)
    assert [e.type for e in record.events][-4:] == [
        EventType.END_BALLOTS,
        EventType.ENCRYPTED_TALLY,
        EventType.PARTIAL_DECRYPTION,
        EventType.RESULT,
    ]
    assert record.partial_decryptions[0].owner == 1
    assert record.result is not None and record.result.raw == b'{"result":[]}'
    # nothing after Result
    with pytest.raises(PhaseError, match="after Result"):
        again.append(EventType.BALLOT, [b"{}"])


@pytest.mark.parametrize(
    ("etype", "lines", "error"),
    [
        (EventType.SETUP, [b"{}"] * 4, PhaseError),
        (EventType.ENCRYPTED_TALLY, [b"[]", b"{}"], PhaseError),  # before EndBallots
        (EventType.RESULT, [b"{}"], PhaseError),
        (EventType.BALLOT, [], ArchiveFormatError),
        (EventType.BALLOT, [b"{}", b"{}"], ArchiveFormatError),
        (EventType.BALLOT, [b'{"a":\n1}'], ArchiveFormatError),
        (EventType.BALLOT, [b""], ArchiveFormatError),
        (EventType.END_BALLOTS, [b"{}"], ArchiveFormatError),
    ],
)
def test_refused_appends_leave_the_archive_unchanged(
    fresh: ArchiveWriter, etype: EventType, lines: list[bytes], error: type[Exception]
) -> None:
    before = fresh.path.read_bytes()
    with pytest.raises(error):
        fresh.append(etype, lines)
    assert fresh.path.read_bytes() == before
    fresh.append(EventType.BALLOT, [b"{}"])  # the writer is still usable
    assert read_archive(fresh.path).height == 1


def test_two_line_payloads_must_reference_their_first_line(fresh: ArchiveWriter) -> None:
    fresh.append(EventType.END_BALLOTS, [])
    before = fresh.path.read_bytes()
    with pytest.raises(RecordError, match="encrypted_tally"):
        fresh.append(
            EventType.ENCRYPTED_TALLY,
            [b"[]", b'{"num_tallied":0,"total_weight":0,"encrypted_tally":"%s"}' % (b"0" * 64)],
        )
    assert fresh.path.read_bytes() == before


def test_failed_write_is_truncated_back(
    fresh: ArchiveWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh.append(EventType.BALLOT, [b'{"b":1}'])
    before = fresh.path.read_bytes()
    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageError, match="disk full") as info:
        fresh.append(EventType.BALLOT, [b'{"b":2}'])
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert info.value.where.file == str(fresh.path)
    assert fresh.path.read_bytes() == before
    assert fresh.height == 1
    fresh.append(EventType.BALLOT, [b'{"b":2}'])
    assert [b.raw for b in read_archive(fresh.path).ballots] == [b'{"b":1}', b'{"b":2}']


def test_concurrent_modification_is_detected(fresh: ArchiveWriter) -> None:
    other = ArchiveWriter.open(fresh.path)
    other.append(EventType.BALLOT, [b'{"b":"other"}'])
    after_other = fresh.path.read_bytes()
    with pytest.raises(RecordError, match="changed on disk"):
        fresh.append(EventType.BALLOT, [b'{"b":"mine"}'])
    assert fresh.path.read_bytes() == after_other
    assert ArchiveWriter.open(fresh.path).height == 1


def test_append_many_is_all_or_nothing(fresh: ArchiveWriter) -> None:
    before = fresh.path.read_bytes()
    with pytest.raises(PhaseError):
        fresh.append_many(
            [(EventType.BALLOT, [b"{}"]), (EventType.END_BALLOTS, []), (EventType.BALLOT, [b"{}"])]
        )
    assert fresh.path.read_bytes() == before
    hashes = fresh.append_many([(EventType.BALLOT, [b"{}"]), (EventType.BALLOT, [b"{}"])])
    assert [b.event_hash for b in read_archive(fresh.path).ballots] == hashes


def test_writer_for_a_record_already_read(fresh: ArchiveWriter) -> None:
    fresh.append(EventType.BALLOT, [b'{"b":1}'])
    record = read_archive(fresh.path)
    w = ArchiveWriter.for_record(record)
    assert (w.height, w.last_hash, w.size) == (1, record.last_hash, record.size)
    h = w.append(EventType.BALLOT, [b'{"b":2}'])
    again = read_archive(fresh.path)
    assert again.last_hash == h and again.events[-1].index == record.last_event.index + 2
    # failure twin: the record is stale now, a writer made from it refuses to append
    stale = ArchiveWriter.for_record(record)
    before = fresh.path.read_bytes()
    with pytest.raises(RecordError, match="changed on disk"):
        stale.append(EventType.BALLOT, [b'{"b":3}'])
    assert fresh.path.read_bytes() == before
