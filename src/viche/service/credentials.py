"""The credential authority (``setup generate-credentials``).

Files, as ``belenios-tool`` writes them (so either tool can read the other's):

* ``T.privcreds`` (secret, mode 0600): one line ``<id> <credential>`` per voter, where the id is
  a counter (``--count``) or the whole line of the voter file (``--file``);
* ``T.pubcreds``: a compact JSON list of ``"<public credential>,<weight>,<id>"`` strings; the
  weight is empty unless some voter has one (then every voter has one, 1 by default);
* the credential fingerprint is the Base64 SHA-256 of the list ``archive init`` stores, which is
  ``T.pubcreds`` without the ids.

``T`` is the Unix time of the run, as with ``belenios-tool``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gmpy2 import mpz

from viche.crypto.credentials import (
    check_credential,
    credential_secret,
    generate_credential,
    public_credential,
)
from viche.crypto.group import Group
from viche.crypto.rng import RandomSource
from viche.errors import CredentialFormatError, JsonFormatError, Location, ProtocolError, UsageError
from viche.protocol import codec
from viche.protocol.election import (
    MAX_WEIGHT,
    PublicCredential,
    PublicCredentials,
    check_uuid,
)
from viche.service.files import read_bytes, read_text, write_text

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Voter:
    """A line of the voter file: ``address[,login[,weight]]``."""

    line: str
    address: str
    login: str | None
    weight: int | None

    @property
    def id(self) -> str:
        """The id written in ``T.pubcreds``: the login if any, else the address."""
        return self.login if self.login else self.address


def parse_voters(text: str, where: Location) -> list[Voter]:
    """Parse a voter file; the first bad line is refused, named by its number
    (:func:`check_voters` reports every bad line).

    A voter listed twice (same login, or same address when there is no login; compared
    case-insensitively) is refused: she would get two credentials, hence two votes.
    """
    voters, errors = check_voters(text, where)
    if errors:
        raise errors[0]
    return voters


def check_voters(
    text: str, where: Location, *, weights: bool = True, basic_auth: bool = False
) -> tuple[list[Voter], list[UsageError]]:
    """The voters of a voter file (``address[,login[,weight]]`` lines) and an error for each
    bad line (wrong shape, empty address, bad weight, a voter listed twice). ``weights``
    false: a weight other than 1 is a bad line too (an election with non-homomorphic
    questions, spec 1, "Weights"). ``basic_auth``: the logins are the user names of HTTP
    Basic authentication (a served roll), so a login with ':' (where Basic cuts) or a
    control character is a bad line too."""
    voters: list[Voter] = []
    errors: list[UsageError] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        lwhere = where.at(line=n)
        try:
            voter = _parse_voter_line(line, lwhere)
        except UsageError as exc:
            errors.append(exc)
            continue
        if basic_auth and (":" in voter.id or not voter.id.isprintable()):
            what = "':'" if ":" in voter.id else "a character that is not printable"
            errors.append(
                UsageError(
                    f"a login with {what} cannot be used to sign in (HTTP Basic: login:secret)",
                    where=lwhere,
                )
            )
            continue
        if not weights and (voter.weight or 1) != 1:
            errors.append(
                UsageError(
                    f"weight {voter.weight}: weights are only allowed when every question is "
                    "homomorphic (spec 1, 'Weights')",
                    where=lwhere,
                )
            )
            continue
        key = voter.id.casefold()
        if key in seen:
            errors.append(
                UsageError(
                    f"voter {voter.id!r} is already listed on line {seen[key]}: one voter, one "
                    "credential",
                    where=lwhere,
                )
            )
            continue
        seen[key] = n
        voters.append(voter)
    if not voters and not errors:
        errors.append(UsageError("the voter file lists no voter", where=where))
    return voters, errors


def _parse_voter_line(line: str, lwhere: Location) -> Voter:
    parts = line.split(",")
    if len(parts) > 3:
        raise UsageError("expected address[,login[,weight]]", where=lwhere)
    address = parts[0].strip()
    if not address:
        raise UsageError("empty address", where=lwhere)
    login = parts[1].strip() if len(parts) > 1 and parts[1].strip() else None
    weight: int | None = None
    if len(parts) == 3:
        w = parts[2].strip()
        if (
            not w.isascii()
            or not w.isdigit()
            or len(w) > len(str(MAX_WEIGHT))
            or not 1 <= int(w) <= MAX_WEIGHT
        ):
            shown = w if len(w) <= 24 else w[:21] + "..."
            raise UsageError(
                f"a weight is an integer between 1 and {MAX_WEIGHT}, got {shown!r}",
                where=lwhere,
            )
        weight = int(w)
    return Voter(line, address, login, weight)


def counted_voters(count: int) -> list[Voter]:
    if count < 1:
        raise UsageError(
            f"--count must be at least 1, got {count}", where=Location(path=("--count",))
        )
    return [Voter(str(i), str(i), None, None) for i in range(1, count + 1)]


@dataclass(frozen=True)
class CredentialSet:
    """Private and public credentials of one election, in voter order."""

    uuid: str
    voters: tuple[Voter, ...]
    private: tuple[str, ...] = field(repr=False)
    public: tuple[mpz, ...]
    weighted: bool

    def privcreds_text(self) -> str:
        return "".join(f"{v.line} {c}\n" for v, c in zip(self.voters, self.private, strict=True))

    def pubcreds_json(self) -> list[str]:
        out = []
        for v, pub in zip(self.voters, self.public, strict=True):
            weight = str(v.weight or 1) if self.weighted else ""
            out.append(f"{pub},{weight},{v.id}")
        return out

    def public_credentials(self) -> PublicCredentials:
        """The list ``archive init`` stores (ids stripped)."""
        return PublicCredentials(
            tuple(
                PublicCredential(pub, str(pub), (v.weight or 1) if self.weighted else None)
                for v, pub in zip(self.voters, self.public, strict=True)
            )
        )

    @property
    def fingerprint(self) -> str:
        return self.public_credentials().fingerprint


def generate_credentials(
    group: Group,
    uuid: str,
    voters: list[Voter],
    rng: RandomSource,
    progress: Progress | None = None,
) -> CredentialSet:
    check_uuid(uuid, Location(path=("--uuid",)))
    private: list[str] = []
    public: list[mpz] = []
    for i, _ in enumerate(voters):
        cred = generate_credential(rng)
        private.append(cred)
        public.append(public_credential(group, credential_secret(group, cred, uuid)))
        if progress:
            progress(i + 1)
    weighted = any(v.weight is not None for v in voters)
    return CredentialSet(uuid, tuple(voters), tuple(private), tuple(public), weighted)


@dataclass(frozen=True)
class CredentialFiles:
    privcreds: Path
    pubcreds: Path
    count: int
    fingerprint: str


def write_credentials(
    creds: CredentialSet, directory: Path, stamp: int | None = None
) -> CredentialFiles:
    """Write ``T.privcreds`` and ``T.pubcreds`` in ``directory``."""
    t = int(time.time()) if stamp is None else stamp
    priv = directory / f"{t}.privcreds"
    pub = directory / f"{t}.pubcreds"
    for p in (priv, pub):
        if p.exists():
            raise UsageError("refusing to overwrite an existing file", where=Location(file=str(p)))
    write_text(pub, codec.dumps(creds.pubcreds_json()))
    write_text(priv, creds.privcreds_text(), secret=True)
    return CredentialFiles(priv, pub, len(creds.voters), creds.fingerprint)


# ---------------------------------------------------------------------- reading


def read_public_credentials(path: Path) -> PublicCredentials:
    """A public credential list: either ``T.pubcreds`` (with ids, as written by
    ``generate-credentials``) or the archive form (``"pub"`` or ``"pub,weight"``)."""
    where = Location(file=str(path))
    return parse_public_credentials(read_bytes(path, "public credentials"), where)[0]


def parse_public_credentials(
    raw: bytes, where: Location
) -> tuple[PublicCredentials, list[str] | None]:
    """A public credential list and, for ``T.pubcreds``, each entry's voter id (in order)."""
    raw = raw.strip()
    value = codec.loads(raw, where=where)
    items = codec.expect_list(value, where)
    entries: list[str] = []
    has_ids = any(isinstance(v, str) and v.count(",") == 2 for v in items)
    ids: dict[str, int] = {}
    names: list[str] = []
    for i, v in enumerate(items):
        if not isinstance(v, str):
            raise JsonFormatError("expected a string", where=where.sub(f"[{i}]"))
        if has_ids:
            parts = v.split(",")
            if len(parts) != 3:
                raise JsonFormatError('expected "pub,weight,id"', where=where.sub(f"[{i}]"))
            key = parts[2].casefold()
            if key in ids:  # spec 3.1 step 7: the server checks the voters of L
                raise ProtocolError(
                    f"voter id {parts[2]!r} has two credentials (entries {ids[key]} and {i})",
                    where=where.sub(f"[{i}]"),
                )
            ids[key] = i
            names.append(parts[2])
            entries.append(parts[0] if parts[1] == "" else f"{parts[0]},{parts[1]}")
        else:
            entries.append(v)
    if not has_ids:
        return PublicCredentials.from_bytes(raw, where=where), None
    return PublicCredentials.from_json(entries, where=where), names


def read_private_credential(path: Path) -> str:
    """A private credential file: the credential alone, or a ``<id> <credential>`` line."""
    text = read_text(path, "private credential").strip()
    if not text:
        raise CredentialFormatError(
            "the private credential file is empty", where=Location(file=str(path))
        )
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) != 1:
        raise CredentialFormatError(
            f"expected one credential, found {len(lines)} lines", where=Location(file=str(path))
        )
    token = lines[0].split()[-1]
    try:
        return check_credential(token)
    except CredentialFormatError as exc:
        raise CredentialFormatError(exc.message, where=Location(file=str(path))) from None


def read_privcreds(path: Path) -> dict[str, str]:
    """``T.privcreds``: id -> private credential (the id is everything before the last space)."""
    out: dict[str, str] = {}
    for n, line in enumerate(read_text(path, "private credentials").splitlines(), start=1):
        if not line.strip():
            continue
        ident, _, cred = line.rstrip().rpartition(" ")
        try:
            out[ident] = check_credential(cred)
        except CredentialFormatError as exc:
            raise CredentialFormatError(
                exc.message, where=Location(file=str(path), line=n)
            ) from None
    return out
