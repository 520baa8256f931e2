"""A signed, hash-chained, append-only log kept beside the archives (JSON lines).

Each line is ``{"entry": {…, "seq": n, "prev": h}, "signature": base64}``: ``seq`` counts
from 0, ``prev`` is the hex SHA-256 of the previous line (without its newline) and, for the
first line, of the event manifest file, so a log belongs to one event and no line can be
removed, reordered or changed without breaking the chain; the signature is the event key's
over the entry (with the log's domain tag). The station-lock log and the relay log
(:mod:`viche.event.locks`) are two such logs.

Writers append under an exclusive ``flock`` on the log file (after the election store's
lock, never before), one ``write`` and ``fsync`` per line; readers bring their copy up to
date by reading only the lines added since they last looked, each checked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from viche.crypto.hashing import sha256_hex
from viche.errors import Location, LockLogError, StorageError, VicheError
from viche.event.keys import EventKey, check_signature
from viche.protocol import codec


class Entry(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def prev(self) -> str: ...

    def to_json(self) -> codec.JsonObject: ...


E = TypeVar("E", bound=Entry)
#: ``parse(value, where)``: an entry from its JSON object (``seq`` and ``prev`` included)
Parse = Callable[[object, Location], E]


@dataclass(frozen=True)
class Line(Generic[E]):
    entry: E
    hash: str


class SignedLog(Generic[E]):
    """One log file: ``domain`` its signature tag, ``genesis`` the manifest's hash,
    ``public`` the event key that signs it, ``parse`` its entries' reader."""

    def __init__(
        self, path: Path, *, domain: bytes, genesis: str, public: str, parse: Parse[E]
    ) -> None:
        self.path = path
        self.domain = domain
        self.genesis = genesis
        self.public = public
        self._parse = parse
        self._lines: list[Line[E]] = []
        self._offset = 0
        # one copy may be shared by the threads of a server process (the flock orders
        # processes, this lock the threads of one)
        self._mutex = threading.RLock()

    @property
    def entries(self) -> list[E]:
        return [ln.entry for ln in self._lines]

    @property
    def head(self) -> str:
        return self._lines[-1].hash if self._lines else self.genesis

    def where(self, line: int | None = None) -> Location:
        return Location(file=str(self.path), line=line)

    @contextlib.contextmanager
    def _flock(self, exclusive: bool) -> Iterator[int]:
        # readers open read-only: an auditor's copy may be on a read-only disk
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND if exclusive else os.O_RDONLY
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open the log: {exc.strerror}", where=self.where()) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield fd
        finally:
            os.close(fd)

    def _sync(self) -> list[E]:
        """Read and check the lines added since the last look; returns their entries."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot read the log: {exc.strerror}", where=self.where()) from None
        new: list[E] = []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            n = len(self._lines) + 1
            if end < 0:
                raise LockLogError("the last line is cut short (no newline)", where=self.where(n))
            raw = data[start:end]
            line = self._check_line(raw, n)
            self._lines.append(line)
            new.append(line.entry)
            start = end + 1
        self._offset += len(data)
        return new

    def _check_line(self, raw: bytes, n: int) -> Line[E]:
        where = self.where(n)
        try:
            top = codec.expect_object(codec.loads(raw, where), where, ("entry", "signature"))
            entry = self._parse(top["entry"], where.sub("entry"))
            signature = codec.get_str(top, "signature", where)
            body = codec.to_bytes(entry.to_json())
            codec.require_canonical(raw, top, where, "log line")
            check_signature(self.public, self.domain, body, signature, where)
        except LockLogError:
            raise
        except VicheError as exc:
            raise LockLogError(exc.message, where=exc.where) from None
        if entry.seq != len(self._lines):
            raise LockLogError(
                f"entry number {entry.seq} where {len(self._lines)} was expected", where=where
            )
        if entry.prev != self.head:
            raise LockLogError(
                "prev is not the hash of the previous line (or of the event manifest)",
                where=where.sub("entry", "prev"),
            )
        return Line(entry, sha256_hex(raw))

    def refresh(self) -> list[E]:
        """Bring this copy up to date (lines by other writers); returns the entries new to
        this call (another call may take them first: to keep an index, use :meth:`since`)."""
        if not self.path.exists():
            return []
        with self._mutex, self._flock(exclusive=False):
            return self._sync()

    def since(self, start: int) -> list[E]:
        """Bring this copy up to date, then the entries from number ``start`` on. A reader
        that keeps its own index of the log asks by number: the lines another process
        appended are read by whichever call comes first (a refresh, a read, this copy's own
        append), so "the entries new to this call" would be lost to the others."""
        with self._mutex:
            self.refresh()
            return [ln.entry for ln in self._lines[start:]]

    def read_all(self) -> list[E]:
        """Every entry, each line checked (what the verifier does)."""
        self.refresh()
        return self.entries

    def append(self, key: EventKey, make: Callable[[int, str], E]) -> E:
        """Append the entry ``make(seq, prev)``, signed by ``key``, durably."""
        if key.public != self.public:
            raise LockLogError("this key is not the event's key", where=self.where())
        with self._mutex, self._flock(exclusive=True) as fd:
            self._sync()
            entry = make(len(self._lines), self.head)
            body = codec.to_bytes(entry.to_json())
            top = {"entry": entry.to_json(), "signature": key.sign_bytes(self.domain, body)}
            raw = codec.to_bytes(top)
            try:
                os.write(fd, raw + b"\n")
                os.fsync(fd)
            except OSError as exc:
                raise StorageError(
                    f"cannot append to the log: {exc.strerror}", where=self.where()
                ) from None
            self._lines.append(Line(entry, sha256_hex(raw)))
            self._offset += len(raw) + 1
        return entry
