"""Archive, ballot and tally use cases and commands, each success with its failure twin.

A refused input must leave the archive byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from viche.crypto.credentials import generate_credential
from viche.crypto.rng import SeededRandom
from viche.errors import PhaseError, ReplayedBallotError, UnknownCredentialError
from viche.service import archive as arch
from viche.service import ballot as ballots
from viche.service import tally
from viche.service.cast import cast_ballot
from viche.service.election_run import ElectionRun, Stop
from viche.testing.cli import CliRun, run_cli
from viche.testing.factories import expected, make_election, plan_for


@pytest.fixture(scope="module")
def voted(tmp_path_factory: pytest.TempPathFactory) -> ElectionRun:
    """3 voters with 1 Single trustee; ballots cast, vote still open."""
    run, _ = make_election(
        tmp_path_factory.mktemp("voted") / "e", plan_for(voters=3, stop=Stop.BALLOTS)
    )
    return run


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> ElectionRun:
    run, _ = make_election(
        tmp_path_factory.mktemp("closed") / "e", plan_for(voters=2, stop=Stop.CLOSED)
    )
    return run


def copy_of(run: ElectionRun, tmp_path: Path) -> Path:
    """A private copy of the election's public archive directory."""
    target = tmp_path / "archive"
    shutil.copytree(run.archive.parent, target)
    return target


def refused(run: CliRun, archive_dir: Path, before: bytes, fragment: str) -> None:
    """Exit code 2, one line naming the problem, archive unchanged."""
    assert run.code == 2, run.stdout + run.stderr
    assert fragment in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    (bel,) = archive_dir.glob("*.bel")
    assert bel.read_bytes() == before


def bel_bytes(directory: Path) -> bytes:
    (bel,) = directory.glob("*.bel")
    return bel.read_bytes()


# ---------------------------------------------------------------------- archive init


def test_init_refuses_a_second_archive(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy_of(voted, tmp_path)
    before = bel_bytes(d)
    adm = voted.directory / "administrator"
    (pub,) = (voted.directory / "credential-authority").glob("*.pubcreds")
    run = run_cli(
        "archive", "init", "--dir", str(d), "--election", str(adm / "election.json"),
        "--trustees", str(adm / "trustees.json"), "--public-creds", str(pub),
    )  # fmt: skip
    refused(run, d, before, "already holds an archive")


def test_init_checks_the_election_key(voted: ElectionRun, tmp_path: Path) -> None:
    adm = voted.directory / "administrator"
    (pub,) = (voted.directory / "credential-authority").glob("*.pubcreds")
    other, _ = make_election(tmp_path / "other", plan_for(voters=1, stop=Stop.SETUP), seed="x")
    target = tmp_path / "new"
    target.mkdir()
    run = run_cli(
        "archive", "init", "--dir", str(target), "--election", str(adm / "election.json"),
        "--trustees", str(other.directory / "administrator" / "trustees.json"),
        "--public-creds", str(pub),
    )  # fmt: skip
    assert run.code == 2 and "not the key of these trustees" in run.stderr
    assert list(target.iterdir()) == []


def test_init_names_a_malformed_credentials_file(voted: ElectionRun, tmp_path: Path) -> None:
    adm = voted.directory / "administrator"
    bad = tmp_path / "creds.json"
    bad.write_text('["123", ')
    target = tmp_path / "new"
    target.mkdir()
    run = run_cli(
        "archive", "init", "--dir", str(target), "--election", str(adm / "election.json"),
        "--trustees", str(adm / "trustees.json"), "--public-creds", str(bad),
    )  # fmt: skip
    assert run.code == 2 and "creds.json" in run.stderr and "invalid JSON" in run.stderr
    assert list(target.iterdir()) == []


# ---------------------------------------------------------------------- ballots


def _make_ballot_file(run: ElectionRun, tmp_path: Path, voter: int, choices: object) -> Path:
    cred = run.directory / "voters" / f"{voter:03d}.cred"
    choice_file = tmp_path / f"choices{voter}.json"
    choice_file.write_text(json.dumps(choices))
    res = run_cli(
        "ballot", "generate", "--dir", str(run.archive.parent), "--privcred", str(cred),
        "--ballot", str(choice_file),
    )  # fmt: skip
    assert res.code == 0, res.stderr
    assert "smart ballot tracker" in res.stderr
    out = tmp_path / f"ballot{voter}.json"
    out.write_text(res.stdout)
    return out


def test_revote_is_accepted_and_replay_refused(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy_of(voted, tmp_path)
    ballot = _make_ballot_file(voted, tmp_path, 2, [[0, 0, 1, 0, 0], [1, 0]])
    res = run_cli("archive", "add-ballot", "--dir", str(d), str(ballot))
    assert res.code == 0, res.stderr
    assert "re-vote" in res.stdout
    before = bel_bytes(d)
    refused(run_cli("archive", "add-ballot", "--dir", str(d), str(ballot)), d, before, "replayed")


def test_replay_of_an_earlier_ballot_is_refused(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy_of(voted, tmp_path)
    before = bel_bytes(d)
    with arch.open_record(d) as state, pytest.raises(ReplayedBallotError):
        cast_ballot(state, arch.ballot_from_file(voted.ballot_files[0]))
    assert bel_bytes(d) == before


def test_tampered_ballot_is_refused(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy_of(voted, tmp_path)
    before = bel_bytes(d)
    obj = json.loads(voted.ballot_files[0].read_text())
    proof = obj["answers"][0]["individual_proofs"][0][0]
    proof["response"] = str(int(proof["response"]) + 1)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(obj, separators=(",", ":")))
    refused(
        run_cli("archive", "add-ballot", "--dir", str(d), str(bad)), d, before, "signature hash"
    )


def test_non_canonical_ballot_is_refused(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy_of(voted, tmp_path)
    before = bel_bytes(d)
    obj = json.loads(voted.ballot_files[0].read_text())
    bad = tmp_path / "spaced.json"
    bad.write_text(json.dumps(obj))  # default separators put spaces in
    refused(run_cli("archive", "add-ballot", "--dir", str(d), str(bad)), d, before, "canonical")


def test_unknown_credential_is_refused(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy_of(voted, tmp_path)
    before = bel_bytes(d)
    with arch.open_record(d) as state:
        election = state.election
    rng = SeededRandom("stranger")
    made = ballots.generate_ballot(
        election, None, generate_credential(rng), [[0, 1, 0, 0, 0], [0, 1]], rng
    )
    bad = tmp_path / "stranger.json"
    bad.write_bytes(made.raw)
    refused(
        run_cli("archive", "add-ballot", "--dir", str(d), str(bad)), d, before, "not in the list"
    )


def test_ballot_of_another_election_is_refused(
    voted: ElectionRun, closed: ElectionRun, tmp_path: Path
) -> None:
    d = copy_of(voted, tmp_path)
    before = bel_bytes(d)
    res = run_cli("archive", "add-ballot", "--dir", str(d), str(closed.ballot_files[0]))
    refused(res, d, before, "election")


def test_malformed_and_missing_ballot_files(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy_of(voted, tmp_path)
    before = bel_bytes(d)
    bad = tmp_path / "cut.json"
    bad.write_text(voted.ballot_files[0].read_text()[:100])
    refused(run_cli("archive", "add-ballot", "--dir", str(d), str(bad)), d, before, "cut.json")
    refused(
        run_cli("archive", "add-ballot", "--dir", str(d), str(tmp_path / "nope.json")),
        d,
        before,
        "not found",
    )


def test_ballot_after_close_is_refused(closed: ElectionRun, tmp_path: Path) -> None:
    d = copy_of(closed, tmp_path)
    before = bel_bytes(d)
    with arch.open_record(d) as state, pytest.raises(PhaseError):
        cast_ballot(state, arch.ballot_from_file(closed.ballot_files[-1]))
    assert bel_bytes(d) == before


@pytest.mark.parametrize(
    ("choices", "fragment"),
    [
        ([[0, 1, 1, 0, 0], [1, 0]], "2 answers selected"),
        ([[0, 1, 0, 0, 0]], "1 answer list(s) for 2 question(s)"),
        ([[0, 1, 0, 0, 0], [1, "x"]], "not an integer"),
        ([[1, 1, 0, 0, 0], [1, 0]], "blank vote"),
    ],
)
def test_wrong_choices_are_refused(
    voted: ElectionRun, tmp_path: Path, choices: object, fragment: str
) -> None:
    choice_file = tmp_path / "choices.json"
    choice_file.write_text(json.dumps(choices))
    res = run_cli(
        "ballot", "generate", "--dir", str(voted.archive.parent), "--privcred",
        str(voted.directory / "voters" / "001.cred"), "--ballot", str(choice_file),
    )  # fmt: skip
    assert res.code == 2 and res.stdout == ""
    assert fragment in res.stderr, res.stderr


def test_wrong_credential_is_refused_before_encrypting(voted: ElectionRun, tmp_path: Path) -> None:
    cred = tmp_path / "cred"
    cred.write_text(generate_credential(SeededRandom("other")) + "\n")
    choice_file = tmp_path / "choices.json"
    choice_file.write_text("[[0,1,0,0,0],[1,0]]")
    res = run_cli(
        "ballot", "generate", "--dir", str(voted.archive.parent), "--privcred", str(cred),
        "--ballot", str(choice_file),
    )  # fmt: skip
    assert res.code == 2 and res.stdout == ""
    assert "not one of this election's credentials" in res.stderr
    with arch.open_record(voted.archive) as state, pytest.raises(UnknownCredentialError):
        ballots.generate_ballot(
            state.election, state.credentials, cred.read_text().strip(), [[0, 1, 0, 0, 0], [1, 0]],
            SeededRandom("x"),
        )  # fmt: skip


def test_malformed_credential_file(voted: ElectionRun, tmp_path: Path) -> None:
    cred = tmp_path / "cred"
    cred.write_text("not-a-credential\n")
    res = run_cli(
        "ballot", "generate", "--dir", str(voted.archive.parent), "--privcred", str(cred),
        "--ballot", str(tmp_path / "missing.json"),
    )  # fmt: skip
    assert res.code == 2 and str(cred) in res.stderr


# ---------------------------------------------------------------------- close, tally


def test_close_decrypt_result(voted: ElectionRun, tmp_path: Path) -> None:
    d = copy_of(voted, tmp_path)
    res = run_cli("archive", "close", "--dir", str(d))
    assert res.code == 0, res.stderr
    assert "3 counted" in res.stdout
    before = bel_bytes(d)
    refused(run_cli("archive", "close", "--dir", str(d)), d, before, "already closed")
    refused(run_cli("tally", "result", "--dir", str(d)), d, before, "missing partial decryption")
    (key,) = (voted.directory / "trustees").glob("*.privkey")
    dec = run_cli("tally", "decrypt", "--dir", str(d), "--privkey", str(key))
    assert dec.code == 0, dec.stderr
    lines = dec.stdout.splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["owner"] == 1
    pd = tmp_path / "pd.txt"
    pd.write_text(dec.stdout)
    # a tampered factor is refused, the archive is unchanged
    obj = json.loads(lines[0])
    obj["decryption_factors"][0][0] = str(int(obj["decryption_factors"][0][0]) + 1)
    bad = json.dumps(obj, separators=(",", ":"))
    owned = json.dumps(
        {"owner": 1, "payload": hashlib.sha256(bad.encode()).hexdigest()},
        separators=(",", ":"),
    )
    badf = tmp_path / "bad.txt"
    badf.write_text(bad + "\n" + owned + "\n")
    refused(run_cli("tally", "add-decryption", "--dir", str(d), str(badf)), d, before, "question 1")
    assert run_cli("tally", "add-decryption", "--dir", str(d), str(pd)).code == 0
    before = bel_bytes(d)
    refused(run_cli("tally", "add-decryption", "--dir", str(d), str(pd)), d, before, "already")
    res = run_cli("tally", "result", "--dir", str(d))
    assert res.code == 0, res.stderr
    assert "Who should chair the assembly?" in res.stdout and "blank" in res.stdout
    with arch.open_record(d) as state:
        _, rows = tally.read_result(state)
    assert [r.question for r in rows] == [q.question for q in voted.election.questions]


def test_decrypt_with_a_key_of_another_trustee(
    voted: ElectionRun, closed: ElectionRun, tmp_path: Path
) -> None:
    d = copy_of(closed, tmp_path)
    before = bel_bytes(d)
    (key,) = (voted.directory / "trustees").glob("*.privkey")
    res = run_cli("tally", "decrypt", "--dir", str(d), "--privkey", str(key))
    assert res.code == 2 and "not the key of any trustee" in res.stderr
    res = run_cli("tally", "decrypt", "--dir", str(d), "--privkey", str(key), "--trustee-id", "1")
    assert res.code == 2 and "not the key of trustee 1" in res.stderr
    assert bel_bytes(d) == before


def test_decrypt_needs_a_key(closed: ElectionRun) -> None:
    res = run_cli("tally", "decrypt", "--dir", str(closed.archive.parent))
    assert res.code == 2 and "--privkey" in res.stderr


def test_full_run_gives_the_expected_result(tmp_path: Path) -> None:
    run, plan = make_election(tmp_path / "e", plan_for(voters=3, blank_votes=1, revotes=1))
    assert run.result is not None
    got = [[*([r.blank] if r.blank is not None else []), *r.counts] for r in run.result]
    assert got == expected(run, plan)


def test_close_refuses_an_archive_holding_an_invalid_ballot(
    voted: ElectionRun, tmp_path: Path
) -> None:
    """Failure twin of close: a ballot appended without checks (as ``belenios-tool archive
    add-event`` allows) is found when the vote is closed; nothing is appended."""
    from viche.record import ArchiveWriter
    from viche.record.events import EventType

    d = copy_of(voted, tmp_path)
    obj = json.loads(voted.ballot_files[0].read_text())
    obj["signature"]["proof"]["challenge"] = "1"
    (bel,) = d.glob("*.bel")
    ArchiveWriter.open(bel).append(
        EventType.BALLOT, [json.dumps(obj, separators=(",", ":")).encode()]
    )
    before = bel.read_bytes()
    res = run_cli("archive", "close", "--dir", str(d))
    refused(res, d, before, "invalid")
    assert "event 4" in res.stderr
