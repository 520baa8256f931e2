"""Trustee messages (spec 4.5-4.7, FORMAT.md section 3) with exact JSON codecs.

Every class has ``to_json()`` (dicts in belenios-tool's key order) and
``from_json(obj, where)`` (strict: every field required, nothing extra, numbers as canonical
base-10 strings); ``codec.dumps(X.from_json(obj).to_json())`` reproduces the bytes that
belenios-tool wrote. Parsing checks shapes only; the cryptographic checks (membership,
proofs, signatures, ceremony consistency) are in :mod:`viche.crypto.trustee` and
:mod:`viche.protocol.threshold`.

Public API:

* ``trustee_public_key_to_json`` / ``trustee_public_key_from_json`` — the ``X.pubkey`` file
  (``{"pok":{"challenge","response"},"public_key"}``) for
  :class:`viche.crypto.trustee.TrusteePublicKey`; ``private_key_to_file`` /
  ``private_key_from_file`` for the ``X.privkey`` file (a JSON string and a newline).
* :class:`SignedMsg` (``{"message","signature"}``), :class:`CertKeys` (the cert message
  ``{"verification","encryption"}``), :class:`Cert` (a signed_msg carrying CertKeys),
  :class:`Coefexps` (a signed_msg carrying ``{"coefexps":[A_0..A_{t-1}]}``).
* :class:`EncryptedMsg` (``{"alpha","beta","data"}``), :class:`ChannelMsg`
  (``{"recipient","message"}``), and the secret plaintexts :class:`RawPolynomial`
  (``{"polynomial":[a_0..]}``), :class:`SecretShare` (``{"secret":s}``) and
  :class:`DecryptionKey` (``{"decryption_key":x}``) whose reprs hide their values.
* :class:`Polynomial` (step 3 output), :class:`VInput` (step 4), :class:`VOutput` (step 5),
  :class:`ThresholdParameters` (step 6: ``{"threshold","certs","coefexps","verification_keys"}``).
* :class:`Trustees` — the ``trustees`` list ``[["Single", tpk] | ["Pedersen", params], ...]``,
  with :meth:`Trustees.flat` (trustee ids, 1-based, in list order: a Single item is one
  trustee, a Pedersen item contributes its trustees in certs order) and
  :meth:`Trustees.public_key` (the election key y).
* ``parse_lines`` — read a ``.jsons`` file (one JSON value per line).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gmpy2 import mpz

from viche.crypto.group import Group
from viche.crypto.schnorr import Proof
from viche.crypto.trustee import TrusteePrivateKey, TrusteePublicKey
from viche.errors import JsonFormatError, Location, NumberFormatError, ProtocolError
from viche.protocol.codec import (
    JsonObject,
    dumps,
    expect_list,
    expect_object,
    get_int,
    get_number,
    get_str,
    loads,
    number,
    require_canonical,
    sub,
    to_bytes,
)

T = TypeVar("T")

# ---------------------------------------------------------------------------- helpers


def proof_to_json(proof: Proof) -> JsonObject:
    return {"challenge": str(proof.challenge), "response": str(proof.response)}


def proof_from_json(obj: object, where: Location) -> Proof:
    o = expect_object(obj, where, ("challenge", "response"))
    return Proof(
        challenge=get_number(o, "challenge", where), response=get_number(o, "response", where)
    )


def _numbers(value: object, where: Location) -> tuple[mpz, ...]:
    return tuple(number(v, sub(where, i)) for i, v in enumerate(expect_list(value, where)))


def _secret_number(value: object, where: Location) -> mpz:
    """A secret number (key, share, coefficient): a malformed one is refused without
    quoting it (:func:`~viche.crypto.group.parse_number` shows the start of a bad value)."""
    try:
        return number(value, where)
    except NumberFormatError:
        raise NumberFormatError(
            "not a canonical base-10 number in a JSON string (a secret: value not shown)",
            where=where,
        ) from None


def _secret_numbers(value: object, where: Location) -> tuple[mpz, ...]:
    return tuple(_secret_number(v, sub(where, i)) for i, v in enumerate(expect_list(value, where)))


def _strings(value: object, where: Location) -> tuple[str, ...]:
    out = []
    for i, v in enumerate(expect_list(value, where)):
        if not isinstance(v, str):
            raise JsonFormatError("expected a string", where=sub(where, i))
        out.append(v)
    return tuple(out)


def _inner(text: str, where: Location) -> Any:
    """A JSON value serialized inside a string field (cert and coefexps messages...)."""
    return loads(text, where=where)


def parse_lines(
    data: bytes | str, parse: Callable[[object, Location], T], where: Location
) -> list[T]:
    """Parse a ``.jsons`` file: one JSON value per non-empty line."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            w = where.at(line=n)
            out.append(parse(loads(line, where=w), w))
    return out


# ---------------------------------------------------------------------------- Single keys


def trustee_public_key_to_json(tpk: TrusteePublicKey) -> JsonObject:
    return {"pok": proof_to_json(tpk.pok), "public_key": str(tpk.public_key)}


def trustee_public_key_from_json(
    obj: object, where: Location = Location(path=("trustee_public_key",))
) -> TrusteePublicKey:
    o = expect_object(obj, where, ("pok", "public_key"))
    return TrusteePublicKey(
        public_key=get_number(o, "public_key", where),
        pok=proof_from_json(o["pok"], sub(where, "pok")),
    )


def private_key_to_file(key: TrusteePrivateKey) -> str:
    """The ``X.privkey`` file content: a JSON string holding the number, then a newline."""
    return dumps(str(key.value)) + "\n"


def private_key_from_file(
    data: bytes | str, where: Location = Location(path=("privkey",))
) -> TrusteePrivateKey:
    return TrusteePrivateKey(_secret_number(loads(data, where=where), where))


# ---------------------------------------------------------------------------- PKI messages


@dataclass(frozen=True)
class SignedMsg:
    """``signed_msg``: a message string and a Schnorr signature on it (spec 4.6.1)."""

    message: str
    signature: Proof

    def to_json(self) -> JsonObject:
        return {"message": self.message, "signature": proof_to_json(self.signature)}

    @classmethod
    def from_json(cls, obj: object, where: Location = Location(path=("signed_msg",))) -> SignedMsg:
        o = expect_object(obj, where, ("message", "signature"))
        return cls(
            get_str(o, "message", where), proof_from_json(o["signature"], sub(where, "signature"))
        )


@dataclass(frozen=True)
class CertKeys:
    """``cert_keys``: a trustee's verification key g^sk and encryption key g^dk."""

    verification: mpz
    encryption: mpz

    def to_json(self) -> JsonObject:
        return {"verification": str(self.verification), "encryption": str(self.encryption)}

    @classmethod
    def from_json(cls, obj: object, where: Location = Location(path=("cert_keys",))) -> CertKeys:
        o = expect_object(obj, where, ("verification", "encryption"))
        return cls(get_number(o, "verification", where), get_number(o, "encryption", where))


@dataclass(frozen=True)
class Cert:
    """``cert``: a signed_msg whose message is a serialized :class:`CertKeys` (spec 4.6.2)."""

    message: str
    signature: Proof
    keys: CertKeys = field(compare=False)

    def to_json(self) -> JsonObject:
        return {"message": self.message, "signature": proof_to_json(self.signature)}

    @classmethod
    def from_json(cls, obj: object, where: Location = Location(path=("cert",))) -> Cert:
        signed = SignedMsg.from_json(obj, where)
        w = sub(where, "message")
        return cls(
            signed.message, signed.signature, CertKeys.from_json(_inner(signed.message, w), w)
        )

    @property
    def signed(self) -> SignedMsg:
        return SignedMsg(self.message, self.signature)


@dataclass(frozen=True)
class Coefexps:
    """``coefexps``: a signed_msg whose message is ``{"coefexps":[A_0..A_{t-1}]}`` (spec 4.6.4)."""

    message: str
    signature: Proof
    values: tuple[mpz, ...] = field(compare=False)

    def to_json(self) -> JsonObject:
        return {"message": self.message, "signature": proof_to_json(self.signature)}

    @classmethod
    def from_json(cls, obj: object, where: Location = Location(path=("coefexps",))) -> Coefexps:
        signed = SignedMsg.from_json(obj, where)
        w = sub(where, "message")
        inner = expect_object(_inner(signed.message, w), w, ("coefexps",))
        return cls(
            signed.message, signed.signature, _numbers(inner["coefexps"], sub(w, "coefexps"))
        )

    @staticmethod
    def message_of(values: tuple[mpz, ...]) -> str:
        return dumps({"coefexps": [str(v) for v in values]})

    @property
    def signed(self) -> SignedMsg:
        return SignedMsg(self.message, self.signature)


@dataclass(frozen=True)
class EncryptedMsg:
    """``encrypted_msg``: ElGamal-wrapped AES-CCM ciphertext (spec 4.6.1); ``data`` is hex."""

    alpha: mpz
    beta: mpz
    data: str

    def to_json(self) -> JsonObject:
        return {"alpha": str(self.alpha), "beta": str(self.beta), "data": self.data}

    @classmethod
    def from_json(
        cls, obj: object, where: Location = Location(path=("encrypted_msg",))
    ) -> EncryptedMsg:
        o = expect_object(obj, where, ("alpha", "beta", "data"))
        data = get_str(o, "data", where)
        if len(data) % 2 or any(c not in "0123456789abcdef" for c in data):
            raise JsonFormatError("data is not lower-case hexadecimal", where=sub(where, "data"))
        return cls(get_number(o, "alpha", where), get_number(o, "beta", where), data)

    def serialize(self) -> str:
        return dumps(self.to_json())

    @classmethod
    def parse(cls, text: str, where: Location = Location(path=("encrypted_msg",))) -> EncryptedMsg:
        return cls.from_json(loads(text, where=where), where)


class _SecretMessage:
    """Equality of messages that hold secrets (shares, coefficients, keys): constant time
    over their canonical bytes (hmac.compare_digest); never hashable."""

    def to_json(self) -> JsonObject:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _SecretMessage)
        return hmac.compare_digest(to_bytes(self.to_json()), to_bytes(other.to_json()))

    def __hash__(self) -> int:
        raise TypeError(f"{type(self).__name__} holds a secret and is not hashable")


@dataclass(frozen=True, eq=False)
class ChannelMsg(_SecretMessage):
    """``channel_msg``: a message addressed to an encryption key (spec 4.6.3)."""

    recipient: mpz
    message: str = field(repr=False)

    def to_json(self) -> JsonObject:
        return {"recipient": str(self.recipient), "message": self.message}

    @classmethod
    def from_json(
        cls, obj: object, where: Location = Location(path=("channel_msg",))
    ) -> ChannelMsg:
        o = expect_object(obj, where, ("recipient", "message"))
        return cls(get_number(o, "recipient", where), get_str(o, "message", where))


@dataclass(frozen=True, eq=False)
class RawPolynomial(_SecretMessage):
    """``raw_polynomial``: the secret coefficients a_0..a_{t-1} (repr hidden)."""

    coefficients: tuple[mpz, ...] = field(repr=False)

    def to_json(self) -> JsonObject:
        return {"polynomial": [str(a) for a in self.coefficients]}

    @classmethod
    def from_json(
        cls, obj: object, where: Location = Location(path=("raw_polynomial",))
    ) -> RawPolynomial:
        o = expect_object(obj, where, ("polynomial",))
        return cls(_secret_numbers(o["polynomial"], sub(where, "polynomial")))


@dataclass(frozen=True, eq=False)
class SecretShare(_SecretMessage):
    """``secret``: the share s_ij = f_i(j) sent by trustee i to trustee j (repr hidden)."""

    value: mpz = field(repr=False)

    def to_json(self) -> JsonObject:
        return {"secret": str(self.value)}

    @classmethod
    def from_json(cls, obj: object, where: Location = Location(path=("secret",))) -> SecretShare:
        o = expect_object(obj, where, ("secret",))
        return cls(_secret_number(o["secret"], sub(where, "secret")))


@dataclass(frozen=True, eq=False)
class DecryptionKey(_SecretMessage):
    """The plaintext of a voutput's private_key (the ``.dkey``): ``{"decryption_key":x_j}``."""

    value: mpz = field(repr=False)

    def to_json(self) -> JsonObject:
        return {"decryption_key": str(self.value)}

    @classmethod
    def from_json(
        cls, obj: object, where: Location = Location(path=("decryption_key",))
    ) -> DecryptionKey:
        o = expect_object(obj, where, ("decryption_key",))
        return cls(_secret_number(o["decryption_key"], sub(where, "decryption_key")))


# ---------------------------------------------------------------------------- ceremony messages


@dataclass(frozen=True)
class Polynomial:
    """Step 3 output of trustee i: encrypted raw polynomial (to itself), one encrypted
    secret per trustee, and the signed coefexps (spec 4.6.4)."""

    polynomial: str
    secrets: tuple[str, ...]
    coefexps: Coefexps

    def to_json(self) -> JsonObject:
        return {
            "polynomial": self.polynomial,
            "secrets": list(self.secrets),
            "coefexps": self.coefexps.to_json(),
        }

    @classmethod
    def from_json(cls, obj: object, where: Location = Location(path=("polynomial",))) -> Polynomial:
        o = expect_object(obj, where, ("polynomial", "secrets", "coefexps"))
        return cls(
            get_str(o, "polynomial", where),
            _strings(o["secrets"], sub(where, "secrets")),
            Coefexps.from_json(o["coefexps"], sub(where, "coefexps")),
        )


@dataclass(frozen=True)
class VInput:
    """Step 4 output for trustee j: its own encrypted polynomial, the secrets s_ij sent to it
    by every trustee i, and every trustee's coefexps (spec 4.6.5)."""

    polynomial: str
    secrets: tuple[str, ...]
    coefexps: tuple[Coefexps, ...]

    def to_json(self) -> JsonObject:
        return {
            "polynomial": self.polynomial,
            "secrets": list(self.secrets),
            "coefexps": [c.to_json() for c in self.coefexps],
        }

    @classmethod
    def from_json(cls, obj: object, where: Location = Location(path=("vinput",))) -> VInput:
        o = expect_object(obj, where, ("polynomial", "secrets", "coefexps"))
        w = sub(where, "coefexps")
        return cls(
            get_str(o, "polynomial", where),
            _strings(o["secrets"], sub(where, "secrets")),
            tuple(
                Coefexps.from_json(c, sub(w, i))
                for i, c in enumerate(expect_list(o["coefexps"], w))
            ),
        )


@dataclass(frozen=True)
class VOutput:
    """Step 5 output of trustee j: its encrypted share x_j (to itself) and g^x_j with a PoK."""

    private_key: str
    public_key: TrusteePublicKey

    def to_json(self) -> JsonObject:
        return {
            "private_key": self.private_key,
            "public_key": trustee_public_key_to_json(self.public_key),
        }

    @classmethod
    def from_json(cls, obj: object, where: Location = Location(path=("voutput",))) -> VOutput:
        o = expect_object(obj, where, ("private_key", "public_key"))
        return cls(
            get_str(o, "private_key", where),
            trustee_public_key_from_json(o["public_key"], sub(where, "public_key")),
        )


@dataclass(frozen=True)
class ThresholdParameters:
    """``threshold_parameters`` (spec 4.6.7). ``threshold`` is the number of trustees needed
    (the ``--threshold`` value); each coefexps list has that many entries."""

    threshold: int
    certs: tuple[Cert, ...]
    coefexps: tuple[Coefexps, ...]
    verification_keys: tuple[TrusteePublicKey, ...]

    def to_json(self) -> JsonObject:
        return {
            "threshold": self.threshold,
            "certs": [c.to_json() for c in self.certs],
            "coefexps": [c.to_json() for c in self.coefexps],
            "verification_keys": [trustee_public_key_to_json(k) for k in self.verification_keys],
        }

    @classmethod
    def from_json(
        cls, obj: object, where: Location = Location(path=("threshold_parameters",))
    ) -> ThresholdParameters:
        o = expect_object(obj, where, ("threshold", "certs", "coefexps", "verification_keys"))
        wc, we, wv = sub(where, "certs"), sub(where, "coefexps"), sub(where, "verification_keys")
        params = cls(
            get_int(o, "threshold", where, minimum=1),
            tuple(Cert.from_json(c, sub(wc, i)) for i, c in enumerate(expect_list(o["certs"], wc))),
            tuple(
                Coefexps.from_json(c, sub(we, i))
                for i, c in enumerate(expect_list(o["coefexps"], we))
            ),
            tuple(
                trustee_public_key_from_json(k, sub(wv, i))
                for i, k in enumerate(expect_list(o["verification_keys"], wv))
            ),
        )
        n = len(params.certs)
        if len(params.coefexps) != n or len(params.verification_keys) != n:
            raise JsonFormatError(
                f"{n} certs but {len(params.coefexps)} coefexps and "
                f"{len(params.verification_keys)} verification keys",
                where=where,
            )
        if params.threshold > n:
            raise JsonFormatError(f"threshold {params.threshold} exceeds {n} trustees", where=where)
        for i, c in enumerate(params.coefexps):
            if len(c.values) != params.threshold:
                raise JsonFormatError(
                    f"{len(c.values)} coefexps for threshold {params.threshold}", where=sub(we, i)
                )
        return params

    @property
    def size(self) -> int:
        """The number of trustees in this Pedersen item."""
        return len(self.certs)

    def public_key(self, group: Group) -> mpz:
        """The sub-key Π_z A_z0 (spec 4.6.4)."""
        return group.prod([c.values[0] for c in self.coefexps])


# ---------------------------------------------------------------------------- trustees list


@dataclass(frozen=True)
class SingleItem:
    """``["Single", trustee_public_key]``."""

    key: TrusteePublicKey


@dataclass(frozen=True)
class PedersenItem:
    """``["Pedersen", threshold_parameters]``."""

    params: ThresholdParameters


TrusteeItem = SingleItem | PedersenItem


@dataclass(frozen=True)
class FlatTrustee:
    """One trustee of the flattened structure.

    ``trustee_id`` is the 1-based id used by ``--trustee-id`` and ``owner``; ``item`` is the
    0-based index of its item in the trustees list; for a Pedersen trustee ``index`` is its
    1-based position among that item's trustees (the Lagrange index), 0 for a Single one.
    ``key`` is the key its partial decryptions are checked against.
    """

    trustee_id: int
    item: int
    index: int
    key: TrusteePublicKey


@dataclass(frozen=True)
class Trustees:
    """The ``trustees`` structure of an election (spec 4.7)."""

    items: tuple[TrusteeItem, ...]

    def to_json(self) -> list[Any]:
        out: list[Any] = []
        for item in self.items:
            if isinstance(item, SingleItem):
                out.append(["Single", trustee_public_key_to_json(item.key)])
            else:
                out.append(["Pedersen", item.params.to_json()])
        return out

    @classmethod
    def from_json(cls, obj: object, where: Location = Location(path=("trustees",))) -> Trustees:
        items: list[TrusteeItem] = []
        for i, raw in enumerate(expect_list(obj, where)):
            w = sub(where, i)
            pair = expect_list(raw, w, length=2)
            kind = pair[0]
            if kind == "Single":
                items.append(SingleItem(trustee_public_key_from_json(pair[1], sub(w, 1))))
            elif kind == "Pedersen":
                items.append(PedersenItem(ThresholdParameters.from_json(pair[1], sub(w, 1))))
            else:
                raise JsonFormatError(
                    f"unknown trustee kind {kind!r}; expected 'Single' or 'Pedersen'",
                    where=sub(w, 0),
                )
        if not items:
            raise JsonFormatError("the trustees list is empty", where=where)
        return cls(tuple(items))

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = Location(path=("trustees",))) -> Trustees:
        """The trustees member of an archive, in canonical form."""
        value = cls.from_json(loads(raw, where), where)
        require_canonical(raw, value.to_json(), where, "trustees")
        return value

    def flat(self) -> list[FlatTrustee]:
        """Every trustee, in id order (ids are 1-based positions in this list)."""
        out: list[FlatTrustee] = []
        for i, item in enumerate(self.items):
            if isinstance(item, SingleItem):
                out.append(FlatTrustee(len(out) + 1, i, 0, item.key))
            else:
                for z, key in enumerate(item.params.verification_keys, start=1):
                    out.append(FlatTrustee(len(out) + 1, i, z, key))
        return out

    def trustee(
        self, trustee_id: int, where: Location = Location(path=("trustee id",))
    ) -> FlatTrustee:
        """The trustee with this 1-based id."""
        flat = self.flat()
        if not 1 <= trustee_id <= len(flat):
            raise ProtocolError(f"trustee id {trustee_id} out of range 1..{len(flat)}", where=where)
        return flat[trustee_id - 1]

    def public_key(self, group: Group) -> mpz:
        """The election public key y = Π Single keys × Π_Pedersen Π_z A_z0 (spec 3.1.1)."""
        parts = [
            item.key.public_key if isinstance(item, SingleItem) else item.params.public_key(group)
            for item in self.items
        ]
        return group.prod(parts)


def public_key(trustees: Trustees, group: Group) -> mpz:
    """The election public key of a trustees structure (same as :meth:`Trustees.public_key`)."""
    return trustees.public_key(group)
