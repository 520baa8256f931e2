"""Privacy of a whole served election: no private credential, login secret, role secret,
trustee private key, receipt signing key or plaintext choice reaches the database or the
logs, and none reaches a response but the two answers made to hand secrets out (the
roles' secrets at creation, the login secrets to the administrator who posts them)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy
from fastapi.testclient import TestClient

from support.web import bearer, draft_over_api, vote_over_api
from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import SeededRandom
from viche.record.sql import SqlBoard
from viche.record.sql.schema import metadata
from viche.service import tally
from viche.service.admin import ensure_server_admin
from viche.service.demo import DEMO_TEMPLATE
from viche.service.hosting import Host
from viche.service.setup import new_trustee_key
from viche.web.app import create_app
from viche.web.ops import OpsConfig, access_log

CHOICES = {
    "ann": [[0, 0, 1, 0, 0], [1, 0]],
    "ben": [[0, 1, 0, 0, 0], [0, 1]],
    "cat": [[0, 0, 0, 1, 0], [1, 0]],
}


class Recording(TestClient):
    """A test client that keeps the body of every answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers: list[tuple[str, bytes]] = []

    def request(self, *args: Any, **kwargs: Any) -> httpx2.Response:
        response = super().request(*args, **kwargs)
        self.answers.append((f"{response.request.method} {response.request.url.path}",
                             response.content))  # fmt: skip
        return response


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture()
def logs() -> Iterator[Lines]:
    """Every log line of the process (the access log may not propagate to the root)."""
    handler = Lines()
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    access_log.addHandler(handler)
    try:
        yield handler
    finally:
        access_log.removeHandler(handler)
        root.removeHandler(handler)
        root.setLevel(old)


def _spellings(choices: list[list[int]]) -> list[bytes]:
    """How a plaintext choice would be written: the whole ballot, each question, as
    compact JSON or as Python prints it."""
    got = [json.dumps(choices, separators=(",", ":")), str(choices)]
    for q in choices:
        got += [json.dumps(q, separators=(",", ":")), str(q)]
    return [g.encode() for g in got]


def test_a_whole_served_election_leaks_no_secret_and_no_choice(
    board_url: str, tmp_path: Path, logs: Lines
) -> None:
    board = SqlBoard.open(board_url)
    try:
        host = Host(board, tmp_path / "keys")
        ensure_server_admin(board, tmp_path / "admin.secret")
        server = (tmp_path / "admin.secret").read_text().strip()
        rng = SeededRandom("privacy")
        with Recording(create_app(host, OpsConfig.unlimited())) as c:
            d = draft_over_api(c, server, {"template": DEMO_TEMPLATE, "trustees": 1},
                               list(CHOICES), rng)  # fmt: skip
            key = new_trustee_key(BELENIOS_2048, tmp_path / "trustee", rng)
            r = c.put(f"{d.base}/trustees/1", content=key.pubkey.read_bytes().strip(),
                      headers=bearer(d.trustees[0], "application/json"))  # fmt: skip
            assert r.status_code == 204, r.text
            assert c.post(f"{d.base}/open", headers=bearer(d.administrator)).status_code == 200
            for login, choices in CHOICES.items():
                vote_over_api(d, host, login, choices, SeededRandom(login))
            # a refused ballot (wrong login secret) is logged too
            refused = c.post(
                f"{d.base}/ballots",
                content=b"{}",
                auth=("ann", "wrong"),
                headers={"Content-Type": "application/json"},
            )
            assert refused.status_code == 401
            assert c.post(f"{d.base}/close", headers=bearer(d.administrator)).status_code == 200
            lines = tally.partial_decryption(
                host.record(d.uuid), tally.single_key(key.privkey), 1, rng
            )
            r = c.post(f"{d.base}/trustees/1/decryption", content=lines.text(),
                       headers=bearer(d.trustees[0]))  # fmt: skip
            assert r.status_code == 200, r.text
            r = c.post(f"{d.base}/result", headers=bearer(d.administrator))
            assert r.status_code == 200, r.text
            counts = [row["counts"] for row in r.json()]
            for path in ("", "/archive.bel", "/result", "/ballots", "/events?until=5"):
                assert c.get(f"{d.base}{path}").status_code == 200, path
            assert c.get("/metrics").status_code == 200
            answers = c.answers

        dump = bytearray()
        with board.engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in conn.execute(sqlalchemy.select(table)):
                    for value in row:
                        dump += value if isinstance(value, bytes) else str(value).encode()
                        dump += b"\0"
    finally:
        board.close()

    # what each answer says of the result, to keep apart from a voter's choice
    assert counts == [[1, 1, 1, 0], [2, 1]]
    secrets = {
        "private credential": [p.encode() for p in d.private.values()],
        "login secret": [s.encode() for s in d.logins.values()],
        "role secret": [s.encode() for s in (server, d.administrator, d.authority, *d.trustees)],
        "trustee private key": [key.privkey.read_bytes().strip()],
        "receipt signing key": [
            p.read_bytes().strip() for p in (tmp_path / "keys").glob("*.ed25519")
        ],
        "plaintext choice": [s for choices in CHOICES.values() for s in _spellings(choices)],
    }
    assert all(secrets.values()), secrets.keys()
    log_text = "\n".join(logs.lines).encode()
    assert b"/ballots" in log_text  # the access log was seen
    handed_out = {"POST /api/v1/elections", f"PUT {d.base}/voters"}
    for kind, values in secrets.items():
        for value in values:
            assert value not in dump, f"a {kind} is in the database"
            assert value not in log_text, f"a {kind} is in the logs"
            for what, body in answers:
                if what in handed_out and kind in ("login secret", "role secret"):
                    continue
                assert value not in body, f"a {kind} is in the answer to {what}"
    # the check can see what it looks for: the roll's logins and the ballots are there
    assert all(login.encode() in dump for login in CHOICES) and b'"Ballot"' in dump
