"""Operations of the voting server: access logs without secrets, rate limits, CORS."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from support.served import free_port, start_demo, stop, wait_until_up
from support.web import Served
from viche.crypto.rng import SeededRandom
from viche.errors import UsageError
from viche.service.ballot import generate_ballot
from viche.service.election_run import random_choices
from viche.web.app import create_app
from viche.web.ops import OpsConfig, Rate, RateLimiter, access_log


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
    return int(r.status_code)


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


def test_every_server_log_line_is_json(served: Served, tmp_path: Path) -> None:
    """Issue 7: JSON logs. The access log was; the schedules' reports (an opening that
    failed) were plain text, and an election opened or closed on schedule left no line."""
    import io
    import time

    from viche.crypto.rng import SystemRandom
    from viche.record.sql.schedules import put_schedule
    from viche.service import schedule
    from viche.service.admin import create_draft
    from viche.service.demo import DEMO_TEMPLATE
    from viche.web.ops import configure_logs

    board = served.host.board
    now = int(time.time())
    made = create_draft(board, DEMO_TEMPLATE, SystemRandom(), group="BELENIOS-2048", trustees=1)
    put_schedule(board, made.uuid, now - 1, None)  # due, but no roll, no key: it fails
    put_schedule(board, served.uuid, None, now - 1)  # the served election: closed now
    stream = io.StringIO()
    viche_log = logging.getLogger("viche")
    kept = (list(viche_log.handlers), viche_log.level, viche_log.propagate)
    kept_access = (list(access_log.handlers), access_log.level, access_log.propagate)
    try:
        access_log.handlers[:] = []  # as in a new server process (other tests add theirs)
        viche_log.handlers[:] = []
        writer = configure_logs(stream)
        schedule.run_due(served.host, now)
        served.client.get("/api/v1/health")
        writer.close()  # its lines written (by its thread), the thread ended
    finally:
        viche_log.handlers[:], viche_log.level, viche_log.propagate = kept
        access_log.handlers[:] = kept_access[0]
        access_log.level, access_log.propagate = kept_access[1], kept_access[2]
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    by_message = {e.get("message"): e for e in entries}
    failed = by_message["scheduled opening failed"]
    assert failed["level"] == "warning" and failed["logger"] == "viche.schedule"
    assert failed["election"] == made.uuid and failed["error"]["code"] == "V3005"
    assert isinstance(failed["time"], float) and "trustee 1" in failed["error"]["message"]
    closed = by_message["closed on schedule"]
    assert closed["level"] == "info" and closed["election"] == served.uuid
    assert any(e.get("route") == "/api/v1/health" for e in entries)  # as written


def test_rate_limits_answer_429_with_retry_after(served: Served) -> None:
    s = served
    config = OpsConfig(address_rate=Rate(per_second=0.001, burst=2), voter_rate=None)
    with TestClient(create_app(s.host, config)) as client:
        statuses = [_cast(client, s, b"{}", 1) for _ in range(3)]
        assert statuses[:2] != [429, 429] and statuses[2] == 429
        r = client.post(f"/api/v1/elections/{s.uuid}/ballots", content=b"{}")
        assert r.status_code == 429 and r.json()["code"] == "V9013"
        assert int(r.headers["Retry-After"]) >= 1
        assert client.get(f"/api/v1/elections/{s.uuid}").status_code == 200  # reads are free
    voter = OpsConfig(address_rate=None, voter_rate=Rate(per_second=0.001, burst=1))
    with TestClient(create_app(s.host, voter)) as client:
        assert _cast(client, s, _ballot(s, 1), 1) == 201
        assert _cast(client, s, _ballot(s, 1, "again"), 1) == 429
        assert _cast(client, s, _ballot(s, 2), 2) == 201  # another voter is not held back


def test_every_request_with_a_secret_counts_against_the_address(served: Served) -> None:
    """A secret is checked with argon2 (about 10 ms of CPU and 8 MiB): a GET that carries
    one (the roll, a station's voter) was not rate-limited, so anyone could make the server
    hash at will with made-up Bearer tokens (the audit of 2026-12-05). Reads without a
    secret stay free."""
    s = served
    config = OpsConfig(address_rate=Rate(per_second=0.001, burst=2), voter_rate=None)
    with TestClient(create_app(s.host, config)) as client:
        path = f"/api/v1/elections/{s.uuid}/voters"
        statuses = [
            client.get(path, headers={"Authorization": f"Bearer guess{i}"}).status_code
            for i in range(3)
        ]
        assert statuses == [401, 401, 429]
        assert all(client.get(f"/api/v1/elections/{s.uuid}").status_code == 200 for _ in range(5))


def test_rate_limiter_refills_and_forgets_old_keys() -> None:
    now = [0.0]
    limiter = RateLimiter(Rate(per_second=1.0, burst=2), max_keys=2, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 1.0]
    now[0] = 1.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == 1.0
    # the table holds about max_keys buckets: with many more keys, "a" (the least recently
    # used) is dropped and starts again full
    for i in range(64):
        now[0] += 0.001
        limiter.take(f"key {i}")
    assert limiter.take("a") == 0.0 and limiter.take("a") == 0.0


def test_the_workers_share_one_table(tmp_path: Path) -> None:
    """Two limiters on one file (two worker processes of a server) count the same bucket;
    a table of another size or a foreign file is started anew."""
    now = [10.0]
    path = tmp_path / "ratelimit-voter.bin"
    one, two = (
        RateLimiter(Rate(per_second=1.0, burst=3), 1000, clock=lambda: now[0], path=path)
        for _ in range(2)
    )
    assert [one.take("v"), two.take("v"), one.take("v")] == [0.0, 0.0, 0.0]
    assert two.take("v") == 1.0 and one.take("v") == 1.0
    assert two.take("w") == 0.0  # another key has its own bucket
    now[0] += 1.0
    assert one.take("v") == 0.0 and two.take("v") == 1.0
    one.close()
    two.close()
    other = RateLimiter(Rate(per_second=1.0, burst=3), 10, clock=lambda: now[0], path=path)
    assert other.take("v") == 0.0  # a table of another size: started anew
    other.close()


def test_rate_limits_are_parsed_from_the_environment() -> None:
    assert OpsConfig.parse("off") == OpsConfig.unlimited()
    config = OpsConfig.parse("address=2/5, voter=off")
    assert config.address_rate == Rate(2.0, 5) and config.voter_rate is None
    assert OpsConfig.parse("voter=0.1/1").address_rate == OpsConfig().address_rate
    for bad in ("address=fast", "voter=1/0", "sender=1/1", "address=-1/3"):
        with pytest.raises(UsageError) as err:
            OpsConfig.parse(bad)
        assert err.value.where.path == ("VICHE_RATE_LIMITS",)


def test_the_allowed_origins_are_read_from_the_environment(tmp_path: Path) -> None:
    """Strict CORS with a way to list origins (an observers' site, a booth served from
    another address): ``VICHE_CORS_ORIGINS``. The list existed (OpsConfig.cors_origins)
    but nothing set it: ``viche serve`` allowed no origin, ever."""
    listed = "https://observer.example, http://127.0.0.1:8080"
    assert OpsConfig.parse_origins(listed) == (
        "https://observer.example",
        "http://127.0.0.1:8080",
    )
    for bad in ("observer.example", "https://observer.example/", "ftp://x.example", "*"):
        with pytest.raises(UsageError) as err:
            OpsConfig.parse_origins(bad)
        assert err.value.where.path == ("VICHE_CORS_ORIGINS",), bad
    port = free_port()
    proc = start_demo(tmp_path / "data", port, VICHE_CORS_ORIGINS="https://observer.example")
    try:
        wait_until_up(proc, port)
        base = f"http://127.0.0.1:{port}/api/v1/elections"
        ok = {"Origin": "https://observer.example", "Access-Control-Request-Method": "GET"}
        r = httpx.options(base, headers=ok, timeout=60)
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == "https://observer.example"
        evil = {**ok, "Origin": "https://evil.example"}
        assert httpx.options(base, headers=evil, timeout=60).status_code == 403
    finally:
        stop(proc)
    refused = start_demo(tmp_path / "data2", free_port(), VICHE_CORS_ORIGINS="observer.example")
    refused.wait(timeout=120)  # refused before it serves
    said = stop(refused)
    assert refused.returncode == 2 and "VICHE_CORS_ORIGINS" in said, said


def test_two_workers_share_the_rate_limits(tmp_path: Path) -> None:
    """``viche serve --workers 2``: the limit per address is the server's, not each
    worker's (before, each worker kept its own buckets: twice the limit)."""
    port = free_port()
    proc = start_demo(
        tmp_path / "data", port, workers=2, VICHE_RATE_LIMITS="address=0.001/4,voter=off"
    )
    try:
        wait_until_up(proc, port)
        uuid = (tmp_path / "data" / "demo" / "election.uuid").read_text().strip()
        statuses = []
        for _ in range(16):  # a new connection each time: the requests reach both workers
            r = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/elections/{uuid}/ballots",
                content=b"{}",
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            statuses.append(r.status_code)
    finally:
        stop(proc)
    assert statuses[:4] == [401] * 4  # no login: refused, but each took a token
    assert statuses[4:] == [429] * 12, statuses



def test_cors_is_closed_unless_an_origin_is_listed(served: Served) -> None:
    s = served
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    r = s.client.options(f"/api/v1/elections/{s.uuid}/ballots", headers=pre)
    assert r.status_code == 403 and r.json()["code"] == "V9014"
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
