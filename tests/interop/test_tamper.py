"""Tampered copies of reference archives: Viche's verifier rejects each one naming the check
and the object at fault; belenios-tool's ``election verify`` is run on the same copies for
comparison (it rejects all of them except the replayed ballot, which it accepts)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from gmpy2 import mpz

from support.belenios import tool_verifies
from viche.crypto.credentials import credential_secret
from viche.crypto.group import group_by_name
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import sign_ballot
from viche.protocol.ballot import Ballot, Signature, ballot_bytes, signature_hash
from viche.record.tar import encode_member
from viche.testing.archive_edit import event_type, rebuild, split
from viche.verify import Status, VerificationReport, verify_record

pytestmark = pytest.mark.interop


def raw_join(members: list[tuple[str, bytes]], mtime: int) -> bytes:
    return b"".join(encode_member(n, c, mtime) for n, c in members)


def ballot_positions(members: list[tuple[str, bytes]]) -> list[int]:
    """Indices of the ballot data members (the member just before each Ballot event)."""
    return [
        i - 1
        for i, (n, c) in enumerate(members)
        if n.endswith(".event.json") and event_type(c) == "Ballot"
    ]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "x.bel").write_bytes(data)
    return d


def belenios_accepts(tool: str, d: Path) -> bool:
    return tool_verifies(tool, d)[0]


def failures_of(report: VerificationReport, check: str) -> list:  # type: ignore[type-arg]
    return report.check(check).failures


@pytest.fixture()
def simple(reference_dir: Path) -> tuple[list[tuple[str, bytes]], int, Path]:
    d = reference_dir / "simple-plain-BELENIOS"
    members, mtime = split(next(d.glob("*.bel")))
    return members, mtime, d


def test_untouched_rebuilt_copy_passes_both(
    simple: tuple[list[tuple[str, bytes]], int, Path], tmp_path: Path, belenios_tool: str
) -> None:
    members, mtime, ref = simple
    data = rebuild(members, mtime)
    assert data == next(ref.glob("*.bel")).read_bytes()  # the rebuilder is faithful
    d = write(tmp_path, "same", data)
    report = verify_record(d, jobs=1)
    assert report.ok, report.failures
    assert belenios_accepts(belenios_tool, d)


def _alter_ballot(
    members: list[tuple[str, bytes]], k: int, change: Callable[[dict[str, object]], None]
) -> tuple[list[tuple[str, bytes]], str]:
    """Apply ``change`` to the JSON of ballot k (0-based); returns the members and the
    ballot's new hex hash."""
    pos = ballot_positions(members)[k]
    name, content = members[pos]
    obj = json.loads(content)
    change(obj)
    new = json.dumps(obj, separators=(",", ":")).encode()
    out = list(members)
    out[pos] = (name, new)
    return out, sha256_hex(new)


def test_changed_ciphertext_rechained(
    simple: tuple[list[tuple[str, bytes]], int, Path], tmp_path: Path, belenios_tool: str
) -> None:
    members, mtime, _ = simple

    def change(b: dict) -> None:  # type: ignore[type-arg]
        ct = b["answers"][0]["choices"][0]
        ct["alpha"], ct["beta"] = ct["beta"], ct["alpha"]  # still group elements

    tampered, bhash = _alter_ballot(members, 1, change)
    d = write(tmp_path, "ct", rebuild(tampered, mtime))
    report = verify_record(d, jobs=1)
    assert not report.ok
    fails = failures_of(report, "ballots")
    assert len(fails) == 1
    assert fails[0].height == 2 and fails[0].ballot == bhash
    assert fails[0].code == "V2002"  # the signature hash no longer matches
    assert report.check("record.chain").status is Status.PASSED
    assert not belenios_accepts(belenios_tool, d)


def test_wrong_proof_with_a_valid_signature(
    simple: tuple[list[tuple[str, bytes]], int, Path], tmp_path: Path, belenios_tool: str
) -> None:
    """Only the overall proof of question 2 is wrong: the ballot is re-signed with the
    voter's credential (from the reference secrets), so nothing else fails."""
    members, mtime, ref = simple
    election = json.loads(members[1][1])
    group = group_by_name(election["group"])
    secrets_by_public = {}
    for line in (ref / "secrets" / "private_creds.txt").read_text().splitlines():
        _, cred = line.split()
        s = credential_secret(group, cred, election["uuid"])
        secrets_by_public[str(group.powg(s))] = s
    k = 3
    pos = ballot_positions(members)[k]
    obj = json.loads(members[pos][1])
    proof = obj["answers"][1]["overall_proof"][0]
    proof["response"] = str((int(proof["response"]) + 1) % int(group.q))
    ballot = Ballot.from_bytes(json.dumps(obj, separators=(",", ":")).encode())
    h = signature_hash(ballot)
    sig = sign_ballot(group, secrets_by_public[str(ballot.credential)], h, SeededRandom("t"))
    resigned = Ballot(
        ballot.election_uuid,
        ballot.election_hash,
        ballot.credential,
        ballot.answers,
        Signature(h, sig),
    )
    raw = ballot_bytes(resigned)
    tampered = list(members)
    tampered[pos] = (members[pos][0], raw)
    d = write(tmp_path, "proof", rebuild(tampered, mtime))
    report = verify_record(d, jobs=1)
    fails = report.failures
    assert [f.check for f in fails] == ["ballots"]
    f = fails[0]
    assert (f.code, f.height, f.question, f.ballot) == ("V2002", k + 1, 2, sha256_hex(raw))
    assert f.where.path == ("overall proof",)
    # the JSON report: the location as data, its rendering, and the flat keys
    data = f.to_json()
    assert data["where"] == {
        "event": k + 1,
        "ballot": sha256_hex(raw),
        "question": 2,
        "path": ["overall proof"],
    }
    assert data["at"] == f"event {k + 1} / ballot {sha256_hex(raw)} / question 2 / overall proof"
    assert (data["height"], data["ballot"], data["question"]) == (k + 1, sha256_hex(raw), 2)
    assert not belenios_accepts(belenios_tool, d)


def test_broken_chain(
    simple: tuple[list[tuple[str, bytes]], int, Path], tmp_path: Path, belenios_tool: str
) -> None:
    members, mtime, _ = simple
    pos = ballot_positions(members)[2]
    broken = members[:pos] + members[pos + 2 :]  # drop a ballot without re-chaining
    d = write(tmp_path, "chain", raw_join(broken, mtime))
    report = verify_record(d, jobs=1)
    fails = failures_of(report, "record.chain")
    assert len(fails) == 1 and fails[0].code == "V4002"
    assert fails[0].height == 3  # the event after the hole names the wrong parent
    assert report.readable  # a readable archive whose chain is wrong: exit code 1
    assert not belenios_accepts(belenios_tool, d)


def test_dropped_ballot_rechained(
    simple: tuple[list[tuple[str, bytes]], int, Path], tmp_path: Path, belenios_tool: str
) -> None:
    members, mtime, _ = simple
    pos = ballot_positions(members)[2]
    d = write(tmp_path, "drop", rebuild(members[:pos] + members[pos + 2 :], mtime))
    report = verify_record(d, jobs=1)
    assert report.check("ballots").status is Status.PASSED
    fails = failures_of(report, "tally.encrypted")
    assert fails and fails[0].code == "V3006"
    assert "num_tallied" in fails[0].message
    assert not belenios_accepts(belenios_tool, d)


def test_replayed_ballot_rejected_where_belenios_accepts_it(
    simple: tuple[list[tuple[str, bytes]], int, Path], tmp_path: Path, belenios_tool: str
) -> None:
    members, mtime, _ = simple
    positions = ballot_positions(members)
    first = members[positions[0] : positions[0] + 2]
    last = positions[-1] + 2
    replayed = members[:last] + first + members[last:]
    d = write(tmp_path, "replay", rebuild(replayed, mtime))
    report = verify_record(d, jobs=1)
    fails = report.failures
    assert [f.check for f in fails] == ["ballots.replay"]
    f = fails[0]
    assert f.code == "V3002" and f.height == len(positions) + 1
    assert f.ballot == sha256_hex(members[positions[0]][1])
    assert "event 1" in f.message
    assert belenios_accepts(belenios_tool, d)  # the documented gap in belenios-tool


def test_edited_result(
    simple: tuple[list[tuple[str, bytes]], int, Path], tmp_path: Path, belenios_tool: str
) -> None:
    members, mtime, _ = simple
    i = (
        next(
            k
            for k, (n, c) in enumerate(members)
            if n.endswith(".event.json") and event_type(c) == "Result"
        )
        - 1
    )
    obj = json.loads(members[i][1])
    obj["result"][0][0] += 1
    tampered = list(members)
    tampered[i] = (members[i][0], json.dumps(obj, separators=(",", ":")).encode())
    d = write(tmp_path, "result", rebuild(tampered, mtime))
    report = verify_record(d, jobs=1)
    fails = report.failures
    assert [f.check for f in fails] == ["result"]
    assert fails[0].code == "V3006" and fails[0].where.question == 1
    assert fails[0].height == 10
    assert not belenios_accepts(belenios_tool, d)


def test_wrong_partial_decryption_threshold(
    reference_dir: Path, tmp_path: Path, belenios_tool: str
) -> None:
    ref = reference_dir / "threshold-noserver-2of3"
    members, mtime = split(next(ref.glob("*.bel")))
    group = group_by_name(json.loads(members[1][1])["group"])
    i = next(
        k
        for k, (n, c) in enumerate(members)
        if n.endswith(".event.json") and event_type(c) == "PartialDecryption"
    )
    pd_pos, owned_pos = i - 2, i - 1
    owner = json.loads(members[owned_pos][1])["owner"]
    obj = json.loads(members[pd_pos][1])
    f0 = mpz(obj["decryption_factors"][1][2])
    obj["decryption_factors"][1][2] = str(f0 * group.g % group.p)
    tampered = list(members)
    tampered[pd_pos] = (members[pd_pos][0], json.dumps(obj, separators=(",", ":")).encode())
    d = write(tmp_path, "pd", rebuild(tampered, mtime))
    report = verify_record(d, jobs=1)
    fails = failures_of(report, "decryption.partial")
    assert len(fails) == 1
    f = fails[0]
    assert (f.code, f.trustee, f.question, f.answer) == ("V2002", owner, 2, 3)  # item 3
    # with 2 of 3 decryptions needed and 2 present, the result cannot be recomputed
    assert report.check("result").status is Status.FAILED
    assert not belenios_accepts(belenios_tool, d)


def test_unreadable_archive(tmp_path: Path) -> None:
    d = tmp_path / "garbage"
    d.mkdir()
    (d / "x.bel").write_bytes(b"not a tar archive" * 40)
    report = verify_record(d, jobs=1)
    assert not report.readable and not report.ok
    assert report.check("record.chain").status is Status.FAILED
    assert report.check("ballots").status is Status.NOT_APPLICABLE


def test_missing_archive_raises(tmp_path: Path) -> None:
    from viche.errors import MissingFileError

    with pytest.raises(MissingFileError):
        verify_record(tmp_path / "nothing-here")
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_wrong_trustee_proof_of_knowledge(
    simple: tuple[list[tuple[str, bytes]], int, Path], tmp_path: Path, belenios_tool: str
) -> None:
    members, mtime, _ = simple
    trustees = json.loads(members[2][1])
    pok = trustees[1][1]["pok"]
    pok["response"] = str(int(pok["response"]) + 1)
    tampered = list(members)
    tampered[2] = (members[2][0], json.dumps(trustees, separators=(",", ":")).encode())
    d = write(tmp_path, "pok", rebuild(tampered, mtime))
    report = verify_record(d, jobs=1)
    fails = report.failures
    assert [f.check for f in fails] == ["setup.trustees"]
    assert (fails[0].code, fails[0].trustee) == ("V2002", 2)
    # the later checks are independent and still ran
    assert report.check("ballots").status is Status.PASSED
    assert report.check("result").status is Status.PASSED
    assert not belenios_accepts(belenios_tool, d)


def test_changed_encrypted_tally(
    simple: tuple[list[tuple[str, bytes]], int, Path], tmp_path: Path, belenios_tool: str
) -> None:
    members, mtime, _ = simple
    i = next(
        k
        for k, (n, c) in enumerate(members)
        if n.endswith(".event.json") and event_type(c) == "EncryptedTally"
    )
    pos = i - 2  # encrypted_tally, then sized_encrypted_tally, then the event
    tally = json.loads(members[pos][1])
    a, b = tally[1][2], tally[1][3]
    tally[1][2], tally[1][3] = b, a
    tampered = list(members)
    tampered[pos] = (members[pos][0], json.dumps(tally, separators=(",", ":")).encode())
    d = write(tmp_path, "tally", rebuild(tampered, mtime))
    report = verify_record(d, jobs=1)
    fails = failures_of(report, "tally.encrypted")
    assert {(f.code, f.question, f.answer) for f in fails} == {
        ("V3006", 2, 3),
        ("V3006", 2, 4),
    }
    assert report.check("ballots").status is Status.PASSED
    # the partial decryptions were made on the original tally: their proofs fail too
    assert {f.trustee for f in failures_of(report, "decryption.partial")} == {1, 2}
    assert report.check("result").status is Status.FAILED
    # belenios-tool 2.0 accepts this archive ("all checks passed"): a second gap, found here
    assert belenios_accepts(belenios_tool, d)
