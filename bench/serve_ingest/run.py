"""Ballot ingest of ``viche serve``: ballots/s with every check, and latency with 1,000
concurrent voters over loopback, beside belenios-tool checking the same ballots.

One election of the harness's ``simple`` template (``../shared/peers/belenios/templates``;
BELENIOS-2048, 2 questions, 9 ciphertexts per ballot) with ``--voters`` voters is prepared
once; each voter gets one ballot, made beforehand by the client side, and her own login.
For each database (SQLite in a data folder; PostgreSQL in a fresh schema of ``--postgres``)
and each worker count (``viche serve --workers N``), on a fresh board:

* **burst**: every voter posts her ballot at the same moment, each over her own connection
  (plain HTTP/1.1 from an asyncio protocol on uvloop, requests encoded beforehand, ``Expect:
  100-continue`` unless ``--no-expect``: the client shares the two cores with the server
  and should cost little). ballots/s = voters / time from
  the first send to the last answer. A worker takes as many ballots at once as it answers
  within ``--cast-wait`` seconds (admission control, :mod:`viche.web.admission`); the
  others are told "503, retry after N ms" (V9016, ``retry_after_ms``) and come back after
  N ms and up to a fifth more at random, as ``viche vote`` and the booth do.
  ``p50``/``p99``: latency of the accepted requests (the request that got the receipt),
  from the write of its head to its answer read whole, both taken in the client's protocol
  callbacks (not the ~150 ms its loop takes to start a thousand connects, nor its tasks'
  wake-ups); ``voter p50``/``voter p99``: from the voter's first write to her receipt,
  waits included;
  ``503s``: answers "retry after"; ``told``: voters told at least once; ``conns``: the
  connections the voters opened (one per send; ``--keep-connections``: each voter keeps
  hers for her retries, as a browser does, unless the server closes it). With
  ``--cast-wait 0`` nobody is told to retry and the burst is one queue (the last voter
  waits for all those before her).
* **paced**: a fresh board, the same voters arriving at random (Poisson) at ``--pace`` times
  the burst's ballots/s, each over her own connection: the latency a voter sees when the
  server is loaded but not over its capacity.

Every ballot runs every check of add-ballot (size, canonical form, election, credential on
the list and bound to the logged-in voter, group membership, signature, proofs, phase,
replay) and is answered only after its event is durable (SQLite WAL ``synchronous=FULL``;
PostgreSQL's commit). Printed as well: the CPU time the server's processes spent per ballot
(the figure that does not depend on how busy the machine is), with PostgreSQL the CPU of its
backends serving the server (``PG CPU ms/b``, found by ``application_name``), the CPU
time of the check alone in this process (:func:`viche.verify.prefill.check_ballot_fast`), and
``belenios-tool election verify`` on the board's ``.bel`` archive with those ballots (its
CPU per ballot over the setup-only archive's), with the ratios. The archive passing
belenios-tool's verify is also the byte-compatibility check of the served record.

    .venv/bin/python bench/serve_ingest/run.py --voters 1000 --workers 1,2

Results (2026-12-03, the 2-core machine shared with other engineers; load in the output)
are in ``bench/serve_ingest/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy
import uvloop

from viche.crypto.fastexp import engine as fastexp_engine
from viche.crypto.rng import SeededRandom
from viche.protocol.election import ElectionTemplate
from viche.record.sql import SqlBoard, engine_url
from viche.service.ballot import generate_ballot
from viche.service.election_run import random_choices
from viche.service.hosting import open_election
from viche.service.served_demo import PreparedDemo, prepare_demo
from viche.verify.ballots import warm_tables
from viche.verify.prefill import check_ballot_fast
from viche.web.client import busy_wait, jittered

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))
TEMPLATE = SHARED / "peers" / "belenios" / "templates" / "simple.json"


def _make(args: tuple[PreparedDemo, str, int]) -> bytes:
    demo, cred, seed = args
    rng = SeededRandom(f"bench|{seed}")
    e = demo.election
    return generate_ballot(e, demo.credentials, cred, random_choices(e, rng), rng).raw


def _serve(
    data: Path, url: str, port: int, workers: int, cast_wait: float, cpus: str | None = None,
    src: Path | None = None,
) -> subprocess.Popen[bytes]:  # fmt: skip
    # the clients all come from 127.0.0.1: no rate limits for the measure
    env = {**os.environ, "PYTHONPATH": str(src or REPO / "src"), "VICHE_RATE_LIMITS": "off"}
    # its log goes to a file: a pipe nobody reads fills after ~500 access-log lines and
    # then blocks the server's logging (and every request) for good
    log = (data / "serve.log").open("wb")
    # ``cpus``: the server (its workers inherit it) pinned to these cores with taskset
    pin = [] if cpus is None else ["taskset", "--cpu-list", cpus]
    proc = subprocess.Popen(
        [*pin, sys.executable, "-m", "viche.cli.main", "serve", "--data", str(data), "--database",
         url, "--port", str(port), "--workers", str(workers), "--cast-wait", str(cast_wait)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    log.close()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"viche serve exited: {(data / 'serve.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                _settle(proc.pid, deadline)
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("viche serve did not start")


def _settle(pid: int, deadline: float) -> None:
    """Wait until the server's processes have been idle for two polls in a row (less than a
    tenth of a core each): ``/health`` answers as soon as one worker is up, and another one
    still starting (its imports, its check processes) takes no connection meanwhile, so a
    burst met one worker alone (traced: a second worker's first cast 2.6 s into a burst at
    load 4.6; bench/serve_ingest/README.md, gap7)."""
    last, _ = _tree_cpu(pid)
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        now, _ = _tree_cpu(pid)
        quiet = quiet + 1 if now - last < 0.02 else 0
        last = now


def _tree_cpu(root: int) -> tuple[float, float]:
    """CPU seconds (user + system) used so far by process ``root`` and its descendants, and
    of those the check processes' (``viche serve``'s workers start them from a
    multiprocessing fork server: the fork server's descendants)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    servers: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
        if b"multiprocessing.forkserver" in cmdline:
            servers.add(int(entry.name))
    members = {root}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in stats.items():
            if ppid in members and pid not in members:
                members.add(pid)
                changed = True
    # forked children keep the fork server's command line: theirs is the server's parent's
    checks = {pid for pid in members if pid in servers and stats[pid][0] in servers}
    total = sum(stats.get(pid, (0, 0.0))[1] for pid in members)
    return total, sum(stats[pid][1] for pid in checks)


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of process ``pid`` so far, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackendWatch(threading.Thread):
    """The CPU of the PostgreSQL backends whose ``application_name`` is ``app_name`` (read
    from ``/proc``: the server runs on this machine), sampled every ``every`` seconds while
    a run lasts: a backend that exits before the end (the pool's overflow connections are
    closed when given back) still counts, up to its last sample. :meth:`stop` returns the
    CPU seconds spent meanwhile and how many backends served."""

    def __init__(self, admin_url: str, app_name: str, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self._engine = sqlalchemy.create_engine(engine_url(admin_url))
        self._name, self._every = app_name, every
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._done = threading.Event()
        self._sample(first=True)

    def _sample(self, first: bool = False) -> None:
        with self._engine.connect() as conn:
            pids = [
                int(r[0])
                for r in conn.execute(
                    sqlalchemy.text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                    {"n": self._name},
                )
            ]
        for pid in pids:
            cpu = _proc_cpu(pid)
            if cpu is None:
                continue
            if first:
                self._start[pid] = cpu
            self._last[pid] = cpu

    def run(self) -> None:
        while not self._done.wait(self._every):
            self._sample()

    def stop(self) -> tuple[float, int]:
        self._done.set()
        self.join()
        self._sample()
        self._engine.dispose()
        cpu = sum(last - self._start.get(pid, 0.0) for pid, last in self._last.items())
        return cpu, len(self._last)


@dataclass(frozen=True)
class Fired:
    seconds: float  # first send to last answer
    latencies: list[float]  # of the requests that were accepted (201), each alone
    voters: list[float]  # of each accepted voter: first send to 201, waits included
    refused: int
    busy: int  # answers "full, retry after" (503 V9016)
    told: int  # voters told at least once to retry
    client_cpu: float  # CPU seconds of this (client) process meanwhile
    #: of each accepted request: (its send, seconds after the first send; the voter's sends
    #: before it) — where the slow ones fall in the burst
    when: list[tuple[float, int]]
    connections: int  # opened by the voters (a new one when the server closed hers)

    @staticmethod
    def _pct(values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        lat = sorted(values)
        return lat[min(len(lat) - 1, int(len(lat) * q))] * 1000

    def pct(self, q: float) -> float:
        return self._pct(self.latencies, q)

    def voter_pct(self, q: float) -> float:
        return self._pct(self.voters, q)

    def slow(self, over: float) -> str:
        """The accepted requests slower than ``over`` seconds: how many, and when each
        was sent (seconds after the first send; ``+N``: the voter's N sends before)."""
        pairs = zip(self.latencies, self.when, strict=True)
        late = sorted(w for lat, w in pairs if lat > over)
        if not late:
            return ""
        sent = " ".join(f"{t:.2f}" + (f"+{n}" if n else "") for t, n in late[:16])
        more = " …" if len(late) > 16 else ""
        return f"  accepted in over {over:g} s: {len(late)}, sent at {sent}{more}"


class _Answer:
    """One HTTP/1.1 answer: status, headers (lower-case names), body; ``sent``/``read``:
    when (``perf_counter``) the request's head was written and the answer read whole."""

    __slots__ = ("body", "headers", "read", "sent", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body
        self.sent = self.read = 0.0


async def _read_answer(reader: asyncio.StreamReader) -> _Answer:
    """Read one answer (``Content-Length`` bodies: what ``viche serve`` sends)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return _Answer(status, headers, body)


def _request(
    port: int, uuid: str, raw: bytes, auth: tuple[str, str], expect: bool = False
) -> bytes:
    """The whole cast request, encoded once before the clock starts (``expect``: its head
    asks ``Expect: 100-continue``; the body follows it, sent once the server says so)."""
    basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    ask = "Expect: 100-continue\r\n" if expect else ""
    return (
        f"POST /api/v1/elections/{uuid}/ballots HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Basic {basic}\r\nContent-Type: application/json\r\n{ask}"
        f"Content-Length: {len(raw)}\r\n\r\n"
    ).encode() + raw


class _Connection(asyncio.Protocol):
    """A voter's connection, kept for her next sends as a browser keeps its own (and
    ``viche vote``'s httpx): her requests one at a time over it (:meth:`ask`), as few
    Python steps as the loop allows. The first is written from ``connection_made`` (no
    task wake-up between the connect and the write), each answer parsed from
    ``data_received`` once whole. With ``Expect: 100-continue`` in the head, the body is
    written only when ``100 Continue`` comes; a final answer instead (the server refused
    before reading) is the answer, and the body is sent after it all the same, skipped by
    the server: the head's ``Content-Length`` announced it, and a connection kept must
    carry it (else it is closed, and the retry costs both sides a new connection). After an
    answer with ``Connection: close`` the connection is closed (:attr:`usable` false). A
    request ends ``done`` with its answer, or with the error that closed the connection.
    The answer's times are taken in the callbacks: the latency counts from the write of
    the request (the TCP handshake is the kernel's on both sides: before it, the time is
    only the client's own loop starting a thousand connects, ~150 ms in a burst) to the
    answer read whole, not to when the client's task resumes."""

    def __init__(self, head: bytes, body: bytes, done: asyncio.Future[_Answer]) -> None:
        self.head, self.body, self.done = head, body, done
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiting = False  # for 100 Continue: the body not sent yet
        self.sent = 0.0
        self.usable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses (but have its methods)
        self.transport = typing.cast(asyncio.Transport, transport)
        self.ask(self.head, self.body, self.done)

    def ask(self, head: bytes, body: bytes, done: asyncio.Future[_Answer]) -> None:
        """Send the next request over this connection (the last one answered)."""
        assert self.transport is not None
        self.head, self.body, self.done = head, body, done
        self.buffer = b""
        self.waiting = b"Expect: 100-continue" in head
        self.sent = time.perf_counter()
        self.transport.write(head if self.waiting else head + body)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while not self.done.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            if status == 100:  # go on: the body
                self.buffer = self.buffer[end + 4 :]
                if self.waiting and self.transport is not None:
                    self.waiting = False
                    self.transport.write(self.body)
                continue
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            size = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + size:
                return
            answer = _Answer(status, headers, self.buffer[end + 4 : end + 4 + size])
            answer.sent, answer.read = self.sent, time.perf_counter()
            if self.transport is not None:
                if "close" in headers.get("connection", "").lower():
                    self.close()
                elif self.waiting:  # answered before its body: the body follows, skipped
                    self.waiting = False
                    self.transport.write(self.body)
            self.done.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if not self.done.done():
            self.done.set_exception(exc or ConnectionResetError("closed before the answer"))

    def close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()


#: seconds a send may take before the bench gives up on it (a bug, not a measure)
SEND_TIMEOUT = 300.0


async def _send(port: int, request: bytes, kept: _Connection | None) -> tuple[_Answer, _Connection]:
    """Send ``request`` over the voter's connection ``kept`` (a new one if she has none or
    the server closed it); its answer, and the connection (:class:`_Connection`). A kept
    connection closed before any answer (the server closes one idle too long, never one
    with a request in progress) is replaced and the request sent again, as browsers do."""
    loop = asyncio.get_running_loop()
    cut = request.index(b"\r\n\r\n") + 4
    head, body = request[:cut], request[cut:]
    async with asyncio.timeout(SEND_TIMEOUT):
        while True:
            done: asyncio.Future[_Answer] = loop.create_future()
            reused = kept is not None and kept.usable
            if kept is not None and kept.usable:
                kept.ask(head, body, done)
                conn = kept
            else:
                _, conn = await loop.create_connection(
                    functools.partial(_Connection, head, body, done), "127.0.0.1", port
                )
            try:
                return await done, conn
            except ConnectionError:
                if not reused or conn.buffer:
                    raise
                kept = None


async def _fire(
    port: int, uuid: str, ballots: list[tuple[bytes, tuple[str, str]]], rate: float | None,
    expect: bool = True, keep: bool = False,
) -> Fired:  # fmt: skip
    """Each voter posts her ballot over her own connection: all at once (``rate`` None) or
    arriving as a Poisson process of ``rate`` voters per second. A voter told that the
    server is full waits as long as it asks (``retry_after_ms``, else Retry-After) plus up
    to a fifth more at random (as ``viche vote`` and the booth do) and sends the same
    ballot again, over a new connection (``keep``: over the same one unless the server
    closed it, as a browser does).

    The client is plain HTTP/1.1 (:class:`_Connection`: an asyncio protocol, no stream
    objects), each request encoded beforehand: the load generator
    shares the machine's cores with the server, so it should cost little (an httpx client
    cost ~5 ms of CPU per ballot, as much as a quarter of the server's; asyncio streams
    left a burst's first connections unanswered by the client's own loop for ~140 ms).
    ``expect``: each request asks ``Expect: 100-continue`` and sends its body only when the
    server says so (a cast refused at once is answered before its 17 kB body is read; the
    body then follows on a kept connection, skipped by the server, or is never sent when
    the client opens a new connection for each send)."""
    requests = [_request(port, uuid, raw, auth, expect) for raw, auth in ballots]
    latencies: list[float] = []
    voters: list[float] = []
    when: list[tuple[float, int]] = []
    refused = busy = told = connections = 0
    rng = random.Random(7)
    jitter = random.Random(11)
    starts: list[float] = []
    t = 0.0
    for _ in ballots:
        starts.append(t)
        if rate is not None:
            t += rng.expovariate(rate)
    t0 = time.perf_counter()
    c0 = time.process_time()

    async def voter(request: bytes, start: float) -> None:
        nonlocal refused, busy, told, connections
        delay = t0 + start - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        first = 0.0
        waited = False
        sends = 0
        conn: _Connection | None = None
        while True:
            used = conn
            r, conn = await _send(port, request, conn)
            connections += conn is not used
            if not keep:
                conn.close()
            first = first or r.sent
            wait = busy_wait(r.status, r.headers.get("retry-after", ""), r.body)
            if wait is None:
                break
            sends += 1
            busy += 1
            if not waited:
                told += 1
                waited = True
            await asyncio.sleep(jittered(wait, jitter.uniform))
        conn.close()
        if r.status == 201:
            latencies.append(r.read - r.sent)
            voters.append(r.read - first)
            when.append((r.sent - t0, sends))
        else:
            refused += 1
            print(f"refused: {r.status} {r.body[:200]!r}", file=sys.stderr)

    await asyncio.gather(*(voter(req, st) for req, st in zip(requests, starts, strict=True)))
    return Fired(
        time.perf_counter() - t0, latencies, voters, refused, busy, told,
        time.process_time() - c0, when, connections,
    )  # fmt: skip


@dataclass
class Board:
    url: str
    data: Path
    schema: str | None


def _new_board(root: Path, name: str, db: str, postgres: str, demo: PreparedDemo) -> Board:
    data = root / name
    data.mkdir()
    schema = None
    if db == "sqlite":
        url = f"sqlite:///{data / 'board.sqlite'}"
    else:
        schema = f"viche_bench_{secrets.token_hex(5)}"
        admin = sqlalchemy.create_engine(engine_url(postgres))
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        sep = "&" if "?" in postgres else "?"
        # the schema names the server's backends too (their CPU is read from /proc)
        url = f"{postgres}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    board = SqlBoard.open(url)
    open_election(
        board, data / "keys", election=demo.election, trustees=demo.trustees,
        credentials=demo.credentials, ids=demo.ids, roll=demo.roll, timestamp=demo.timestamp,
    )  # fmt: skip
    board.close()
    return Board(url, data, schema)


def _drop(board: Board, postgres: str) -> None:
    if board.schema is not None:
        admin = sqlalchemy.create_engine(engine_url(postgres))
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{board.schema}" CASCADE'))
        admin.dispose()


def _run(
    board: Board, workers: int, uuid: str, ballots: list[tuple[bytes, tuple[str, str]]],
    rate: float | None, cast_wait: float, profile: Path | None = None,
    cpus: str | None = None, postgres: str = "", expect: bool = True,
    server_src: Path | None = None, keep: bool = False,
) -> tuple[Fired, float, float, int, float | None]:  # fmt: skip
    """Serve ``board``, fire the ballots; (what the clients saw, server CPU s, of which in
    its check processes, ballots on the board afterwards, CPU s of the PostgreSQL backends
    serving it). ``profile``:
    py-spy samples the server's processes meanwhile and writes their collapsed stacks
    there."""
    with socket.socket() as probe:  # a free port (a random one collided once)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _serve(board.data, board.url, port, workers, cast_wait, cpus, server_src)
    spy: subprocess.Popen[bytes] | None = None
    try:
        if profile is not None:
            spy_bin = Path(sys.executable).parent / "py-spy"  # else the one on PATH
            # --nonblocking: the processes are not stopped at each sample (blocking sampling
            # at 250 Hz cut a 1-worker burst from ~190 to ~60 ballots/s)
            spy = subprocess.Popen(
                [str(spy_bin) if spy_bin.exists() else "py-spy", "record", "--pid",
                 str(proc.pid), "--subprocesses", "--nonblocking", "--format", "raw",
                 "--rate", "250", "--output", str(profile)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(2)
        cpu0, checks0 = _tree_cpu(proc.pid)
        watch = None if board.schema is None else BackendWatch(postgres, board.schema)
        if watch is not None:
            watch.start()
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            fired = runner.run(_fire(port, uuid, ballots, rate, expect, keep))
        cpu1, checks1 = _tree_cpu(proc.pid)
        cpu = cpu1 - cpu0
        pg_cpu = None
        if watch is not None:  # backends opened meanwhile count from their start
            pg_cpu, backends = watch.stop()
            print(f"  PostgreSQL backends that served the run: {backends}", flush=True)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=120)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    sql = SqlBoard.open(board.url)
    count = sql.store(uuid).ballot_count()
    sql.close()
    return fired, cpu, checks1 - checks0, count, pg_cpu


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _belenios_verify(tool: str, url: str, uuid: str, scratch: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ``belenios-tool election verify`` on the board's archive."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir()
    sql = SqlBoard.open(url)
    with (scratch / f"{uuid}.bel").open("wb") as out:
        sql.store(uuid).write_archive(out)
    sql.close()
    env = dict(os.environ, LC_ALL="C", BELENIOS_USE_URANDOM="1")
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [tool, "election", "verify", "--dir", str(scratch)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"belenios-tool rejected the served archive:\n{proc.stderr[-2000:]}")
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--voters", type=int, default=1000)
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--databases", default="sqlite,postgresql")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--pace", type=float, default=0.7, help="paced rate / burst ballots/s")
    p.add_argument("--modes", default="burst,paced", help="burst, paced or both")
    p.add_argument(
        "--paced-voters", type=int, default=None, help="voters of the paced runs (all: default)"
    )
    p.add_argument(
        "--cast-wait", type=float, default=0.5,
        help="viche serve --cast-wait (admission control; 0: every ballot queued, none told "
        "to retry)",
    )  # fmt: skip
    p.add_argument(
        "--profile", type=Path, default=None,
        help="folder where py-spy writes the server's collapsed stacks of each run",
    )  # fmt: skip
    p.add_argument(
        "--cpus", default=None,
        help="pin the server to these cores (taskset --cpu-list, e.g. 0 or 0,1): capacity "
        "per core; the client and PostgreSQL are not pinned",
    )  # fmt: skip
    p.add_argument(
        "--no-expect", action="store_true",
        help="the client sends each ballot with its head, without Expect: 100-continue",
    )  # fmt: skip
    p.add_argument(
        "--keep-connections", action="store_true",
        help="each voter keeps her connection for her retries (as a browser does) instead "
        "of opening a new one for each send (README, section retry7)",
    )  # fmt: skip
    p.add_argument(
        "--server-src", type=Path, default=None,
        help="serve with the code of this src folder (another checkout: before/after measured "
        "by the same client)",
    )  # fmt: skip
    p.add_argument(
        "--no-peer", action="store_true",
        help="skip belenios-tool's verify of the served archive (runs that only measure)",
    )  # fmt: skip
    args = p.parse_args()
    tool = os.environ.get("BELENIOS_TOOL") or shutil.which("belenios-tool")
    if tool is None and not args.no_peer:
        raise SystemExit("belenios-tool not found (the peer this bench compares with)")
    print(f"load average at the start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")

    with tempfile.TemporaryDirectory(prefix="viche-ingest-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        template = ElectionTemplate.from_json(json.loads(TEMPLATE.read_text()))
        demo = prepare_demo(root / "demo", SeededRandom("bench-ingest"), args.voters, template)
        voters = root / "demo" / "voters"
        creds = [(voters / f"{n:03d}.cred").read_text().strip() for n in range(1, args.voters + 1)]
        logins = [
            tuple((voters / f"{n:03d}.login").read_text().split())
            for n in range(1, args.voters + 1)
        ]
        uuid = demo.election.uuid
        print(f"election prepared ({args.voters} voters, simple template) in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        t0 = time.perf_counter()
        with ProcessPoolExecutor() as pool:
            jobs = [(demo, creds[k], k) for k in range(args.voters)]
            raws = list(pool.map(_make, jobs, chunksize=8))
        ballots = [(raw, (login[0], login[1])) for raw, login in zip(raws, logins, strict=True)]
        print(f"{len(raws)} ballots ({len(raws[0])} bytes each) made by the client side in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip

        warm_tables(demo.election)
        sample = raws[: min(100, len(raws))]
        c0 = time.process_time()
        for raw in sample:
            check_ballot_fast(demo.election, raw, demo.credentials)
        check_ms = (time.process_time() - c0) * 1000 / len(sample)
        print(
            f"check alone (check_ballot_fast, this process): {check_ms:.1f} ms CPU per ballot "
            f"(engine: {fastexp_engine()}; bench/check_speed compares the engines)"
        )

        print(f"admission control: viche serve --cast-wait {args.cast_wait}; client "
              + ("without" if args.no_expect else "with") + " Expect: 100-continue, "
              + ("each voter's connection kept for her retries" if args.keep_connections
                 else "a new connection for each send"))  # fmt: skip
        if args.cpus is not None:
            print(f"server pinned to cores {args.cpus} (taskset)")
        print(
            f"\n{'database':<11} {'workers':>7} {'mode':>6} {'ballots':>7} {'refused':>7} "
            f"{'503s':>5} {'told':>5} {'conns':>5} {'seconds':>7} {'ballots/s':>9} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'voter p50':>9} {'voter p99':>9} "
            f"{'server CPU ms/b':>15} {'in checks':>11} {'client CPU ms/b':>15} "
            f"{'PG CPU ms/b':>11} {'load':>5}"
        )
        best_cpu = float("inf")
        archive_url: str | None = None
        boards: list[Board] = []
        for db in args.databases.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                rate: float | None = None
                for mode in args.modes.split(","):
                    board = _new_board(root, f"{db}-{workers}-{mode}", db, args.postgres, demo)
                    boards.append(board)
                    cast = ballots if mode == "burst" else ballots[: args.paced_voters]
                    if mode == "paced" and rate is None:
                        raise SystemExit("paced runs need a burst run first (their rate)")
                    spy = None
                    if args.profile is not None:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        spy = args.profile / f"{db}-{workers}-{mode}.txt"
                    fired, cpu, checks_cpu, count, pg_cpu = _run(
                        board, workers, uuid, cast, rate, args.cast_wait, spy, args.cpus,
                        args.postgres, not args.no_expect, args.server_src,
                        args.keep_connections,
                    )  # fmt: skip
                    pg_ms = "-" if pg_cpu is None else f"{pg_cpu * 1000 / count:.1f}"
                    per_s = count / fired.seconds
                    best_cpu = min(best_cpu, cpu * 1000 / count)
                    print(
                        f"{db:<11} {workers:>7} {mode:>6} {count:>7} {fired.refused:>7} "
                        f"{fired.busy:>5} {fired.told:>5} {fired.connections:>5} "
                        f"{fired.seconds:>7.1f} {per_s:>9.1f} {fired.pct(0.5):>7.0f} "
                        f"{fired.pct(0.99):>7.0f} {fired.voter_pct(0.5):>9.0f} "
                        f"{fired.voter_pct(0.99):>9.0f} {cpu * 1000 / count:>15.1f} "
                        f"{checks_cpu * 1000 / count:>11.1f} "
                        f"{fired.client_cpu * 1000 / count:>15.1f} {pg_ms:>11} "
                        f"{os.getloadavg()[0]:>5.1f}",
                        flush=True,
                    )
                    if slow := fired.slow(1.0):
                        print(slow, flush=True)
                    if mode == "burst":
                        rate = args.pace * per_s
                    if archive_url is None and count == len(ballots):
                        archive_url = board.url
        if archive_url is None:
            raise SystemExit("no run recorded every ballot")
        if args.no_peer or tool is None:
            for board in boards:
                _drop(board, args.postgres)
            print(f"load average at the end: {os.getloadavg()[0]:.1f}")
            return

        empty = _new_board(root, "setup-only", "sqlite", args.postgres, demo)
        _, c0b = _belenios_verify(tool, empty.url, uuid, root / "bt-empty")
        w1, c1 = _belenios_verify(tool, archive_url, uuid, root / "bt-full")
        bt_ms = (c1 - c0b) * 1000 / len(ballots)
        print(
            f"\nbelenios-tool election verify of the served archive ({len(ballots)} ballots): "
            f"{w1:.1f} s wall, {c1:.1f} s CPU; setup-only archive {c0b:.1f} s CPU; "
            f"{bt_ms:.1f} ms CPU per ballot"
        )
        print(f"ratio belenios-tool / viche check alone:        {bt_ms / check_ms:.2f}")
        print(f"ratio belenios-tool / viche server (best run):  {bt_ms / best_cpu:.2f}")
        for board in boards:
            _drop(board, args.postgres)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
