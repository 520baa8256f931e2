"""The election definition, its questions, public credentials and the Setup payload
(specification 4.8-4.10, FORMAT.md §2-§4).

An object parsed from bytes keeps those bytes in ``raw``: the election fingerprint φ and
the archive member names are hashes of the exact bytes, never of a re-serialisation.
An object built in memory gets ``raw = dumps(to_json())``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from gmpy2 import mpz

from viche.crypto.elgamal import PublicKey
from viche.crypto.group import Group, group_by_name, parse_number
from viche.crypto.hashing import b64_sha256, is_sha256_hex, sha256_hex
from viche.errors import (
    NOWHERE,
    JsonFormatError,
    Location,
    ProtocolError,
    UnknownCredentialError,
    UnsupportedError,
)
from viche.protocol.codec import (
    JsonObject,
    expect_list,
    expect_object,
    get_bool,
    get_int,
    get_number,
    get_str,
    loads,
    require_canonical,
    sub,
    to_bytes,
)

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_UUID_RE = re.compile(f"[{BASE58_ALPHABET}]{{14,}}")
NON_HOMOMORPHIC = "NonHomomorphic"


#: Where an election or a credential list is, when the caller names no other place.
_ELECTION = Location(path=("election",))
_CREDENTIALS = Location(path=("credentials",))


def check_uuid(uuid: str, where: Location = Location(path=("uuid",))) -> str:
    """An election uuid: at least 14 Base58 characters (spec 4.2)."""
    if not _UUID_RE.fullmatch(uuid):
        raise ProtocolError(
            "an election uuid is a string of at least 14 Base58 characters", where=where
        )
    return uuid


def _strings(value: object, where: Location) -> tuple[str, ...]:
    items = expect_list(value, where)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise JsonFormatError("expected a string", where=sub(where, i))
    return tuple(items)


# ---------------------------------------------------------------------- questions


@dataclass(frozen=True)
class HomomorphicQuestion:
    """``{"answers","blank"?,"min","max","question"}``; ``blank`` is written only when true."""

    answers: tuple[str, ...]
    blank: bool
    min: int
    max: int
    question: str

    def validate(self, where: Location) -> None:
        n = len(self.answers)
        if n == 0:
            raise ProtocolError("a question needs at least one answer", where=where)
        if not 0 <= self.min <= self.max <= n:
            raise ProtocolError(
                f"need 0 <= min <= max <= number of answers, got min={self.min}, "
                f"max={self.max}, {n} answer(s)",
                where=where,
            )

    @property
    def n_choices(self) -> int:
        """Ciphertexts in an answer: one per answer, plus the leading blank flag."""
        return len(self.answers) + (1 if self.blank else 0)

    def to_json(self) -> JsonObject:
        out: JsonObject = {"answers": list(self.answers)}
        if self.blank:
            out["blank"] = True
        out["min"] = self.min
        out["max"] = self.max
        out["question"] = self.question
        return out

    @classmethod
    def from_json(cls, value: object, where: Location) -> HomomorphicQuestion:
        obj = expect_object(value, where, ("answers", "min", "max", "question"), ("blank",))
        blank = get_bool(obj, "blank", where) if "blank" in obj else False
        q = cls(
            answers=_strings(obj["answers"], sub(where, "answers")),
            blank=blank,
            min=get_int(obj, "min", where, minimum=0),
            max=get_int(obj, "max", where, minimum=0),
            question=get_str(obj, "question", where),
        )
        q.validate(where)
        return q


@dataclass(frozen=True)
class NonHomomorphicQuestion:
    """``{"type":"NonHomomorphic","value":{"answers","question"}}``: each voter gives a
    vector of small integers, one per answer, revealed after a shuffle (spec 4.9.2)."""

    answers: tuple[str, ...]
    question: str

    @property
    def n_choices(self) -> int:
        return len(self.answers)

    def validate(self, where: Location) -> None:
        if not self.answers:
            raise ProtocolError("a question needs at least one answer", where=where)

    def to_json(self) -> JsonObject:
        return {
            "type": NON_HOMOMORPHIC,
            "value": {"answers": list(self.answers), "question": self.question},
        }

    @classmethod
    def from_json(cls, value: object, where: Location) -> NonHomomorphicQuestion:
        obj = expect_object(value, where, ("type", "value"))
        kind = get_str(obj, "type", where)
        if kind != NON_HOMOMORPHIC:
            raise UnsupportedError(f"unknown question type {kind!r}", where=sub(where, "type"))
        vwhere = sub(where, "value")
        inner = expect_object(obj["value"], vwhere, ("answers", "question"))
        q = cls(
            answers=_strings(inner["answers"], sub(vwhere, "answers")),
            question=get_str(inner, "question", vwhere),
        )
        q.validate(where)
        return q


Question = HomomorphicQuestion | NonHomomorphicQuestion


def question_from_json(value: object, where: Location) -> Question:
    if isinstance(value, dict) and "type" in value:
        return NonHomomorphicQuestion.from_json(value, where)
    return HomomorphicQuestion.from_json(value, where)


def _questions_from_json(value: object, where: Location) -> tuple[Question, ...]:
    items = expect_list(value, where)
    return tuple(question_from_json(v, sub(where, i)) for i, v in enumerate(items))


def _check_questions_fit(group: Group, questions: tuple[Question, ...], where: Location) -> None:
    """Non-homomorphic questions need a group with an embedding wide enough for them."""
    for i, q in enumerate(questions):
        if not isinstance(q, NonHomomorphicQuestion):
            continue
        qwhere = sub(sub(where, "questions"), i)
        emb = group.embedding
        if emb is None:
            raise ProtocolError(
                f"non-homomorphic questions need a group with an embedding; {group.name} has none",
                where=qwhere,
            )
        bits = len(q.answers) * emb.bits_per_int + emb.padding
        if bits >= group.p.bit_length() - 1:
            raise ProtocolError(
                f"{len(q.answers)} answers do not fit in one element of {group.name}",
                where=qwhere,
            )


# ---------------------------------------------------------------------- template


@dataclass(frozen=True)
class ElectionTemplate:
    """What ``setup make-election --template`` reads: description, name, questions."""

    description: str
    name: str
    questions: tuple[Question, ...]
    administrator: str | None = None
    credential_authority: str | None = None

    @classmethod
    def from_json(
        cls, value: object, where: Location = Location(path=("template",))
    ) -> ElectionTemplate:
        obj = expect_object(
            value,
            where,
            ("description", "name", "questions"),
            ("administrator", "credential_authority"),
        )
        questions = _questions_from_json(obj["questions"], sub(where, "questions"))
        if not questions:
            raise ProtocolError(
                "an election needs at least one question", where=sub(where, "questions")
            )
        return cls(
            description=get_str(obj, "description", where),
            name=get_str(obj, "name", where),
            questions=questions,
            administrator=(
                get_str(obj, "administrator", where) if "administrator" in obj else None
            ),
            credential_authority=(
                get_str(obj, "credential_authority", where)
                if "credential_authority" in obj
                else None
            ),
        )

    @classmethod
    def from_bytes(
        cls, raw: bytes, where: Location = Location(path=("template",))
    ) -> ElectionTemplate:
        return cls.from_json(loads(raw, where), where)

    @property
    def has_nh_questions(self) -> bool:
        return any(isinstance(q, NonHomomorphicQuestion) for q in self.questions)

    def check_group(self, group: Group, where: Location = Location(path=("template",))) -> None:
        """The questions can be asked in ``group`` (non-homomorphic ones need an embedding
        wide enough): checked before anything is made for the election, not when it opens."""
        _check_questions_fit(group, self.questions, where)


# ---------------------------------------------------------------------- election


@dataclass(frozen=True, eq=False)
class Election:
    """The election structure (spec 4.10); ``raw`` holds the exact bytes that are hashed.

    Compare elections by :attr:`fingerprint` (the exact bytes) or by ``to_json()``.
    """

    version: int
    description: str
    name: str
    group: Group
    public_key: PublicKey
    questions: tuple[Question, ...]
    uuid: str
    administrator: str | None = None
    credential_authority: str | None = None
    raw: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        where = _ELECTION
        if self.version != 1:
            raise UnsupportedError(
                f"election version {self.version}; only version 1 exists",
                where=sub(where, "version"),
            )
        check_uuid(self.uuid, sub(where, "uuid"))
        if self.public_key.group.name != self.group.name:
            raise ProtocolError("public key of another group", where=sub(where, "public_key"))
        self.group.check_element(self.public_key.y, sub(where, "public_key"))
        if not self.questions:
            raise ProtocolError("an election needs at least one question", where=where)
        for i, q in enumerate(self.questions):
            q.validate(sub(sub(where, "questions"), i))
        _check_questions_fit(self.group, self.questions, where)
        if not self.raw:
            object.__setattr__(self, "raw", to_bytes(self.to_json()))

    # -------------------------------------------------------------- codec
    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "version": self.version,
            "description": self.description,
            "name": self.name,
            "group": self.group.name,
            "public_key": str(self.public_key.y),
            "questions": [q.to_json() for q in self.questions],
            "uuid": self.uuid,
        }
        if self.administrator is not None:
            out["administrator"] = self.administrator
        if self.credential_authority is not None:
            out["credential_authority"] = self.credential_authority
        return out

    @classmethod
    def from_json(cls, value: object, where: Location = _ELECTION, raw: bytes = b"") -> Election:
        obj = expect_object(
            value,
            where,
            ("version", "description", "name", "group", "public_key", "questions", "uuid"),
            ("administrator", "credential_authority"),
        )
        group = group_by_name(get_str(obj, "group", where), where=sub(where, "group"))
        y = get_number(obj, "public_key", where)
        return cls(
            version=get_int(obj, "version", where),
            description=get_str(obj, "description", where),
            name=get_str(obj, "name", where),
            group=group,
            public_key=PublicKey(group, y),
            questions=_questions_from_json(obj["questions"], sub(where, "questions")),
            uuid=get_str(obj, "uuid", where),
            administrator=(
                get_str(obj, "administrator", where) if "administrator" in obj else None
            ),
            credential_authority=(
                get_str(obj, "credential_authority", where)
                if "credential_authority" in obj
                else None
            ),
            raw=raw,
        )

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = _ELECTION) -> Election:
        """Parse an election and keep ``raw`` (the bytes the fingerprint is computed over)."""
        if not raw:
            raise JsonFormatError("empty election", where=where)
        return cls.from_json(loads(raw, where), where, raw=raw)

    @classmethod
    def from_template(
        cls, template: ElectionTemplate, public_key: PublicKey, uuid: str
    ) -> Election:
        """Like ``belenios-tool setup make-election --template``."""
        return cls(
            version=1,
            description=template.description,
            name=template.name,
            group=public_key.group,
            public_key=public_key,
            questions=template.questions,
            uuid=uuid,
            administrator=template.administrator,
            credential_authority=template.credential_authority,
        )

    # -------------------------------------------------------------- hashes
    @cached_property
    def fingerprint(self) -> str:
        """φ: Base64 (unpadded) SHA-256 of the exact election bytes."""
        return b64_sha256(self.raw)

    @cached_property
    def hex_hash(self) -> str:
        """SHA-256 hex of the bytes: the archive member name and the setup_data reference."""
        return sha256_hex(self.raw)

    @property
    def is_canonical(self) -> bool:
        """True when ``raw`` is the compact form in spec key order. A non-canonical
        election is still valid (belenios-tool 2.0's verify accepts an archive whose
        election member has extra spaces: φ is over the raw bytes); a verifier or a
        server may warn about it or refuse it with :func:`require_canonical`."""
        return self.raw == to_bytes(self.to_json())

    @property
    def has_nh_questions(self) -> bool:
        return any(isinstance(q, NonHomomorphicQuestion) for q in self.questions)


# ---------------------------------------------------------------------- credentials


#: Bounds on voter weights. The tally takes a discrete logarithm bounded by the total
#: weight (baby-step giant-step: about sqrt(total) group elements in memory), so neither a
#: weight nor the sum of a list may be arbitrarily large.
MAX_WEIGHT = 10**9
MAX_TOTAL_WEIGHT = 10**12


@dataclass(frozen=True)
class PublicCredential:
    """One entry: the public credential g^s (and its decimal text) and the weight."""

    credential: mpz
    text: str
    weight: int | None

    @property
    def effective_weight(self) -> int:
        return 1 if self.weight is None else self.weight

    def to_json(self) -> str:
        return self.text if self.weight is None else f"{self.text},{self.weight}"


def _parse_credential_entry(value: object, where: Location) -> PublicCredential:
    if not isinstance(value, str):
        raise JsonFormatError('expected a string "pub" or "pub,weight"', where=where)
    parts = value.split(",")
    if len(parts) > 2:
        raise JsonFormatError('expected "pub" or "pub,weight"', where=where)
    cred = parse_number(parts[0], where=where)
    weight: int | None = None
    if len(parts) == 2:
        if len(parts[1]) > len(str(MAX_WEIGHT)):
            raise ProtocolError(f"a weight is at most {MAX_WEIGHT}", where=where)
        w = parse_number(parts[1], where=where)
        if w < 1:
            raise ProtocolError("a weight must be a positive integer", where=where)
        weight = int(w)
    return PublicCredential(cred, parts[0], weight)


@dataclass(frozen=True)
class PublicCredentials:
    """The list of public credentials (spec 4.8), with a lookup by credential text."""

    entries: tuple[PublicCredential, ...]
    raw: bytes = field(default=b"", repr=False, compare=False)
    _index: dict[str, PublicCredential] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        index: dict[str, PublicCredential] = {}
        total = 0
        for i, e in enumerate(self.entries):
            if e.text in index:
                raise ProtocolError(
                    "the same public credential appears twice", where=sub(_CREDENTIALS, i)
                )
            if e.weight is not None and not 1 <= e.weight <= MAX_WEIGHT:
                raise ProtocolError(
                    f"a weight is an integer between 1 and {MAX_WEIGHT}",
                    where=sub(_CREDENTIALS, i),
                )
            total += e.effective_weight
            if total > MAX_TOTAL_WEIGHT:
                raise ProtocolError(
                    f"the weights add up to more than {MAX_TOTAL_WEIGHT}",
                    where=sub(_CREDENTIALS, i),
                )
            index[e.text] = e
        object.__setattr__(self, "_index", index)
        if not self.raw:
            object.__setattr__(self, "raw", to_bytes(self.to_json()))

    def to_json(self) -> list[str]:
        return [e.to_json() for e in self.entries]

    @classmethod
    def from_json(
        cls, value: object, where: Location = _CREDENTIALS, raw: bytes = b""
    ) -> PublicCredentials:
        items = expect_list(value, where)
        return cls(
            tuple(_parse_credential_entry(v, sub(where, i)) for i, v in enumerate(items)),
            raw=raw,
        )

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = _CREDENTIALS) -> PublicCredentials:
        return cls.from_json(loads(raw, where), where, raw=raw)

    @classmethod
    def build(
        cls, credentials: list[mpz] | list[tuple[mpz, int]], weighted: bool = False
    ) -> PublicCredentials:
        """From public credentials (or ``(credential, weight)`` pairs when ``weighted``)."""
        entries: list[PublicCredential] = []
        for item in credentials:
            if isinstance(item, tuple):
                c, w = item
                entries.append(PublicCredential(mpz(c), str(c), int(w) if weighted else None))
            else:
                entries.append(PublicCredential(mpz(item), str(item), 1 if weighted else None))
        return cls(tuple(entries))

    def check_members(self, group: Group, where: Location = _CREDENTIALS) -> None:
        """Every public credential is a group element (one exponentiation each)."""
        for i, e in enumerate(self.entries):
            group.check_element(e.credential, sub(where, i))

    def lookup(self, text: str, where: Location = NOWHERE) -> PublicCredential:
        try:
            return self._index[text]
        except KeyError:
            raise UnknownCredentialError(
                "credential is not in the list of public credentials", where=where
            ) from None

    def __contains__(self, text: object) -> bool:
        return text in self._index

    def __len__(self) -> int:
        return len(self.entries)

    def weight(self, text: str, where: Location = NOWHERE) -> int:
        return self.lookup(text, where).effective_weight

    @property
    def weighted(self) -> bool:
        return any(e.weight is not None for e in self.entries)

    @property
    def total_weight(self) -> int:
        return sum(e.effective_weight for e in self.entries)

    @property
    def is_canonical(self) -> bool:
        return self.raw == to_bytes(self.to_json())

    @cached_property
    def fingerprint(self) -> str:
        """What ``belenios-tool`` prints as the credential fingerprint."""
        return b64_sha256(self.raw)

    @cached_property
    def hex_hash(self) -> str:
        return sha256_hex(self.raw)


# ---------------------------------------------------------------------- setup_data


def _check_hex(value: str, where: Location) -> str:
    if not is_sha256_hex(value):
        raise JsonFormatError("expected a lower-case hex SHA-256", where=where)
    return value


@dataclass(frozen=True)
class SetupData:
    """Payload of the Setup event: ``{"election","trustees","credentials"}`` hex hashes."""

    election: str
    trustees: str
    credentials: str

    def __post_init__(self) -> None:
        for key in ("election", "trustees", "credentials"):
            _check_hex(getattr(self, key), Location(path=("setup_data", key)))

    def to_json(self) -> JsonObject:
        return {
            "election": self.election,
            "trustees": self.trustees,
            "credentials": self.credentials,
        }

    @classmethod
    def from_json(
        cls, value: object, where: Location = Location(path=("setup_data",))
    ) -> SetupData:
        obj = expect_object(value, where, ("election", "trustees", "credentials"))
        return cls(
            election=get_str(obj, "election", where),
            trustees=get_str(obj, "trustees", where),
            credentials=get_str(obj, "credentials", where),
        )

    @classmethod
    def from_bytes(cls, raw: bytes, where: Location = Location(path=("setup_data",))) -> SetupData:
        value = cls.from_json(loads(raw, where), where)
        require_canonical(raw, value.to_json(), where, "setup_data")
        return value
