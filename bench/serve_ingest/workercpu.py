"""CPU of a ``viche serve`` worker per accepted cast, its check processes excluded.

The app of a worker (``create_app`` with a :class:`~viche.web.checkpool.CheckPool` of two
processes, admission control, the access log to a file, no rate limits: as ``run.py``
serves it) is driven in memory on uvloop: rounds of ``--concurrency`` casts at once
(``asyncio.gather`` of ASGI calls with real ballots, each voter her own login), after
``--warm`` rounds. Every check runs (in the check processes), the group commit, the
receipt, the metrics. Per accepted cast: the CPU of this process only
(``getrusage(RUSAGE_SELF)``: the check processes are other processes), its voluntary
context switches, and the wall time of the rounds. HTTP parsing and the sockets are not
in it (uvicorn's, the same for every request): ``run.py`` measures the whole.

    PYTHONPATH=src .venv/bin/python bench/serve_ingest/workercpu.py --voters 400

``--profile FILE`` writes a cProfile of the event loop's thread over the measured rounds
(the login's thread and the commit's thread are not in it; their CPU is in the totals).
``--repeat N`` measures N times on fresh boards and prints each.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import logging
import os
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as ingest  # the election, ballots and boards of the ingest bench
from castpath import lifespan  # the app's lifespan as uvicorn runs it

from viche.crypto.rng import SeededRandom
from viche.protocol.election import ElectionTemplate
from viche.record.sql import SqlBoard
from viche.service.hosting import Host
from viche.service.served_demo import prepare_demo
from viche.web import ops
from viche.web.admission import Admission
from viche.web.app import create_app
from viche.web.checkpool import CheckPool

Ballots = list[tuple[bytes, tuple[str, str]]]


def _scope(uuid: str, raw: bytes, login: str, secret: str) -> dict[str, Any]:
    basic = base64.b64encode(f"{login}:{secret}".encode())
    path = f"/api/v1/elections/{uuid}/ballots"
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"127.0.0.1:8000"), (b"authorization", b"Basic " + basic),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ],
    }  # fmt: skip


async def _cast(app: Any, uuid: str, raw: bytes, login: str, secret: str) -> int:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # a client that keeps its connection
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(uuid, raw, login, secret), receive, send)
    return status


def _threads() -> dict[str, float]:
    """CPU seconds of this process's threads by kind (the event loop's, the login's hop
    threads, the group commit's), from ``/proc``."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:  # nanoseconds on a CPU (schedstat: exact, not sampled at each tick)
            ns = int((task / "schedstat").read_text().split()[0])
        except OSError:
            continue
        name = names.get(int(task.name), "other")
        kind = (
            "loop" if name == "MainThread"
            else "login" if name.startswith(("AnyIO", "viche-login"))
            else "commit (default executor)" if name.startswith("uvloop")
            else "other"
        )  # fmt: skip
        out[kind] = out.get(kind, 0.0) + ns / 1e9
    return out


def _usage() -> tuple[float, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_nvcsw


async def _drive(
    app: Any, uuid: str, ballots: Ballots, concurrency: int, warm: int,
    profile: cProfile.Profile | None,
) -> dict[str, float]:  # fmt: skip
    rounds = [ballots[k : k + concurrency] for k in range(0, len(ballots), concurrency)]
    statuses: list[int] = []
    async with lifespan(app):
        for batch in rounds[:warm]:
            await asyncio.gather(*(_cast(app, uuid, r, lg, s) for r, (lg, s) in batch))
        cpu0, sw0 = _usage()
        threads0 = _threads()
        t0 = time.perf_counter()
        if profile is not None:
            profile.enable()
        for batch in rounds[warm:]:
            statuses += await asyncio.gather(*(_cast(app, uuid, r, lg, s) for r, (lg, s) in batch))
        if profile is not None:
            profile.disable()
        wall = time.perf_counter() - t0
        cpu1, sw1 = _usage()
        threads1 = _threads()
    accepted = statuses.count(201)
    if accepted != len(statuses):
        raise SystemExit(f"not all accepted: {sorted(set(statuses))}")
    parts = {
        f"  {kind}": (spent - threads0.get(kind, 0.0)) * 1000 / accepted
        for kind, spent in sorted(threads1.items())
    }
    return parts | {
        "cpu_ms": (cpu1 - cpu0) * 1000 / accepted,
        "switches": (sw1 - sw0) / accepted,
        "wall_ms": wall * 1000 / accepted,
        "casts": accepted,
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--voters", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--warm", type=int, default=3, help="rounds not measured")
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--profile", type=Path, default=None)
    args = p.parse_args()

    fd, log_name = tempfile.mkstemp(prefix="viche-workercpu-", suffix=".log")
    handler = logging.StreamHandler(os.fdopen(fd, "w"))
    handler.setFormatter(logging.Formatter("%(message)s"))
    ops.access_log.addHandler(handler)
    ops.access_log.setLevel(logging.INFO)
    ops.access_log.propagate = False
    print(f"load average at the start: {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="viche-workercpu-") as tmp:
        root = Path(tmp)
        template = ElectionTemplate.from_json(json.loads(ingest.TEMPLATE.read_text()))
        n = args.voters
        demo = prepare_demo(root / "demo", SeededRandom("bench-workercpu"), n, template)
        voters = root / "demo" / "voters"
        creds = [(voters / f"{k:03d}.cred").read_text().strip() for k in range(1, n + 1)]
        logins = [tuple((voters / f"{k:03d}.login").read_text().split()) for k in range(1, n + 1)]
        with ProcessPoolExecutor(2) as pool:
            raws = list(pool.map(ingest._make, [(demo, creds[k], k) for k in range(n)],
                                 chunksize=8))  # fmt: skip
        ballots: Ballots = [(raw, (lg[0], lg[1])) for raw, lg in zip(raws, logins, strict=True)]
        uuid = demo.election.uuid
        profile = cProfile.Profile(time.thread_time) if args.profile is not None else None
        for rep in range(args.repeat):
            for db in args.databases.split(","):
                b = ingest._new_board(root, f"{db}-{rep}", db, args.postgres, demo)
                try:
                    sql = SqlBoard.open(b.url)
                    app = create_app(
                        Host(sql, b.data / "keys"), ops.OpsConfig.unlimited(),
                        admission=Admission(target=0), checks=CheckPool(2), freeze_heap=True,
                    )  # fmt: skip
                    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                        out = runner.run(
                            _drive(app, uuid, ballots, args.concurrency, args.warm, profile)
                        )
                    sql.close()
                finally:
                    ingest._drop(b, args.postgres)
                print(
                    f"{db:10s} worker CPU {out['cpu_ms']:.3f} ms per accepted cast, "
                    f"{out['switches']:.1f} voluntary switches, wall {out['wall_ms']:.2f} ms "
                    f"({out['casts']:.0f} casts, {args.concurrency} at once; "
                    f"load {os.getloadavg()[0]:.1f}, "
                    f"{time.strftime('%H:%M:%S', time.gmtime())} UTC)",
                    flush=True,
                )
                print(", ".join(f"{k.strip()} {v:.2f}" for k, v in out.items() if k[0] == " "))
        if profile is not None:
            profile.dump_stats(str(args.profile))
    os.unlink(log_name)


if __name__ == "__main__":
    main()
