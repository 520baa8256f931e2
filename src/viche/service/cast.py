"""Casting a ballot: the voting server's use case (and ``viche archive add-ballot``).

:func:`cast_ballot` checks a ballot fully, then appends it under the store's lock with the
head it checked against, so that two servers (or two processes) casting at once can never
both pass the replay check with the same ballot. A refused ballot changes nothing.

Its cost does not grow with the number of ballots already cast: the cryptographic checks
use the parsed setup (and the powers each ballot needs computed together,
:func:`~viche.verify.prefill.check_ballot_fast`), and the phase, replay and re-vote
questions are index look-ups (:class:`~viche.record.store.ElectionStore`). Under the lock
only those look-ups and the append run: the chain head is read once and the append expects
it.

Group commit (stores that can :class:`~viche.record.store.BatchAppend`, the SQL board):
the ballots of this process that finished their checks while an append was running are
appended together, in arrival order, in one transaction with one flush to disk, under one
hold of the election's lock (:meth:`~viche.record.store.BatchAppend.casting`: the look-ups
of the whole batch, one per question, and the append, in one transaction). Each keeps its
own checks, in order, against the record *and* the ballots before it in the batch: the
phase and the scheduled closing time (at the moment of the append: a ballot whose check
ended after the closing time is refused even before the close is written), audited (an
audit takes the same lock: an audited ballot is never cast), replay (a replay within the
batch is refused too) and re-vote (two ballots of one credential are appended one after
the other, the second a re-vote). Nobody is answered before the commit that holds their
ballot returned; a failed commit fails every ballot of its batch and writes none of them.
The first caller to find no append running leads: it commits what is queued, then hands
the lead to the next waiting caller, so no caller waits for more than the batch in flight
and its own.

A caller on an event loop (the voting server: :func:`append_checked_queued`) holds no
thread while it waits: its ballot is queued with a future of its loop, resolved (one
wake-up of the loop per batch) once the commit that holds it returned. The first of them
to find no append running starts a commit thread (the loop's default executor) that
commits batch after batch until the queue is empty; it is never handed the lead, so a
cancelled caller cannot leave the queue without a leader (its ballot is still committed,
as a thread's would be). (A thread woken per cast to wait for its commit, then woken
again, cost the worker more CPU than the commit's Python: bench/serve_ingest/README.md,
loop7.)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from viche.errors import NOWHERE, Location, PhaseError, ReplayedBallotError
from viche.protocol.ballot import CheckedBallot, CheckedFacts
from viche.record.events import EventType
from viche.record.store import BatchAppend, ChainHead, StoredBallot
from viche.service.archive import VOTING, ElectionRecord
from viche.service.audit import audited_error
from viche.service.schedule import refuse_after_close
from viche.verify.prefill import check_ballot_fast

#: a checked ballot: the whole :class:`CheckedBallot`, or the facts a check process sent
C = TypeVar("C", bound=CheckedFacts)


@dataclass(frozen=True)
class Accepted:
    """What the record accepted: the smart ballot tracker, the Ballot event's hash and
    height, whether it replaces an earlier ballot of the same credential, its weight."""

    tracker: str
    event_hash: str
    height: int
    revote: bool
    weight: int


def check_phase(state: ElectionRecord, head: ChainHead | None = None) -> None:
    """Ballots are accepted only until EndBallots (``head``: the chain head, when the
    caller has just read it)."""
    if head is None:
        head = state.store.head()
    if head.type not in VOTING:
        raise PhaseError(
            f"the vote is closed ({head.type.value} is in the record)",
            where=state.where.at(event=head.height),
        )


def _replayed(tracker: str, height: int) -> ReplayedBallotError:
    return ReplayedBallotError(
        f"this exact ballot is already in the record (event {height}); "
        "a replayed ballot is refused",
        where=Location(ballot=tracker),
    )


def check_not_replayed(state: ElectionRecord, checked: CheckedFacts) -> None:
    """A ballot identical to one already in the record is refused."""
    prior = state.store.ballot_by_hash(checked.hex_hash)
    if prior is not None:
        raise _replayed(checked.tracker, prior.height)


def check_new_ballot(
    state: ElectionRecord, raw: bytes, source: Location = NOWHERE
) -> CheckedBallot:
    """Every check of a new ballot against the record, in the voting server's order: the
    phase, then the ballot itself (size, canonical form, election, credential on the list,
    answers, group membership, signature, proofs), then replays. ``source`` (e.g. the file
    name) starts the ``where`` of errors."""
    check_phase(state)
    checked = check_ballot_fast(state.election, raw, state.credentials, source)
    check_not_replayed(state, checked)
    return checked


def cast_ballot(
    state: ElectionRecord,
    raw: bytes,
    source: Location = NOWHERE,
    *,
    guard: Callable[[CheckedBallot], None] | None = None,
    then: Callable[[CheckedBallot, Accepted], None] | None = None,
) -> Accepted:
    """Check ``raw`` fully and append it; on any failure nothing is written.

    The proofs are checked before the lock is taken (they take the time); the phase and
    the replay check are repeated under the lock, against the head the append then
    expects. A caller's rules beyond Belenios's (a national event's station locks,
    :mod:`viche.event.channels`) run under the same lock: ``guard`` before the append (it
    raises to refuse the ballot), ``then`` after it (e.g. to log the lock a station vote
    sets), so that no other ballot comes between. Without them, on a
    :class:`~viche.record.store.BatchAppend` store the append is a group commit (module
    docstring)."""
    check_phase(state)
    checked = check_ballot_fast(state.election, raw, state.credentials, source)
    return append_checked(state, checked, guard=guard, then=then)


def append_checked(
    state: ElectionRecord,
    checked: C,
    *,
    guard: Callable[[C], None] | None = None,
    then: Callable[[C, Accepted], None] | None = None,
) -> Accepted:
    """The second half of :func:`cast_ballot`: append a ballot that passed
    :func:`check_ballot_fast` (or :func:`check_new_ballot`), with the phase, replay and
    re-vote checks (and ``guard`` and ``then``) under the lock."""
    raw = checked.raw
    store = state.store
    if isinstance(store, BatchAppend) and guard is None and then is None:
        return _committer(store).submit(state, checked)
    with store.locked():
        head = store.head()
        check_phase(state, head)
        check_not_replayed(state, checked)
        if guard is not None:
            guard(checked)
        revote = store.last_ballot(checked.credential) is not None
        head = store.append(
            EventType.BALLOT,
            [raw],
            expected_head=head.hash,
            ballot=StoredBallot(0, "", checked.hex_hash, checked.credential),
        )
        accepted = Accepted(checked.tracker, head.hash, head.height, revote, checked.weight)
        if then is not None:
            then(checked, accepted)
    state.refresh()
    return accepted


async def append_checked_queued(state: ElectionRecord, checked: CheckedFacts) -> Accepted:
    """:func:`append_checked` (without ``guard`` or ``then``) for a caller on an event loop:
    on a :class:`~viche.record.store.BatchAppend` store it waits for its group commit on the
    loop, holding no thread (module docstring); other stores append in a thread of the
    loop's default executor."""
    store = state.store
    if isinstance(store, BatchAppend):
        return await _committer(store).submit_queued(state, checked)
    return await asyncio.get_running_loop().run_in_executor(None, append_checked, state, checked)


@dataclass(eq=False)
class _Pending:
    """A checked ballot waiting for the group commit, and its answer once decided: a thread
    waits on ``wake``, a caller on an event loop on ``answered``."""

    checked: CheckedFacts
    wake: threading.Event = field(default_factory=threading.Event)
    answered: asyncio.Future[None] | None = None
    lead: bool = False
    finished: bool = False
    result: Accepted | None = None
    error: BaseException | None = None

    def outcome(self) -> Accepted:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class _Committer:
    """The group commit of one election store in this process (leader and followers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False

    def submit(self, state: ElectionRecord, checked: CheckedFacts) -> Accepted:
        mine = self._enter(_Pending(checked))
        if not mine.lead:
            mine.wake.wait()
        if not mine.finished:  # asked to lead: commit the queue, this ballot with it
            self._lead(state, drain=False)
        return mine.outcome()

    async def submit_queued(self, state: ElectionRecord, checked: CheckedFacts) -> Accepted:
        loop = asyncio.get_running_loop()
        mine = self._enter(_Pending(checked, answered=loop.create_future()))
        if mine.lead:  # nobody commits: a commit thread, until the queue is empty
            try:
                loop.run_in_executor(None, self._lead, state, True)
            except RuntimeError:  # the loop's executor is shut down (the loop stopping)
                threading.Thread(target=self._lead, args=(state, True), daemon=True).start()
        assert mine.answered is not None
        await mine.answered
        return mine.outcome()

    def _enter(self, mine: _Pending) -> _Pending:
        with self._lock:
            self._queue.append(mine)
            if not self._leading:
                self._leading = mine.lead = True
        return mine

    def _lead(self, state: ElectionRecord, drain: bool) -> None:
        """Commit the queue; then hand the lead to the next caller if it is a waiting
        thread, else go on (``drain``: a commit thread) or start a commit thread."""
        while True:
            with self._lock:
                batch, self._queue = self._queue, []
            try:
                _commit(state, batch)
            finally:
                _finish(batch)
                with self._lock:
                    following = self._queue[0] if self._queue else None
                    if following is None:
                        self._leading = False
                    elif following.answered is None:  # a thread waits: it leads
                        following.lead = True
                        following.wake.set()
                    elif not drain:  # callers on event loops: a commit thread for them
                        threading.Thread(
                            target=self._lead, args=(state, True), name="viche-commit", daemon=True
                        ).start()
            if following is None or following.answered is None or not drain:
                return


_committers: weakref.WeakKeyDictionary[BatchAppend, _Committer] = weakref.WeakKeyDictionary()
_committers_lock = threading.Lock()


def _committer(store: BatchAppend) -> _Committer:
    with _committers_lock:
        found = _committers.get(store)
        if found is None:
            found = _committers[store] = _Committer()
        return found


def _finish(batch: list[_Pending]) -> None:
    """The batch's commit returned (or failed): wake its threads, resolve its futures (one
    call per event loop)."""
    loops: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for p in batch:
        p.finished = True
        if p.answered is None:
            p.wake.set()
        else:
            loops.setdefault(p.answered.get_loop(), []).append(p.answered)
    for loop, answered in loops.items():
        with contextlib.suppress(RuntimeError):  # the loop was closed: nobody waits
            loop.call_soon_threadsafe(_resolve, answered)


def _resolve(answered: list[asyncio.Future[None]]) -> None:
    for future in answered:
        if not future.done():  # done: its caller was cancelled
            future.set_result(None)


def _commit(state: ElectionRecord, batch: list[_Pending]) -> None:
    """Check each ballot of ``batch`` in order under the lock, append those that pass in one
    transaction; every pending gets its result (once the commit returned) or its error.

    Under the lock, in the transaction, for the whole batch at once: the phase, the
    scheduled closing time (a ballot whose check ended after it is refused even if the
    close is not written yet), then per ballot: audited (never cast), replayed (in the
    record or earlier in the batch), re-vote (in the record or earlier in the batch)."""
    store = state.store
    assert isinstance(store, BatchAppend)
    done: list[tuple[_Pending, Accepted]] = []
    try:
        with store.casting(
            [p.checked.hex_hash for p in batch], [p.checked.credential for p in batch]
        ) as tx:
            check_phase(state, tx.head)  # ballots do not change the phase
            refuse_after_close(state.election.uuid, tx.close_at, time.time())
            audited, recorded, voted = tx.found
            taken: list[tuple[_Pending, bool]] = []
            seen: set[str] = set()
            for p in batch:
                c = p.checked
                if c.hex_hash in audited:
                    p.error = audited_error(c.tracker)
                elif c.hex_hash in recorded:
                    p.error = _replayed(c.tracker, recorded[c.hex_hash])
                elif c.hex_hash in seen:
                    p.error = ReplayedBallotError(
                        "this exact ballot was just cast; a replayed ballot is refused",
                        where=Location(ballot=c.tracker),
                    )
                else:
                    taken.append((p, c.credential in voted))
                    seen.add(c.hex_hash)
                    voted.add(c.credential)
            if taken:
                heads = tx.append_ballots(
                    [
                        (
                            p.checked.raw,
                            StoredBallot(0, "", p.checked.hex_hash, p.checked.credential),
                        )
                        for p, _ in taken
                    ],
                    expected_head=tx.head.hash,
                )
                for (p, revote), h in zip(taken, heads, strict=True):
                    c = p.checked
                    done.append((p, Accepted(c.tracker, h.hash, h.height, revote, c.weight)))
        for p, accepted in done:  # the transaction committed: now they are durable
            p.result = accepted
    except BaseException as exc:  # nothing of the batch was written: each gets the failure
        for p in batch:
            if p.result is None and p.error is None:
                p.error = exc
        if not isinstance(exc, Exception):
            raise
    finally:
        state.refresh()
