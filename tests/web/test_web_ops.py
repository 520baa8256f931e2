"""Operations of the voting server: live events, metrics, logs without secrets, rate limits,
CORS and readiness."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from web_served import Served

from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.service.ballot import generate_ballot
from viche.service.election_run import random_choices
from viche.web.app import create_app
from viche.web.ops import OpsConfig, Rate, RateLimiter


def _ballot(s: Served, n: int, seed: str = "ops") -> bytes:
    rng = SeededRandom(f"{seed}|{n}")
    e = s.prepared.election
    return generate_ballot(
        e, s.prepared.credentials, s.credential(n), random_choices(e, rng), rng
    ).raw


def _cast(client: TestClient, s: Served, raw: bytes, n: int) -> int:
    r = client.post(
        f"/api/v1/elections/{s.uuid}/ballots",
        content=raw,
        headers={"Content-Type": "application/json"},
        auth=s.login(n),
    )
    return r.status_code


def _messages(text: str) -> list[dict[str, str]]:
    out = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(": ")
            fields[key] = value
        out.append(fields)
    return out


def test_event_stream_gives_every_event_in_order(served: Served) -> None:
    s = served
    assert _cast(s.client, s, _ballot(s, 1), 1) == 201
    assert _cast(s.client, s, _ballot(s, 2), 2) == 201
    r = s.client.get(f"/api/v1/elections/{s.uuid}/events?follow=false")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    messages = _messages(r.text)
    assert [m["id"] for m in messages] == ["0", "1", "2"]
    assert [m["event"] for m in messages] == ["Setup", "Ballot", "Ballot"]
    last = json.loads(messages[-1]["data"])
    assert last["hash"] == s.store.head().hash == sha256_hex(last["raw"].encode())
    # resume after height 1, by query or by Last-Event-ID (which wins)
    r = s.client.get(f"/api/v1/elections/{s.uuid}/events?follow=false&after=1")
    assert [m["id"] for m in _messages(r.text)] == ["2"]
    r = s.client.get(
        f"/api/v1/elections/{s.uuid}/events?follow=false&after=-1",
        headers={"Last-Event-ID": "1"},
    )
    assert [m["id"] for m in _messages(r.text)] == ["2"]
    # nothing new: an empty stream; a bad height is a 400 with the error body
    assert s.client.get(f"/api/v1/elections/{s.uuid}/events?follow=false&after=2").text == ""
    bad = s.client.get(f"/api/v1/elections/{s.uuid}/events?after=-5")
    assert bad.status_code == 400 and bad.json()["code"] == "V1001"
    assert s.client.get("/api/v1/elections/nope/events").status_code == 404


def test_metrics_count_accepted_and_refused_ballots(served: Served) -> None:
    s = served
    raw = _ballot(s, 1)
    assert _cast(s.client, s, raw, 1) == 201
    assert _cast(s.client, s, raw, 1) == 409  # replay
    text = s.client.get("/metrics").text
    assert "viche_ballots_accepted_total 1.0" in text
    assert 'viche_ballots_refused_total{code="V3002"} 1.0' in text
    assert 'viche_elections{phase="open"} 1.0' in text
    assert f'viche_ballot_events{{election="{s.uuid}"}} 1.0' in text
    assert 'route="/api/v1/elections/{uuid}/ballots"' in text
    assert s.client.get("/api/v1/ready").json() == {"status": "ready"}


def test_access_logs_are_json_without_secrets(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    s = served
    login, secret = s.login(3)
    caplog.set_level(logging.INFO, logger="viche.access")
    assert _cast(s.client, s, _ballot(s, 3), 3) == 201
    s.client.get(f"/api/v1/elections/{s.uuid}?secret={secret}")
    lines = [r.getMessage() for r in caplog.records if r.name == "viche.access"]
    assert len(lines) == 2
    entries = [json.loads(line) for line in lines]
    assert entries[0]["route"] == "/api/v1/elections/{uuid}/ballots"
    assert entries[0]["status"] == 201 and entries[0]["method"] == "POST"
    joined = "\n".join(lines)
    assert secret not in joined and login not in joined and s.uuid not in joined


def test_rate_limits_answer_429_with_retry_after(served: Served) -> None:
    s = served
    config = OpsConfig(address_rate=Rate(per_second=0.001, burst=2), voter_rate=None)
    with TestClient(create_app(s.host, config)) as client:
        statuses = [_cast(client, s, b"{}", 1) for _ in range(3)]
        assert statuses[:2] != [429, 429] and statuses[2] == 429
        r = client.post(f"/api/v1/elections/{s.uuid}/ballots", content=b"{}")
        assert r.status_code == 429 and r.json()["code"] == "V9012"
        assert int(r.headers["Retry-After"]) >= 1
        assert client.get(f"/api/v1/elections/{s.uuid}").status_code == 200  # reads are free
    voter = OpsConfig(address_rate=None, voter_rate=Rate(per_second=0.001, burst=1))
    with TestClient(create_app(s.host, voter)) as client:
        assert _cast(client, s, _ballot(s, 1), 1) == 201
        assert _cast(client, s, _ballot(s, 1, "again"), 1) == 429
        assert _cast(client, s, _ballot(s, 2), 2) == 201  # another voter is not held back


def test_rate_limiter_refills_and_forgets_old_keys() -> None:
    now = [0.0]
    limiter = RateLimiter(Rate(per_second=1.0, burst=2), max_keys=2, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 1.0]
    now[0] = 1.0
    assert limiter.take("a") == 0.0
    limiter.take("b")
    limiter.take("c")  # "a" is dropped: at most two keys are kept
    assert limiter.take("a") == 0.0 and limiter.take("a") == 0.0


def test_cors_is_closed_unless_an_origin_is_listed(served: Served) -> None:
    s = served
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    r = s.client.options(f"/api/v1/elections/{s.uuid}/ballots", headers=pre)
    assert r.status_code == 403 and r.json()["code"] == "V9013"
    r = s.client.get("/api/v1/elections", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    # a cross-site form cannot cast: only application/json bodies are read
    r = s.client.post(
        f"/api/v1/elections/{s.uuid}/ballots",
        content=b"ballot=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=s.login(1),
    )
    assert r.status_code == 415 and "set-cookie" not in r.headers
    config = OpsConfig(cors_origins=("https://observer.example",))
    with TestClient(create_app(s.host, config)) as client:
        ok = {"Origin": "https://observer.example", "Access-Control-Request-Method": "GET"}
        r = client.options(f"/api/v1/elections/{s.uuid}/events", headers=ok)
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == "https://observer.example"
        r = client.get("/api/v1/elections", headers={"Origin": "https://observer.example"})
        assert r.headers["access-control-allow-origin"] == "https://observer.example"
