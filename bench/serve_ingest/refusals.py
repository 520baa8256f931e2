"""What one refusal ("full, retry after N ms", 503 V9016) costs ``viche serve`` and its
client, by the way the client comes back: over a new connection for each send, or over
the connection it keeps (as a browser and ``viche vote`` do), with or without ``Expect:
100-continue``.

A one-worker ``viche serve`` (SQLite) is held full: four casts taken in (the admission's
floor while no pace is known) ask ``Expect: 100-continue`` and never send their body, so
they stay in flight. Then ``--clients`` connections each send the same cast (a 17 kB
body) ``--sends`` times in a row, each answered 503 at once by the admission's gate;
printed per refusal: the server's CPU (its processes, from ``/proc``; less what it spends
idle for as long, its timers, measured before) and this client's.
Each client comes back after the wait the server asks (and up to a fifth more, as the
booth and ``viche vote`` do): back to back, the waits handed out would grow by 3.75 ms a
refusal (nothing leaves, no pace is measured) past what a server keeps a connection
for; with 200 clients they stay near 0.75 s, and a mode takes ~20 s. (Without ``Expect``
``viche serve`` closes a refused connection: ``kept`` then opens one per send, as ``new``
does; branch ``retry7-tried`` kept it.) Time it under
``flock /work/wt/bench.lock``; ``--server-src DIR`` serves another checkout (before/after
by the same client).

    PYTHONPATH=src .venv/bin/python bench/serve_ingest/refusals.py

``--burst VOTERS`` counts the refusals of a whole burst instead (run.py's burst, its client,
a new connection per send, ``Expect: 100-continue``), each send traced: per configuration
(``--databases``, ``--workers``, ``--repeat`` times) ballots/s, the accepted casts' p99,
503s per accepted ballot, the server's CPU per ballot; per wave (a voter's n-th send) the
sends and the share refused; how early the refused retries came (from that send to the
voter's send that was taken: p50 / p90); and the seconds the server had no accepted cast
in flight, as the client sees it (its sends taken, from write to answer), before the last
answer: how late the voters told came.

    PYTHONPATH=src .venv/bin/python bench/serve_ingest/refusals.py --burst 1000 \
        --databases sqlite,postgresql --workers 1,2 [--postgres URL] [--server-src DIR] \
        [--compare OTHER/src --compare-postgres URL2]

(``--compare``: each burst is followed by the same burst served from another tree, its
PostgreSQL in its own database: before and after alternated, by the same client.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as ingest  # the board, the server and the client of the ingest bench

from viche.crypto.rng import SeededRandom
from viche.protocol.election import ElectionTemplate
from viche.service.served_demo import prepare_demo
from viche.web.client import busy_wait, jittered

#: the casts held in flight: the admission's floor (its bound while no pace is known)
HELD = 4
#: seconds the server is watched idle (held full, no other request) before the refusals
IDLE = 3.0
MODES = {
    # name: (Expect: 100-continue, the connection kept for the next send)
    "new+expect": (True, False),
    "kept+expect": (True, True),
    "new": (False, False),
    "kept": (False, True),
}


async def _refusals(
    pid: int, port: int, uuid: str, logins: list[tuple[str, str]], clients: int, sends: int,
    expect: bool, keep: bool,
) -> tuple[int, int, float, float, float]:  # fmt: skip
    """Hold the worker full, then ``clients`` × ``sends`` casts: (503s, connections opened,
    client CPU seconds of those sends, the server's CPU seconds meanwhile, less what it
    spends idle in as long: its timers, measured for IDLE seconds before; the seconds)."""
    loop = asyncio.get_running_loop()
    body = b"{" + b" " * 17_061 + b"}"  # a ballot's size; never read by the gate
    held: list[asyncio.Transport] = []
    for auth in logins[:HELD]:
        head = ingest._request(port, uuid, body, auth, expect=True).split(b"\r\n\r\n")[0]
        transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        transport.write(head + b"\r\n\r\n")  # and never its body: in flight for good
        held.append(transport)
    await asyncio.sleep(1.0)  # taken in, logged in, waiting for their bodies
    idle0, _ = ingest._tree_cpu(pid)
    await asyncio.sleep(IDLE)
    idle = (ingest._tree_cpu(pid)[0] - idle0) / IDLE  # CPU seconds per second, held full
    request = ingest._request(port, uuid, body, logins[HELD], expect)
    busy = connections = 0
    jitter = random.Random(11)

    async def client() -> None:
        nonlocal busy, connections
        conn: ingest._Connection | None = None
        for _ in range(sends):
            used = conn
            answer, conn = await ingest._send(port, request, conn)
            connections += conn is not used
            if answer.status != 503:
                raise SystemExit(f"expected 503, got {answer.status} {answer.body[:200]!r}")
            busy += 1
            if not keep:
                conn.close()
            wait = busy_wait(answer.status, answer.headers.get("retry-after", ""), answer.body)
            await asyncio.sleep(jittered(wait or 0.0, jitter.uniform))
        if conn is not None:
            conn.close()

    c0 = time.process_time()
    s0, _ = ingest._tree_cpu(pid)
    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - t0
    server = ingest._tree_cpu(pid)[0] - s0 - idle * seconds
    cpu = time.process_time() - c0
    for transport in held:
        transport.close()
    return busy, connections, cpu, server, seconds


#: one send of a traced burst: (voter, sent, answer read (seconds after the first send),
#: status, the wait told in seconds or None)
Send = tuple[int, float, float, int, float | None]


async def _traced_burst(port: int, requests: list[bytes]) -> tuple[list[Send], float, float, float]:
    """Every voter sends at once, over a new connection per send; one told to retry comes
    back after the wait asked and up to a fifth more (as the booth and ``viche vote`` do).
    Every send traced; (the sends, the seconds, this client's CPU seconds, the first send's
    ``time.perf_counter()``: on Linux the server's ``time.monotonic()`` clock)."""
    sends: list[Send] = []
    jitter = random.Random(11)
    t0 = time.perf_counter()
    c0 = time.process_time()

    async def voter(k: int, request: bytes) -> None:
        while True:
            answer, conn = await ingest._send(port, request, None)
            conn.close()
            wait = busy_wait(answer.status, answer.headers.get("retry-after", ""), answer.body)
            sends.append((k, answer.sent - t0, answer.read - t0, answer.status, wait))
            if wait is None:
                return
            await asyncio.sleep(jittered(wait, jitter.uniform))

    await asyncio.gather(*(voter(k, r) for k, r in enumerate(requests)))
    return sends, time.perf_counter() - t0, time.process_time() - c0, t0


def _pcts(values: list[float], *qs: float) -> list[float]:
    if not values:
        return [float("nan")] * len(qs)
    ordered = sorted(values)
    return [ordered[min(len(ordered) - 1, int(len(ordered) * q))] for q in qs]


def _report(sends: list[Send]) -> dict[str, object]:
    """What a traced burst's sends say: see the module's docstring."""
    by_voter: dict[int, list[Send]] = {}
    for send in sorted(sends, key=lambda s: s[1]):
        by_voter.setdefault(send[0], []).append(send)
    waves: dict[int, list[int]] = {}  # n-th send: [sends, refused]
    early: list[float] = []
    taken: list[tuple[float, float]] = []
    for mine in by_voter.values():
        last = mine[-1]
        for n, (_, sent, _, _status, wait) in enumerate(mine):
            wave = waves.setdefault(n + 1, [0, 0])
            wave[0] += 1
            wave[1] += wait is not None
            if wait is not None and n > 0 and last[3] == 201:
                early.append(last[1] - sent)
        if last[3] == 201:
            taken.append((last[1], last[2]))
    idle = 0.0
    covered = 0.0  # the accepted casts in flight, their union from the first send
    for sent, read in sorted(taken):
        if sent > covered:
            idle += sent - covered
        covered = max(covered, read)
    return {"waves": waves, "early": _pcts(early, 0.5, 0.9), "idle": idle, "accepted": taken}


def _bursts(args: argparse.Namespace) -> None:
    servers = [("this", args.server_src, args.postgres)]
    if args.compare is not None:  # each burst then one of the other tree's, alternated
        servers.append(("other", args.compare, args.compare_postgres or args.postgres))
    with tempfile.TemporaryDirectory(prefix="viche-refusals-") as tmp:
        root = Path(tmp)
        template = ElectionTemplate.from_json(json.loads(ingest.TEMPLATE.read_text()))
        demo = prepare_demo(root / "demo", SeededRandom("bench-ingest"), args.burst, template)
        voters = root / "demo" / "voters"
        creds = [(voters / f"{n:03d}.cred").read_text().strip() for n in range(1, args.burst + 1)]
        with ProcessPoolExecutor() as pool:
            jobs = [(demo, creds[k], k) for k in range(args.burst)]
            raws = list(pool.map(ingest._make, jobs, chunksize=8))
        logins = [(voters / f"{n:03d}.login").read_text().split() for n in range(1, args.burst + 1)]
        print(f"{'server':<6} {'db':<10} {'w':>1} {'ballots/s':>9} {'p99 ms':>6} {'503/b':>5} "
              f"{'srv ms/b':>8} {'idle s':>6} {'early p50/p90 ms':>16} {'load':>4}  "
              "waves (sends/refused %)")  # fmt: skip
        for _ in range(args.repeat):
            for db in args.databases.split(","):
                for workers in (int(w) for w in args.workers.split(",")):
                    for name, src, postgres in servers:
                        board = ingest._new_board(root, f"{db}-{workers}-{secrets.token_hex(3)}",
                                                  db, postgres, demo)  # fmt: skip
                        try:
                            _one_burst(src, board, demo.election.uuid, raws, logins, db,
                                       workers, name, args.trace)  # fmt: skip
                        finally:
                            ingest._drop(board, postgres)


def _one_burst(
    src: Path | None, board: ingest.Board, uuid: str, raws: list[bytes],
    logins: list[list[str]], db: str, workers: int, name: str, trace: Path | None,
) -> None:  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    requests = [
        ingest._request(port, uuid, raw, (login[0], login[1]), True)
        for raw, login in zip(raws, logins, strict=True)
    ]
    proc = ingest._serve(board.data, board.url, port, workers, 0.5, None, src)
    try:
        s0, _ = ingest._tree_cpu(proc.pid)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            sends, seconds, _, t0 = runner.run(_traced_burst(port, requests))
        server = ingest._tree_cpu(proc.pid)[0] - s0
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    if trace is not None:  # every send, for a closer look
        trace.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%H%M%S", time.gmtime())
        (trace / f"{stamp}-{name}-{db}-{workers}.json").write_text(
            json.dumps({"t0": t0, "sends": sends})
        )
    r = _report(sends)
    accepted = r["accepted"]
    assert isinstance(accepted, list)
    count = len(accepted)
    busy = sum(1 for s in sends if s[4] is not None)
    (p99,) = _pcts([read - sent for sent, read in accepted], 0.99)
    waves = r["waves"]
    assert isinstance(waves, dict)
    shown = " ".join(f"{n}:{a}/{100 * b / a:.0f}" for n, (a, b) in sorted(waves.items())[:6])
    early = r["early"]
    assert isinstance(early, list)
    e50, e90 = early
    print(
        f"{name:<6} {db:<10} {workers:>1} {count / seconds:>9.1f} {p99 * 1000:>6.0f} "
        f"{busy / count:>5.2f} "
        f"{server * 1000 / count:>8.1f} {r['idle']:>6.2f} {e50 * 1000:>7.0f}/{e90 * 1000:<8.0f} "
        f"{os.getloadavg()[0]:>4.1f}  {shown}",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--sends", type=int, default=25, help="sends of each client")
    p.add_argument("--modes", default=",".join(MODES), help=f"of {', '.join(MODES)}")
    p.add_argument("--server-src", type=Path, default=None)
    p.add_argument("--burst", type=int, default=0, help="a traced burst of this many voters")
    p.add_argument("--databases", default="sqlite")
    p.add_argument("--workers", default="1")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--compare", type=Path, default=None,
                   help="--burst: after each burst, one served from this src folder")  # fmt: skip
    p.add_argument("--compare-postgres", default="", help="its PostgreSQL database")
    p.add_argument("--trace", type=Path, default=None, help="--burst: write every send here")
    args = p.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    if args.burst:
        _bursts(args)
        return
    with tempfile.TemporaryDirectory(prefix="viche-refusals-") as tmp:
        root = Path(tmp)
        template = ElectionTemplate.from_json(json.loads(ingest.TEMPLATE.read_text()))
        demo = prepare_demo(root / "demo", SeededRandom("bench-refusals"), HELD + 1, template)
        voters = root / "demo" / "voters"
        logins: list[tuple[str, str]] = []
        for n in range(1, HELD + 2):
            login, secret = (voters / f"{n:03d}.login").read_text().split()
            logins.append((login, secret))
        print(f"{'mode':<12} {'503s':>6} {'conns':>6} {'seconds':>7} "
              f"{'server CPU ms/503':>17} {'client CPU ms/503':>17} {'load':>5}")  # fmt: skip
        for mode in args.modes.split(","):
            expect, keep = MODES[mode]
            board = ingest._new_board(root, mode, "sqlite", "", demo)
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            proc = ingest._serve(board.data, board.url, port, 1, 0.5, None, args.server_src)
            try:
                time.sleep(1.0)
                with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                    busy, conns, client_cpu, server_cpu, seconds = runner.run(
                        _refusals(proc.pid, port, demo.election.uuid, logins, args.clients,
                                  args.sends, expect, keep)
                    )  # fmt: skip
            finally:
                proc.terminate()
                proc.wait(timeout=60)
            print(
                f"{mode:<12} {busy:>6} {conns:>6} {seconds:>7.1f} "
                f"{server_cpu * 1000 / busy:>17.3f} {client_cpu * 1000 / busy:>17.3f} "
                f"{os.getloadavg()[0]:>5.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
