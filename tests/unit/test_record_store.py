"""ArchiveStore: the ElectionStore of a .bel file and its ballot index.

Ballot lines here are small JSON objects (the record layer does not check ballots): what
matters is the index agreeing with the archive whatever happened to either.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viche.crypto.hashing import sha256_hex
from viche.errors import ChainError, PhaseError, RecordError
from viche.record import (
    ArchiveStore,
    ArchiveWriter,
    ElectionStore,
    EventType,
    StoredBallot,
    read_archive,
)

ELECTION, TRUSTEES, CREDS = b'{"e":1}', b"[]", b'["c1","c2","c3"]'


def ballot(cred: str, n: int) -> bytes:
    return json.dumps({"credential": cred, "n": n}, separators=(",", ":")).encode()


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """An archive with five ballots: c1 votes twice, c2 three times."""
    w = ArchiveWriter.create(tmp_path / "e.bel", 1700000000, ELECTION, TRUSTEES, CREDS)
    for i, cred in enumerate(["c1", "c2", "c1", "c2", "c2"]):
        w.append(EventType.BALLOT, [ballot(cred, i)])
    return w.path


def index_file(path: Path) -> Path:
    return path.with_name(path.name + ".index")


def check_agrees(store: ArchiveStore, path: Path) -> None:
    """Every answer of the store is what a full read of the archive says."""
    record = read_archive(path)
    head = store.head()
    assert (head.height, head.hash, head.type) == (
        record.height,
        record.last_hash,
        record.last_event.type,
    )
    assert store.ballot_count() == len(record.ballots)
    last: dict[str, int] = {}
    for b in record.ballots:
        found = store.ballot_by_hash(b.hash)
        assert found is not None and found.event_hash in {
            e.event_hash for e in record.ballots if e.hash == b.hash
        }
        last[json.loads(b.raw)["credential"]] = b.height
    for cred, height in last.items():
        got = store.last_ballot(cred)
        assert got is not None and got.height == height and got.credential == cred
    assert store.ballot_by_hash("0" * 64) is None
    assert store.last_ballot("nobody") is None


def test_the_store_answers_what_the_archive_says(archive: Path) -> None:
    with ArchiveStore.open(archive) as store:
        assert isinstance(store, ElectionStore)
        assert store.setup().election == ELECTION and store.setup().credentials == CREDS
        check_agrees(store, archive)
        events = list(store.events())
        assert [t for t, _ in events] == [EventType.BALLOT] * 5
        assert events[0][1] == (ballot("c1", 0),)
        out = io.BytesIO()
        store.write_archive(out)
        assert out.getvalue() == archive.read_bytes()
        assert store.index_path == index_file(archive)
    assert index_file(archive).is_file()
    # the directory holding the archive names it too
    with ArchiveStore.open(archive.parent) as store:
        assert store.path == archive


def test_append_moves_the_head_and_the_index(archive: Path) -> None:
    with ArchiveStore.open(archive) as store:
        head = store.head()
        raw = ballot("c3", 9)
        new = store.append(
            EventType.BALLOT,
            [raw],
            expected_head=head.hash,
            ballot=StoredBallot(0, "", sha256_hex(raw), "c3"),
        )
        assert new.height == head.height + 1 and new.type is EventType.BALLOT
        found = store.ballot_by_hash(sha256_hex(raw))
        assert found == StoredBallot(new.height, new.hash, sha256_hex(raw), "c3")
        assert store.last_ballot("c3") == found
        end = store.append(EventType.END_BALLOTS, [], expected_head=new.hash)
        assert end.type is EventType.END_BALLOTS
        check_agrees(store, archive)
    with ArchiveStore.open(archive) as again:
        check_agrees(again, archive)


def test_append_against_a_stale_head_is_refused(archive: Path) -> None:
    with ArchiveStore.open(archive) as store:
        stale = store.head().hash
        store.append(EventType.BALLOT, [ballot("c3", 1)], expected_head=stale)
        before = archive.read_bytes()
        with pytest.raises(RecordError, match="moved on") as info:
            store.append(EventType.BALLOT, [ballot("c3", 2)], expected_head=stale)
        assert info.value.where.file == str(archive)
        assert archive.read_bytes() == before
        with pytest.raises(PhaseError):  # the chain rules still hold
            store.append(EventType.RESULT, [b"{}"], expected_head=store.head().hash)
        assert archive.read_bytes() == before


def test_another_writer_is_seen_when_the_lock_is_taken(archive: Path) -> None:
    with ArchiveStore.open(archive) as first, ArchiveStore.open(archive) as second:
        h = first.append(EventType.BALLOT, [ballot("c3", 7)], expected_head=first.head().hash)
        assert second.head().hash != h.hash  # not yet looked
        with second.locked():
            assert second.head() == h
            assert second.last_ballot("c3") is not None
        second.append(EventType.BALLOT, [ballot("c3", 8)], expected_head=h.hash)
        check_agrees(second, archive)
        with first.locked():
            check_agrees(first, archive)


def test_growth_by_a_plain_writer_is_indexed_incrementally(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ArchiveStore.open(archive).close()  # index built
    ArchiveWriter.open(archive).append(EventType.BALLOT, [ballot("c3", 5)])

    def no_rebuild(self: ArchiveStore, size: int) -> None:
        raise AssertionError("rebuilt the index")

    monkeypatch.setattr(ArchiveStore, "_rebuild", no_rebuild)
    with ArchiveStore.open(archive) as store:
        check_agrees(store, archive)
        assert store.last_ballot("c3") is not None


def test_an_index_that_matches_is_not_rebuilt_and_one_that_does_not_is(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ArchiveStore.open(archive).close()
    calls: list[int] = []
    real = ArchiveStore._rebuild

    def counting(self: ArchiveStore, size: int) -> None:
        calls.append(size)
        real(self, size)

    monkeypatch.setattr(ArchiveStore, "_rebuild", counting)
    ArchiveStore.open(archive).close()
    assert calls == []
    # failure twin: the index names another head
    with sqlite3.connect(index_file(archive)) as conn:
        conn.execute("UPDATE head SET hash = ?", ("ab" * 32,))
    with ArchiveStore.open(archive) as store:
        check_agrees(store, archive)
    assert len(calls) == 1


def test_a_lying_index_is_caught_before_it_is_believed(archive: Path) -> None:
    ArchiveStore.open(archive).close()
    record = read_archive(archive)
    with sqlite3.connect(index_file(archive)) as conn:
        # a ballot that is not in the archive, and a credential history that is wrong
        conn.execute(
            "INSERT INTO ballots VALUES (99, ?, ?, 'c3', ?)",
            ("ef" * 32, "cd" * 32, record.ballots[0].height),
        )
        conn.execute("UPDATE ballots SET offset = 0 WHERE credential = 'c1'")
    with ArchiveStore.open(archive) as store:
        assert store.ballot_by_hash("ef" * 32) is None
        assert store.last_ballot("c3") is None
        got = store.last_ballot("c1")
        assert got is not None and got.height == record.ballots[2].height
        check_agrees(store, archive)


def test_a_replaced_or_shortened_archive_rebuilds_the_index(archive: Path, tmp_path: Path) -> None:
    ArchiveStore.open(archive).close()
    record = read_archive(archive)
    data = archive.read_bytes()
    archive.write_bytes(data[: record.events[3].offset + 1024])  # up to height 3
    with ArchiveStore.open(archive) as store:
        assert store.head().height == 3
        check_agrees(store, archive)
    # another election in the same place
    archive.unlink()
    w = ArchiveWriter.create(archive, 1700000001, b'{"e":2}', TRUSTEES, CREDS)
    w.append(EventType.BALLOT, [ballot("c9", 0)])
    with ArchiveStore.open(archive) as store:
        assert store.setup().election == b'{"e":2}'
        check_agrees(store, archive)


def test_an_unusable_index_file_falls_back_to_memory(archive: Path) -> None:
    index_file(archive).mkdir()  # cannot be a database
    with ArchiveStore.open(archive) as store:
        assert store.index_path is None
        check_agrees(store, archive)
        store.append(EventType.BALLOT, [ballot("c3", 1)], expected_head=store.head().hash)
        check_agrees(store, archive)
    # a corrupt file is replaced
    index_file(archive).rmdir()
    index_file(archive).write_bytes(b"not a database" * 100)
    with ArchiveStore.open(archive) as store:
        assert store.index_path == index_file(archive)
        check_agrees(store, archive)


def test_a_torn_tail_is_an_error_not_a_guess(archive: Path) -> None:
    ArchiveStore.open(archive).close()
    record = read_archive(archive)
    last = record.events[-1]
    with archive.open("ab") as f:  # a ballot's data member without its event
        f.write(archive.read_bytes()[last.data[0].offset : last.offset])
    with pytest.raises(ChainError, match="after the last event") as info:
        ArchiveStore.open(archive)
    assert info.value.where.file == str(archive)


def test_the_index_is_flat_in_memory_without_a_sidecar(archive: Path) -> None:
    with ArchiveStore.open(archive, sidecar=False) as store:
        assert store.index_path is None
        check_agrees(store, archive)
    assert not index_file(archive).exists()


# ---------------------------------------------------------------------- any interleaving

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 1), st.sampled_from(["c1", "c2", "c3"])),
        st.tuples(st.just("plain"), st.just(0), st.sampled_from(["c1", "c2"])),
        st.tuples(st.just("drop-index"), st.just(0), st.just("")),
        st.tuples(st.just("reopen"), st.integers(0, 1), st.just("")),
    ),
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_two_stores_and_a_plain_writer_always_agree_with_the_archive(
    tmp_path: Path, ops: list[tuple[str, int, str]]
) -> None:
    """Whatever two stores, a writer that ignores the index, and a lost index do in any
    order, every store answers what a full read of the archive says once it takes the
    lock."""
    directory = Path(tempfile.mkdtemp(dir=tmp_path))
    path = ArchiveWriter.create(directory / "e.bel", 1700000000, ELECTION, TRUSTEES, CREDS).path
    stores = [ArchiveStore.open(path), ArchiveStore.open(path)]
    try:
        for n, (op, who, cred) in enumerate(ops):
            if op == "append":
                with stores[who].locked():
                    head = stores[who].head().hash
                    stores[who].append(EventType.BALLOT, [ballot(cred, n)], expected_head=head)
            elif op == "plain":
                ArchiveWriter.open(path).append(EventType.BALLOT, [ballot(cred, n)])
            elif op == "drop-index":
                index_file(path).unlink(missing_ok=True)
            else:
                stores[who].close()
                stores[who] = ArchiveStore.open(path)
            for store in stores:
                with store.locked():
                    check_agrees(store, path)
    finally:
        for store in stores:
            store.close()
