"""Viche ballots and partial decryptions in a belenios-tool archive, checked by the tool.

Starting from the setup-only archive of ``reference/simple-plain-BELENIOS/gen``, Viche
makes the ballots (a blank vote and a re-vote included) and ``belenios-tool archive
add-event`` appends them; ``election verify`` must pass. The tool's encrypted tally must
equal Viche's byte for byte; Viche's partial decryptions (with the trustees' private keys)
are appended and the tool's result must equal Viche's; the final archive verifies. The
failure twin appends a Viche ballot with a broken (re-signed) proof: the tool rejects it.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from gmpy2 import mpz

from support.belenios import ToolRun, tool
from viche.crypto.answers import HAnswer, NHAnswer
from viche.crypto.credentials import credential_secret
from viche.crypto.elgamal import PublicKey
from viche.crypto.group import BELENIOS_2048, RFC_3526_2048
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.crypto.schnorr import Proof, sign_ballot
from viche.errors import ProofError, ProtocolError
from viche.protocol.ballot import (
    Ballot,
    Signature,
    ballot_bytes,
    check_ballot,
    make_ballot,
    signature_hash,
)
from viche.protocol.codec import dumps
from viche.protocol.election import Election, ElectionTemplate, PublicCredentials, SetupData
from viche.protocol.tally import (
    Owned,
    PartialDecryption,
    compute_encrypted_tally,
    compute_result,
    last_ballots,
    make_partial_decryption,
    sized_tally,
)
from viche.protocol.trustees import Trustees, private_key_from_file

pytestmark = pytest.mark.interop

REF = "simple-plain-BELENIOS"
# voter number (line of private_creds.txt) and plaintexts; voter 1 re-votes.
VOTES = [
    (1, [[1, 0, 0, 0, 0], [0, 1, 0, 0]]),
    (2, [[0, 1, 1, 0, 0], [1, 0, 0, 0]]),  # blank on question 2
    (3, [[0, 0, 1, 1, 1], [0, 0, 0, 1]]),
    (1, [[0, 0, 0, 1, 0], [0, 0, 1, 0]]),
]


def _run(belenios_tool: str, d: Path, *args: str, stdin: bytes | None = None) -> ToolRun:
    return tool(belenios_tool, *args, f"--dir={d}", stdin=stdin, ok=False)


def _ok(proc: ToolRun) -> bytes:
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout

def _setup_members(bel: Path) -> tuple[Election, Trustees, PublicCredentials]:
    data: dict[str, bytes] = {}
    setup = None
    with tarfile.open(bel, "r:") as tf:
        for m in tf:
            f = tf.extractfile(m)
            assert f is not None
            content = f.read()
            digest, _, kind = m.name.partition(".")
            if kind == "data.json":
                data[digest] = content
            elif kind == "event.json":
                ev = json.loads(content)
                assert ev["type"] == "Setup"
                setup = SetupData.from_bytes(data[ev["payload"]])
    assert setup is not None
    return (
        Election.from_bytes(data[setup.election]),
        Trustees.from_json(json.loads(data[setup.trustees])),
        PublicCredentials.from_bytes(data[setup.credentials]),
    )


def _fresh_archive(reference_dir: Path, tmp_path: Path, name: str) -> Path:
    src = next((reference_dir / REF / "gen").glob("*.bel"))
    d = tmp_path / name
    d.mkdir()
    dst = d / src.name
    shutil.copyfile(src, dst)
    dst.chmod(0o644)
    return dst


def _private_creds(reference_dir: Path) -> dict[int, str]:
    lines = (reference_dir / REF / "secrets" / "private_creds.txt").read_text().splitlines()
    return {int(k): v for k, v in (line.split() for line in lines if line.strip())}


def test_viche_ballots_and_decryptions_pass_belenios_tool(
    belenios_tool: str, reference_dir: Path, tmp_path: Path
) -> None:
    bel = _fresh_archive(reference_dir, tmp_path, "good")
    d = bel.parent
    election, trustees, creds = _setup_members(bel)
    private = _private_creds(reference_dir)
    rng = SeededRandom("interop-ballots")
    checked = []
    for voter, plain in VOTES:
        ballot = make_ballot(election, election.public_key, private[voter], plain, rng)
        raw = ballot_bytes(ballot)
        checked.append(check_ballot(election, raw, creds))
        _ok(_run(belenios_tool, d, "archive", "add-event", "--type=Ballot", stdin=raw + b"\n"))
    _ok(_run(belenios_tool, d, "election", "verify"))

    # The tool's encrypted tally is Viche's, byte for byte.
    _ok(_run(belenios_tool, d, "archive", "add-event", "--type=EndBallots", stdin=b""))
    out = _ok(_run(belenios_tool, d, "election", "compute-encrypted-tally"))
    tally_line, sized_line = out.rstrip(b"\n").split(b"\n")
    counted = last_ballots(checked)
    tally = compute_encrypted_tally(election, counted)
    assert tally.to_bytes() == tally_line
    assert dumps(sized_tally(tally, counted).to_json()).encode() == sized_line
    _ok(_run(belenios_tool, d, "archive", "add-event", "--type=EncryptedTally", stdin=out))

    # Viche decrypts with each Single trustee's private key; the tool accepts the payloads.
    secrets = reference_dir / REF / "secrets"
    keys = {}
    for privfile in sorted(secrets.glob("*.privkey")):
        x = private_key_from_file(privfile.read_text())
        tid = next(
            t.trustee_id
            for t in trustees.flat()
            if t.key.public_key == election.group.powg(x.value)
        )
        keys[tid] = x
    partials: dict[int, PartialDecryption] = {}
    for tid in sorted(keys):
        pd = make_partial_decryption(election, tally, keys[tid], rng)
        partials[tid] = pd
        pd_raw = dumps(pd.to_json()).encode()
        owned = dumps(Owned(tid, sha256_hex(pd_raw)).to_json()).encode()
        _ok(
            _run(
                belenios_tool,
                d,
                "archive",
                "add-event",
                "--type=PartialDecryption",
                stdin=pd_raw + b"\n" + owned + b"\n",
            )
        )
    result_tool = _ok(_run(belenios_tool, d, "election", "compute-result")).rstrip(b"\n")
    total = sum(b.weight for b in counted)
    mine = compute_result(election, trustees, tally, partials, total)
    assert dumps(mine.to_json()).encode() == result_tool
    _ok(_run(belenios_tool, d, "archive", "add-event", "--type=Result", stdin=result_tool + b"\n"))
    verify = _run(belenios_tool, d, "election", "verify")
    _ok(verify)
    assert b"all checks passed" in verify.stderr + verify.stdout


def test_belenios_tool_rejects_a_viche_ballot_with_a_broken_proof(
    belenios_tool: str, reference_dir: Path, tmp_path: Path
) -> None:
    bel = _fresh_archive(reference_dir, tmp_path, "bad")
    d = bel.parent
    election, _, creds = _setup_members(bel)
    private = _private_creds(reference_dir)
    rng = SeededRandom("interop-bad")
    voter, plain = VOTES[0]
    ballot = make_ballot(election, election.public_key, private[voter], plain, rng)
    a0 = ballot.answers[0]
    assert isinstance(a0, HAnswer)
    p = a0.overall_proof[0]
    broken = Proof(p.challenge, (p.response + 1) % election.group.q)
    altered: Ballot = replace(
        ballot,
        answers=(replace(a0, overall_proof=(broken, *a0.overall_proof[1:])), *ballot.answers[1:]),
    )
    h = signature_hash(altered)
    secret = credential_secret(election.group, private[voter], election.uuid)
    altered = replace(altered, signature=Signature(h, sign_ballot(election.group, secret, h, rng)))
    raw = ballot_bytes(altered)
    _ok(_run(belenios_tool, d, "archive", "add-event", "--type=Ballot", stdin=raw + b"\n"))
    proc = _run(belenios_tool, d, "election", "verify")
    assert proc.returncode != 0
    # Viche's own check names the same failure.
    with pytest.raises(ProofError, match="overall proof"):
        check_ballot(election, raw, creds)


def test_viche_non_homomorphic_ballots_pass_belenios_tool(
    belenios_tool: str, reference_dir: Path, tmp_path: Path
) -> None:
    """Ballots with non-homomorphic answers (group_encode + raweg proof) are accepted too."""
    src = next((reference_dir / "nh-mixnet-RFC" / "gen").glob("*.bel"))
    d = tmp_path / "nh"
    d.mkdir()
    bel = d / src.name
    shutil.copyfile(src, bel)
    bel.chmod(0o644)
    election, _, creds = _setup_members(bel)
    lines = (reference_dir / "nh-mixnet-RFC" / "secrets" / "private_creds.txt").read_text()
    private = [line.split()[1] for line in lines.splitlines() if line.strip()]
    rng = SeededRandom("interop-nh")
    plans = [[[1, 0], [2, 1, 4, 3], [5, 0, 1]], [[0, 0], [1, 2, 3, 4], [0, 0, 0]]]
    for cred, plain in zip(private, plans, strict=False):
        raw = ballot_bytes(make_ballot(election, election.public_key, cred, plain, rng))
        check_ballot(election, raw, creds)
        _ok(_run(belenios_tool, d, "archive", "add-event", "--type=Ballot", stdin=raw + b"\n"))
    _ok(_run(belenios_tool, d, "election", "verify"))
    # Failure twin: a broken raweg proof (re-signed) makes the tool's verify fail.
    cred = private[len(plans)]
    ballot = make_ballot(election, election.public_key, cred, plans[0], rng)
    nh = ballot.answers[1]
    assert isinstance(nh, NHAnswer)
    bad_proof = Proof(nh.proof.challenge, (nh.proof.response + 1) % election.group.q)
    altered = replace(
        ballot, answers=(ballot.answers[0], replace(nh, proof=bad_proof), ballot.answers[2])
    )
    h = signature_hash(altered)
    secret = credential_secret(election.group, cred, election.uuid)
    altered = replace(altered, signature=Signature(h, sign_ballot(election.group, secret, h, rng)))
    raw = ballot_bytes(altered)
    with pytest.raises(ProofError, match="raweg"):
        check_ballot(election, raw, creds)
    _ok(_run(belenios_tool, d, "archive", "add-event", "--type=Ballot", stdin=raw + b"\n"))
    assert _run(belenios_tool, d, "election", "verify").returncode != 0


def test_election_from_template_matches_make_election_byte_for_byte(
    belenios_tool: str, reference_dir: Path, tmp_path: Path
) -> None:
    """Ukrainian text, quotes, control characters, an emoji and the optional fields: Viche
    writes the same election bytes as ``setup make-election`` (so the same fingerprint)."""
    template = {
        "description": 'Вибори "2026"\n\tнаголос\u0001 / é 😀 \\ кінець',
        "name": "Віче",
        "questions": [
            {"answers": ["Так", "Ні"], "blank": True, "min": 1, "max": 1, "question": "Чи згодні?"},
            {"type": "NonHomomorphic", "value": {"answers": ["a", "b"], "question": "rank"}},
        ],
        "administrator": "ЦВК",
        "credential_authority": "Уповноважений",
    }
    # NH questions need RFC-3526-2048; the key is any group element (here from the reference).
    shutil.copyfile(
        reference_dir / "simple-plain-RFC" / "setup" / "trustees.json", tmp_path / "trustees.json"
    )
    (tmp_path / "t.json").write_text(json.dumps(template, ensure_ascii=False), encoding="utf-8")
    uuid = "ABCDEFGHJKLMNPQ"
    tool(
        belenios_tool, "setup", "make-election", "--dir", str(tmp_path), "--uuid", uuid,
        "--group", "RFC-3526-2048", "--template", str(tmp_path / "t.json"),
    )  # fmt: skip
    tool_bytes = (tmp_path / "election.json").read_bytes().rstrip(b"\n")
    t = ElectionTemplate.from_bytes((tmp_path / "t.json").read_bytes())
    y = mpz(json.loads(tool_bytes)["public_key"])
    mine = Election.from_template(t, PublicKey(RFC_3526_2048, y), uuid)
    assert mine.raw == tool_bytes
    # Failure twin: the same template in another group is another election.
    with pytest.raises(ProtocolError, match="embedding"):
        Election.from_template(t, PublicKey(BELENIOS_2048, BELENIOS_2048.g), uuid)
