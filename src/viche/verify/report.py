"""The verification report: every check run, its status, and every failure with the object
at fault (event height, ballot hash, question, answer, trustee)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from viche.errors import VicheError


class Status(Enum):
    PASSED = "passed"
    FAILED = "failed"
    #: The check does not apply to this record (e.g. no Result event yet, no shuffles).
    NOT_APPLICABLE = "not applicable"


_HEIGHT = re.compile(r"(?:event|height) (\d+)")
_BALLOT = re.compile(r"ballot ([0-9A-Za-z+/]{43}|[0-9a-f]{64})")
_QUESTION = re.compile(r"(?:answer|question) (\d+)")
#: ``choice N`` (ballots: choice 0 is the blank flag) or ``item N`` (tally rows, 1-based)
_CHOICE = re.compile(r"(?:choice|item) (\d+)")
_TRUSTEE = re.compile(r"trustee (\d+)")


@dataclass(frozen=True)
class Failure:
    """One failed check on one object.

    ``question`` is 1-based; ``answer`` is the number ``where`` gives: ``choice N`` in a
    ballot (choice 0 is the blank flag when blank is allowed) or ``item N`` (1-based) in a
    tally row or partial decryption."""

    check: str
    code: str
    message: str
    where: str = ""
    height: int | None = None
    ballot: str | None = None
    question: int | None = None
    answer: int | None = None
    trustee: int | None = None

    @classmethod
    def from_error(cls, check: str, exc: VicheError, **known: Any) -> Failure:
        """A failure from a typed error; the object fields are read from ``where`` unless
        given."""
        where = str(exc.where)

        def grab(rx: re.Pattern[str]) -> str | None:
            m = rx.search(where)
            return m.group(1) if m else None

        h, b, q, a, t = (grab(r) for r in (_HEIGHT, _BALLOT, _QUESTION, _CHOICE, _TRUSTEE))
        fields: dict[str, Any] = {
            "height": int(h) if h is not None else None,
            "ballot": b,
            "question": int(q) if q is not None else None,
            "answer": int(a) if a is not None else None,
            "trustee": int(t) if t is not None else None,
        }
        fields.update({k: v for k, v in known.items() if v is not None})
        return cls(check=check, code=exc.code, message=exc.message, where=where, **fields)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "check": self.check,
            "code": self.code,
            "message": self.message,
            "where": self.where,
        }
        for key in ("height", "ballot", "question", "answer", "trustee"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def __str__(self) -> str:
        loc = f" (at {self.where})" if self.where else ""
        return f"{self.check}: [{self.code}] {self.message}{loc}"


@dataclass
class CheckResult:
    """One named check over ``count`` objects."""

    name: str
    description: str
    status: Status = Status.PASSED
    count: int = 0
    failures: list[Failure] = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0

    def fail(self, failure: Failure) -> None:
        self.status = Status.FAILED
        self.failures.append(failure)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "status": self.status.value,
            "count": self.count,
            "seconds": round(self.seconds, 3),
            "failures": [f.to_json() for f in self.failures],
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class VerificationReport:
    """What a verification run found. ``ok`` only when no check failed and the input
    could be read."""

    source: str
    checks: list[CheckResult] = field(default_factory=list)
    #: False when the input could not be read at all (CLI exit code 2).
    readable: bool = True
    result: Any = None
    counts: dict[str, int] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    jobs: int = 1

    @property
    def ok(self) -> bool:
        return self.readable and all(c.status is not Status.FAILED for c in self.checks)

    @property
    def failures(self) -> list[Failure]:
        return [f for c in self.checks for f in c.failures]

    def check(self, name: str) -> CheckResult:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def summary(self) -> dict[str, int]:
        return {
            "checks": len(self.checks),
            "passed": sum(c.status is Status.PASSED for c in self.checks),
            "failed": sum(c.status is Status.FAILED for c in self.checks),
            "not_applicable": sum(c.status is Status.NOT_APPLICABLE for c in self.checks),
            "failures": len(self.failures),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ok": self.ok,
            "readable": self.readable,
            "summary": self.summary(),
            "counts": dict(self.counts),
            "result": self.result,
            "timing": {k: round(v, 3) for k, v in self.timing.items()},
            "jobs": self.jobs,
            "checks": [c.to_json() for c in self.checks],
        }
