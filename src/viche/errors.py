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
* ``V9xxx`` usage and environment (:class:`UsageError`)

Every error carries ``where``: a short path naming the object at fault, e.g.
``"event 12 / ballot 3f2a... / answer 1 / choice 2"``. Messages never contain secrets.
"""

from __future__ import annotations


class VicheError(Exception):
    """Base of every error raised on purpose by Viche."""

    code: str = "V0000"

    def __init__(self, message: str, *, where: str = "", code: str | None = None) -> None:
        self.message = message
        self.where = where
        if code is not None:
            self.code = code
        super().__init__(str(self))

    def __str__(self) -> str:
        loc = f" (at {self.where})" if self.where else ""
        return f"[{self.code}] {self.message}{loc}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "where": self.where}


class FormatError(VicheError):
    """Input that cannot be parsed or does not have the expected shape."""

    code = "V1000"


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


class VerificationError(VicheError):
    """A verification run found failed checks (the report lists them)."""

    code = "V5000"


class MonitorError(VicheError):
    """Influence monitor errors."""

    code = "V6000"


class IngestError(MonitorError):
    """An input file or row that cannot be ingested."""

    code = "V6001"


class UsageError(VicheError):
    """Wrong command-line usage, missing file, missing optional dependency."""

    code = "V9000"


class MissingFileError(UsageError):
    """A file or directory that the user named does not exist or cannot be read."""

    code = "V9001"


class MissingDependencyError(UsageError):
    """An optional component (extra) that is not installed."""

    code = "V9002"
