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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gmpy2 import mpz

from viche.crypto.elgamal import Ciphertext
from viche.crypto.group import Group
from viche.crypto.hashing import sha256_hex
from viche.crypto.threshold import check_cert, check_coefexps, expected_verification_key
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
from viche.protocol.trustees import Coefexps, PedersenItem, SingleItem, Trustees
from viche.record.archive import Record, read_archive
from viche.verify.ballots import (
    BallotOutcome,
    check_ballots,
    check_credential_members,
    default_jobs,
)
from viche.verify.report import CheckResult, Failure, Status, VerificationReport
from viche.verify.shuffles import check_shuffle_events

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


def _check_pedersen(
    run: _Run, trustees: Trustees, election: Election, res: CheckResult
) -> None:
    """Every trustee on its own (flat trustee ids in the failures), with the checks of
    :mod:`viche.crypto.threshold`."""
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


def _check_setup(
    run: _Run, record: Record
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


def _check_tally(
    run: _Run, record: Record, election: Election, counted: Sequence[CheckedBallot]
) -> EncryptedTally | None:
    """Compare the published tally with the recomputed one; returns the published tally
    (None when it cannot be read)."""
    entry = record.encrypted_tally
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
        mine = compute_encrypted_tally(election, counted)
        expected = sized_tally(mine, counted)
        if sized.num_tallied != expected.num_tallied:
            raise TallyError(
                f"num_tallied is {sized.num_tallied}, but {expected.num_tallied} ballots count",
                where=where,
            )
        if sized.total_weight != expected.total_weight:
            raise TallyError(
                f"total_weight is {sized.total_weight}, but the counted ballots weigh "
                f"{expected.total_weight}",
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
    record: Record,
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


def _check_result(  # noqa: PLR0917 (one call site)
    run: _Run,
    record: Record,
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
        check_result(election, trustees, tally, valid, result, where=where)
        if result.to_json() != obj:
            raise NonCanonicalError("result is not in the canonical form", where=where)
    except VicheError as exc:
        run.fail("result", exc, height=entry.height)


# --------------------------------------------------------------------------- entry point


def verify_record(
    path: str | Path, *, jobs: int | None = None, progress: Progress | None = None
) -> VerificationReport:
    """Verify the public record at ``path`` (a ``.bel`` file or a directory holding one).

    Raises :class:`~viche.errors.MissingFileError` when there is nothing to read; every
    other problem is reported in the returned :class:`VerificationReport`.
    """
    t0 = time.perf_counter()
    report = VerificationReport(source=str(path))
    report.jobs = default_jobs() if jobs is None else max(1, jobs)
    run = _Run(report, progress)

    # 1. the archive and its chain
    t = time.perf_counter()
    chain = run.r("record.chain")
    try:
        record = read_archive(path)
    except MissingFileError:
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
                _cls, code, message, where = o.error
                res.fail(
                    Failure(
                        check="ballots",
                        code=code,
                        message=message,
                        where=where,
                        height=o.height,
                        ballot=sha256_hex(record.ballots[o.index].raw),
                        **_question_answer(where),
                    )
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
        tally = _check_tally(run, record, election, counted)
    else:
        run.na("tally.encrypted", "needs a valid election and credentials")
    report.timing["tally"] = time.perf_counter() - t

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
    report.timing["total"] = time.perf_counter() - t0
    return report


def _question_answer(where: str) -> dict[str, int | None]:
    f = Failure.from_error("x", VicheError("", where=where))
    return {"question": f.question, "answer": f.answer}
