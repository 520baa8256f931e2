"""The served event as its users run it: ``viche event host``, ``viche event secret``,
``viche serve --event``, a unit relay's ``viche relay upload URL``, ``viche event
download`` and ``viche verify DIR`` (every ``.bel`` through belenios-tool too)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from support.belenios import tool_verifies
from support.cli import run_cli
from support.event import serve_event_process
from support.served import CLI, cli_env
from viche.crypto.rng import SeededRandom
from viche.protocol.ballot import smart_ballot_tracker


def test_relay_upload_over_http_then_download_and_verify(
    tmp_path: Path, belenios_tool: str
) -> None:
    with serve_event_process(tmp_path, SeededRandom("served-process")) as s:
        detail = httpx.get(f"{s.base}/api/v1/events/test-event").json()
        assert [st["id"] for st in detail["styles"]] == ["c01", "c02"]
        # ballots made as the booth makes them, with the election the server publishes
        with s.ev.desk() as desk:
            raws = {v: s.ev.ballot(desk, v, choice=1) for v in ("c01-v2", "c02-v2")}
        # one voter votes online first (her login secret from `viche event host`)
        with s.ev.desk() as desk:
            first = s.ev.ballot(desk, "c01-v1", choice=0)
        uuid = detail["styles"][0]["election"]
        json_type = {"Content-Type": "application/json"}
        r = httpx.post(f"{s.base}/api/v1/elections/{uuid}/ballots", content=first,
                       headers=json_type, auth=s.login("c01-v1"))  # fmt: skip
        assert r.status_code == 201, r.text

        relay = tmp_path / "relay-A1234"
        files = []
        for v, raw in raws.items():
            f = tmp_path / f"{v}.ballot.json"
            f.write_bytes(raw + b"\n")
            files.append(str(f))
        assert run_cli("relay", "collect", "--relay", str(relay), *files).code == 0
        wrong = run_cli("relay", "upload", s.base, "--relay", str(relay), "--unit", "A1234",
                        "--event", "test-event", "--secret-file",
                        str(s.station_secret))  # fmt: skip
        assert wrong.code != 0 and "V9010" in wrong.stderr
        assert (relay / "pending.jsonl").exists()  # nothing sent, nothing lost
        up = run_cli("relay", "upload", s.base, "--relay", str(relay), "--unit", "A1234",
                     "--event", "test-event", "--secret-file", str(s.relay_secret))  # fmt: skip
        assert up.code == 0, up.stderr
        assert "2 of 2 accepted" in up.stdout
        for raw in raws.values():
            found = run_cli("relay", "receipt", "--relay", str(relay), smart_ballot_tracker(raw))
            assert found.code == 0, found.stderr
            receipt = json.loads(found.stdout)["accepted"]["receipt"]
            assert receipt["tracker"] == smart_ballot_tracker(raw)
            assert receipt["key"] == detail["receipt_key"]

        turnout = httpx.get(f"{s.base}/api/v1/events/test-event").json()["turnout"]
        assert turnout["total"] == {"online": 1, "station": 0, "relay": 2}

        mirror = tmp_path / "mirror"
        got = run_cli("event", "download", s.base, "--event", "test-event", "--out", str(mirror))
        assert got.code == 0, got.stderr
    verified = subprocess.run([*CLI, "verify", str(mirror), "--jobs", "1"], capture_output=True,
                              env=cli_env(), timeout=600, check=False)  # fmt: skip
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    assert (mirror / "relay-ballots.jsonl").read_bytes().count(b"\n") == 2
    for bel in sorted(mirror.glob("styles/*/*.bel")):
        ok, err = tool_verifies(belenios_tool, bel.parent)
        assert ok, err
