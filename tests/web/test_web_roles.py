"""A whole served election whose roles play their part only with ``viche`` commands that talk
to the real ``viche serve`` process: the credential authority (``viche authority
credentials``), three Pedersen trustees (``viche trustee ceremony``, 2 of 3 needed), the voters
(``viche vote``); after the close two trustees shuffle the ranked questions and decrypt
(``viche trustee shuffle``, ``viche trustee decrypt``). Every secret stays in its role's folder;
the archive passes ``viche verify`` and belenios-tool. Then a Single trustee's ``viche trustee
key``, and the refusals: a wrong secret, a secret file that is not one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient

from support.belenios import tool_verifies
from support.cli import run_cli
from support.served import free_port, start_server, stop, wait_until_up
from support.web import bearer, draft_over_api
from viche.cli.roles import ceremony_step
from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import SeededRandom
from viche.errors import UsageError, VicheError
from viche.record.sql import SqlBoard
from viche.service.admin import ensure_server_admin
from viche.service.demo import DEMO_TEMPLATE
from viche.service.hosting import Host
from viche.web.app import create_app
from viche.web.client import RoleClient
from viche.web.ops import OpsConfig

GROUP = "RFC-3526-2048"
VOTES = {
    "ann": [[1, 0], [1, 2, 3, 4], [5, 0, 1]],
    "ben": [[0, 1], [4, 3, 2, 1], [1, 1, 1]],
    "cat": [[1, 0], [2, 1, 4, 3], [0, 0, 0]],
}


@dataclass(frozen=True)
class Server:
    url: str
    api: httpx.Client
    admin_secret: str
    data: Path


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    port = free_port()
    proc = start_server(data, port)
    try:
        wait_until_up(proc, port)
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=120) as api:
            yield Server(url, api, (data / "admin.secret").read_text().strip(), data)
    finally:
        stop(proc)


def _viche(*argv: str) -> str:
    run = run_cli(*argv)
    assert run.code == 0, run.stdout + run.stderr
    return run.stdout


def _secret_file(path: Path, secret: str) -> Path:
    path.write_text(secret + "\n")
    return path


def _create(s: Server, spec: dict[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """An election and its roll (the administrator's part, over plain HTTP)."""
    r = s.api.post("/api/v1/elections", json=spec, headers=bearer(s.admin_secret))
    assert r.status_code == 201, r.text
    made = r.json()
    assert isinstance(made, dict)
    roll = "".join(f"{login}@example.org,{login}\n" for login in VOTES)
    r = s.api.put(
        f"/api/v1/elections/{made['uuid']}/voters",
        content=roll,
        headers=bearer(str(made["administrator"])),
    )
    assert r.status_code == 200, r.text
    return made, r.json()["login_secrets"]


def _admin(s: Server, made: dict[str, object], action: str) -> httpx.Response:
    r = s.api.post(
        f"/api/v1/elections/{made['uuid']}/{action}", headers=bearer(str(made["administrator"]))
    )
    assert r.status_code == 200, r.text
    return r


def _secret_files_in(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix in (".key", ".dkey", ".privkey", ".privcreds")]


@pytest.mark.interop
def test_two_of_three_election_driven_by_the_role_commands(
    server: Server, tmp_path: Path, templates_dir: Path, belenios_tool: str
) -> None:
    template = json.loads((templates_dir / "nh.json").read_text())
    spec = {"template": template, "group": GROUP, "trustees": 3, "threshold": 2}
    made, logins = _create(server, spec)
    uuid = str(made["uuid"])
    trustee_secrets = [str(x) for x in made["trustees"]]  # type: ignore[attr-defined]

    def role(secret: Path) -> list[str]:
        return [server.url, "--election", uuid, "--secret-file", str(secret)]

    # the credential authority: the roll downloaded, credentials made here, public ones sent
    ca = _secret_file(tmp_path / "ca.secret", str(made["credential_authority"]))
    ca_dir = tmp_path / "authority"
    said = _viche("authority", "credentials", *role(ca), "--out", str(ca_dir))
    assert "3 public credentials uploaded" in said
    again = _viche("authority", "credentials", *role(ca), "--out", str(ca_dir))
    assert "3 public credentials uploaded" in again
    (privcreds,) = ca_dir.glob("*.privcreds")
    assert privcreds.stat().st_mode & 0o077 == 0

    # the key ceremony: each trustee runs the same command once per step
    homes = [tmp_path / f"trustee{n}" for n in (1, 2, 3)]
    secrets = [
        _secret_file(tmp_path / f"trustee{n}.secret", trustee_secrets[n - 1]) for n in (1, 2, 3)
    ]

    def ceremony(n: int) -> str:
        return _viche(
            "trustee", "ceremony", *role(secrets[n - 1]), "--trustee", str(n),
            "--dir", str(homes[n - 1]),
        )  # fmt: skip

    base = f"/api/v1/elections/{uuid}"
    for step, what in ((1, "cert"), (3, "polynomial"), (5, "voutput")):
        assert server.api.get(f"{base}/ceremony").json()["step"] == step
        for n in (1, 2, 3):
            assert f"{what} of trustee {n} accepted" in ceremony(n)
            if n == 1:  # done already: nothing is sent again, it says what it waits for
                assert f"step {step}: 1 of 3 trustees are in" in ceremony(1)
    assert server.api.get(f"{base}/ceremony").json()["step"] == 7
    assert "the key ceremony is over" in ceremony(2)
    for home in homes:
        kept = _secret_files_in(home)
        assert sorted(p.suffix for p in kept) == [".dkey", ".key"]
        assert all(p.stat().st_mode & 0o077 == 0 for p in kept)

    _admin(server, made, "open")
    r = server.api.get(f"{base}/draft")  # set up: no draft any more
    assert r.status_code == 409 and r.json()["code"] == "V3005", r.text
    private = {line.split()[0].split(",")[1]: line for line in privcreds.read_text().splitlines()}
    for login, choices in VOTES.items():
        voter = tmp_path / "voters" / login
        voter.mkdir(parents=True)
        (voter / "cred").write_text(private[login] + "\n")
        (voter / "login").write_text(f"{login} {logins[login]}\n")
        (voter / "choices.json").write_text(json.dumps(choices))
        _viche(
            "vote", server.url, "--election", uuid, "--privcred", str(voter / "cred"),
            "--login", str(voter / "login"), "--ballot", str(voter / "choices.json"),
        )  # fmt: skip
    _admin(server, made, "close")

    # trustees 1 and 3 shuffle and decrypt; trustee 2 is away
    for n in (1, 3):
        said = _viche(
            "trustee", "shuffle", *role(secrets[n - 1]), "--trustee", str(n),
            "--dir", str(homes[n - 1]),
        )  # fmt: skip
        assert f"shuffle of trustee {n} accepted" in said
    # run again (the README: every role command can be re-run): nothing made or sent anew
    events = server.api.get(f"{base}").json()["head"]["height"]
    said = _viche(
        "trustee", "shuffle", *role(secrets[0]), "--trustee", "1", "--dir", str(homes[0])
    )
    assert "trustee 1's shuffle is already in the record" in said
    assert server.api.get(f"{base}").json()["head"]["height"] == events
    _admin(server, made, "shuffles/end")
    for n in (1, 3):
        said = _viche(
            "trustee", "decrypt", *role(secrets[n - 1]), "--trustee", str(n),
            "--dir", str(homes[n - 1]),
        )  # fmt: skip
        assert f"partial decryption of trustee {n} accepted" in said
    said = _viche(
        "trustee", "decrypt", *role(secrets[2]), "--trustee", "3", "--dir", str(homes[2])
    )
    assert "trustee 3's partial decryption is already in the record" in said
    rows = _admin(server, made, "result").json()
    assert rows[0]["counts"] == [2, 1]
    assert sorted(map(tuple, rows[1]["ballots"])) == sorted(tuple(v[1]) for v in VOTES.values())
    assert sorted(map(tuple, rows[2]["ballots"])) == sorted(tuple(v[2]) for v in VOTES.values())

    record = tmp_path / "record"
    record.mkdir()
    (record / f"{uuid}.bel").write_bytes(server.api.get(f"{base}/archive.bel").content)
    ok, err = tool_verifies(belenios_tool, record)
    assert ok, err
    verified = run_cli("verify", str(record), "--jobs", "1")
    assert verified.code == 0, verified.stdout + verified.stderr

    # no seed, share or private credential reached the server: not in its database nor record
    stored = b"".join(p.read_bytes() for p in server.data.glob("board.sqlite*") if p.is_file())
    stored += (record / f"{uuid}.bel").read_bytes()
    secrets_kept = [p.read_text().strip() for home in homes for p in _secret_files_in(home)]
    secrets_kept += [line.split()[-1] for line in privcreds.read_text().splitlines()]
    assert len(secrets_kept) == 6 + len(VOTES)
    assert not [x for x in secrets_kept if x.encode() in stored]


def test_single_trustee_key_and_refusals(server: Server, tmp_path: Path) -> None:
    made, _ = _create(server, {"template": json.loads(_TEMPLATE), "trustees": 1})
    uuid = str(made["uuid"])
    secret = str(made["trustees"][0])  # type: ignore[index]
    draft = server.api.get(f"/api/v1/elections/{uuid}/draft").json()
    assert draft == {"uuid": uuid, "group": "BELENIOS-2048", "trustees": 1, "threshold": None}
    home = tmp_path / "trustee"

    def key(secret_file: Path, n: int = 1) -> list[str]:
        return [
            "trustee", "key", server.url, "--election", uuid, "--secret-file", str(secret_file),
            "--trustee", str(n), "--out", str(home),
        ]  # fmt: skip

    # another role's secret: refused by the server, shown as one line with code and location
    wrong = _secret_file(tmp_path / "wrong.secret", str(made["credential_authority"]))
    run = run_cli(*key(wrong))
    assert run.code == 2
    (message,) = [ln for ln in run.stderr.splitlines() if ln.startswith("error")]
    assert "[V9010]" in message and f"/api/v1/elections/{uuid}/trustees/1" in message
    assert str(made["credential_authority"]) not in run.stdout + run.stderr
    # a secret file that is not one secret alone
    two = tmp_path / "two.secret"
    two.write_text(f"{secret} {secret}\n")
    run = run_cli(*key(two))
    assert run.code == 2 and str(two) in run.stderr and secret not in run.stderr

    mine = _secret_file(tmp_path / "trustee.secret", secret)
    run = run_cli(*key(mine, 2))  # trustee 1 is not trustee 2
    assert run.code == 2 and "[V9010]" in run.stderr and "trustee-2" in run.stderr, run.stderr
    said = _viche(*key(mine))
    assert "uploaded as trustee 1's" in said and secret not in said
    # a folder is one election's; an election id is checked before it names a file or a URL
    other = _secret_file(tmp_path / "other.secret", secret)
    run = run_cli(*[a if a != uuid else "AbcDefGhi23456" for a in key(other)])
    assert run.code == 2 and f"holds the files of election {uuid}" in run.stderr, run.stderr
    run = run_cli(*[a if a != uuid else "../../etc" for a in key(other)])
    assert run.code == 2 and "--election" in run.stderr, run.stderr
    (pub,) = home.glob("*.pubkey")
    again = _viche(*key(mine))  # the same key, sent again (nothing made anew)
    assert pub.name in again and len(list(home.glob("*.privkey"))) == 1
    r = server.api.post(
        f"/api/v1/elections/{uuid}/open", headers=bearer(str(made["administrator"]))
    )
    assert r.status_code == 409  # the credentials are not in: only that is missing
    assert "credential" in r.json()["message"]


_TEMPLATE = json.dumps(
    {
        "name": "Single",
        "description": "one question",
        "questions": [{"question": "Yes?", "answers": ["Yes", "No"], "min": 0, "max": 1}],
    }
)


# ---------------------------------------------------------------- what the server sends is checked


class Tampering(RoleClient):
    """A trustee's client whose server lies: certs.jsons with two certificates swapped (each
    valid, but not in their place), or another trustee's vinput; or whose upload is lost."""

    def __init__(self, http: httpx.Client, uuid: str, secret: str, lie: str) -> None:
        super().__init__("http://testserver", uuid, secret, http=http)
        self.lie = lie
        self.others_vinput = ""

    def certs_jsons(self) -> str:
        lines = super().certs_jsons().splitlines(keepends=True)
        if self.lie == "certs":
            lines[0], lines[1] = lines[1], lines[0]
        return "".join(lines)

    def vinput(self, n: int) -> str:
        return self.others_vinput if self.lie == "vinput" else super().vinput(n)

    def put_ceremony_message(self, n: int, what: str, line: str) -> dict[str, Any]:
        if self.lie == "lost":
            raise UsageError("cannot reach the server: ReadTimeout")
        return super().put_ceremony_message(n, what, line)


def test_ceremony_checks_what_the_server_sends(board_url: str, tmp_path: Path) -> None:
    board = SqlBoard.open(board_url)
    host = Host(board, tmp_path / "keys")
    ensure_server_admin(board, tmp_path / "admin.secret")
    admin = (tmp_path / "admin.secret").read_text().strip()
    rng = SeededRandom("roles-checks")
    spec = {"template": DEMO_TEMPLATE, "trustees": 3, "threshold": 2}
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        d = draft_over_api(c, admin, spec, ["ann"], rng)
        http = cast(httpx.Client, c)
        homes = [tmp_path / f"trustee{n}" for n in (1, 2, 3)]
        for home in homes:
            home.mkdir()

        def step(n: int, lie: str = "") -> None:
            client = Tampering(http, d.uuid, d.trustees[n - 1], lie)
            client.others_vinput = c.get(
                f"{d.base}/ceremony/trustees/2/vinput", headers=bearer(d.trustees[1])
            ).text
            ceremony_step(client, BELENIOS_2048, n, homes[n - 1], rng)

        def state() -> dict[str, Any]:
            found = c.get(f"{d.base}/ceremony").json()
            assert isinstance(found, dict)
            return found

        # an upload lost on the way: the next run sends the same certificate again
        with pytest.raises(UsageError, match="cannot reach"):
            step(1, "lost")
        assert state()["certs"] == []
        step(1)
        (cert,) = homes[0].glob("*.cert")
        assert len(list(homes[0].glob("*.key"))) == 1
        for n in (2, 3):
            step(n)
        published = c.get(f"{d.base}/ceremony/certs.jsons").text.splitlines()
        assert published[0] == cert.read_text().strip()

        with pytest.raises(UsageError, match="certificate 1 on the server is not the one"):
            step(1, "certs")
        assert state()["polynomials"] == []  # nothing uploaded
        for n in (1, 2, 3):
            step(n)
        assert state()["step"] == 5
        with pytest.raises(VicheError) as refused:
            step(1, "vinput")
        assert refused.value.code.startswith("V2")  # the shares are not trustee 1's
        assert state()["voutputs"] == [] and not list(homes[0].glob("*.dkey"))
        for n in (1, 2, 3):
            step(n)
        assert state()["step"] == 7
    board.close()
