"""The verification report: every check run, its status, and every failure with the object
at fault (event height, ballot hash, question, answer, trustee)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from viche.errors import NOWHERE, Location, VicheError


class Status(Enum):
    PASSED = "passed"
    FAILED = "failed"
    #: The check does not apply to this record (e.g. no Result event yet, no shuffles).
    NOT_APPLICABLE = "not applicable"


@dataclass(frozen=True)
class Failure:
    """One failed check on one object, at ``where``.

    The object fields come from the location: ``height`` is its event, ``question`` is
    1-based, ``answer`` is a choice in a ballot (0 is the blank flag when blank is allowed)
    or an item (1-based) in a tally row or partial decryption."""

    check: str
    code: str
    message: str
    where: Location = NOWHERE

    @classmethod
    def from_error(cls, check: str, exc: VicheError) -> Failure:
        return cls(check=check, code=exc.code, message=exc.message, where=exc.where)

    @property
    def height(self) -> int | None:
        return self.where.event

    @property
    def ballot(self) -> str | None:
        return self.where.ballot

    @property
    def question(self) -> int | None:
        return self.where.question

    @property
    def answer(self) -> int | None:
        return self.where.answer

    @property
    def trustee(self) -> int | None:
        return self.where.trustee

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "check": self.check,
            "code": self.code,
            "message": self.message,
            "where": self.where.to_dict(),
            "at": str(self.where),
        }
        # the flat keys of earlier reports, kept for their readers
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
    #: the outcomes of the questions tallied through shuffles, counted from ``result``
    #: (added by ``viche verify``: :func:`viche.service.outcomes.add_outcomes`)
    outcomes: Any = None
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
            "outcomes": self.outcomes,
            "timing": {k: round(v, 3) for k, v in self.timing.items()},
            "jobs": self.jobs,
            "checks": [c.to_json() for c in self.checks],
        }
