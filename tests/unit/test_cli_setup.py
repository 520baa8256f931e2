"""Setup use cases and commands: tokens, credentials, trustee keys, trustees, election."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.cli import run_cli
from viche.crypto.credentials import check_credential, credential_secret, public_credential
from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import SeededRandom
from viche.errors import CredentialFormatError, Location, MissingFileError, UsageError
from viche.protocol.election import PublicCredentials
from viche.service import credentials as creds_svc
from viche.service import setup as setup_svc
from viche.service import threshold as threshold_svc
from viche.service.tokens import generate_token

UUID = "UQ3BXTkh4ErCj4"
G = BELENIOS_2048


def test_token_is_base58_of_the_requested_length(rng: SeededRandom) -> None:
    token = generate_token(rng, 20)
    assert len(token) == 20
    assert set(token) <= set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


def test_token_of_length_zero_is_refused(rng: SeededRandom) -> None:
    with pytest.raises(UsageError):
        generate_token(rng, 0)


def test_voter_file_lines() -> None:
    voters = creds_svc.parse_voters("a@x.org,alice,3\n\nb@x.org\n", Location(file="voters.txt"))
    assert [(v.id, v.weight, v.line) for v in voters] == [
        ("alice", 3, "a@x.org,alice,3"),
        ("b@x.org", None, "b@x.org"),
    ]


@pytest.mark.parametrize(
    ("text", "line"), [("a@x.org,alice,0\n", 1), ("ok\n,alice\n", 2), ("a,b,c,d\n", 1)]
)
def test_bad_voter_file_names_the_line(text: str, line: int) -> None:
    with pytest.raises(UsageError) as info:
        creds_svc.parse_voters(text, Location(file="voters.txt"))
    assert info.value.where == Location(file="voters.txt", line=line)
    assert str(info.value.where) == f"voters.txt / line {line}"


def test_credentials_files_like_belenios_tool(tmp_path: Path, rng: SeededRandom) -> None:
    voters = creds_svc.parse_voters("a@x.org,alice,3\nb@x.org\n", Location(file="v"))
    cs = creds_svc.generate_credentials(G, UUID, voters, rng)
    files = creds_svc.write_credentials(cs, tmp_path, stamp=1234)
    assert files.privcreds.name == "1234.privcreds" and files.pubcreds.name == "1234.pubcreds"
    assert files.privcreds.stat().st_mode & 0o777 == 0o600
    lines = files.privcreds.read_text().splitlines()
    assert [ln.rsplit(" ", 1)[0] for ln in lines] == ["a@x.org,alice,3", "b@x.org"]
    pub = json.loads(files.pubcreds.read_text())
    for line, entry in zip(lines, pub, strict=True):
        cred = check_credential(line.rsplit(" ", 1)[1])
        expected = public_credential(G, credential_secret(G, cred, UUID))
        assert entry.split(",")[0] == str(expected)
    assert [e.split(",", 1)[1] for e in pub] == ["3,alice", "1,b@x.org"]
    # the archive form drops the ids; its hash is the printed fingerprint
    archived = creds_svc.read_public_credentials(files.pubcreds)
    assert archived.to_json() == [e.rsplit(",", 1)[0] for e in pub]
    assert archived.fingerprint == files.fingerprint
    assert PublicCredentials.from_json(archived.to_json()).fingerprint == files.fingerprint


def test_unweighted_credentials_have_an_empty_weight(tmp_path: Path, rng: SeededRandom) -> None:
    cs = creds_svc.generate_credentials(G, UUID, creds_svc.counted_voters(2), rng)
    files = creds_svc.write_credentials(cs, tmp_path, stamp=1)
    pub = json.loads(files.pubcreds.read_text())
    assert [e.split(",", 1)[1] for e in pub] == [",1", ",2"]
    assert not creds_svc.read_public_credentials(files.pubcreds).weighted


def test_credentials_are_not_overwritten(tmp_path: Path, rng: SeededRandom) -> None:
    cs = creds_svc.generate_credentials(G, UUID, creds_svc.counted_voters(1), rng)
    creds_svc.write_credentials(cs, tmp_path, stamp=7)
    before = (tmp_path / "7.privcreds").read_bytes()
    with pytest.raises(UsageError):
        creds_svc.write_credentials(cs, tmp_path, stamp=7)
    assert (tmp_path / "7.privcreds").read_bytes() == before


def test_private_credential_file_forms(tmp_path: Path, rng: SeededRandom) -> None:
    cred = creds_svc.generate_credentials(G, UUID, creds_svc.counted_voters(1), rng).private[0]
    (tmp_path / "a").write_text(cred + "\n")
    (tmp_path / "b").write_text(f"voter1@x.org {cred}\n")
    assert creds_svc.read_private_credential(tmp_path / "a") == cred
    assert creds_svc.read_private_credential(tmp_path / "b") == cred


def test_wrong_private_credential_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "c").write_text("abc-def-ghi-jkm-nop\n")
    with pytest.raises(CredentialFormatError) as info:
        creds_svc.read_private_credential(tmp_path / "c")
    assert str(tmp_path / "c") in str(info.value)


def test_trustee_key_files_round_trip(tmp_path: Path, rng: SeededRandom) -> None:
    files = setup_svc.new_trustee_key(G, tmp_path, rng)
    assert files.privkey.stat().st_mode & 0o777 == 0o600
    assert files.pubkey.read_text().endswith("}\n")
    private = setup_svc.read_private_key(files.privkey)
    public = setup_svc.read_public_key(files.pubkey, G)
    assert G.powg(private.value) == public.public_key
    assert "secret" in repr(private) and str(private.value) not in repr(private)


def test_tampered_public_key_is_refused(tmp_path: Path, rng: SeededRandom) -> None:
    files = setup_svc.new_trustee_key(G, tmp_path, rng)
    obj = json.loads(files.pubkey.read_text())
    obj["pok"]["response"] = str((int(obj["pok"]["response"]) + 1) % int(G.q))
    files.pubkey.write_text(json.dumps(obj))
    with pytest.raises(Exception, match="proof of knowledge"):
        setup_svc.read_public_key(files.pubkey, G)


def test_trustees_and_election(tmp_path: Path, rng: SeededRandom, templates_dir: Path) -> None:
    keys = [setup_svc.new_trustee_key(G, tmp_path, rng) for _ in range(2)]
    (tmp_path / "public_keys.jsons").write_text("".join(k.pubkey.read_text() for k in keys))
    trustees = setup_svc.read_trustees(setup_svc.make_trustees(tmp_path))
    template = setup_svc.read_template(templates_dir / "simple.json")
    election = setup_svc.make_election(G, UUID, template, trustees)
    secrets = [setup_svc.read_private_key(k.privkey).value for k in keys]
    assert election.public_key.y == G.powg(sum(secrets) % G.q)
    setup_svc.write_election(election, tmp_path / "election.json")
    again = setup_svc.read_election(tmp_path / "election.json")
    assert again.fingerprint == election.fingerprint


def test_make_trustees_without_keys_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        setup_svc.make_trustees(tmp_path)
    assert not (tmp_path / "trustees.json").exists()


# ---------------------------------------------------------------------- commands


def test_generate_credentials_command(tmp_path: Path) -> None:
    run = run_cli(
        "setup", "generate-credentials", "--uuid", UUID, "--count", "3", "--dir", str(tmp_path)
    )
    assert run.code == 0, run.stderr
    assert "The fingerprint of public credentials is " in run.stdout
    fp = run.stdout.strip().rsplit(" ", 1)[1]
    (pub,) = tmp_path.glob("*.pubcreds")
    assert creds_svc.read_public_credentials(pub).fingerprint == fp


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "2", "--file", "v.txt"], "exactly one of --count"),
        (["--file", "missing.txt"], "voter file not found"),
        (["--count", "0"], "--count must be at least 1"),
        (["--count", "1", "--group", "NOPE"], "unknown group"),
    ],
)
def test_generate_credentials_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    args = [a if not a.endswith(".txt") else str(tmp_path / a) for a in args]
    run = run_cli("setup", "generate-credentials", "--uuid", UUID, "--dir", str(tmp_path), *args)
    assert run.code == 2
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_bad_uuid_is_refused(tmp_path: Path) -> None:
    run = run_cli(
        "setup", "generate-credentials", "--uuid", "short", "--count", "1", "--dir", str(tmp_path)
    )
    assert run.code == 2 and "uuid" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_setup_commands_chain(tmp_path: Path, templates_dir: Path) -> None:
    d = str(tmp_path)
    for _ in range(2):
        assert run_cli("setup", "generate-trustee-key", "--dir", d).code == 0
    (tmp_path / "public_keys.jsons").write_text(
        "".join(p.read_text() for p in sorted(tmp_path.glob("*.pubkey")))
    )
    assert run_cli("setup", "make-trustees", "--dir", d).code == 0
    template = str(templates_dir / "simple.json")
    run = run_cli("setup", "make-election", "--uuid", UUID, "--template", template, "--dir", d)
    assert run.code == 0, run.stderr
    assert setup_svc.read_election(tmp_path / "election.json").uuid == UUID


def test_make_election_with_a_malformed_template(tmp_path: Path, rng: SeededRandom) -> None:
    k = setup_svc.new_trustee_key(G, tmp_path, rng)
    (tmp_path / "public_keys.jsons").write_text(k.pubkey.read_text())
    setup_svc.make_trustees(tmp_path)
    (tmp_path / "t.json").write_text('{"name": "x", ')
    run = run_cli(
        "setup",
        "make-election",
        "--uuid",
        UUID,
        "--template",
        str(tmp_path / "t.json"),
        "--dir",
        str(tmp_path),
    )
    assert run.code == 2
    assert "t.json" in run.stderr and "invalid JSON" in run.stderr
    assert not (tmp_path / "election.json").exists()


def test_missing_files_raise_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError):
        setup_svc.read_trustees(tmp_path / "trustees.json")


# ---------------------------------------------------------------------- threshold


def test_threshold_ceremony_files(tmp_path: Path, rng: SeededRandom) -> None:
    pairs = threshold_svc.run_ceremony(G, 2, 2, tmp_path, rng)
    params = json.loads((tmp_path / "threshold.json").read_text())
    assert params["threshold"] == 2 and len(params["certs"]) == 2
    for key, dkey in pairs:
        assert key.stat().st_mode & 0o777 == 0o600 and dkey.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / f"{key.stem}.cert").exists()
    (tmp_path / "public_keys.jsons").write_text("")
    trustees = setup_svc.read_trustees(setup_svc.make_trustees(tmp_path))
    assert [t.index for t in trustees.flat()] == [1, 2]


def test_threshold_step2_refuses_a_tampered_cert(tmp_path: Path, rng: SeededRandom) -> None:
    for _ in range(2):
        threshold_svc.step1(G, tmp_path, rng)
    certs = sorted(tmp_path.glob("*.cert"))
    lines = [c.read_text() for c in certs]
    obj = json.loads(lines[1])
    obj["signature"]["response"] = str((int(obj["signature"]["response"]) + 1) % int(G.q))
    (tmp_path / "certs.jsons").write_text(lines[0] + json.dumps(obj, separators=(",", ":")) + "\n")
    run = run_cli("setup", "threshold", "step2", "--certs", str(tmp_path / "certs.jsons"))
    assert run.code == 2 and "trustee 2" in run.stderr
    (tmp_path / "certs.jsons").write_text("".join(lines))
    run = run_cli("setup", "threshold", "step2", "--certs", str(tmp_path / "certs.jsons"))
    assert run.code == 0 and "2 certificates are valid" in run.stdout


def test_threshold_step3_refuses_a_foreign_key(tmp_path: Path, rng: SeededRandom) -> None:
    threshold_svc.step1(G, tmp_path, rng)
    (cert,) = tmp_path.glob("*.cert")
    (tmp_path / "certs.jsons").write_text(cert.read_text())
    other = tmp_path / "other"
    other.mkdir()
    key, _ = threshold_svc.step1(G, other, rng)
    run = run_cli(
        "setup", "threshold", "step3", "--certs", str(tmp_path / "certs.jsons"),
        "--key", str(key), "--threshold", "1",
    )  # fmt: skip
    assert run.code == 2 and "matches none of the certificates" in run.stderr
    assert run.stdout == ""
