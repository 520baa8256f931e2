"""Protocol messages against every payload of the reference archives written by belenios-tool.

Each archive is read with :mod:`tarfile` (the record package has its own tests); the event
chain tells which payload has which type. Every payload must re-serialise byte for byte,
every ballot must pass :func:`check_ballot`, and the tally, partial decryptions and result
recomputed here must equal (or verify against) what the tool wrote.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from gmpy2 import mpz

from viche.errors import Location, ProofError, TallyError
from viche.protocol.ballot import Ballot, CheckedBallot, check_ballot
from viche.protocol.codec import dumps
from viche.protocol.election import Election, PublicCredentials, SetupData
from viche.protocol.shuffle import Shuffle
from viche.protocol.tally import (
    EncryptedTally,
    Owned,
    PartialDecryption,
    Result,
    SizedEncryptedTally,
    check_partial_decryption,
    check_result,
    compute_encrypted_tally,
    compute_result,
    last_ballots,
    merge_shuffled,
    sized_tally,
)
from viche.protocol.trustees import Trustees

REFERENCES = [
    "simple-plain-BELENIOS",
    "simple-plain-RFC",
    "threshold-noserver-2of3",
    "threshold-weighted-revotes",
    "large-10x10-BELENIOS",
    "nh-mixnet-RFC",
]


@dataclass
class Archive:
    data: dict[str, bytes]
    events: list[dict[str, object]]
    election: Election = field(init=False)
    trustees: Trustees = field(init=False)
    credentials: PublicCredentials = field(init=False)
    setup: SetupData = field(init=False)

    def __post_init__(self) -> None:
        self.setup = SetupData.from_bytes(self.payload(self.events[0]))
        self.election = Election.from_bytes(self.data[self.setup.election])
        self.trustees = Trustees.from_json(json.loads(self.data[self.setup.trustees]))
        self.credentials = PublicCredentials.from_bytes(self.data[self.setup.credentials])

    def payload(self, event: dict[str, object]) -> bytes:
        return self.data[str(event["payload"])]

    def of_type(self, kind: str) -> list[dict[str, object]]:
        return [e for e in self.events if e["type"] == kind]


def read_archive(path: Path) -> Archive:
    data: dict[str, bytes] = {}
    events: list[dict[str, object]] = []
    with tarfile.open(path, "r:") as tf:
        for member in tf:
            f = tf.extractfile(member)
            assert f is not None
            content = f.read()
            digest, _, kind = member.name.partition(".")
            if kind == "event.json":
                events.append(json.loads(content))
            elif kind == "data.json":
                data[digest] = content
    return Archive(data, events)


@pytest.fixture(scope="module", params=REFERENCES)
def archive(request: pytest.FixtureRequest, reference_dir: Path) -> tuple[str, Archive]:
    name = request.param
    bel = next((reference_dir / name).glob("*.bel"))
    return name, read_archive(bel)


@pytest.fixture(scope="module")
def checked(archive: tuple[str, Archive]) -> list[CheckedBallot]:
    _, a = archive
    return [
        check_ballot(
            a.election, a.payload(e), a.credentials, where=Location(event=int(str(e["height"])))
        )
        for e in a.of_type("Ballot")
    ]


def _tally_for_decryption(a: Archive) -> EncryptedTally:
    (sized_ev,) = a.of_type("EncryptedTally")
    sized = SizedEncryptedTally.from_bytes(a.payload(sized_ev))
    tally = EncryptedTally.from_bytes(a.data[sized.encrypted_tally])
    shuffles = a.of_type("Shuffle")
    if shuffles:
        owned = Owned.from_bytes(a.payload(shuffles[-1]))
        tally = merge_shuffled(a.election, tally, Shuffle.from_bytes(a.data[owned.payload]))
    return tally


def _partials(a: Archive) -> dict[int, PartialDecryption]:
    out: dict[int, PartialDecryption] = {}
    for e in a.of_type("PartialDecryption"):
        owned = Owned.from_bytes(a.payload(e))
        out[owned.owner] = PartialDecryption.from_bytes(a.data[owned.payload])
    return out


# ---------------------------------------------------------------------- codecs


def test_every_payload_reserialises_byte_for_byte(archive: tuple[str, Archive]) -> None:
    name, a = archive
    seen: dict[str, int] = {}

    def same(kind: str, raw: bytes, obj: object) -> None:
        assert dumps(obj).encode() == raw, f"{name}: {kind} differs"
        seen[kind] = seen.get(kind, 0) + 1

    same("setup_data", a.payload(a.events[0]), a.setup.to_json())
    same("election", a.election.raw, a.election.to_json())
    same("trustees", a.data[a.setup.trustees], a.trustees.to_json())
    same("credentials", a.credentials.raw, a.credentials.to_json())
    for e in a.events:
        kind = e["type"]
        if kind == "Ballot":
            raw = a.payload(e)
            same("ballot", raw, Ballot.from_bytes(raw).to_json())
        elif kind == "EncryptedTally":
            sized = SizedEncryptedTally.from_bytes(a.payload(e))
            same("sized", a.payload(e), sized.to_json())
            raw = a.data[sized.encrypted_tally]
            same("tally", raw, EncryptedTally.from_bytes(raw).to_json())
        elif kind in ("Shuffle", "PartialDecryption"):
            owned = Owned.from_bytes(a.payload(e))
            same("owned", a.payload(e), owned.to_json())
            raw = a.data[owned.payload]
            cls = Shuffle if kind == "Shuffle" else PartialDecryption
            same(kind, raw, cls.from_bytes(raw).to_json())
        elif kind == "Result":
            same("result", a.payload(e), Result.from_bytes(a.payload(e)).to_json())
    assert seen["ballot"] == len(a.of_type("Ballot")) > 0
    assert seen["PartialDecryption"] >= 1 and seen["result"] == 1
    assert ("Shuffle" in seen) == a.election.has_nh_questions


def test_election_fingerprint_is_hash_of_exact_bytes(archive: tuple[str, Archive]) -> None:
    _, a = archive
    ballot = Ballot.from_bytes(a.payload(a.of_type("Ballot")[0]))
    assert a.election.fingerprint == ballot.election_hash
    assert a.election.hex_hash == a.setup.election
    # Re-spaced bytes parse to an equal election but hash differently: the raw bytes count.
    spaced = Election.from_bytes(a.election.raw.replace(b'","', b'", "', 1))
    assert spaced.to_json() == a.election.to_json()
    assert spaced.fingerprint != a.election.fingerprint


# ---------------------------------------------------------------------- ballots and tally


def test_every_reference_ballot_passes_all_checks(
    archive: tuple[str, Archive], checked: list[CheckedBallot]
) -> None:
    _, a = archive
    assert len(checked) == len(a.of_type("Ballot"))
    for cb in checked:
        assert cb.weight == a.credentials.weight(cb.credential) >= 1


def test_encrypted_tally_equals_the_tool(
    archive: tuple[str, Archive], checked: list[CheckedBallot]
) -> None:
    _, a = archive
    (ev,) = a.of_type("EncryptedTally")
    sized = SizedEncryptedTally.from_bytes(a.payload(ev))
    counted = last_ballots(checked)
    tally = compute_encrypted_tally(a.election, counted)
    assert tally.to_bytes() == a.data[sized.encrypted_tally]
    assert sized_tally(tally, counted) == sized


def test_tally_without_last_ballot_rule_differs(
    archive: tuple[str, Archive], checked: list[CheckedBallot]
) -> None:
    """Failure twin: dropping one counted ballot changes the tally."""
    _, a = archive
    (ev,) = a.of_type("EncryptedTally")
    sized = SizedEncryptedTally.from_bytes(a.payload(ev))
    counted = last_ballots(checked)
    assert (
        compute_encrypted_tally(a.election, counted[1:]).to_bytes()
        != (a.data[sized.encrypted_tally])
    )


# ---------------------------------------------------------------------- decryption and result


def test_partial_decryptions_verify(archive: tuple[str, Archive]) -> None:
    _, a = archive
    tally = _tally_for_decryption(a)
    for owner, pd in _partials(a).items():
        key = a.trustees.trustee(owner).key.public_key
        check_partial_decryption(a.election, tally, pd, key, where=Location(trustee=owner))


def test_tampered_partial_decryption_is_rejected(archive: tuple[str, Archive]) -> None:
    _, a = archive
    tally = _tally_for_decryption(a)
    owner, pd = next(iter(_partials(a).items()))
    key = a.trustees.trustee(owner).key.public_key
    g = a.election.group
    rows = [list(r) for r in pd.decryption_factors]
    rows[0][0] = g.mul(rows[0][0], g.g)
    bad = replace(pd, decryption_factors=tuple(tuple(r) for r in rows))
    with pytest.raises(ProofError) as err:
        check_partial_decryption(a.election, tally, bad, key, where=Location(path=("pd",)))
    assert (err.value.where.question, err.value.where.answer) == (1, 1)
    assert str(err.value.where) == "question 1 / answer 1 / pd"
    # The proof of another trustee's factor does not verify against this trustee's key.
    other = g.powg(mpz(12345))
    with pytest.raises(ProofError):
        check_partial_decryption(a.election, tally, pd, other)


def test_result_equals_the_tool(archive: tuple[str, Archive], reference_dir: Path) -> None:
    name, a = archive
    tally = _tally_for_decryption(a)
    (ev,) = a.of_type("EncryptedTally")
    sized = SizedEncryptedTally.from_bytes(a.payload(ev))
    partials = _partials(a)
    result = compute_result(a.election, a.trustees, tally, partials, sized.total_weight)
    (res_ev,) = a.of_type("Result")
    assert dumps(result.to_json()).encode() == a.payload(res_ev)
    assert result.to_json() == json.loads((reference_dir / name / "result.json").read_text())
    check_result(a.election, a.trustees, tally, partials, Result.from_bytes(a.payload(res_ev)))


def test_tampered_result_is_rejected(archive: tuple[str, Archive]) -> None:
    _, a = archive
    tally = _tally_for_decryption(a)
    partials = _partials(a)
    (res_ev,) = a.of_type("Result")
    data = json.loads(a.payload(res_ev))
    first = data["result"][0]
    if isinstance(first[0], list):
        first[0][0] = (first[0][0] + 1) % 256
    else:
        first[0] += 1
    with pytest.raises(TallyError) as err:
        check_result(a.election, a.trustees, tally, partials, Result.from_json(data))
    assert (err.value.where.question, err.value.where.answer) == (1, 1)
    assert str(err.value.where) == "question 1 / answer 1 / result"


def test_missing_partial_decryption_is_rejected(archive: tuple[str, Archive]) -> None:
    _, a = archive
    tally = _tally_for_decryption(a)
    partials = _partials(a)
    partials.pop(min(partials))
    with pytest.raises(TallyError, match="partial decryption"):
        compute_result(a.election, a.trustees, tally, partials, 100)


def test_loose_reference_files_reserialise(
    archive: tuple[str, Archive], reference_dir: Path
) -> None:
    """setup/election.json, setup/trustees.json, ballots/*.json and result.json (files the
    harness kept beside the archive, each with a final newline) re-serialise exactly."""
    name, a = archive
    d = reference_dir / name

    def body(path: Path) -> bytes:
        raw = path.read_bytes()
        assert raw.endswith(b"\n")
        return raw[:-1]

    election = body(d / "setup" / "election.json")
    assert election == a.election.raw
    assert dumps(Election.from_bytes(election).to_json()).encode() == election
    trustees = body(d / "setup" / "trustees.json")
    assert dumps(Trustees.from_json(json.loads(trustees)).to_json()).encode() == trustees
    files = sorted((d / "ballots").glob("*.json"))
    in_archive = {a.payload(e) for e in a.of_type("Ballot")}
    assert len(files) == len(in_archive)
    for f in files:
        raw = body(f)
        assert raw in in_archive
        assert dumps(Ballot.from_bytes(raw).to_json()).encode() == raw
    result = body(d / "result.json")
    assert dumps(Result.from_bytes(result).to_json()).encode() == result
