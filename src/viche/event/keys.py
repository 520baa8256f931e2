"""The event's signing key and signature checks for what it publishes beside the archives.

The election commission's Ed25519 key signs the event manifest, the station-lock log, the
relay log and the published turnout and national sum; its public half is in the manifest
(and should be published out of band too, as a fingerprint). Each signed object is its
canonical JSON prefixed with a domain tag (``viche-event-v1\\n``, ``viche-station-lock-v1\\n``
…), so that a signature on one kind of object is never valid for another. The key is kept
and created like a receipt key (:class:`~viche.service.receipts.ReceiptKey`).
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from viche.errors import JsonFormatError, Location, ProofError
from viche.service.receipts import ReceiptKey


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, where: Location) -> bytes:
    """Standard Base64 in its one canonical spelling (unused bits zero), so that a signed
    line has exactly one valid form."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise JsonFormatError("not standard Base64", where=where) from None
    if b64(data) != text:
        raise JsonFormatError("Base64 not in its canonical form", where=where)
    return data


class EventKey(ReceiptKey):
    """The event's signing key: the private half never leaves this object."""

    def __repr__(self) -> str:
        return f"EventKey(public={self.public!r})"

    def sign_bytes(self, domain: bytes, body: bytes) -> str:
        """The Base64 Ed25519 signature of ``domain + body``."""
        return b64(self._private.sign(domain + body))


def check_signature(
    public: str, domain: bytes, body: bytes, signature: str, where: Location
) -> None:
    """Raise :class:`~viche.errors.ProofError` unless ``signature`` (Base64) is the
    signature of ``domain + body`` by ``public`` (Base64 Ed25519 key)."""
    key = unb64(public, where.sub("key"))
    sig = unb64(signature, where.sub("signature"))
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(sig, domain + body)
    except (InvalidSignature, ValueError):
        raise ProofError(
            "the signature does not verify with the event's key", where=where.sub("signature")
        ) from None
