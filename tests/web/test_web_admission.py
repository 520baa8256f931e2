"""Admission control of casts (viche.web.admission): a worker takes as many ballots at once
as it answers within the target; beyond, a fast 503 with the error body (V9016, the wait in
milliseconds as ``retry_after_ms``) and Retry-After (whole seconds), the times handed out
spread at the worker's pace; ``viche vote``'s client sends the same ballot again after the
wait."""

from __future__ import annotations

import asyncio
import base64
import heapq
import json
import logging
import math
import random
import socket
import threading
import time
from typing import cast

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from support.web import Served
from viche.errors import ServerBusyError
from viche.service.hosting import Host
from viche.web.admission import CHECK_SLOWEST, Admission, AdmissionGate, LoopLag
from viche.web.app import create_app
from viche.web.client import JITTER_CAP, VotingClient, jittered, retry_after
from viche.web.event_demo import running
from viche.web.metrics import Metrics
from viche.web.ops import OpsConfig
from viche.web.routers.ballots import FifoSlots


def test_the_bound_follows_the_pace_and_retries_are_spread() -> None:
    now = [0.0]
    a = Admission(target=0.5, floor=2, ceiling=64, interval=0.05, clock=lambda: now[0])
    assert a.limit == 10
    for _ in range(10):
        a.enter()
    waits = []
    for _ in range(5):
        with pytest.raises(ServerBusyError) as err:
            a.enter()
        waits.append(err.value)
    assert a.told_to_retry == 5
    # the pace not yet measured: the slots handed out assume EARLY_GUESS (4 ms, the check
    # processes not known) per ballot, after the ten in flight, then one ballot's time
    # apart; each told a tenth earlier (her client adds up to a fifth), to the millisecond;
    # Retry-After rounds up to whole seconds: 1 s each here
    slots = [0.040 + 0.004 * k for k in range(5)]
    assert [e.retry_after_ms for e in waits] == [math.ceil(t / 1.1 * 1000) for t in slots]
    assert [e.retry_after for e in waits] == [1, 1, 1, 1, 1]
    assert waits[0].to_dict()["retry_after_ms"] == waits[0].retry_after_ms
    # the worker answers one ballot every 0.2 s while busy: the bound shrinks to 0.5/0.2
    for _ in range(9):
        now[0] += 0.2
        a.leave()
    assert a.in_flight == 1
    assert a.interval == pytest.approx(0.2, rel=0.15)
    assert a.limit == 2
    a.enter()
    with pytest.raises(ServerBusyError) as err:
        a.enter()
    assert err.value.retry_after >= 1
    now[0] += 0.2
    a.leave()
    # an answer with nothing else in flight (idle) does not count as the pace
    now[0] += 100
    a.leave()
    assert a.in_flight == 0 and a.interval == pytest.approx(0.2, rel=0.15)
    # no bound
    free = Admission(target=0)
    for _ in range(10_000):
        free.enter()


def test_times_handed_out_follow_the_fastest_pace_measured_over_a_window() -> None:
    now = [0.0]
    a = Admission(target=0.5, floor=4, ceiling=64, clock=lambda: now[0])
    a.enter()  # busy from now
    a.in_flight = 64  # a burst in flight
    for _ in range(40):  # one answer every 50 ms, the worker kept busy
        now[0] += 0.05
        a.leave()
        a.in_flight += 1
    assert a.interval == pytest.approx(0.05) and a.limit == 10
    while a.in_flight > a.limit:  # the casts beyond the new bound are answered
        now[0] += 0.05
        a.leave()
    waits = []
    for _ in range(3):
        with pytest.raises(ServerBusyError) as err:
            a.enter()
        waits.append(err.value.retry_after_ms)
    # after the ten in flight (0.5 s), then one ballot's time apart, told a tenth earlier;
    # but no slower than a machine that nothing else loads (the pace of a loaded one may
    # come back at any moment: those back too early are told again)
    assert a.spacing == CHECK_SLOWEST / 2
    assert waits == [math.ceil(t / 1.1 * 1000) for t in (0.5, 0.505, 0.51)]
    # a slower moment lowers the bound at once, but the times handed out keep the fastest
    # pace of this busy spell (a time told cannot be taken back: rather too early)
    for _ in range(40):
        now[0] += 0.2
        a.leave()
        a.in_flight += 1
    assert a.interval == pytest.approx(0.2) and a.limit == 4
    while a.in_flight > a.limit:
        now[0] += 0.2
        a.leave()
    with pytest.raises(ServerBusyError) as err:
        a.enter()
    # after the four in flight at 50 ms each, not 4 x 0.2 s (a tenth earlier)
    assert err.value.retry_after_ms == math.ceil(4 * 0.05 / 1.1 * 1000)
    # idle: the next busy spell is measured afresh
    while a.in_flight:
        a.leave()
    assert a._best == 0.0


def test_a_full_worker_answers_503_with_retry_after_and_reads_nothing(served: Served) -> None:
    s = served
    admission = Admission(target=0.5, floor=1, ceiling=1)
    with TestClient(create_app(s.host, OpsConfig.unlimited(), admission=admission)) as client:
        raw = s.ballot(1, "busy")
        head = s.store.head()
        admission.in_flight = 1  # a cast is in flight: the worker is full
        r = client.post(
            f"/api/v1/elections/{s.uuid}/ballots",
            content=raw,
            headers={"Content-Type": "application/json"},
            auth=s.login(1),
        )
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["code"] == "V9016"
        # the wait to the millisecond in the body, rounded up to whole seconds in the header
        assert 0 < body["retry_after_ms"] <= 1000 * int(r.headers["Retry-After"])
        assert int(r.headers["Retry-After"]) == max(1, -(-body["retry_after_ms"] // 1000))
        assert r.headers["Connection"] == "close"
        assert retry_after(cast(httpx.Response, r)) == body["retry_after_ms"] / 1000
        assert s.store.head() == head and admission.in_flight == 1
        metrics = client.get("/metrics").text
        assert 'viche_ballots_refused_total{code="V9016"} 1' in metrics
        admission.in_flight = 0  # room again: the same ballot is taken
        r = client.post(
            f"/api/v1/elections/{s.uuid}/ballots",
            content=raw,
            headers={"Content-Type": "application/json"},
            auth=s.login(1),
        )
        assert r.status_code == 201, r.text
        assert admission.in_flight == 0


def test_a_full_worker_refuses_before_routing_and_login_and_only_casts(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """The gate answers a cast it has no room for before anything else runs (not even the
    login: a wrong secret gets the same 503, and the voter's secret is never looked at);
    other requests, writes included, pass."""
    s = served
    caplog.set_level(logging.INFO, logger="viche.access")
    admission = Admission(target=0.5, floor=1, ceiling=1)
    with TestClient(create_app(s.host, OpsConfig.unlimited(), admission=admission)) as client:
        admission.in_flight = 1
        head = s.store.head()
        raw = s.ballot(2, "gate")
        for auth in (s.login(2), (s.login(2)[0], "not-the-secret")):
            r = client.post(
                f"/api/v1/elections/{s.uuid}/ballots",
                content=raw,
                headers={"Content-Type": "application/json"},
                auth=auth,
            )
            assert r.status_code == 503 and r.json()["code"] == "V9016", r.text
        r = client.post(
            f"/api/v1/elections/{s.uuid}/audits",
            content=b"{}",
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code not in (503, 500), r.text  # checked (and refused) as before
        assert client.get(f"/api/v1/elections/{s.uuid}").status_code == 200
        assert 'viche_ballots_refused_total{code="V9016"} 2' in client.get("/metrics").text
        assert s.store.head() == head and admission.in_flight == 1
    refused = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "viche.access" and '"status":503' in r.getMessage()
    ]
    assert [e["route"] for e in refused] == ["/api/v1/elections/{uuid}/ballots"] * 2


def test_the_client_sends_the_same_ballot_again_after_retry_after(served: Served) -> None:
    s = served
    admission = Admission(target=0.5, floor=1, ceiling=1)
    app = create_app(s.host, OpsConfig.unlimited(), admission=admission)
    with TestClient(app, base_url="http://testserver") as http:
        voter = VotingClient("http://testserver", http=cast(httpx.Client, http))
        raw = s.ballot(2, "patient")
        login, secret = s.login(2)
        admission.in_flight = 1
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            if len(slept) == 2:
                admission.in_flight = 0  # the worker has room after the second wait

        answer = voter.cast(
            s.uuid, raw, login, secret, published_key=s.host.receipt_key(s.uuid).public,
            sleep=sleep,
        )  # fmt: skip
        # the milliseconds asked (in flight: one cast at the unknown pace, 10 ms at least),
        # and at most a fifth more: not Retry-After's whole seconds
        assert len(slept) == 2 and all(0.01 <= t < 0.5 for t in slept), slept
        assert answer.height == s.store.head().height
        # not patient enough: the server's answer is the error
        admission.in_flight = 1
        with pytest.raises(Exception) as err:
            voter.cast(
                s.uuid, s.ballot(3, "impatient"), *s.login(3),
                published_key=s.host.receipt_key(s.uuid).public, patience=0.5, sleep=sleep,
            )  # fmt: skip
        assert getattr(err.value, "code", None) == "V9016"


def test_retry_after_takes_the_milliseconds_else_the_seconds() -> None:
    req = httpx.Request("POST", "http://x/")

    def told(status: int, body: object, header: str | None = None) -> float | None:
        headers = {} if header is None else {"Retry-After": header}
        return retry_after(httpx.Response(status, json=body, headers=headers, request=req))

    assert told(503, {"code": "V9016", "retry_after_ms": 120}, "1") == 0.12
    assert told(503, {"code": "V9016", "retry_after_ms": 2500}, "3") == 2.5
    # no usable milliseconds: Retry-After's whole seconds
    assert told(503, {"code": "V9016"}, "4") == 4
    for ms in (0, -3, 1.5, "120", True, None, 3_600_001):
        assert told(503, {"code": "V9016", "retry_after_ms": ms}, "2") == 2, ms
    # anything but a full server's 503 asks for no wait
    assert told(201, {}) is None
    assert told(503, {"code": "V4010", "retry_after_ms": 100}, "3") is None
    assert told(429, {"code": "V9016", "retry_after_ms": 100}, "3") is None
    assert told(503, {"code": "V9016"}, "x") is None
    assert told(503, {"code": "V9016"}) is None
    assert told(503, ["V9016"], "1") is None
    assert retry_after(httpx.Response(503, content=b"not json", request=req)) is None


def test_the_jitter_is_a_fifth_of_the_wait_at_most_and_capped() -> None:
    assert jittered(0.1, lambda lo, hi: lo) == 0.1
    assert jittered(0.1, lambda lo, hi: hi) == pytest.approx(0.12)
    assert jittered(2.0, lambda lo, hi: hi) == pytest.approx(2.4)
    assert jittered(30.0, lambda lo, hi: hi) == 30.0 + JITTER_CAP
    rng = random.Random(3)
    assert all(0.5 <= jittered(0.5, rng.uniform) <= 0.6 for _ in range(1000))


def test_a_worker_loads_the_open_elections_when_it_starts(served: Served) -> None:
    """The setup parsed, the tables built and the receipt key read before the first voter
    (else the first burst of voters waits for them)."""
    s = served
    fresh = Host(s.host.board, s.host.keys_dir)
    assert fresh.warm() == [s.uuid]
    # an election whose receipt key is missing is left for its first request to report
    for key in s.host.keys_dir.glob("*.ed25519"):
        key.rename(key.with_suffix(".moved"))
    assert Host(s.host.board, s.host.keys_dir).warm() == []


def test_answers_sharing_a_commit_do_not_make_the_pace_look_faster() -> None:
    """Ballots of one group commit are answered at the same moment: the pace is taken over
    the last answers, not from one gap to the next (which would read 0 s, then raise the
    bound to the ceiling and queue voters for seconds)."""
    now = [0.0]
    a = Admission(target=2.0, floor=2, ceiling=64, interval=0.1, clock=lambda: now[0])
    for _ in range(20):
        a.enter()
    for _batch in range(6):
        now[0] += 0.4
        for _ in range(4):  # four ballots share a commit every 0.4 s: 0.1 s per ballot
            a.leave()
        while a.in_flight < a.limit:  # voters told to retry come back as room is made
            a.enter()
        assert 0.08 < a.interval < 0.15, a.interval
        assert 13 <= a.limit <= 25


def _burst(
    capacity: float, voters: int = 1000, slow_start: int = 0, then: tuple[float, float] = (0, 0)
) -> tuple[float, int]:
    """A worker that answers ``capacity`` casts per second (two at once, in arrival order)
    meets a burst of ``voters`` at the same instant; each voter told to retry comes back
    after the milliseconds asked plus up to a fifth more at random (as ``viche vote``
    does). Returns the ballots/s of the whole burst and the answers "retry after".
    ``then``: from that second on, the worker answers that many casts per second (the
    machine's other work has stopped)."""
    now = [0.0]
    a = Admission(target=0.5, clock=lambda: now[0])
    events = [(0.0, k, True) for k in range(voters)]
    heapq.heapify(events)
    jitter = random.Random(1)
    free_at = [0.0, 0.0]
    told = 0
    last = 0.0
    while events:
        t, k, arriving = heapq.heappop(events)
        now[0] = t
        if not arriving:
            a.leave()
            last = t
            continue
        try:
            a.enter()
        except ServerBusyError as exc:
            told += 1
            wait = jittered(exc.retry_after_ms / 1000, jitter.uniform)
            heapq.heappush(events, (t + wait, k, True))
            continue
        lane = min(range(len(free_at)), key=free_at.__getitem__)
        start = max(t, free_at[lane])
        cost = len(free_at) / (then[1] if 0 < then[0] <= start else capacity)
        if slow_start > 0:  # a worker still warming up (connections, first paths)
            slow_start -= 1
            cost = 0.2
        free_at[lane] = start + cost
        heapq.heappush(events, (free_at[lane], k, False))
    return voters / last, told


def test_a_burst_is_let_in_at_the_pace_the_worker_can_take() -> None:
    # The whole burst is told to retry before any pace is measured: the times handed out
    # then must not cap the worker below what it answers (20 ms per ballot capped every
    # worker at ~48 ballots/s, whatever its capacity)
    rates = {capacity: _burst(capacity) for capacity in (50.0, 150.0, 200.0)}
    # with waits to the millisecond the worker never idles for voters told to come late
    # (with whole seconds and a second of jitter: 40, 100, 130 ballots/s at best)
    for capacity, (rate, _) in rates.items():
        assert rate > 0.95 * capacity, (capacity, rate)
    # and the voters are not told again and again: about two answers "retry" each at most,
    # but for a worker four times slower than on a machine that nothing else loads: its
    # voters are told no slower than that machine's pace (CHECK_SLOWEST), and about four
    # come back for each that gets in
    assert rates[150.0][1] < 2.5 * 1000 and rates[200.0][1] < 2.5 * 1000
    assert rates[50.0][1] < 4.5 * 1000


def test_a_slow_start_does_not_send_the_burst_away_for_long() -> None:
    """The first answers of a worker still warming up come 0.2 s apart: the times handed
    out meanwhile must not follow that pace (the burst was told to come back seconds too
    late and the worker idled: 74 and 80 ballots/s for workers of 150 and 200)."""
    for capacity in (50.0, 150.0, 200.0):
        rate, told = _burst(capacity, slow_start=8)
        assert rate > 0.8 * capacity, (capacity, rate)
        assert told < (4.5 if capacity < 100 else 2.5) * 1000  # see the test above


def test_voters_told_while_other_work_slows_the_machine_are_back_when_it_stops() -> None:
    """The machine's other work slows the worker to 100 casts/s for the burst's first 3 s,
    then stops (220/s): the voters told meanwhile were told at the slow pace measured, came
    back at it after the worker had sped up, and it idled while they waited (125 ballots/s
    over the burst in this model). Told no slower than a quiet machine's pace, they are
    back as fast as it takes them (~160/s: 300 ballots in 3 s, then 700 at 220/s)."""
    rate, told = _burst(100.0, then=(3.0, 220.0))
    assert rate > 0.9 * 1000 / (3 + 700 / 220), rate
    assert told < 2.0 * 1000


def test_casts_waiting_for_a_check_get_in_in_the_order_they_came() -> None:
    """A slot given back goes to the first waiter, never to a thread arriving meanwhile
    (threading.Semaphore let newcomers overtake: a cast taken in waited over a second)."""
    slots = FifoSlots(1)
    order: list[object] = []
    slots.__enter__()  # the test holds the only slot
    threads: list[threading.Thread] = []

    def cast(k: object) -> None:
        with slots:
            order.append(k)

    def start(k: object) -> None:
        t = threading.Thread(target=cast, args=(k,))
        t.start()
        threads.append(t)

    for k in range(12):
        start(k)
        deadline = time.monotonic() + 10
        while slots.waiting < k + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert slots.waiting == k + 1
    slots.__exit__(None, None, None)  # handed to cast 0, not to the newcomer below
    start("late")
    for t in threads:
        t.join(10)
    assert order == [*range(12), "late"]
    # free again: two at once when there are two slots
    pair = FifoSlots(2)
    with pair, pair:
        assert pair.waiting == 0


def test_the_bound_follows_the_wait_the_casts_taken_in_really_met() -> None:
    """Answers 10 ms apart say 50 casts fit in 0.5 s; but if the casts taken in waited
    longer per cast ahead (the event loop busy with a flood of 503s, anything the answers'
    pace does not show), the bound follows what they met."""
    now = [0.0]
    a = Admission(target=0.5, floor=4, ceiling=64, interval=0.01, clock=lambda: now[0])
    assert a.limit == 50
    taken = [a.enter() for _ in range(20)]
    assert taken[0] == (0.0, 1) and taken[-1] == (0.0, 20)
    a.in_flight += 1  # one more, still in flight when these twenty are answered
    for k, ticket in enumerate(taken, 1):
        now[0] = 0.3 + 0.01 * k  # answered 10 ms apart, after 0.3 s of something else
        a.leave(ticket)
    met = sum((0.3 + 0.01 * k) / k for k in range(1, 21)) / 20
    assert a.interval < met  # the answers' pace (measured from the start of the spell)
    assert a.per_cast == pytest.approx(met)
    assert a.limit == int(0.5 / met) < 50
    # idle: measured afresh
    a.leave()
    assert a.per_cast == a.interval


def test_the_loop_lag_is_how_late_the_timer_fired_or_how_overdue_it_is() -> None:
    now = [0.0]
    lag = LoopLag(period=0.01, clock=lambda: now[0])
    assert lag.late() == 0.0  # no timer yet: nothing known
    lag.fired()
    now[0] = 0.012
    lag.fired()  # due at 0.01, fired at 0.012
    assert lag.late() == pytest.approx(0.002)
    now[0] = 0.2  # the loop busy since: the timer (due at 0.022) has not fired
    assert lag.late() == pytest.approx(0.178)
    lag.fired()
    assert lag.late() == pytest.approx(0.178)  # what it met, until it fires on time again
    now[0] = 0.21
    lag.fired()
    assert lag.late() == pytest.approx(0.0)


def test_a_late_loop_takes_a_cast_only_when_none_is_in_flight() -> None:
    """Casts taken in while the event loop is late (a burst's first instant: a thousand
    connections to accept, most to refuse) wait for the loop at every step: one is taken
    so that the worker does not idle, the others are told to come back after the lag."""
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731
    lag = LoopLag(period=0.01, clock=clock)
    a = Admission(target=0.5, floor=4, ceiling=64, interval=0.01, clock=clock, lag=lag)
    assert a.limit == 50
    lag.fired()
    now[0] = 0.16  # due at 0.01: late by 0.15 s, more than a fifth of the target
    first = a.enter()
    with pytest.raises(ServerBusyError) as err:
        a.enter()
    assert a.in_flight == 1
    assert err.value.retry_after_ms >= 150  # not before the loop caught up
    lag.fired()  # fires, late by 0.15 s: still late
    with pytest.raises(ServerBusyError):
        a.enter()
    now[0] = 0.17
    lag.fired()  # on time again: the bound is the pace's
    assert [a.enter()[1] for _ in range(49)] == list(range(2, 51))
    with pytest.raises(ServerBusyError):
        a.enter()
    a.leave(first)
    # the lag is not looked at with lag_share 0, nor without a bound
    for off in (Admission(target=0.5, lag_share=0, clock=clock, lag=lag),
                Admission(target=0, clock=clock, lag=lag)):  # fmt: skip
        now[0] += 1.0  # the timer overdue by a second
        off.enter()
        off.enter()
        assert off.in_flight == 2


def _refuse(headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[list[Message], int]:
    """A cast through an AdmissionGate that has no room: the messages sent back, and how
    many times the body was read."""
    admission = Admission(target=0.5, floor=1, ceiling=1, lag_share=0)
    admission.in_flight = 1
    reads = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("a refused cast reached the app")

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": body, "more_body": False}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    gate = AdmissionGate(app, admission=admission, metrics=Metrics())
    scope: Scope = {
        "type": "http", "method": "POST", "path": "/api/v1/elections/abc/ballots",
        "headers": [(b"content-type", b"application/json"), *headers],
    }  # fmt: skip
    asyncio.run(gate(scope, receive, send))
    return sent, reads


def test_a_refused_cast_that_expects_100_continue_is_answered_without_its_body() -> None:
    """Expect: 100-continue: the client sends the body only when told to; refused, it is
    never told (nothing read) and the connection is not closed on it (a close with unread
    data would reset it and could lose the answer). Without: the body is read and dropped,
    then the connection closed."""
    sent, reads = _refuse([(b"expect", b"100-Continue")], b"")
    assert reads == 0
    start = sent[0]
    assert start["status"] == 503
    names = {k.lower() for k, _ in start["headers"]}
    assert b"retry-after" in names and b"connection" not in names
    assert json.loads(sent[1]["body"])["code"] == "V9016"
    sent, reads = _refuse([], b"{}")
    assert reads == 1
    assert sent[0]["status"] == 503
    assert (b"connection", b"close") in sent[0]["headers"]


def test_over_uvicorn_a_client_waiting_for_100_continue_never_sends_a_refused_body(
    served: Served,
) -> None:
    """Through uvicorn: a client that asks Expect: 100-continue and waits gets the 503
    without sending its body; one that asks it and sends the body at once (httpx does)
    gets the 503 too, on a connection that stays usable (the body skipped), and its next
    send of the ballot is taken."""
    s = served
    admission = Admission(target=0.5, floor=1, ceiling=1, lag_share=0)
    app = create_app(s.host, OpsConfig.unlimited(), admission=admission)
    raw = s.ballot(3, "expect")
    path = f"/api/v1/elections/{s.uuid}/ballots"
    with running(app) as url:
        port = int(url.rsplit(":", 1)[1])
        admission.in_flight = 1
        login = base64.b64encode(":".join(s.login(3)).encode()).decode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {login}\r\n"
            f"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            f"Content-Length: {len(raw)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(head)  # and waits: no body
            answer = b""
            while b"\r\n\r\n" not in answer:
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 503 ")
            assert b"100 Continue" not in answer and b"connection: close" not in answer.lower()
        headers = {"Content-Type": "application/json", "Expect": "100-continue"}
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(2):
                r = client.post(path, content=raw, headers=headers, auth=s.login(3))
                assert r.status_code == 503 and r.json()["code"] == "V9016", r.text
            admission.in_flight = 0
            r = client.post(path, content=raw, headers=headers, auth=s.login(3))
            assert r.status_code == 201, r.text
    assert admission.in_flight == 0


def test_a_cast_that_waited_before_the_gate_is_taken_only_if_answered_in_time() -> None:
    """A request that waited in the kernel's accept queue (the loop busy refusing a burst)
    is taken only if that wait and its turn behind those in flight fit in ``stale`` times
    the target; an idle worker takes it anyway (it never idles)."""
    now = [0.0]
    a = Admission(target=0.5, floor=4, ceiling=64, interval=0.05, clock=lambda: now[0])
    assert a.limit == 10 and a.stale == 2.0
    first = a.enter(waited=3.0)  # nothing in flight: taken however long it waited
    assert [a.enter(waited=0.4)[1] for _ in range(5)] == [2, 3, 4, 5, 6]  # 0.4 + 0.3 s
    with pytest.raises(ServerBusyError) as err:
        a.enter(waited=0.7)  # 0.7 + 7 * 0.05 = 1.05 s > 1 s: told to come back
    assert err.value.retry_after_ms > 0
    assert a.in_flight == 6
    assert a.enter(waited=0.6)[1] == 7  # 0.6 + 0.35 s: in time
    assert a.enter()[1] == 8  # no wait known: the bound alone
    a.leave(first)
    # no bound, no refusal
    unbounded = Admission(target=0, clock=lambda: now[0])
    unbounded.enter()
    unbounded.enter(waited=10.0)
    assert unbounded.in_flight == 2


def test_queued_is_how_long_an_accepted_connection_waited_in_the_accept_queue() -> None:
    from viche.web.serve import queued

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        with socket.create_connection(listener.getsockname(), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\n\r\n")
            time.sleep(0.3)  # not accepted meanwhile
            conn, _ = listener.accept()
            with conn:
                assert 0.25 <= queued(conn) < 5.0
                client.sendall(b"more")
                conn.recv(100)
                assert queued(conn) < 0.25  # since the last data received
    assert queued(None) == 0.0


def test_over_uvicorn_a_request_that_waited_for_the_loop_says_since_when() -> None:
    """``viche serve``'s protocol (ArrivalStamps) gives the app when each request reached
    the machine: a connection that waited to be accepted while the loop was blocked says
    so, and so does a request on a kept-alive connection that waited to be read."""
    import uvicorn

    from viche.web.admission import ARRIVED
    from viche.web.serve import ArrivalStamps

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        arrived = scope.get("extensions", {}).get(ARRIVED, {}).get("at")
        body = b"-" if arrived is None else f"{time.monotonic() - arrived:.3f}".encode()
        if scope["path"] == "/block":
            time.sleep(0.4)  # the loop blocked: the next connection waits to be accepted
        length = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http=ArrivalStamps, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    def ask(sock: socket.socket, path: str) -> None:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

    def answer(sock: socket.socket) -> str:
        data = b""
        while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
            data += sock.recv(4096)
        return data.split(b"\r\n\r\n", 1)[1].decode()

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as a:
            ask(a, "/block")
            time.sleep(0.1)  # the loop is in the blocking request now
            with socket.create_connection(("127.0.0.1", port), timeout=30) as b:
                ask(b, "/")
                assert float(answer(a)) < 0.2
                assert float(answer(b)) >= 0.2  # it waited for the blocked loop
                time.sleep(0.3)
                ask(b, "/")  # the same connection again: stamped from its own arrival
                assert float(answer(b)) < 0.2
                ask(a, "/block")
                time.sleep(0.1)
                ask(b, "/")  # kept alive, it waited to be read while the loop was blocked
                assert float(answer(a)) < 0.2
                assert float(answer(b)) >= 0.2
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_the_gate_counts_the_wait_the_server_stamped_on_the_request() -> None:
    from viche.web.admission import ARRIVED

    admission = Admission(target=0.5, floor=8, ceiling=8, lag_share=0)
    admission.in_flight = 1  # room for seven more
    reached: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    gate = AdmissionGate(app, admission=admission, metrics=Metrics())
    for waited in (2.0, 0.1):
        scope: Scope = {
            "type": "http", "method": "POST", "path": "/api/v1/elections/abc/ballots",
            "headers": [(b"expect", b"100-continue")],
            "extensions": {ARRIVED: {"at": time.monotonic() - waited}},
        }  # fmt: skip
        asyncio.run(gate(scope, receive, send))
    assert statuses == [503, 201]
    assert reached == ["/api/v1/elections/abc/ballots"]
    assert admission.in_flight == 1
