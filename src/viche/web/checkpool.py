"""The ballot checks of a ``viche serve`` worker, in processes of their own.

A worker process serves HTTP on one event loop; a ballot's check (~4 ms of CPU) runs
mostly in the C engine without the GIL, but its Python parts (parsing, hashing, planning
the powers: ~2 ms) hold it, and every callback of the event loop (each accept, each read,
each answer) then waits its turn for the GIL (bench/serve_ingest/README.md). Here the
checks run in a pool of small processes started with the worker (:class:`CheckPool`), so
that the worker's own process does only HTTP, the login, the binding of the ballot to the
voter, the group commit and the receipt.

Each check process receives ``(election uuid, ballot bytes, setup)``, the setup (the
election's and the public credentials' bytes) only the first time it sees that election:
it parses them once and builds the tables of g and y (:func:`~viche.verify.ballots.init_worker`'s
work, per election), then runs the unchanged
:func:`~viche.verify.prefill.check_ballot_fast` and sends back either the refusal (the
:class:`~viche.errors.VicheError` itself, its class, code, message and location kept) or
the few facts the binding and the append need (:class:`Verdict`; the parsed ballot stays
there). A ballot is therefore refused with exactly the error, code and location of an
in-process check.

A cast that needs a check waits for it on the worker's event loop, holding no thread:
it takes a free process, in the order the casts came (a process given back goes to the
first waiter), writes the request to its pipe, and the loop reads the answer when the
pipe becomes readable (``add_reader``). (A thread blocked on the pipe for the check's
~5 ms cost the worker ~0.15 ms of CPU per ballot to wake up again, ten times the exchange
itself: bench/serve_ingest/README.md, wcpu7 and loop7.) A process that dies (or does not
answer within :data:`CHECK_TIMEOUT`) is killed and replaced by a new one, and the cast
whose check it held is answered 503 (:class:`~viche.errors.ServerBusyError`, V9016:
nothing was written; the client sends the same ballot again). Nothing acknowledged
depends on a check process: the append and the receipt stay in the worker, after the
answer. A process is replaced on the event loop (a few milliseconds, and only when one
died or hung).

The processes start from a fork server (``forkserver``: never a fork of the worker, which
runs threads and an event loop), ignore Ctrl-C (the worker shuts them down), and end when
the worker closes their pipe, at shutdown, or when it dies (even by SIGKILL): a process
waiting for a request then reads the end of its pipe and exits, one in the middle of a
check exits when it cannot send the answer.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TypeAlias

from viche.errors import Location, ServerBusyError, VicheError
from viche.protocol.election import Election, PublicCredentials
from viche.service.archive import ElectionRecord
from viche.verify.ballots import warm_tables
from viche.verify.prefill import check_ballot_fast

#: seconds a check may take before its process is taken for stuck, killed and replaced
#: (a check takes milliseconds; the first of an election also parses its setup)
CHECK_TIMEOUT = 60.0
#: seconds a process is given to end after its pipe is closed, before it is killed
STOP_TIMEOUT = 5.0
#: what a voter whose check was lost with its process is told to wait before sending again
RETRY_MS = 200


@dataclass(frozen=True)
class Verdict:
    """What a check process answers for a ballot that passed every check: what binding it
    to the voter and appending it need (:class:`~viche.protocol.ballot.CheckedFacts`)."""

    raw: bytes
    tracker: str
    hex_hash: str
    credential: str
    weight: int


def check_processes(workers: int, cores: int | None = None) -> int:
    """The check processes of each of ``workers`` worker processes: one per core available
    to the server, shared out among the workers (at least one each)."""
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - non-Linux
            cores = os.cpu_count() or 1
    return max(1, cores // max(1, workers))


# ---------------------------------------------------------------------- the check process


Request = tuple[str, bytes | None, tuple[bytes, bytes] | None]
Answer = tuple[str, str, str, int] | VicheError | str | None


def serve_checks(conn: Connection) -> None:
    """A check process: answer requests until the pipe ends (the worker closed it or died).

    A request ``(uuid, raw, setup)``: ``setup`` (the election's and the credentials' bytes)
    when the process has not seen the election; ``raw`` None only loads it (the answer is
    None). The answer: ``(tracker, hex_hash, credential, weight)``, the refusal (a
    :class:`~viche.errors.VicheError`), or the text of an unexpected failure."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops us
    gc.freeze()  # the modules the fork server loaded: shared pages, never traversed
    elections: dict[str, tuple[Election, PublicCredentials]] = {}
    while True:
        try:
            uuid, raw, setup = conn.recv()
        except (EOFError, OSError):
            return
        answer: Answer
        try:
            if setup is not None:
                election = Election.from_bytes(setup[0])
                warm_tables(election)
                elections[uuid] = (election, PublicCredentials.from_bytes(setup[1]))
            if raw is None:
                answer = None
            else:
                election, credentials = elections[uuid]
                checked = check_ballot_fast(election, raw, credentials)
                answer = (checked.tracker, checked.hex_hash, checked.credential, checked.weight)
        except VicheError as exc:
            answer = exc
        except Exception:  # a bug: the worker answers 500 with this text in its log
            answer = traceback.format_exc()
        try:
            conn.send(answer)
        except OSError:  # the worker is gone
            return


# ---------------------------------------------------------------------- the worker's side


class _LostError(Exception):
    """The check process died, or did not answer in time."""


class _Checker:
    """One check process, its pipe and the elections it has loaded."""

    def __init__(self, ctx: multiprocessing.context.BaseContext) -> None:
        ours, theirs = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(  # type: ignore[attr-defined]
            target=serve_checks, args=(theirs,), name="viche-check", daemon=True
        )
        self.process.start()
        theirs.close()
        self.conn = ours
        self.loaded: set[str] = set()

    def load(self, uuid: str, setup: tuple[bytes, bytes]) -> None:
        """Load an election before the first voter comes (the pool's start, in a thread)."""
        self.conn.send((uuid, None, setup))
        if not self.conn.poll(CHECK_TIMEOUT):
            raise _LostError(f"no answer within {CHECK_TIMEOUT:.0f} s")
        if self.conn.recv() is None:  # else its first ballot sends the setup again
            self.loaded.add(uuid)

    def stop(self, wait: float = STOP_TIMEOUT) -> None:
        """Close the pipe (the process ends), kill it if it has not within ``wait``."""
        self.conn.close()
        self.process.join(wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


#: a cast waiting for a free check process (its result: the process; None: the pool closed)
Turn: TypeAlias = "asyncio.Future[_Checker | None]"


class _Exchange:
    """One request on a check process's pipe, answered on the event loop that sent it.

    It ends by itself whatever becomes of the cast that asked (even one cancelled
    meanwhile): the answer read gives the process back to the pool, the end of the pipe
    or :data:`CHECK_TIMEOUT` replace it; ``answered`` then gets the answer, or
    :class:`_LostError`."""

    def __init__(
        self,
        pool: CheckPool,
        checker: _Checker,
        uuid: str,
        request: Request,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.pool = pool
        self.checker = checker
        self.uuid = uuid
        self.answered: asyncio.Future[Answer] = self.loop.create_future()
        try:
            checker.conn.send(request)
        except OSError as exc:  # died since it was taken
            self._lost(str(exc) or type(exc).__name__)
            return
        self.fd = checker.conn.fileno()
        self.timer = self.loop.call_later(CHECK_TIMEOUT, self._expired)
        self.loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            answer: Answer = self.checker.conn.recv()
        except (EOFError, OSError) as exc:
            self._end()
            self._lost(str(exc) or type(exc).__name__)
            return
        self._end()
        self.checker.loaded.add(self.uuid)
        self.pool._give(self.checker)  # free again: the first waiter's turn
        if not self.answered.done():  # done: the cast was cancelled meanwhile
            self.answered.set_result(answer)

    def _expired(self) -> None:
        self._end()
        self._lost(f"no answer within {CHECK_TIMEOUT:.0f} s")

    def _end(self) -> None:
        self.timer.cancel()
        self.loop.remove_reader(self.fd)

    def _lost(self, why: str) -> None:
        self.pool._give(self.pool._replace(self.checker))
        if not self.answered.done():
            self.answered.set_exception(_LostError(why))


class CheckPool:
    """``processes`` check processes of one worker (module docstring): :meth:`check`
    waits on the caller's event loop for a free process, then for its answer."""

    def __init__(self, processes: int) -> None:
        if processes < 1:
            raise ValueError("a check pool has at least one process")
        self.processes = processes
        # the pool's state may be touched from several threads (the lifespan closes it
        # from one; a test may check ballots from several event loops)
        self._lock = threading.Lock()
        self._free: deque[_Checker] = deque()  # the longest idle first
        self._waiting: deque[Turn] = deque()
        self._all: list[_Checker] = []
        self._ctx: multiprocessing.context.BaseContext | None = None
        self._closed = False
        #: check processes replaced since the start (one died or hung)
        self.replaced = 0

    def start(self, records: Iterable[ElectionRecord] = ()) -> None:
        """Start the processes, each loading ``records`` (the elections open now) before
        the first voter comes (blocks: called in a thread)."""
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        self._ctx = ctx
        checkers = [_Checker(ctx) for _ in range(self.processes)]
        with self._lock:
            self._all = list(checkers)
            self._free = deque(checkers)
        for record in records:
            for checker in checkers:
                checker.load(record.election.uuid, _setup(record))

    async def check(self, record: ElectionRecord, raw: bytes) -> Verdict:
        """Every check of ``raw`` (:func:`~viche.verify.prefill.check_ballot_fast`) in a
        check process: its verdict, or its refusal raised here. A check lost with its
        process raises :class:`~viche.errors.ServerBusyError` (the process is replaced)."""
        uuid = record.election.uuid
        checker = await self._take()
        if not checker.process.is_alive():  # died while idle: replaced, the cast goes on
            checker = self._replace(checker)
        setup = None if uuid in checker.loaded else _setup(record)
        try:
            answer = await _Exchange(self, checker, uuid, (uuid, raw, setup)).answered
        except _LostError as exc:
            raise ServerBusyError(
                f"the ballot's check was interrupted ({exc}); nothing was written: "
                "send the same ballot again",
                where=Location(path=("ballot",)),
                retry_after_ms=RETRY_MS,
            ) from None
        if isinstance(answer, VicheError):
            raise answer
        if not isinstance(answer, tuple):
            raise RuntimeError(f"the ballot's check failed in its process:\n{answer}")
        tracker, hex_hash, credential, weight = answer
        return Verdict(raw, tracker, hex_hash, credential, weight)

    def pids(self) -> list[int]:
        """The check processes' ids (now)."""
        with self._lock:
            return [c.process.pid for c in self._all if c.process.pid is not None]

    def close(self) -> None:
        """Stop every process (one in use is stopped when its check is answered); casts
        still waiting for one are told the server is busy."""
        with self._lock:
            self._closed = True
            free, self._free = list(self._free), deque()
            waiting, self._waiting = list(self._waiting), deque()
        for turn in waiting:
            self._hand(turn, None)
        for checker in free:
            checker.stop()

    async def _take(self) -> _Checker:
        with self._lock:
            if self._free:
                return self._free.popleft()
            turn: Turn | None = None
            if not self._closed:
                turn = asyncio.get_running_loop().create_future()
                self._waiting.append(turn)
        checker: _Checker | None = None
        if turn is not None:
            try:
                checker = await turn  # set by the cast that gives its process back
            except asyncio.CancelledError:
                with self._lock:
                    if turn in self._waiting:
                        self._waiting.remove(turn)
                handed = turn.result() if turn.done() and not turn.cancelled() else None
                if handed is not None:  # handed over as the cast was cancelled
                    self._give(handed)
                raise
        if checker is None:  # the pool was closed
            raise ServerBusyError(
                "the server is stopping", where=Location(path=("ballot",)), retry_after_ms=1000
            )
        return checker

    def _give(self, checker: _Checker) -> None:
        turn = None
        with self._lock:
            closed = self._closed
            if not closed:
                if self._waiting:
                    turn = self._waiting.popleft()
                else:
                    self._free.append(checker)
        if turn is not None:
            self._hand(turn, checker)
        elif closed:
            checker.stop(0)  # idle: it has nothing left to answer

    def _hand(self, turn: Turn, checker: _Checker | None) -> None:
        """Give ``turn`` its process (None: the pool closed), on the turn's event loop."""
        loop = turn.get_loop()
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._settle(turn, checker)
        else:
            loop.call_soon_threadsafe(self._settle, turn, checker)

    def _settle(self, turn: Turn, checker: _Checker | None) -> None:
        if not turn.done():
            turn.set_result(checker)
        elif checker is not None:  # its cast was cancelled: the next waiter's
            self._give(checker)

    def _replace(self, lost: _Checker) -> _Checker:
        """A new process in the place of ``lost`` (killed first); ``lost`` again if none
        can be started now (its next use fails at once and tries again)."""
        lost.process.kill()
        lost.stop(0)
        assert self._ctx is not None
        if self._closed:
            return lost
        try:
            fresh = _Checker(self._ctx)
        except OSError:
            return lost
        with self._lock:
            self._all = [fresh if c is lost else c for c in self._all]
            self.replaced += 1
        return fresh


def _setup(record: ElectionRecord) -> tuple[bytes, bytes]:
    return record.election.raw, record.credentials.raw
