"""Operating-system failures in record/ are StorageError (V4005) naming the file, and the
command line reports them as one line with exit code 2.

Root ignores file permissions, so the permission cases run the command with the
``dac_override`` and ``dac_read_search`` capabilities dropped (``setpriv``) when the tests
run as root; the disk-full case mounts a small tmpfs when it can, and otherwise injects
ENOSPC where the archive is written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.cli import run_cli
from viche.errors import MissingFileError, StorageError
from viche.record import ArchiveStore, ArchiveStream, ArchiveWriter, EventType, read_archive

ELECTION, TRUSTEES, CREDS = b'{"e":1}', b"[]", b'["c1"]'


def make_archive(directory: Path, ballots: int = 2) -> Path:
    w = ArchiveWriter.create(directory / "e.bel", 1700000000, ELECTION, TRUSTEES, CREDS)
    for i in range(ballots):
        w.append(EventType.BALLOT, [b'{"credential":"c1","n":%d}' % i])
    return w.path


def viche_unprivileged(*argv: str) -> subprocess.CompletedProcess[str]:
    """``viche ARGV`` in a child process that file permissions apply to."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root: setpriv (util-linux) is needed to drop DAC capabilities")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "viche.cli.main", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# ---------------------------------------------------------------------- permissions


def test_verify_on_an_unreadable_archive_exits_2_naming_the_file(tmp_path: Path) -> None:
    bel = make_archive(tmp_path)
    bel.chmod(0)
    try:
        res = viche_unprivileged("verify", str(bel))
    finally:
        bel.chmod(0o644)
    assert res.returncode == 2, res.stderr
    line = one_line(res.stderr)
    assert "V4005" in line and str(bel) in line and "Permission denied" in line
    # failure twin: readable again, it verifies as far as the record layer goes
    assert read_archive(bel).height == 2


def test_verify_on_an_unreadable_directory_exits_2_naming_it(tmp_path: Path) -> None:
    election = tmp_path / "election"
    election.mkdir()
    make_archive(election)
    election.chmod(0o311)  # can be traversed, not listed
    try:
        res = viche_unprivileged("verify", str(election))
    finally:
        election.chmod(0o755)
    assert res.returncode == 2, res.stderr
    line = one_line(res.stderr)
    assert "V4005" in line and str(election) in line and "Permission denied" in line


def test_an_injected_permission_error_is_translated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bel = make_archive(tmp_path)
    real_open = Path.open

    def refusing(self: Path, *args: object, **kw: object) -> object:
        if self == bel:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", refusing)
    with pytest.raises(StorageError, match="Permission denied") as info:
        read_archive(bel)
    assert info.value.code == "V4005" and info.value.where.file == str(bel)
    res = run_cli("verify", str(bel))
    assert res.code == 2 and str(bel) in one_line(res.stderr)


# ---------------------------------------------------------------------- a directory


def test_a_directory_where_the_archive_should_be(tmp_path: Path) -> None:
    """A sub-directory named x.bel is not an archive: the error says it was skipped."""
    (tmp_path / "x.bel").mkdir()
    res = run_cli("verify", str(tmp_path))
    assert res.code == 2
    line = one_line(res.stderr)
    assert "found 0" in line and "skipped, not a file: x.bel" in line
    with pytest.raises(MissingFileError, match=r"not a file: x\.bel") as info:
        read_archive(tmp_path)
    assert info.value.where.file == str(tmp_path)


def test_an_archive_replaced_by_a_directory_while_open(tmp_path: Path) -> None:
    bel = make_archive(tmp_path)
    with ArchiveStore.open(bel) as store:
        head = store.head()
        bel.rename(tmp_path / "moved.bel")
        bel.mkdir()
        with pytest.raises(StorageError) as info:
            store.append(EventType.BALLOT, [b'{"n":9}'], expected_head=head.hash)
        assert info.value.where.file == str(bel)
    assert read_archive(tmp_path / "moved.bel").height == 2  # untouched


# ---------------------------------------------------------------------- a full disk


@contextlib.contextmanager
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 64 KiB tmpfs, or None where it cannot be mounted."""
    mount = tmp_path / "small"
    mount.mkdir()
    tool = shutil.which("mount")
    if os.geteuid() != 0 or tool is None:
        yield None
        return
    done = subprocess.run(
        [tool, "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def fill(writer: ArchiveWriter) -> StorageError:
    """Append 8 KB ballots until the disk refuses one; the archive must be as before it."""
    for i in range(1000):
        before = writer.path.read_bytes()
        try:
            writer.append(EventType.BALLOT, [b'{"n":%d,"pad":"%s"}' % (i, b"x" * 8000)])
        except StorageError as exc:
            assert writer.path.read_bytes() == before
            assert read_archive(writer.path).height == writer.height
            return exc
    raise AssertionError("the disk never filled")


def test_a_full_disk_leaves_the_archive_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with small_disk(tmp_path) as mount:
        if mount is not None:
            writer = ArchiveWriter.create(mount / "e.bel", 1700000000, ELECTION, TRUSTEES, CREDS)
        else:
            writer = ArchiveWriter.create(tmp_path / "e.bel", 1700000000, ELECTION, TRUSTEES, CREDS)
            real_write = os.write
            budget = [64 * 1024]

            def write(fd: int, data: bytes | memoryview) -> int:
                budget[0] -= len(data)
                if budget[0] < 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return real_write(fd, data)

            monkeypatch.setattr(os, "write", write)
        exc = fill(writer)
        assert "No space left" in exc.message and exc.where.file == str(writer.path)
        # failure twin: a small event still fits where a big one did not
        writer.append(EventType.END_BALLOTS, [])


def test_a_full_disk_while_casting_through_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bel = make_archive(tmp_path)
    real_write = os.write

    def full(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with ArchiveStore.open(bel) as store:
        before = bel.read_bytes()
        monkeypatch.setattr(os, "write", full)
        with pytest.raises(StorageError, match="No space left") as info:
            store.append(EventType.BALLOT, [b'{"n":5}'], expected_head=store.head().hash)
        assert info.value.where.file == str(bel)
        monkeypatch.setattr(os, "write", real_write)
        assert bel.read_bytes() == before and store.head().height == 2
        store.append(EventType.BALLOT, [b'{"n":5}'], expected_head=store.head().hash)
        assert store.head().height == 3


# ---------------------------------------------------------------------- a path that vanishes


def test_an_archive_that_vanishes(tmp_path: Path) -> None:
    bel = make_archive(tmp_path)
    stream = ArchiveStream(bel)
    bel.rename(tmp_path / "gone.bel")
    with pytest.raises(StorageError, match="does not exist") as info, stream:
        pass
    assert info.value.where.file == str(bel)
    with ArchiveStore.open(tmp_path / "gone.bel") as store:
        (tmp_path / "gone.bel").unlink()
        with pytest.raises(StorageError, match="does not exist") as info:
            store.append(EventType.BALLOT, [b"{}"], expected_head=store.head().hash)
        assert info.value.where.file == str(tmp_path / "gone.bel")
    # failure twin: a path that never existed is a MissingFileError (a usage error)
    with pytest.raises(MissingFileError):
        read_archive(tmp_path / "never.bel")
    res = run_cli("verify", str(tmp_path / "never.bel"))
    assert res.code == 2 and "never.bel" in one_line(res.stderr)


def test_verify_diff_on_an_unreadable_snapshot_exits_2(tmp_path: Path) -> None:
    old = make_archive(tmp_path)
    new_dir = tmp_path / "new"
    new_dir.mkdir()
    new = new_dir / "e.bel"
    shutil.copy(old, new)
    old.chmod(0)
    try:
        res = viche_unprivileged("verify-diff", str(old), str(new))
    finally:
        old.chmod(0o644)
    assert res.returncode == 2, res.stdout + res.stderr
    assert str(old) in one_line(res.stderr)
    # failure twin: both readable, NEW extends OLD
    assert run_cli("verify-diff", str(old), str(new)).code == 0
