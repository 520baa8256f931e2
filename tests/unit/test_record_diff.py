"""verify_diff: a newer snapshot must extend the older one (spec 3.5.1 step 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viche.errors import (
    ArchiveFormatError,
    ChainError,
    HashMismatchError,
    Location,
    RemovedHistoryError,
)
from viche.record import ArchiveWriter, EventType, Record, read_archive
from viche.record.diff import verify_diff
from viche.record.events import HEADER_WHERE


@pytest.fixture(scope="module")
def reference(reference_dir: Path) -> Record:
    return read_archive(reference_dir / "simple-plain-BELENIOS")


def snapshot(record: Record, path: Path, upto: int, timestamp: int | None = None) -> Path:
    """The board as it was at height ``upto``, rebuilt with the writer."""
    w = ArchiveWriter.create(
        path,
        record.timestamp if timestamp is None else timestamp,
        record.election,
        record.trustees,
        record.public_credentials,
    )
    for ev in record.events[1 : upto + 1]:
        w.append(ev.type, [m.raw for m in ev.data])
    return path


def test_prefix_snapshots_extend(reference: Record, tmp_path: Path) -> None:
    old = snapshot(reference, tmp_path / "old.bel", 2)
    report = verify_diff(old, reference.path)
    assert (report.old_height, report.new_height) == (2, 10)
    assert report.old_last_hash == reference.events[2].hash
    assert report.new_last_hash == reference.last_hash
    assert [h for h, _, _ in report.added] == list(range(3, 11))
    assert report.added_ballots == 3
    assert report.old_size < report.new_size == reference.size
    same = verify_diff(reference.path, reference.path)
    assert same.added == () and same.old_height == same.new_height == 10


def test_older_snapshot_cannot_follow_a_newer_one(reference: Record, tmp_path: Path) -> None:
    old = snapshot(reference, tmp_path / "old.bel", 2)
    with pytest.raises(RemovedHistoryError, match="stops before") as info:
        verify_diff(reference.path, old)
    assert info.value.where == Location(event=3)


def test_rewritten_history_names_the_first_height(reference: Record, tmp_path: Path) -> None:
    """Ballot 2 dropped and the chain rebuilt: each archive is valid alone, the diff is not."""
    old = snapshot(reference, tmp_path / "old.bel", 4)
    w = ArchiveWriter.create(
        tmp_path / "new.bel",
        reference.timestamp,
        reference.election,
        reference.trustees,
        reference.public_credentials,
    )
    for ev in reference.events[1:]:
        if ev.height != 2:
            w.append(ev.type, [m.raw for m in ev.data])
    assert read_archive(w.path).height == 9
    with pytest.raises(RemovedHistoryError, match="history was rewritten") as info:
        verify_diff(old, w.path)
    assert info.value.where == Location(event=2)


def test_other_setup(reference: Record, tmp_path: Path) -> None:
    old = snapshot(reference, tmp_path / "old.bel", 1)
    w = ArchiveWriter.create(
        tmp_path / "new.bel", reference.timestamp, reference.election, reference.trustees, b"[]"
    )
    w.append(EventType.BALLOT, [reference.ballots[0].raw])
    with pytest.raises(RemovedHistoryError, match="setup differs") as info:
        verify_diff(old, w.path)
    assert info.value.where == Location(event=0)
    other_time = snapshot(reference, tmp_path / "t.bel", 1, timestamp=reference.timestamp + 1)
    with pytest.raises(RemovedHistoryError, match="BELENIOS") as err:
        verify_diff(old, other_time)
    assert err.value.where == HEADER_WHERE


def test_a_broken_archive_is_reported_with_its_side(reference: Record, tmp_path: Path) -> None:
    old = snapshot(reference, tmp_path / "old.bel", 2)
    data = bytearray(reference.path.read_bytes())
    ballot = reference.ballots[3]
    ev = reference.events[ballot.height]
    data[ev.data[0].offset + 512 + 40] ^= 1
    broken = tmp_path / "broken.bel"
    broken.write_bytes(bytes(data))
    with pytest.raises(HashMismatchError) as info:
        verify_diff(old, broken)
    where = info.value.where
    assert where.file == str(broken) and where.offset == ev.data[0].offset
    truncated = tmp_path / "trunc.bel"
    truncated.write_bytes(old.read_bytes()[:-100])
    with pytest.raises(ArchiveFormatError, match="truncated") as err:
        verify_diff(truncated, reference.path)
    assert err.value.where.file == str(truncated) and err.value.where.offset is not None
    dangling = tmp_path / "dangling.bel"
    dangling.write_bytes(
        old.read_bytes() + reference.path.read_bytes()[ev.data[0].offset : ev.offset]
    )
    with pytest.raises(ChainError, match="after the last event"):
        verify_diff(dangling, reference.path)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_snapshots_at_any_two_heights(
    reference: Record, tmp_path: Path, data: st.DataObject
) -> None:
    """Cut the board after event i and after event j: i extends into j iff i <= j."""
    raw = reference.path.read_bytes()
    ends = [ev.offset + 512 + len(ev.raw) + (-len(ev.raw)) % 512 for ev in reference.events]
    i = data.draw(st.integers(0, reference.height), label="i")
    j = data.draw(st.integers(0, reference.height), label="j")
    a, b = tmp_path / "a.bel", tmp_path / "b.bel"
    a.write_bytes(raw[: ends[i]])
    b.write_bytes(raw[: ends[j]])
    if i <= j:
        report = verify_diff(a, b)
        assert [h for h, _, _ in report.added] == list(range(i + 1, j + 1))
    else:
        with pytest.raises(RemovedHistoryError) as info:
            verify_diff(a, b)
        assert info.value.where == Location(event=j + 1)
