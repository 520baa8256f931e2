"""The worker's CPU per request of the per-request middlewares of ``viche serve``: the
security headers (``app._SecurityHeaders``) around the access log, rate limits and CORS
(``ops._Operations``), driven in-process on uvloop around an app that answers at once.

Each request is a cast as the ingest bench sends it (``POST …/ballots``, HTTP Basic,
``Expect: 100-continue``, JSON), answered 201 (as an accepted cast) or 503 (as the
admission's refusal: same path). Printed: the process's CPU (``time.process_time``: the
log's writer thread included, its lines flushed before the clock stops) per request of the
middlewares and the bare app, and their difference, the median of ``--rounds`` rounds
(bare and middlewares alternated). The log goes to a file, as ``run.py``'s server's. Rate
limits ``off`` as in the bench (``VICHE_RATE_LIMITS=off``) or ``on`` (limits too high to
refuse, their tables in a shared file, as ``viche serve`` has them). Runs against whichever
``src`` is first on ``PYTHONPATH`` (before/after: the same script on two trees); under
``flock /work/wt/bench.lock``.

    PYTHONPATH=src .venv/bin/python bench/serve_ingest/middlewares.py
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from viche.web.app import _SecurityHeaders
from viche.web.ops import Rate, RateLimiter, _Operations, configure_logs

UUID = "Xb2fT6Y8kHqzLm4nPw9sRc"
BODY = b'{"type":"application/json"}'


def _scope(n: int) -> dict[str, Any]:
    auth = base64.b64encode(f"voter{n % 1000:04d}:s3cr3t-login-secret".encode()).decode()
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/api/v1/elections/{UUID}/ballots",
        "raw_path": f"/api/v1/elections/{UUID}/ballots".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", b"17312"),
            (b"expect", b"100-continue"),
            (b"authorization", f"Basic {auth}".encode()),
        ],
        "client": ("127.0.0.1", 40000 + n % 20000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def _bare(status: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(BODY)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": BODY})

    return app


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    pass


async def _drive(app: Any, n: int, flush: Any) -> float:
    start = time.process_time()
    for i in range(n):
        await app(_scope(i), _receive, _send)
    if flush is not None:
        flush()
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--status", type=int, default=201)
    parser.add_argument("--limits", choices=("off", "on"), default="off")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="middlewares-"))
    log = (folder / "serve.log").open("w")
    writer = configure_logs(log)  # None before alog7 (the lines were written at once)
    flush = getattr(writer, "flush", None)
    limits: dict[str, RateLimiter | None] = {"by_address": None, "by_voter": None}
    if args.limits == "on":
        huge = Rate(per_second=1e9, burst=10**9)
        limits = {
            "by_address": RateLimiter(huge, 100_000, path=folder / "ratelimit-address.bin"),
            "by_voter": RateLimiter(huge, 100_000, path=folder / "ratelimit-voter.bin"),
        }
    bare = _bare(args.status)
    stack = _SecurityHeaders(_Operations(bare, origins=frozenset(), **limits))
    uvloop.install()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_drive(stack, 2000, flush))  # warm-up
    loop.run_until_complete(_drive(bare, 2000, None))
    bares, stacks = [], []
    for _ in range(args.rounds):
        bares.append(loop.run_until_complete(_drive(bare, args.requests, None)))
        stacks.append(loop.run_until_complete(_drive(stack, args.requests, flush)))
    loop.close()
    log.close()
    lines = (folder / "serve.log").read_text().count("\n")
    b, s = statistics.median(bares), statistics.median(stacks)
    print(
        f"status {args.status}, limits {args.limits}, {args.rounds} rounds of "
        f"{args.requests}: middlewares {s:.2f} µs/request (rounds {min(stacks):.2f}-"
        f"{max(stacks):.2f}), bare app {b:.2f}, the middlewares' own {s - b:.2f} µs; "
        f"{lines} log lines; load {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
