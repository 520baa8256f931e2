"""V7 tar members: exact header layout, strict streaming reader, byte offsets in errors."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from viche.errors import ArchiveFormatError
from viche.record.tar import (
    BLOCK,
    encode_header,
    encode_member,
    iter_members,
    member_size,
    parse_header,
)

NAMES = st.text(alphabet="abcdef0123456789.-_BELNIOS", min_size=1, max_size=99)
CONTENTS = st.binary(max_size=2000)
MTIMES = st.integers(min_value=0, max_value=0o77777777777)


def _checksum(header: bytes) -> int:
    """The tar checksum by its definition: byte sum with the checksum field as 8 spaces."""
    return sum(header[:148]) + 32 * 8 + sum(header[156:])


def test_header_fields_are_exactly_belenios_v7() -> None:
    h = encode_header("BELENIOS", 38, 1795345065)
    assert len(h) == BLOCK
    assert h[:100] == b"BELENIOS" + bytes(92)
    assert h[100:108] == b"0000644\0"
    assert h[108:116] == b"0000000\0"
    assert h[116:124] == b"0000000\0"
    assert h[124:136] == b"00000000046\0"
    assert h[136:148] == b"%011o\0" % 1795345065
    assert h[148:156] == b"%06o\0 " % _checksum(h)
    assert h[156:157] == b"0"
    assert h[157:] == bytes(355)


def test_header_matches_the_first_header_of_a_reference_archive(reference_dir: Path) -> None:
    bel = next((reference_dir / "simple-plain-BELENIOS").glob("*.bel"))
    raw = bel.read_bytes()
    name, size, mtime = parse_header(raw[:BLOCK], "byte 0 / member 1")
    assert name == "BELENIOS"
    assert encode_header(name, size, mtime) == raw[:BLOCK]
    # failure twin: another mtime gives another header
    assert encode_header(name, size, mtime + 1) != raw[:BLOCK]


def test_python_tarfile_reads_our_members() -> None:
    data = encode_member("a.data.json", b"hello", 7) + encode_member("b.event.json", b"", 7)
    with tarfile.open(fileobj=io.BytesIO(data + bytes(1024)), mode="r:") as tf:
        infos = tf.getmembers()
        assert [i.name for i in infos] == ["a.data.json", "b.event.json"]
        assert [i.size for i in infos] == [5, 0]
        assert all(i.mtime == 7 and i.mode == 0o644 and i.isreg() for i in infos)
        f = tf.extractfile(infos[0])
        assert f is not None and f.read() == b"hello"


@given(st.lists(st.tuples(NAMES, CONTENTS), max_size=5), MTIMES)
def test_roundtrip(members: list[tuple[str, bytes]], mtime: int) -> None:
    data = b"".join(encode_member(n, c, mtime) for n, c in members)
    assert len(data) == sum(member_size(len(c)) for _, c in members)
    got = list(iter_members(io.BytesIO(data)))
    assert [(m.name, m.content, m.mtime) for m in got] == [(n, c, mtime) for n, c in members]
    assert [m.index for m in got] == list(range(1, len(members) + 1))
    offsets = [0]
    for _, c in members:
        offsets.append(offsets[-1] + member_size(len(c)))
    assert [m.offset for m in got] == offsets[:-1]
    assert [m.end for m in got] == offsets[1:]


@pytest.mark.parametrize(
    ("name", "size", "mtime"),
    [("", 1, 0), ("x" * 100, 1, 0), ("é", 1, 0), ("a", -1, 0), ("a", 8**11, 0), ("a", 0, 8**11)],
)
def test_encode_refuses_what_v7_cannot_hold(name: str, size: int, mtime: int) -> None:
    with pytest.raises(ArchiveFormatError):
        encode_header(name, size, mtime)


TWO = encode_member("first", b"x" * 600, 5) + encode_member("second", b"abc", 5)
SECOND = member_size(600)  # offset of the second header


def _patch(data: bytes, offset: int, new: bytes, fix_checksum: bool = True) -> bytes:
    out = bytearray(data)
    out[offset : offset + len(new)] = new
    if fix_checksum:
        start = offset - offset % BLOCK
        header = bytes(out[start : start + BLOCK])
        out[start + 148 : start + 156] = b"%06o\0 " % _checksum(header)
    return bytes(out)


def _error(data: bytes) -> ArchiveFormatError:
    with pytest.raises(ArchiveFormatError) as info:
        list(iter_members(io.BytesIO(data)))
    return info.value


def test_two_members_are_valid() -> None:
    assert [m.name for m in iter_members(io.BytesIO(TWO))] == ["first", "second"]


@pytest.mark.parametrize(
    ("field_offset", "new", "message"),
    [
        (100, b"0000755\0", "mode"),
        (108, b"0001000\0", "uid/gid"),
        (116, b"0001000\0", "uid/gid"),
        (124, b"0000000000x\0", "size"),
        (124, b"00000000003 ", "NUL"),
        (136, b"0000000000z\0", "mtime"),
        (156, b"5", "typeflag"),
        (257, b"ustar\x0000", "after the typeflag"),
        (0, b"sec\x00nd", "after the member name"),
        (0, b"\x00", "empty"),
        (0, b"s\x01", "control"),
        (0, b"\xff", "ASCII"),
    ],
)
def test_each_header_field_is_checked(field_offset: int, new: bytes, message: str) -> None:
    bad = _patch(TWO, SECOND + field_offset, new)
    err = _error(bad)
    assert message in err.message
    assert str(err.where) == f"byte {SECOND} / member 2"


def test_bad_checksum_is_rejected_with_its_offset() -> None:
    bad = _patch(TWO, SECOND + 148, b"000001\0 ", fix_checksum=False)
    err = _error(bad)
    assert "checksum" in err.message and str(err.where) == f"byte {SECOND} / member 2"
    no_space = _patch(TWO, SECOND + 148, b"0000010\0", fix_checksum=False)
    assert "checksum" in _error(no_space).message
    flipped = bytearray(TWO)
    flipped[SECOND + 3] ^= 1  # a name byte, checksum left as it was
    assert "checksum" in _error(bytes(flipped)).message


def test_non_zero_padding_is_rejected() -> None:
    bad = bytearray(TWO)
    bad[BLOCK + 600 + 10] = 1
    err = _error(bytes(bad))
    assert "padding" in err.message and str(err.where) == "byte 0 / member 1"


@pytest.mark.parametrize("cut", [1, 100, BLOCK - 1, BLOCK + 1, BLOCK + 2, BLOCK + 3, 2 * BLOCK - 1])
def test_truncation_inside_the_last_member(cut: int) -> None:
    err = _error(TWO[: SECOND + cut])
    assert "truncated" in err.message
    assert str(err.where) == f"byte {SECOND} / member 2"


def test_garbage_and_end_blocks_after_the_last_member() -> None:
    end = len(TWO)
    assert str(_error(TWO + b"garbage").where) == f"byte {end} / member 3"
    assert "zero block" in _error(TWO + bytes(2 * BLOCK)).message
    assert "checksum" in _error(TWO + b"\x01" * BLOCK).message


def test_reader_streams_short_reads() -> None:
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = data
            self.pos = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:  # type: ignore[override]
            chunk = self.data[self.pos : self.pos + min(n, 7)]
            self.pos += len(chunk)
            return chunk

    got = list(iter_members(Trickle(TWO)))  # type: ignore[arg-type]
    assert [m.content for m in got] == [b"x" * 600, b"abc"]
    with pytest.raises(ArchiveFormatError):
        list(iter_members(Trickle(TWO[:-1])))  # type: ignore[arg-type]
