"""cast_ballot: the voting server's use case, over any ElectionStore (here ArchiveStore)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from viche.crypto.group import RFC_3526_2048
from viche.crypto.rng import SeededRandom
from viche.errors import (
    NonCanonicalError,
    PhaseError,
    ProofError,
    ReplayedBallotError,
    UnknownCredentialError,
    VicheError,
)
from viche.protocol.ballot import smart_ballot_tracker
from viche.record import ArchiveStore, EventType, read_archive
from viche.service import ballot as ballots
from viche.service.archive import ElectionRecord, open_record
from viche.service.cast import cast_ballot, check_new_ballot
from viche.service.election_run import ElectionRun, Stop
from viche.testing.factories import make_election, plan_for


@pytest.fixture(scope="module")
def voted(tmp_path_factory: pytest.TempPathFactory) -> ElectionRun:
    plan = plan_for(voters=3, stop=Stop.BALLOTS, group=RFC_3526_2048, seed="cast")
    run, _ = make_election(tmp_path_factory.mktemp("cast") / "e", plan, seed="cast")
    return run


def copy(run: ElectionRun, tmp_path: Path) -> Path:
    target = tmp_path / "archive"
    shutil.copytree(run.archive.parent, target)
    return target


def new_ballot(state: ElectionRecord, run: ElectionRun, voter: int, seed: str) -> bytes:
    choices = [[0, 1, 0, 0, 0], [1, 0]]
    made = ballots.generate_ballot(
        state.election, state.credentials, run.private_credentials[voter], choices,
        SeededRandom(seed),
    )  # fmt: skip
    return made.raw


def test_a_ballot_is_accepted_then_a_revote(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy(voted, tmp_path)
    with open_record(d) as state:
        height = state.store.head().height
        raw = new_ballot(state, voted, 0, "a")
        first = cast_ballot(state, raw)
        assert (first.height, first.revote, first.weight) == (height + 1, True, 1)
        assert first.tracker == smart_ballot_tracker(raw)
        assert state.store.head().hash == first.event_hash
        assert state.store.ballot_count() == 4
    record = read_archive(d)
    assert record.ballots[-1].raw == raw and record.last_hash == first.event_hash


def test_first_ballot_of_a_credential_is_not_a_revote(tmp_path: Path) -> None:
    plan = plan_for(voters=2, votes=[], stop=Stop.BALLOTS, group=RFC_3526_2048, seed="fresh")
    run, _ = make_election(tmp_path / "e", plan, seed="fresh")
    with open_record(run.archive) as state:
        accepted = cast_ballot(state, new_ballot(state, run, 1, "b"))
        assert not accepted.revote and accepted.height == 1
        again = cast_ballot(state, new_ballot(state, run, 1, "c"))
        assert again.revote and again.height == 2


def test_a_replay_is_refused_even_from_a_store_opened_before_it(
    voted: ElectionRun, tmp_path: Path
) -> None:
    d = copy(voted, tmp_path)
    with open_record(d) as first, open_record(d) as second:
        raw = new_ballot(first, voted, 1, "r")
        second.election  # parsed before the other server casts  # noqa: B018
        cast_ballot(first, raw)
        before = (d / voted.archive.name).read_bytes()
        with pytest.raises(ReplayedBallotError):
            cast_ballot(second, raw)
        assert (d / voted.archive.name).read_bytes() == before
        # failure twin: another ballot of the same voter goes through the second server
        assert cast_ballot(second, new_ballot(second, voted, 1, "r2")).revote


@pytest.mark.parametrize("kind", ["spaces", "proof", "stranger"])
def test_refused_ballots_change_nothing(voted: ElectionRun, tmp_path: Path, kind: str) -> None:
    d = copy(voted, tmp_path)
    bel = d / voted.archive.name
    with open_record(d) as state:
        raw = new_ballot(state, voted, 2, "x")
        error: type[VicheError]
        if kind == "spaces":
            raw, error = raw.replace(b",", b", ", 1), NonCanonicalError
        elif kind == "proof":
            obj = json.loads(raw)
            proof = obj["answers"][0]["individual_proofs"][0][0]
            proof["response"] = str(int(proof["response"]) + 1)
            raw, error = json.dumps(obj, separators=(",", ":")).encode(), ProofError
        else:
            other = plan_for(voters=1, stop=Stop.SETUP, group=RFC_3526_2048, seed="other")
            stranger, _ = make_election(tmp_path / "other", other, seed="other")
            cred = stranger.private_credentials[0]
            raw = ballots.generate_ballot(
                state.election, None, cred, [[0, 1, 0, 0, 0], [1, 0]], SeededRandom("s")
            ).raw
            error = UnknownCredentialError
        before = bel.read_bytes()
        with pytest.raises((error, ProofError)):
            cast_ballot(state, raw)
        assert bel.read_bytes() == before
        with pytest.raises((error, ProofError)):
            check_new_ballot(state, raw)


def test_no_ballot_after_the_vote_is_closed(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy(voted, tmp_path)
    with ArchiveStore.open(d) as store:
        state = ElectionRecord(store)
        raw = new_ballot(state, voted, 0, "late")
        store.append(EventType.END_BALLOTS, [], expected_head=store.head().hash)
        before = store.path.read_bytes()
        with pytest.raises(PhaseError, match="closed") as info:
            cast_ballot(state, raw)
        assert info.value.where.file == store.name
        assert store.path.read_bytes() == before
