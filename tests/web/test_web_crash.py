"""Crash safety: ``viche serve`` killed with SIGKILL while voters cast ballots, restarted on
the same data folder: every ballot it acknowledged (receipt returned) is in the record, and
the record verifies (Viche and belenios-tool). Two rounds by default; more with
``VICHE_CRASH_ROUNDS=20 pytest tests/web/test_web_crash.py``. On SQLite and PostgreSQL
(``board_url``)."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from support.belenios import tool_verifies
from support.served import free_port, start_demo, stop, wait_until_up
from viche.crypto.rng import SeededRandom
from viche.protocol import codec
from viche.record import read_archive
from viche.service.ballot import generate_ballot
from viche.service.credentials import read_private_credential
from viche.service.election_run import random_choices
from viche.service.receipts import SignedReceipt, Verdict, check_receipt, parse_receipt
from viche.web.client import VotingClient


def _round(
    data: Path, ballots: list[tuple[bytes, tuple[str, str]]], uuid: str, seed: int, url: str
) -> list[SignedReceipt]:
    """Cast ``ballots`` from 4 threads; SIGKILL the server after a few acknowledgements."""
    port = free_port()
    proc = start_demo(data, port, database=url)
    acked: list[SignedReceipt] = []
    lock = threading.Lock()
    todo = list(ballots)
    try:
        wait_until_up(proc, port)
        url = f"http://127.0.0.1:{port}/api/v1/elections/{uuid}/ballots"

        def worker() -> None:
            with httpx.Client(timeout=30) as http:
                while True:
                    with lock:
                        if not todo:
                            return
                        raw, auth = todo.pop()
                    try:
                        r = http.post(
                            url,
                            content=raw,
                            auth=auth,
                            headers={"Content-Type": "application/json"},
                        )
                    except httpx.HTTPError:
                        return  # the server is gone
                    if r.status_code == 201:
                        signed = parse_receipt(codec.to_bytes(r.json()["receipt"]))
                        with lock:
                            acked.append(signed)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        rnd = random.Random(seed)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= 2 or not todo:
                    break
            time.sleep(0.05)
        time.sleep(rnd.uniform(0, 0.5))
        proc.kill()  # SIGKILL: no shutdown, no flush
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        for t in threads:
            t.join()
    finally:
        if proc.poll() is None:
            stop(proc)
    return acked


@pytest.mark.interop
def test_sigkill_under_load_loses_no_acknowledged_ballot(
    tmp_path: Path, belenios_tool: str, board_url: str
) -> None:
    from viche.verify import verify_record

    data = tmp_path / "data"
    port = free_port()
    proc = start_demo(data, port, database=board_url)
    try:
        wait_until_up(proc, port)
        uuid = (data / "demo" / "election.uuid").read_text().strip()
        client = VotingClient(f"http://127.0.0.1:{port}")
        _, election, credentials = client.setup(uuid)
        client.close()
    finally:
        stop(proc)
    voters = data / "demo" / "voters"
    rng = SeededRandom("crash")
    acked: list[SignedReceipt] = []
    for round_ in range(int(os.environ.get("VICHE_CRASH_ROUNDS", "2"))):
        ballots = []
        for k in range(6):
            n = k % 3 + 1
            login, secret = (voters / f"{n:03d}.login").read_text().split()
            cred = read_private_credential(voters / f"{n:03d}.cred")
            raw = generate_ballot(election, credentials, cred, random_choices(election, rng), rng)
            ballots.append((raw.raw, (login, secret)))
        got = _round(data, ballots, uuid, round_, board_url)
        assert got, "no ballot was acknowledged before the kill"
        acked += got
    # restart once more and take the record
    port = free_port()
    proc = start_demo(data, port, database=board_url)
    try:
        wait_until_up(proc, port)
        record = tmp_path / "record" / f"{uuid}.bel"
        record.parent.mkdir()
        record.write_bytes(
            httpx.get(f"http://127.0.0.1:{port}/api/v1/elections/{uuid}/archive.bel").content
        )
    finally:
        stop(proc)
    snapshot = read_archive(record)
    for signed in acked:
        verdict = check_receipt(signed, snapshot)
        assert verdict.verdict is Verdict.IN_RECORD, verdict.message
    report = verify_record(record, jobs=1)
    assert report.ok, report.failures
    ok, err = tool_verifies(belenios_tool, record.parent)
    assert ok, err
