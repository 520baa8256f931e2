"""Review fix: a trustee decrypts only the tally of the archive's valid ballots, never
ciphertexts the server put in the EncryptedTally event (one voter's ciphertext, or a value
outside the group)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gmpy2 import mpz

from viche.crypto.elgamal import Ciphertext
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.errors import FormatError, GroupMembershipError, Location, TallyError
from viche.protocol import codec
from viche.protocol.ballot import Ballot
from viche.protocol.election import ElectionTemplate
from viche.protocol.tally import EncryptedTally, SizedEncryptedTally
from viche.record import ArchiveWriter, resolve_archive
from viche.record.events import EventType
from viche.service import archive as arch
from viche.service import shuffle as shuffles
from viche.service import tally as svc
from viche.service.election_run import ElectionRun, Stop, Vote
from viche.testing.factories import make_election, plan_for


@pytest.fixture(scope="module")
def voted(tmp_path_factory: pytest.TempPathFactory) -> ElectionRun:
    run, _ = make_election(
        tmp_path_factory.mktemp("review-decrypt") / "e", plan_for(voters=2, stop=Stop.BALLOTS)
    )
    return run


def _copy(run: ElectionRun, tmp_path: Path) -> Path:
    target = tmp_path / "archive"
    shutil.copytree(run.archive.parent, target)
    return target


def _close_with(directory: Path, rows: tuple[tuple[Ciphertext, ...], ...]) -> None:
    """What a dishonest server does: EndBallots, then a tally of its choosing."""
    tally = EncryptedTally(rows)
    with arch.open_record(directory) as state:
        n = len(state.record.ballots)
    sized = SizedEncryptedTally(n, n, sha256_hex(tally.to_bytes()))
    writer = ArchiveWriter.open(resolve_archive(directory))
    writer.append_many(
        [
            (EventType.END_BALLOTS, []),
            (EventType.ENCRYPTED_TALLY, [tally.to_bytes(), codec.to_bytes(sized.to_json())]),
        ]
    )


def _first_ballot_rows(directory: Path) -> tuple[tuple[Ciphertext, ...], ...]:
    with arch.open_record(directory) as state:
        ballot = Ballot.from_bytes(state.record.ballots[0].raw)
    rows = []
    for answer in ballot.answers:
        choices = answer.choices
        rows.append(tuple(choices) if isinstance(choices, tuple) else (choices,))
    return tuple(rows)


def test_honest_tally_is_decrypted(voted: ElectionRun, tmp_path: Path) -> None:
    directory = _copy(voted, tmp_path)
    with arch.open_record(directory) as state:
        svc.close(state, jobs=1)
        lines = svc.partial_decryption(
            state, svc.single_key(voted.single_keys[0]), None, SeededRandom("d")
        )
        assert svc.check_decryption(state, lines, Location(path=("pd",))) == 1


def test_one_voters_ciphertexts_passed_off_as_the_tally_are_refused(
    voted: ElectionRun, tmp_path: Path
) -> None:
    directory = _copy(voted, tmp_path)
    _close_with(directory, _first_ballot_rows(directory))
    with arch.open_record(directory) as state, pytest.raises(TallyError, match="not the tally"):
        svc.partial_decryption(state, svc.single_key(voted.single_keys[0]), None, SeededRandom("d"))


def test_non_member_tally_is_refused(voted: ElectionRun, tmp_path: Path) -> None:
    directory = _copy(voted, tmp_path)
    rows = _first_ballot_rows(directory)
    p = voted.election.group.p
    bad = tuple(tuple(Ciphertext(mpz(p - 1), ct.beta) for ct in row) for row in rows)
    _close_with(directory, bad)
    with arch.open_record(directory) as state, pytest.raises(TallyError) as info:
        svc.partial_decryption(state, svc.single_key(voted.single_keys[0]), None, SeededRandom("d"))
    assert str(info.value.where) == "archive / encrypted_tally"


def test_bad_seed_file_is_named(tmp_path: Path) -> None:
    key, dkey = tmp_path / "t.key", tmp_path / "t.dkey"
    key.write_text("not a seed\n")
    dkey.write_text("{}\n")
    with pytest.raises(FormatError) as info:
        svc.threshold_key(BELENIOS_2048, key, dkey)
    assert str(info.value.where) == str(key)


def test_voter_files_with_secrets_are_private(voted: ElectionRun) -> None:
    """The run's plaintext choices and private credentials are mode 0600, its ballots not."""
    voters = voted.ballot_files[0].parent
    secret = [*voters.glob("*.choices.json"), *voters.glob("*.cred")]
    assert len(secret) == 4
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in secret)
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in voted.ballot_files)


NH_TEMPLATE = {
    "description": "review",
    "name": "NH review",
    "questions": [
        {"answers": ["Yes", "No"], "min": 0, "max": 1, "question": "h"},
        {"type": "NonHomomorphic", "value": {"answers": ["A", "B"], "question": "rank"}},
    ],
}


@pytest.fixture(scope="module")
def nh_voted(tmp_path_factory: pytest.TempPathFactory) -> ElectionRun:
    plan = plan_for(
        template=ElectionTemplate.from_json(NH_TEMPLATE),
        group=RFC_3526_2048,
        votes=[Vote(0, [[1, 0], [1, 2]]), Vote(1, [[0, 1], [2, 1]])],
        voters=2,
        stop=Stop.BALLOTS,
    )
    run, _ = make_election(tmp_path_factory.mktemp("review-nh") / "e", plan, seed="review-nh")
    return run


def test_shuffle_of_honest_rows(nh_voted: ElectionRun, tmp_path: Path) -> None:
    directory = _copy(nh_voted, tmp_path)
    with arch.open_record(directory) as state:
        svc.close(state, jobs=1)
        lines = shuffles.shuffle(state, 1, SeededRandom("s"))
        assert shuffles.add_shuffle(state, lines) == 1


def test_shuffle_of_non_member_rows_is_refused(nh_voted: ElectionRun, tmp_path: Path) -> None:
    directory = _copy(nh_voted, tmp_path)
    rows = _first_ballot_rows(directory)
    p = RFC_3526_2048.p
    bad_nh = (Ciphertext(mpz(p - 1), rows[1][0].beta),)
    _close_with(directory, (rows[0], bad_nh))
    with arch.open_record(directory) as state, pytest.raises(GroupMembershipError) as info:
        shuffles.shuffle(state, 1, SeededRandom("s"))
    assert info.value.where.path[:3] == ("archive", "encrypted_tally", "NH rows")
