"""A unit's relay (``viche relay collect|upload``): ballots gathered where the link comes
and goes, uploaded in one batch when it returns.

The relay only carries ballots: each is already encrypted and signed by its voter's
credential in the booth, so the relay can neither read one nor alter one (a changed byte
breaks the canonical form, the signature or a proof, and the voting server refuses that
ballot and only that one). Folder of a relay::

    RELAY/pending.jsonl               ballots collected, one line each, in arrival order
    RELAY/batches/<batch>.jsonl       a batch as uploaded (the pending file, renamed)
    RELAY/batches/<batch>.results.jsonl   one line per ballot: tracker and receipt, or error
    RELAY/receipts/<ballot hash>.json     each accepted ballot's signed receipt

A voter finds hers by her smart ballot tracker (the booth showed it when she handed her
ballot over) in the results, or by the ballot's hash in ``receipts/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from viche.crypto.hashing import sha256_hex
from viche.errors import (
    NOWHERE,
    Location,
    NotFoundError,
    RelayBatchError,
    StorageError,
    VicheError,
)
from viche.event.channels import EventDesk, ballot_election
from viche.protocol import codec
from viche.protocol.ballot import smart_ballot_tracker
from viche.service.files import read_bytes, write_bytes
from viche.service.receipts import SignedReceipt

PENDING = "pending.jsonl"
BATCHES = "batches"
RECEIPTS = "receipts"


@dataclass(frozen=True)
class Collected:
    tracker: str
    hash: str
    election: str


@dataclass(frozen=True)
class Outcome:
    """One ballot of an uploaded batch: accepted (``cast``) or refused (``error``)."""

    tracker: str
    hash: str
    receipt: SignedReceipt | None
    error: VicheError | None

    def to_json(self) -> codec.JsonObject:
        out: codec.JsonObject = {"tracker": self.tracker, "ballot_hash": self.hash}
        if self.receipt is not None:
            out["accepted"] = self.receipt.to_json()
        if self.error is not None:
            out["refused"] = self.error.to_dict()
        return out


@dataclass(frozen=True)
class Batch:
    id: str
    relay: str
    outcomes: tuple[Outcome, ...]

    @property
    def accepted(self) -> int:
        return sum(o.receipt is not None for o in self.outcomes)


#: ``send(batch id, ballots)``: the voting server's verdict on each ballot, in order
Send = Callable[[str, list[bytes]], list[Outcome]]


@contextlib.contextmanager
def _relay_lock(relay_dir: Path) -> Iterator[None]:
    relay_dir.mkdir(parents=True, exist_ok=True)
    path = relay_dir / ".lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StorageError(f"cannot lock the relay: {exc.strerror}", where=Location(
            file=str(path))) from None  # fmt: skip
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_pending(relay_dir: Path) -> list[bytes]:
    path = relay_dir / PENDING
    if not path.exists():
        return []
    return [ln for ln in read_bytes(path, "relay's pending ballots").split(b"\n") if ln]


def collect(relay_dir: Path, ballots: Sequence[tuple[bytes, Location]]) -> list[Collected]:
    """Add ballots to the relay's pending file (a ballot already pending is not added
    twice). Each must be one line naming an election; the relay checks nothing else: it
    cannot, and need not, the server checks everything."""
    out: list[Collected] = []
    with _relay_lock(relay_dir):
        pending = read_pending(relay_dir)
        known = {sha256_hex(b) for b in pending}
        for raw, where in ballots:
            line = raw[:-1] if raw.endswith(b"\n") else raw
            if not line or b"\n" in line:
                raise RelayBatchError("a ballot is exactly one line", where=where)
            try:
                election = ballot_election(line, where)
            except VicheError as exc:
                raise RelayBatchError(exc.message, where=exc.where) from None
            h = sha256_hex(line)
            out.append(Collected(smart_ballot_tracker(line), h, election))
            if h not in known:
                pending.append(line)
                known.add(h)
        write_bytes(relay_dir / PENDING, b"".join(b + b"\n" for b in pending))
    return out


def upload(relay_dir: Path, desk: EventDesk, relay: str) -> Batch:
    """Send every pending ballot as one batch through ``desk`` (the voting server's side,
    in-process); each is accepted or refused on its own (:func:`upload_with`)."""

    def send(batch_id: str, pending: list[bytes]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for n, raw in enumerate(pending, start=1):
            where = Location(file=str(relay_dir / PENDING), line=n)
            tracker, h = smart_ballot_tracker(raw), sha256_hex(raw)
            try:
                cast = desk.cast_relayed(relay, batch_id, raw, where)
            except VicheError as exc:
                outcomes.append(Outcome(tracker, h, None, exc))
                continue
            outcomes.append(Outcome(tracker, h, cast.receipt, None))
        return outcomes

    return upload_with(relay_dir, relay, send)


def upload_with(relay_dir: Path, relay: str, send: Send) -> Batch:
    """Send every pending ballot as one batch with ``send`` (in-process, or over HTTP:
    :class:`viche.web.client.RelayClient`). The batch, its results and the receipts are
    kept in the relay folder and the pending file is emptied; when ``send`` fails as a
    whole (no link, a wrong secret) nothing changes and the ballots stay pending."""
    with _relay_lock(relay_dir):
        pending = read_pending(relay_dir)
        if not pending:
            raise RelayBatchError(
                "no pending ballot to upload", where=Location(file=str(relay_dir / PENDING))
            )
        content = b"".join(b + b"\n" for b in pending)
        batch_id = sha256_hex(content)[:16]
        outcomes = send(batch_id, pending)
        if [o.hash for o in outcomes] != [sha256_hex(b) for b in pending]:
            raise RelayBatchError(
                "the server's answer does not name the batch's ballots in order",
                where=Location(file=str(relay_dir / PENDING)),
            )
        for o in outcomes:
            if o.receipt is not None:
                write_bytes(relay_dir / RECEIPTS / f"{o.hash}.json", o.receipt.to_bytes() + b"\n")
        batches = relay_dir / BATCHES
        write_bytes(batches / f"{batch_id}.jsonl", content)
        write_bytes(
            batches / f"{batch_id}.results.jsonl",
            b"".join(codec.to_bytes(o.to_json()) + b"\n" for o in outcomes),
        )
        (relay_dir / PENDING).unlink()
    return Batch(batch_id, relay, tuple(outcomes))


def find_receipt(relay_dir: Path, tracker: str, where: Location = NOWHERE) -> codec.JsonObject:
    """A voter's outcome in the relay's batches, by her smart ballot tracker."""
    batches = relay_dir / BATCHES
    for path in sorted(batches.glob("*.results.jsonl")) if batches.is_dir() else []:
        for n, line in enumerate(read_bytes(path, "batch results").splitlines(), start=1):
            value = codec.loads(line, Location(file=str(path), line=n))
            if isinstance(value, dict) and value.get("tracker") == tracker:
                return value
    raise NotFoundError(f"no ballot with tracker {tracker} in this relay's batches", where=where)
