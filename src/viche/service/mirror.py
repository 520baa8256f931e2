"""An observer's mirror of an election's public record, checked on every update.

:func:`update_mirror` fetches the current ``.bel`` archive (through a :data:`Fetch`
function: HTTP in production, anything in tests) into the mirror folder and compares it
with the copy already there:

* first fetch: the archive is read and every chain rule checked before it becomes the copy;
* later fetches: :func:`viche.record.diff.verify_diff` must show that the new archive
  extends the copy (same setup, every event kept, the old bytes a prefix of the new). Then
  the new archive replaces the copy (atomically: written beside it, fsynced, renamed);
* anything else — history rewritten or removed, a fork, an archive that no longer reads —
  is an alarm: the copy is kept as it was, and both archives are saved side by side under
  ``evidence/<UTC time>/`` (``kept.bel``, ``received.bel``, ``alarm.json`` with their
  SHA-256) so that the observer can show what the server published. While the server
  keeps publishing that same archive, every update raises the alarm again and names that
  folder: the pair is not copied again.

The mirror folder holds exactly one ``<uuid>.bel``, so every command that reads an
election folder (``viche verify DIR``, ``viche receipt check``) reads the mirror as it is.

Serving the copy (``viche mirror URL DIR --serve``): :func:`sync_board` replays the copy,
event by event, into a bulletin board of the mirror's own (``DIR/served.sqlite``), so that
the web application's public routers serve it read-only, exactly as the origin serves its
record: the same events, the same hashes, the same ``.bel`` bytes. Only a checked copy
reaches the board (after an alarm the board keeps serving the copy as it was).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from viche.crypto.hashing import sha256_hex
from viche.errors import ChainError, Location, MissingFileError, UsageError, VicheError
from viche.protocol import codec
from viche.record import ArchiveStream
from viche.record.diff import verify_diff
from viche.record.events import Event, EventType
from viche.record.sql import SqlBoard
from viche.record.store import StoredBallot

#: Writes the server's current archive into the given path (raises a VicheError if it
#: cannot).
Fetch = Callable[[Path], None]

INCOMING = "incoming.bel.part"
EVIDENCE = "evidence"


class MirrorStatus(Enum):
    NEW = "new"
    UNCHANGED = "unchanged"
    EXTENDED = "extended"
    ALARM = "alarm"


@dataclass(frozen=True)
class MirrorUpdate:
    """The outcome of one update: the copy's height after it, what was added, and for an
    alarm the error that raised it and the folder holding the evidence."""

    status: MirrorStatus
    height: int
    added_events: int = 0
    added_ballots: int = 0
    error: VicheError | None = None
    evidence: Path | None = None

    def line(self) -> str:
        if self.status is MirrorStatus.ALARM:
            return f"ALARM: {self.error} — evidence kept in {self.evidence}"
        if self.status is MirrorStatus.EXTENDED:
            return (
                f"extended to height {self.height}: {self.added_events} event(s), "
                f"{self.added_ballots} ballot(s)"
            )
        return f"{self.status.value}: height {self.height}"


def current_copy(directory: Path) -> Path | None:
    """The mirror's copy (the one ``*.bel`` of the folder), or None before the first fetch."""
    found = sorted(p for p in directory.glob("*.bel") if p.is_file())
    if len(found) > 1:
        raise UsageError(
            f"the mirror folder holds {len(found)} archives, expected one",
            where=Location(file=str(directory)),
        )
    return found[0] if found else None


def _uuid_and_height(path: Path) -> tuple[str, int]:
    """Read and check a whole archive; its election uuid and last height."""
    from viche.protocol.election import Election

    height = -1
    uuid = ""
    with ArchiveStream(path) as stream:
        for event in stream:
            height = event.height
            if height == 0:
                where = Location(event=0, path=("election",))
                uuid = Election.from_bytes(event.data[0].raw, where).uuid
    return uuid, height


def _replace(src: Path, dest: Path) -> None:
    with src.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(src, dest)
    fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _kept_already(directory: Path, pair: dict[str, str | None]) -> Path | None:
    """The evidence folder that already holds this pair of archives (same hashes), if any."""
    for alarm in sorted((directory / EVIDENCE).glob("*/alarm.json")):
        try:
            saved = json.loads(alarm.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(saved, dict) and saved.get("sha256") == pair:
            return alarm.parent
    return None


def _keep_evidence(
    directory: Path, kept: Path | None, received: Path, error: VicheError, now: float
) -> Path:
    """Both archives under ``evidence/<UTC time>/``; when the server publishes the same
    archive again (the alarm stands), the folder that holds them already."""
    pair = {
        "kept": None if kept is None else _file_sha256(kept),
        "received": _file_sha256(received),
    }
    found = _kept_already(directory, pair)
    if found is not None:
        received.unlink()
        return found
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    folder = directory / EVIDENCE / stamp
    n = 1
    while folder.exists():
        n += 1
        folder = directory / EVIDENCE / f"{stamp}-{n}"
    folder.mkdir(parents=True)
    if kept is not None:
        shutil.copyfile(kept, folder / "kept.bel")
    os.replace(received, folder / "received.bel")
    (folder / "alarm.json").write_text(
        json.dumps(
            {"time": stamp, "error": error.to_dict(), "sha256": pair}, ensure_ascii=False, indent=1
        )
        + "\n"
    )
    return folder


def update_mirror(directory: Path, fetch: Fetch, now: float | None = None) -> MirrorUpdate:
    """Fetch the record once and update the copy in ``directory`` (see the module)."""
    if not directory.is_dir():
        raise MissingFileError("mirror folder not found", where=Location(file=str(directory)))
    when = time.time() if now is None else now
    incoming = directory / INCOMING
    copy = current_copy(directory)
    try:
        fetch(incoming)
    except BaseException:
        with contextlib.suppress(OSError):
            incoming.unlink()
        raise
    try:
        if copy is None:
            uuid, height = _uuid_and_height(incoming)
            _replace(incoming, directory / f"{uuid}.bel")
            return MirrorUpdate(MirrorStatus.NEW, height)
        diff = verify_diff(copy, incoming)
    except VicheError as exc:
        folder = _keep_evidence(directory, copy, incoming, exc, when)
        height = -1 if copy is None else _uuid_and_height(copy)[1]
        return MirrorUpdate(MirrorStatus.ALARM, height, error=exc, evidence=folder)
    if diff.new_size == diff.old_size:
        incoming.unlink()
        return MirrorUpdate(MirrorStatus.UNCHANGED, diff.new_height)
    _replace(incoming, copy)
    return MirrorUpdate(
        MirrorStatus.EXTENDED,
        diff.new_height,
        added_events=len(diff.added),
        added_ballots=diff.added_ballots,
    )


def http_address(url: str) -> str:
    """``url``, a server's address given by a user: http or https only (a typed error
    naming it otherwise)."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(
            "the address must start with http:// or https://", where=Location(path=(url,))
        )
    return url


def archive_url(url: str) -> str:
    """The archive's address from an election's address (``…/elections/UUID``) or the
    archive's own (``…/archive.bel``)."""
    url = http_address(url)
    return url if url.endswith(".bel") else url.rstrip("/") + "/archive.bel"


def http_fetch(url: str, timeout: float = 30.0, max_bytes: int = 16 << 30) -> Fetch:
    """A :data:`Fetch` that downloads ``url`` (streamed to disk, at most ``max_bytes``)."""
    import httpx

    def fetch(dest: Path) -> None:
        where = Location(path=(url,))
        try:
            with httpx.stream("GET", url, timeout=timeout, follow_redirects=False) as response:
                if response.status_code != 200:
                    raise UsageError(
                        f"the server answered HTTP {response.status_code}", where=where
                    )
                size = 0
                with dest.open("wb") as out:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise UsageError(
                                f"the archive is larger than {max_bytes} bytes", where=where
                            )
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise UsageError(f"cannot fetch the archive: {exc}", where=where) from None

    return fetch


SERVED_BOARD = "served.sqlite"
#: the receipt key the server publishes for the election, saved beside the copy so that
#: ``viche verify DIR --receipts R`` checks the receipts against it
KEY_FILE = "receipt-key.txt"


def save_receipt_key(directory: Path, key: str) -> None:
    (directory / KEY_FILE).write_text(key + "\n", encoding="ascii")


def saved_receipt_key(directory: Path) -> str | None:
    """The key :func:`save_receipt_key` wrote in ``directory`` (None if none)."""
    path = directory / KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return key or None


def served_board_url(directory: Path) -> str:
    """The database of the board a serving mirror keeps beside its copy."""
    return f"sqlite:///{(directory / SERVED_BOARD).resolve()}"


def election_url(url: str) -> str:
    """The election's address (``…/elections/UUID``) from it or its archive's address."""
    archive = archive_url(url)
    return archive[: -len("/archive.bel")] if archive.endswith("/archive.bel") else archive


def _credential(raw: bytes) -> str:
    value = codec.loads(raw, Location(path=("ballot",)))
    found = value.get("credential") if isinstance(value, dict) else None
    return found if isinstance(found, str) else ""


def sync_board(board: SqlBoard, copy: Path, receipt_key: str) -> int:
    """Append to ``board`` the events of the checked copy at ``copy`` that it does not
    hold yet (the whole election the first time); returns how many were added.

    Every event the board writes must have the hash the copy gives it (the board computes
    the chain itself): otherwise :class:`~viche.errors.ChainError`. The board is a cache
    of the copy: delete ``served.sqlite`` and it is rebuilt from the copy."""
    added = 0
    with ArchiveStream(copy) as stream:
        store = None
        for event in stream:
            where = Location(file=str(copy), event=event.height)
            data = [d.raw for d in event.data]
            if event.height == 0:
                from viche.protocol.election import Election

                uuid = Election.from_bytes(data[0], where.sub("election")).uuid
                if uuid in board.elections():
                    store = board.store(uuid)
                else:
                    assert stream.header is not None
                    store = board.create_election(
                        stream.header.timestamp, data[0], data[1], data[2],
                        uuid=uuid, receipt_key=receipt_key,
                    )  # fmt: skip
                    added += 1
                head = store.head()
                if store.chain(0, 0)[0][1] != event.hash:
                    raise ChainError("the board's Setup event is not the copy's", where=where)
                continue
            assert store is not None
            if event.height <= head.height:
                continue
            payload = sha256_hex(data[-1]) if data else None
            if Event(head.hash, event.height, event.type, payload).to_bytes() != event.raw:
                raise ChainError(
                    "the copy's event is not in the board's form: it cannot be served as is",
                    where=where,
                )
            ballot = None
            if event.type is EventType.BALLOT:
                ballot = StoredBallot(0, "", event.data[0].hash, _credential(data[0]))
            head = store.append(event.type, data, expected_head=head.hash, ballot=ballot)
            if head.hash != event.hash:
                raise ChainError("the board's event is not the copy's", where=where)
            added += 1
    return added


def http_receipt_key(url: str, timeout: float = 30.0) -> str:
    """The receipt key the server publishes for the election at ``url``."""
    import httpx

    where = Location(path=(election_url(url),))
    try:
        response = httpx.get(election_url(url), timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise UsageError(f"cannot fetch the election: {exc}", where=where) from None
    if response.status_code != 200:
        raise UsageError(f"the server answered HTTP {response.status_code}", where=where)
    value = codec.loads(response.content, where)
    key = value.get("receipt_key") if isinstance(value, dict) else None
    if not isinstance(key, str) or not 1 <= len(key) <= 64:
        raise UsageError("the election names no receipt key", where=where.sub("receipt_key"))
    return key
