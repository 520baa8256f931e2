"""The streaming verifier (specification 3.5.1 and 3.5.2): every audit of a public record in
bounded memory.

:func:`verify_record` reads a ``.bel`` archive (or a directory holding one) and runs:

* ``record.chain`` — tar layout, member hashes, event chain and order (the archive reader);
* ``setup.election`` — the election is well formed and its group is one of the two known;
* ``setup.trustees`` — every proof of knowledge, certificate and coefexps signature, the
  verification keys Π_i Π_k A_ik^(j^k);
* ``setup.public_key`` — the election key is the product of the trustees' sub-keys;
* ``setup.credentials`` — group members, distinct, weights well formed;
* ``setup.setup_data`` — setup_data names the three setup members;
* ``ballots`` — every ballot (canonical, uuid, election hash, known credential, weight, every
  proof, signature), in parallel;
* ``ballots.replay`` — a ballot identical to an earlier Ballot event (belenios-tool accepts
  it and lets it override the voter's later ballot; Viche rejects it);
* ``tally.encrypted`` — the encrypted tally recomputed from the last ballot per credential
  (:func:`~viche.protocol.tally.compute_encrypted_tally`), sizes and canonical bytes;
* ``shuffles`` — every Shuffle proof against the previous non-homomorphic rows, owner ids,
  EndShuffles before decryption (:mod:`viche.verify.shuffles`);
* ``decryption.partial`` — every partial decryption proof against the right trustee key
  (:func:`~viche.protocol.tally.check_partial_decryption`);
* ``result`` — the published result against the combined factors, Lagrange for threshold
  (:func:`~viche.protocol.tally.check_result`).

Checks that do not depend on a failed one still run; the report names every failure.

Streaming, bounded memory
-------------------------
:func:`verify_record` never holds the archive: a national election has millions of ballots
of tens of kilobytes each. Its memory is O(number of credentials + chunks in flight):

* **Pass 1** reads the archive once with :class:`~viche.record.reader.ArchiveStream` (the
  same tar, hash, chain and order checks as :func:`read_archive`). The setup members come
  first (event 0) and are checked at once; the process pool then starts, and each ballot
  is put in a chunk that goes to the pool as soon as it is full
  (:class:`~viche.verify.stream.Pipeline`: at most 4 chunks per worker in flight, results
  folded in archive order, so the failures come in archive order). What is
  kept per ballot is its 32-byte SHA-256 and height (replay detection needs every earlier
  ballot's hash) and, per credential, ``(index, hash, weight)`` of its last ballot: that
  is last(B), spec 4.15. The events after the ballots (encrypted tally, shuffles, partial
  decryptions, result: a few per trustee) are kept.
* **The tally without keeping ballots.** A worker has each ballot parsed anyway: it also
  returns, per chunk, the product of ``choice^weight`` of the chunk's *candidates* (known
  credential, with a weight; valid or not), plus their NH ciphertexts and
  tally errors by ballot index (:mod:`viche.verify.counting`). The main process keeps the
  running product of every candidate (:class:`~viche.verify.counting.RunningTally`); when
  a credential votes again, its earlier ballot is marked *superseded* (its NH ciphertexts
  and error dropped, its index, hash and weight noted). At the end the tally is the
  running product divided by the product of the superseded ballots: **pass 2** reads the
  archive again only for those (none in an election without revotes), each compared with
  pass 1 by hash (a file replaced in between is a ``record.chain`` failure, never a wrong
  tally). In the group Z_p^* the division is exact; if a superseded ballot has a component
  ≡ 0 mod p (it failed its checks, but it was a candidate), nothing can be divided and the
  counted ballots are read again and multiplied instead. :mod:`viche.verify.counting`
  explains why the product, the sorted NH rows and even the first :class:`TallyError` are
  those of :func:`compute_encrypted_tally` on last(B).

Memory: the credentials, 32 bytes + a few words per ballot for the replay set, one entry
per credential, one per revote, the NH ciphertexts of the counted ballots (which the tally
itself lists), the chunks in flight, and the post-ballot events. Dividing out rather than
re-reading every counted ballot means that an election without revotes is read once and no
ballot is parsed a second time for the tally (the reference verifier parses every counted
ballot again, in the main process).

A record that cannot be read to its end gives the report of
:func:`~viche.verify.checks.unreadable_report`: ``record.chain`` failed, every other check
not applicable (what pass 1 found before the error is dropped).
:func:`~viche.verify.reference.verify_record_in_memory` holds the whole record in memory
and gives the same report; this verifier is tested against it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from viche.errors import (
    ChainError,
    Location,
    MissingFileError,
    ReplayedBallotError,
    StorageError,
    VicheError,
)
from viche.protocol.election import Election, PublicCredentials
from viche.protocol.tally import EncryptedTally
from viche.protocol.trustees import Trustees
from viche.record import ArchiveStream, OwnedEntry, RecordEvent, ResultEntry, TallyEntry
from viche.record.chain import owned_owner
from viche.record.events import EventType
from viche.verify.ballots import (
    BallotOutcome,
    check_and_count,
    check_count_chunk,
    default_jobs,
    tally_chunk,
)
from viche.verify.checks import Progress, Run, ballot_failure, unreadable_report
from viche.verify.counting import (
    ChunkTally,
    CountedItem,
    RunningTally,
    TallyAccumulator,
    TallyPart,
    tally_part,
)
from viche.verify.report import VerificationReport
from viche.verify.setup import SetupBytes, check_setup
from viche.verify.stream import Pipeline, WorkerPool
from viche.verify.tally import ComputeTally, check_tail, check_tally


class _Unreadable(Exception):  # noqa: N818 (a control-flow signal, not an error type)
    """The archive could not be read to its end (carries the reader's error). Not a
    :class:`VicheError`, so that no check's ``except VicheError`` swallows it."""

    def __init__(self, error: VicheError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class _Tail:
    """The events after the ballots, kept from the first pass (a :class:`RecordTail`)."""

    encrypted_tally: TallyEntry | None = None
    shuffles: list[OwnedEntry] = field(default_factory=list)
    end_shuffles: RecordEvent | None = None
    partial_decryptions: list[OwnedEntry] = field(default_factory=list)
    result: ResultEntry | None = None


def _events(stream: ArchiveStream) -> Iterator[RecordEvent]:
    """The stream's events; a reader error becomes :class:`_Unreadable`."""
    it = iter(stream)
    while True:
        try:
            ev = next(it)
        except StopIteration:
            return
        except VicheError as exc:
            raise _Unreadable(exc) from None
        yield ev


def _open(path: str | Path, stack: ExitStack) -> ArchiveStream:
    try:
        stream = ArchiveStream(path)  # MissingFileError, StorageError go to the caller
        return stack.enter_context(stream)
    except (MissingFileError, StorageError):
        raise
    except VicheError as exc:
        raise _Unreadable(exc) from None


_Checked = tuple[list[BallotOutcome], ChunkTally]

#: ``(credential text) -> (ballot index, ballot hex hash, weight)`` of its last ballot.
LastBallots = dict[str, tuple[int, str, int]]


class _BallotPass:
    """Pass 1 over the ballots: replays, every ballot checked in the pool (chunks sent as
    they are read, results folded in archive order), the last ballot of each credential."""

    def __init__(
        self,
        run: Run,
        election: Election | None,
        credentials: PublicCredentials | None,
        pool: WorkerPool | None,
    ) -> None:
        self.run = run
        self.credentials = credentials
        self.pool = pool
        self.pipe: Pipeline[list[tuple[int, int, bytes]], _Checked] | None = None
        self.running: RunningTally | None = None
        if pool is not None and election is not None and credentials is not None:
            local_election, local_credentials = election, credentials

            def local(chunk: list[tuple[int, int, bytes]]) -> _Checked:
                return check_and_count(local_election, local_credentials, chunk)

            self.pipe = Pipeline(pool, check_count_chunk, local)
            self.running = RunningTally(election)
        self.first: dict[bytes, int] = {}  # ballot sha256 -> height of its first copy
        self.last: LastBallots = {}
        self.count = 0
        self.checked = 0
        self.pending: list[tuple[int, int, bytes]] = []
        self.pending_hashes: list[str] = []
        self.sent: list[list[str]] = []  # hex hashes of the chunks in flight, oldest first

    def add(self, height: int, raw: bytes, hex_hash: str) -> None:
        index = self.count
        self.count += 1
        replay = self.run.r("ballots.replay")
        replay.count += 1
        key = bytes.fromhex(hex_hash)
        earlier = self.first.get(key)
        if earlier is None:
            self.first[key] = height
        else:
            self.run.fail(
                "ballots.replay",
                ReplayedBallotError(
                    f"ballot replays the ballot of event {earlier} byte for byte",
                    where=Location(event=height, ballot=hex_hash),
                ),
            )
        if self.pipe is None:
            return
        self.pending.append((index, height, raw))
        self.pending_hashes.append(hex_hash)
        if self.count < 8:  # a handful of ballots are checked here, without workers
            return
        jobs = self.pipe.pool.jobs
        if len(self.pending) >= max(1, min(32, self.count // (jobs * 8))):
            self._flush()

    def _flush(self) -> None:
        assert self.pipe is not None
        if not self.pending:
            return
        self.sent.append(self.pending_hashes)
        chunk = self.pending
        self.pending, self.pending_hashes = [], []
        for outcomes in self.pipe.submit(chunk):
            self._fold(outcomes)

    def finish(self) -> None:
        if self.pipe is None:
            return
        if self.count < 8:
            self.pipe.pool.use_inline()
        self._flush()
        for outcomes in self.pipe.finish():
            self._fold(outcomes)
        assert self.checked == self.count and not self.sent
        self.first.clear()

    def _fold(self, checked: _Checked) -> None:
        assert self.credentials is not None and self.running is not None
        outcomes, part = checked
        self.running.add(part)
        hashes = self.sent.pop(0)
        res = self.run.r("ballots")
        for o, hex_hash in zip(outcomes, hashes, strict=True):
            if o.error is not None:
                res.fail(ballot_failure(o.error, o.height, hex_hash))
            if o.credential is not None and o.weight > 0:
                # the credential list's own string, not the worker's copy
                text = self.credentials.lookup(o.credential).text
                earlier = self.last.pop(text, None)
                if earlier is not None:
                    self.running.supersede(earlier[0], earlier[1], text, earlier[2])
                self.last[text] = (o.index, hex_hash, o.weight)
        self.checked += len(outcomes)
        self.run.tick("ballots", self.checked, self.count)


def _read_counted(
    path: Path, pool: WorkerPool, election: Election, wanted: dict[int, tuple[str, str, int]]
) -> TallyAccumulator:
    """Read the archive again up to the last ballot in ``wanted`` (index -> hash, credential,
    weight) and fold those ballots (each compared by hash with pass 1) in the pool."""
    wanted = dict(wanted)
    acc = TallyAccumulator(election)
    size = max(1, min(32, len(wanted) // (pool.jobs * 8)))
    pipe: Pipeline[list[CountedItem], TallyPart] = Pipeline(
        pool, tally_chunk, lambda c: tally_part(election, c)
    )
    chunk: list[CountedItem] = []
    index = -1
    with ExitStack() as stack:
        stream = _open(path, stack)
        for ev in _events(stream):
            if not wanted:
                break
            if ev.type is not EventType.BALLOT:
                continue
            index += 1
            item = wanted.pop(index, None)
            if item is None:
                continue
            hex_hash, cred, weight = item
            member = ev.data[0]
            if member.hash != hex_hash:
                raise _Unreadable(
                    ChainError(
                        "the archive changed while it was being verified (ballot "
                        f"{hex_hash} is now {member.hash})",
                        where=Location(event=ev.height),
                    )
                )
            chunk.append((index, member.raw, hex_hash, cred, weight))
            if len(chunk) >= size:
                for part in pipe.submit(chunk):
                    acc.add(part)
                chunk = []
    if wanted:
        raise _Unreadable(
            ChainError(
                "the archive changed while it was being verified (it has fewer ballots)",
                where=Location(file=str(path)),
            )
        )
    if chunk:
        for part in pipe.submit(chunk):
            acc.add(part)
    for part in pipe.finish():
        acc.add(part)
    return acc


def _stream_tally(
    path: Path, pool: WorkerPool, election: Election, ballots: _BallotPass
) -> ComputeTally:
    """The tally of the counted ballots from pass 1's running product: the product of the
    superseded ballots (read again: pass 2, only when there are revotes) divided out. If
    that product cannot be inverted (a superseded ballot with a component ≡ 0 mod p), the
    counted ballots are all read again and multiplied instead."""

    def compute() -> tuple[EncryptedTally, int, int]:
        assert ballots.running is not None
        last = ballots.last
        count, weight = len(last), sum(w for _i, _h, w in last.values())
        running = ballots.running
        divide: TallyPart | None = None
        if running.superseded and not running.errors:
            acc = _read_counted(path, pool, election, running.superseded)
            divide = TallyPart(acc.count, acc.weight, tuple(map(tuple, acc.rows)), None)
        tally = running.result(divide)
        if tally is None:
            wanted = {index: (h, cred, w) for cred, (index, h, w) in last.items()}
            tally, count, weight = _read_counted(path, pool, election, wanted).result()
        return tally, count, weight

    return compute


def verify_record(
    path: str | Path,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    scheduler: str | None = None,
) -> VerificationReport:
    """Verify the public record at ``path`` (a ``.bel`` file or a directory holding one),
    streaming: memory is O(credentials + chunks in flight), never O(archive).

    ``jobs`` local worker processes (all cores by default); with ``scheduler`` (the address
    of a dask.distributed scheduler, e.g. ``tcp://host:8786``) the ballot and tally chunks
    go to that cluster's workers instead (the setup checks still use ``jobs`` here).

    Raises :class:`~viche.errors.MissingFileError` when there is nothing to read and
    :class:`~viche.errors.StorageError` when the system refuses to read it; every
    other problem is reported in the returned :class:`VerificationReport` (the same report
    as :func:`verify_record_in_memory`).
    """
    t0 = time.perf_counter()
    n_jobs = default_jobs() if jobs is None else max(1, jobs)
    try:
        return _verify_streaming(path, n_jobs, progress, t0, scheduler)
    except _Unreadable as u:
        return unreadable_report(str(path), n_jobs, u.error, t0)


def _verify_streaming(
    path: str | Path, jobs: int, progress: Progress | None, t0: float, scheduler: str | None
) -> VerificationReport:
    report = VerificationReport(source=str(path))
    report.jobs = jobs
    run = Run(report, progress)
    chain = run.r("record.chain")
    election: Election | None = None
    trustees: Trustees | None = None
    credentials: PublicCredentials | None = None
    pool: WorkerPool | None = None
    tail = _Tail()
    n_events = 0
    t_ballots = 0.0
    with ExitStack() as stack:
        # 1-3. one pass: the chain (the reader), the setup at event 0, the ballots in the pool
        t = time.perf_counter()
        stream = _open(path, stack)
        ballots = _BallotPass(run, None, None, None)
        for ev in _events(stream):
            n_events += 1
            d = ev.data
            etype = ev.type
            if etype is EventType.BALLOT:
                tb = time.perf_counter()
                ballots.add(ev.height, d[0].raw, d[0].hash)
                t_ballots += time.perf_counter() - tb
            elif etype is EventType.SETUP:
                ts = time.perf_counter()
                setup = SetupBytes(d[0].raw, d[1].raw, d[2].raw, d[3].raw)
                election, trustees, credentials = check_setup(run, setup)
                report.timing["setup"] = time.perf_counter() - ts
                run.tick("setup", 1, 1)
                if election is not None and credentials is not None:
                    pool = stack.enter_context(WorkerPool(election, credentials, jobs, scheduler))
                ballots = _BallotPass(run, election, credentials, pool)
            elif etype is EventType.ENCRYPTED_TALLY:
                tail.encrypted_tally = TallyEntry(ev.height, ev.hash, d[0], d[1])
            elif etype is EventType.END_SHUFFLES:
                tail.end_shuffles = ev
            elif etype is EventType.RESULT:
                tail.result = ResultEntry(ev.height, ev.hash, d[0].raw, d[0].hash)
            elif etype in (EventType.SHUFFLE, EventType.PARTIAL_DECRYPTION):
                try:
                    owner = owned_owner(d[1].raw, d[0].hash, ev.where)
                except VicheError as exc:
                    raise _Unreadable(exc) from None
                entry = OwnedEntry(ev.height, ev.hash, owner, d[0], d[1])
                if etype is EventType.SHUFFLE:
                    tail.shuffles.append(entry)
                else:
                    tail.partial_decryptions.append(entry)
        tb = time.perf_counter()
        ballots.finish()
        t_ballots += time.perf_counter() - tb
        chain.count = n_events
        chain.seconds = time.perf_counter() - t
        report.counts = {
            "events": n_events,
            "ballots": ballots.count,
            "partial_decryptions": len(tail.partial_decryptions),
            "shuffles": len(tail.shuffles),
            **report.counts,
        }
        run.tick("record.chain", 1, 1)
        res = run.r("ballots")
        if election is not None and credentials is not None:
            res.count = ballots.count
        else:
            run.na("ballots", "needs a valid election and credentials")
        report.timing["ballots"] = t_ballots
        res.seconds = t_ballots

        # 4. tally: a second pass over the counted ballots, only when there is a tally
        t = time.perf_counter()
        report.counts["counted_ballots"] = len(ballots.last)
        tally: EncryptedTally | None = None
        if election is not None and credentials is not None:
            assert pool is not None
            compute = _stream_tally(stream.path, pool, election, ballots)
            tally = check_tally(run, tail.encrypted_tally, election, compute)
        else:
            run.na("tally.encrypted", "needs a valid election and credentials")
        report.timing["tally"] = time.perf_counter() - t
    check_tail(run, tail, election, trustees, tally)
    report.timing["total"] = time.perf_counter() - t0
    return report
