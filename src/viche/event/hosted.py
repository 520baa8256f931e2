"""A national event served by the voting server (``viche serve --event DIR``).

The event stays a directory (``event.json``, the station-lock and relay logs, the other
signed documents): those files are what ``viche verify DIR`` checks, so the server publishes
them byte for byte and appends the logs in place (a signed, hash-chained file appended under
``flock``, :mod:`viche.event.signed_log`). Each ballot style's election lives on the SQL
bulletin board like any other election (SQLite or PostgreSQL): its record, its voters'
logins, its receipts, its ``.bel`` download. The server of an event is therefore one
machine (its worker processes share the directory); the board may be shared.

* :func:`host_event` puts every style of an event directory on the board (once; again is a
  no-op): the Setup event of the style's ``.bel``, the voters bound to their public
  credentials by the credential authority's ``T.pubcreds`` ids (the voter ids of the
  registry: the server's roll, never published), a login secret for each voter (written for
  the post office, only its hash stored) and the event's receipt key as each style's.
* :class:`ServedEvent` is the event desk of a server process: :class:`~viche.event.channels.
  EventDesk` over the board's records, the roll read from the board (:class:`BoardRoll`),
  the event's rule on online ballots (refused after the close and for a locked credential)
  installed in the host (:attr:`~viche.service.hosting.Host.guards`), the station and relay
  secrets checked, the live per-channel turnout.
* :func:`issue_secret` is the commission issuing a station's (or a relay's) secret: only its
  argon2id hash is stored; a station must be one of the event's, hence never in an excluded
  unit (the manifest's check).
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from viche.crypto.hashing import sha256_hex
from viche.errors import (
    NOWHERE,
    AuthenticationError,
    EnrolmentError,
    EventManifestError,
    ExcludedUnitError,
    Location,
    MissingFileError,
    NotFoundError,
    RelayBatchError,
    UsageError,
    VicheError,
)
from viche.event.channels import Cast, Clock, EventDesk, utc_now
from viche.event.keys import EventKey
from viche.event.locks import LOCK_LOG, RELAY_LOG
from viche.event.manifest import MANIFEST, Manifest, Style, read_manifest
from viche.event.outcome import BALLOTS, RESULTS
from viche.event.published import (
    CHANNELS,
    NATIONAL,
    TURNOUT,
    BallotRef,
    channel_turnout,
)
from viche.event.registry import MILITARY_UNIT_RE, VOTER_ID_RE
from viche.event.relay import Outcome
from viche.protocol.ballot import CheckedFacts, max_ballot_size, smart_ballot_tracker
from viche.record.archive_store import ArchiveStore
from viche.record.sql import SqlBoard
from viche.record.sql.accounts import (
    event_secret_hash,
    is_audited,
    logins_in,
    set_event_secret,
    voter_in,
)
from viche.service.archive import ElectionRecord
from viche.service.audit import audited_error
from viche.service.credentials import parse_public_credentials
from viche.service.files import read_bytes, write_text
from viche.service.hosting import Host, RollEntry, key_path, open_election
from viche.service.receipts import ReceiptKey
from viche.service.secrets import check_secret, hash_login_secret, hash_secret, new_secret

#: the files of an event directory the server publishes (``GET /api/v1/events/{id}/NAME``),
#: when they exist; the archives are served from the board
PUBLISHED = (MANIFEST, LOCK_LOG, RELAY_LOG, "constituencies.json", BALLOTS, TURNOUT, NATIONAL,
             RESULTS)  # fmt: skip
STATION, RELAY = "station", "relay"
#: the largest relay batch one upload may carry
MAX_BATCH = 10_000
EVENT_ID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")


# ---------------------------------------------------------------------- hosting


@dataclass(frozen=True)
class HostedStyle:
    style: str
    election: str
    voters: int
    created: bool


def _style_setup(
    event_dir: Path, style: Style, authority_dir: Path
) -> tuple[ElectionRecord, ArchiveStore, list[str]]:
    folder = authority_dir / style.id
    files = sorted(folder.glob("*.pubcreds")) if folder.is_dir() else []
    if len(files) != 1:
        raise MissingFileError(
            f"expected one .pubcreds file (with voter ids) for style {style.id!r}, found "
            f"{len(files)}",
            where=Location(file=str(folder)),
        )
    store = ArchiveStore.open(event_dir / style.archive, sidecar=False)
    record = ElectionRecord(store)
    where = Location(file=str(files[0]))
    credentials, ids = parse_public_credentials(read_bytes(files[0], "public credentials"), where)
    if ids is None:
        store.close()
        raise EnrolmentError("the public credentials carry no voter ids", where=where)
    if credentials.raw != record.credentials.raw:
        store.close()
        raise EventManifestError(
            f"these public credentials are not those of style {style.id!r}'s archive",
            where=where,
        )
    return record, store, ids


def host_event(
    board: SqlBoard,
    keys_dir: Path,
    event_dir: Path,
    *,
    event_keys: Path,
    authority_dir: Path,
    logins_out: Path,
) -> list[HostedStyle]:
    """Open every style of the event in ``event_dir`` on ``board`` (a style already there is
    left as it is). ``event_keys`` holds the server's ``receipts.ed25519`` (the manifest's
    receipt key), ``authority_dir/STYLE/*.pubcreds`` the credential authority's public
    credentials with voter ids; each new voter's ``VOTER LOGIN-SECRET`` goes to
    ``logins_out/STYLE/VOTER.login`` (mode 0600)."""
    manifest, _ = read_manifest(event_dir)
    receipts = event_keys / "receipts.ed25519"
    if not receipts.is_file():
        raise MissingFileError("no receipt key", where=Location(file=str(receipts)))
    if ReceiptKey.load_or_create(receipts).public != manifest.receipt_key:
        raise EventManifestError(
            "this receipt key is not the event's published receipt key",
            where=Location(file=str(receipts)),
        )
    on_board = set(board.elections())
    out: list[HostedStyle] = []
    for style in manifest.styles:
        if style.election in on_board:
            enrolled = len(logins_in(board, [style.election]))
            if enrolled != style.voters:
                raise EnrolmentError(
                    f"style {style.id!r} is on the board with {enrolled} voter(s) of "
                    f"{style.voters} (an interrupted hosting?): its election must be removed "
                    "from the board before it is hosted again",
                    where=Location(member=f"database / {style.election}"),
                )
            out.append(HostedStyle(style.id, style.election, style.voters, False))
            continue
        record, store, ids = _style_setup(event_dir, style, authority_dir)
        try:
            if record.store.head().height != 0:
                raise EventManifestError(
                    f"style {style.id!r}'s archive already holds ballots: host an event "
                    "before its vote opens",
                    where=Location(file=str(event_dir / style.archive)),
                )
            keys_dir.mkdir(parents=True, exist_ok=True)
            target = key_path(keys_dir, style.election)
            if not target.exists():
                shutil.copyfile(receipts, target)
                target.chmod(0o600)
            roll: dict[str, RollEntry] = {}
            for voter in ids:
                secret = new_secret()
                roll[voter] = RollEntry(voter, "", hash_login_secret(secret))
                write_text(logins_out / style.id / f"{voter}.login", f"{voter} {secret}\n",
                           secret=True)  # fmt: skip
            open_election(
                board,
                keys_dir,
                election=record.election,
                trustees=record.trustees,
                credentials=record.credentials,
                ids=ids,
                roll=roll,
                timestamp=store.setup().timestamp,
            )
        finally:
            store.close()
        out.append(HostedStyle(style.id, style.election, len(ids), True))
    return out


# ---------------------------------------------------------------------- secrets


def check_name(kind: str, name: str, manifest: Manifest, where: Location = NOWHERE) -> None:
    """A station of the event (so never one in an excluded unit), or a unit's code."""
    if kind == STATION:
        station = manifest.station(name)  # UnknownStationError
        if station.unit in manifest.excluded_units:
            raise ExcludedUnitError(
                f"station {name!r} is in the excluded unit {station.unit}", where=where
            )
    elif kind == RELAY:
        if not MILITARY_UNIT_RE.fullmatch(name):
            raise RelayBatchError(
                f"{name!r} is not a unit code (a letter A or B and four digits)", where=where
            )
    else:
        raise UsageError(f"no secret of kind {kind!r}", where=where)


def issue_secret(board: SqlBoard, manifest: Manifest, kind: str, name: str) -> str:
    """A new secret for station (or relay) ``name`` of the event; it replaces any earlier
    one. Only its argon2id hash is stored; the secret is returned once."""
    check_name(kind, name, manifest, Location(path=(kind,)))
    secret = new_secret()
    set_event_secret(board, manifest.id, kind, name, hash_secret(secret))
    return secret


# ---------------------------------------------------------------------- the server's desk


class BoardRoll(Mapping[str, tuple[str, str]]):
    """The server's roll of an event, read from the board: voter id -> (style id, public
    credential)."""

    def __init__(self, board: SqlBoard, styles: Sequence[Style]) -> None:
        self.board = board
        self._style = {s.election: s.id for s in styles}

    def __getitem__(self, voter: str) -> tuple[str, str]:
        if not VOTER_ID_RE.fullmatch(voter):
            raise KeyError(voter)
        found = voter_in(self.board, list(self._style), voter)
        if found is None:
            raise KeyError(voter)
        return self._style[found[0]], found[1]

    def __iter__(self) -> Iterator[str]:
        return iter(logins_in(self.board, list(self._style)))

    def __len__(self) -> int:
        return len(logins_in(self.board, list(self._style)))


class ServedEvent:
    """An event directory served by a server process over ``host``'s board."""

    def __init__(
        self,
        host: Host,
        directory: Path,
        key: EventKey,
        receipt_key: ReceiptKey,
        now: Clock = utc_now,
    ) -> None:
        manifest, _ = read_manifest(directory)
        self.host = host
        self.directory = directory
        self.desk = EventDesk(
            directory,
            key,
            receipt_key,
            now,
            roll=BoardRoll(host.board, manifest.styles),
            records=lambda style: host.record(style.election),
            refuse=self._refuse_audited,
        )
        self.manifest = self.desk.manifest
        for style in self.manifest.styles:
            host.guards[style.election] = self.desk.online_guard(style)
        self._max_ballot: int | None = None
        # per style: the height read up to, and each credential's last ballot so far
        self._seen: dict[str, tuple[int, dict[str, BallotRef]]] = {}
        self._seen_lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.manifest.id

    def close(self) -> None:
        for style in self.manifest.styles:
            self.host.guards.pop(style.election, None)
        self.desk.close()

    def authenticate(self, kind: str, name: str, secret: str) -> None:
        """The station's (relay's) secret, checked in constant time against its hash; the
        same answer for an unknown name and a wrong secret."""
        stored = event_secret_hash(self.host.board, self.id, kind, name)
        if not check_secret(stored, secret) or stored is None:
            raise AuthenticationError(
                f"unknown {kind} or wrong {kind} secret", where=Location(path=("authorization",))
            )

    def style(self, style_id: str) -> Style:
        for s in self.manifest.styles:
            if s.id == style_id:
                return s
        raise NotFoundError(f"no ballot style {style_id!r} in this event",
                            where=Location(path=("style",)))  # fmt: skip

    def published(self, name: str) -> bytes:
        """A file the event publishes, byte for byte (404 when it is not, or not yet)."""
        path = self.directory / name
        if name not in PUBLISHED or not path.is_file():
            raise NotFoundError(f"the event publishes no {name!r}", where=Location(path=(name,)))
        return read_bytes(path, name)

    def files(self) -> list[str]:
        return [n for n in PUBLISHED if (self.directory / n).is_file()]

    def max_ballot(self) -> int:
        """The size of the largest ballot of any style (what a request body may hold)."""
        if self._max_ballot is None:
            self._max_ballot = max(
                max_ballot_size(self.host.record(s.election).election) for s in self.manifest.styles
            )
        return self._max_ballot

    def _refuse_audited(self, style: Style, checked: CheckedFacts) -> None:
        """The desk's rule of the board, on every channel, under the election's lock (the
        lock an audit is registered under): a ballot the booth audited (its randomness
        revealed) is never cast."""
        if is_audited(self.host.board, style.election, checked.hex_hash):
            raise audited_error(checked.tracker)

    def cast_at_station(self, station: str, voter: str, raw: bytes) -> Cast:
        """``EventDesk.cast_at_station`` on the board (an audited ballot is refused under
        the lock, :meth:`_refuse_audited`)."""
        self.desk.manifest.station(station)
        return self.desk.cast_at_station(station, voter, raw)

    def upload_batch(self, relay: str, lines: Sequence[bytes]) -> tuple[str, list[Outcome]]:
        """A relay's batch: each ballot accepted or refused on its own (the batch id is the
        start of the hash of its content, as ``viche relay`` names it)."""
        if not lines:
            raise RelayBatchError("an empty batch", where=Location(path=("body",)))
        if len(lines) > MAX_BATCH:
            raise RelayBatchError(f"at most {MAX_BATCH} ballots in one batch",
                                  where=Location(path=("body",)))  # fmt: skip
        content = b"".join(b + b"\n" for b in lines)
        batch = sha256_hex(content)[:16]
        out: list[Outcome] = []
        for n, raw in enumerate(lines, start=1):
            where = Location(path=("body",), line=n)
            h, tracker = sha256_hex(raw), smart_ballot_tracker(raw)
            try:
                cast = self.desk.cast_relayed(relay, batch, raw, where)
            except VicheError as exc:
                out.append(Outcome(tracker, h, None, exc))
                continue
            out.append(Outcome(tracker, h, cast.receipt, None))
        return batch, out

    def turnout(self) -> dict[str, dict[str, int]]:
        """Per style, voters by the channel of their counted (last) ballot so far (the
        computation the published ``turnout.json`` and its verifier share). Only the ballots
        cast since the last call are read."""
        locks = self.desk.locks.read_all()
        relayed = self.desk.relays.read_all()
        out: dict[str, dict[str, int]] = {}
        with self._seen_lock:
            for style in self.manifest.styles:
                store = self.host.store(style.election)
                after, last = self._seen.get(style.id, (0, {}))
                while page := store.ballots(after, 1000):
                    for b in page:
                        last[b.credential] = BallotRef(b.height, b.hash, b.credential)
                    after = page[-1].height
                self._seen[style.id] = (after, last)
                locked = {e.credential for e in locks if e.election == style.election}
                hashes = {e.ballot_hash for e in relayed if e.election == style.election}
                out[style.id] = channel_turnout(last.values(), locked, hashes)
        return out


def total_turnout(per_style: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {c: sum(counts[c] for counts in per_style.values()) for c in CHANNELS}


def open_served_event(host: Host, directory: Path, keys: Path) -> ServedEvent:
    """The event in ``directory`` served with the keys in ``keys`` (``event.ed25519``,
    ``receipts.ed25519``); every style must be on the board (:func:`host_event`)."""
    for name in ("event.ed25519", "receipts.ed25519"):
        if not (keys / name).is_file():
            raise MissingFileError("no such key file", where=Location(file=str(keys / name)))
    key = EventKey.load_or_create(keys / "event.ed25519")
    receipt_key = ReceiptKey.load_or_create(keys / "receipts.ed25519")
    served = ServedEvent(host, directory, key, receipt_key)
    on_board = set(host.board.elections())
    missing = [s.id for s in served.manifest.styles if s.election not in on_board]
    if missing:
        served.close()
        raise UsageError(
            f"style(s) {', '.join(missing)} of the event are not on the board: run "
            "`viche event host` first",
            where=Location(file=str(directory)),
        )
    return served
