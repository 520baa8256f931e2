"""Voters authenticate with a one-time code mailed by SMTP: a local SMTP server (aiosmtpd)
receives the mail, the test reads the code in it and casts with login + code. Codes are
single use, short-lived, limited in attempts, stored only as hashes."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import httpx
import pytest
import sqlalchemy
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient

from support.web import Served
from viche.crypto.rng import SeededRandom
from viche.errors import DeliveryError, VicheError
from viche.record.sql import SqlBoard, schema
from viche.service.ballot import generate_ballot
from viche.service.hosting import Host, open_election
from viche.service.onetime import OneTimeCodes, SmtpMailer
from viche.service.served_demo import PreparedDemo
from viche.web.app import create_app
from viche.web.ops import OpsConfig

CHOICES = [[0, 1, 0, 0, 0], [1, 0]]
JSON = {"Content-Type": "application/json"}


@dataclass
class Inbox:
    """What the local SMTP server received."""

    port: int
    mails: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.mails.append(message_from_bytes(content))
        return "250 OK"

    def code_for(self, address: str, timeout: float = 30.0) -> str:
        """The code in the last mail to ``address`` (waited for: codes are mailed by the
        server's background sender, after its answer)."""
        deadline = time.monotonic() + timeout
        while not (mine := [m for m in self.mails if m["To"] == address]):
            assert time.monotonic() < deadline, f"no mail to {address}"
            time.sleep(0.02)
        body = mine[-1].get_payload(decode=True)
        assert isinstance(body, bytes)
        found = re.search(rb"\b(\d{8})\b", body)
        assert found is not None, body
        return found.group(1).decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert isinstance(port, int)
        return port


@pytest.fixture()
def inbox() -> Iterator[Inbox]:
    box = Inbox(_free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def _serve(
    board_url: str,
    tmp_path: Path,
    prepared: tuple[PreparedDemo, Path],
    codes: Callable[[SqlBoard], OneTimeCodes],
) -> tuple[Served, SqlBoard]:
    demo, voters = prepared
    board = SqlBoard.open(board_url)
    store = open_election(
        board,
        tmp_path / "keys",
        election=demo.election,
        trustees=demo.trustees,
        credentials=demo.credentials,
        ids=demo.ids,
        roll=demo.roll,
        timestamp=demo.timestamp,
    )
    host = Host(board, tmp_path / "keys", codes(board))
    client = TestClient(create_app(host, OpsConfig.unlimited()))
    return Served(client, host, store, demo, voters), board


@pytest.fixture()
def coded(
    board_url: str, tmp_path: Path, prepared: tuple[PreparedDemo, Path], inbox: Inbox
) -> Iterator[Served]:
    mailer = SmtpMailer("127.0.0.1", inbox.port, "commission@viche.test")
    s, board = _serve(
        board_url,
        tmp_path,
        prepared,
        lambda board: OneTimeCodes(board, mailer, ttl=300, max_attempts=3),
    )
    with s.client:
        yield s
    board.close()


def _ballot(s: Served, n: int) -> bytes:
    rec = s.host.record(s.uuid)
    made = generate_ballot(
        rec.election, rec.credentials, s.credential(n), CHOICES, SeededRandom(f"b{n}")
    )
    return made.raw


def _cast(s: Served, login: str, code: str, raw: bytes) -> int:
    r = s.client.post(
        f"/api/v1/elections/{s.uuid}/ballots", content=raw, headers=JSON, auth=(login, code)
    )
    return r.status_code


def test_a_mailed_code_casts_one_ballot(coded: Served, inbox: Inbox) -> None:
    s = coded
    login, login_secret = s.login(1)
    raw = _ballot(s, 1)
    assert _cast(s, login, login_secret, raw) == 401  # the login secret is not the way here
    r = s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": login})
    assert r.status_code == 202 and r.json() == {"expires_in": 300}, r.text
    code = inbox.code_for(f"{login}@demo.invalid")
    (mail,) = inbox.mails
    assert mail["From"] == "commission@viche.test"
    assert mail["To"] == f"{login}@demo.invalid"
    # only the hash is stored
    with s.host.board.engine.connect() as conn:
        (stored,) = conn.execute(sqlalchemy.select(schema.voter_codes.c.code_hash)).scalars()
    assert stored.startswith("$argon2id$") and code not in stored
    assert _cast(s, login, code, raw) == 201
    # single use: the same code again is refused, and the stored hash is gone
    assert _cast(s, login, code, _ballot(s, 1)) == 401
    with s.host.board.engine.connect() as conn:
        assert conn.execute(sqlalchemy.select(schema.voter_codes)).first() is None
    # another voter's code does not open this voter's ballot
    other, _ = s.login(2)
    assert (
        s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": other}).status_code == 202
    )
    assert _cast(s, login, inbox.code_for(f"{other}@demo.invalid"), _ballot(s, 1)) == 401


def test_attempts_are_limited_and_resends_spaced(coded: Served, inbox: Inbox) -> None:
    s = coded
    login, _ = s.login(2)
    assert (
        s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": login}).status_code == 202
    )
    code = inbox.code_for(f"{login}@demo.invalid")
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    raw = _ballot(s, 2)
    for _ in range(3):
        assert _cast(s, login, wrong, raw) == 401
    assert _cast(s, login, code, raw) == 401  # three checks spent: the right code is dead
    r = s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": login})
    assert r.status_code == 429 and r.json()["code"] == "V9013"  # too soon for another
    # an unknown login gets the same answers (202, then 429 when asked again), and no mail
    before = len(inbox.mails)
    r = s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": "nobody"})
    assert r.status_code == 202 and r.json() == {"expires_in": 300}
    again = s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": "nobody"})
    assert again.status_code == 429 and again.json()["code"] == "V9013"
    assert isinstance(s.host.authenticator, OneTimeCodes)
    s.host.authenticator.wait_idle()
    assert len(inbox.mails) == before
    r = s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": 5})
    assert r.status_code == 400


def test_an_expired_code_is_refused(
    board_url: str, tmp_path: Path, prepared: tuple[PreparedDemo, Path], inbox: Inbox
) -> None:
    mailer = SmtpMailer("127.0.0.1", inbox.port, "commission@viche.test")
    s, board = _serve(
        board_url, tmp_path, prepared, lambda board: OneTimeCodes(board, mailer, ttl=0)
    )
    with s.client:
        login, _ = s.login(3)
        assert (
            s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": login}).status_code
            == 202
        )
        assert _cast(s, login, inbox.code_for(f"{login}@demo.invalid"), _ballot(s, 3)) == 401
    board.close()


def test_mail_server_down_and_no_mail_configured(
    board_url: str,
    tmp_path: Path,
    prepared: tuple[PreparedDemo, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The voter's answer does not wait for the mail (it would tell who is on the roll): a
    mail server that is down is logged, without the code or the address, and counted."""
    mailer = SmtpMailer("127.0.0.1", _free_port(), "x@viche.test", timeout=2)
    s, board = _serve(board_url, tmp_path, prepared, lambda board: OneTimeCodes(board, mailer))
    caplog.set_level(logging.WARNING, logger="viche.codes")
    with s.client:
        login, _ = s.login(1)
        r = s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": login})
        assert r.status_code == 202, r.text
        assert isinstance(s.host.authenticator, OneTimeCodes)
        s.host.authenticator.wait_idle()
        (logged,) = [r.getMessage() for r in caplog.records if r.name == "viche.codes"]
        assert "V9015" in logged and s.uuid in logged, logged
        assert login not in logged and "demo.invalid" not in logged
        metrics = s.client.get("/metrics").text
        assert "viche_code_mails_failed_total 1" in metrics
        with s.host.board.engine.connect() as conn:  # the undelivered code is not kept
            assert conn.execute(sqlalchemy.select(schema.voter_codes)).first() is None
    board.close()


def test_no_codes_without_smtp(served: Served) -> None:
    login, _ = served.login(1)
    r = served.client.post(f"/api/v1/elections/{served.uuid}/codes", json={"login": login})
    assert r.status_code == 404 and r.json()["code"] == "V9011"


def test_serve_wires_the_mailer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``viche serve --smtp-host`` hands uvicorn's workers the SMTP settings; a bad port is
    refused before anything starts."""
    from support.cli import run_cli
    from viche.web.serve import ENV_DATABASE, ENV_KEYS, ENV_SCHEDULE, ENV_SMTP, build_app

    monkeypatch.setenv(ENV_DATABASE, f"sqlite:///{tmp_path / 'board.sqlite'}")
    monkeypatch.setenv(ENV_KEYS, str(tmp_path / "keys"))
    monkeypatch.setenv(ENV_SMTP, "mail.example.org|2525|commission@example.org")
    monkeypatch.setenv(ENV_SCHEDULE, "0.5")
    host = build_app().state.host
    assert isinstance(host, Host) and isinstance(host.authenticator, OneTimeCodes)
    assert host.authenticator.mailer == SmtpMailer(
        "mail.example.org", 2525, "commission@example.org"
    )
    host.board.close()
    refused = run_cli("serve", "--data", str(tmp_path), "--smtp-host", "h", "--smtp-port", "0")
    assert refused.code == 2 and "--smtp-port" in refused.stderr


def test_the_voting_client_asks_for_a_code_then_votes(coded: Served, inbox: Inbox) -> None:
    """What ``viche vote-code`` then ``viche vote`` do."""
    from typing import cast

    from viche.web.client import VotingClient

    s = coded
    login, _ = s.login(4)
    client = VotingClient("http://testserver", http=cast(httpx.Client, s.client))
    assert client.request_code(s.uuid, login) == 300
    code = inbox.code_for(f"{login}@demo.invalid")
    done = client.vote(
        s.uuid,
        private_credential=s.credential(4),
        choices=CHOICES,
        login=login,
        secret=code,
        rng=SeededRandom("client"),
    )
    assert done.height == 1
    with pytest.raises(VicheError) as refused:
        client.request_code("nope", login)
    assert refused.value.code == "V9011"  # no such election: the server's 404, its code


@dataclass
class SlowInbox(Inbox):
    """A mail server that takes ``delay`` seconds to accept each mail."""

    delay: float = 4.0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def test_the_answer_does_not_tell_who_is_on_the_roll(
    board_url: str, tmp_path: Path, prepared: tuple[PreparedDemo, Path]
) -> None:
    """The audit of 2026-12-05: the code was mailed before the answer, so a login on the
    roll was answered after the mail server's conversation and an unknown one at once. Now
    both get the same answer at once; the mail follows."""
    box = SlowInbox(_free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        mailer = SmtpMailer("127.0.0.1", box.port, "commission@viche.test")
        s, board = _serve(board_url, tmp_path, prepared, lambda b: OneTimeCodes(b, mailer))
        with s.client:
            login, _ = s.login(1)
            answers = []
            for who in (login, "nobody", "x" * 255):
                start = time.perf_counter()
                r = s.client.post(f"/api/v1/elections/{s.uuid}/codes", json={"login": who})
                answers.append((time.perf_counter() - start, r))
            # the slow mail server takes 4 s: no answer waited for it
            assert all(seconds < box.delay / 2 for seconds, _ in answers), answers
            shapes = {
                (r.status_code, r.content, r.headers["content-type"], r.headers["content-length"])
                for _, r in answers
            }
            assert len(shapes) == 1, shapes
            assert answers[0][1].status_code == 202
            # the voter on the roll gets her code all the same, the others nothing
            assert re.fullmatch(r"\d{8}", box.code_for(f"{login}@demo.invalid"))
            assert [m["To"] for m in box.mails] == [f"{login}@demo.invalid"]
        board.close()
    finally:
        controller.stop()


def test_a_full_mail_queue_refuses_any_login_alike(served: Served) -> None:
    """The queue of code mails is bounded: beyond it, requests are refused (503, V9015)
    before any look at the roll, and counted."""
    s = served
    taken, release = threading.Event(), threading.Event()

    class HeldMailer:
        def send(self, to: str, subject: str, body: str) -> None:
            taken.set()
            release.wait(30)

    codes = OneTimeCodes(s.host.board, HeldMailer(), queue_size=1)
    reported: list[str] = []
    codes.report = reported.append
    try:
        assert codes.send_code(s.uuid, s.login(1)[0]) == codes.ttl
        assert taken.wait(30)  # the sender holds the first; the queue is empty again
        assert codes.send_code(s.uuid, "nobody") == codes.ttl  # fills the queue
        for who in (s.login(2)[0], "nobody-else"):
            with pytest.raises(DeliveryError) as refused:
                codes.send_code(s.uuid, who)
            assert refused.value.code == "V9015"
        assert reported == ["code_queue_full", "code_queue_full"]
    finally:
        release.set()
        codes.wait_idle()
        codes.close()
