"""A national event served over HTTP (``viche serve --event``): every style on the SQL board
(SQLite and PostgreSQL), the station and relay channels through their endpoints, and the
published records, downloaded, verified by ``viche verify DIR`` and belenios-tool."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient

from support.belenios import tool_verifies
from support.event import STATIONS, SmallEvent, small_event
from support.served import CLI, cli_env
from viche.crypto.rng import SeededRandom
from viche.errors import (
    ExcludedUnitError,
    Location,
    RelayBatchError,
    UnknownStationError,
    VicheError,
)
from viche.event.hosted import ServedEvent, host_event, issue_secret, open_served_event
from viche.event.locks import LOCK_LOG, RELAY_LOG
from viche.event.manifest import MANIFEST, Station
from viche.event.relay import collect, find_receipt, upload_with
from viche.protocol.ballot import smart_ballot_tracker
from viche.record.sql import SqlBoard
from viche.service.hosting import Host
from viche.web.app import create_app
from viche.web.client import EventClient
from viche.web.ops import OpsConfig


@dataclass
class ServedSmall:
    ev: SmallEvent
    client: TestClient
    served: ServedEvent
    board: SqlBoard
    logins: Path
    station_secret: str
    relay_secret: str

    @property
    def base(self) -> str:
        return f"/api/v1/events/{self.served.id}"

    def uuid(self, voter: str) -> str:
        return self.served.manifest.style(self.ev.credentials[voter][0]).election

    def login(self, voter: str) -> tuple[str, str]:
        style = self.ev.credentials[voter][0]
        login, secret = (self.logins / style / f"{voter}.login").read_text().split()
        return login, secret

    def ballot(self, voter: str, choice: int = 0, style: str | None = None) -> bytes:
        return self.ev.ballot(self.served.desk, voter, choice, style)

    def online(self, voter: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        r = self.client.post(f"/api/v1/elections/{self.uuid(voter)}/ballots", content=raw,
                             headers={"Content-Type": "application/json"},
                             auth=self.login(voter))  # fmt: skip
        return r.status_code, r.json()

    def station(self, station: str, voter: str, raw: bytes, secret: str | None = None
                ) -> tuple[int, dict[str, Any]]:  # fmt: skip
        r = self.client.post(
            f"{self.base}/stations/{station}/ballots",
            content=raw,
            headers={"Content-Type": "application/json", "Viche-Voter": voter,
                     "Authorization": f"Bearer {secret or self.station_secret}"},
        )  # fmt: skip
        return r.status_code, r.json()


@pytest.fixture()
def served_event(board_url: str, tmp_path: Path) -> Iterator[ServedSmall]:
    ev = small_event(tmp_path, SeededRandom("served-event"))
    board = SqlBoard.open(board_url)
    keys, logins = tmp_path / "keys", tmp_path / "logins"
    try:
        hosted = host_event(board, keys, ev.directory, event_keys=ev.private,
                            authority_dir=ev.private / "ca", logins_out=logins)  # fmt: skip
        assert [(h.style, h.voters, h.created) for h in hosted] == [("c01", 3, True),
                                                                    ("c02", 3, True)]  # fmt: skip
        again = host_event(board, keys, ev.directory, event_keys=ev.private,
                           authority_dir=ev.private / "ca", logins_out=logins)  # fmt: skip
        assert [h.created for h in again] == [False, False]
        host = Host(board, keys)
        served = open_served_event(host, ev.directory, ev.private)
        station = issue_secret(board, served.manifest, "station", "DE-BERLIN-1")
        relay = issue_secret(board, served.manifest, "relay", "A1234")
        app = create_app(host, OpsConfig.unlimited(), national_events=[served])
        with TestClient(app) as client:
            yield ServedSmall(ev, client, served, board, logins, station, relay)
        served.close()
    finally:
        board.close()


def test_a_served_event_end_to_end(
    served_event: ServedSmall, tmp_path: Path, belenios_tool: str
) -> None:
    s = served_event
    # online vote, then the station vote that overrides it and locks the credential
    code, body = s.online("c01-v0", s.ballot("c01-v0", 0))
    assert code == 201, body
    early = s.client.get(s.base).json()["turnout"]["total"]
    assert early == {"online": 1, "station": 0, "relay": 0}
    # a ballot audited in the booth is never cast, at a station either
    audited = s.ballot("c01-v0", 1)
    r = s.client.post(f"/api/v1/elections/{s.uuid('c01-v0')}/audits", content=audited,
                      headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 201, r.text
    code, body = s.station("DE-BERLIN-1", "c01-v0", audited)
    assert code == 409 and body["code"] == "V3008", body
    code, body = s.online("c01-v0", audited)  # online, through the event's guard
    assert code == 409 and body["code"] == "V3008", body
    station_raw = s.ballot("c01-v0", 1)
    code, body = s.station("DE-BERLIN-1", "c01-v0", station_raw)
    assert code == 201, body
    assert body["channel"] == "station" and body["style"] == "c01" and body["revote"] is True
    receipt = body["receipt"]
    assert isinstance(receipt, dict)
    assert receipt["receipt"]["tracker"] == smart_ballot_tracker(station_raw)
    assert receipt["receipt"]["key"] == s.served.manifest.receipt_key

    # an online re-vote after the station vote is refused, and nothing is appended
    store = s.served.host.store(s.uuid("c01-v0"))
    height = store.head().height
    code, body = s.online("c01-v0", s.ballot("c01-v0", 0))
    assert code == 409 and body["code"] == "V8050", body
    assert store.head().height == height
    # so is a second station vote of hers
    code, body = s.station("DE-BERLIN-1", "c01-v0", s.ballot("c01-v0", 0))
    assert code == 409 and body["code"] == "V8050", body

    # a station vote for a voter of another style: refused, nothing stored
    wrong = s.ballot("c02-v0", 0, style="c01")
    code, body = s.station("DE-BERLIN-1", "c02-v0", wrong)
    assert code == 422 and body["code"] == "V8051", body
    assert body["where"]["path"] == ["ballot", "election_uuid"]
    # a ballot signed with another voter's credential (a coercer's), a voter not on the roll
    code, body = s.station("DE-BERLIN-1", "c02-v1", s.ballot("c02-v0", 0))
    assert code == 422 and body["code"] == "V3007", body
    code, body = s.station("DE-BERLIN-1", "zz-nobody", s.ballot("c02-v0", 0))
    assert code == 422 and body["code"] == "V8056", body
    # a wrong station secret, no secret, an unknown station, a malformed voter id
    good = s.ballot("c02-v0", 1)
    code, body = s.station("DE-BERLIN-1", "c02-v0", good, secret="not-the-secret")
    assert code == 401 and body["code"] == "V9010", body
    code, body = s.station("UA-KYIV-D1", "c02-v0", good)  # a secret of another station
    assert code == 401 and body["code"] == "V9010", body
    code, body = s.station("NO-SUCH-1", "c02-v0", good)
    assert code == 404 and body["code"] == "V8052", body
    code, body = s.station("DE-BERLIN-1", "<b>x</b>", good)
    assert code == 400 and body["where"]["path"] == ["viche-voter"], body
    assert s.served.host.store(s.uuid("c02-v0")).head().height == 0

    # a unit's relay uploads its batch over HTTP: each ballot on its own
    relay_dir = tmp_path / "relay-A1234"
    soldiers = {v: s.ballot(v, 1) for v in ("c01-v1", "c02-v1")}
    late_lock = s.ballot("c01-v0", 0)  # the locked voter's ballot: refused
    collect(relay_dir, [(raw, Location(path=(v,))) for v, raw in soldiers.items()]
            + [(late_lock, Location(path=("x",)))])  # fmt: skip
    client = EventClient("http://testserver", s.served.id, http=cast(httpx.Client, s.client))
    batch = upload_with(relay_dir, "A1234",
                        lambda bid, ballots: client.upload_batch("A1234", s.relay_secret, bid,
                                                                 ballots))  # fmt: skip
    assert batch.accepted == 2
    refused = [o.error for o in batch.outcomes if o.error is not None]
    assert [e.code for e in refused] == ["V8050"]
    for raw in soldiers.values():
        found = find_receipt(relay_dir, smart_ballot_tracker(raw))
        assert found["accepted"]["receipt"]["tracker"] == smart_ballot_tracker(raw)
    # a wrong relay secret: the whole upload is refused, the ballots stay pending
    collect(relay_dir, [(s.ballot("c02-v2", 0), Location(path=("y",)))])
    with pytest.raises(VicheError, match="HTTP 401"):
        upload_with(relay_dir, "A1234",
                    lambda bid, raws: client.upload_batch("A1234", "wrong", bid, raws))  # fmt: skip
    assert (relay_dir / "pending.jsonl").exists()

    # the public endpoint: setup, files and per-channel turnout (no per-channel results)
    detail = s.client.get(s.base).json()
    turnout = {t["id"]: t for t in detail["turnout"]["styles"]}
    assert (turnout["c01"]["station"], turnout["c01"]["relay"], turnout["c01"]["online"]) == (
        1, 1, 0)  # fmt: skip
    assert (turnout["c02"]["station"], turnout["c02"]["relay"], turnout["c02"]["online"]) == (
        0, 1, 0)  # fmt: skip
    assert detail["turnout"]["total"] == {"online": 0, "station": 1, "relay": 2}
    assert "result" not in str(detail["turnout"])
    for name in (MANIFEST, LOCK_LOG, RELAY_LOG):
        r = s.client.get(f"{s.base}/{name}")
        assert r.status_code == 200 and r.content == (s.ev.directory / name).read_bytes()
    assert s.client.get(f"{s.base}/private.json").json()["code"] == "V9011"

    # the downloaded folder is an event that viche verify checks; each .bel passes the tool
    mirror = tmp_path / "mirror"
    files = client.download(mirror)
    assert {p.name for p in files} >= {MANIFEST, LOCK_LOG, RELAY_LOG}
    verified = subprocess.run([*CLI, "verify", str(mirror), "--jobs", "1"], capture_output=True,
                              env=cli_env(), timeout=600, check=False)  # fmt: skip
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    bels = sorted(mirror.glob("styles/*/*.bel"))
    assert len(bels) == 2
    for bel in bels:
        ok, err = tool_verifies(belenios_tool, bel.parent)
        assert ok, err


def test_secrets_only_for_the_events_stations_and_units(served_event: ServedSmall) -> None:
    s = served_event
    with pytest.raises(UnknownStationError):
        issue_secret(s.board, s.served.manifest, "station", "RU-OCCUPIED-1")
    with pytest.raises(RelayBatchError):
        issue_secret(s.board, s.served.manifest, "relay", "Bakhmut 48.59,38.00")
    # a manifest that placed a station in the excluded unit would be refused too
    unit = s.served.manifest.excluded_units[0]
    bad = Station("UA-OCC-1", "displaced", unit)
    from dataclasses import replace

    with pytest.raises(ExcludedUnitError):
        issue_secret(s.board, replace(s.served.manifest, stations=(*STATIONS, bad)), "station",
                     "UA-OCC-1")  # fmt: skip


def test_hosting_again_stops_at_a_style_without_its_roll(
    served_event: ServedSmall, tmp_path: Path
) -> None:
    """A hosting interrupted between a style's election and its voters is not resumed as if
    complete: the style would be served without its roll."""
    from sqlalchemy import delete

    from viche.errors import EnrolmentError
    from viche.record.sql import schema

    s = served_event
    uuid = s.served.manifest.styles[1].election
    with s.board.engine.begin() as conn:
        conn.execute(delete(schema.voters).where(schema.voters.c.election == uuid))
    with pytest.raises(EnrolmentError, match="0 voter"):
        host_event(s.board, tmp_path / "keys", s.ev.directory, event_keys=s.ev.private,
                   authority_dir=s.ev.private / "ca", logins_out=tmp_path / "again")  # fmt: skip
