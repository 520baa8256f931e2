"""``viche ballot audit``: audit files made by the booth's JavaScript (ballot.js auditFile,
as the booth's "Audit" button writes them) are opened by the command line: the choices are
encrypted again with the revealed randomness and printed; other choices, other randomness
or another tracker are refused (exit 1)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from support.cli import run_cli
from viche.protocol.election import Election, NonHomomorphicQuestion
from viche.record import read_archive

JS = Path(__file__).resolve().parent / "js"


def _audit(
    node: str, reference_dir: Path, tmp: Path, name: str, voter: int
) -> tuple[Path, dict[str, object]]:
    ref = reference_dir / name
    source = next((ref / "gen").glob("*.bel"))
    bel = tmp / "record" / source.name  # a copy: opening a record writes its index beside it
    bel.parent.mkdir()
    shutil.copyfile(source, bel)
    creds = dict(
        line.split()
        for line in (ref / "secrets/private_creds.txt").read_text().splitlines()
        if line
    )
    plan = dict(line.split("\t") for line in (ref / "plan.tsv").read_text().splitlines() if line)
    (tmp / "election.json").write_bytes(read_archive(bel).election)
    (tmp / "cred").write_text(creds[str(voter)] + "\n")
    proc = subprocess.run(
        [node, str(JS / "make_ballot.mjs"), str(tmp / "election.json"), str(tmp / "cred"),
         plan[str(voter)], "0", "audit"],
        capture_output=True,
        timeout=600,
        check=True,
    )  # fmt: skip
    audit = json.loads(proc.stdout)
    assert audit["choices"] == json.loads(plan[str(voter)])
    return bel, audit


def _write(tmp: Path, audit: dict[str, object]) -> Path:
    path = tmp / "audit.json"
    path.write_text(json.dumps(audit))
    return path


@pytest.mark.interop
@pytest.mark.parametrize(("name", "voter"), [("simple-plain-BELENIOS", 1), ("nh-mixnet-RFC", 2)])
def test_booth_audit_file_is_checked_and_its_choices_printed(
    node: str, reference_dir: Path, tmp_path: Path, name: str, voter: int
) -> None:
    bel, audit = _audit(node, reference_dir, tmp_path, name, voter)
    run = run_cli("ballot", "audit", str(_write(tmp_path, audit)), "--election", str(bel))
    assert run.code == 0, run.stderr
    assert f"ok ballot {audit['tracker']} encrypts these choices" in run.stdout
    election = Election.from_bytes(read_archive(bel).election)
    choices = audit["choices"]
    assert isinstance(choices, list)
    expected = [f"ok ballot {audit['tracker']} encrypts these choices:"]
    for i, (question, plain) in enumerate(zip(election.questions, choices, strict=True), 1):
        expected.append(f"question {i}: {question.question}")
        if isinstance(question, NonHomomorphicQuestion):
            expected.append("  values: " + ", ".join(str(v) for v in plain))
        elif question.blank and plain[0] == 1:
            expected.append("  (blank vote)")
        else:
            picks = plain[1:] if question.blank else plain
            chosen = [f"  - {a}" for a, m in zip(question.answers, picks, strict=True) if m]
            expected.extend(chosen or ["  (no answer chosen)"])
    expected.append("An audited ballot is never cast: vote with a fresh encryption.")
    assert run.stdout.splitlines() == expected


def test_audit_with_other_choices_randomness_or_tracker_fails(
    node: str, reference_dir: Path, tmp_path: Path
) -> None:
    bel, audit = _audit(node, reference_dir, tmp_path, "simple-plain-BELENIOS", 1)
    choices = audit["choices"]
    randomness = audit["randomness"]
    assert isinstance(choices, list) and isinstance(randomness, list)

    other = json.loads(json.dumps(choices))
    first = other[0]
    first[0], first[1] = first[1], first[0]  # same count, other answer (if they differ)
    if first == choices[0]:
        first[0], first[-1] = first[-1], first[0]
    assert other != choices
    run = run_cli("ballot", "audit", str(_write(tmp_path, {**audit, "choices": other})),
                  "--election", str(bel))  # fmt: skip
    assert run.code == 1 and "FAILED" in run.stderr
    assert "does not encrypt this choice" in run.stderr

    wrong = json.loads(json.dumps(randomness))
    wrong[0][0] = str(int(wrong[0][0]) + 1)
    run = run_cli("ballot", "audit", str(_write(tmp_path, {**audit, "randomness": wrong})),
                  "--election", str(bel))  # fmt: skip
    assert run.code == 1 and "question 1 / answer 0" in run.stderr

    run = run_cli("ballot", "audit", str(_write(tmp_path, {**audit, "tracker": "x" * 43})),
                  "--election", str(bel))  # fmt: skip
    assert run.code == 1 and "is not the audited ballot's" in run.stderr

    # bad input, not a failed check: exit 2
    run = run_cli("ballot", "audit", str(_write(tmp_path, {"tracker": 1})), "--election", str(bel))
    assert run.code == 2 and "missing field" in run.stderr
    run = run_cli("ballot", "audit", str(_write(tmp_path, audit)))
    assert run.code == 2 and "--election ARCHIVE or --server URL" in run.stderr
