"""Live event streams are capped (the audit of 2026-12-05: anyone could open as many as the
server would hold, without a login): at most ``streams_per_address`` from one client
address (429, V9013) and ``streams_total`` in all (503, V9016, Retry-After), per worker;
a stream's place is freed when its client goes. Through uvicorn, from several loopback
addresses (Linux answers all of 127.0.0.0/8)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from support.web import Served
from viche.web.app import create_app
from viche.web.event_demo import running
from viche.web.ops import OpsConfig


@contextmanager
def _client(url: str, address: str) -> Iterator[httpx.Client]:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=url, transport=transport, timeout=20) as client:
        yield client


def _admitted_again(url: str, path: str, address: str) -> httpx.Response:
    """The first answer that is not a refusal, within 10 s (the server notices a client
    that went at its next look, every half second)."""
    deadline = time.monotonic() + 10
    with _client(url, address) as client:
        while True:
            with client.stream("GET", path, params={"until": 0}) as r:
                r.read()
                if r.status_code not in (429, 503) or time.monotonic() > deadline:
                    return r
            time.sleep(0.1)


def test_streams_are_capped_per_address_and_overall(served: Served) -> None:
    s = served
    ops = OpsConfig(address_rate=None, voter_rate=None, streams_per_address=2, streams_total=3)
    app = create_app(s.host, ops)
    path = f"/api/v1/elections/{s.uuid}/events"
    with running(app) as url, ExitStack() as open_streams:

        def stream(address: str) -> httpx.Response:
            client = open_streams.enter_context(_client(url, address))
            return open_streams.enter_context(client.stream("GET", path))

        assert [stream("127.0.0.1").status_code for _ in range(2)] == [200, 200]
        with _client(url, "127.0.0.1") as client:
            third = client.get(path)
        assert third.status_code == 429 and third.json()["code"] == "V9013", third.text
        assert "live streams" in third.json()["message"]
        assert stream("127.0.0.2").status_code == 200  # another address: the third in all
        with _client(url, "127.0.0.3") as client:
            full = client.get(path)
        assert full.status_code == 503 and full.json()["code"] == "V9016", full.text
        assert int(full.headers["Retry-After"]) >= 1
        with _client(url, "127.0.0.1") as client:
            metrics = client.get("/metrics").text
        assert 'viche_live_streams_refused_total{limit="address"} 1' in metrics
        assert 'viche_live_streams_refused_total{limit="server"} 1' in metrics
        open_streams.close()  # every client goes: their places are freed
        again = _admitted_again(url, path, "127.0.0.1")
        assert again.status_code == 200 and "event: Setup" in again.text
        with ExitStack() as more:  # all three places again
            for address in ("127.0.0.1", "127.0.0.1", "127.0.0.4"):
                client = more.enter_context(_client(url, address))
                assert more.enter_context(client.stream("GET", path)).status_code == 200


def test_a_stream_that_ends_frees_its_place(served: Served) -> None:
    s = served
    ops = OpsConfig(address_rate=None, voter_rate=None, streams_per_address=1, streams_total=1)
    with running(create_app(s.host, ops)) as url, _client(url, "127.0.0.1") as client:
        path = f"/api/v1/elections/{s.uuid}/events"
        for _ in range(3):  # ?until=0 ends after the first event
            r = client.get(path, params={"until": 0})
            assert r.status_code == 200 and "event: Setup" in r.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20/1000", (20, 1000)), ("0/500", (None, 500)), ("5/0", (5, None)), ("off", (None, None))],
)
def test_the_limits_from_the_environment(text: str, expected: tuple[int | None, ...]) -> None:
    ops = OpsConfig.parse_streams(text, OpsConfig())
    assert (ops.streams_per_address, ops.streams_total) == expected


def test_serve_hands_the_caps_to_its_workers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from support.cli import run_cli
    from viche.web.routers.live import StreamSlots
    from viche.web.serve import ENV_DATABASE, ENV_KEYS, ENV_STREAMS, build_app

    monkeypatch.setenv(ENV_DATABASE, f"sqlite:///{tmp_path / 'board.sqlite'}")
    monkeypatch.setenv(ENV_KEYS, str(tmp_path / "keys"))
    monkeypatch.setenv(ENV_STREAMS, "3/0")
    app = build_app()
    slots = app.state.streams
    assert isinstance(slots, StreamSlots)
    assert (slots.per_address, slots.total) == (3, None)
    app.state.host.board.close()
    refused = run_cli("serve", "--data", str(tmp_path), "--max-streams", "-1")
    assert refused.code == 2 and "--max-streams" in refused.stderr
