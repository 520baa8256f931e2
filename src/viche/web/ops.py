"""Operations: JSON access logs, rate limits, CORS (metrics and readiness are in
:mod:`viche.web.metrics` and :mod:`viche.web.app`).

* **Access logs**: one JSON object per request on the ``viche.access`` logger — time,
  method, route template (never the query string), status, duration, client address. No
  header, body or credential is ever logged (login secrets travel in ``Authorization``).
  The lines are written by a thread of their own (:class:`LineWriter`), never by the event
  loop: a reader that does not read costs lines (dropped, counted), never requests.
* **Rate limits**: token buckets per client address for every write (POST/PUT/DELETE) and
  every request that carries a secret (``Authorization``: each costs an argon2 check, so
  made-up secrets must not make the server hash at will), and per voter login for ballot
  casts; a request over the limit gets 429 with the error body
  and ``Retry-After``. The buckets of all the worker processes of one server are in one
  table in their shared folder (:class:`RateLimiter`), about ``max_keys`` of them (the
  least recently used are dropped).
* **CORS**: no cross-origin access unless origins are listed; a preflight from an origin
  not listed is refused (403). The API takes JSON bodies only (``application/json``), which
  a cross-site form cannot send without a preflight, and voters authenticate with HTTP
  Basic, not cookies: there is no cookie session to forge requests with (no CSRF token is
  needed; a test keeps it so).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import logging
import mmap
import os
import re
import select
import struct
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from fastapi import FastAPI, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viche.errors import CrossOriginError, Location, RateLimitedError, UsageError
from viche.web.errors import error_response

access_log = logging.getLogger("viche.access")

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


#: attributes every log record has; the others were given by the caller (``extra=``)
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the fields the caller gave
    (``extra={"election": uuid, "error": exc.to_dict()}``). Never a secret: callers log
    codes, uuids and error bodies, which hold none."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS)
        if record.exc_info:  # uvicorn's "Exception in ASGI application": the traceback's text
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str)


#: ``uvicorn.run(log_config=...)``: uvicorn's own lines (its supervisor's and its workers':
#: a worker died or was restarted, "Invalid HTTP request received.", an exception that
#: escaped the app with its traceback) as :class:`JsonLines` on standard error too, so that
#: the whole log is JSON lines; its access log stays off (the server writes its own).
UVICORN_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "viche.web.ops.JsonLines"}},
    "handlers": {
        "json": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["json"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


def configure_logs(stream: TextIO | None = None) -> LineWriter:
    """The server's logs as JSON lines on standard error (or ``stream``), once per process
    (the writer of the first call is returned again): the access log's lines (JSON
    already) as given, every other ``viche`` logger's (the schedules' openings and
    closings, their failures) through :class:`JsonLines`; both written by one
    :class:`LineWriter`, in the order they were logged."""
    for handler in access_log.handlers:
        if isinstance(handler, QueuedLines):
            return handler.writer
    writer = LineWriter(stream if stream is not None else sys.stderr)
    access_log.addHandler(QueuedLines(writer, logging.Formatter("%(message)s")))
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    root = logging.getLogger("viche")
    root.addHandler(QueuedLines(writer, JsonLines()))
    root.setLevel(logging.INFO)
    root.propagate = False
    return writer


#: lines the log holds for its writer (:class:`LineWriter`; ~130 bytes each, ~1.3 MB)
LOG_CAPACITY = 10_000
#: seconds the writer lets lines gather after the first of a batch, to write them at once
LOG_LINGER = 0.02
#: seconds a flush waits for a reader that does not read before it gives up
LOG_FLUSH_WAIT = 5.0
#: the logger of the writer's own warning (lines dropped)
_writer_log = logging.getLogger("viche.log")


class LineWriter:
    """Log lines written by a thread of their own, never by the caller: the caller (the
    worker's event loop, for the access log) only appends the line to a bounded queue.
    The thread wakes at the first line of a batch, lets more gather for ``linger`` seconds
    and writes them with one write and one flush. A reader that does not keep up (a full
    pipe to a supervisor) stalls that thread only; the queue then fills and a line that
    finds it full (``capacity`` lines) is dropped and counted (``report``: e.g.
    :meth:`~viche.web.metrics.Metrics.count`, event ``log_line_dropped``); once the queue
    is no longer full, a warning line says how many were dropped, where they were. Lines
    keep their order. :meth:`flush` waits until every line queued before it is written:
    ``viche serve`` flushes as its lifespan ends (a worker stopped by SIGTERM then dies of
    that signal, which uvicorn raises again, without running exit handlers)."""

    def __init__(
        self, stream: TextIO, capacity: int = LOG_CAPACITY, linger: float = LOG_LINGER
    ) -> None:
        self._stream = stream
        self._capacity = capacity
        self._linger = linger
        self.report: Callable[[str], None] | None = None
        self._start()
        me = weakref.ref(self)

        def restart() -> None:  # a forked child has no writer thread: it gets its own
            writer = me()
            if writer is not None and not writer._closed:
                writer._start()

        os.register_at_fork(after_in_child=restart)

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._written_some = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._lines: list[str] = []
        self._idle = True  # the thread waits for a first line (put wakes it)
        self._queued = 0  # lines queued since the start
        self._written = 0  # of them, written (or lost to a stream that failed)
        self._dropped = 0  # dropped, not yet told in a warning line
        self._hurry = threading.Event()  # set while a flush waits: no lingering
        self._flushes = 0  # flushes waiting
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="viche-log", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        """Queue ``line`` (a newline at its end) for the thread, or drop it when the queue
        is full. Never waits for the thread."""
        with self._lock:
            if len(self._lines) >= self._capacity:
                self._dropped += 1
                wake = dropped = True
            else:
                self._lines.append(line)
                self._queued += 1
                dropped = False
                wake, self._idle = self._idle, False
        if dropped:
            if self.report is not None:
                self.report("log_line_dropped")
        elif wake:
            self._wake.set()

    def flush(self, timeout: float = LOG_FLUSH_WAIT) -> bool:
        """Wait until every line queued before this call is written (True), at most
        ``timeout`` seconds (False: the reader does not read)."""
        if threading.current_thread() is self._thread:
            return True
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._queued
            if self._written >= target:
                return True
            self._flushes += 1
            self._hurry.set()
            self._wake.set()
            try:
                while self._written < target:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return False
                    self._written_some.wait(left)
            finally:
                self._flushes -= 1
                if not self._flushes:
                    self._hurry.clear()
        return True

    def close(self, timeout: float = LOG_FLUSH_WAIT) -> None:
        """Flush, then end the thread (lines put afterwards are dropped)."""
        self.flush(timeout)
        with self._lock:
            self._closed = True
            self._capacity = 0
        self._hurry.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._hurry.wait(self._linger)  # more lines come meanwhile, unless a flush waits
            with self._lock:
                self._wake.clear()
                batch, self._lines = self._lines, []
                dropped = 0
                if len(batch) < self._capacity or self._closed:  # the queue is not full
                    dropped, self._dropped = self._dropped, 0  # (any more): tell the drops
                closed = self._closed
            lines = [_dropped_line(dropped), *batch] if dropped else batch
            try:
                for chunk in _whole_lines(lines):
                    self._stream.write(chunk)
                    self._stream.flush()
            except (OSError, ValueError):  # a broken or closed stream: the lines are lost
                pass
            with self._lock:
                self._written += len(batch)
                self._written_some.notify_all()
                if closed:
                    return
                if self._lines or self._dropped:
                    self._wake.set()
                else:
                    self._idle = True


def _whole_lines(lines: list[str], limit: int = select.PIPE_BUF) -> Iterator[str]:
    """``lines`` joined into writes of at most ``limit`` bytes each (a longer line alone),
    ending at a line's end: a pipe takes a write of up to PIPE_BUF bytes whole, so the lines
    of two workers writing to the same pipe never cut into each other, even when its reader
    is slow (a larger write may be split between the other writers' writes)."""
    chunk: list[str] = []
    size = 0
    for line in lines:
        n = len(line.encode("utf-8", "surrogatepass"))
        if chunk and size + n > limit:
            yield "".join(chunk)
            chunk, size = [], 0
        chunk.append(line)
        size += n
    if chunk:
        yield "".join(chunk)


def _dropped_line(dropped: int) -> str:
    record = _writer_log.makeRecord(
        _writer_log.name,
        logging.WARNING,
        __file__,
        0,
        "log lines dropped: the log's reader did not keep up",
        (),
        None,
        extra={"dropped": dropped},
    )
    return JsonLines().format(record) + "\n"


class QueuedLines(logging.Handler):
    """Hands each record, formatted, to a :class:`LineWriter`."""

    def __init__(self, writer: LineWriter, formatter: logging.Formatter) -> None:
        super().__init__()
        self.writer = writer
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # logging's rule: a bad record never raises
            self.handleError(record)
            return
        self.writer.put(line + "\n")

    def flush(self) -> None:
        self.writer.flush()


@dataclass(frozen=True)
class Rate:
    """``burst`` requests at once, refilled at ``per_second``."""

    per_second: float
    burst: int


#: an exact browser origin: scheme, host (a name or IPv4, or [IPv6]), optional port
_ORIGIN = re.compile(r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?")


@dataclass(frozen=True)
class OpsConfig:
    #: writes per client address; None: no limit
    address_rate: Rate | None = Rate(per_second=50.0, burst=200)
    #: ballot casts per voter login; None: no limit
    voter_rate: Rate | None = Rate(per_second=0.5, burst=10)
    #: origins allowed to call the API from a browser (exact ``scheme://host[:port]``)
    cors_origins: tuple[str, ...] = ()
    max_keys: int = 100_000
    #: live event streams open at once from one client address, and in all, in each worker
    #: process (:mod:`viche.web.routers.live`); None: no cap
    streams_per_address: int | None = 20
    streams_total: int | None = 1000

    @classmethod
    def unlimited(cls) -> OpsConfig:
        """No rate limits and no caps (benchmarks, tests that load the server)."""
        return cls(address_rate=None, voter_rate=None, streams_per_address=None, streams_total=None)

    @staticmethod
    def parse_streams(text: str, config: OpsConfig) -> OpsConfig:
        """``config`` with the caps of live streams of ``viche serve``'s environment
        (``VICHE_LIVE_STREAMS``): ``PER_ADDRESS/TOTAL``, 0 for no cap, or ``off``."""
        where = Location(path=("VICHE_LIVE_STREAMS",))
        if text.strip() == "off":
            return replace(config, streams_per_address=None, streams_total=None)
        per_address, _, total = text.partition("/")
        try:
            caps = [int(per_address), int(total)]
        except ValueError:
            raise UsageError(
                f"PER_ADDRESS/TOTAL (e.g. 20/1000), got {text[:32]!r}", where=where
            ) from None
        if min(caps) < 0:
            raise UsageError("caps are 0 (none) or more", where=where)
        return replace(config, streams_per_address=caps[0] or None, streams_total=caps[1] or None)

    @staticmethod
    def parse_origins(text: str) -> tuple[str, ...]:
        """The origins of ``viche serve``'s environment (``VICHE_CORS_ORIGINS``): a comma
        list of exact ``scheme://host[:port]`` (http or https, no path, no wildcard)."""
        where = Location(path=("VICHE_CORS_ORIGINS",))
        found: list[str] = []
        for item in filter(None, (part.strip() for part in text.split(","))):
            if not _ORIGIN.fullmatch(item):
                raise UsageError(
                    f"an origin is scheme://host[:port] (http or https, nothing after), got "
                    f"{item[:64]!r}",
                    where=where,
                )
            found.append(item)
        return tuple(found)

    @classmethod
    def parse(cls, text: str) -> OpsConfig:
        """The rate limits of ``viche serve``'s environment (``VICHE_RATE_LIMITS``): ``off``,
        or ``address=PER_SECOND/BURST,voter=PER_SECOND/BURST`` (either may be left out: its
        default stays; ``off`` for one of them lifts it)."""
        if text.strip() == "off":
            return cls.unlimited()
        where = Location(path=("VICHE_RATE_LIMITS",))
        rates: dict[str, Rate | None] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            if name not in ("address", "voter"):
                raise UsageError(f"unknown rate limit {name[:32]!r}", where=where)
            if value == "off":
                rates[name] = None
                continue
            per_second, _, burst = value.partition("/")
            try:
                rate = Rate(per_second=float(per_second), burst=int(burst))
            except ValueError:
                raise UsageError(
                    f"{name}: PER_SECOND/BURST (e.g. 0.5/10), got {value[:32]!r}", where=where
                ) from None
            if not (rate.per_second > 0 and rate.burst >= 1):
                raise UsageError(f"{name}: a positive rate and burst", where=where)
            rates[name] = rate
        default = cls()
        return cls(
            address_rate=rates.get("address", default.address_rate),
            voter_rate=rates.get("voter", default.voter_rate),
        )


class SharedMap:
    """Bytes that the worker processes of one server share: a file of ``size`` bytes in
    their shared folder (``path``), mapped in memory by each, that starts with ``header``
    (its first 8 bytes a magic naming the layout); a file of another size or magic
    (another table, or a half-made one) is started anew, zeroed after the header. Without
    a path, this process's own memory. :meth:`locked` holds the file's ``flock`` for the
    microseconds of a read-modify-write (callers in one process also take a thread lock
    when they need one). The rate limits' table (:class:`RateLimiter`) and the admission's
    queue (:class:`~viche.web.admission.SlotQueue`) live in such files."""

    def __init__(self, path: Path | None, size: int, header: bytes) -> None:
        self._fd: int | None = None
        if path is None:
            self.map = mmap.mmap(-1, size)
            self.map[: len(header)] = header
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_size != size or os.pread(fd, 8, 0) != header[:8]:
                    os.ftruncate(fd, 0)  # another layout (or a half-made file): start anew
                    os.ftruncate(fd, size)
                    os.pwrite(fd, header, 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self.map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    @contextmanager
    def locked(self) -> Iterator[None]:
        if self._fd is None:
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.map.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class RateLimiter:
    """Token buckets keyed by a string, in a table that the worker processes of one server
    share: a file of fixed slots in the workers' shared folder (``path``), mapped in memory
    by each worker and locked (``flock``) for the few microseconds of a take; without a
    path the table is this process's own. Thread-safe and process-safe.

    Why a shared file and not the database: a take is a read-modify-write on every write
    request; in the database it would be one more round trip and one more write
    transaction per request (on SQLite, one more holder of the database's single write
    lock, in the way of the ballots' appends). The limits are per server (its workers on
    one machine), which is what the shared folder is. The table holds about ``max_keys``
    buckets: a key goes to one of ``PROBE`` slots after its hash; when they are all taken
    the least recently used of them is dropped (a dropped key starts again full)."""

    PROBE = 16
    _SLOT = struct.Struct("<16sdd")  # key digest, tokens, last take (monotonic seconds)
    _HEADER = struct.Struct("<8sQ")  # magic, number of slots
    _MAGIC = b"vicheRL1"

    def __init__(
        self,
        rate: Rate,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
        path: Path | None = None,
    ) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._clock = clock
        slots = 2
        while slots < 2 * max_keys:
            slots *= 2
        self._slots = slots
        self._probe = min(self.PROBE, slots)
        size = self._HEADER.size + slots * self._SLOT.size
        self._lock = threading.Lock()
        self._shared = SharedMap(path, size, self._HEADER.pack(self._MAGIC, slots))
        self._map = self._shared.map

    def take(self, key: str) -> float:
        """0 when the request may go on (a token is taken), else the seconds to wait."""
        digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
        start = int.from_bytes(digest[:8], "little") & (self._slots - 1)
        burst, per_second = float(self.rate.burst), self.rate.per_second
        m, slot, base = self._map, self._SLOT, self._HEADER.size
        with self._lock, self._shared.locked():
            now = self._clock()
            found = empty = oldest = -1
            oldest_at = float("inf")
            for i in range(self._probe):
                offset = base + ((start + i) & (self._slots - 1)) * slot.size
                held, _, last = slot.unpack_from(m, offset)
                if held == digest:
                    found = offset
                    break
                if held == _EMPTY:
                    if empty < 0:
                        empty = offset
                elif last < oldest_at:
                    oldest, oldest_at = offset, last
            if found >= 0:
                _, tokens, last = slot.unpack_from(m, found)
                tokens = min(burst, tokens + max(0.0, now - last) * per_second)
            else:
                found = empty if empty >= 0 else oldest
                tokens = burst
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / per_second
            slot.pack_into(m, found, digest, tokens, now)
            return wait

    def close(self) -> None:
        self._shared.close()


_EMPTY = bytes(16)

#: the rate-limit tables in the workers' shared folder (``viche serve`` empties them at start)
RATE_PREFIX = "ratelimit-"


#: the path of a cast (``POST``); its group is the election's uuid
CAST_PATH = re.compile(r"/api/v1/elections/([^/]{1,64})/ballots")
#: its route's template, logged for the casts answered before routing (the admission's 503s)
CAST_ROUTE = "/api/v1/elections/{uuid}/ballots"


def client_address(request: Request) -> str:
    """The address of the request's client as the server sees it (``-`` when unknown): the
    key of the per-address limits (rate limits, live streams) and of the access log."""
    return request.client.host if request.client else "-"


_LOGIN = re.compile(r"[^:]{1,256}")


def basic_pair(header: str) -> tuple[str, str] | None:
    """The login and secret of an HTTP Basic ``Authorization`` header's value, read as UTF-8
    (RFC 7617's charset: what browsers, the booth and ``viche vote`` send, so that a login
    such as ``олена`` signs in), or None when it is not such a header (another scheme, too
    long, not base64, not UTF-8, no ``:``, or a login that is empty or too long)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or len(value) > 2048:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, colon, secret = decoded.partition(":")
    return (login, secret) if colon and _LOGIN.fullmatch(login) else None


def _limited(wait: float, what: str) -> Response:
    error = RateLimitedError(
        f"too many requests {what}: try again in {wait:.1f} s", where=Location(path=("request",))
    )
    response = error_response(error)
    response.headers["Retry-After"] = str(max(1, round(wait + 0.5)))
    return response


def _limiter(
    rate: Rate | None, config: OpsConfig, shared: Path | None, name: str
) -> RateLimiter | None:
    if rate is None:
        return None
    path = None if shared is None else shared / f"{RATE_PREFIX}{name}.bin"
    return RateLimiter(rate, config.max_keys, path=path)


def code_spacing(resend_after: int, shared: Path | None = None) -> RateLimiter:
    """The spacing of one-time code requests: one per (election, login) every
    ``resend_after`` seconds, whether or not the login is on the roll (the answer must not
    tell), shared by the workers like the rate limits (not lifted with them: it spares
    the voters' mailboxes)."""
    path = None if shared is None else shared / f"{RATE_PREFIX}codes.bin"
    return RateLimiter(Rate(per_second=1 / resend_after, burst=1), OpsConfig().max_keys, path=path)


def install(app: FastAPI, config: OpsConfig, shared: Path | None = None) -> None:
    """Add access logs, rate limits and CORS to ``app``; ``shared``: the folder the worker
    processes of the server share (their rate limits are then the server's, not each
    worker's)."""
    by_address = _limiter(config.address_rate, config, shared, "address")
    by_voter = _limiter(config.voter_rate, config, shared, "voter")
    origins = frozenset(config.cors_origins)

    app.add_middleware(_Operations, by_address=by_address, by_voter=by_voter, origins=origins)


class _Operations:
    """The access log, the rate limits and CORS around every HTTP request, as a plain ASGI
    middleware (Starlette's ``BaseHTTPMiddleware`` runs each request in a task group with
    memory streams between the layers: a third of a worker's event-loop time under a burst
    of casts)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        by_address: RateLimiter | None,
        by_voter: RateLimiter | None,
        origins: frozenset[str],
    ) -> None:
        self.app = app
        self.by_address = by_address
        self.by_voter = by_voter
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method: str = scope["method"]
        casting = method == "POST" and CAST_PATH.fullmatch(scope["path"])
        origin = authorization = None
        for name, value in scope["headers"]:  # lower-case names (ASGI), the first of each
            if name == b"origin" and origin is None:
                origin = value.decode("latin-1")
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
        client = scope.get("client")
        address: str = client[0] if client else "-"
        allowed_origin = origin is not None and origin in self.origins
        early: Response | None = None
        if method == "OPTIONS" and origin is not None:
            early = _preflight(allowed_origin)
        elif (
            self.by_address is not None
            and (method in _WRITES or authorization is not None)
            and (wait := self.by_address.take(address))
        ):
            early = _limited(wait, "from this address")
        elif (
            self.by_voter is not None
            and casting
            and authorization is not None
            and (pair := basic_pair(authorization)) is not None
            and (wait := self.by_voter.take(f"{casting.group(1)}|{pair[0]}"))
        ):
            early = _limited(wait, "for this voter")
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if allowed_origin and origin is not None:
                    headers = MutableHeaders(scope=message)
                    headers["Access-Control-Allow-Origin"] = origin
                    headers["Vary"] = "Origin"
            await send(message)

        if early is not None:
            await early(scope, receive, answer)
        else:
            await self.app(scope, receive, answer)
        elapsed = time.perf_counter() - start
        route = CAST_ROUTE if casting else getattr(scope.get("route"), "path", None)
        # the fields by hand (json.dumps took 7 µs of the worker's CPU a line): the method
        # is an HTTP token, the route a template of ours, the numbers numbers; the client's
        # address may come from a proxy's header (X-Forwarded-For): escaped
        access_log.info(
            f'{{"time":{time.time():.3f},"method":"{method}","route":"'
            f'{route if isinstance(route, str) else "(unmatched)"}","status":{status},'
            f'"ms":{elapsed * 1000:.2f},"client":{json.dumps(address)}}}'
        )


def _preflight(allowed: bool) -> Response:
    if not allowed:
        return error_response(
            CrossOriginError(
                "cross-origin requests from this origin are not allowed",
                where=Location(path=("origin",)),
            )
        )
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
            "Access-Control-Max-Age": "600",
        },
    )
