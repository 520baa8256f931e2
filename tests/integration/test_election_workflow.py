"""The whole workflow through the installed ``viche`` console script, one process per role
and step, as an election commission would run it (files passed between roles on disk)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from viche.protocol.election import PublicCredentials
from viche.record import read_archive

TEMPLATE = {
    "description": "Integration test",
    "name": "Workflow election",
    "questions": [
        {"answers": ["A", "B", "C"], "blank": True, "min": 1, "max": 2, "question": "Pick"},
        {"answers": ["Yes", "No"], "min": 0, "max": 1, "question": "Agree?"},
    ],
}


def viche_cmd() -> list[str]:
    exe = shutil.which("viche", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "viche.cli.main"]


def viche(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    res = subprocess.run(
        [*viche_cmd(), *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    if ok:
        assert res.returncode == 0, f"viche {' '.join(args)}: {res.stderr}"
    return res


def test_every_role_step_by_step(tmp_path: Path) -> None:
    ca, tr, adm, pub, vot = (tmp_path / n for n in ("ca", "trustees", "admin", "public", "voters"))
    for d in (ca, tr, adm, pub, vot):
        d.mkdir()
    uuid = viche("setup", "generate-token", cwd=tmp_path).stdout.strip()
    (ca / "voters.txt").write_text("a@x.org,alice,2\nb@x.org,bob\nc@x.org\n")
    res = viche("setup", "generate-credentials", "--uuid", uuid, "--file", "voters.txt", cwd=ca)
    fingerprint = res.stdout.strip().rsplit(" ", 1)[1]
    # two Single trustees and a 2-of-2 Pedersen item
    for _ in range(2):
        viche("setup", "generate-trustee-key", cwd=tr)
    th = ["setup", "threshold"]
    for _ in range(2):
        viche(*th, "step1", cwd=tr)
    certs = sorted(tr.glob("*.cert"))
    (tr / "certs.jsons").write_text("".join(c.read_text() for c in certs))
    viche(*th, "step2", "--certs", "certs.jsons", cwd=tr)
    polys = "".join(
        viche(*th, "step3", "--certs", "certs.jsons", "--key", c.stem + ".key", "--threshold", "2",
              cwd=tr).stdout
        for c in certs
    )  # fmt: skip
    (tr / "polynomials.jsons").write_text(polys)
    viche(*th, "step4", "--certs", "certs.jsons", "--polynomials", "polynomials.jsons", cwd=tr)
    vouts = "".join(
        viche(*th, "step5", "--certs", "certs.jsons", "--key", c.stem + ".key", "--vinput",
              c.stem + ".vinput", cwd=tr).stdout
        for c in certs
    )  # fmt: skip
    (tr / "voutputs.jsons").write_text(vouts)
    params = viche(
        *th, "step6", "--certs", "certs.jsons", "--polynomials", "polynomials.jsons",
        "--voutputs", "voutputs.jsons", cwd=tr,
    ).stdout  # fmt: skip
    (adm / "threshold.json").write_text(params)
    (adm / "public_keys.jsons").write_text(
        "".join(p.read_text() for p in sorted(tr.glob("*.pubkey")))
    )
    viche("setup", "make-trustees", "--dir", ".", cwd=adm)
    (adm / "template.json").write_text(json.dumps(TEMPLATE))
    viche("setup", "make-election", "--uuid", uuid, "--template", "template.json", cwd=adm)
    (pubcreds,) = ca.glob("*.pubcreds")
    viche(
        "archive", "init", "--dir", str(pub), "--election", str(adm / "election.json"),
        "--trustees", str(adm / "trustees.json"), "--public-creds", str(pubcreds), cwd=tmp_path,
    )  # fmt: skip
    (privcreds,) = ca.glob("*.privcreds")
    creds = [line.rsplit(" ", 1)[1] for line in privcreds.read_text().splitlines()]
    votes = [
        (0, [[0, 1, 1, 0], [1, 0]]),  # alice (weight 2): A, B; Yes
        (1, [[1, 0, 0, 0], [0, 0]]),  # bob: blank; no answer
        (2, [[0, 0, 0, 1], [0, 1]]),  # c: C; No
        (1, [[0, 0, 1, 0], [1, 0]]),  # bob again: B; Yes -- replaces his blank vote
    ]
    for k, (voter, choices) in enumerate(votes):
        (vot / f"{voter}.cred").write_text(creds[voter] + "\n")
        (vot / f"{k}.choices").write_text(json.dumps(choices))
        res = viche(
            "ballot", "generate", "--dir", str(pub), "--privcred", f"{voter}.cred",
            "--ballot", f"{k}.choices", cwd=vot,
        )  # fmt: skip
        (vot / f"{k}.ballot").write_text(res.stdout)
        viche("archive", "add-ballot", "--dir", str(pub), f"{k}.ballot", cwd=vot)
    # a replay is refused and changes nothing
    (bel,) = pub.glob("*.bel")
    before = bel.read_bytes()
    res = viche("archive", "add-ballot", "--dir", str(pub), "0.ballot", cwd=vot, ok=False)
    assert res.returncode == 2 and "replayed" in res.stderr
    assert bel.read_bytes() == before
    viche("archive", "close", "--dir", str(pub), cwd=tmp_path)
    # Single trustees 1, 2; Pedersen trustees 3, 4 (both needed)
    for n, key in enumerate(sorted(tr.glob("*.privkey")), start=1):
        out = viche("tally", "decrypt", "--dir", str(pub), "--privkey", str(key), cwd=tr).stdout
        assert json.loads(out.splitlines()[1])["owner"] == n
        (tr / f"pd{n}").write_text(out)
        viche("tally", "add-decryption", "--dir", str(pub), f"pd{n}", cwd=tr)
    for n, cert in enumerate(certs, start=3):
        out = viche(
            "tally", "decrypt", "--dir", str(pub), "--key", cert.stem + ".key",
            "--decryption-key", cert.stem + ".dkey", "--trustee-id", str(n), cwd=tr,
        ).stdout  # fmt: skip
        (tr / f"pd{n}").write_text(out)
        viche("tally", "add-decryption", "--dir", str(pub), f"pd{n}", cwd=tr)
    res = viche("tally", "result", "--dir", str(pub), cwd=tmp_path)
    assert "blank" in res.stdout
    report = json.loads(viche("verify", "--json", str(pub), cwd=tmp_path).stdout)
    assert report["ok"] is True
    # alice x2: A,B,Yes; bob: B,Yes; c: C,No  -> blank 0, A 2, B 3, C 1; Yes 3, No 1
    assert report["result"] == [[0, 2, 3, 1], [3, 1]]
    # the fingerprint printed by the credential authority is the archive's credentials
    record = read_archive(bel)
    assert PublicCredentials.from_bytes(record.public_credentials).fingerprint == fingerprint
    assert record.public_credentials.count(b",2") == 1  # alice's weight


@pytest.mark.parametrize("args", [["setup"], ["archive"], ["ballot"], ["tally"]])
def test_groups_without_a_command_show_help(tmp_path: Path, args: list[str]) -> None:
    res = viche(*args, cwd=tmp_path, ok=False)
    assert "Usage" in res.stdout + res.stderr
