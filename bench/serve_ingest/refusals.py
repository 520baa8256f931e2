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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sys
import tempfile
import time
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


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--sends", type=int, default=25, help="sends of each client")
    p.add_argument("--modes", default=",".join(MODES), help=f"of {', '.join(MODES)}")
    p.add_argument("--server-src", type=Path, default=None)
    args = p.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
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
