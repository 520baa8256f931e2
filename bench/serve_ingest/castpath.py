"""CPU of the cast path AROUND the check, per stage, in one server process.

The ballot check (:func:`viche.verify.prefill.check_ballot_fast`, ~7 ms with the C engine)
is computed for every ballot before the clock starts and, in this process only, the cast
route is handed the pre-computed result (``_checked``: a look-up by the raw ballot; the
binding to the voter, the receipt key, the phase, replay and re-vote checks and the
append all still run). What is left is what the server spends around the check:

* **stages alone** (each on a fresh board, sequentially, CPU of this process per ballot):
  the login and phase look-up (``ballots._voter``), the append with one ballot per commit
  (``append_checked``: the worst case of the group commit), the receipt (Ed25519
  signature, answer model, JSON), one access-log line, one thread hop (``run_in_threadpool``
  of a no-op), the answer of a refused cast built as the error handler builds it;
* **the app without HTTP**: the whole cast through the ASGI app (middlewares, routing,
  FastAPI, login, hops, append, receipt, log), requests handed over in memory;
* **over HTTP** (uvicorn in a thread of this process, as ``viche serve`` runs it: uvloop,
  httptools, no uvicorn access log; the client in another process, so this process's CPU
  is the server's): sequential casts on one keep-alive connection; a burst of every voter
  at once with admission control (CPU per ACCEPTED ballot, 503s included, as the issue's
  figure counts them); and casts all refused by admission (503 + ``Connection: close`` +
  the client's reconnect): the cost of one 503.

With ``--databases postgresql`` the CPU of the PostgreSQL backends serving this process
(found by ``application_name`` in ``pg_stat_activity``, read from ``/proc``) is printed
beside the server's: the bench of ``run.py`` does not count it.

    PYTHONPATH=src .venv/bin/python bench/serve_ingest/castpath.py --ballots 400

``--only burst,real,commits`` times each group commit of the bursts (wall time: the batch
size, taking the lock with the reads, the checks and writes, the COMMIT), where a cast
waits rather than computes (the check's wall time inside the server is printed beside its
CPU: the difference is its waits for the GIL and for a core); ``--switch-interval S``
sets ``sys.setswitchinterval``.

Per-ballot figures are CPU (user + system) of this process, which survive a loaded
machine better than wall time; the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import multiprocessing
import os
import resource
import socket
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
import uvloop
from fastapi.security import HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as ingest  # the election, ballots and client of the ingest bench

from viche.crypto.hashing import sha256_hex
from viche.crypto.rng import SeededRandom
from viche.errors import ServerBusyError
from viche.protocol.ballot import CheckedBallot
from viche.protocol.election import ElectionTemplate
from viche.record.sql import SqlBoard
from viche.record.sql.board import SqlElectionStore
from viche.service.cast import append_checked
from viche.service.hosting import Host
from viche.service.receipts import Receipt
from viche.service.served_demo import prepare_demo
from viche.verify.ballots import warm_tables
from viche.verify.prefill import check_ballot_fast
from viche.web import ops
from viche.web.admission import Admission
from viche.web.app import create_app
from viche.web.errors import error_response
from viche.web.models import CastAnswer, ReceiptBody, SignedReceiptModel
from viche.web.routers import ballots as route

Ballots = list[tuple[bytes, tuple[str, str]]]


def _cpu() -> float:
    return time.process_time()


@contextmanager
def _measure(out: dict[str, float], name: str, count: int) -> Iterator[None]:
    c0 = _cpu()
    yield
    out[name] = (_cpu() - c0) * 1000 / count


# --- the check, pre-computed (this process only) ---------------------------------------

_checked: dict[bytes, CheckedBallot] = {}


def _precomputed(election: Any, raw: bytes, credentials: Any, *rest: Any) -> CheckedBallot:
    return _checked[raw]


#: ``--only slow``: the pre-computed check, answered after this many seconds (the GIL
#: released meanwhile): the latency of a check without its CPU
_SLOW = 0.005


def _slow(election: Any, raw: bytes, credentials: Any, *rest: Any) -> CheckedBallot:
    time.sleep(_SLOW)
    return _checked[raw]


_in_server: list[float] = []
#: the wall time of each check inside the server: its CPU plus its waits for the GIL (and
#: for a core)
_in_server_wall: list[float] = []


def _timed(election: Any, raw: bytes, credentials: Any, *rest: Any) -> CheckedBallot:
    """The real check, its CPU inside the server counted (this thread's CPU time) and its
    wall time."""
    t0, w0 = time.thread_time(), time.perf_counter()
    try:
        return check_ballot_fast(election, raw, credentials, *rest)
    finally:
        _in_server.append(time.thread_time() - t0)
        _in_server_wall.append(time.perf_counter() - w0)


# --- the group commit, timed (``--commits``) ---------------------------------------------


class _CommitLog:
    """Per group commit (:meth:`SqlElectionStore.casting`), wall times (``perf_counter``:
    this is about waiting, not CPU): the batch size; ``open``, from asking for the lock to
    holding it with the head and the batch's look-ups read; ``body``, the checks and the
    append's writes; ``commit``, the COMMIT (its WAL flush) and the lock's release; and the
    statements SQLAlchemy ran (the PostgreSQL pipeline's go around it: not counted)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self._local = threading.local()

    def install(self, engine: Any) -> None:
        from sqlalchemy import event

        event.listen(engine, "after_cursor_execute", self._after)

    def _after(self, *_: Any) -> None:
        row = getattr(self._local, "row", None)
        if row is not None:
            row["statements"] += 1

    @contextmanager
    def casting(self, original: Any, store: Any, *args: Any) -> Iterator[Any]:
        """``original`` timed; ``args``: the batch's hashes and credentials (an older
        ``casting()`` took none and had ``tx.look_up(hashes, credentials)``: then counted
        there, so that this bench runs on both)."""
        row = {"batch": float(len(args[0])) if args else 0.0, "statements": 0.0}
        t0 = time.perf_counter()
        self._local.row = row
        try:
            with original(store, *args) as tx:
                t1 = time.perf_counter()
                if not args:
                    look_up = tx.look_up

                    def counted(hashes: Any, credentials: Any) -> Any:
                        row["batch"] = len(hashes)
                        return look_up(hashes, credentials)

                    tx.look_up = counted
                yield tx
                t2 = time.perf_counter()
            t3 = time.perf_counter()
            row.update(open=t1 - t0, body=t2 - t1, commit=t3 - t2, total=t3 - t0)
            self.rows.append(row)
        finally:
            self._local.row = None

    def report(self) -> str:
        rows = self.rows
        if not rows:
            return "(no group commit)"
        n = len(rows)
        ballots = sum(r["batch"] for r in rows)

        def ms(key: str) -> float:
            return sum(r[key] for r in rows) * 1000 / n

        big = sorted(r["batch"] for r in rows)
        return (
            f"{n} group commits, {ballots:.0f} ballots: batch mean {ballots / n:.2f}, "
            f"median {big[n // 2]:.0f}, max {big[-1]:.0f}; per commit (wall ms): total "
            f"{ms('total'):.2f} = open (lock + reads) {ms('open'):.2f} + checks and writes "
            f"{ms('body'):.2f} + COMMIT {ms('commit'):.2f}; "
            f"{sum(r['statements'] for r in rows) / n:.1f} statements through SQLAlchemy"
        )


_commits = _CommitLog()


# --- the client (another process) -------------------------------------------------------


async def _sequential(port: int, requests: list[bytes]) -> list[int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    statuses = []
    for req in requests:
        writer.write(req)
        answer = await ingest._read_answer(reader)
        statuses.append(answer.status)
        if answer.headers.get("connection", "").lower() == "close":
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    return statuses


def _client(port: int, uuid: str, ballots: Ballots, mode: str, queue: Any) -> None:
    """Runs in a spawned process: fire the casts, put the statuses (or burst counts)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        if mode == "burst":
            fired = runner.run(ingest._fire(port, uuid, ballots, None))
            queue.put({"accepted": len(fired.latencies), "busy": fired.busy})
        else:
            requests = [ingest._request(port, uuid, raw, auth) for raw, auth in ballots]
            statuses = runner.run(_sequential(port, requests))
            queue.put({"statuses": statuses})


def _over_http(app: Any, uuid: str, ballots: Ballots, mode: str) -> tuple[float, dict[str, Any]]:
    """Serve ``app`` with uvicorn in a thread of this process (``viche serve``'s settings),
    fire from another process; (CPU seconds of this process meanwhile, the client's
    report)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        loop="uvloop", http="httptools", lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_client, args=(port, uuid, ballots, mode, queue))
    proc.start()
    time.sleep(0.0)
    # the client's start (imports, encoding the requests) is in the other process; this
    # process only waits meanwhile, so its CPU is the server's
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    c0 = _cpu()
    report = queue.get(timeout=1800)
    cpu = _cpu() - c0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    report["system"] = r1.ru_stime - r0.ru_stime
    report["switches"] = (r1.ru_nvcsw - r0.ru_nvcsw) + (r1.ru_nivcsw - r0.ru_nivcsw)
    proc.join(timeout=60)
    server.should_exit = True
    thread.join(timeout=60)
    return cpu, report


# --- the app without HTTP ---------------------------------------------------------------


async def _asgi_casts(app: Any, uuid: str, ballots: Ballots) -> list[int]:
    statuses: list[int] = []
    for raw, (login, secret) in ballots:
        basic = base64.b64encode(f"{login}:{secret}".encode())
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": f"/api/v1/elections/{uuid}/ballots",
            "raw_path": f"/api/v1/elections/{uuid}/ballots".encode(), "query_string": b"",
            "root_path": "", "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000),
            "headers": [
                (b"host", b"127.0.0.1:8000"), (b"authorization", b"Basic " + basic),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
            ],
        }  # fmt: skip
        sent = False

        async def receive(raw: bytes = raw) -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        status = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        statuses.append(status)
    return statuses


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The app's lifespan (warm-up, schedules task) as uvicorn runs it: started on entry,
    shut down on exit (also for bench/serve_ingest/workercpu.py)."""
    started, stop = asyncio.Event(), asyncio.Event()
    messages = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await stop.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    life = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    await started.wait()
    try:
        yield
    finally:
        stop.set()
        await life


def _run_asgi(app: Any, uuid: str, ballots: Ballots) -> list[int]:
    async def go() -> list[int]:
        async with lifespan(app):
            return await _asgi_casts(app, uuid, ballots)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(go())


# --- the stages alone -------------------------------------------------------------------


def _stages(board_url: str, keys: Path, uuid: str, ballots: Ballots) -> dict[str, float]:
    out: dict[str, float] = {}
    n = len(ballots)
    sql = SqlBoard.open(board_url)
    h = Host(sql, keys)
    h.record(uuid)
    h.receipt_key(uuid)
    creds = [HTTPBasicCredentials(username=a[0], password=a[1]) for _, a in ballots]
    with _measure(out, "login + phase look-up (_voter)", n):
        accounts = [route._voter(h, uuid, c)[1] for c in creds]
    with _measure(out, "binding + receipt key (_check minus the check)", n):
        checked = [route._check(h, uuid, raw, acc) for (raw, _), acc in
                   zip(ballots, accounts, strict=True)]  # fmt: skip
    rec = h.record(uuid)
    with _measure(out, "append, one ballot per commit (append_checked)", n):
        accepted = [append_checked(rec, c, guard=h.guards.get(uuid)) for c in checked]
    key = h.receipt_key(uuid)
    receipts = []
    with _measure(out, "receipt: Receipt + Ed25519 signature", n):
        for c, a in zip(checked, accepted, strict=True):
            r = Receipt(
                election=uuid, tracker=a.tracker, ballot_hash=sha256_hex(c.raw),
                height=a.height, event_hash=a.event_hash,
                time=datetime.now(UTC).isoformat(timespec="seconds"), key=key.public,
            )  # fmt: skip
            receipts.append((r, key.sign(r)))
    with _measure(out, "answer: CastAnswer model + JSON", n):
        for (r, s), a in zip(receipts, accepted, strict=True):
            CastAnswer(
                tracker=a.tracker, height=a.height, event_hash=a.event_hash, revote=a.revote,
                receipt=SignedReceiptModel(receipt=ReceiptBody(**r.to_json()),
                                           signature=s.signature),
            ).model_dump_json()  # fmt: skip
    line = {"time": 0.0, "method": "POST", "route": "/api/v1/elections/{uuid}/ballots",
            "status": 201, "ms": 12.34, "client": "127.0.0.1"}  # fmt: skip
    with _measure(out, "access log line (format + write)", n):
        for _ in range(n):
            line["time"] = round(time.time(), 3)
            ops.access_log.info(json.dumps(line, separators=(",", ":")))

    async def hops() -> None:
        for _ in range(n):
            await run_in_threadpool(int)

    with (
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
        _measure(out, "one thread hop (run_in_threadpool)", n),
    ):
        runner.run(hops())
    with _measure(out, "503 answer built (error + response)", n):
        for _ in range(n):
            error_response(ServerBusyError("busy", retry_after_ms=1000))
    return out  # the board stays open: its PostgreSQL backends are counted after


def _burst_note(rep: dict[str, Any]) -> str:
    per = max(1, rep["accepted"])
    return (
        f"accepted {rep['accepted']}, 503s {rep['busy']}; system CPU "
        f"{rep['system'] * 1000 / per:.2f} ms and {rep['switches'] / per:.0f} context "
        "switches per accepted ballot"
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--ballots", type=int, default=400)
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument(
        "--only",
        default="",
        help="comma-separated: stages,asgi,http,burst,503,real,slow,commits (default: all but "
        "slow and commits; commits: time each group commit of the bursts)",
    )
    p.add_argument("--switch-interval", type=float, default=None,
                   help="sys.setswitchinterval of this process (Python: 0.005 s)")  # fmt: skip
    args = p.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    only = set(filter(None, args.only.split(","))) or {
        "stages",
        "asgi",
        "http",
        "burst",
        "503",
        "real",
    }
    # the access log goes where viche serve sends it (standard error), here to a file
    fd, log_name = tempfile.mkstemp(prefix="viche-castpath-", suffix=".log")
    handler = logging.StreamHandler(os.fdopen(fd, "w"))
    handler.setFormatter(logging.Formatter("%(message)s"))
    ops.access_log.addHandler(handler)
    ops.access_log.setLevel(logging.INFO)
    ops.access_log.propagate = False
    print(f"load average at the start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")

    with tempfile.TemporaryDirectory(prefix="viche-castpath-") as tmp:
        root = Path(tmp)
        template = ElectionTemplate.from_json(json.loads(ingest.TEMPLATE.read_text()))
        demo = prepare_demo(root / "demo", SeededRandom("bench-castpath"), args.ballots, template)
        voters = root / "demo" / "voters"
        n = args.ballots
        creds = [(voters / f"{k:03d}.cred").read_text().strip() for k in range(1, n + 1)]
        logins = [tuple((voters / f"{k:03d}.login").read_text().split()) for k in range(1, n + 1)]
        with ProcessPoolExecutor() as pool:
            raws = list(pool.map(ingest._make, [(demo, creds[k], k) for k in range(n)],
                                 chunksize=8))  # fmt: skip
        ballots: Ballots = [(raw, (lg[0], lg[1])) for raw, lg in zip(raws, logins, strict=True)]
        uuid = demo.election.uuid
        warm_tables(demo.election)
        c0 = _cpu()
        for raw in raws:
            _checked[raw] = check_ballot_fast(demo.election, raw, demo.credentials)
        check_ms = (_cpu() - c0) * 1000 / n
        print(f"{n} ballots; the check alone (pre-computed now): {check_ms:.2f} ms CPU per ballot")
        # the same checks two at a time (two threads, as a worker runs them on two cores):
        # what running in parallel does to the check's own CPU on this machine
        c0 = _cpu()
        with ThreadPoolExecutor(2) as threads:
            list(threads.map(lambda raw: check_ballot_fast(demo.election, raw, demo.credentials),
                             raws))  # fmt: skip
        pair_ms = (_cpu() - c0) * 1000 / n
        print(f"the check, two threads at once: {pair_ms:.2f} ms CPU per ballot")
        route.check_ballot_fast = _precomputed  # type: ignore[assignment]
        if "commits" in only:
            original = SqlElectionStore.casting
            SqlElectionStore.casting = (  # type: ignore[method-assign]
                lambda store, *args: _commits.casting(original, store, *args)
            )

        for db in args.databases.split(","):
            rows: dict[str, float] = {}
            notes: dict[str, str] = {}

            def board(name: str, db: str = db) -> ingest.Board:
                return ingest._new_board(root, f"{db}-{name}", db, args.postgres, demo)

            def pg_cpu(
                step: Callable[[], Any], name: str, b: ingest.Board,
                rows: dict[str, float] = rows,
            ) -> Any:  # fmt: skip
                """``step``'s result; the CPU of the PostgreSQL backends serving board
                ``b`` meanwhile (named by its schema) goes into ``rows``."""
                if b.schema is None:
                    return step()
                watch = ingest.BackendWatch(args.postgres, b.schema)
                watch.start()
                result = step()
                spent, _ = watch.stop()
                rows[f"  PostgreSQL backends during: {name}"] = spent * 1000 / n
                return result

            made: list[ingest.Board] = []
            if "stages" in only:
                b = board("stages")
                made.append(b)
                rows.update(pg_cpu(lambda b=b: _stages(b.url, b.data / "keys", uuid, ballots),
                                   "stages", b))  # fmt: skip

            def app_for(b: ingest.Board, admission: Admission) -> Any:
                sql = SqlBoard.open(b.url)
                if "commits" in only:
                    _commits.install(sql.engine)
                return create_app(Host(sql, b.data / "keys"), ops.OpsConfig.unlimited(),
                                  admission=admission)  # fmt: skip

            if "asgi" in only:
                b = board("asgi")
                made.append(b)
                app = app_for(b, Admission(target=0))
                c0 = _cpu()
                statuses = pg_cpu(lambda app=app: _run_asgi(app, uuid, ballots), "asgi", b)
                rows["whole cast through the ASGI app, no HTTP (sequential)"] = (
                    (_cpu() - c0) * 1000 / n
                )
                notes["asgi"] = f"statuses {sorted(set(statuses))}"
            if "http" in only:
                b = board("http")
                made.append(b)
                app = app_for(b, Admission(target=0))
                cpu, rep = pg_cpu(lambda app=app: _over_http(app, uuid, ballots, "seq"), "http", b)
                rows["whole cast over HTTP, keep-alive, sequential"] = cpu * 1000 / n
                notes["http"] = f"statuses {sorted(set(rep['statuses']))}"
            if "burst" in only:
                b = board("burst")
                made.append(b)
                app = app_for(b, Admission(target=0.5))
                cpu, rep = pg_cpu(lambda app=app: _over_http(app, uuid, ballots, "burst"),
                                  "burst", b)  # fmt: skip
                rows["burst of all at once, admission 0.5 s: per ACCEPTED ballot"] = (
                    cpu * 1000 / max(1, rep["accepted"])
                )
                notes["burst"] = _burst_note(rep)
                if "commits" in only:
                    notes["burst commits"] = _commits.report()
                    _commits.rows.clear()
            if "503" in only:
                b = board("refused")
                made.append(b)
                app = app_for(b, Admission(target=0.5, floor=0))  # every cast refused
                cpu, rep = _over_http(app, uuid, ballots, "seq")
                rows["one 503 (admission refusal, Connection: close, reconnect)"] = cpu * 1000 / n
                notes["503"] = f"statuses {sorted(set(rep['statuses']))}"
            if "real" in only:
                b = board("real")
                made.append(b)
                app = app_for(b, Admission(target=0.5))
                route.check_ballot_fast = _timed  # the real check, this once
                _in_server.clear()
                _in_server_wall.clear()
                try:
                    cpu, rep = pg_cpu(lambda app=app: _over_http(app, uuid, ballots, "burst"),
                                      "real", b)  # fmt: skip
                finally:
                    route.check_ballot_fast = _precomputed  # type: ignore[assignment]
                per = cpu * 1000 / max(1, rep["accepted"])
                rows["burst with the REAL check: per ACCEPTED ballot"] = per
                rows["  the same minus the check alone"] = per - check_ms
                rows["  the same minus the check two at once"] = per - pair_ms
                inside = sum(_in_server) * 1000 / max(1, len(_in_server))
                rows["  the check's own CPU inside the server (thread time)"] = inside
                rows["  the same minus the check's CPU inside the server"] = per - inside
                rows["  the check's wall time inside the server (not CPU)"] = (
                    sum(_in_server_wall) * 1000 / max(1, len(_in_server_wall))
                )
                notes["real"] = _burst_note(rep)
                if "commits" in only:
                    notes["real commits"] = _commits.report()
                    _commits.rows.clear()
            if "slow" in only:
                b = board("slow")
                made.append(b)
                app = app_for(b, Admission(target=0.5))
                route.check_ballot_fast = _slow  # type: ignore[assignment]
                try:
                    cpu, rep = _over_http(app, uuid, ballots, "burst", b)
                finally:
                    route.check_ballot_fast = _precomputed  # type: ignore[assignment]
                rows[f"burst, check pre-computed but {_SLOW * 1000:.0f} ms long: per ACCEPTED"] = (
                    cpu * 1000 / max(1, rep["accepted"])
                )
                notes["slow"] = _burst_note(rep)
            print(f"\n{db}: CPU of this process per ballot, ms (load {os.getloadavg()[0]:.1f})")
            for name, ms in rows.items():
                print(f"  {name:<66} {ms:7.3f}")
            for name, note in notes.items():
                print(f"  ({name}: {note})")
            for made_board in made:
                ingest._drop(made_board, args.postgres)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    os.unlink(log_name)


if __name__ == "__main__":
    main()
