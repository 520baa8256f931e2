"""Admission control of ballot casts: a bounded queue per worker process, and beyond it a
fast 503 that tells the voter when to come back.

A burst of ballots beyond what a worker can check is otherwise one long queue: every
voter waits for all those before her (a thousand at once, tens of seconds each). Here a
worker takes at most :attr:`Admission.limit` casts at once: as many ballots as it answers
within ``target`` seconds at the pace it has been answering them while busy (measured over
its last answers: a loaded machine lowers it; between ``floor`` and ``ceiling``, ``floor``
until the pace is known), or at the wait per cast ahead that the last casts taken in really
met when that was longer (:attr:`Admission.per_cast`: an event loop busy with a burst's
503s, anything the answers' pace does not show). The casts taken in are checked in the
order they came (:class:`viche.web.routers.ballots.FifoSlots`).

A cast beyond the bound is answered at once with 503 and the error body (code V9016)
whose ``retry_after_ms`` is the wait until the worker expects to have room for it, in
milliseconds (at least :data:`MIN_WAIT_MS`); ``Retry-After`` gives the same rounded
up to whole seconds (HTTP's unit: a client that only reads it comes back up to a second
late). ``viche vote`` and the booth wait ``retry_after_ms`` (``Retry-After`` when the
body has none) and up to a fifth more at random (at most a second:
:func:`viche.web.client.jittered`, ``booth/busy.js``), then send the same ballot again.

The times handed out are slots in a queue, so that the voters told come back about as
fast as the server can take them rather than all at the same instant: a voter's slot is
after the casts in flight and after the slots already handed out (the queue ahead of her),
one ballot's time of the server each, and she is told to come back a tenth earlier than
her slot (:data:`JITTER_MEAN`: her client's jitter brings her back around it). The queue
is the server's, not a worker's (:class:`SlotQueue`, in the workers' shared folder): a
voter told comes back over a new connection, which whichever worker is free accepts, so
each voter told by a worker moves the queue's end by that worker's pace
(:attr:`Admission.pace`) divided among the :attr:`Admission.workers`. With a queue per
worker, the kernel's uneven share of a burst's first wave (764 and 207 voters of 1,000
in a traced burst) made the worker that took more spread its voters over 5.7 s and the
other over 1.3 s; past that, the voters came back at half the server's pace and both
workers idled while the others waited: 7 s bursts instead of 4.5, with a low accepted p50
(bench/serve_ingest/README.md, gap7). Each voter's slot is planned at the pace known when
she is told: a burst's first wave (a thousand voters in the first half second, before any
answer) at a guess that counts the worker's check processes (:data:`CHECK_GUESS` each,
:attr:`Admission.processes`: two workers of one check process each tell the server's
queue the same pace as one worker with two), the later voters at the pace measured, the
fastest over a whole window of this busy spell but never slower than the guess while the
spell warms up, nor than a machine that nothing else loads (:data:`CHECK_SLOWEST`) after
it: other work slowing the machine may stop at any moment, and the voters told at its
pace would then come back too slowly (a machine four times slower than quiet gets about
four 503s per ballot instead of two; tests/web/test_web_admission.py's model). Rather
too early than too late: one back too early is told again, at the cost of a cheap 503,
whereas one told too late leaves the workers idle. (The queue is not re-planned from the
count of voters ahead times the newest pace: a pace measured while warming up then sent
all of them seconds too far, in an offline model of a burst.)
Before, the slots were 0.75 of a ballot's time apart and the first wave's 5 ms per
worker: each of two workers told its half of a burst at 267 voters/s, and 71-97 % of the
second wave and 50-84 % of one worker's late waves were told again
(bench/serve_ingest/README.md, admit7).

A late event loop refuses too (:class:`LoopLag`). The bound counts the casts in flight, but
a cast taken in needs the worker's event loop several times (its login's return from a
thread, its body, its check's answer from a check process, its group commit's return, its
answer), and in a burst's first instant that loop is busy accepting
a thousand connections and refusing most of them: a cast taken in then was answered after
1-2 s, though the bound held (the gate saw it 0.5 s at most; the rest was spent waiting for
the loop, before and after). A timer fires every :data:`LAG_PERIOD` seconds and sees how
late it fires; while the loop is late by more than :attr:`Admission.lag_share` of the
target, a worker takes a cast only when it has none in flight (it never idles), and the
others are told to come back after the lag as well as after their turn.

A request that waited before the gate is counted too. While the loop refuses the connections
it has accepted, the next ones wait in the kernel's accept queue, where no gate sees them: in
a traced PostgreSQL one-worker burst a quarter of the first wave was accepted 0.4-0.8 s after
the client wrote it, found room (the bound had grown meanwhile) and was answered after more
than a second (a request over a kept connection waits likewise to be read). ``viche
serve``'s protocol (:class:`viche.web.serve.ArrivalStamps`) stamps when each request
reached the machine (scope extension :data:`ARRIVED`, from the kernel's ``TCP_INFO``); a
cast is then taken only if that wait and its turn fit in :attr:`Admission.stale` times the
target, or when none is in flight.

The bound is kept by :class:`AdmissionGate`, a plain ASGI middleware in front of the cast
route: a refusal costs no routing, no dependency solving, no login and no thread hop (a
burst gets about as many 503s as ballots). A cast refused is not checked, nothing is
written, and its body is not wanted: a request that asked ``Expect: 100-continue`` gets
its 503 before the body is sent (never read: uvicorn says ``100 Continue`` only when the
body is read) and the connection stays open (the client closes it, or sends the body,
which is skipped, and its next request; a close with unread data would reset the
connection and could lose the answer); any other's body is read and thrown away, then
the connection closed (``Connection: close``). Closed, the retry is a new connection,
which any worker may accept: kept connections kept a voter's retries on the worker that
had accepted her, and one worker of two took 998 of a burst's 1,000 ballots
(bench/serve_ingest/README.md, retry7). Everything here runs on the worker's event
loop (one thread): no lock is needed but the queue's, between the workers.
"""

from __future__ import annotations

import asyncio
import math
import struct
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viche.errors import Location, ServerBusyError
from viche.web.errors import error_response
from viche.web.metrics import Metrics
from viche.web.ops import CAST_PATH, SharedMap

#: the seconds per ballot a worker is assumed to take, before its pace is measured, for each
#: of its check processes (:attr:`Admission.processes`): a burst's first wave is told all at
#: once, before any pace is known, and this sets how fast it comes back. A check process
#: took a ballot every 8-10 ms in bursts on two shared cores (its ~5 ms check, and its
#: share of the cores with the worker, PostgreSQL and the clients): 8 ms is rather too
#: short (250 ballots/s for the machine, whether one worker has two processes or two
#: workers one each), since a voter back too early is told again, at the cost of one more
#: 503, whereas one told too late leaves the worker idle
CHECK_GUESS = 0.008
#: the same per worker when its check processes are not known (the check in the worker,
#: or a test's admission): as a worker with two, rather too short again
EARLY_GUESS = CHECK_GUESS / 2
#: the slowest pace the times handed out assume once it is measured, per check process
#: (the fastest window of the spell, if slower, is the machine loaded by other work, which
#: may stop at any moment): a check process of a two-core machine that nothing else loads
#: took a ballot every 7-10 ms in bursts. The voters told at a slower pace measured came
#: back at that pace after the load had gone, and both workers idled while they waited
#: (a worker's fastest window 19.6 ms, then 9 ms: 0.74 s with both idle in a 9 s burst;
#: bench/serve_ingest/README.md, gap7); told at most this far apart, those back before
#: the machine has room are told again, at the cost of a 503 each
CHECK_SLOWEST = 0.010
#: how much later than told a voter comes back on average: ``viche vote`` and the booth add
#: up to a fifth at random (:func:`viche.web.client.jittered`), so the wait handed out is
#: the time to her slot less that share: the voters told come back around their slots, as
#: fast as the worker takes them (not a fifth faster, as with the 0.75 of a ballot's time
#: between slots used before: a quarter of those back were told again)
JITTER_MEAN = 0.1
#: the busy spell's first answers (this many windows) are a worker warming up, or busy
#: refusing a burst's first wave: the times handed out meanwhile assume no slower pace than
#: the guess (a first window of 39 ms per ballot once sent the next voters 3 s away, and the
#: worker idled for 4.5 s)
WARM_WINDOWS = 2
#: the shortest wait handed out (milliseconds): a voter is not asked back sooner
MIN_WAIT_MS = 10
#: the pace is measured over this many answers while busy (at least MIN_ANSWERS)
WINDOW = 32
MIN_ANSWERS = 8
#: seconds between two firings of the timer that measures the event loop's lag
LAG_PERIOD = 0.01
#: the ASGI scope's extension whose ``at`` is when a request reached this machine
#: (``time.monotonic()``; set by :class:`viche.web.serve.ArrivalStamps`)
ARRIVED = "viche.arrived"


@dataclass
class LoopLag:
    """How late a worker's event loop is: a timer due every ``period`` seconds notes how
    late it fired (:meth:`fired`); :meth:`late` is that, or how overdue the timer is now if
    that is more (a loop busy for a long while has not fired it yet)."""

    period: float = LAG_PERIOD
    clock: Callable[[], float] = time.monotonic
    due: float | None = None
    last: float = 0.0

    def fired(self) -> None:
        now = self.clock()
        if self.due is not None:
            self.last = max(0.0, now - self.due)
        self.due = now + self.period

    def late(self) -> float:
        if self.due is None:
            return 0.0
        return max(self.last, self.clock() - self.due)


#: the file of the queue's end (:class:`SlotQueue`) in the workers' shared folder
QUEUE_FILE = "admission-queue.bin"
#: seconds: a queue's end further than this ahead is a stale file's (:meth:`SlotQueue.book`)
FAR_END = 3600.0


class SlotQueue:
    """The end of the queue of voters told to come back: the next voter's slot, in
    ``time.monotonic()`` seconds (a clock every process of the machine shares, from its
    boot), shared by the worker processes of one server through a file in their shared
    folder (``path``: a :class:`~viche.web.ops.SharedMap`, locked for the microseconds of
    a booking); without a path, this process's own. ``viche serve``
    empties the folder when it starts: a queue's end is a time of this boot's clock."""

    _LAYOUT = struct.Struct("<8sd")  # magic, the queue's end
    _MAGIC = b"vicheAQ1"

    def __init__(self, path: Path | None = None) -> None:
        self._shared = SharedMap(path, self._LAYOUT.size, self._LAYOUT.pack(self._MAGIC, 0.0))
        self._map = self._shared.map

    @property
    def end(self) -> float:
        """The next voter's slot, unless the casts in flight take longer."""
        return float(self._LAYOUT.unpack_from(self._map, 0)[1])

    def book(self, earliest: float, spacing: float) -> float:
        """A voter's slot: the queue's end, or ``earliest`` when that is later; the end then
        moves ``spacing`` seconds past it. An end more than :data:`FAR_END` seconds after
        ``earliest`` is no queue's (a file left from another boot, whose clock started
        elsewhere): the slot is then ``earliest``."""
        with self._shared.locked():
            end = self.end
            at = end if earliest < end <= earliest + FAR_END else earliest
            self._LAYOUT.pack_into(self._map, 0, self._MAGIC, at + spacing)
            return at

    def close(self) -> None:
        self._shared.close()


@dataclass
class Admission:
    """The casts one worker takes at once, and when to tell the others to come back."""

    #: seconds a cast should wait at most, queue included (0: take every cast, no bound)
    target: float = 0.5
    floor: int = 4
    ceiling: int = 64
    #: the seconds between two answers while busy, measured (or given); until it is, the
    #: worker takes ``floor`` ballots at once (a burst at start meets a worker whose pace
    #: nobody knows yet) and hands out times EARLY_GUESS apart
    interval: float = 0.0
    clock: Callable[[], float] = time.monotonic
    #: while the event loop is late by more than this share of ``target``, a cast is taken
    #: only when none is in flight (0: the lag is not looked at)
    lag_share: float = 0.1
    lag: LoopLag = field(default_factory=LoopLag)
    #: a cast that had waited before the gate (the kernel's accept queue, while the loop
    #: was busy: see :meth:`enter`) is taken beyond one in flight only if that wait and its
    #: turn fit in this many times ``target``. Not 1: in a loaded worker every request
    #: waits 0.1-0.4 s there, and refusing those (they come back, and cost the loop again)
    #: cut a burst's ballots/s; 2 refuses those that would be answered after ~1 s
    stale: float = 2.0
    #: the check processes this worker's casts share (0: not known; then EARLY_GUESS): the
    #: pace assumed before one is measured is CHECK_GUESS divided among them
    processes: int = 0
    #: the worker processes of the server (``viche serve --workers``), whose voters told share
    #: :attr:`queue`: a voter told by one comes back to whichever accepts her next
    #: connection, so each voter told moves the queue's end by this worker's pace divided
    #: among them (the server's pace)
    workers: int = 1
    #: the end of the queue of voters told to come back, shared by the workers
    queue: SlotQueue = field(default_factory=SlotQueue, repr=False)
    in_flight: int = 0
    told_to_retry: int = 0
    _answers: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW), repr=False)
    #: the answers of this busy spell (while busy)
    _spell_answers: int = field(default=0, repr=False)
    #: the shortest ``interval`` measured over a whole WINDOW in this busy spell (0: none yet)
    _best: float = field(default=0.0, repr=False)
    #: of the last WINDOW casts answered: the seconds each waited per cast in flight when
    #: it was taken in (itself included), i.e. the pace those in flight really met
    _met: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW), repr=False)

    @property
    def per_cast(self) -> float:
        """The seconds one more cast in flight adds to a new cast's wait: the pace of the
        answers, or the wait per cast ahead that the last casts taken in met if that was
        longer (the event loop busy with a flood of 503s, threads, anything the pace of the
        answers does not show)."""
        if not self._met:
            return self.interval
        return max(self.interval, sum(self._met) / len(self._met))

    @property
    def limit(self) -> int:
        if self.target <= 0:
            return sys.maxsize
        per = self.per_cast
        if per <= 0:
            return self.floor
        return max(self.floor, min(self.ceiling, int(self.target / per + 1e-6)))

    def enter(self, waited: float = 0.0) -> tuple[float, int]:
        """Take the cast in (returned: when, and the casts in flight with it, for
        :meth:`leave`), or raise :class:`~viche.errors.ServerBusyError` (its
        ``retry_after_ms``: the wait in milliseconds) when the worker is full.

        ``waited``: the seconds the request had already waited when it got here (in the
        kernel's accept queue: :class:`viche.web.serve.ArrivalStamps`). A cast is taken
        only if that wait and its turn behind those in flight (:attr:`per_cast` each) fit
        in :attr:`stale` times the target, or when nothing is in flight (the worker never
        idles)."""
        late = self.lag.late() if self.lag_share > 0 and self.target > 0 else 0.0
        lagging = late > self.lag_share * self.target
        room = 1 if lagging else self.limit
        if (
            waited > 0
            and self.target > 0
            and waited + (self.in_flight + 1) * self.per_cast > self.stale * self.target
        ):
            room = 1  # it would be answered late: taken only by an idle worker
        if self.in_flight < room:
            self.in_flight += 1
            now = self.clock()
            if self.in_flight == 1:
                self._answers.append(now)  # busy from now: measured from here
            return now, self.in_flight
        now = self.clock()
        # her slot: after the casts in flight, and after the voters told before her by any
        # worker of the server (the queue is theirs: one ballot's time of the server each, at
        # the pace known when each was told); she is asked to come that much earlier that
        # her client's jitter brings her back around it
        pace = self.pace
        earliest = now + self.in_flight * pace
        if lagging:  # and not before the loop has caught up what it is late by now
            earliest = max(earliest, now + late)
        at = self.queue.book(earliest, self.spacing)
        wait = max((at - now) / (1 + JITTER_MEAN), late if lagging else 0.0)
        self.told_to_retry += 1
        ms = max(MIN_WAIT_MS, math.ceil(wait * 1000))
        raise ServerBusyError(
            "the server is taking as many ballots as it can answer quickly: "
            f"send the same ballot again in {ms / 1000:.2f} s",
            where=Location(path=("request",)),
            retry_after_ms=ms,
        )

    @property
    def pace(self) -> float:
        """The seconds per ballot the times handed out assume: the guess until a pace is
        measured (CHECK_GUESS divided among the :attr:`processes`, else EARLY_GUESS), then
        the fastest pace measured over a whole WINDOW in this busy spell (a time handed out
        cannot be taken back: one computed from a slow moment would leave the worker idle
        later while the voters it told wait), never slower than the guess in the spell's
        first WARM_WINDOWS windows (a worker warming up)."""
        guess = CHECK_GUESS / self._share
        measured = self._best or self.interval or guess
        if self._spell_answers < WARM_WINDOWS * WINDOW:
            return min(measured, guess)
        return measured

    @property
    def spacing(self) -> float:
        """The seconds of the server's queue that one more voter told takes: the
        :attr:`pace`, but no slower than CHECK_SLOWEST divided among the check processes
        (a machine loaded by other work), divided among the :attr:`workers` (each takes
        its share of the voters told)."""
        return min(self.pace, CHECK_SLOWEST / self._share) / self.workers

    @property
    def _share(self) -> float:
        """The check processes the guesses are divided among (not known: as two)."""
        return self.processes if self.processes > 0 else CHECK_GUESS / EARLY_GUESS

    def leave(self, taken: tuple[float, int] | None = None) -> None:
        """The cast was answered (accepted or refused); ``taken``: what :meth:`enter`
        returned for it (its wait then counts in :attr:`per_cast`)."""
        now = self.clock()
        if taken is not None:
            self._met.append((now - taken[0]) / taken[1])
        if self.in_flight > 1:
            # busy: answers come one ballot's time apart on average (several at once when
            # they share a commit), so the pace is taken over the last WINDOW answers
            self._answers.append(now)
            self._spell_answers += 1
            if len(self._answers) >= MIN_ANSWERS:
                span = self._answers[-1] - self._answers[0]
                self.interval = max(span / (len(self._answers) - 1), 1e-4)
                if len(self._answers) == WINDOW:
                    self._best = min(self._best or self.interval, self.interval)
        self.in_flight -= 1
        if self.in_flight == 0:
            self._answers.clear()  # idle: the next busy spell is measured afresh
            self._spell_answers = 0
            self._best = 0.0
            self._met.clear()


#: what a refused cast's body is read up to, and thrown away (beyond, the connection closes)
DISCARD = 8 << 20


class AdmissionGate:
    """:class:`Admission` around every cast (``POST /api/v1/elections/{uuid}/ballots``):
    taken in, or answered 503 (V9016, ``Retry-After``) at once, its body not read (``Expect:
    100-continue``) or read and dropped (``Connection: close``), the refusal counted in the
    metrics. Other requests pass. The first cast starts the timer of the loop's lag."""

    def __init__(self, app: ASGIApp, *, admission: Admission, metrics: Metrics) -> None:
        self.app = app
        self.admission = admission
        self.metrics = metrics
        self._loop: asyncio.AbstractEventLoop | None = None

    def _watch_lag(self) -> None:
        """Keep the timer of :class:`LoopLag` going on this event loop (a test may run the
        app in several loops, one after the other: the timer follows the current one)."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        lag = self.admission.lag

        def tick() -> None:
            lag.fired()
            if not loop.is_closed():
                loop.call_later(lag.period, tick)

        lag.due = None
        tick()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not CAST_PATH.fullmatch(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        if self.admission.lag_share > 0:
            self._watch_lag()
        arrived = scope.get("extensions", {}).get(ARRIVED, {}).get("at")
        waited = 0.0 if arrived is None else max(0.0, time.monotonic() - arrived)
        try:
            taken = self.admission.enter(waited)
        except ServerBusyError as exc:  # nothing checked, nothing written
            answer = error_response(exc)
            if _expects_continue(scope):  # the body is not sent: the connection stays
                del answer.headers["connection"]
            else:
                await _discard_body(receive)
            self.metrics.cast(time.perf_counter() - start, exc.code)
            await answer(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.leave(taken)


def _expects_continue(scope: Scope) -> bool:
    """The client waits for ``100 Continue`` before it sends the body."""
    return any(
        name == b"expect" and value.lower() == b"100-continue" for name, value in scope["headers"]
    )


async def _discard_body(receive: Receive) -> None:
    """Read and drop the body of a request answered before it was read: the client then
    reads the answer (a server that answers and closes while the body is still coming
    resets the connection, and the client may never see the answer)."""
    seen = 0
    while seen <= DISCARD:
        message: Message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
