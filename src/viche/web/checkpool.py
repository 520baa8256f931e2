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

The casting thread that needs a check takes a free process, in the order the threads came
(a slot given back goes to the first waiter), writes the request to its pipe and waits for
the answer without the GIL. A process that dies (or does not answer within
:data:`CHECK_TIMEOUT`) is killed and replaced by a new one, and the cast whose check it
held is answered 503 (:class:`~viche.errors.ServerBusyError`, V9016: nothing was written;
the client sends the same ballot again). Nothing acknowledged depends on a check process:
the append and the receipt stay in the worker, after the answer.

The processes start from a fork server (``forkserver``: never a fork of the worker, which
runs threads and an event loop), ignore Ctrl-C (the worker shuts them down), and end when
the worker closes their pipe, at shutdown, or when it dies (even by SIGKILL): a process
waiting for a request then reads the end of its pipe and exits, one in the middle of a
check exits when it cannot send the answer.
"""

from __future__ import annotations

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

    def ask(self, uuid: str, raw: bytes | None, setup: tuple[bytes, bytes] | None) -> Answer:
        try:
            self.conn.send((uuid, raw, setup))
            if not self.conn.poll(CHECK_TIMEOUT):
                raise _LostError(f"no answer within {CHECK_TIMEOUT:.0f} s")
            answer: Answer = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise _LostError(str(exc) or type(exc).__name__) from None
        self.loaded.add(uuid)
        return answer

    def stop(self, wait: float = STOP_TIMEOUT) -> None:
        """Close the pipe (the process ends), kill it if it has not within ``wait``."""
        self.conn.close()
        self.process.join(wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class _Turn:
    """A thread waiting for a check process: released with one."""

    def __init__(self) -> None:
        self.ready = threading.Lock()
        self.ready.acquire()
        self.checker: _Checker | None = None


class CheckPool:
    """``processes`` check processes of one worker (module docstring), used from threads:
    :meth:`check` blocks until a process is free, then until its answer."""

    def __init__(self, processes: int) -> None:
        if processes < 1:
            raise ValueError("a check pool has at least one process")
        self.processes = processes
        self._lock = threading.Lock()
        self._free: deque[_Checker] = deque()  # the longest idle first
        self._waiting: deque[_Turn] = deque()
        self._all: list[_Checker] = []
        self._ctx: multiprocessing.context.BaseContext | None = None
        self._closed = False
        #: check processes replaced since the start (one died or hung)
        self.replaced = 0

    def start(self, records: Iterable[ElectionRecord] = ()) -> None:
        """Start the processes, each loading ``records`` (the elections open now) before
        the first voter comes."""
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        self._ctx = ctx
        checkers = [_Checker(ctx) for _ in range(self.processes)]
        with self._lock:
            self._all = list(checkers)
            self._free = deque(checkers)
        for record in records:
            for checker in checkers:
                checker.ask(record.election.uuid, None, _setup(record))

    def check(self, record: ElectionRecord, raw: bytes) -> Verdict:
        """Every check of ``raw`` (:func:`~viche.verify.prefill.check_ballot_fast`) in a
        check process: its verdict, or its refusal raised here. A check lost with its
        process raises :class:`~viche.errors.ServerBusyError` (the process is replaced)."""
        uuid = record.election.uuid
        checker = self._take()
        if not checker.process.is_alive():  # died while idle: replaced, the cast goes on
            checker = self._replace(checker)
        try:
            setup = None if uuid in checker.loaded else _setup(record)
            answer = checker.ask(uuid, raw, setup)
        except _LostError as exc:
            checker = self._replace(checker)
            raise ServerBusyError(
                f"the ballot's check was interrupted ({exc}); nothing was written: "
                "send the same ballot again",
                where=Location(path=("ballot",)),
                retry_after_ms=RETRY_MS,
            ) from None
        finally:
            self._give(checker)
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
        """Stop every process (one in use is stopped when its check is answered); threads
        still waiting for one are told the server is busy."""
        with self._lock:
            self._closed = True
            free, self._free = list(self._free), deque()
            waiting, self._waiting = list(self._waiting), deque()
        for turn in waiting:
            turn.ready.release()
        for checker in free:
            checker.stop()

    def _take(self) -> _Checker:
        turn = _Turn()
        with self._lock:
            if self._free:
                return self._free.popleft()
            wait = not self._closed
            if wait:
                self._waiting.append(turn)
        if wait:
            turn.ready.acquire()  # released by the thread that hands its process over
        if turn.checker is None:  # the pool was closed
            raise ServerBusyError(
                "the server is stopping", where=Location(path=("ballot",)), retry_after_ms=1000
            )
        return turn.checker

    def _give(self, checker: _Checker) -> None:
        with self._lock:
            closed = self._closed
            if not closed:
                if self._waiting:
                    turn = self._waiting.popleft()
                    turn.checker = checker
                    turn.ready.release()
                else:
                    self._free.append(checker)
        if closed:
            checker.stop()

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
