"""Archives written by ArchiveWriter against ``belenios-tool election verify`` / ``verify-diff``.

Each archive goes alone into its own directory as ``<uuid>.bel`` (the tool's convention).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from viche.errors import ChainError, Location, RemovedHistoryError
from viche.record import ArchiveWriter, Record, read_archive
from viche.record.diff import verify_diff
from viche.record.tar import encode_member

pytestmark = pytest.mark.interop

# a timestamp none of the reference archives uses, so the bytes differ from theirs
TIMESTAMP = 1800000000


def _tool(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool, "election", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"BELENIOS_USE_URANDOM": "1", "LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )


def _place(record: Record, directory: Path) -> Path:
    directory.mkdir()
    return directory / f"{json.loads(record.election)['uuid']}.bel"


def _write(record: Record, path: Path, upto: int | None = None, skip: int = -1) -> Path:
    w = ArchiveWriter.create(
        path, TIMESTAMP, record.election, record.trustees, record.public_credentials
    )
    for ev in record.events[1 : None if upto is None else upto + 1]:
        if ev.height != skip:
            w.append(ev.type, [m.raw for m in ev.data])
    return path


@pytest.mark.parametrize("name", ["simple-plain-BELENIOS", "threshold-weighted-revotes"])
def test_belenios_verifies_archives_we_write(
    name: str, belenios_tool: str, reference_dir: Path, tmp_path: Path
) -> None:
    record = read_archive(reference_dir / name)
    path = _write(record, _place(record, tmp_path / "full"))
    assert path.read_bytes() != record.path.read_bytes()  # not a mere copy
    done = _tool(belenios_tool, "verify", "--dir", str(path.parent))
    assert done.returncode == 0, done.stderr
    # a board in the voting phase (setup and three ballots) verifies too
    partial = _write(record, _place(record, tmp_path / "partial"), upto=3)
    done = _tool(belenios_tool, "verify", "--dir", str(partial.parent))
    assert done.returncode == 0, done.stderr


def test_belenios_and_we_reject_an_event_pointing_at_an_earlier_copy(
    belenios_tool: str, reference_dir: Path, tmp_path: Path
) -> None:
    record = read_archive(reference_dir / "simple-plain-BELENIOS")
    good = _write(record, tmp_path / "good.bel", upto=3)
    with tarfile.open(good, mode="r:") as tf:
        members = []
        for info in tf.getmembers():
            f = tf.extractfile(info)
            assert f is not None
            members.append((info.name, f.read()))
    # a replay of ballot 1 at height 4 that reuses ballot 1's member instead of a new copy
    event = {
        "parent": members[-1][0][:64],
        "height": 4,
        "type": "Ballot",
        "payload": members[6][0][:64],
    }
    raw = json.dumps(event, separators=(",", ":")).encode()
    members.append((hashlib.sha256(raw).hexdigest() + ".event.json", raw))
    bad = _place(record, tmp_path / "bad")
    bad.write_bytes(b"".join(encode_member(n, c, TIMESTAMP) for n, c in members))
    done = _tool(belenios_tool, "verify", "--dir", str(bad.parent))
    assert done.returncode != 0
    assert "not identical" in done.stderr + done.stdout
    with pytest.raises(ChainError, match="immediately before"):
        read_archive(bad)
    # failure twin: the same replay with the copy written again is accepted by both
    w = ArchiveWriter.open(good)
    w.append(record.events[1].type, [record.ballots[0].raw])
    replay = _place(record, tmp_path / "replay")
    replay.write_bytes(good.read_bytes())
    assert read_archive(replay).height == 4
    done = _tool(belenios_tool, "verify", "--dir", str(replay.parent))
    assert done.returncode == 0, done.stderr


def test_verify_diff_agrees_with_belenios(
    belenios_tool: str, reference_dir: Path, tmp_path: Path
) -> None:
    record = read_archive(reference_dir / "simple-plain-BELENIOS")
    old = _write(record, _place(record, tmp_path / "old"), upto=3)
    new = _write(record, _place(record, tmp_path / "new"))
    rewritten = _write(record, _place(record, tmp_path / "rewritten"), skip=2)

    def tool_ok(a: Path, b: Path) -> bool:
        done = _tool(belenios_tool, "verify-diff", "--dir1", str(a.parent), "--dir2", str(b.parent))
        return done.returncode == 0

    assert tool_ok(old, new)
    report = verify_diff(old, new)
    assert report.old_height == 3 and report.new_height == record.height

    assert not tool_ok(new, old)
    with pytest.raises(RemovedHistoryError) as info:
        verify_diff(new, old)
    assert info.value.where == Location(event=4)

    assert not tool_ok(old, rewritten)
    with pytest.raises(RemovedHistoryError) as err:
        verify_diff(old, rewritten)
    assert err.value.where == Location(event=2)
