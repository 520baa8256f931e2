"""Casting in a national event: online, at a polling station, through a unit's relay.

:class:`EventDesk` is the voting server's side of an event directory (the manifest, each
style's archive, the two logs). Every channel goes through the one use case
:func:`~viche.service.cast.cast_ballot` and adds the event's own rules under the election
store's lock:

* **online** (:meth:`EventDesk.cast_online`) and **relay** (:meth:`EventDesk.cast_relayed`):
  refused with :class:`~viche.errors.CredentialLockedError` when the credential was
  locked by a station vote;
* **station** (:meth:`EventDesk.cast_at_station`): the station staff checked the voter's
  identity; the server's roll (voter id -> style and public credential, from the credential
  authority's ``T.pubcreds``, never published) gives her ballot style and credential; a
  ballot of another style is refused (:class:`~viche.errors.WrongStyleError`), one signed
  with another voter's credential too (:class:`~viche.errors.CredentialBindingError`: a
  coercer holding her credential cannot lock it in her place); the ballot is appended and
  its credential locked in the station-lock log before the store's lock is released, so no
  ballot of that credential can come after it. The station terminal holds no secret: the voter's own
  credential signs the ballot in the kiosk booth. If the lock's write fails after the
  ballot's (a full disk), the station retries the same ballot: it is then locked without
  being appended again.

Every channel refuses ballots after the event's closing time
(:class:`~viche.errors.VoteClosedError`) and answers with a receipt signed by the event's
receipt key (:mod:`viche.service.receipts`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from viche.crypto.hashing import sha256_hex
from viche.errors import (
    NOWHERE,
    CredentialBindingError,
    CredentialLockedError,
    EnrolmentError,
    EventManifestError,
    Location,
    ReplayedBallotError,
    VoteClosedError,
    WrongStyleError,
)
from viche.event.keys import EventKey
from viche.event.locks import RelayEntry, StationLock, lock_log, relay_log
from viche.event.manifest import Style, read_manifest
from viche.protocol import codec
from viche.protocol.ballot import CheckedBallot, CheckedFacts, smart_ballot_tracker
from viche.record.archive_store import ArchiveStore
from viche.service.archive import ElectionRecord
from viche.service.cast import Accepted, cast_ballot
from viche.service.receipts import Receipt, ReceiptKey, SignedReceipt

Clock = Callable[[], datetime]
#: voter id -> (style id, public credential): who may cast which credential at a station
Roll = Mapping[str, tuple[str, str]]
#: the largest ballot line the desk reads to find its election (a ballot of the largest
#: election this version accepts is far smaller; the full check bounds it exactly)
MAX_BALLOT_LINE = 1 << 22


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Cast:
    """An accepted ballot: its style, what the record accepted, the signed receipt."""

    style: str
    channel: str
    accepted: Accepted
    receipt: SignedReceipt


def ballot_election(raw: bytes, where: Location = NOWHERE) -> str:
    """The ``election_uuid`` a ballot line names (the full check comes later)."""
    if len(raw) > MAX_BALLOT_LINE:
        raise WrongStyleError("a ballot line far larger than any ballot", where=where)
    obj = codec.loads(raw, where)
    if not isinstance(obj, dict) or not isinstance(obj.get("election_uuid"), str):
        raise WrongStyleError("not a ballot: no election_uuid", where=where)
    uuid: str = obj["election_uuid"]
    return uuid


class EventDesk:
    """The voting server's side of an event directory (open it with ``with``)."""

    def __init__(
        self,
        directory: Path,
        key: EventKey,
        receipt_key: ReceiptKey,
        now: Clock = utc_now,
        *,
        roll: Roll | None = None,
        records: Callable[[Style], ElectionRecord] | None = None,
        refuse: Callable[[Style, CheckedFacts], None] | None = None,
    ) -> None:
        """``records`` opens a style's election record (default: its ``.bel`` in
        ``directory``; the voting server passes the SQL board's,
        :mod:`viche.event.hosted`); ``refuse`` adds a rule of the store's own that every
        channel runs under the store's lock (the voting server's: a ballot the booth
        audited is never cast)."""
        self.directory = directory
        self.manifest, self.genesis = read_manifest(directory)
        if key.public != self.manifest.key or receipt_key.public != self.manifest.receipt_key:
            raise EventManifestError(
                "these keys are not the event's published keys",
                where=Location(file=str(directory)),
            )
        self.key = key
        self.receipt_key = receipt_key
        self.now = now
        self.roll: Roll = roll or {}
        self.locks = lock_log(directory, self.genesis, key.public)
        self.relays = relay_log(directory, self.genesis, key.public)
        self._records: dict[str, ElectionRecord] = {}
        self.refuse = refuse
        self._open_record = records
        self._stack = ExitStack()
        #: the station-lock log indexed by (election, credential), up to entry ``_indexed``
        self._locked: dict[tuple[str, str], StationLock] = {}
        self._indexed = 0
        self._index_mutex = threading.Lock()

    def __enter__(self) -> EventDesk:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        self._records.clear()

    # ------------------------------------------------------------------ the records

    def record(self, style: Style) -> ElectionRecord:
        found = self._records.get(style.id)
        if found is None:
            if self._open_record is not None:
                found = self._open_record(style)
            else:
                store = self._stack.enter_context(ArchiveStore.open(self.directory / style.archive))
                found = ElectionRecord(store)
            if found.election.uuid != style.election:
                raise EventManifestError(
                    f"the record of style {style.id!r} holds another election",
                    where=Location(file=found.store.name),
                )
            self._records[style.id] = found
        return found

    def style_of(self, raw: bytes, where: Location = NOWHERE) -> Style:
        uuid = ballot_election(raw, where)
        style = self.manifest.style_of_election(uuid)
        if style is None:
            raise WrongStyleError(
                "this ballot is for an election that is not a style of this event", where=where
            )
        return style

    def lock_of(self, election: str, credential: str) -> StationLock | None:
        """The station lock of ``credential``, the log re-read first (another process, or
        this desk's own append, may have added lines): the index is brought up to date by
        entry number, never from "what is new to this read" (:meth:`SignedLog.since`)."""
        with self._index_mutex:
            for entry in self.locks.since(self._indexed):
                self._locked[(entry.election, entry.credential)] = entry
                self._indexed += 1
            return self._locked.get((election, credential))

    # ------------------------------------------------------------------ rules

    def check_open(self, where: Location = NOWHERE) -> datetime:
        now = self.now()
        if now >= self.manifest.closing_time:
            raise VoteClosedError(
                f"the vote closed at {self.manifest.closes}; this ballot arrived at {iso(now)}",
                where=where,
            )
        return now

    def _not_locked(self, style: Style) -> Callable[[CheckedFacts], None]:
        def guard(checked: CheckedFacts) -> None:
            if self.refuse is not None:
                self.refuse(style, checked)
            lock = self.lock_of(style.election, checked.credential)
            if lock is not None:
                raise CredentialLockedError(
                    f"this voter voted at station {lock.station} at {lock.time}; no later "
                    "ballot of hers is accepted",
                    where=Location(ballot=checked.tracker),
                )

        return guard

    def online_guard(self, style: Style) -> Callable[[CheckedFacts], None]:
        """The event's rules for a ballot of ``style`` cast online (the voting server's
        ``POST /elections/{uuid}/ballots`` runs it under the store's lock): the vote is
        open and the credential is not locked by a station vote."""
        not_locked = self._not_locked(style)

        def guard(checked: CheckedFacts) -> None:
            self.check_open(Location(ballot=checked.tracker))
            not_locked(checked)

        return guard

    def _receipt(self, style: Style, accepted: Accepted, raw: bytes) -> SignedReceipt:
        return self.receipt_key.sign(
            Receipt(
                election=style.election,
                tracker=accepted.tracker,
                ballot_hash=sha256_hex(raw),
                height=accepted.height,
                event_hash=accepted.event_hash,
                time=iso(self.now()),
                key=self.receipt_key.public,
            )
        )

    # ------------------------------------------------------------------ channels

    def cast_online(self, raw: bytes, source: Location = NOWHERE) -> Cast:
        """A ballot from the booth (online, or prepared offline and sent later)."""
        self.check_open(source)
        style = self.style_of(raw, source)
        accepted = cast_ballot(self.record(style), raw, source, guard=self._not_locked(style))
        return Cast(style.id, "online", accepted, self._receipt(style, accepted, raw))

    def cast_at_station(
        self, station_id: str, voter_id: str, raw: bytes, source: Location = NOWHERE
    ) -> Cast:
        """A ballot cast in the kiosk booth of ``station_id`` by voter ``voter_id``, whose
        identity the staff checked."""
        station = self.manifest.station(station_id)
        self.check_open(source)
        enrolled = self.roll.get(voter_id)
        if enrolled is None:
            raise EnrolmentError(
                f"voter {voter_id!r} is not on this event's roll", where=source.sub("voter")
            )
        style = self.manifest.style(enrolled[0])
        if self.style_of(raw, source).id != style.id:
            raise WrongStyleError(
                f"this ballot is not of the voter's ballot style {style.id!r}",
                where=source.sub("ballot", "election_uuid"),
            )
        not_locked = self._not_locked(style)

        def guard(checked: CheckedFacts) -> None:
            if checked.credential != enrolled[1]:
                raise CredentialBindingError(
                    "this ballot is signed with another voter's credential",
                    where=Location(ballot=checked.tracker, path=("credential",)),
                )
            not_locked(checked)

        def lock(checked: CheckedBallot, accepted: Accepted) -> None:
            def entry(seq: int, prev: str) -> StationLock:
                return StationLock(
                    seq=seq,
                    election=style.election,
                    credential=checked.credential,
                    station=station.id,
                    time=iso(self.now()),
                    ballot_hash=checked.hex_hash,
                    height=accepted.height,
                    prev=prev,
                )

            self.locks.append(self.key, entry)

        try:
            accepted = cast_ballot(self.record(style), raw, source, guard=guard, then=lock)
        except ReplayedBallotError:
            accepted = self._lock_replayed(style, station.id, enrolled[1], raw, source)
        return Cast(style.id, "station", accepted, self._receipt(style, accepted, raw))

    def _lock_replayed(
        self, style: Style, station: str, credential: str, raw: bytes, source: Location
    ) -> Accepted:
        """A station ballot already in the record: when it is the voter's own last ballot
        and her credential is not locked (the lock's write failed after the ballot's, e.g.
        a full disk), lock it now; any other replay is refused as before. Nothing new is
        appended to the archive (``revote`` is false)."""
        rec = self.record(style)
        h = sha256_hex(raw)
        tracker = smart_ballot_tracker(raw)
        with rec.store.locked():
            stored = rec.store.ballot_by_hash(h)
            last = rec.store.last_ballot(credential)
            if (
                stored is None
                or stored.credential != credential
                or last is None
                or last.hash != h
                or self.lock_of(style.election, credential) is not None
            ):
                raise ReplayedBallotError(
                    "this exact ballot is already in the record; a replayed ballot is refused",
                    where=Location(ballot=tracker),
                )

            def entry(seq: int, prev: str) -> StationLock:
                return StationLock(seq, style.election, credential, station, iso(self.now()), h,
                                   stored.height, prev)  # fmt: skip

            self.locks.append(self.key, entry)
        weight = rec.credentials.weight(credential)
        return Accepted(tracker, stored.event_hash, stored.height, False, weight)

    def cast_relayed(self, relay: str, batch: str, raw: bytes, source: Location = NOWHERE) -> Cast:
        """A ballot a unit's relay collected and uploads in batch ``batch``."""
        self.check_open(source)
        style = self.style_of(raw, source)

        def log(checked: CheckedBallot, accepted: Accepted) -> None:
            def entry(seq: int, prev: str) -> RelayEntry:
                return RelayEntry(
                    seq=seq,
                    election=style.election,
                    relay=relay,
                    batch=batch,
                    time=iso(self.now()),
                    ballot_hash=checked.hex_hash,
                    height=accepted.height,
                    prev=prev,
                )

            self.relays.append(self.key, entry)

        accepted = cast_ballot(
            self.record(style), raw, source, guard=self._not_locked(style), then=log
        )
        return Cast(style.id, "relay", accepted, self._receipt(style, accepted, raw))
