"""The chunked tally of the streaming verifier (:mod:`viche.verify.counting`) and its ordered,
bounded pipeline (:mod:`viche.verify.stream`): any split of the counted ballots into
chunks, folded in any order, gives :func:`compute_encrypted_tally`'s tally, or its error."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from viche.crypto.hashing import b64_sha256, sha256_hex
from viche.errors import TallyError
from viche.protocol.ballot import Ballot, CheckedBallot
from viche.protocol.codec import to_bytes
from viche.protocol.election import Election, PublicCredentials
from viche.protocol.tally import compute_encrypted_tally, last_ballots
from viche.record import read_archive
from viche.verify.ballots import tally_chunk
from viche.verify.counting import (
    CountedItem,
    RunningTally,
    TallyAccumulator,
    chunk_tally,
    tally_part,
)
from viche.verify.stream import Pipeline, WorkerPool

Case = tuple[Election, PublicCredentials, list[CheckedBallot]]
_CASES: dict[str, Case] = {}


def counted(reference_dir: Path, name: str) -> Case:
    if name not in _CASES:
        rec = read_archive(reference_dir / name)
        election = Election.from_bytes(rec.election)
        creds = PublicCredentials.from_bytes(rec.public_credentials)
        checked = []
        for b in rec.ballots:
            ballot = Ballot.from_bytes(b.raw)
            cred = str(ballot.credential)
            checked.append(
                CheckedBallot(ballot, b.raw, b64_sha256(b.raw), b.hash, cred, creds.weight(cred))
            )
        _CASES[name] = (election, creds, last_ballots(checked))
    return _CASES[name]


def items(ballots: list[CheckedBallot]) -> list[CountedItem]:
    return [(i, b.raw, b.hex_hash, b.credential, b.weight) for i, b in enumerate(ballots)]


def fold(election: Election, chunks: list[list[CountedItem]]) -> TallyAccumulator:
    acc = TallyAccumulator(election)
    for chunk in chunks:
        acc.add(tally_part(election, chunk))
    return acc


def split(xs: list[CountedItem], cuts: list[int], order: list[int]) -> list[list[CountedItem]]:
    bounds = sorted({0, len(xs), *(c % (len(xs) + 1) for c in cuts)})
    chunks = [xs[a:b] for a, b in itertools.pairwise(bounds)]
    return [chunks[i] for i in sorted(range(len(chunks)), key=lambda i: order[i % len(order)])]


@pytest.mark.parametrize("name", ["threshold-weighted-revotes", "nh-mixnet-RFC"])
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cuts=st.lists(st.integers(0, 1000), max_size=6),
    order=st.lists(st.integers(0, 100), min_size=1, max_size=8),
)
def test_any_chunking_in_any_order_gives_the_tally(
    reference_dir: Path, name: str, cuts: list[int], order: list[int]
) -> None:
    election, _creds, ballots = counted(reference_dir, name)
    expected = compute_encrypted_tally(election, ballots)
    tally, n, weight = fold(election, split(items(ballots), cuts, order)).result()
    assert tally == expected
    assert tally.to_bytes() == expected.to_bytes()
    assert (n, weight) == (len(ballots), sum(b.weight for b in ballots))


@pytest.mark.parametrize("name", ["threshold-weighted-revotes", "nh-mixnet-RFC"])
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bad=st.lists(st.integers(0, 1000), min_size=1, max_size=3),
    cuts=st.lists(st.integers(0, 1000), max_size=4),
    order=st.lists(st.integers(0, 100), min_size=1, max_size=6),
)
def test_the_first_error_is_the_one_compute_encrypted_tally_raises(
    reference_dir: Path, name: str, bad: list[int], cuts: list[int], order: list[int]
) -> None:
    """Ballots that do not fit (an answer dropped; weight 2 on an NH question) make the
    fold raise exactly the error of the whole computation, whatever the chunks."""
    election, _creds, ballots = counted(reference_dir, name)
    broken = list(ballots)
    for k in bad:
        i = k % len(broken)
        b = broken[i]
        if name.startswith("nh") and k % 2:
            broken[i] = replace(b, weight=2)
        else:
            broken[i] = replace(b, ballot=replace(b.ballot, answers=b.ballot.answers[:-1]))
    # tally_part parses the raw bytes: give it ballots whose bytes say what was broken
    raws = [
        b.raw if b.ballot is ballots[i].ballot else to_bytes(b.ballot.to_json())
        for i, b in enumerate(broken)
    ]
    broken = [
        replace(b, raw=r, tracker=b64_sha256(r), hex_hash=sha256_hex(r))
        for b, r in zip(broken, raws, strict=True)
    ]
    with pytest.raises(TallyError) as expected:
        compute_encrypted_tally(election, broken)
    with pytest.raises(TallyError) as got:
        fold(election, split(items(broken), cuts, order)).result()
    assert got.value.message == expected.value.message
    assert got.value.where == expected.value.where


def test_pipeline_keeps_order_and_bounds_the_chunks_in_flight(reference_dir: Path) -> None:
    election, creds, ballots = counted(reference_dir, "threshold-weighted-revotes")
    xs = items(ballots)
    chunks = [xs[i : i + 1] for i in range(len(xs))] * 3
    with WorkerPool(election, creds, jobs=2) as pool:
        pipe = Pipeline(pool, tally_chunk, lambda c: tally_part(election, c), limit=3)
        got = []
        for chunk in chunks:
            got += pipe.submit(chunk)
            assert pipe.in_flight <= 3
        got += pipe.finish()
        assert pipe.in_flight == 0
    assert got == [tally_part(election, c) for c in chunks]
    # the twin: unordered results (as_completed) would not be the list of the chunks' parts
    assert got != [tally_part(election, c) for c in reversed(chunks)]


def all_ballots(reference_dir: Path, name: str) -> list[CheckedBallot]:
    rec = read_archive(reference_dir / name)
    creds = PublicCredentials.from_bytes(rec.public_credentials)
    out = []
    for b in rec.ballots:
        ballot = Ballot.from_bytes(b.raw)
        cred = str(ballot.credential)
        out.append(
            CheckedBallot(ballot, b.raw, b64_sha256(b.raw), b.hash, cred, creds.weight(cred))
        )
    return out


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(0, 1000), max_size=5))
def test_running_product_with_the_superseded_divided_out_is_the_tally(
    reference_dir: Path, cuts: list[int]
) -> None:
    election, _creds, counted_ballots = counted(reference_dir, "threshold-weighted-revotes")
    ballots = all_ballots(reference_dir, "threshold-weighted-revotes")
    expected = compute_encrypted_tally(election, counted_ballots)
    indexed = list(enumerate(ballots))
    bounds = sorted({0, len(indexed), *(c % (len(indexed) + 1) for c in cuts)})
    running = RunningTally(election)
    last: dict[str, int] = {}
    for a, b in itertools.pairwise(bounds):
        running.add(chunk_tally(election, indexed[a:b]))
        for i, ballot in indexed[a:b]:
            if ballot.credential in last:
                j = last[ballot.credential]
                running.supersede(j, ballots[j].hex_hash, ballot.credential, ballots[j].weight)
            last[ballot.credential] = i
    gone = [(i, ballots[i].raw, h, c, w) for i, (h, c, w) in sorted(running.superseded.items())]
    assert gone, "the archive has revotes"
    divide = tally_part(election, gone)
    assert running.result(divide) == expected
    # the twin: without dividing the superseded ballots out, the tally is not the same
    assert running.result(None) != expected
