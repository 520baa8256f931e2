"""The real ``viche serve --demo`` process on a random port, voted on with ``viche vote``;
started again on the same data folder it resumes the same election."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import httpx

from support.served import CLI, cli_env, free_port, start_demo, stop, wait_until_up


def test_serve_demo_vote_and_resume(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    proc = start_demo(data, port)
    try:
        wait_until_up(proc, port)
        # the board holds the voters' addresses: the data folder is the server's alone
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        uuid = (data / "demo" / "election.uuid").read_text().strip()
        voters = data / "demo" / "voters"
        vote = subprocess.run(
            [
                *CLI,
                "vote",
                f"http://127.0.0.1:{port}",
                "--election",
                uuid,
                "--privcred",
                str(voters / "002.cred"),
                "--login",
                str(voters / "002.login"),
                "--ballot",
                str(voters / "choices.json"),
                "--receipt",
                str(tmp_path / "r.json"),
            ],
            capture_output=True,
            env=cli_env(),
            timeout=300,
            check=False,
        )
        assert vote.returncode == 0, vote.stderr.decode()
        assert b"tracker:" in vote.stdout
        # the wrong voter's login: refused, no receipt
        refused = subprocess.run(
            [
                *CLI,
                "vote",
                f"http://127.0.0.1:{port}",
                "--election",
                uuid,
                "--privcred",
                str(voters / "002.cred"),
                "--login",
                str(voters / "003.login"),
                "--ballot",
                str(voters / "choices.json"),
                "--receipt",
                str(tmp_path / "x.json"),
            ],
            capture_output=True,
            env=cli_env(),
            timeout=300,
            check=False,
        )
        assert refused.returncode == 2 and b"V3007" in refused.stderr
        assert not (tmp_path / "x.json").exists()
        archive = tmp_path / "record" / f"{uuid}.bel"
        archive.parent.mkdir()
        archive.write_bytes(
            httpx.get(f"http://127.0.0.1:{port}/api/v1/elections/{uuid}/archive.bel").content
        )
        check = subprocess.run(
            [*CLI, "receipt", "check", str(tmp_path / "r.json"), str(archive)],
            capture_output=True,
            env=cli_env(),
            timeout=120,
            check=False,
        )
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
        # an observer mirrors the served record
        mirror = subprocess.run(
            [*CLI, "mirror", f"http://127.0.0.1:{port}/api/v1/elections/{uuid}",
             str(tmp_path / "mirror"), "--once"],
            capture_output=True, env=cli_env(), timeout=120, check=False,
        )  # fmt: skip
        assert mirror.returncode == 0, mirror.stdout.decode() + mirror.stderr.decode()
        mirrored = list((tmp_path / "mirror").rglob("*.bel"))
        assert [p.read_bytes() for p in mirrored] == [archive.read_bytes()]
    finally:
        first = stop(proc)
    assert "demo election opened" in first
    port2 = free_port()
    again = start_demo(data, port2)
    try:
        wait_until_up(again, port2)
        listed = httpx.get(f"http://127.0.0.1:{port2}/api/v1/elections").json()
        assert [e["uuid"] for e in listed] == [uuid]
        assert listed[0]["ballots"] == 1
    finally:
        second = stop(again)
    assert f"demo election resumed: {uuid}" in second


def _vote(port: int, uuid: str, voters: Path, cred: str, login: str, receipt: Path) -> int:
    return subprocess.run(
        [*CLI, "vote", f"http://127.0.0.1:{port}", "--election", uuid,
         "--privcred", str(voters / f"{cred}.cred"), "--login", str(voters / f"{login}.login"),
         "--ballot", str(voters / "choices.json"), "--receipt", str(receipt)],
        capture_output=True, env=cli_env(), timeout=300, check=False,
    ).returncode  # fmt: skip


def test_metrics_count_every_worker(tmp_path: Path) -> None:
    """With two worker processes, whichever worker a scrape reaches answers the server's
    totals (the workers share their counters), and each election's phase."""
    data = tmp_path / "data"
    port = free_port()
    proc = start_demo(data, port, workers=2)
    try:
        wait_until_up(proc, port)
        uuid = (data / "demo" / "election.uuid").read_text().strip()
        voters = data / "demo" / "voters"
        assert _vote(port, uuid, voters, "001", "001", tmp_path / "1.json") == 0
        assert _vote(port, uuid, voters, "002", "002", tmp_path / "2.json") == 0
        assert _vote(port, uuid, voters, "002", "003", tmp_path / "x.json") == 2
        # a new connection each time, so that the scrapes reach both workers
        scrapes = [httpx.get(f"http://127.0.0.1:{port}/metrics").text for _ in range(12)]
    finally:
        stop(proc)
    for text in scrapes:
        assert "viche_ballots_accepted_total 2\n" in text
        assert 'viche_ballots_refused_total{code="V3007"} 1\n' in text
        assert "viche_cast_seconds_count 3\n" in text
        assert f'viche_election_phase{{election="{uuid}",phase="open"}} 1\n' in text
    # both workers keep a snapshot (a scrape answered by either sums both); a worker that
    # uvicorn replaced (its health check times out on a loaded machine) leaves its own too
    assert len(list((data / "metrics").glob("metrics-*.bin"))) >= 2


def test_a_server_whose_output_is_read_only_at_its_stop_never_blocks_on_it(
    tmp_path: Path,
) -> None:
    """Every request writes a line of the access log on the server's standard error, which
    the tests read when they stop it (:func:`~support.served.stop`). Read only then, the
    lines filled the pipe (64 KiB: some 500 requests, fewer than a loaded run of
    tests/event/test_event_served_workers.py sends with its 503 retries) and the worker's
    event loop, which writes them, stopped on the full pipe with every request it held: the
    test waited 300 s for an answer. The harness reads the output as it comes."""
    port = free_port()
    proc = start_demo(tmp_path / "data", port)
    try:
        wait_until_up(proc, port)
        with httpx.Client(timeout=30) as client:
            for _ in range(1500):  # ~100 bytes of log each: more than twice what a pipe holds
                assert client.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200
    finally:
        out = stop(proc)
    assert out.count('"route":"/api/v1/health"') >= 1500
