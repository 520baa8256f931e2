"""V7 ("old-style") tar members, exactly as ``belenios-tool`` writes them (FORMAT.md §1).

A ``.bel`` archive is a sequence of members, each a 512-byte header followed by the
content padded with zeros to a multiple of 512 bytes. There are **no** end-of-archive
zero blocks: the archive only ever grows by appending. The header fields are fixed:

=========  ======  ==========================================================
offset     length  value
=========  ======  ==========================================================
0          100     member name (ASCII), NUL padded
100        8       mode ``0000644\\0``
108        8       uid ``0000000\\0``
116        8       gid ``0000000\\0``
124        12      size, 11 octal digits + NUL
136        12      mtime, 11 octal digits + NUL (the archive timestamp)
148        8       checksum, 6 octal digits + NUL + space
156        1       typeflag ``'0'``
157        355     zeros (no ustar magic, no link name)
=========  ======  ==========================================================

Public API:

* :func:`encode_member` — the bytes of one member (header, content, padding).
* :func:`iter_members` — a strict, streaming reader over a binary file object: it yields
  :class:`TarMember` one at a time (never loading the whole archive) and raises
  :class:`~viche.errors.ArchiveFormatError` whose ``where`` gives the byte offset of the
  member's header (and its name once the header is read) for any header that is not
  exactly what belenios-tool would write, for non-zero padding, for a truncated member and
  for anything after the last member that is not a whole member.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from viche.errors import ArchiveFormatError, Location

BLOCK = 512
NAME_LEN = 100
MAX_OCTAL_11 = 0o77777777777  # largest value of an 11-digit octal field
_MODE = b"0000644\0"
_ID = b"0000000\0"
_ZERO_BLOCK = bytes(BLOCK)
_OCTAL = frozenset(b"01234567")
# The whole shape of a well-formed header in one pattern (fast path): printable ASCII name
# NUL-padded to 100 bytes, fixed mode/uid/gid, octal size, mtime and checksum, typeflag '0',
# zeros. Anything else goes through the field-by-field checks, which name the fault.
_HEADER = re.compile(
    rb"([\x20-\x7e]{1,99})\x00+0000644\x000000000\x000000000\x00"
    rb"([0-7]{11})\x00([0-7]{11})\x00([0-7]{6})\x00 0\x00{355}",
    re.DOTALL,
)


class Readable(Protocol):
    """What the reader needs of a file: ``read(n)`` (fewer bytes only at the end)."""

    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class TarMember:
    """One member of the archive.

    ``offset`` is the byte offset of its header, ``index`` its 1-based position,
    ``end`` the offset just after its padding (the next member's header).
    """

    name: str
    mtime: int
    content: bytes = field(repr=False)
    offset: int
    index: int
    end: int

    @property
    def where(self) -> Location:
        return Location(offset=self.offset, member=self.name)


def padding(size: int) -> int:
    """Number of zero bytes after ``size`` bytes of content."""
    return (-size) % BLOCK


def member_size(content_size: int) -> int:
    """Bytes taken by a member with ``content_size`` bytes of content."""
    return BLOCK + content_size + padding(content_size)


def encode_header(name: str, size: int, mtime: int) -> bytes:
    """The 512-byte V7 header of a member (checksum included)."""
    raw_name = name.encode("ascii", errors="replace")
    if not raw_name or len(raw_name) >= NAME_LEN or not name.isascii() or not name.isprintable():
        raise ArchiveFormatError(f"member name {name!r} cannot be stored in a V7 header")
    if not 0 <= size <= MAX_OCTAL_11:
        raise ArchiveFormatError(f"member size {size} does not fit in a V7 header")
    if not 0 <= mtime <= MAX_OCTAL_11:
        raise ArchiveFormatError(f"timestamp {mtime} does not fit in a V7 header")
    header = bytearray(BLOCK)
    header[0 : len(raw_name)] = raw_name
    header[100:108] = _MODE
    header[108:116] = _ID
    header[116:124] = _ID
    header[124:136] = b"%011o\0" % size
    header[136:148] = b"%011o\0" % mtime
    header[148:156] = b" " * 8
    header[156] = ord("0")
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def encode_member(name: str, content: bytes, mtime: int) -> bytes:
    """Header, content and zero padding of one member."""
    return encode_header(name, len(content), mtime) + content + bytes(padding(len(content)))


def _octal(field: bytes, digits: int, what: str, where: Location) -> int:
    body, term = field[:digits], field[digits:]
    if len(body) != digits or not all(c in _OCTAL for c in body):
        raise ArchiveFormatError(
            f"{what} field {field!r} is not {digits} octal digits", where=where
        )
    if term != b"\0":
        raise ArchiveFormatError(f"{what} field {field!r} is not NUL-terminated", where=where)
    return int(body, 8)


def parse_header(header: bytes, where: Location) -> tuple[str, int, int]:
    """Check a 512-byte header field by field; return (name, size, mtime)."""
    fast = _HEADER.fullmatch(header)
    if fast is not None:
        stored = int(fast.group(4), 8)
        if stored == sum(header[:148]) + 8 * ord(" ") + sum(header[156:]):
            return fast.group(1).decode("ascii"), int(fast.group(2), 8), int(fast.group(3), 8)
    return _parse_header_slowly(header, where)


def _parse_header_slowly(header: bytes, where: Location) -> tuple[str, int, int]:
    if header == _ZERO_BLOCK:
        raise ArchiveFormatError(
            "zero block: belenios archives have no end-of-archive blocks", where=where
        )
    if header[154:156] != b"\0 ":
        raise ArchiveFormatError("checksum field does not end with NUL, space", where=where)
    stored = _octal(header[148:155], 6, "checksum", where)
    computed = sum(header[:148]) + 8 * ord(" ") + sum(header[156:])
    if stored != computed:
        raise ArchiveFormatError(
            f"header checksum {stored:o} does not match the header ({computed:o})", where=where
        )
    raw_name = header[:NAME_LEN]
    nul = raw_name.find(b"\0")
    if nul <= 0:
        raise ArchiveFormatError("member name is empty or not NUL-terminated", where=where)
    if raw_name[nul:] != bytes(NAME_LEN - nul):
        raise ArchiveFormatError("bytes after the member name are not zero", where=where)
    try:
        name = raw_name[:nul].decode("ascii")
    except UnicodeDecodeError:
        raise ArchiveFormatError("member name is not ASCII", where=where) from None
    if not name.isprintable():
        raise ArchiveFormatError(f"member name {name!r} has control characters", where=where)
    if header[100:108] != _MODE:
        raise ArchiveFormatError(f"mode {header[100:108]!r}, expected 0000644", where=where)
    if header[108:116] != _ID or header[116:124] != _ID:
        raise ArchiveFormatError("uid/gid are not 0000000", where=where)
    size = _octal(header[124:136], 11, "size", where)
    mtime = _octal(header[136:148], 11, "mtime", where)
    if header[156:157] != b"0":
        raise ArchiveFormatError(
            f"typeflag {header[156:157]!r}: only regular files ('0') are allowed", where=where
        )
    if header[157:] != bytes(BLOCK - 157):
        raise ArchiveFormatError(
            "header bytes after the typeflag are not zero (ustar or other extension)",
            where=where,
        )
    return name, size, mtime


def _read_exact(stream: Readable, n: int) -> bytes:
    """Read ``n`` bytes (fewer only at end of file), looping over short reads."""
    chunks: list[bytes] = []
    remaining = n
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def iter_members(stream: Readable, start: int = 0, first_index: int = 1) -> Iterator[TarMember]:
    """Strictly parse members from ``stream`` (positioned at byte ``start``) up to EOF.

    Each member is read and checked before it is yielded; memory use is one member.
    """
    offset = start
    index = first_index
    while True:
        where = Location(offset=offset)
        header = _read_exact(stream, BLOCK)
        if not header:
            return
        if len(header) < BLOCK:
            raise ArchiveFormatError(
                f"truncated archive: {len(header)} byte(s) after the last member, "
                "not a whole header",
                where=where,
            )
        name, size, mtime = parse_header(header, where)
        where = where.at(member=name)
        content = _read_exact(stream, size)
        if len(content) < size:
            raise ArchiveFormatError(
                f"truncated member {name}: {len(content)} of {size} content byte(s)",
                where=where,
            )
        pad = padding(size)
        tail = _read_exact(stream, pad)
        if len(tail) < pad:
            raise ArchiveFormatError(f"truncated member {name}: padding cut short", where=where)
        if tail != bytes(pad):
            raise ArchiveFormatError(f"non-zero padding after member {name}", where=where)
        end = offset + BLOCK + size + pad
        yield TarMember(
            name=name, mtime=mtime, content=content, offset=offset, index=index, end=end
        )
        offset = end
        index += 1
