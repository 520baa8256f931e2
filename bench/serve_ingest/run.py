"""Ballot ingest of ``viche serve``: ballots/s with every check, over HTTP on loopback.

One demo election (``--voters`` voters) is prepared once and opened on each database
(SQLite in a data folder; PostgreSQL in a fresh schema of ``--postgres``); ``--ballots``
ballots (re-votes included, every one distinct) are made beforehand by the client side;
then ``viche serve`` (``--workers`` processes) is started on the board and the ballots are
posted by ``--concurrency`` client threads. Every ballot runs every check of add-ballot
(size, canonical form, election, credential on the list and bound to the voter, proofs,
signature, phase, replay) and is durable before its answer. Printed: ballots/s, p50 and
p99 latency, and the CPU time the server's processes spent per ballot (the figure that does
not depend on how busy the machine is: an idle core ingests about 1000 / that many
ballots/s), per database and worker count.

No peer runs here: belenios-tool has no server mode (its web server is a separate package).

    .venv/bin/python bench/serve_ingest/run.py --voters 100 --ballots 300 --workers 1,2
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy

from viche.crypto.rng import SeededRandom
from viche.record.sql import SqlBoard, engine_url
from viche.service.ballot import generate_ballot
from viche.service.election_run import random_choices
from viche.service.hosting import open_election
from viche.service.served_demo import PreparedDemo, prepare_demo

REPO = Path(__file__).resolve().parents[2]


def _make(args: tuple[PreparedDemo, str, int]) -> bytes:
    demo, cred, seed = args
    rng = SeededRandom(f"bench|{seed}")
    e = demo.election
    return generate_ballot(e, demo.credentials, cred, random_choices(e, rng), rng).raw


def _serve(data: Path, url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    # the clients all come from 127.0.0.1 and re-vote: no rate limits for the measure
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "VICHE_RATE_LIMITS": "off"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "viche.cli.main", "serve", "--data", str(data), "--database",
         url, "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"viche serve exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("viche serve did not start")


def _tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by process ``root`` and its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, members = 0.0, {root}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in stats.items():
            if ppid in members and pid not in members:
                members.add(pid)
                changed = True
    for pid in members:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def _fire(
    port: int, uuid: str, ballots: list[tuple[bytes, tuple[str, str]]], concurrency: int
) -> tuple[float, list[float], int]:
    todo = list(ballots)
    lock = threading.Lock()
    latencies: list[float] = []
    refused = 0
    url = f"http://127.0.0.1:{port}/api/v1/elections/{uuid}/ballots"

    def worker() -> None:
        nonlocal refused
        with httpx.Client(timeout=120) as http:
            while True:
                with lock:
                    if not todo:
                        return
                    raw, auth = todo.pop(0)
                t0 = time.perf_counter()
                r = http.post(
                    url, content=raw, auth=auth, headers={"Content-Type": "application/json"}
                )
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if r.status_code != 201:
                        refused += 1
                        print(f"refused: {r.status_code} {r.text[:200]}", file=sys.stderr)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies, refused


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--voters", type=int, default=100)
    p.add_argument("--ballots", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--workers", default="1", help="comma-separated worker counts")
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="viche-ingest-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        demo = prepare_demo(root / "demo", SeededRandom("bench-ingest"), args.voters)
        voters = root / "demo" / "voters"
        creds = [(voters / f"{n:03d}.cred").read_text().strip() for n in range(1, args.voters + 1)]
        logins = [
            tuple((voters / f"{n:03d}.login").read_text().split())
            for n in range(1, args.voters + 1)
        ]
        print(f"election prepared ({args.voters} voters) in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        jobs = [(demo, creds[k % args.voters], k) for k in range(args.ballots)]
        with ProcessPoolExecutor() as pool:
            raws = list(pool.map(_make, jobs, chunksize=8))
        ballots = [(raw, logins[k % args.voters]) for k, raw in enumerate(raws)]
        print(
            f"{args.ballots} ballots made by the client side in {time.perf_counter() - t0:.1f} s "
            f"({len({k % args.voters for k in range(args.ballots)})} voters, re-votes included)"
        )
        print(
            f"{'database':<11} {'workers':>7} {'ballots':>7} {'refused':>7} {'seconds':>8} "
            f"{'ballots/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'server CPU ms/ballot':>21}"
        )
        for db in args.databases.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                data = root / f"{db}-{workers}"
                data.mkdir()
                schema = None
                if db == "sqlite":
                    url = f"sqlite:///{data / 'board.sqlite'}"
                else:
                    schema = f"viche_bench_{secrets.token_hex(5)}"
                    admin = sqlalchemy.create_engine(engine_url(args.postgres))
                    with admin.begin() as conn:
                        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
                    sep = "&" if "?" in args.postgres else "?"
                    url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
                board = SqlBoard.open(url)
                open_election(
                    board, data / "keys", election=demo.election, trustees=demo.trustees,
                    credentials=demo.credentials, ids=demo.ids, roll=demo.roll,
                    timestamp=demo.timestamp,
                )  # fmt: skip
                port = random.randint(20000, 60000)
                proc = _serve(data, url, port, workers)
                try:
                    cpu0 = _tree_cpu(proc.pid)
                    seconds, lat, refused = _fire(
                        port, demo.election.uuid, ballots, args.concurrency
                    )
                    cpu = _tree_cpu(proc.pid) - cpu0
                finally:
                    proc.terminate()
                    proc.wait(timeout=60)
                count = board.store(demo.election.uuid).ballot_count()
                board.close()
                if schema is not None:
                    with admin.begin() as conn:
                        conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
                lat.sort()
                p50 = statistics.median(lat) * 1000
                p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
                print(
                    f"{db:<11} {workers:>7} {count:>7} {refused:>7} {seconds:>8.1f} "
                    f"{count / seconds:>9.1f} {p50:>8.0f} {p99:>8.0f} {cpu * 1000 / count:>21.1f}"
                )
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
