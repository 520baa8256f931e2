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
* ``tally.encrypted`` — the encrypted tally recomputed from the last ballot per credential;
* ``shuffles`` — every Shuffle proof against the previous non-homomorphic rows, owner ids,
  EndShuffles before decryption (:mod:`viche.verify.shuffles`);
* ``decryption.partial`` — every partial decryption proof against the right trustee key;
* ``result`` — the result recomputed (Lagrange for threshold) and compared.

Checks that do not depend on a failed one still run; the report names every failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gmpy2
from gmpy2 import mpz

from viche.crypto.elgamal import dlog_small, group_decode
from viche.crypto.group import Group
from viche.crypto.hashing import sha256_hex
from viche.crypto.proofs import check_decryption
from viche.crypto.threshold import check_cert, check_coefexps, expected_verification_key
from viche.crypto.trustee import TrusteePublicKey, check_trustee_public_key
from viche.errors import (
    ArchiveFormatError,
    ChainError,
    CryptoError,
    JsonFormatError,
    KeyCeremonyError,
    MissingFileError,
    ProofError,
    ProtocolError,
    ReplayedBallotError,
    TallyError,
    VicheError,
)
from viche.protocol.codec import expect_list, expect_object, get_int, get_str, loads, number, sub
from viche.protocol.election import (
    Election,
    HomomorphicQuestion,
    PublicCredentials,
    SetupData,
)
from viche.protocol.messages import proof_from_json
from viche.protocol.trustees import Coefexps, PedersenItem, SingleItem, Trustees
from viche.record.archive import Record, read_archive
from viche.verify.ballots import BallotOutcome, check_ballots, default_jobs
from viche.verify.report import CheckResult, Failure, Status, VerificationReport
from viche.verify.shuffles import check_shuffle_events, nh_tally_row

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
            credentials.check_members(election.group, "credentials")
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


def _counted(outcomes: Sequence[BallotOutcome]) -> list[BallotOutcome]:
    """The last ballot of each credential, in archive order."""
    last: dict[str, BallotOutcome] = {}
    for o in outcomes:
        if o.credential is not None and o.choices is not None:
            last.pop(o.credential, None)
            last[o.credential] = o
    return sorted(last.values(), key=lambda o: o.index)


# --------------------------------------------------------------------------- tally


Cts = list[list[tuple[mpz, mpz]]]


def _parse_cts(value: object, where: str) -> Cts:
    out: Cts = []
    for i, row in enumerate(expect_list(value, where)):
        w = sub(where, i)
        cts: list[tuple[mpz, mpz]] = []
        for j, ct in enumerate(expect_list(row, w)):
            obj = expect_object(ct, sub(w, j), ("alpha", "beta"))
            cts.append((number(obj["alpha"], sub(w, j)), number(obj["beta"], sub(w, j))))
        out.append(cts)
    return out


def _recompute_tally(
    election: Election, counted: Sequence[BallotOutcome], record: Record
) -> tuple[Cts, int, int]:
    group = election.group
    p = group.p
    tally: Cts = []
    for qi, question in enumerate(election.questions):
        if not isinstance(question, HomomorphicQuestion):
            ballots = [(record.ballots[o.index].raw, o.weight, o.height) for o in counted]
            tally.append(nh_tally_row(qi, ballots))
            continue
        n = question.n_choices
        alphas = [mpz(1)] * n
        betas = [mpz(1)] * n
        for o in counted:
            assert o.choices is not None
            row = o.choices[qi]
            if row is None or len(row) != n:
                continue  # a malformed ballot: already a failure of the ballots check
            w = o.weight
            for j, (a, b) in enumerate(row):
                if w == 1:
                    alphas[j] = alphas[j] * a % p
                    betas[j] = betas[j] * b % p
                else:
                    alphas[j] = alphas[j] * gmpy2.powmod(a, w, p) % p
                    betas[j] = betas[j] * gmpy2.powmod(b, w, p) % p
        tally.append(list(zip(alphas, betas, strict=True)))
    return tally, len(counted), sum(o.weight for o in counted)


def _check_tally(
    run: _Run, record: Record, election: Election, counted: Sequence[BallotOutcome]
) -> Cts | None:
    """Compare the published tally with the recomputed one; returns the published tally."""
    entry = record.encrypted_tally
    if entry is None:
        run.na("tally.encrypted", "no EncryptedTally event yet")
        return None
    res = run.r("tally.encrypted")
    res.count = 1
    where = f"event {entry.height} / encrypted_tally"
    published: Cts | None = None
    try:
        published = _parse_cts(loads(entry.tally_raw, where), where)
        sized = expect_object(
            loads(entry.sized_raw, where), where, ("num_tallied", "total_weight", "encrypted_tally")
        )
        num = get_int(sized, "num_tallied", where, minimum=0)
        total = get_int(sized, "total_weight", where, minimum=0)
        if get_str(sized, "encrypted_tally", where) != entry.tally.hash:
            raise ChainError("sized_encrypted_tally names another tally", where=where)
        mine, n_counted, w_counted = _recompute_tally(election, counted, record)
        if num != n_counted:
            raise TallyError(
                f"num_tallied is {num}, but {n_counted} ballots count", where=where
            )
        if total != w_counted:
            raise TallyError(
                f"total_weight is {total}, but the counted ballots weigh {w_counted}", where=where
            )
        if len(published) != len(mine):
            raise TallyError(
                f"{len(published)} questions in the tally, {len(mine)} expected", where=where
            )
        for qi, (pub_row, my_row) in enumerate(zip(published, mine, strict=True)):
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
                            where=f"{where} / question {qi + 1} / choice {ai}",
                        ),
                        height=entry.height,
                        question=qi + 1,
                        answer=ai,
                    )
    except VicheError as exc:
        run.fail("tally.encrypted", exc, height=entry.height)
    return published


# --------------------------------------------------------------------------- decryption


def _lagrange(indices: Sequence[int], j: int, q: mpz) -> mpz:
    num = mpz(1)
    den = mpz(1)
    for k in indices:
        if k != j:
            num = num * k % q
            den = den * (k - j) % q
    return num * gmpy2.invert(den, q) % q


def _check_decryptions(
    run: _Run,
    record: Record,
    election: Election,
    trustees: Trustees,
    tally: Cts,
) -> dict[int, list[list[mpz]]]:
    """Every partial decryption proof; returns the valid factors by trustee id."""
    group = election.group
    res = run.r("decryption.partial")
    flat = trustees.flat()
    valid: dict[int, list[list[mpz]]] = {}
    for entry in record.partial_decryptions:
        res.count += 1
        owner = entry.owner
        where = f"event {entry.height} / trustee {owner}"
        try:
            if not 1 <= owner <= len(flat):
                raise ProtocolError(f"unknown trustee id {owner}", where=where)
            if owner in valid:
                raise ProtocolError("second partial decryption by the same trustee", where=where)
            key = flat[owner - 1].key.public_key
            obj = expect_object(
                loads(entry.payload_raw, where), where, ("decryption_factors", "decryption_proofs")
            )
            wf, wp = sub(where, "decryption_factors"), sub(where, "decryption_proofs")
            factors = [
                [number(x, sub(sub(wf, i), j)) for j, x in enumerate(expect_list(row, sub(wf, i)))]
                for i, row in enumerate(expect_list(obj["decryption_factors"], wf))
            ]
            proofs = [
                [
                    proof_from_json(x, sub(sub(wp, i), j))
                    for j, x in enumerate(expect_list(row, sub(wp, i)))
                ]
                for i, row in enumerate(expect_list(obj["decryption_proofs"], wp))
            ]
            if [len(r) for r in factors] != [len(r) for r in tally] or [
                len(r) for r in proofs
            ] != [len(r) for r in tally]:
                raise JsonFormatError(
                    "decryption factors or proofs do not have the shape of the tally", where=where
                )
            bad = False
            for qi, row in enumerate(tally):
                for ai, (alpha, _beta) in enumerate(row):
                    awhere = f"{where} / question {qi + 1} / choice {ai}"
                    factor = factors[qi][ai]
                    try:
                        group.check_element(factor, awhere)
                        if not check_decryption(
                            group, key, election.fingerprint, alpha, factor, proofs[qi][ai]
                        ):
                            raise ProofError(
                                "partial decryption proof does not verify", where=awhere
                            )
                    except CryptoError as exc:
                        bad = True
                        run.fail(
                            "decryption.partial", exc, height=entry.height, trustee=owner,
                            question=qi + 1, answer=ai,
                        )
            if not bad:
                valid[owner] = factors
        except VicheError as exc:
            run.fail("decryption.partial", exc, height=entry.height, trustee=owner)
        run.tick("decryption.partial", res.count, len(record.partial_decryptions))
    return valid


def _combine(
    election: Election, trustees: Trustees, tally: Cts, valid: dict[int, list[list[mpz]]]
) -> list[list[mpz]]:
    """The full decryption factors Π_Single × Π_Pedersen (Lagrange)."""
    group = election.group
    p, q = group.p, group.q
    flat = trustees.flat()
    combined = [[mpz(1)] * len(row) for row in tally]
    for item_index, item in enumerate(trustees.items):
        members = [t for t in flat if t.item == item_index]
        if isinstance(item, SingleItem):
            t = members[0]
            if t.trustee_id not in valid:
                raise TallyError(
                    "no valid partial decryption from this trustee",
                    where=f"trustee {t.trustee_id}",
                )
            parts = [(t.trustee_id, mpz(1))]
        else:
            have = [t for t in members if t.trustee_id in valid]
            need = item.params.threshold
            if len(have) < need:
                raise TallyError(
                    f"{len(have)} valid partial decryptions, {need} needed",
                    where=f"Pedersen item {item_index + 1}",
                )
            have = have[:need]
            indices = [t.index for t in have]
            parts = [(t.trustee_id, _lagrange(indices, t.index, q)) for t in have]
        for tid, lam in parts:
            f = valid[tid]
            for qi, row in enumerate(f):
                for ai, x in enumerate(row):
                    v = x if lam == 1 else gmpy2.powmod(x, lam, p)
                    combined[qi][ai] = combined[qi][ai] * v % p
    return combined


def _check_result(  # noqa: PLR0917 (one call site)
    run: _Run,
    record: Record,
    election: Election,
    trustees: Trustees,
    tally: Cts,
    valid: dict[int, list[list[mpz]]],
    bound: int,
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
        published = expect_list(obj["result"], sub(where, "result"))
        run.report.result = published
        group = election.group
        combined = _combine(election, trustees, tally, valid)
        mine: list[list[Any]] = []
        for qi, row in enumerate(tally):
            counts: list[Any] = []
            question = election.questions[qi]
            for ai, (_alpha, beta) in enumerate(row):
                gm = group.div(beta, combined[qi][ai])
                at = f"{where} / question {qi + 1} / choice {ai}"
                if isinstance(question, HomomorphicQuestion):
                    counts.append(dlog_small(group, gm, bound, where=at))
                else:  # non-homomorphic: the decoded vector, in shuffled order
                    counts.append(group_decode(group, gm, len(question.answers), where=at))
            mine.append(counts)
        if published != mine:
            diffs = [
                f"question {qi + 1}"
                for qi in range(max(len(published), len(mine)))
                if qi >= len(published) or qi >= len(mine) or published[qi] != mine[qi]
            ]
            raise TallyError(
                f"published result {published} differs from the decrypted tally {mine}",
                where=f"{where} / {', '.join(diffs)}",
            )
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
    counted = _counted(outcomes)
    report.counts["counted_ballots"] = len(counted)
    tally: Cts | None = None
    if election is not None and credentials is not None:
        tally = _check_tally(run, record, election, counted)
    else:
        run.na("tally.encrypted", "needs a valid election and credentials")
    report.timing["tally"] = time.perf_counter() - t

    # 5. shuffles (the tally to decrypt gets the last shuffle's NH rows)
    t = time.perf_counter()
    if election is not None and tally is not None:
        run.r("shuffles").count = len(record.shuffles)
        tally = check_shuffle_events(
            election,
            trustees,
            record,
            tally,
            lambda exc, owner: run.fail("shuffles", exc, trustee=owner),
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
        bound = sum(o.weight for o in counted)
        _check_result(run, record, election, trustees, tally, valid, bound)
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
