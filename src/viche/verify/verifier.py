"""The universal verifier (specification 3.5.1 and 3.5.2): every audit of a public record.

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
  folded in archive order, so the failures come in the same order as before). What is
  kept per ballot is its 32-byte SHA-256 and height (replay detection needs every earlier
  ballot's hash) and, per credential, ``(index, hash, weight)`` of its last ballot: that
  is last(B), spec 4.15. The events after the ballots (encrypted tally, shuffles, partial
  decryptions, result: a few per trustee) are kept.
* **The tally without keeping ballots.** A worker has each ballot parsed anyway: it also
  returns, per chunk, the product of ``choice^weight`` of the chunk's *candidates* (known
  credential, with a weight; valid or not, as before), plus their NH ciphertexts and
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
ballot is parsed a second time for the tally (the in-memory verifier parsed every counted
ballot again, in the main process).

A record that cannot be read to its end gives the same report as before: ``record.chain``
failed, every other check not applicable (what pass 1 found before the error is dropped).
:func:`verify_record_in_memory` is the previous implementation (whole :class:`Record` in
memory), kept as the reference the streaming verifier is tested against.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gmpy2 import mpz

from viche.crypto.elgamal import Ciphertext
from viche.crypto.group import Group
from viche.crypto.hashing import sha256_hex
from viche.crypto.trustee import TrusteePublicKey, check_trustee_public_key
from viche.errors import (
    ArchiveFormatError,
    ChainError,
    GroupMembershipError,
    KeyCeremonyError,
    MissingFileError,
    NonCanonicalError,
    ProtocolError,
    ReplayedBallotError,
    StorageError,
    TallyError,
    VicheError,
)
from viche.protocol.ballot import Ballot, CheckedBallot
from viche.protocol.codec import expect_object, loads
from viche.protocol.election import (
    Election,
    PublicCredentials,
    SetupData,
)
from viche.protocol.tally import (
    EncryptedTally,
    PartialDecryption,
    Result,
    SizedEncryptedTally,
    check_partial_decryption,
    check_result,
    compute_encrypted_tally,
    last_ballots,
    sized_tally,
)
from viche.protocol.threshold import check_cert, check_coefexps, expected_verification_key
from viche.protocol.trustees import Coefexps, PedersenItem, SingleItem, Trustees
from viche.record import (
    ArchiveStream,
    OwnedEntry,
    Record,
    RecordEvent,
    ResultEntry,
    TallyEntry,
    read_archive,
)
from viche.record.chain import owned_owner
from viche.record.events import EventType
from viche.verify.ballots import (
    BallotOutcome,
    _check_count_chunk,
    _tally_chunk,
    check_and_count,
    check_ballots,
    check_credential_members,
    default_jobs,
)
from viche.verify.counting import (
    ChunkTally,
    CountedItem,
    RunningTally,
    TallyAccumulator,
    TallyPart,
    tally_part,
)
from viche.verify.report import CheckResult, Failure, Status, VerificationReport
from viche.verify.shuffles import RecordTail, check_shuffle_events
from viche.verify.stream import Pipeline, WorkerPool

#: ``progress(stage, done, total)``: stage is one of the check names.
Progress = Callable[[str, int, int], None]

CHECKS: tuple[tuple[str, str], ...] = (
    ("record.chain", "archive layout, member hashes, event chain and order"),
    ("setup.election", "election well formed, group known"),
    ("setup.setup_data", "setup_data names the election, trustees and credentials members"),
    ("setup.trustees", "trustee proofs of knowledge, certificates, coefexps, verification keys"),
    ("setup.public_key", "election public key is the product of the trustees' sub-keys"),
    ("setup.credentials", "public credentials: group members, distinct, weights"),
    ("ballots", "every ballot: canonical, uuid, election hash, credential, proofs, signature"),
    ("ballots.replay", "no ballot replays an earlier Ballot event byte for byte"),
    ("tally.encrypted", "encrypted tally recomputed from the last ballot of each credential"),
    ("shuffles", "mixnet shuffles of non-homomorphic questions"),
    ("decryption.partial", "every partial decryption proof against its trustee's key"),
    ("result", "result recomputed from the encrypted tally and the partial decryptions"),
)


class _Run:
    """State shared by the checks of one verification."""

    def __init__(self, report: VerificationReport, progress: Progress | None) -> None:
        self.report = report
        self.progress = progress
        self.results = {name: CheckResult(name, desc) for name, desc in CHECKS}
        report.checks = list(self.results.values())

    def r(self, name: str) -> CheckResult:
        return self.results[name]

    def fail(self, name: str, exc: VicheError, **known: Any) -> None:
        self.results[name].fail(Failure.from_error(name, exc, **known))

    def na(self, name: str, note: str) -> None:
        res = self.results[name]
        if res.status is not Status.FAILED:
            res.status = Status.NOT_APPLICABLE
        res.note = note

    def tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


# --------------------------------------------------------------------------- setup


def _check_pedersen(run: _Run, trustees: Trustees, election: Election, res: CheckResult) -> None:
    """Every trustee on its own (flat trustee ids in the failures), with the checks of
    :mod:`viche.protocol.threshold`."""
    group = election.group
    first_id = 1
    for item_index, item in enumerate(trustees.items):
        if isinstance(item, SingleItem):
            tid = first_id
            first_id += 1
            res.count += 1
            try:
                check_trustee_public_key(group, item.key, where=f"trustee {tid}")
            except VicheError as exc:
                run.fail("setup.trustees", exc, trustee=tid)
            continue
        assert isinstance(item, PedersenItem)
        params = item.params
        ids = range(first_id, first_id + params.size)
        first_id += params.size
        for z, tid in enumerate(ids):
            res.count += 1
            where = f"trustee {tid} (Pedersen item {item_index + 1}, index {z + 1})"
            cert = params.certs[z]
            try:
                check_cert(group, cert, f"{where} / cert")
            except VicheError as exc:
                run.fail("setup.trustees", exc, trustee=tid)
            try:
                check_coefexps(
                    group, cert, params.coefexps[z], params.threshold, f"{where} / coefexps"
                )
            except VicheError as exc:
                run.fail("setup.trustees", exc, trustee=tid)
            try:
                _check_verification_key(
                    group, params.coefexps, params.verification_keys[z], z + 1, where
                )
            except VicheError as exc:
                run.fail("setup.trustees", exc, trustee=tid)


def _check_verification_key(
    group: Group,
    coefexps: Sequence[Coefexps],
    key: TrusteePublicKey,
    j: int,
    where: str,
) -> None:
    w = f"{where} / verification key"
    if key.public_key != expected_verification_key(group, coefexps, j):
        raise KeyCeremonyError("verification key is not the product of the coefexps", where=w)
    check_trustee_public_key(group, key, where=w)


@dataclass(frozen=True)
class SetupBytes:
    """The four setup members, exact bytes (a :class:`Record` has the same attributes)."""

    election: bytes = field(repr=False)
    trustees: bytes = field(repr=False)
    public_credentials: bytes = field(repr=False)
    setup_data: bytes = field(repr=False)


class _SetupSource(Protocol):
    @property
    def election(self) -> bytes: ...
    @property
    def trustees(self) -> bytes: ...
    @property
    def public_credentials(self) -> bytes: ...
    @property
    def setup_data(self) -> bytes: ...


def _check_setup(
    run: _Run, record: _SetupSource
) -> tuple[Election | None, Trustees | None, PublicCredentials | None]:
    rep = run.report
    election: Election | None = None
    trustees: Trustees | None = None
    credentials: PublicCredentials | None = None
    # election
    res = run.r("setup.election")
    res.count = 1
    try:
        election = Election.from_bytes(record.election, "election")
    except VicheError as exc:
        run.fail("setup.election", exc, height=0)
    # setup_data
    res = run.r("setup.setup_data")
    res.count = 1
    try:
        sd = SetupData.from_bytes(record.setup_data)
        for key, raw in (
            ("election", record.election),
            ("trustees", record.trustees),
            ("credentials", record.public_credentials),
        ):
            if getattr(sd, key) != sha256_hex(raw):
                raise ChainError(
                    f"setup_data.{key} is not the hash of the {key} member",
                    where=f"event 0 / setup_data / {key}",
                )
    except VicheError as exc:
        run.fail("setup.setup_data", exc, height=0)
    # trustees
    res = run.r("setup.trustees")
    try:
        trustees = Trustees.from_json(loads(record.trustees, "trustees"), "trustees")
    except VicheError as exc:
        run.fail("setup.trustees", exc, height=0)
    if election is not None and trustees is not None:
        _check_pedersen(run, trustees, election, res)
        res2 = run.r("setup.public_key")
        res2.count = 1
        try:
            y = trustees.public_key(election.group)
            if y != election.public_key.y:
                raise KeyCeremonyError(
                    "election public key is not the product of the trustees' keys",
                    where="election / public_key",
                )
        except VicheError as exc:
            run.fail("setup.public_key", exc, height=0)
    else:
        run.na("setup.public_key", "needs a valid election and trustees")
    # credentials
    res = run.r("setup.credentials")
    try:
        credentials = PublicCredentials.from_bytes(record.public_credentials, "credentials")
        res.count = len(credentials)
        if election is not None:
            for i in check_credential_members(election, credentials, jobs=run.report.jobs):
                run.fail(
                    "setup.credentials",
                    GroupMembershipError(
                        f"public credential is not an element of group {election.group.name}",
                        where=f"credentials[{i}]",
                    ),
                    height=0,
                )
    except VicheError as exc:
        run.fail("setup.credentials", exc, height=0)
    if rep is not None and credentials is not None:
        rep.counts["credentials"] = len(credentials)
    return election, trustees, credentials


# --------------------------------------------------------------------------- ballots


def _check_replays(run: _Run, record: Record) -> None:
    res = run.r("ballots.replay")
    first: dict[str, int] = {}
    for b in record.ballots:
        res.count += 1
        earlier = first.get(b.hash)
        if earlier is None:
            first[b.hash] = b.height
            continue
        run.fail(
            "ballots.replay",
            ReplayedBallotError(
                f"ballot replays the ballot of event {earlier} byte for byte",
                where=f"event {b.height} / ballot {b.hash}",
            ),
            height=b.height,
            ballot=b.hash,
        )


def _counted(
    record: Record, outcomes: Sequence[BallotOutcome], election: Election
) -> list[CheckedBallot]:
    """The last ballot of each credential, in archive order (:func:`last_ballots`).

    Every ballot whose credential is known and that parses takes part, valid or not: an
    invalid ballot is already a failure of the ``ballots`` check, and counting it as the
    tallier did names that ballot instead of flagging the whole tally.
    """
    last: dict[str, BallotOutcome] = {}  # only these need parsing again
    for o in outcomes:
        if o.credential is not None and o.weight > 0:
            last[o.credential] = o
    candidates: list[CheckedBallot] = []
    for o in sorted(last.values(), key=lambda o: o.index):
        assert o.credential is not None
        raw = record.ballots[o.index].raw
        try:
            ballot = Ballot.from_bytes(raw)
        except VicheError:
            continue
        candidates.append(
            CheckedBallot(ballot, raw, o.tracker, sha256_hex(raw), o.credential, o.weight)
        )
    return last_ballots(candidates)


Cts = list[list[tuple[mpz, mpz]]]


def _to_cts(tally: EncryptedTally) -> Cts:
    return [[(ct.alpha, ct.beta) for ct in row] for row in tally.questions]


def _from_cts(rows: Cts) -> EncryptedTally:
    return EncryptedTally(tuple(tuple(Ciphertext(a, b) for a, b in row) for row in rows))


#: ``() -> (tally, num_tallied, total_weight)`` of the counted ballots; raises the
#: :class:`TallyError` of :func:`compute_encrypted_tally`.
ComputeTally = Callable[[], tuple[EncryptedTally, int, int]]


def _in_memory_tally(election: Election, counted: Sequence[CheckedBallot]) -> ComputeTally:
    def compute() -> tuple[EncryptedTally, int, int]:
        mine = compute_encrypted_tally(election, counted)
        sized = sized_tally(mine, counted)
        return mine, sized.num_tallied, sized.total_weight

    return compute


def _check_tally(
    run: _Run, entry: TallyEntry | None, election: Election, compute: ComputeTally
) -> EncryptedTally | None:
    """Compare the published tally with the recomputed one (``compute`` is called only
    when the published one is readable); returns the published tally (None when it cannot
    be read)."""
    if entry is None:
        run.na("tally.encrypted", "no EncryptedTally event yet")
        return None
    res = run.r("tally.encrypted")
    res.count = 1
    where = f"event {entry.height} / encrypted_tally"
    published: EncryptedTally | None = None
    try:
        published = EncryptedTally.from_bytes(entry.tally_raw, where)
        published.check_shape(election, where)
        published.check_members(election.group, where)
    except VicheError as exc:
        run.fail("tally.encrypted", exc, height=entry.height)
        return None
    try:
        sized = SizedEncryptedTally.from_bytes(entry.sized_raw, f"event {entry.height} / sized")
        mine, num_tallied, total_weight = compute()
        if sized.num_tallied != num_tallied:
            raise TallyError(
                f"num_tallied is {sized.num_tallied}, but {num_tallied} ballots count",
                where=where,
            )
        if sized.total_weight != total_weight:
            raise TallyError(
                f"total_weight is {sized.total_weight}, but the counted ballots weigh "
                f"{total_weight}",
                where=where,
            )
        for qi, (pub_row, my_row) in enumerate(
            zip(published.questions, mine.questions, strict=True)
        ):
            if len(pub_row) != len(my_row):
                raise TallyError(
                    f"{len(pub_row)} ciphertexts, {len(my_row)} expected",
                    where=f"{where} / question {qi + 1}",
                )
            for ai, (a, b) in enumerate(zip(pub_row, my_row, strict=True)):
                if a != b:
                    run.fail(
                        "tally.encrypted",
                        TallyError(
                            "encrypted tally differs from the product of the counted ballots",
                            where=f"{where} / question {qi + 1} / item {ai + 1}",
                        ),
                        height=entry.height,
                        question=qi + 1,
                        answer=ai + 1,
                    )
        if run.r("tally.encrypted").status is not Status.FAILED and (
            mine.to_bytes() != entry.tally_raw
        ):
            raise TallyError("encrypted tally is not in the canonical form", where=where)
    except VicheError as exc:
        run.fail("tally.encrypted", exc, height=entry.height)
    return published


def _check_decryptions(
    run: _Run,
    record: RecordTail,
    election: Election,
    trustees: Trustees,
    tally: EncryptedTally,
) -> dict[int, PartialDecryption]:
    """Every partial decryption proof against its trustee's key (Single key or Pedersen
    verification key); returns the valid ones by trustee id."""
    res = run.r("decryption.partial")
    flat = trustees.flat()
    valid: dict[int, PartialDecryption] = {}
    for entry in record.partial_decryptions:
        res.count += 1
        owner = entry.owner
        where = f"event {entry.height} / trustee {owner}"
        try:
            if not 1 <= owner <= len(flat):
                raise ProtocolError(f"unknown trustee id {owner}", where=where)
            if owner in valid:
                raise ProtocolError("second partial decryption by the same trustee", where=where)
            pd = PartialDecryption.from_bytes(entry.payload_raw, where)
            key = flat[owner - 1].key.public_key
            check_partial_decryption(election, tally, pd, key, where)
            valid[owner] = pd
        except VicheError as exc:
            run.fail("decryption.partial", exc, height=entry.height, trustee=owner)
        run.tick("decryption.partial", res.count, len(record.partial_decryptions))
    return valid


def _published_total_weight(record: RecordTail) -> int | None:
    """The total weight the sized tally announces (checked against the ballots by the
    ``tally.encrypted`` check): no count of the result can exceed it. None when the
    sized tally is absent or unreadable (already reported)."""
    entry = record.encrypted_tally
    if entry is None:
        return None
    try:
        return SizedEncryptedTally.from_bytes(entry.sized_raw, "sized tally").total_weight
    except VicheError:
        return None


def _check_result(  # noqa: PLR0917 (one call site)
    run: _Run,
    record: RecordTail,
    election: Election,
    trustees: Trustees,
    tally: EncryptedTally,
    valid: dict[int, PartialDecryption],
) -> None:
    entry = record.result
    if entry is None:
        run.na("result", "no Result event yet")
        return
    res = run.r("result")
    res.count = 1
    where = f"event {entry.height} / result"
    try:
        obj = expect_object(loads(entry.raw, where), where, ("result",))
        run.report.result = obj["result"]
        result = Result.from_bytes(entry.raw, where)
        check_result(
            election,
            trustees,
            tally,
            valid,
            result,
            where=where,
            total_weight=_published_total_weight(record),
        )
        if result.to_json() != obj:
            raise NonCanonicalError("result is not in the canonical form", where=where)
    except VicheError as exc:
        run.fail("result", exc, height=entry.height)


# --------------------------------------------------------------------------- entry point


def verify_record_in_memory(
    path: str | Path, *, jobs: int | None = None, progress: Progress | None = None
) -> VerificationReport:
    """:func:`verify_record` on the whole archive read into memory (:func:`read_archive`):
    memory grows with the archive. Kept as the plain reference the streaming verifier is
    tested against; same report."""
    t0 = time.perf_counter()
    report = VerificationReport(source=str(path))
    report.jobs = default_jobs() if jobs is None else max(1, jobs)
    run = _Run(report, progress)

    # 1. the archive and its chain
    t = time.perf_counter()
    chain = run.r("record.chain")
    try:
        record = read_archive(path)
    except (MissingFileError, StorageError):
        raise
    except VicheError as exc:
        chain.fail(Failure.from_error("record.chain", exc))
        if isinstance(exc, ArchiveFormatError):
            report.readable = False
        for c in report.checks[1:]:
            c.status = Status.NOT_APPLICABLE
            c.note = "the archive could not be read"
        report.timing["total"] = time.perf_counter() - t0
        return report
    chain.count = len(record.events)
    chain.seconds = time.perf_counter() - t
    report.counts.update(
        events=len(record.events),
        ballots=len(record.ballots),
        partial_decryptions=len(record.partial_decryptions),
        shuffles=len(record.shuffles),
    )
    run.tick("record.chain", 1, 1)

    # 2. setup
    t = time.perf_counter()
    election, trustees, credentials = _check_setup(run, record)
    report.timing["setup"] = time.perf_counter() - t
    run.tick("setup", 1, 1)

    # 3. ballots
    t = time.perf_counter()
    _check_replays(run, record)
    outcomes: list[BallotOutcome] = []
    res = run.r("ballots")
    if election is not None and credentials is not None:
        total = len(record.ballots)
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            run.tick("ballots", done, total)

        outcomes = check_ballots(
            election,
            credentials,
            [(b.height, b.raw) for b in record.ballots],
            jobs=report.jobs,
            progress=step,
        )
        res.count = total
        for o in outcomes:
            if o.error is not None:
                res.fail(
                    _ballot_failure(o.error, o.height, sha256_hex(record.ballots[o.index].raw))
                )
    else:
        run.na("ballots", "needs a valid election and credentials")
    report.timing["ballots"] = time.perf_counter() - t
    res.seconds = report.timing["ballots"]

    # 4. tally
    t = time.perf_counter()
    counted = _counted(record, outcomes, election) if election is not None else []
    report.counts["counted_ballots"] = len(counted)
    tally: EncryptedTally | None = None
    if election is not None and credentials is not None:
        tally = _check_tally(
            run, record.encrypted_tally, election, _in_memory_tally(election, counted)
        )
    else:
        run.na("tally.encrypted", "needs a valid election and credentials")
    report.timing["tally"] = time.perf_counter() - t
    _check_tail(run, record, election, trustees, tally)
    report.timing["total"] = time.perf_counter() - t0
    return report


def _check_tail(
    run: _Run,
    record: RecordTail,
    election: Election | None,
    trustees: Trustees | None,
    tally: EncryptedTally | None,
) -> None:
    """Steps 5 and 6: shuffles, partial decryptions, result."""
    report = run.report
    # 5. shuffles (the tally to decrypt gets the last shuffle's NH rows)
    t = time.perf_counter()
    if election is not None and tally is not None:
        run.r("shuffles").count = len(record.shuffles)
        tally = _from_cts(
            check_shuffle_events(
                election,
                trustees,
                record,
                _to_cts(tally),
                lambda exc, owner: run.fail("shuffles", exc, trustee=owner),
            )
        )
        run.r("shuffles").seconds = time.perf_counter() - t
    if not record.shuffles:
        run.na("shuffles", "no shuffles in this record")  # keeps a failure already reported
    elif election is None or tally is None:
        run.na("shuffles", "needs a valid election and encrypted tally")
    report.timing["shuffles"] = time.perf_counter() - t

    # 6. decryptions and result
    t = time.perf_counter()
    if tally is not None and trustees is not None and election is not None:
        if record.partial_decryptions:
            valid = _check_decryptions(run, record, election, trustees, tally)
        else:
            valid = {}
            run.na("decryption.partial", "no partial decryptions yet")
        _check_result(run, record, election, trustees, tally, valid)
    else:
        why = (
            "no encrypted tally"
            if record.encrypted_tally is None
            else "needs a valid election, trustees and tally"
        )
        for name in ("decryption.partial", "result"):
            if name == "result" and record.result is None:
                run.na(name, "no Result event yet")
            elif name == "decryption.partial" and not record.partial_decryptions:
                run.na(name, "no partial decryptions yet")
            else:
                run.na(name, why)
    report.timing["decryption"] = time.perf_counter() - t


def _ballot_failure(error: tuple[str, str, str, str], height: int, ballot: str) -> Failure:
    """A failed ballot check as the report lists it (workers send the error as strings:
    class name, code, message, where)."""
    _cls, code, message, where = error
    return Failure(
        check="ballots",
        code=code,
        message=message,
        where=where,
        height=height,
        ballot=ballot,
        **_question_answer(where),
    )


def _question_answer(where: str) -> dict[str, int | None]:
    f = Failure.from_error("x", VicheError("", where=where))
    return {"question": f.question, "answer": f.answer}


# --------------------------------------------------------------------------- streaming


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


def _unreadable(source: str, jobs: int, exc: VicheError, t0: float) -> VerificationReport:
    report = VerificationReport(source=source)
    report.jobs = jobs
    run = _Run(report, None)
    run.r("record.chain").fail(Failure.from_error("record.chain", exc))
    if isinstance(exc, ArchiveFormatError):
        report.readable = False
    for c in report.checks[1:]:
        c.status = Status.NOT_APPLICABLE
        c.note = "the archive could not be read"
    report.timing["total"] = time.perf_counter() - t0
    return report


_Checked = tuple[list[BallotOutcome], ChunkTally]

#: ``(credential text) -> (ballot index, ballot hex hash, weight)`` of its last ballot.
LastBallots = dict[str, tuple[int, str, int]]


class _BallotPass:
    """Pass 1 over the ballots: replays, every ballot checked in the pool (chunks sent as
    they are read, results folded in archive order), the last ballot of each credential."""

    def __init__(
        self,
        run: _Run,
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

            self.pipe = Pipeline(pool, _check_count_chunk, local)
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
                    where=f"event {height} / ballot {hex_hash}",
                ),
                height=height,
                ballot=hex_hash,
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
                res.fail(_ballot_failure(o.error, o.height, hex_hash))
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
        pool, _tally_chunk, lambda c: tally_part(election, c)
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
                        where=f"event {ev.height}",
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
                where=str(path),
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
        return _unreadable(str(path), n_jobs, u.error, t0)


def _verify_streaming(
    path: str | Path, jobs: int, progress: Progress | None, t0: float, scheduler: str | None
) -> VerificationReport:
    report = VerificationReport(source=str(path))
    report.jobs = jobs
    run = _Run(report, progress)
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
                election, trustees, credentials = _check_setup(run, setup)
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
            tally = _check_tally(run, tail.encrypted_tally, election, compute)
        else:
            run.na("tally.encrypted", "needs a valid election and credentials")
        report.timing["tally"] = time.perf_counter() - t
    _check_tail(run, tail, election, trustees, tally)
    report.timing["total"] = time.perf_counter() - t0
    return report
