"""Ranked (non-homomorphic) questions over the API: after the close each trustee in turn
downloads the record, shuffles on its own machine (``viche tally shuffle``) and posts the two
lines; the server checks the proof before appending. Then EndShuffles, the partial
decryptions and the result; the archive passes belenios-tool and ``viche verify``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from support.belenios import tool_verifies
from support.cli import run_cli
from support.web import bearer, download_archive, draft_over_api, vote_over_api
from viche.crypto.group import RFC_3526_2048
from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.record.sql import SqlBoard
from viche.record.sql.schema import drafts, secrets
from viche.service import tally
from viche.service.admin import ensure_server_admin
from viche.service.hosting import Host
from viche.service.setup import new_trustee_key
from viche.web.app import create_app
from viche.web.ops import OpsConfig

VOTES = {
    "ann": [[1, 0], [1, 2, 3, 4], [5, 0, 1]],
    "ben": [[0, 1], [4, 3, 2, 1], [1, 1, 1]],
    "cat": [[1, 0], [2, 1, 4, 3], [0, 0, 0]],
}


@pytest.mark.interop
def test_ranked_election_shuffled_over_the_api(
    board_url: str, tmp_path: Path, templates_dir: Path, belenios_tool: str
) -> None:
    board = SqlBoard.open(board_url)
    host = Host(board, tmp_path / "keys")
    ensure_server_admin(board, tmp_path / "admin.secret")
    server = (tmp_path / "admin.secret").read_text().strip()
    rng = SeededRandom("mixnet-api")
    template = json.loads((templates_dir / "nh.json").read_text())
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        spec = {"template": template, "group": "RFC-3526-2048", "trustees": 2}
        d = draft_over_api(c, server, spec, list(VOTES), rng)
        keys = []
        for n, secret in enumerate(d.trustees, start=1):
            key = new_trustee_key(RFC_3526_2048, tmp_path, rng)
            keys.append(key)
            r = c.put(
                f"{d.base}/trustees/{n}",
                content=key.pubkey.read_bytes().strip(),
                headers=bearer(secret, "application/json"),
            )
            assert r.status_code == 204, r.text
        assert c.post(f"{d.base}/open", headers=bearer(d.administrator)).status_code == 200
        for login, choices in VOTES.items():
            vote_over_api(d, host, login, choices, rng)

        shuffle_text = "x\ny\n"
        r = c.post(
            f"{d.base}/trustees/1/shuffle", content=shuffle_text, headers=bearer(d.trustees[0])
        )
        assert r.status_code == 409 and r.json()["code"] == "V3005"  # not closed yet
        assert c.post(f"{d.base}/close", headers=bearer(d.administrator)).status_code == 200
        r = c.post(f"{d.base}/shuffles/end", headers=bearer(d.administrator))
        assert r.status_code == 409 and r.json()["code"] == "V3005"  # no shuffle yet

        for n, secret in enumerate(d.trustees, start=1):
            # the trustee's machine: the record as served, the shuffle CLI
            mine = tmp_path / f"trustee{n}"
            download_archive(d, mine)
            made = run_cli("tally", "shuffle", "--dir", str(mine), "--trustee-id", str(n))
            assert made.code == 0, made.stderr
            if n == 1:
                # twins: another trustee's lines, and a tampered proof, are refused
                r = c.post(
                    f"{d.base}/trustees/2/shuffle",
                    content=made.stdout,
                    headers=bearer(d.trustees[1]),
                )
                assert r.status_code == 400 and r.json()["where"]["trustee"] == 2
                first = made.stdout.splitlines()[0]
                body = json.loads(first)
                body["ciphertexts"][0].reverse()  # the proof no longer fits
                bad = json.dumps(body, separators=(",", ":"))
                owned_bad = json.dumps(
                    {"owner": 1, "payload": sha256_hex(bad.encode())}, separators=(",", ":")
                )
                r = c.post(
                    f"{d.base}/trustees/1/shuffle",
                    content=f"{bad}\n{owned_bad}\n",
                    headers=bearer(secret),
                )
                assert r.status_code == 422, r.text
                assert r.json()["where"]["path"][0] == "shuffle"
                assert (
                    c.post(
                        f"{d.base}/trustees/1/shuffle",
                        content=made.stdout,
                        headers=bearer(d.trustees[1]),
                    ).status_code
                    == 401
                )
            r = c.post(
                f"{d.base}/trustees/{n}/shuffle", content=made.stdout, headers=bearer(secret)
            )
            assert r.status_code == 200 and r.json()["count"] == n, r.text
        r = c.post(
            f"{d.base}/trustees/1/shuffle", content=made.stdout, headers=bearer(d.trustees[0])
        )
        assert r.status_code in (400, 422)
        assert c.post(f"{d.base}/shuffles/end", headers=bearer(d.trustees[0])).status_code == 401
        r = c.post(f"{d.base}/shuffles/end", headers=bearer(d.administrator))
        assert r.status_code == 200 and r.json()["count"] == 2

        for n, (secret, key) in enumerate(zip(d.trustees, keys, strict=True), start=1):
            lines = tally.partial_decryption(
                host.record(d.uuid), tally.single_key(key.privkey), n, rng
            )
            r = c.post(
                f"{d.base}/trustees/{n}/decryption", content=lines.text(), headers=bearer(secret)
            )
            assert r.status_code == 200, r.text
        r = c.post(f"{d.base}/result", headers=bearer(d.administrator))
        assert r.status_code == 200, r.text
        rows = r.json()
        assert rows[0]["counts"] == [2, 1]
        assert sorted(map(tuple, rows[1]["ballots"])) == sorted(tuple(v[1]) for v in VOTES.values())
        assert sorted(map(tuple, rows[2]["ballots"])) == sorted(tuple(v[2]) for v in VOTES.values())

        archive = download_archive(d, tmp_path / "record")
        ok, err = tool_verifies(belenios_tool, archive.parent)
        assert ok, err
        verified = run_cli("verify", str(archive.parent), "--jobs", "1")
        assert verified.code == 0, verified.stdout + verified.stderr
    board.close()


def test_ranked_questions_in_a_group_without_embedding_are_refused_at_creation(
    board_url: str, tmp_path: Path, templates_dir: Path
) -> None:
    """Not after the roll, the credentials and the whole key ceremony, when the vote opens
    (or, scheduled, in the server's log only): the template is checked against the group."""
    board = SqlBoard.open(board_url)
    host = Host(board, tmp_path / "keys")
    ensure_server_admin(board, tmp_path / "admin.secret")
    server = (tmp_path / "admin.secret").read_text().strip()
    template = json.loads((templates_dir / "nh.json").read_text())
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        r = c.post(
            "/api/v1/elections",
            json={"template": template, "trustees": 3, "threshold": 2},  # BELENIOS-2048
            headers=bearer(server),
        )
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "V3000"
        assert "BELENIOS-2048" in body["message"]
        assert body["where"]["path"] == ["template", "questions[1]"]
        with board.engine.connect() as conn:  # nothing stored: no draft, no secret
            assert conn.execute(select(func.count()).select_from(drafts)).scalar() == 0
            assert conn.execute(select(func.count()).select_from(secrets)).scalar() == 1
        spec = {"template": template, "group": "RFC-3526-2048", "trustees": 1}
        assert c.post("/api/v1/elections", json=spec, headers=bearer(server)).status_code == 201
    board.close()


def test_weights_in_the_roll_of_a_ranked_election_are_refused_line_by_line(
    board_url: str, tmp_path: Path, templates_dir: Path
) -> None:
    """Ranked questions allow no weights (spec 1, "Weights"): the roll says so line by line
    when it is imported, not the opening after the credentials and the trustees' keys."""
    board = SqlBoard.open(board_url)
    host = Host(board, tmp_path / "keys")
    ensure_server_admin(board, tmp_path / "admin.secret")
    server = (tmp_path / "admin.secret").read_text().strip()
    template = json.loads((templates_dir / "nh.json").read_text())
    with TestClient(create_app(host, OpsConfig.unlimited())) as c:
        spec = {"template": template, "group": "RFC-3526-2048", "trustees": 1}
        made = c.post("/api/v1/elections", json=spec, headers=bearer(server)).json()
        voters = f"/api/v1/elections/{made['uuid']}/voters"
        roll = "ann@example.org,ann,1\nben@example.org,ben,2\ncat@example.org,cat\n"
        r = c.put(voters, content=roll, headers=bearer(made["administrator"]))
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["code"] == "V9012"
        (row,) = body["rows"]
        assert row["where"]["line"] == 2 and "weight" in row["message"], row
        assert "homomorphic" in row["message"]
        fine = roll.replace(",2\n", ",1\n")  # weight 1 everywhere is no weight
        r = c.put(voters, content=fine, headers=bearer(made["administrator"]))
        assert r.status_code == 200, r.text
    board.close()
