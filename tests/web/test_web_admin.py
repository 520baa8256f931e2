"""The whole lifecycle over the API, each role with its own secret: create, roll, credentials
(made by the credential authority on its own side), trustee key, open, vote, close, partial
decryption, result — and every write in the wrong phase or by the wrong role refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from support.belenios import tool_verifies
from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import SeededRandom
from viche.errors import Location
from viche.protocol import codec
from viche.service import credentials as creds
from viche.service import tally
from viche.service.ballot import generate_ballot
from viche.service.demo import DEMO_TEMPLATE
from viche.service.hosting import Host
from viche.service.setup import new_trustee_key
from viche.web.app import create_app
from viche.web.ops import OpsConfig


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.interop
def test_lifecycle_over_the_api(host: Host, tmp_path: Path, belenios_tool: str) -> None:
    server = (tmp_path / "admin.secret").read_text().strip()
    rng = SeededRandom("lifecycle")
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        spec = {"template": DEMO_TEMPLATE, "trustees": 1}
        assert c.post("/api/v1/elections", json=spec).status_code == 401
        assert c.post("/api/v1/elections", json=spec, headers=_bearer("nope")).status_code == 401
        r = c.post("/api/v1/elections", json=spec, headers=_bearer(server))
        assert r.status_code == 201, r.text
        made = r.json()
        uuid, adm, ca, tr = (
            made["uuid"],
            made["administrator"],
            made["credential_authority"],
            made["trustees"][0],
        )
        base = f"/api/v1/elections/{uuid}"

        # the roll: every bad row reported, nothing stored
        bad = "a@x.org,alice\n,bob\na@x.org,alice\nc@x.org,carol,0\n"
        r = c.put(f"{base}/voters", content=bad, headers=_bearer(adm))
        assert r.status_code == 400 and r.json()["code"] == "V9012"
        assert [row["where"] for row in r.json()["rows"]] == [
            {"line": n, "path": ["voters"]} for n in (2, 3, 4)
        ]
        assert c.get(f"{base}/voters", headers=_bearer(ca)).text == ""
        roll = "a@x.org,alice\nb@x.org,bob\nc@x.org,carol\n"
        assert c.put(f"{base}/voters", content=roll, headers=_bearer(ca)).status_code == 401
        r = c.put(f"{base}/voters", content=roll, headers=_bearer(adm))
        assert r.status_code == 200 and r.json()["voters"] == 3
        logins = r.json()["login_secrets"]

        # the credential authority, on its own machine
        voters = creds.parse_voters(
            c.get(f"{base}/voters", headers=_bearer(ca)).text, Location(path=("roll",))
        )
        cset = creds.generate_credentials(BELENIOS_2048, uuid, voters, rng)
        pubcreds = codec.to_bytes(cset.pubcreds_json())
        headers = {**_bearer(ca), "Content-Type": "application/json"}
        r = c.put(f"{base}/credentials", content=pubcreds, headers=headers)
        assert r.status_code == 200 and r.json()["count"] == 3
        assert c.put(f"{base}/voters", content=roll, headers=_bearer(adm)).json()["code"] == "V3005"

        # open before the trustee's key: refused
        assert c.post(f"{base}/open", headers=_bearer(adm)).status_code == 409
        key = new_trustee_key(BELENIOS_2048, tmp_path, rng)
        line = key.pubkey.read_bytes().strip()
        headers = {**_bearer(tr), "Content-Type": "application/json"}
        tampered = line.replace(b'"challenge":"', b'"challenge":"1', 1)
        assert c.put(f"{base}/trustees/1", content=tampered, headers=headers).status_code == 422
        assert c.put(f"{base}/trustees/2", content=line, headers=headers).status_code == 401
        assert c.put(f"{base}/trustees/1", content=line, headers=headers).status_code == 204
        r = c.post(f"{base}/open", headers=_bearer(adm))
        assert r.status_code == 200, r.text
        assert c.put(f"{base}/trustees/1", content=line, headers=headers).status_code == 409
        assert c.get("/api/v1/elections").json()[0]["phase"] == "open"

        # alice votes [[0,0,1,0,0],[1,0]]
        rec = host.record(uuid)
        choices = [[0, 0, 1, 0, 0], [1, 0]]
        raw = generate_ballot(rec.election, rec.credentials, cset.private[0], choices, rng).raw
        ballot_headers = {"Content-Type": "application/json"}
        r = c.post(
            f"{base}/ballots", content=raw, headers=ballot_headers, auth=("alice", logins["alice"])
        )
        assert r.status_code == 201, r.text

        # decrypting before the close is refused (the phase first: whatever the body),
        # closing needs the administrator
        for body in ("x\ny\n", "not two lines"):
            r = c.post(f"{base}/trustees/1/decryption", content=body, headers=_bearer(tr))
            assert r.status_code == 409 and r.json()["code"] == "V3005", r.text
        assert c.post(f"{base}/close", headers=_bearer(tr)).status_code == 401
        r = c.post(f"{base}/close", headers=_bearer(adm))
        assert r.status_code == 200 and r.json()["counted"] == 1
        assert c.post(f"{base}/close", headers=_bearer(adm)).status_code == 409
        r = c.post(
            f"{base}/ballots", content=raw, headers=ballot_headers, auth=("bob", logins["bob"])
        )
        assert r.status_code == 409 and r.json()["code"] == "V3005"

        # the trustee decrypts on her own side, uploads the two lines
        lines = tally.partial_decryption(host.record(uuid), tally.single_key(key.privkey), 1, rng)
        r = c.post(f"{base}/trustees/1/decryption", content=lines.text(), headers=_bearer(tr))
        assert r.status_code == 200, r.text
        early = c.get(f"{base}/result")
        assert early.status_code == 409 and early.json()["code"] == "V3005"
        r = c.post(f"{base}/result", headers=_bearer(adm))
        assert r.status_code == 200, r.text
        rows = r.json()
        assert rows[0]["counts"] == [0, 1, 0, 0] and rows[0]["blank"] == 0
        assert rows[1]["counts"] == [1, 0]
        assert c.post(f"{base}/result", headers=_bearer(adm)).status_code == 409
        r = c.post(f"{base}/trustees/1/decryption", content="x\ny\n", headers=_bearer(tr))
        assert r.status_code == 409 and "already published" in r.json()["message"], r.text
        public = c.get(f"{base}/result").json()  # anyone reads it, no question was ranked
        assert [q["counts"] for q in public["questions"]] == [rows[0]["counts"], [1, 0]]
        assert public["outcomes"] == {"questions": []} and public["questions"][0]["ballots"] is None

        archive = tmp_path / "record" / f"{uuid}.bel"
        archive.parent.mkdir()
        archive.write_bytes(c.get(f"{base}/archive.bel").content)
        ok, err = tool_verifies(belenios_tool, archive.parent)
        assert ok, err


def test_roll_logins_a_voter_cannot_authenticate_with_are_bad_rows(
    host: Host, tmp_path: Path
) -> None:
    """A voter authenticates with HTTP Basic (login:secret): a login holding ':' would be
    cut there and could never vote, a character that is not printable (a control
    character) cannot be typed; each is a bad row, with its line. Letters of any script
    and spaces inside a login are fine."""
    server = (tmp_path / "admin.secret").read_text().strip()
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        spec = {"template": DEMO_TEMPLATE, "trustees": 1}
        made = c.post("/api/v1/elections", json=spec, headers=_bearer(server)).json()
        voters = f"/api/v1/elections/{made['uuid']}/voters"
        adm = _bearer(made["administrator"])
        bad = "a@x.org,alice\nb@x.org,bob:smith\nc@x.org,car\x07ol\nd@x.org:8080\n"
        r = c.put(voters, content=bad, headers=adm)
        assert r.status_code == 400 and r.json()["code"] == "V9012", r.text
        rows = r.json()["rows"]
        assert [row["where"]["line"] for row in rows] == [2, 3, 4]
        assert all("login" in row["message"] for row in rows), rows
        assert "':'" in rows[0]["message"]
        # a roll bad on every line (the weight column shifted): the first 100 rows listed,
        # the number of all said; not an answer of 150 bytes a row (4.5 MB in: 31 MB out)
        shifted = "".join(f"v{i}@x.org,v{i},0\n" for i in range(5000))
        r = c.put(voters, content=shifted, headers=adm)
        assert r.status_code == 400 and r.json()["code"] == "V9012"
        assert len(r.json()["rows"]) == 100 and r.json()["rows"][-1]["where"]["line"] == 100
        assert "5000 bad row(s)" in r.json()["message"]
        assert "the first 100 listed" in r.json()["message"]
        # a roll sent as a form upload (curl -F) or as JSON: refused for its type, not read
        # line by line (the form's boundary and headers would have been voters)
        form = c.put(voters, files={"file": ("roll.csv", b"a@x.org,alice\n")}, headers=adm)
        assert form.status_code == 415 and form.json()["code"] == "V1011", form.text
        assert "multipart/form-data" in form.json()["message"]
        json_type = {**adm, "Content-Type": "application/json"}
        as_json = c.put(voters, content=b'{"a":1}', headers=json_type)
        assert as_json.status_code == 415 and as_json.json()["code"] == "V1011"
        fine = "a@x.org,alice\nb@x.org,Олена Петренко\n"
        r = c.put(voters, content=fine.encode(), headers={**adm, "Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert sorted(r.json()["login_secrets"]) == ["alice", "Олена Петренко"]


def test_a_role_refused_is_challenged_to_bearer_a_voter_to_basic(
    host: Host, tmp_path: Path
) -> None:
    """RFC 7235: a 401 names the scheme the address takes. The roles send their secret as a
    Bearer token (they were challenged to Basic, which they cannot answer); a voter signs
    in with Basic."""
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        spec = {"template": DEMO_TEMPLATE, "trustees": 1}
        for headers in ({}, _bearer("nope")):
            r = c.post("/api/v1/elections", json=spec, headers=headers)
            assert r.status_code == 401 and r.json()["code"] == "V9010"
            assert r.headers["www-authenticate"] == "Bearer"
        r = c.post(
            "/api/v1/elections/AbcDefGhi23456/ballots",
            content=b"{}",
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Basic"


def test_a_template_without_questions_is_refused_at_creation(host: Host, tmp_path: Path) -> None:
    """An election needs at least one question: said when it is created (422 at
    template/questions), not when it opens after the roll, the credentials and the keys."""
    server = (tmp_path / "admin.secret").read_text().strip()
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        template = {"name": "Empty", "description": "no question", "questions": []}
        spec = {"template": template, "trustees": 1}
        r = c.post("/api/v1/elections", json=spec, headers=_bearer(server))
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "V3000" and "at least one question" in r.json()["message"]
        assert r.json()["where"]["path"] == ["template", "questions"]


def test_answers_to_a_request_with_a_secret_are_never_stored(host: Host, tmp_path: Path) -> None:
    """The roles' secrets (at creation), the voters' login secrets (roll import), the roll's
    addresses, a voter's receipt: answered with Cache-Control: no-store, so that no browser
    or proxy cache keeps them. The public record stays cacheable."""
    server = (tmp_path / "admin.secret").read_text().strip()
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        spec = {"template": DEMO_TEMPLATE, "trustees": 1}
        r = c.post("/api/v1/elections", json=spec, headers=_bearer(server))
        assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
        made = r.json()
        voters = f"/api/v1/elections/{made['uuid']}/voters"
        r = c.put(voters, content="a@x.org,alice\n", headers=_bearer(made["administrator"]))
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        r = c.get(voters, headers=_bearer(made["credential_authority"]))
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        r = c.get(voters, headers=_bearer("wrong"))  # refused: nothing to keep either
        assert r.status_code == 401 and r.headers["cache-control"] == "no-store"
        assert "cache-control" not in c.get("/api/v1/elections").headers
