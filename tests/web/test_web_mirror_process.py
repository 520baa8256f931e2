"""The real processes: ``viche serve --demo``, a ``viche mirror --serve`` of it, and a
second ``viche mirror`` that follows the first; a ballot cast at the origin reaches the
second copy, byte for byte."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx

from support.served import CLI, cli_env, free_port, launch, start_demo, stop, wait_until_up


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, env=cli_env(), timeout=300, check=False
    )


def test_a_served_mirror_is_followed_by_another(tmp_path: Path) -> None:
    data = tmp_path / "data"
    origin_port, mirror_port = free_port(), free_port()
    origin = start_demo(data, origin_port)
    mirror = None
    try:
        wait_until_up(origin, origin_port)
        uuid = (data / "demo" / "election.uuid").read_text().strip()
        election = f"http://127.0.0.1:{origin_port}/api/v1/elections/{uuid}"
        mirror = launch(
            [*CLI, "mirror", election, str(tmp_path / "m1"), "--serve",
             "--port", str(mirror_port), "--interval", "0.3"],
            cli_env(),
        )  # fmt: skip
        wait_until_up(mirror, mirror_port)
        voters = data / "demo" / "voters"
        vote = _run("vote", f"http://127.0.0.1:{origin_port}", "--election", uuid,
                    "--privcred", str(voters / "001.cred"), "--login", str(voters / "001.login"),
                    "--ballot", str(voters / "choices.json"),
                    "--receipt", str(tmp_path / "r.json"))  # fmt: skip
        assert vote.returncode == 0, vote.stderr.decode()
        wanted = httpx.get(f"{election}/archive.bel", timeout=30).content
        follower = tmp_path / "m2"
        served = f"http://127.0.0.1:{mirror_port}/api/v1/elections/{uuid}"
        deadline = time.monotonic() + 120
        copy = b""
        while copy != wanted and time.monotonic() < deadline:
            done = _run("mirror", served, str(follower), "--once")
            assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
            copy = (follower / f"{uuid}.bel").read_bytes()
            time.sleep(0.3)
        assert copy == wanted
        detail = httpx.get(served, timeout=30).json()
        assert (
            detail["ballots"] == 1
            and detail["receipt_key"] == httpx.get(election).json()["receipt_key"]
        )
        # the receipt checks against the second copy, with the key the mirrors saved
        checked = _run("receipt", "check", str(tmp_path / "r.json"), str(follower))
        assert checked.returncode == 0, checked.stdout.decode()
        receipts = tmp_path / "receipts"
        receipts.mkdir()
        (tmp_path / "r.json").rename(receipts / "r.json")
        verified = _run(
            "verify", str(follower), "--jobs", "1", "--json", "--receipts", str(receipts)
        )
        assert verified.returncode == 0, verified.stdout.decode()
        (check,) = [c for c in json.loads(verified.stdout)["checks"] if c["name"] == "receipts"]
        assert check["count"] == 1 and "saved by viche mirror" in check["note"]
    finally:
        if mirror is not None:
            said = stop(mirror)
            assert "serving the copy read-only" in said, said
        stop(origin)
