"""Shuffles against belenios-tool, on the reference mixnet election (nh-mixnet-RFC: one
homomorphic and two non-homomorphic questions, 6 ballots, 2 Single trustees).

* every Shuffle payload of the reference archive round-trips byte for byte and its proofs pass
  our checks, each against the previous rows; a proof checked against the wrong rows fails;
* a shuffle made by Viche on that archive's tally, followed by one made by the tool on top of
  it, EndShuffles, one partial decryption from each side and the tool's result: accepted by
  ``belenios-tool election verify`` and by Viche's verifier, with the expected result;
* tampered Viche shuffles (altered response, commitment, chained challenge, swapped
  ciphertexts): rejected by both, Viche naming the question and the component.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from gmpy2 import mpz

from support.belenios import ToolRun, tool
from support.cli import run_cli
from viche.crypto.elgamal import Ciphertext
from viche.crypto.group import RFC_3526_2048
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.errors import Location, ProofError
from viche.protocol.codec import loads, to_bytes
from viche.protocol.election import Election
from viche.protocol.shuffle import Shuffle, make_shuffle
from viche.protocol.tally import (
    EncryptedTally,
    Owned,
    check_shuffle,
    make_partial_decryption,
    merge_shuffled,
    nh_ciphertexts,
)
from viche.protocol.trustees import Trustees
from viche.record import ArchiveWriter, read_archive, resolve_archive
from viche.record.events import EventType
from viche.service.election_run import ElectionRun, Stop, Vote
from viche.service.setup import read_template
from viche.testing.factories import make_election, plan_for
from viche.verify import Status, verify_record

pytestmark = pytest.mark.interop

NAME = "nh-mixnet-RFC"


@pytest.fixture(scope="module")
def ref(reference_dir: Path) -> Path:
    return reference_dir / NAME


def _tool(belenios_tool: str, *args: str, stdin: bytes = b"") -> ToolRun:
    return tool(belenios_tool, *args, stdin=stdin, ok=False)


def _truncated_copy(ref: Path, dest: Path) -> Path:
    """The reference archive cut just before its first Shuffle (ends with EncryptedTally)."""
    bel = resolve_archive(ref)
    record = read_archive(bel)
    first = next(e for e in record.events if e.type is EventType.SHUFFLE)
    dest.mkdir()
    out = dest / bel.name
    out.write_bytes(bel.read_bytes()[: first.data[0].offset])
    return out


def _privkeys(ref: Path, election: Election, trustees: Trustees) -> dict[int, tuple[Path, mpz]]:
    """Trustee id -> (privkey file, secret), matched by public key."""
    by_public = {t.key.public_key: t.trustee_id for t in trustees.flat()}
    out: dict[int, tuple[Path, mpz]] = {}
    for f in sorted((ref / "secrets").glob("*.privkey")):
        x = mpz(json.loads(f.read_text()))
        out[by_public[election.group.powg(x)]] = (f, x)
    return out


# ---------------------------------------------------------------------- reference shuffles


def test_reference_shuffles_round_trip_and_verify(ref: Path) -> None:
    record = read_archive(resolve_archive(ref))
    election = Election.from_bytes(record.election)
    assert record.encrypted_tally is not None and len(record.shuffles) == 2
    tally = EncryptedTally.from_bytes(record.encrypted_tally.tally_raw)
    for entry in record.shuffles:
        shuffle = Shuffle.from_bytes(entry.payload_raw)
        assert shuffle.to_bytes() == entry.payload_raw
        assert to_bytes(Owned.from_bytes(entry.owned_raw).to_json()) == entry.owned_raw
        check_shuffle(election, tally, shuffle, where=Location(event=entry.height))
        tally = merge_shuffled(election, tally, shuffle)


def test_reference_shuffle_against_the_wrong_rows_fails(ref: Path) -> None:
    record = read_archive(resolve_archive(ref))
    election = Election.from_bytes(record.election)
    assert record.encrypted_tally is not None
    tally = EncryptedTally.from_bytes(record.encrypted_tally.tally_raw)
    second = Shuffle.from_bytes(record.shuffles[1].payload_raw)
    with pytest.raises(ProofError) as err:
        check_shuffle(election, tally, second, where=Location(event=10))  # skips the first shuffle
    assert str(err.value.where) == "event 10 / question 2 / challenge"


# ---------------------------------------------------------------------- Viche shuffle


@dataclasses.dataclass
class Built:
    directory: Path
    election: Election
    viche_shuffle: Shuffle
    verify: ToolRun


@pytest.fixture(scope="module")
def built(ref: Path, belenios_tool: str, tmp_path_factory: pytest.TempPathFactory) -> Built:
    directory = tmp_path_factory.mktemp("shuffle-interop") / "election"
    bel = _truncated_copy(ref, directory)
    record = read_archive(bel)
    election = Election.from_bytes(record.election)
    trustees = Trustees.from_json(loads(record.trustees))
    keys = _privkeys(ref, election, trustees)
    assert sorted(keys) == [1, 2]
    assert record.encrypted_tally is not None
    tally = EncryptedTally.from_bytes(record.encrypted_tally.tally_raw)
    rng = SeededRandom("shuffle-interop")
    # trustee 1: Viche shuffles the encrypted tally
    shuffle = make_shuffle(election, nh_ciphertexts(election, tally), rng)
    raw = shuffle.to_bytes()
    ArchiveWriter.open(bel).append(
        EventType.SHUFFLE, [raw, to_bytes(Owned(1, sha256_hex(raw)).to_json())]
    )
    # trustee 2: belenios-tool shuffles Viche's shuffle
    out = _tool(belenios_tool, "election", "shuffle", "--dir", str(directory), "--trustee-id=2")
    assert out.returncode == 0, out.stderr
    add = _tool(
        belenios_tool,
        "archive",
        "add-event",
        "--dir",
        str(directory),
        "--type=Shuffle",
        stdin=out.stdout,
    )
    assert add.returncode == 0, add.stderr
    ArchiveWriter.open(bel).append(EventType.END_SHUFFLES, [])
    # trustee 1 decrypts with the tool, trustee 2 with Viche
    pd_tool = _tool(
        belenios_tool,
        "election",
        "decrypt",
        "--dir",
        str(directory),
        "--privkey",
        str(keys[1][0]),
        "--trustee-id=1",
    )
    assert pd_tool.returncode == 0, pd_tool.stderr
    add = _tool(
        belenios_tool,
        "archive",
        "add-event",
        "--dir",
        str(directory),
        "--type=PartialDecryption",
        stdin=pd_tool.stdout,
    )
    assert add.returncode == 0, add.stderr
    record = read_archive(bel)
    last = Shuffle.from_bytes(record.shuffles[-1].payload_raw)
    merged = merge_shuffled(election, tally, last)
    pd = make_partial_decryption(election, merged, keys[2][1], rng)
    pd_raw = to_bytes(pd.to_json())
    ArchiveWriter.open(bel).append(
        EventType.PARTIAL_DECRYPTION, [pd_raw, to_bytes(Owned(2, sha256_hex(pd_raw)).to_json())]
    )
    result = _tool(belenios_tool, "election", "compute-result", "--dir", str(directory))
    assert result.returncode == 0, result.stderr
    add = _tool(
        belenios_tool,
        "archive",
        "add-event",
        "--dir",
        str(directory),
        "--type=Result",
        stdin=result.stdout,
    )
    assert add.returncode == 0, add.stderr
    verify = _tool(belenios_tool, "election", "verify", "--dir", str(directory))
    return Built(directory, election, shuffle, verify)


def test_viche_shuffle_accepted_by_belenios_tool(built: Built, ref: Path) -> None:
    assert built.verify.returncode == 0, built.verify.stderr
    assert b"all checks passed" in built.verify.stderr + built.verify.stdout
    record = read_archive(resolve_archive(built.directory))
    assert [s.owner for s in record.shuffles] == [1, 2]
    assert record.shuffles[0].payload_raw == built.viche_shuffle.to_bytes()
    assert record.result is not None
    published = json.loads(record.result.raw)["result"]
    expected = json.loads((ref / "expected.json").read_text())["result"]
    assert published[0] == expected[0]
    for got, want in zip(published[1:], expected[1:], strict=True):
        assert sorted(got) == sorted(want)
    # the shuffles really permuted and re-encrypted the rows
    entry = read_archive(resolve_archive(ref)).encrypted_tally
    assert entry is not None
    before = nh_ciphertexts(built.election, EncryptedTally.from_bytes(entry.tally_raw))
    assert set(built.viche_shuffle.ciphertexts[0]).isdisjoint(before[0])


def test_viche_verifier_accepts_the_mixed_archive(built: Built) -> None:
    report = verify_record(built.directory, jobs=1)
    assert report.ok, [str(f) for f in report.failures]
    assert report.check("shuffles").status is Status.PASSED
    assert report.check("shuffles").count == 2


# ---------------------------------------------------------------------- tampered shuffles


def _swap_first_two(row: tuple[Ciphertext, ...]) -> tuple[Ciphertext, ...]:
    return (row[1], row[0], *row[2:])


TAMPERS = ["response s1", "commitment c", "chained ĉ", "swapped ciphertexts"]


def _tampered(shuffle: Shuffle, kind: str, election: Election) -> Shuffle:
    """``shuffle`` with its question-2 entry (the first NH question) altered."""
    q = election.group.q
    g = election.group.g
    p0 = shuffle.proofs[0]
    if kind == "response s1":
        p0 = dataclasses.replace(p0, s=((p0.s[0] + 1) % q, *p0.s[1:]))
    elif kind == "commitment c":
        p0 = dataclasses.replace(
            p0, commitments=(p0.commitments[0] * g % election.group.p, *p0.commitments[1:])
        )
    elif kind == "chained ĉ":
        p0 = dataclasses.replace(
            p0, chained=(*p0.chained[:-1], p0.chained[-1] * g % election.group.p)
        )
    else:
        rows = (_swap_first_two(shuffle.ciphertexts[0]), *shuffle.ciphertexts[1:])
        return Shuffle(rows, shuffle.proofs)
    return Shuffle(shuffle.ciphertexts, (p0, *shuffle.proofs[1:]))


@pytest.mark.parametrize("kind", TAMPERS)
def test_tampered_viche_shuffle_rejected_by_both(
    built: Built, ref: Path, belenios_tool: str, tmp_path: Path, kind: str
) -> None:
    bel = _truncated_copy(ref, tmp_path / "election")
    election = built.election
    bad = _tampered(built.viche_shuffle, kind, election)
    raw = bad.to_bytes()
    ArchiveWriter.open(bel).append(
        EventType.SHUFFLE, [raw, to_bytes(Owned(1, sha256_hex(raw)).to_json())]
    )
    report = verify_record(bel.parent, jobs=1)
    fails = report.check("shuffles").failures
    assert len(fails) == 1, [str(f) for f in report.failures]
    component = "t1" if kind == "response s1" else "challenge"
    height = read_archive(bel).shuffles[0].height
    assert fails[0].where == Location(
        event=height, trustee=1, question=2, path=("shuffle", component)
    )
    assert fails[0].question == 2 and fails[0].trustee == 1
    peer = _tool(belenios_tool, "election", "verify", "--dir", str(bel.parent))
    assert peer.returncode == 124, peer.stderr
    assert b"shuffle #0 failed" in peer.stderr


# ---------------------------------------------------------------------- Viche CLI, end to end

NH_VOTES = [
    [[1, 0], [1, 2, 3, 4], [5, 0, 1]],
    [[0, 1], [4, 3, 2, 1], [1, 1, 1]],
    [[1, 0], [2, 1, 4, 3], [0, 0, 0]],
]


@pytest.fixture(scope="module")
def nh_closed(templates_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ElectionRun:
    """A Viche election with the harness's NH template, 2 Single trustees, vote closed."""
    template = read_template(templates_dir / "nh.json")
    plan = plan_for(
        template=template,
        group=RFC_3526_2048,
        votes=[Vote(i, v) for i, v in enumerate(NH_VOTES)],
        voters=len(NH_VOTES),
        singles=2,
        stop=Stop.CLOSED,
    )
    run, _ = make_election(tmp_path_factory.mktemp("nh-cli") / "e", plan, seed="nh-cli")
    return run


def _bel(directory: Path) -> bytes:
    (bel,) = directory.glob("*.bel")
    return bel.read_bytes()


def test_cli_mixnet_flow_with_a_tool_shuffle_accepted_by_belenios_tool(
    nh_closed: ElectionRun, belenios_tool: str, tmp_path: Path
) -> None:
    d = tmp_path / "archive"
    shutil.copytree(nh_closed.archive.parent, d)
    before = _bel(d)
    early = run_cli("tally", "decrypt", "--dir", str(d), "--privkey", str(nh_closed.single_keys[0]))
    assert early.code == 2 and "shuffle" in early.stderr  # twin: no decryption before shuffles
    refused_end = run_cli("tally", "end-shuffles", "--dir", str(d))
    assert refused_end.code == 2 and "no shuffle yet" in refused_end.stderr
    assert _bel(d) == before
    # trustee 1 shuffles with Viche, then trustee 2 with belenios-tool; Viche adds both
    for tid in (1, 2):
        if tid == 1:
            made = run_cli("tally", "shuffle", "--dir", str(d), "--trustee-id", "1", "--seed", "s")
            assert made.code == 0, made.stderr
            text = made.stdout.encode()
        else:
            tool_made = _tool(
                belenios_tool, "election", "shuffle", "--dir", str(d), "--trustee-id=2"
            )
            assert tool_made.returncode == 0, tool_made.stderr
            text = tool_made.stdout
        (tmp_path / f"shuffle{tid}.txt").write_bytes(text)
        added = run_cli(
            "tally", "add-shuffle", str(tmp_path / f"shuffle{tid}.txt"), "--dir", str(d)
        )
        assert added.code == 0 and f"trustee {tid} accepted" in added.stdout, added.stderr
    # twin: a replayed shuffle is refused and leaves the archive as it was
    before = _bel(d)
    again = run_cli("tally", "add-shuffle", str(tmp_path / "shuffle1.txt"), "--dir", str(d))
    assert again.code == 2 and "already shuffled" in again.stderr
    assert _bel(d) == before
    assert run_cli("tally", "end-shuffles", "--dir", str(d)).code == 0
    late = run_cli("tally", "shuffle", "--dir", str(d), "--trustee-id", "1")
    assert late.code == 2 and "already closed" in late.stderr
    for key in nh_closed.single_keys:
        pd = run_cli("tally", "decrypt", "--dir", str(d), "--privkey", str(key))
        assert pd.code == 0, pd.stderr
        f = tmp_path / f"{key.stem}.pd"
        f.write_text(pd.stdout)
        assert run_cli("tally", "add-decryption", str(f), "--dir", str(d)).code == 0
    res = run_cli("tally", "result", "--dir", str(d))
    assert res.code == 0, res.stderr
    assert "Rank the colours" in res.stdout
    record = read_archive(resolve_archive(d))
    assert record.result is not None
    published = json.loads(record.result.raw)["result"]
    assert published[0] == [sum(v[0][j] for v in NH_VOTES) for j in range(2)]
    for qi in (1, 2):
        assert sorted(published[qi]) == sorted(v[qi] for v in NH_VOTES)
    peer = _tool(belenios_tool, "election", "verify", "--dir", str(d))
    assert peer.returncode == 0, peer.stderr
    report = verify_record(d, jobs=1)
    assert report.ok, [str(f) for f in report.failures]
    assert report.check("shuffles").count == 2


def _append(bel: Path, event: EventType, payload: bytes, owner: int) -> None:
    owned = to_bytes(Owned(owner, sha256_hex(payload)).to_json())
    ArchiveWriter.open(bel).append(event, [payload, owned])


@pytest.mark.parametrize("case", ["unknown owner", "same owner twice", "no EndShuffles"])
def test_verifier_checks_owners_and_end_shuffles(
    built: Built, ref: Path, tmp_path: Path, case: str
) -> None:
    bel = _truncated_copy(ref, tmp_path / "election")
    election = built.election
    first = built.viche_shuffle
    if case == "unknown owner":
        _append(bel, EventType.SHUFFLE, first.to_bytes(), 3)
        fragment = "unknown trustee id 3"
    elif case == "same owner twice":
        _append(bel, EventType.SHUFFLE, first.to_bytes(), 1)
        second = make_shuffle(election, first.ciphertexts, SeededRandom("again"))
        _append(bel, EventType.SHUFFLE, second.to_bytes(), 1)
        fragment = "second shuffle by the same trustee"
    else:  # decryption of the unshuffled tally, no Shuffle nor EndShuffles at all
        record = read_archive(bel)
        assert record.encrypted_tally is not None
        tally = EncryptedTally.from_bytes(record.encrypted_tally.tally_raw)
        keys = _privkeys(ref, election, Trustees.from_json(loads(record.trustees)))
        pd = make_partial_decryption(election, tally, keys[1][1], SeededRandom("pd"))
        _append(bel, EventType.PARTIAL_DECRYPTION, to_bytes(pd.to_json()), 1)
        fragment = "decrypted without EndShuffles"
    report = verify_record(bel.parent, jobs=1)
    fails = report.check("shuffles").failures
    assert [fragment in f.message for f in fails] == [True], [str(f) for f in fails]
    assert {f.check for f in report.failures} == {"shuffles"}
