"""The booth's JavaScript cryptography (src/viche/web/static/booth), driven from pytest.

* ``node --test tests/booth/js/*.test.mjs`` against vectors that the Python protocol writes
  here with seeded randomness (tests/vectors/booth/make_vectors.py): same election,
  credential, choices and random values, same ballot bytes;
* ballots the JavaScript makes for belenios-tool's reference elections (BELENIOS-2048
  simple and large, RFC-3526-2048 with non-homomorphic questions) pass Viche's
  ``check_ballot`` and, appended to the tool's archive, ``belenios-tool election verify``;
  a tampered one fails both, and a mistyped credential gives no ballot.

Without Node the tests fail under CI=true and skip elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from viche.crypto.credentials import check_credential
from viche.errors import CredentialFormatError, ProofError
from viche.protocol.ballot import check_ballot
from viche.protocol.election import Election, PublicCredentials
from viche.record import read_archive

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
JS = HERE / "js"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("booth-vectors")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    subprocess.run(
        [sys.executable, str(REPO / "tests/vectors/booth/make_vectors.py"), str(out)],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    return out


def test_node_tests_against_python_vectors(node: str, vectors: Path) -> None:
    files = sorted(str(p) for p in JS.glob("*.test.mjs"))
    assert len(files) >= 5
    proc = subprocess.run(
        [node, "--test", *files],
        capture_output=True,
        text=True,
        env={**os.environ, "BOOTH_VECTORS": str(vectors)},
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    passed = re.search(r"^# pass (\d+)$", out, re.M)
    assert passed is not None and int(passed.group(1)) >= 20, out[-2000:]
    assert re.search(r"^# fail 0$", out, re.M)
    assert re.search(r"^# skipped 0$", out, re.M)


def test_node_tests_fail_without_vectors(node: str) -> None:
    """The failure twin: no vectors is an error of the JS tests, never a silent pass."""
    env = {k: v for k, v in os.environ.items() if k != "BOOTH_VECTORS"}
    proc = subprocess.run(
        [node, "--test", str(JS / "credential.test.mjs")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode != 0
    assert "BOOTH_VECTORS is not set" in proc.stdout + proc.stderr


# ---------------------------------------------------------------------- interop

#: reference election, voter (line of private_creds.txt), workers of the pool (0: one thread)
REFERENCES = [
    ("simple-plain-BELENIOS", 1, 0),
    ("nh-mixnet-RFC", 2, 2),
    ("large-10x10-BELENIOS", 1, 2),
]


def _tool(
    belenios_tool: str, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [belenios_tool, *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, "BELENIOS_USE_URANDOM": "1", "LC_ALL": "C"},
        timeout=600,
        check=False,
    )


def _js_ballot(
    node: str, tmp: Path, election: bytes, privcred: str, choices: str, workers: int
) -> subprocess.CompletedProcess[bytes]:
    (tmp / "election.json").write_bytes(election)
    (tmp / "cred").write_text(privcred + "\n")
    return subprocess.run(
        [node, str(JS / "make_ballot.mjs"), str(tmp / "election.json"), str(tmp / "cred"),
         choices, str(workers)],
        capture_output=True,
        timeout=600,
        check=False,
    )  # fmt: skip


def _tool_verifies_with(
    belenios_tool: str, bel: Path, tmp: Path, ballot: bytes
) -> subprocess.CompletedProcess[bytes]:
    """Append ``ballot`` to a copy of the setup-only archive ``bel``; ``election verify``."""
    archive_dir = tmp / "archive"
    archive_dir.mkdir()
    shutil.copyfile(bel, archive_dir / bel.name)
    (archive_dir / bel.name).chmod(0o644)
    added = _tool(belenios_tool, "archive", "add-event", f"--dir={archive_dir}", "--type=Ballot",
                  stdin=ballot)  # fmt: skip
    assert added.returncode == 0, added.stderr.decode()
    return _tool(belenios_tool, "election", "verify", f"--dir={archive_dir}")


def _reference(reference_dir: Path, name: str, voter: int) -> tuple[Path, str, str]:
    ref = reference_dir / name
    bel = next((ref / "gen").glob("*.bel"))
    lines = (ref / "secrets/private_creds.txt").read_text().splitlines()
    creds = dict(line.split() for line in lines if line)
    plan = dict(line.split("\t") for line in (ref / "plan.tsv").read_text().splitlines() if line)
    return bel, creds[str(voter)], plan[str(voter)]


@pytest.mark.interop
@pytest.mark.parametrize(("name", "voter", "workers"), REFERENCES)
def test_js_ballot_accepted_by_viche_and_belenios_tool(
    node: str,
    belenios_tool: str,
    reference_dir: Path,
    tmp_path: Path,
    name: str,
    voter: int,
    workers: int,
) -> None:
    bel, privcred, choices = _reference(reference_dir, name, voter)
    record = read_archive(bel)
    election = Election.from_bytes(record.election)
    creds = PublicCredentials.from_bytes(record.public_credentials)
    proc = _js_ballot(node, tmp_path, record.election, privcred, choices, workers)
    assert proc.returncode == 0, proc.stderr.decode()
    raw = proc.stdout
    checked = check_ballot(election, raw, creds)
    assert proc.stderr.decode().strip() == checked.tracker

    verified = _tool_verifies_with(belenios_tool, bel, tmp_path, raw)
    assert verified.returncode == 0, verified.stderr.decode()[-2000:]
    assert "all checks passed" in verified.stderr.decode()


def _tamper_last_response(raw: bytes) -> bytes:
    """Change the last digit of the last proof response of the first answer."""
    ballot = json.loads(raw)
    proof = ballot["answers"][0].get("overall_proof", [ballot["answers"][0].get("proof")])[-1]
    digits = proof["response"]
    proof["response"] = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    return json.dumps(ballot, separators=(",", ":")).encode()


@pytest.mark.interop
def test_tampered_js_ballot_refused_by_viche_and_belenios_tool(
    node: str, belenios_tool: str, reference_dir: Path, tmp_path: Path
) -> None:
    bel, privcred, choices = _reference(reference_dir, "simple-plain-BELENIOS", 2)
    record = read_archive(bel)
    election = Election.from_bytes(record.election)
    creds = PublicCredentials.from_bytes(record.public_credentials)
    proc = _js_ballot(node, tmp_path, record.election, privcred, choices, 0)
    assert proc.returncode == 0, proc.stderr.decode()
    bad = _tamper_last_response(proc.stdout)
    assert bad != proc.stdout
    with pytest.raises(ProofError):
        check_ballot(election, bad, creds)
    verified = _tool_verifies_with(belenios_tool, bel, tmp_path, bad)
    assert verified.returncode != 0


def test_mistyped_credential_gives_no_ballot(
    node: str, reference_dir: Path, tmp_path: Path
) -> None:
    bel, privcred, choices = _reference(reference_dir, "simple-plain-BELENIOS", 1)
    mistyped = privcred[:-1] + ("a" if privcred[-1] != "a" else "b")
    with pytest.raises(CredentialFormatError, match="checksum"):
        check_credential(mistyped)  # Python and JavaScript agree that it is wrong
    proc = _js_ballot(node, tmp_path, read_archive(bel).election, mistyped, choices, 0)
    assert proc.returncode == 2
    assert proc.stdout == b""
    err = proc.stderr.decode()
    assert err.startswith("V1004: wrong checksum")
    assert mistyped not in err
