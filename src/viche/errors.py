"""One exception tree for all of Viche, each error with a stable code.

Codes are part of the public interface (they appear in `--json` reports and, later,
in HTTP error bodies): never renumber or reuse one. A code is ``V`` + a family digit +
three digits:

* ``V1xxx`` input that cannot be parsed or has the wrong shape (:class:`FormatError`)
* ``V2xxx`` cryptographic checks that fail (:class:`CryptoError`)
* ``V3xxx`` protocol rules broken by otherwise well-formed data (:class:`ProtocolError`)
* ``V4xxx`` the public record (archive, event chain) (:class:`RecordError`)
* ``V5xxx`` verification reports (:class:`VerificationError`)
* ``V6xxx`` influence monitor (:class:`MonitorError`)
* ``V7xxx`` polling-station planner (:class:`PlannerError`)
* ``V8xxx`` the national election event: voter registry, constituencies, ballot styles,
  seats (:class:`EventError`)
* ``V9xxx`` usage and environment (:class:`UsageError`)

Every error carries ``where``: a :class:`Location`, a frozen value naming the object at
fault (file, line, event height, ballot, trustee, question, answer, and a path of field
names inside the object). ``str(location)`` renders it for people, e.g.
``"event 12 / ballot 3f2a… / question 1 / answer 2 / proof"``; ``location.to_dict()``
serialises it for JSON reports and HTTP error bodies. Messages never contain secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

LocationValue = str | int | tuple[str, ...]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Location:
    """Where an error is: every field optional, rendered in this order by ``__str__``.

    ``file`` a path the user named; ``line`` (1-based) in that file; ``offset`` a byte
    offset; ``member`` an archive member name; ``event`` an event height; ``ballot`` a
    ballot tracker or hash; ``trustee`` a trustee id (1-based); ``question`` (1-based);
    ``answer`` a choice within the question (``choice N`` in a ballot, where 0 is the blank
    choice when blank is allowed; ``item N``, 1-based, in a tally row); ``path`` field names
    inside the object, outermost first (``("signature", "hash")``).
    """

    file: str | None = None
    line: int | None = None
    offset: int | None = None
    member: str | None = None
    event: int | None = None
    ballot: str | None = None
    trustee: int | None = None
    question: int | None = None
    answer: int | None = None
    path: tuple[str, ...] = ()

    def at(self, **changes: Any) -> Location:
        """This location with some fields set (``loc.at(event=3, ballot=t)``)."""
        # built directly, as in sub(): a ballot check calls this dozens of times and
        # dataclasses.replace is slow; an unknown field is a TypeError as with replace
        get = changes.pop
        out = Location(
            get("file", self.file), get("line", self.line), get("offset", self.offset),
            get("member", self.member), get("event", self.event), get("ballot", self.ballot),
            get("trustee", self.trustee), get("question", self.question),
            get("answer", self.answer), get("path", self.path),
        )  # fmt: skip
        if changes:
            raise TypeError(f"Location has no field(s) {', '.join(sorted(changes))}")
        return out

    def sub(self, *parts: str | int) -> Location:
        """This location, one or more fields deeper (``loc.sub("signature", "hash")``)."""
        # built directly: parsers call this for every field, and dataclasses.replace is slow
        return Location(
            self.file, self.line, self.offset, self.member, self.event, self.ballot,
            self.trustee, self.question, self.answer,
            self.path + tuple(str(p) for p in parts),
        )  # fmt: skip

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) not in (None, ()) for f in fields(self))

    def __str__(self) -> str:
        out: list[str] = []
        if self.file is not None:
            out.append(self.file)
        for name, label in _LABELS:
            value = getattr(self, name)
            if value is not None:
                out.append(f"{label} {value}")
        out.extend(self.path)
        return " / ".join(out)

    def to_dict(self) -> dict[str, LocationValue]:
        """The fields that are set (``path`` as a list), for JSON."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == ():
                continue
            out[f.name] = list(value) if f.name == "path" else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Location:
        """The inverse of :meth:`to_dict`; unknown keys are refused (``ValueError``)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown location fields: {sorted(unknown)}")
        values = dict(data)
        if "path" in values:
            values["path"] = tuple(str(p) for p in values["path"])
        return cls(**values)


_LABELS: tuple[tuple[str, str], ...] = (
    ("line", "line"),
    ("offset", "byte"),
    ("member", "member"),
    ("event", "event"),
    ("ballot", "ballot"),
    ("trustee", "trustee"),
    ("question", "question"),
    ("answer", "answer"),
)

#: The empty location.
NOWHERE = Location()


class _Unlocated(Location):
    """The location of a first run that builds none (see :func:`located`): ``at`` and
    ``sub`` give it back unchanged."""

    __slots__ = ()

    def at(self, **changes: Any) -> Location:
        return self

    def sub(self, *parts: str | int) -> Location:
        return self


#: Passed as ``where`` to a check run by :func:`located` the first time: every location
#: derived from it is itself, so that none is built while nothing fails.
UNLOCATED: Location = _Unlocated()


class VicheError(Exception):
    """Base of every error raised on purpose by Viche."""

    code: str = "V0000"

    def __init__(self, message: str, *, where: Location = NOWHERE, code: str | None = None) -> None:
        self.message = message
        self.where = where
        if code is not None:
            self.code = code
        super().__init__(str(self))

    def __str__(self) -> str:
        loc = f" (at {self.where})" if self.where else ""
        return f"[{self.code}] {self.message}{loc}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (verification workers): keep code and location.
        return (_rebuild, (type(self), self.message, self.where, self.code))

    def to_dict(self) -> dict[str, Any]:
        """``{"code", "message", "where": {fields}, "at": str(where)}`` for JSON bodies."""
        return {
            "code": self.code,
            "message": self.message,
            "where": self.where.to_dict(),
            "at": str(self.where),
        }


def _rebuild(cls: type[VicheError], message: str, where: Location, code: str) -> VicheError:
    err = cls.__new__(cls)
    VicheError.__init__(err, message, where=where, code=code)
    return err


def located(run: Callable[[Location], T], where: Location) -> T:
    """``run(where)``, with the locations built only when it fails.

    ``run`` (a check that passes ``where`` down and names it, or a location derived from
    it, in the errors it raises) runs first with :data:`UNLOCATED`: a hot check derives a
    location for every field and choice (dozens per ballot), and all of them are thrown
    away when it passes. When it raises a :class:`VicheError`, it runs again with
    ``where`` and that run's error, the same one located, is raised. ``run`` must be a
    pure function of its argument (the same inputs, the same first failure): then the
    verdict, the error code, the message and the location are those of ``run(where)``.
    Should the second run pass, the first error is raised: a refusal is never turned into
    an acceptance.
    """
    try:
        return run(UNLOCATED)
    except VicheError as first:
        try:
            run(where)
        except VicheError as error:
            raise error from None
        raise first from None


class FormatError(VicheError):
    """Input that cannot be parsed or does not have the expected shape."""

    code = "V1000"


class TooLargeError(FormatError):
    """A request body or upload larger than allowed."""

    code = "V1010"


class MediaTypeError(FormatError):
    """A request body of a content type the endpoint does not take."""

    code = "V1011"


class JsonFormatError(FormatError):
    """Malformed JSON, a missing or extra field, a wrong type."""

    code = "V1001"


class NonCanonicalError(FormatError):
    """Well-formed JSON that is not in the canonical compact form the protocol requires."""

    code = "V1002"


class NumberFormatError(FormatError):
    """A big number that is not a base-10 string without leading zeros, or out of range."""

    code = "V1003"


class CredentialFormatError(FormatError):
    """A private credential with a wrong length, alphabet or checksum."""

    code = "V1004"


class CryptoError(VicheError):
    """A cryptographic check failed."""

    code = "V2000"


class GroupMembershipError(CryptoError):
    """A value that must be an element of the group (or of Z_q) is not."""

    code = "V2001"


class ProofError(CryptoError):
    """A zero-knowledge proof or signature does not verify."""

    code = "V2002"


class DecryptionError(CryptoError):
    """A decryption (symmetric channel or discrete log) failed."""

    code = "V2003"


class KeyCeremonyError(CryptoError):
    """A step of the threshold key ceremony failed its check."""

    code = "V2004"


class AuditMismatchError(CryptoError):
    """An audited ballot that does not encrypt the choices it claims with the randomness it
    reveals (``viche ballot audit``)."""

    code = "V2005"


class ProtocolError(VicheError):
    """Data that is well formed but breaks a rule of the protocol."""

    code = "V3000"


class UnknownCredentialError(ProtocolError):
    """A ballot signed with a credential that is not in the public list."""

    code = "V3001"


class ReplayedBallotError(ProtocolError):
    """A ballot identical byte for byte to one already in the record."""

    code = "V3002"


class WrongElectionError(ProtocolError):
    """A message that refers to another election (uuid or fingerprint)."""

    code = "V3003"


class BallotShapeError(ProtocolError):
    """A ballot whose answers do not match the questions (counts, blank, proofs)."""

    code = "V3004"


class PhaseError(ProtocolError):
    """An operation not allowed at this phase of the election (e.g. a ballot after EndBallots)."""

    code = "V3005"


class NotOpenYetError(PhaseError):
    """An election that exists but is not open yet: it is still being set up (a draft).
    The public learns no more than that (its questions are published at the opening) and,
    when the administrator scheduled it, ``opens``: the opening time (ISO 8601 UTC), also a
    field of the JSON body."""

    code = "V3009"

    def __init__(
        self, message: str, *, where: Location = NOWHERE, opens: str | None = None
    ) -> None:
        self.opens = opens
        super().__init__(message, where=where)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_not_open, (self.message, self.where, self.opens))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "opens": self.opens}


def _rebuild_not_open(message: str, where: Location, opens: str | None) -> NotOpenYetError:
    return NotOpenYetError(message, where=where, opens=opens)


class CredentialBindingError(ProtocolError):
    """A ballot signed with a credential that is on the list but not the voter's own."""

    code = "V3007"


class AuditedBallotError(ProtocolError):
    """A ballot whose randomness was revealed by an audit: it can never be cast."""

    code = "V3008"


class TallyError(ProtocolError):
    """An encrypted tally, decryption or result inconsistent with the ballots."""

    code = "V3006"


class UnsupportedError(ProtocolError):
    """A feature of the specification that this version of Viche does not implement yet."""

    code = "V3099"


class RecordError(VicheError):
    """The public record (archive or store) is malformed or inconsistent."""

    code = "V4000"


class ArchiveFormatError(RecordError):
    """A .bel archive with a bad tar header, member name or layout."""

    code = "V4001"


class ChainError(RecordError):
    """An event whose parent, height or payload reference is wrong."""

    code = "V4002"


class HashMismatchError(RecordError):
    """A member whose name is not the SHA-256 of its content."""

    code = "V4003"


class RemovedHistoryError(RecordError):
    """A newer snapshot of the record that does not extend the older one."""

    code = "V4004"


class StorageError(RecordError):
    """The operating system refused to read or write the record (permissions, a missing
    or replaced file, a full disk); ``where.file`` names the file."""

    code = "V4005"


class DatabaseError(StorageError):
    """The bulletin board's database cannot be reached or refused a statement."""

    code = "V4010"


class HeadMovedError(RecordError):
    """An append whose expected chain head is no longer the head (another writer came
    first): nothing was written; check again and retry."""

    code = "V4011"


class UnknownElectionError(RecordError):
    """No election with this uuid on the bulletin board."""

    code = "V4012"


class VerificationError(VicheError):
    """A verification run found failed checks (the report lists them)."""

    code = "V5000"


class DroppedBallotError(VerificationError):
    """A signed receipt names a ballot that the record does not hold where the server said
    it put it: evidence that the server dropped or rewrote a ballot it had accepted."""

    code = "V5001"


class UnconfirmedReceiptError(VerificationError):
    """A receipt is newer than the record it is checked against (a still open record that
    ends before the receipt's event): neither confirmed nor refuted."""

    code = "V5002"


class MonitorError(VicheError):
    """Influence monitor errors."""

    code = "V6000"


class IngestError(MonitorError):
    """An input file or row that cannot be ingested."""

    code = "V6001"


class PlannerError(VicheError):
    """Polling-station planner errors."""

    code = "V7000"


class PlannerInputError(PlannerError):
    """A planner input (demand, sites, parameters, UNHCR or city file) with a bad row or value."""

    code = "V7001"


class PlannerInfeasibleError(PlannerError):
    """A planning instance with no feasible plan; the message names the constraint at fault."""

    code = "V7002"


class PlannerSolverError(PlannerError):
    """The MILP solver stopped without a usable plan (time limit, numerical trouble)."""

    code = "V7003"


class EventError(VicheError):
    """National election event errors (registry, constituencies, ballot styles, seats)."""

    code = "V8000"


class RegistryRowError(EventError):
    """A voter registry row with a missing, extra or malformed field; ``where`` names the
    file, the line and the column."""

    code = "V8001"


class UnknownConstituencyError(EventError):
    """A registry row naming a constituency or territorial unit that the constituency list
    does not have (or a unit of another constituency than the row's)."""

    code = "V8002"


class LocationInUnitError(EventError):
    """A military row whose unit is not a unit code but looks like a place (coordinates, a
    place name, free text), or that gives a location at all: a soldier's whereabouts are
    never stored."""

    code = "V8003"


class DuplicateVoterError(EventError):
    """One person enrolled twice (same voter id, or same identity fields): the message
    names both lines."""

    code = "V8004"


class ConstituencyFileError(EventError):
    """A constituency list (regions, constituencies, territorial units, excluded units)
    that is malformed or inconsistent."""

    code = "V8005"


class SeatAllocationError(EventError):
    """Seat allocation inputs that break the Electoral Code's rules (negative votes, an
    unknown party or candidate, no party over the threshold)."""

    code = "V8006"


class BallotEncodingError(EventError):
    """A ballot question or a tally that does not match the encoding of a presidential or
    open-list ballot (wrong number of answers, unknown answer label)."""

    code = "V8007"


class CredentialLockedError(EventError):
    """A ballot for a credential that a vote at a polling station has locked: after a
    station vote no other ballot of that voter is accepted (it protects a voter coerced at
    home)."""

    code = "V8050"


class WrongStyleError(EventError):
    """A ballot of another ballot style (election) than the voter's own."""

    code = "V8051"


class UnknownStationError(EventError):
    """A polling station that the event does not list."""

    code = "V8052"


class ExcludedUnitError(EventError):
    """A polling station placed in a territorial unit where no vote can be held."""

    code = "V8053"


class LockLogError(EventError):
    """The station-lock log is broken: its hash chain, a signature, an entry that does not
    match the ballot it names, or a ballot after a lock."""

    code = "V8054"


class VoteClosedError(EventError):
    """A ballot that arrives after the event's closing time."""

    code = "V8055"


class EnrolmentError(EventError):
    """A voter or credential enrolled in two ballot styles, or enrolment counts that do not
    match the credentials."""

    code = "V8056"


class EventManifestError(EventError):
    """An event manifest whose styles disagree (trustees, credential authority, national
    question) or whose published files do not match it."""

    code = "V8057"


class RelayBatchError(EventError):
    """A relay batch that cannot be read (bad line, unknown election)."""

    code = "V8058"


class UsageError(VicheError):
    """Wrong command-line usage, missing file, missing optional dependency."""

    code = "V9000"


class MissingFileError(UsageError):
    """A file or directory that the user named does not exist or cannot be read."""

    code = "V9001"


class MissingDependencyError(UsageError):
    """An optional component (extra) that is not installed."""

    code = "V9002"


class AuthenticationError(UsageError):
    """A request without the secret its role needs, or with a wrong one."""

    code = "V9010"
    #: the HTTP authentication scheme the request must use (``WWW-Authenticate``): voters
    #: sign in with Basic (login and login secret or one-time code)
    scheme = "Basic"


class RoleSecretError(AuthenticationError):
    """A request without the secret of the role it needs (the server administrator, an
    election's administrator, credential authority or trustee), or with a wrong one: the
    roles send their secret as a Bearer token."""

    scheme = "Bearer"


class NotFoundError(UsageError):
    """A public object, voter or resource that does not exist."""

    code = "V9011"


class BadRowsError(UsageError):
    """An uploaded table (the voter roll) with bad rows: ``rows`` holds one error per bad
    row, each with its line; nothing was stored."""

    code = "V9012"

    def __init__(
        self, message: str, rows: list[VicheError], *, where: Location = NOWHERE
    ) -> None:
        self.rows = rows
        super().__init__(message, where=where)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "rows": [r.to_dict() for r in self.rows]}


class RateLimitedError(UsageError):
    """Too many requests from one address or for one voter: try again later."""

    code = "V9013"


class CrossOriginError(UsageError):
    """A browser request from an origin the server does not allow."""

    code = "V9014"


class ServerBusyError(UsageError):
    """The voting server takes as many ballots as it can answer quickly (or follows as
    many live streams as it may); this request was not served: send it again after
    ``retry_after_ms`` milliseconds (the JSON body's field of that name); ``retry_after``,
    the same rounded up to whole seconds (at least 1), is HTTP's ``Retry-After`` header."""

    code = "V9016"
    retry_after_ms: int = 1000

    def __init__(
        self, message: str, *, where: Location = NOWHERE, retry_after_ms: int = 1000
    ) -> None:
        self.retry_after_ms = max(1, retry_after_ms)
        super().__init__(message, where=where)

    @property
    def retry_after(self) -> int:
        """Whole seconds, rounded up, at least 1 (``Retry-After``)."""
        return max(1, -(-self.retry_after_ms // 1000))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retry_after_ms": self.retry_after_ms}


class DeliveryError(UsageError):
    """A message to a voter (a one-time code by mail) could not be handed to the mail
    server: try again later."""

    code = "V9015"


class MailSecurityError(DeliveryError):
    """The mail server cannot be reached safely: it does not offer STARTTLS, or its
    certificate could not be verified (``viche serve --smtp-tls``, ``--smtp-ca-file``).
    No code is sent to it."""

    code = "V9017"
