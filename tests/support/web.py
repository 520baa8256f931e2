"""An election served by the API in a test: the client, the board, the voters' files."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from viche.crypto.group import group_by_name
from viche.crypto.rng import RandomSource, SeededRandom
from viche.errors import Location
from viche.protocol import codec
from viche.record.sql import SqlBoard, SqlElectionStore
from viche.service import credentials as creds
from viche.service.ballot import generate_ballot
from viche.service.credentials import read_private_credential
from viche.service.election_run import random_choices
from viche.service.hosting import Host, open_election
from viche.service.served_demo import PreparedDemo
from viche.web.admission import Admission
from viche.web.app import create_app
from viche.web.checkpool import CheckPool
from viche.web.ops import OpsConfig


@dataclass(frozen=True)
class Served:
    client: TestClient
    host: Host
    store: SqlElectionStore
    prepared: PreparedDemo
    voters: Path

    @property
    def uuid(self) -> str:
        return self.prepared.election.uuid

    def login(self, n: int) -> tuple[str, str]:
        login, secret = (self.voters / f"{n:03d}.login").read_text().split()
        return login, secret

    def credential(self, n: int) -> str:
        return read_private_credential(self.voters / f"{n:03d}.cred")

    def ballot(self, n: int, seed: str = "b") -> bytes:
        """Voter ``n``'s ballot of random choices (seeded by ``seed`` and ``n``)."""
        rng = SeededRandom(f"{seed}|{n}")
        e = self.prepared.election
        return generate_ballot(
            e, self.prepared.credentials, self.credential(n), random_choices(e, rng), rng
        ).raw

    def post_ballot(self, raw: bytes, n: int, **headers: str) -> httpx.Response:
        """``raw`` cast with voter ``n``'s login (whatever the answer)."""
        return self.client.post(
            f"/api/v1/elections/{self.uuid}/ballots",
            content=raw,
            headers={"Content-Type": "application/json", **headers},
            auth=self.login(n),
        )

    def cast(self, n: int, seed: str = "b") -> tuple[bytes, dict[str, Any]]:
        """Voter ``n`` casts a fresh ballot: the ballot and the server's answer (201)."""
        raw = self.ballot(n, seed)
        r = self.post_ballot(raw, n)
        assert r.status_code == 201, r.text
        body = r.json()
        assert isinstance(body, dict)
        return raw, body


@contextlib.contextmanager
def serve_prepared(
    board_url: str, keys: Path, demo: PreparedDemo, voters: Path, checks: CheckPool | None = None
) -> Iterator[Served]:
    """The prepared demo election opened on the board at ``board_url`` and served in
    process, not throttled: no rate limits (tests/web/test_web_ops.py tests them) and every
    cast queued, none told to retry (tests/web/test_web_admission.py tests admission), so
    that what a test asserts does not depend on the machine's load."""
    board = SqlBoard.open(board_url)
    try:
        store = open_election(
            board,
            keys,
            election=demo.election,
            trustees=demo.trustees,
            credentials=demo.credentials,
            ids=demo.ids,
            roll=demo.roll,
            timestamp=demo.timestamp,
        )
        host = Host(board, keys)
        app = create_app(host, OpsConfig.unlimited(), admission=Admission(target=0), checks=checks)
        with TestClient(app, raise_server_exceptions=True) as client:
            yield Served(client, host, store, demo, voters)
    finally:
        board.close()


# ---------------------------------------------------------------- elections set up over the API


def bearer(secret: str, content_type: str | None = None) -> dict[str, str]:
    """The headers of a role's request (its secret as a Bearer token)."""
    headers = {"Authorization": f"Bearer {secret}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


@dataclass(frozen=True)
class Drafted:
    """An election created over the API: its uuid and every role's secret (and, once the roll
    is in and the credentials made, each voter's login secret and private credential)."""

    client: TestClient
    uuid: str
    administrator: str
    authority: str
    trustees: list[str]
    logins: dict[str, str]
    private: dict[str, str]

    @property
    def base(self) -> str:
        return f"/api/v1/elections/{self.uuid}"


def draft_over_api(
    client: TestClient,
    server_secret: str,
    spec: dict[str, object],
    roll: list[str],
    rng: RandomSource,
) -> Drafted:
    """Create an election (``spec``: template, group, trustees, threshold), import ``roll``
    (logins, addresses LOGIN@example.org) and play the credential authority on its own side;
    the trustees' part is left to the caller."""
    r = client.post("/api/v1/elections", json=spec, headers=bearer(server_secret))
    assert r.status_code == 201, r.text
    made = r.json()
    uuid, adm, ca = made["uuid"], made["administrator"], made["credential_authority"]
    base = f"/api/v1/elections/{uuid}"
    text = "".join(f"{login}@example.org,{login}\n" for login in roll)
    r = client.put(f"{base}/voters", content=text, headers=bearer(adm))
    assert r.status_code == 200, r.text
    logins = r.json()["login_secrets"]
    voters = creds.parse_voters(
        client.get(f"{base}/voters", headers=bearer(ca)).text, Location(path=("roll",))
    )
    group = group_by_name(str(spec.get("group", "BELENIOS-2048")))
    cset = creds.generate_credentials(group, uuid, voters, rng)
    pubcreds = codec.to_bytes(cset.pubcreds_json())
    r = client.put(f"{base}/credentials", content=pubcreds, headers=bearer(ca, "application/json"))
    assert r.status_code == 200, r.text
    private = {v.id: c for v, c in zip(cset.voters, cset.private, strict=True)}
    return Drafted(client, uuid, adm, ca, list(made["trustees"]), logins, private)


def ready_draft(
    client: TestClient, server_secret: str, roll: list[str], rng: RandomSource, home: Path
) -> Drafted:
    """A draft of the demo template with ``roll``, its credentials and a Single trustee key
    (made in ``home``): ready to open."""
    from viche.service.demo import DEMO_TEMPLATE
    from viche.service.setup import new_trustee_key

    d = draft_over_api(client, server_secret, {"template": DEMO_TEMPLATE, "trustees": 1}, roll, rng)
    key = new_trustee_key(group_by_name("BELENIOS-2048"), home, rng)
    r = client.put(
        f"{d.base}/trustees/1",
        content=key.pubkey.read_bytes().strip(),
        headers=bearer(d.trustees[0], "application/json"),
    )
    assert r.status_code == 204, r.text
    return d


def vote_over_api(
    d: Drafted, host: Host, login: str, choices: list[list[int]], rng: RandomSource
) -> dict[str, object]:
    """``login`` casts ``choices`` with her login secret; returns the answer (201 asserted)."""
    rec = host.record(d.uuid)
    raw = generate_ballot(rec.election, rec.credentials, d.private[login], choices, rng).raw
    r = d.client.post(
        f"{d.base}/ballots",
        content=raw,
        headers={"Content-Type": "application/json"},
        auth=(login, d.logins[login]),
    )
    assert r.status_code == 201, r.text
    answer = r.json()
    assert isinstance(answer, dict)
    return answer


def download_archive(d: Drafted, directory: Path) -> Path:
    """The election's .bel as served now, alone in ``directory`` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{d.uuid}.bel"
    r = d.client.get(f"{d.base}/archive.bel")
    assert r.status_code == 200, r.text
    path.write_bytes(r.content)
    return path


def iso_utc(seconds: float) -> str:
    """``seconds`` (Unix time) as the API writes times: ISO 8601, UTC, with a Z."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def poll(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait, in steps of 0.05 s, until ``check()`` holds; the test fails after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)
