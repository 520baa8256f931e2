"""The public key infrastructure and private channels of the threshold ceremony
(specification 4.6.1-4.6.3).

A trustee's secret is a 22-character base58 *seed*. From it:

* signing key ``sk = SHA256("sk|" + seed) mod q``, verification key ``vk = g^sk``;
* decryption key ``dk = SHA256("dk|" + seed) mod q``, encryption key ``ek = g^dk``.

(The digests, read big-endian, are used mod q; for BELENIOS-2048 some exceed q, and
``g^sk`` is the same either way, which the reference certificates confirm.)

Encryption (``encrypted_msg``): random r, s; ``alpha = g^r``, ``beta = ek^r * g^s``;
AES-256 in CCM mode with key ``SHA256("key|" + str(g^s))`` (all 32 bytes), nonce = the
first ``15 - L`` bytes of ``SHA256("iv|" + str(alpha))`` where L (at least 2) is the number of
bytes needed to write the plaintext length (13 bytes for every message under 64 KiB), an
8-byte tag, no associated data; ``data`` is the lower-case hex of ciphertext || tag. These
parameters were found by decrypting belenios-tool's ``.dkey``/polynomial/vinput files; the
12-byte nonce of messages of 64 KiB and more was confirmed on a raw polynomial of degree 829
written by belenios-tool (tests/interop/test_threshold_interop.py).

A channel message ``send(sk, ek, M)`` is ``encrypt(ek, signed_msg(sk, channel_msg(ek, M)))``
serialized; :func:`receive` decrypts, checks the signature against the sender's
verification key and checks that the recipient is the receiver's own encryption key.

Public API: :func:`generate_seed`, :func:`check_seed`, :class:`ChannelKeys`
(:func:`derive_keys`), :func:`sign`, :func:`check_signed`, :func:`encrypt`, :func:`decrypt`,
:func:`send`, :func:`receive`. Message types are in :mod:`viche.protocol.trustees`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from gmpy2 import mpz

from viche.crypto.group import Group
from viche.crypto.rng import RandomSource, random_zq
from viche.crypto.schnorr import check_message_signature, sign_message
from viche.errors import DecryptionError, FormatError, KeyCeremonyError, Location
from viche.protocol.codec import dumps, loads
from viche.protocol.trustees import CertKeys, ChannelMsg, EncryptedMsg, SignedMsg

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
SEED_LENGTH = 22
TAG_LENGTH = 8


def generate_seed(rng: RandomSource) -> str:
    """A fresh 22-character base58 seed (the trustee's ``.key`` file, without newline)."""
    return "".join(BASE58[rng.randbelow(58)] for _ in range(SEED_LENGTH))


def check_seed(seed: str, where: Location = Location(path=("seed",))) -> str:
    """The seed must be 22 base58 characters; a trailing newline is tolerated (files)."""
    seed = seed.rstrip("\n")
    if len(seed) != SEED_LENGTH or any(c not in BASE58 for c in seed):
        raise FormatError(f"a seed is {SEED_LENGTH} base58 characters", where=where)
    return seed


def _hash_number(text: str) -> mpz:
    return mpz(int.from_bytes(hashlib.sha256(text.encode("ascii")).digest(), "big"))


@dataclass(frozen=True, eq=False)
class ChannelKeys:
    """A trustee's four PKI keys; the two private ones are hidden from ``repr`` and compared
    in constant time."""

    signing_key: mpz = field(repr=False)
    decryption_key: mpz = field(repr=False)
    verification_key: mpz
    encryption_key: mpz

    def __repr__(self) -> str:
        return "ChannelKeys(<secret>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChannelKeys):
            return NotImplemented
        mine = b"".join(
            int(k).to_bytes(512, "big") for k in (self.signing_key, self.decryption_key)
        )
        theirs = b"".join(
            int(k).to_bytes(512, "big") for k in (other.signing_key, other.decryption_key)
        )
        return hmac.compare_digest(mine, theirs) and (
            self.verification_key == other.verification_key
            and self.encryption_key == other.encryption_key
        )

    def __hash__(self) -> int:
        raise TypeError("ChannelKeys holds secret keys and is not hashable")

    @property
    def public(self) -> CertKeys:
        return CertKeys(verification=self.verification_key, encryption=self.encryption_key)


def derive_keys(group: Group, seed: str, where: Location = Location(path=("seed",))) -> ChannelKeys:
    """Signing/decryption keys (and their public halves) from a seed (spec 4.6.1)."""
    seed = check_seed(seed, where)
    sk = _hash_number("sk|" + seed) % group.q
    dk = _hash_number("dk|" + seed) % group.q
    return ChannelKeys(sk, dk, group.powg(sk), group.powg(dk))


# ---------------------------------------------------------------------------- signing


def sign(group: Group, signing_key: mpz, message: str, rng: RandomSource) -> SignedMsg:
    return SignedMsg(message, sign_message(group, signing_key, message, rng))


def check_signed(
    group: Group,
    verification_key: mpz,
    signed: SignedMsg,
    where: Location = Location(path=("signed_msg",)),
) -> None:
    """Raises :class:`~viche.errors.ProofError` when the signature does not verify."""
    check_message_signature(
        group, verification_key, signed.message, signed.signature, where=where.sub("signature")
    )


# ---------------------------------------------------------------------------- encryption


def _aes_key(value: mpz) -> bytes:
    return hashlib.sha256(f"key|{value}".encode("ascii")).digest()


def _nonce(alpha: mpz, length: int) -> bytes:
    size_bytes = 2
    while size_bytes < 8 and length >= 1 << (8 * size_bytes):
        size_bytes += 1
    return hashlib.sha256(f"iv|{alpha}".encode("ascii")).digest()[: 15 - size_bytes]


def encrypt(group: Group, encryption_key: mpz, plaintext: str, rng: RandomSource) -> EncryptedMsg:
    r = random_zq(rng, group.q)
    s = random_zq(rng, group.q)
    alpha = group.powg(r)
    gs = group.powg(s)
    beta = group.mul(group.pow(encryption_key, r), gs)
    data = plaintext.encode("utf-8")
    sealed = AESCCM(_aes_key(gs), tag_length=TAG_LENGTH).encrypt(
        _nonce(alpha, len(data)), data, None
    )
    return EncryptedMsg(alpha=alpha, beta=beta, data=sealed.hex())


def decrypt(
    group: Group,
    decryption_key: mpz,
    message: EncryptedMsg,
    where: Location = Location(path=("encrypted_msg",)),
) -> str:
    """Raises :class:`~viche.errors.DecryptionError` when the message was not encrypted for
    this key or was altered."""
    group.check_element(message.alpha, where=where.sub("alpha"))
    group.check_element(message.beta, where=where.sub("beta"))
    gs = group.div(message.beta, group.pow(message.alpha, decryption_key))
    try:
        sealed = bytes.fromhex(message.data)
    except ValueError:
        raise DecryptionError("encrypted data is not hexadecimal", where=where) from None
    if len(sealed) < TAG_LENGTH:
        raise DecryptionError("encrypted data shorter than its tag", where=where)
    length = len(sealed) - TAG_LENGTH
    try:
        plain = AESCCM(_aes_key(gs), tag_length=TAG_LENGTH).decrypt(
            _nonce(message.alpha, length), sealed, None
        )
    except (InvalidTag, ValueError):
        raise DecryptionError("cannot decrypt: wrong key or altered message", where=where) from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError("decrypted message is not UTF-8", where=where) from None


# ---------------------------------------------------------------------------- channels


def send(group: Group, signing_key: mpz, recipient: mpz, message: str, rng: RandomSource) -> str:
    """``send(sk, recipient, M)`` (spec 4.6.3): the serialized encrypted signed channel_msg."""
    inner = dumps(ChannelMsg(recipient, message).to_json())
    signed = dumps(sign(group, signing_key, inner, rng).to_json())
    return encrypt(group, recipient, signed, rng).serialize()


def receive(
    group: Group, keys: ChannelKeys, sender_verification_key: mpz, text: str, where: Location
) -> str:
    """Open a channel message addressed to ``keys``: decrypt it, check the sender's
    signature and that the recipient named inside is ``keys.encryption_key``."""
    encrypted = EncryptedMsg.parse(text, where)
    plain = decrypt(group, keys.decryption_key, encrypted, where)
    signed = SignedMsg.from_json(loads(plain, where=where), where)
    check_signed(group, sender_verification_key, signed, where)
    channel = ChannelMsg.from_json(loads(signed.message, where=where), where)
    if channel.recipient != keys.encryption_key:
        raise KeyCeremonyError("channel message addressed to another trustee", where=where)
    return channel.message
