"""The HTTP API over a served election, on SQLite and PostgreSQL (FastAPI's TestClient)."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import cast

import httpx
import pytest
from fastapi.testclient import TestClient

from support.belenios import tool_verifies
from support.web import Served
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.errors import ProofError
from viche.protocol import codec
from viche.record import read_archive
from viche.record.events import EventType
from viche.service.hosting import Host
from viche.service.receipts import Verdict, check_receipt, parse_receipt
from viche.web.app import create_app
from viche.web.client import VotingClient
from viche.web.ops import OpsConfig


def _ballot(s: Served, n: int, seed: str = "b") -> bytes:
    return s.ballot(n, seed)


def _post(s: Served, raw: bytes, n: int, **headers: str) -> tuple[int, dict[str, object]]:
    r = s.post_ballot(raw, n, **headers)
    return r.status_code, r.json()


def _archive(s: Served, tmp: Path, name: str) -> Path:
    r = s.client.get(f"/api/v1/elections/{s.uuid}/archive.bel")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-tar"
    d = tmp / name
    d.mkdir()
    (d / f"{s.uuid}.bel").write_bytes(r.content)
    return d / f"{s.uuid}.bel"


def test_elections_are_listed_and_described(served: Served) -> None:
    s = served
    listed = s.client.get("/api/v1/elections").json()
    assert listed == [
        {"uuid": s.uuid, "name": "Viche demo election", "phase": "open", "ballots": 0}
    ]
    detail = s.client.get(f"/api/v1/elections/{s.uuid}").json()
    assert detail["fingerprint"] == s.prepared.election.fingerprint
    assert detail["head"]["height"] == 0
    assert detail["receipt_key"] == s.host.receipt_key(s.uuid).public
    for name, raw in (
        ("election", s.prepared.election.raw),
        ("credentials", s.prepared.credentials.raw),
    ):
        got = s.client.get(f"/api/v1/elections/{s.uuid}/objects/{detail['setup'][name]}")
        assert got.status_code == 200 and got.content == raw
    assert s.client.get("/api/v1/elections/NoSuchElection123").status_code == 404
    assert s.client.get(f"/api/v1/elections/{s.uuid}/objects/{'0' * 64}").status_code == 404
    bad = s.client.get(f"/api/v1/elections/{s.uuid}/objects/../../x")
    assert bad.status_code == 404
    r = s.client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json()["code"] == "V9011"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_ballot_is_accepted_with_a_signed_receipt(served: Served, tmp_path: Path) -> None:
    s = served
    raw = _ballot(s, 1)
    status, body = _post(s, raw, 1)
    assert status == 201, body
    assert body["height"] == 1 and body["revote"] is False
    signed = parse_receipt(codec.to_bytes(body["receipt"]))
    assert signed.receipt.ballot_hash == sha256_hex(raw)
    assert signed.receipt.key == s.client.get(f"/api/v1/elections/{s.uuid}").json()["receipt_key"]
    assert s.store.head().hash == signed.receipt.event_hash  # durable before the answer
    # the ballot is public under its hash
    assert s.client.get(f"/api/v1/elections/{s.uuid}/objects/{sha256_hex(raw)}").content == raw
    archive = read_archive(_archive(s, tmp_path, "after"))
    assert check_receipt(signed, archive).verdict is Verdict.IN_RECORD
    # a re-vote replaces the first ballot
    status, body = _post(s, _ballot(s, 1, seed="again"), 1)
    assert status == 201 and body["revote"] is True and body["height"] == 2


def test_refused_ballots_leave_the_board_unchanged(served: Served) -> None:
    s = served
    raw = _ballot(s, 2)
    assert _post(s, raw, 2)[0] == 201
    before = io.BytesIO()
    s.store.write_archive(before)
    cases: list[tuple[int, str, bytes, int, dict[str, str]]] = [
        (409, "V3002", raw, 2, {}),  # replay
        (422, "V3007", _ballot(s, 3), 2, {}),  # voter 2 sends voter 3's ballot
        (400, "V1002", raw.replace(b'{"', b'{ "', 1), 2, {}),  # not canonical
        (400, "V1001", b"{not json", 2, {}),
        (415, "V1011", raw, 2, {"Content-Type": "text/plain"}),
        (413, "V1010", b"[" + b"0," * 400_000 + b"0]", 2, {}),
        (422, "V2002", raw.replace(b'"hash":"', b'"hash":"A', 1), 2, {}),
    ]
    for status, code, body, n, headers in cases:
        got, answer = _post(s, body, n, **headers)
        assert (got, answer["code"]) == (status, code), (code, answer)
        assert {"message", "where", "at"} <= set(answer)
    wrong = s.client.post(
        f"/api/v1/elections/{s.uuid}/ballots",
        content=raw,
        headers={"Content-Type": "application/json"},
        auth=(s.login(2)[0], "wrong-secret"),
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "V9010"
    anonymous = s.client.post(
        f"/api/v1/elections/{s.uuid}/ballots",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert anonymous.status_code == 401
    unknown = s.client.post(
        "/api/v1/elections/NoSuchElection123/ballots",
        content=raw,
        headers={"Content-Type": "application/json"},
        auth=s.login(2),
    )
    assert unknown.status_code == 404
    after = io.BytesIO()
    s.store.write_archive(after)
    assert after.getvalue() == before.getvalue()


def test_ballots_after_the_close_are_refused(served: Served) -> None:
    s = served
    s.store.append(EventType.END_BALLOTS, [], expected_head=s.store.head().hash)
    status, body = _post(s, _ballot(s, 1), 1)
    assert (status, body["code"]) == (409, "V3005")
    assert s.client.get("/api/v1/elections").json()[0]["phase"] == "closed"


def test_simultaneous_ballots_of_one_voter_are_serialised(served: Served) -> None:
    """Two different ballots and one replay of the first, for one credential, at once."""
    s = served
    a, b = _ballot(s, 4, "a"), _ballot(s, 4, "b")
    results: list[tuple[int, dict[str, object]]] = []
    barrier = threading.Barrier(3)

    def send(raw: bytes) -> None:
        barrier.wait()
        results.append(_post(s, raw, 4))

    threads = [threading.Thread(target=send, args=(r,)) for r in (a, b, a)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r[0] for r in results)
    assert statuses == [201, 201, 409]
    accepted = [r[1] for r in results if r[0] == 201]
    assert sorted(int(str(x["height"])) for x in accepted) == [1, 2]
    assert sorted(bool(x["revote"]) for x in accepted) == [False, True]
    assert s.store.ballot_count() == 2


@pytest.mark.interop
def test_belenios_tool_verifies_the_served_record(
    served: Served, tmp_path: Path, belenios_tool: str
) -> None:
    s = served
    for n in (1, 2, 3, 1):
        assert _post(s, _ballot(s, n, seed=f"v{s.store.head().height}"), n)[0] == 201
    path = _archive(s, tmp_path, "live")
    ok, err = tool_verifies(belenios_tool, path.parent)
    assert ok, err


def test_receipt_check_finds_a_dropped_ballot(served: Served, tmp_path: Path) -> None:
    s = served
    empty = read_archive(_archive(s, tmp_path, "empty"))
    status, body = _post(s, _ballot(s, 1), 1)
    assert status == 201
    signed = parse_receipt(codec.to_bytes(body["receipt"]))
    assert check_receipt(signed, empty).verdict is Verdict.NOT_YET
    # a server that drops the ballot and records another in its place
    s.store.append(EventType.END_BALLOTS, [], expected_head=s.store.head().hash)
    closed = read_archive(_archive(s, tmp_path, "closed"))
    assert check_receipt(signed, closed).verdict is Verdict.IN_RECORD
    forged = body["receipt"]
    assert isinstance(forged, dict)
    inner = dict(forged["receipt"])
    inner["height"] = 5
    with pytest.raises(ProofError):  # a receipt edited by hand no longer verifies
        parse_receipt(codec.to_bytes({"receipt": inner, "signature": forged["signature"]}))
    key = s.host.receipt_key(s.uuid)
    from viche.service.receipts import Receipt

    lost = key.sign(Receipt(**{**signed.receipt.to_json(), "height": 1, "ballot_hash": "0" * 64}))
    assert check_receipt(lost, closed).verdict is Verdict.DROPPED
    with pytest.raises(ProofError):
        check_receipt(signed, closed, published_key="AAAA")


def test_voting_client_makes_the_ballot_locally(served: Served) -> None:
    s = served
    client = VotingClient("http://testserver", http=cast(httpx.Client, s.client))
    done = client.vote(
        s.uuid,
        private_credential=s.credential(3),
        choices=[[0, 1, 0, 0, 0], [1, 0]],
        login=s.login(3)[0],
        secret=s.login(3)[1],
        rng=SeededRandom("client"),
    )
    assert done.height == 1 and not done.revote
    assert s.store.last_ballot(s.prepared.credentials.entries[2].text) is not None


def test_openapi_documents_every_route(served: Served) -> None:
    doc = served.client.get("/api/v1/openapi.json").json()
    paths = set(doc["paths"])
    assert {
        "/api/v1/elections",
        "/api/v1/elections/{uuid}",
        "/api/v1/elections/{uuid}/archive.bel",
        "/api/v1/elections/{uuid}/objects/{digest}",
        "/api/v1/elections/{uuid}/ballots",
    } <= paths
    cast = doc["paths"]["/api/v1/elections/{uuid}/ballots"]["post"]
    assert "application/json" in cast["requestBody"]["content"]
    assert {"201", "401", "409", "422"} <= set(cast["responses"])


def test_no_secret_reaches_the_database_or_a_response(served: Served) -> None:
    """Private credentials, login secrets and the receipt key's private half appear in no
    table and no answer; the twin check finds a public credential where it must be."""
    import sqlalchemy

    from viche.record.sql.schema import metadata

    s = served
    answers = []
    for n in (1, 2):
        status, body = _post(s, _ballot(s, n), n)
        assert status == 201
        answers.append(codec.to_bytes(body))
    answers.append(s.client.get(f"/api/v1/elections/{s.uuid}").content)
    answers.append(s.client.get(f"/api/v1/elections/{s.uuid}/archive.bel").content)
    dump = bytearray()
    with s.host.board.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sqlalchemy.select(table)):
                for value in row:
                    dump += value if isinstance(value, bytes) else str(value).encode()
                    dump += b"\0"
    everything = bytes(dump) + b"\0".join(answers)
    key_file = next((s.host.keys_dir).glob("*.ed25519")).read_text().strip()
    secrets = [s.credential(n) for n in range(1, 5)] + [s.login(n)[1] for n in range(1, 5)]
    for secret in [*secrets, key_file]:
        assert secret.encode() not in everything
    assert s.prepared.credentials.entries[0].text.encode() in bytes(dump)


def test_live_event_stream(served: Served) -> None:
    s = served
    for n in (1, 2):
        assert _post(s, _ballot(s, n), n)[0] == 201
    url = f"/api/v1/elections/{s.uuid}/events"
    r = s.client.get(url, params={"until": 2})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in r.text.split("\n\n") if b.startswith("id:")]
    got = [dict(line.split(": ", 1) for line in b.split("\n")) for b in blocks]
    assert [(g["id"], g["event"]) for g in got] == [
        ("0", "Setup"),
        ("1", "Ballot"),
        ("2", "Ballot"),
    ]
    assert codec.loads(got[2]["data"])["hash"] == s.store.head().hash
    again = s.client.get(url, params={"until": 2}, headers={"Last-Event-ID": "1"})
    assert [b.split("\n")[0] for b in again.text.split("\n\n") if b.startswith("id:")] == ["id: 2"]
    bad = s.client.get(url, params={"until": 2}, headers={"Last-Event-ID": "x"})
    assert bad.status_code == 400 and bad.json()["code"] == "V9000"


def test_metrics_and_readiness(served: Served) -> None:
    s = served
    raw = _ballot(s, 1)
    assert _post(s, raw, 1)[0] == 201
    assert _post(s, raw, 1)[0] == 409
    text = s.client.get("/metrics").text
    assert "viche_ballots_accepted_total 1" in text
    assert 'viche_ballots_refused_total{code="V3002"} 1' in text
    assert "viche_cast_seconds_count 2" in text
    assert s.client.get("/api/v1/ready").json() == {"status": "ready"}


def test_readiness_fails_when_the_database_does(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viche.errors import DatabaseError

    def down() -> list[str]:
        raise DatabaseError("the database failed: OperationalError")

    monkeypatch.setattr(served.host.board, "elections", down)
    r = served.client.get("/api/v1/ready")
    assert r.status_code == 503 and r.json()["code"] == "V4010"


def test_without_its_receipt_key_the_server_takes_no_ballot(served: Served) -> None:
    s = served
    for key in s.host.keys_dir.glob("*.ed25519"):
        key.unlink()
    # a server started without the key (a running one read it when it started)
    host = Host(s.host.board, s.host.keys_dir)
    with TestClient(create_app(host, OpsConfig.unlimited())) as client:
        r = client.post(
            f"/api/v1/elections/{s.uuid}/ballots",
            content=_ballot(s, 1),
            headers={"Content-Type": "application/json"},
            auth=s.login(1),
        )
    assert (r.status_code, r.json()["code"]) == (500, "V4005")
    assert s.store.ballot_count() == 0


def test_an_audited_ballot_is_never_cast(served: Served) -> None:
    s = served
    raw = _ballot(s, 2, seed="audited")
    audits = f"/api/v1/elections/{s.uuid}/audits"
    r = s.client.post(audits, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.json()
    tracker = r.json()["tracker"]
    # posting it twice is the same fact
    again = s.client.post(audits, content=raw, headers={"Content-Type": "application/json"})
    assert again.status_code == 201 and again.json()["tracker"] == tracker
    head = s.store.head()
    status, body = _post(s, raw, 2)
    assert status == 409 and body["code"] == "V3008", body
    assert body["where"] == {"ballot": tracker}
    assert s.store.head() == head  # nothing written
    # a fresh encryption of the same voter is cast
    status, body = _post(s, _ballot(s, 2, seed="fresh"), 2)
    assert status == 201, body
    # junk is not remembered: only a valid ballot of this election can be audited
    bad = s.client.post(audits, content=b'{"x":1}', headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["code"].startswith("V1")


def test_a_voter_whose_login_is_not_ascii_signs_in_and_casts(
    board_url: str, tmp_path: Path
) -> None:
    """HTTP Basic's login and secret are read as UTF-8 (RFC 7617's charset, what the booth
    and ``viche vote`` send): a voter ``олена`` of a Ukrainian roll signs in and casts; she
    was refused 401 whatever her secret when the header was read as ASCII."""
    from support.web import bearer, ready_draft, vote_over_api
    from viche.record.sql import SqlBoard
    from viche.service.admin import ensure_server_admin

    board = SqlBoard.open(board_url)
    try:
        ensure_server_admin(board, tmp_path / "admin.secret")
        server = (tmp_path / "admin.secret").read_text().strip()
        host = Host(board, tmp_path / "keys")
        rng = SeededRandom("utf-8 login")
        with TestClient(create_app(host, OpsConfig.unlimited())) as c:
            d = ready_draft(c, server, ["олена", "ann"], rng, tmp_path)
            assert c.post(f"{d.base}/open", headers=bearer(d.administrator)).status_code == 200
            answer = vote_over_api(d, host, "олена", [[0, 1, 0, 0, 0], [1, 0]], rng)
            assert answer["tracker"]
            wrong = c.post(
                f"{d.base}/ballots",
                content=b"{}",
                headers={"Content-Type": "application/json"},
                auth=("олена", "not-her-secret"),
            )
            assert wrong.status_code == 401 and wrong.json()["code"] == "V9010", wrong.text
    finally:
        board.close()


def test_a_cast_without_credentials_is_counted_as_refused(served: Served) -> None:
    """A cast refused because it carries no (readable) HTTP Basic credentials is counted in
    ``viche_ballots_refused_total`` like every other refusal of the route."""
    url = f"/api/v1/elections/{served.uuid}/ballots"
    json_type = {"Content-Type": "application/json"}
    r = served.client.post(url, content=b"{}", headers=json_type)
    assert r.status_code == 401 and r.json()["code"] == "V9010", r.text
    r = served.client.post(url, content=b"{}", headers={**json_type, "Authorization": "Basic %%"})
    assert r.status_code == 401 and r.json()["code"] == "V9010", r.text
    metrics = served.client.get("/metrics").text
    assert 'viche_ballots_refused_total{code="V9010"} 2' in metrics
