"""Signed receipts: the server's proof that it accepted a ballot.

For every accepted ballot the voting server signs, with the election's Ed25519 server key
(whose public key it publishes with the election), the canonical JSON

``{"election":uuid,"tracker":t,"ballot_hash":h,"height":n,"event_hash":e,"time":iso,"key":k}``

prefixed with the domain tag ``viche-receipt-v1\\n``. A receipt file is
``{"receipt":{…},"signature":base64}``.

:func:`check_receipt` decides, offline, from a receipt and a snapshot of the public record:

* ``IN_RECORD`` — the Ballot event at that height has that hash and holds that ballot;
* ``DROPPED`` — the record reaches (or has closed beyond) that height but does not hold the
  acknowledged ballot there: the signed receipt is evidence that the server dropped or
  rewrote a ballot it had accepted;
* ``NOT_YET`` — the snapshot is older than the receipt (still open, shorter chain): fetch a
  newer one.

:func:`check_receipt_folder` checks every receipt of a folder against one record and adds
the ``receipts`` check to a verification report (``viche verify --receipts DIR``): each
receipt file that fails is named, with the reason.
"""

from __future__ import annotations

import base64
import binascii
import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from viche.errors import (
    NOWHERE,
    DroppedBallotError,
    JsonFormatError,
    Location,
    MissingFileError,
    ProofError,
    UnconfirmedReceiptError,
    UsageError,
    VicheError,
)
from viche.protocol import codec
from viche.protocol.election import Election
from viche.record.entries import Record
from viche.verify.report import CheckResult, Failure, Status, VerificationReport

DOMAIN = b"viche-receipt-v1\n"
_FIELDS = ("election", "tracker", "ballot_hash", "height", "event_hash", "time", "key")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, where: Location) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise JsonFormatError("not standard Base64", where=where) from None


def published_key(text: str, where: Location) -> str:
    """A receipt key given by a user (``--key``, ``--receipt-key``): the Base64 of an
    Ed25519 public key (32 bytes), else a :class:`~viche.errors.UsageError` at ``where``
    (not a verdict on the receipts: the input is wrong)."""
    try:
        raw = base64.b64decode(text.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != 32:
        raise UsageError(
            "not an Ed25519 public key (the Base64 of 32 bytes, as the election publishes it)",
            where=where,
        )
    return _b64(raw)


class ReceiptKey:
    """An election's receipt-signing key (the private half never leaves this object)."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = _b64(private.public_key().public_bytes_raw())

    def __repr__(self) -> str:
        return f"ReceiptKey(public={self.public!r})"

    @classmethod
    def load_or_create(cls, path: Path) -> Self:
        """The key kept in ``path`` (created, mode 0600, on first use)."""
        try:
            if path.exists():
                raw = path.read_bytes()
                secret = _unb64(raw.decode().strip(), Location(file=str(path)))
                return cls(Ed25519PrivateKey.from_private_bytes(secret))
            path.parent.mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(_b64(key.private_bytes_raw()) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            return cls(key)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"cannot read or create the receipt key: {type(exc).__name__}",
                where=Location(file=str(path)),
            ) from None

    def sign(self, receipt: Receipt) -> SignedReceipt:
        if receipt.key != self.public:
            raise UsageError("a receipt names the key that signs it", where=Location(path=("key",)))
        return SignedReceipt(receipt, _b64(self._private.sign(DOMAIN + receipt.body())))


@dataclass(frozen=True)
class Receipt:
    election: str
    tracker: str
    ballot_hash: str
    height: int
    event_hash: str
    time: str
    key: str

    def to_json(self) -> codec.JsonObject:
        return {name: getattr(self, name) for name in _FIELDS}

    def body(self) -> bytes:
        return codec.to_bytes(self.to_json())


@dataclass(frozen=True)
class SignedReceipt:
    receipt: Receipt
    signature: str

    def to_json(self) -> codec.JsonObject:
        return {"receipt": self.receipt.to_json(), "signature": self.signature}

    def to_bytes(self) -> bytes:
        return codec.to_bytes(self.to_json())


def parse_receipt(raw: bytes, where: Location = NOWHERE) -> SignedReceipt:
    """A receipt file, its signature checked against the key it names
    (:class:`~viche.errors.ProofError` when it does not verify)."""
    top = codec.expect_object(codec.loads(raw, where), where, ("receipt", "signature"))
    body = codec.expect_object(top["receipt"], where.sub("receipt"), _FIELDS)
    values: dict[str, object] = {}
    for name in _FIELDS:
        if name == "height":
            values[name] = codec.get_int(body, name, where.sub("receipt"), minimum=1)
        else:
            values[name] = codec.get_str(body, name, where.sub("receipt"))
    receipt = Receipt(**values)  # type: ignore[arg-type]
    signature = codec.get_str(top, "signature", where)
    key_bytes = _unb64(receipt.key, where.sub("receipt", "key"))
    sig_bytes = _unb64(signature, where.sub("signature"))
    try:
        Ed25519PublicKey.from_public_bytes(key_bytes).verify(sig_bytes, DOMAIN + receipt.body())
    except (InvalidSignature, ValueError):
        raise ProofError(
            "the receipt's signature does not verify with the key it names",
            where=where.sub("signature"),
        ) from None
    return SignedReceipt(receipt, signature)


class Verdict(enum.Enum):
    IN_RECORD = "in-record"
    DROPPED = "dropped"
    NOT_YET = "not-yet"


@dataclass(frozen=True)
class ReceiptCheck:
    verdict: Verdict
    message: str


def check_receipt(
    signed: SignedReceipt, record: Record, published_key: str | None = None
) -> ReceiptCheck:
    """Is the acknowledged ballot in this snapshot of the record?"""
    r = signed.receipt
    if published_key is not None and published_key != r.key:
        raise ProofError(
            "the receipt is signed with a key other than the election's published key",
            where=Location(path=("receipt", "key")),
        )
    uuid = Election.from_bytes(record.election, Location(path=("archive", "election"))).uuid
    if uuid != r.election:
        raise UsageError(
            f"the receipt is for election {r.election}, the archive for {uuid}",
            where=Location(file=str(record.path)),
        )
    for entry in record.ballots:
        if entry.height == r.height:
            if entry.event_hash == r.event_hash and entry.hash == r.ballot_hash:
                return ReceiptCheck(
                    Verdict.IN_RECORD,
                    f"ballot {r.tracker} is in the record at event {r.height}",
                )
            break
    if record.height >= r.height or record.end_ballots is not None:
        return ReceiptCheck(
            Verdict.DROPPED,
            f"the server acknowledged ballot {r.tracker} as event {r.height} ({r.event_hash}) "
            f"at {r.time}, and this record does not hold it there: the signed receipt is "
            "evidence that an accepted ballot was dropped or rewritten",
        )
    return ReceiptCheck(
        Verdict.NOT_YET,
        f"this record ends at event {record.height}, before the receipt's event {r.height}: "
        "check against a newer snapshot",
    )


RECEIPTS_CHECK = "receipts"
_RECEIPTS_DESCRIPTION = (
    "every receipt of the folder: signed by the election's key, its ballot in the record "
    "at the receipt's event, under the receipt's chain head"
)
#: receipt files of a folder: ``viche vote`` saves ``UUID-HEIGHT.receipt.json``
RECEIPT_GLOB = "*.json"


def receipt_files(folder: Path) -> list[Path]:
    """The receipt files of ``folder`` (every ``*.json`` file), in name order."""
    if folder.exists() and not folder.is_dir():
        raise MissingFileError(
            "receipts: expected a folder, found a file", where=Location(file=str(folder))
        )
    if not folder.is_dir():
        raise MissingFileError("receipts folder not found", where=Location(file=str(folder)))
    try:
        return sorted(p for p in folder.glob(RECEIPT_GLOB) if p.is_file())
    except OSError as exc:
        raise MissingFileError(
            f"the receipts folder cannot be listed: {exc.strerror}",
            where=Location(file=str(folder)),
        ) from None


def _check_one(
    path: Path, record: Record | None, uuid: str | None, published_key: str | None
) -> str | None:
    """Check one receipt file; returns its key, or None for a receipt of an election other
    than ``uuid`` (the record's: not evidence about this record, skipped); raises the
    reason it fails."""
    from viche.service.files import read_bytes

    where = Location(file=str(path))
    signed = parse_receipt(read_bytes(path, "receipt"), where)
    r = signed.receipt
    at = where.at(event=r.height, ballot=r.tracker)
    if uuid is not None and r.election != uuid:
        return None
    if record is None:
        return r.key
    found = check_receipt(signed, record, published_key)
    if found.verdict is Verdict.DROPPED:
        raise DroppedBallotError(found.message, where=at)
    if found.verdict is Verdict.NOT_YET:
        raise UnconfirmedReceiptError(found.message, where=at)
    return r.key


def check_receipt_folder(
    report: VerificationReport,
    archive: Path,
    folder: Path,
    published_key: str | None = None,
) -> CheckResult:
    """Check every receipt of ``folder`` against the record at ``archive`` and add the
    ``receipts`` check to ``report``: one failure per receipt file that fails (its
    signature, its election, or its ballot not where the server said), located by the file.

    ``published_key`` is the election's receipt key as the server published it (by default
    the key ``viche mirror`` saved in the archive's folder): without it each receipt is
    checked against the key it names, and the note says that a receipt signed by a key of
    its own proves nothing about the server."""
    from viche.record import read_archive, resolve_archive
    from viche.service.mirror import KEY_FILE, saved_receipt_key

    files = receipt_files(folder)
    key_source = "given"
    if published_key is None and archive.is_dir():
        published_key = saved_receipt_key(archive)
        key_source = f"saved by viche mirror in {archive / KEY_FILE}"
    result = CheckResult(RECEIPTS_CHECK, _RECEIPTS_DESCRIPTION)
    report.checks.append(result)
    if not files:
        result.status = Status.NOT_APPLICABLE
        result.note = f"no receipt (*.json) in {folder}"
        return result
    record: Record | None = None
    uuid: str | None = None
    if report.readable:
        try:
            record = read_archive(resolve_archive(archive))
            uuid = Election.from_bytes(record.election, Location(file=str(archive))).uuid
        except VicheError:
            record = None
    keys: set[str] = set()
    others: list[str] = []  # receipts of other elections (a relay's folder may mix them)
    for path in files:
        try:
            key = _check_one(path, record, uuid, published_key)
        except VicheError as exc:  # located by the receipt file, whatever raised it
            result.count += 1
            where = exc.where.at(file=str(path))
            result.fail(Failure(RECEIPTS_CHECK, exc.code, exc.message, where))
            continue
        if key is None:
            others.append(path.name)
            continue
        result.count += 1
        keys.add(key)
    if record is None:
        result.fail(
            Failure(
                RECEIPTS_CHECK,
                UnconfirmedReceiptError.code,
                "the record could not be read: no receipt can be confirmed",
                Location(file=str(archive)),
            )
        )
    if published_key is not None:
        result.note = f"signed by the election's published key ({key_source})"
    else:
        result.note = (
            f"signatures checked against the key each receipt names ({len(keys)} key(s)); "
            "give --receipt-key (the election's published key) to check it is the server's"
        )
    if others:
        shown = ", ".join(others[:5]) + (", …" if len(others) > 5 else "")
        result.note += f"; {len(others)} receipt(s) of other elections skipped ({shown})"
    if not result.count and others:
        result.status = Status.NOT_APPLICABLE
    return result
