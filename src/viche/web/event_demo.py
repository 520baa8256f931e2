"""``viche event demo --http``: the national event demo with every channel over HTTP.

The event is put on a SQLite bulletin board (``DIR/private/server/``) with
:func:`~viche.event.hosted.host_event`, a secret is issued to each polling station and to the
unit's relay, and the API is served by uvicorn on a free local port in a thread of this
process. Then the voters cast online with their login secrets (``POST
/api/v1/elections/{uuid}/ballots``), the stations through ``POST
/api/v1/events/{id}/stations/{station}/ballots`` with their secrets, the relay uploads its
batches with :class:`~viche.web.client.EventClient`; the administrator counts on the server
(:func:`~viche.event.counting.count_event` over the board's records), and the published folder
is downloaded from ``/api/v1/events/{id}`` into ``DIR`` — which ``viche verify DIR`` then checks.
The demo's simulated clock is the served event's clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from viche.errors import Location, UsageError
from viche.event import relay as relays
from viche.event.channels import EventDesk
from viche.event.demo import Channels, DemoSetup
from viche.event.hosted import RELAY, STATION, ServedEvent, host_event, issue_secret
from viche.record.sql import SqlBoard
from viche.service.hosting import Host
from viche.web.app import create_app
from viche.web.client import TIMEOUT, EventClient, raise_for_answer
from viche.web.ops import OpsConfig


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free port of 127.0.0.1 in a thread; yields its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="viche-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise UsageError("the demo's server did not start", where=Location(path=("http",)))
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class HttpChannels:
    """The demo's channels through the API of a running server."""

    served: ServedEvent
    http: httpx.Client
    setup: DemoSetup
    logins: Path
    secrets: dict[tuple[str, str], str]

    @property
    def desk(self) -> EventDesk:
        return self.served.desk

    def _post(self, path: str, raw: bytes, headers: dict[str, str], **kw: object) -> str:
        where = Location(file=str(self.http.base_url) + path)
        response = self.http.post(path, content=raw, headers=headers, **kw)  # type: ignore[arg-type]
        raise_for_answer(response, where)
        tracker = response.json().get("tracker")
        if not isinstance(tracker, str):
            raise UsageError("unexpected answer", where=where)
        return tracker

    def online(self, voter: str, raw: bytes) -> str:
        style = self.setup.created.credentials[voter][0]
        login, secret = (self.logins / style / f"{voter}.login").read_text().split()
        uuid = self.served.manifest.style(style).election
        return self._post(f"/api/v1/elections/{uuid}/ballots", raw,
                          {"Content-Type": "application/json"}, auth=(login, secret))  # fmt: skip

    def station(self, station: str, voter: str, raw: bytes) -> str:
        secret = self.secrets[(STATION, station)]
        path = f"/api/v1/events/{self.served.id}/stations/{station}/ballots"
        return self._post(path, raw, {"Content-Type": "application/json", "Viche-Voter": voter,
                                      "Authorization": f"Bearer {secret}"})  # fmt: skip

    def relay(self, relay_dir: Path, unit: str) -> relays.Batch:
        client = EventClient(str(self.http.base_url), self.served.id, http=self.http)
        secret = self.secrets[(RELAY, unit)]
        return relays.upload_with(relay_dir, unit, lambda batch, ballots: client.upload_batch(
            unit, secret, batch, ballots))  # fmt: skip

    def publish(self) -> None:
        EventClient(str(self.http.base_url), self.served.id, http=self.http).download(
            self.setup.directory
        )


@contextmanager
def http_channels(setup: DemoSetup) -> Iterator[Channels]:
    """The event of ``setup`` served over HTTP for the demo (module docstring)."""
    server_dir = setup.private / "server"
    server_dir.mkdir(parents=True, exist_ok=True)
    board = SqlBoard.open(f"sqlite:///{(server_dir / 'board.sqlite').resolve()}")
    try:
        keys = server_dir / "keys"
        logins = setup.private / "voters" / "logins"
        host_event(board, keys, setup.directory, event_keys=setup.private / "keys",
                   authority_dir=setup.private / "credential-authority",
                   logins_out=logins)  # fmt: skip
        host = Host(board, keys)
        served = ServedEvent(host, setup.directory, setup.key, setup.receipt_key, setup.clock)
        secrets = {(STATION, st.id): issue_secret(board, served.manifest, STATION, st.id)
                   for st in served.manifest.stations}  # fmt: skip
        for unit in setup.units:
            secrets[(RELAY, unit)] = issue_secret(board, served.manifest, RELAY, unit)
        app = create_app(host, OpsConfig.unlimited(), national_events=[served],
                         schedule_every=3600)  # fmt: skip
        try:
            with running(app) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as http:
                yield HttpChannels(served, http, setup, logins, secrets)
        finally:
            served.close()
    finally:
        board.close()
