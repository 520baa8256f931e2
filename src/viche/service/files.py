"""File access for the use cases: every failure names the file and becomes a typed error.

Writes are atomic (a temporary file in the same directory, then ``os.replace``), so a
failed command never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from viche.errors import Location, MissingFileError, UsageError
from viche.protocol import codec

STDIN = Path("-")


def read_bytes(path: Path, what: str) -> bytes:
    """The content of ``path`` (``-`` is standard input); ``what`` says what the file should
    hold (for the message)."""
    if path == STDIN:
        data = sys.stdin.buffer.read()
        if not data:
            raise MissingFileError(
                f"{what}: standard input is empty", where=Location(path=("stdin",))
            )
        return data
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise MissingFileError(f"{what} not found", where=Location(file=str(path))) from None
    except IsADirectoryError:
        raise MissingFileError(
            f"{what}: expected a file, found a directory", where=Location(file=str(path))
        ) from None
    except OSError as exc:
        raise MissingFileError(
            f"{what} cannot be read: {exc.strerror}", where=Location(file=str(path))
        ) from None


def read_text(path: Path, what: str) -> str:
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} is not UTF-8 (byte {exc.start})", where=Location(file=str(path))
        ) from None


def read_json(path: Path, what: str) -> Any:
    """Strict JSON (see :func:`viche.protocol.codec.loads`) from a file."""
    return codec.loads(read_bytes(path, what).strip(), where=Location(file=str(path)))


def read_json_lines(path: Path, what: str) -> list[Any]:
    """A ``.jsons`` file: one JSON value per non-empty line."""
    out: list[Any] = []
    for n, line in enumerate(read_text(path, what).splitlines(), start=1):
        if line.strip():
            out.append(codec.loads(line, where=Location(file=str(path), line=n)))
    return out


def write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise UsageError(f"cannot write: {exc.strerror}", where=Location(file=str(path))) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"cannot write: {exc.strerror}", where=Location(file=str(path))) from None


def write_text(path: Path, text: str, *, secret: bool = False) -> None:
    """Write ``text``; secret files (private keys, private credentials) are mode 0600."""
    write_bytes(path, text.encode("utf-8"), mode=0o600 if secret else 0o644)


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise MissingFileError(f"{what} is not a directory", where=Location(file=str(path)))
    return path


def make_dir(path: Path, what: str, *, private: bool = False) -> Path:
    """The folder ``path``, created with its parents when absent; ``what`` says what it
    is for (for the message): a file in its place or a folder that cannot be made is a
    typed error naming it. ``private``: a folder that it creates is its owner's alone
    (mode 0700; one that exists is left as its owner set it)."""
    if path.exists() and not path.is_dir():
        raise MissingFileError(
            f"{what}: expected a folder, found a file", where=Location(file=str(path))
        )
    try:
        if private and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir(mode=0o700)
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"{what}: cannot create the folder: {exc.strerror}", where=Location(file=str(path))
        ) from None
    return path
