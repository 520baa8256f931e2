"""Response bodies of the API (documented in the OpenAPI schema)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from viche.service.tally import QuestionResult


class Head(BaseModel):
    height: int = Field(description="height of the last event (Setup is 0)")
    hash: str = Field(description="SHA-256 (hex) of the last event")
    type: str = Field(description="type of the last event")


class ElectionSummary(BaseModel):
    uuid: str
    name: str
    phase: str = Field(description="open, closed or tallied")
    ballots: int = Field(description="Ballot events in the record (re-votes included)")


class SetupHashes(BaseModel):
    election: str
    trustees: str
    credentials: str


class ScheduleModel(BaseModel):
    open: str | None = Field(None, description="opening time, ISO 8601 UTC (none: by hand)")
    close: str | None = Field(None, description="closing time, ISO 8601 UTC (none: by hand)")


class ElectionDetail(ElectionSummary):
    description: str
    fingerprint: str = Field(description="the election fingerprint (Base64 SHA-256)")
    timestamp: int = Field(description="the archive timestamp (Unix seconds)")
    head: Head
    setup: SetupHashes = Field(description="hashes of the setup objects (GET objects/{hash})")
    receipt_key: str = Field(description="Ed25519 public key (Base64) that signs receipts")
    archive: str = Field(description="path of the public record (.bel)")
    schedule: ScheduleModel = Field(description="when the vote closes by itself, if set")


class ReceiptBody(BaseModel):
    election: str
    tracker: str
    ballot_hash: str
    height: int
    event_hash: str
    time: str
    key: str


class SignedReceiptModel(BaseModel):
    receipt: ReceiptBody
    signature: str = Field(description="Ed25519 signature (Base64) of the tagged receipt")


class CastAnswer(BaseModel):
    tracker: str = Field(description="the smart ballot tracker")
    height: int
    event_hash: str
    revote: bool = Field(description="the voter had voted before: this ballot replaces it")
    receipt: SignedReceiptModel


class AuditAnswer(BaseModel):
    tracker: str = Field(description="the audited ballot's tracker: it can never be cast")


class TrackedBallot(BaseModel):
    height: int = Field(description="height of the Ballot event")
    tracker: str = Field(description="the smart ballot tracker (Base64 SHA-256 of the ballot)")
    hash: str = Field(description="SHA-256 (hex) of the ballot: GET objects/{hash}")
    event_hash: str = Field(description="SHA-256 (hex) of the Ballot event")


class BallotPage(BaseModel):
    ballots: list[TrackedBallot] = Field(description="Ballot events, lowest height first")
    next: int | None = Field(
        description="more ballots follow: ask again with after=next (null: this is the last page)"
    )


class ResultRow(BaseModel):
    question: str
    answers: list[str]
    counts: list[int] = Field(description="votes per answer (homomorphic questions)")
    blank: int | None = Field(description="blank votes, when blank is allowed")
    ballots: list[list[int]] | None = Field(
        description="questions tallied through shuffles: every decrypted ballot, shuffled"
    )


def result_rows(rows: Iterable[QuestionResult]) -> list[ResultRow]:
    """The rows of a result, labelled (:func:`viche.service.tally.label`), as answered."""
    return [
        ResultRow(
            question=r.question,
            answers=list(r.answers),
            counts=list(r.counts),
            blank=r.blank,
            ballots=None if r.ballots is None else [list(b) for b in r.ballots],
        )
        for r in rows
    ]


class ResultAnswer(BaseModel):
    event: int = Field(description="height of the Result event")
    questions: list[ResultRow]
    outcomes: dict[str, Any] = Field(
        description="outcomes of the questions tallied through shuffles, counted from the "
        "decrypted ballots (outcomes.json: Schulze, STV, majority judgment)"
    )


class ErrorBody(BaseModel):
    code: str = Field(description="stable error code (V1xxx format, V3xxx protocol, …)")
    message: str
    where: dict[str, object]
    at: str
    retry_after_ms: int | None = Field(
        default=None,
        description="V9016 (server full) only: the milliseconds to wait before sending the "
        "same request again; Retry-After gives the same rounded up to whole seconds",
    )
    opens: str | None = Field(
        default=None,
        description="V3009 (the election is not open yet) only: its scheduled opening time, "
        "ISO 8601 UTC, or null when none is set",
    )


ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "malformed request"),
        (401, "authentication needed or failed"),
        (404, "no such election or object"),
        (409, "wrong phase (V3009: not open yet), replayed ballot"),
        (413, "body too large"),
        (415, "wrong content type"),
        (422, "a check failed (proof, credential, protocol rule)"),
        (503, "database unavailable, or the server is full (V9016: retry after retry_after_ms)"),
    )
}
