"""What an event publishes after the vote, beside the archives, signed by the event key:

* ``turnout.json`` — per style and in total, how many voters' counted ballots came
  online, at a station or through a relay (turnout only: per-channel *results* are never
  published, they could identify voters);
* ``national.json`` — the national question's result: the sum, answer by answer, of the
  per-style results (each style's ``.bel`` holds its own Result event).

Both are ``{"<kind>": {…}, "signature": base64}`` with domain ``viche-<kind>-v1\\n``.
:func:`channel_turnout` and :func:`national_sum` are the one computation the publisher and
the verifier share.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from viche.errors import NOWHERE, JsonFormatError, Location
from viche.event.keys import EventKey, check_signature
from viche.protocol import codec
from viche.service.files import read_bytes, write_bytes

TURNOUT = "turnout.json"
NATIONAL = "national.json"
CHANNELS = ("online", "station", "relay")


def _domain(kind: str) -> bytes:
    return f"viche-{kind}-v1\n".encode()


def signed_document(kind: str, body: codec.JsonObject, key: EventKey) -> bytes:
    signature = key.sign_bytes(_domain(kind), codec.to_bytes(body))
    return codec.to_bytes({kind: body, "signature": signature}) + b"\n"


def parse_signed_document(
    raw: bytes, kind: str, public: str, where: Location = NOWHERE
) -> codec.JsonObject:
    """The body of a signed document, its signature checked with the event key."""
    top = codec.expect_object(codec.loads(raw.strip(), where), where, (kind, "signature"))
    body = top[kind]
    if not isinstance(body, dict):
        raise JsonFormatError("expected a JSON object", where=where.sub(kind))
    check_signature(
        public, _domain(kind), codec.to_bytes(body), codec.get_str(top, "signature", where), where
    )
    return body


def write_document(path: Path, kind: str, body: codec.JsonObject, key: EventKey) -> None:
    write_bytes(path, signed_document(kind, body, key))


def read_document(path: Path, kind: str, public: str) -> codec.JsonObject:
    return parse_signed_document(
        read_bytes(path, kind), kind, public, Location(file=str(path))
    )


@dataclass(frozen=True)
class BallotRef:
    """A Ballot event as turnout sees it: height, ballot hash (hex), credential."""

    height: int
    hash: str
    credential: str


def channel_turnout(
    ballots: Iterable[BallotRef], locked: set[str], relayed: set[str]
) -> dict[str, int]:
    """Voters by the channel of their counted (last) ballot: ``station`` when the credential
    is locked, ``relay`` when the last ballot's hash is one a relay uploaded, else
    ``online``."""
    last: dict[str, BallotRef] = {}
    for b in ballots:
        last[b.credential] = b
    out = dict.fromkeys(CHANNELS, 0)
    for cred, b in last.items():
        if cred in locked:
            out["station"] += 1
        elif b.hash in relayed:
            out["relay"] += 1
        else:
            out["online"] += 1
    return out


def turnout_body(event: str, per_style: Mapping[str, Mapping[str, int]]) -> codec.JsonObject:
    styles = [{"id": sid, **{c: counts[c] for c in CHANNELS}} for sid, counts in per_style.items()]
    total = {c: sum(counts[c] for counts in per_style.values()) for c in CHANNELS}
    return {"event": event, "styles": styles, "total": total}


def national_sum(rows: Sequence[Sequence[int]]) -> list[int]:
    """The national question's result: the per-style rows added answer by answer."""
    if not rows:
        return []
    width = len(rows[0])
    out = [0] * width
    for row in rows:
        if len(row) != width:
            raise JsonFormatError("styles whose national question differs in length")
        for i, v in enumerate(row):
            out[i] += v
    return out


def national_body(
    event: str,
    question: str,
    answers: Sequence[str],
    blank: bool,
    per_style: Mapping[str, Sequence[int]],
) -> codec.JsonObject:
    return {
        "event": event,
        "question": question,
        "answers": list(answers),
        "blank": blank,
        "styles": [{"id": sid, "result": list(row)} for sid, row in per_style.items()],
        "result": national_sum(list(per_style.values())),
    }
