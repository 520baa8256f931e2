"""The two logs a national event keeps beside its archives (:mod:`viche.event.signed_log`).

* ``station-locks.jsonl`` — a vote cast at a polling station LOCKS its credential: one
  entry per station vote, naming the public credential, the station, the time, the
  election, and the Ballot event (height and ballot hash) it cast. After a lock no other
  ballot of that credential is accepted, online or at a station; the station ballot is
  therefore the credential's last ballot in the ``.bel``, the one Belenios counts.
* ``relay-ballots.jsonl`` — one entry per ballot a unit's relay uploaded and the record
  accepted (relay unit, batch, election, Ballot event): what the per-channel turnout counts.

Belenios's archive does not carry either; the verifier (:mod:`viche.event.verify_event`)
checks both against the archives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from viche.errors import Location
from viche.event.signed_log import SignedLog
from viche.protocol import codec

LOCK_DOMAIN = b"viche-station-lock-v1\n"
RELAY_DOMAIN = b"viche-relay-v1\n"
LOCK_LOG = "station-locks.jsonl"
RELAY_LOG = "relay-ballots.jsonl"

_LOCK_FIELDS = ("seq", "election", "credential", "station", "time", "ballot_hash", "height",
                "prev")  # fmt: skip
_RELAY_FIELDS = ("seq", "election", "relay", "batch", "time", "ballot_hash", "height", "prev")


@dataclass(frozen=True)
class StationLock:
    seq: int
    election: str
    credential: str
    station: str
    time: str
    ballot_hash: str
    height: int
    prev: str

    def to_json(self) -> codec.JsonObject:
        return {name: getattr(self, name) for name in _LOCK_FIELDS}


@dataclass(frozen=True)
class RelayEntry:
    seq: int
    election: str
    relay: str
    batch: str
    time: str
    ballot_hash: str
    height: int
    prev: str

    def to_json(self) -> codec.JsonObject:
        return {name: getattr(self, name) for name in _RELAY_FIELDS}


def _values(value: object, where: Location, names: tuple[str, ...]) -> dict[str, str | int]:
    obj = codec.expect_object(value, where, names)
    out: dict[str, str | int] = {}
    for name in names:
        if name in ("seq", "height"):
            out[name] = codec.get_int(obj, name, where, minimum=0)
        else:
            out[name] = codec.get_str(obj, name, where)
    return out


def parse_lock(value: object, where: Location) -> StationLock:
    return StationLock(**_values(value, where, _LOCK_FIELDS))  # type: ignore[arg-type]


def parse_relay(value: object, where: Location) -> RelayEntry:
    return RelayEntry(**_values(value, where, _RELAY_FIELDS))  # type: ignore[arg-type]


def lock_log(directory: Path, genesis: str, public: str) -> SignedLog[StationLock]:
    return SignedLog(
        directory / LOCK_LOG, domain=LOCK_DOMAIN, genesis=genesis, public=public, parse=parse_lock
    )


def relay_log(directory: Path, genesis: str, public: str) -> SignedLog[RelayEntry]:
    return SignedLog(
        directory / RELAY_LOG,
        domain=RELAY_DOMAIN,
        genesis=genesis,
        public=public,
        parse=parse_relay,
    )
