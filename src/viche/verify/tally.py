"""The checks of the tally and what follows it (specification 3.5.2): the encrypted tally
recomputed from the counted ballots, the shuffles of non-homomorphic questions
(:mod:`viche.verify.shuffles`), every partial decryption proof against its trustee's key
(:func:`~viche.protocol.tally.check_partial_decryption`), and the result against the
combined factors, Lagrange for threshold (:func:`~viche.protocol.tally.check_result`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from viche.crypto.elgamal import Ciphertext
from viche.errors import Location, ProtocolError, TallyError, VicheError
from viche.protocol.codec import expect_object, loads
from viche.protocol.election import Election
from viche.protocol.tally import (
    EncryptedTally,
    PartialDecryption,
    Result,
    SizedEncryptedTally,
    check_partial_decryption,
    check_result,
)
from viche.protocol.trustees import Trustees
from viche.record import TallyEntry
from viche.verify.checks import Run
from viche.verify.report import Status
from viche.verify.shuffles import Cts, RecordTail, check_shuffle_events


def _to_cts(tally: EncryptedTally) -> Cts:
    return [[(ct.alpha, ct.beta) for ct in row] for row in tally.questions]


def _from_cts(rows: Cts) -> EncryptedTally:
    return EncryptedTally(tuple(tuple(Ciphertext(a, b) for a, b in row) for row in rows))


#: ``() -> (tally, num_tallied, total_weight)`` of the counted ballots; raises the
#: :class:`TallyError` of :func:`compute_encrypted_tally`.
ComputeTally = Callable[[], tuple[EncryptedTally, int, int]]


def check_tally(
    run: Run, entry: TallyEntry | None, election: Election, compute: ComputeTally
) -> EncryptedTally | None:
    """Compare the published tally with the recomputed one (``compute`` is called only
    when the published one is readable); returns the published tally (None when it cannot
    be read)."""
    if entry is None:
        run.na("tally.encrypted", "no EncryptedTally event yet")
        return None
    res = run.r("tally.encrypted")
    res.count = 1
    where = Location(event=entry.height, path=("encrypted_tally",))
    published: EncryptedTally | None = None
    try:
        published = EncryptedTally.from_bytes(entry.tally_raw, where)
        published.check_shape(election, where)
        published.check_members(election.group, where)
    except VicheError as exc:
        run.fail("tally.encrypted", exc, event=entry.height)
        return None
    try:
        sized = SizedEncryptedTally.from_bytes(
            entry.sized_raw, Location(event=entry.height, path=("sized",))
        )
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
                    where=where.at(question=qi + 1),
                )
            for ai, (a, b) in enumerate(zip(pub_row, my_row, strict=True)):
                if a != b:
                    run.fail(
                        "tally.encrypted",
                        TallyError(
                            "encrypted tally differs from the product of the counted ballots",
                            where=where.at(question=qi + 1, answer=ai + 1),
                        ),
                    )
        if run.r("tally.encrypted").status is not Status.FAILED and (
            mine.to_bytes() != entry.tally_raw
        ):
            raise TallyError("encrypted tally is not in the canonical form", where=where)
    except VicheError as exc:
        run.fail("tally.encrypted", exc, event=entry.height)
    return published


def _check_decryptions(
    run: Run,
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
        where = Location(event=entry.height, trustee=owner)
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
            run.fail("decryption.partial", exc, event=entry.height, trustee=owner)
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
        return SizedEncryptedTally.from_bytes(
            entry.sized_raw, Location(event=entry.height, path=("sized",))
        ).total_weight
    except VicheError:
        return None


def _check_result(  # noqa: PLR0917 (one call site)
    run: Run,
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
    where = Location(event=entry.height, path=("result",))
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
    except VicheError as exc:
        run.fail("result", exc, event=entry.height)


def check_tail(
    run: Run,
    record: RecordTail,
    election: Election | None,
    trustees: Trustees | None,
    tally: EncryptedTally | None,
) -> None:
    """The checks after the encrypted tally: shuffles, partial decryptions, result."""
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
