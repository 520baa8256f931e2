"""The observer's mirror: extensions are taken, rewritten or forked history raises an alarm
and keeps both archives as evidence, the copy never changes on an alarm."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support.cli import run_cli
from viche.errors import UsageError
from viche.record import read_archive
from viche.service.election_run import Stop, Vote
from viche.service.mirror import Fetch, MirrorStatus, archive_url, current_copy, update_mirror
from viche.testing.factories import make_election, plan_for


def _votes(*choices: int) -> list[Vote]:
    """One vote per voter for candidate ``c`` of the demo template, and 'Yes'."""
    return [Vote(i, [[0] + [int(a == c) for a in range(4)], [1, 0]]) for i, c in enumerate(choices)]


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Prefixes of one board (heights 0..3), and a fork of it at height 1."""
    base = tmp_path_factory.mktemp("mirror")
    run, _ = make_election(
        base / "a", plan_for(voters=3, votes=_votes(0, 1, 0), stop=Stop.BALLOTS), seed="m"
    )
    fork, _ = make_election(
        base / "b", plan_for(voters=3, votes=_votes(1, 1, 0), stop=Stop.BALLOTS), seed="m"
    )
    data = run.archive.read_bytes()
    record = read_archive(run.archive)
    cut = {h: record.events[h + 1].data[0].offset for h in range(3)}
    return {
        "h0": data[: cut[0]],
        "h1": data[: cut[1]],
        "h3": data,
        "fork": fork.archive.read_bytes(),
    }


def _serve(source: bytes) -> Fetch:
    def fetch(dest: Path) -> None:
        dest.write_bytes(source)

    return fetch


def test_first_fetch_then_unchanged_then_extended(
    tmp_path: Path, snapshots: dict[str, bytes]
) -> None:
    first = update_mirror(tmp_path, _serve(snapshots["h0"]))
    assert (first.status, first.height) == (MirrorStatus.NEW, 0)
    copy = current_copy(tmp_path)
    assert copy is not None and copy.name.endswith(".bel")
    same = update_mirror(tmp_path, _serve(snapshots["h0"]))
    assert (same.status, same.height) == (MirrorStatus.UNCHANGED, 0)
    grown = update_mirror(tmp_path, _serve(snapshots["h3"]))
    assert (grown.status, grown.height, grown.added_ballots) == (MirrorStatus.EXTENDED, 3, 3)
    assert copy.read_bytes() == snapshots["h3"]
    assert not (tmp_path / "evidence").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [copy.name]


@pytest.mark.parametrize("received", ["fork", "h1", "garbage"])
def test_rewritten_history_is_an_alarm_with_evidence(
    tmp_path: Path, snapshots: dict[str, bytes], received: str
) -> None:
    update_mirror(tmp_path, _serve(snapshots["h3"]))
    copy = current_copy(tmp_path)
    assert copy is not None
    bad = snapshots.get(received, b"not an archive")
    alarm = update_mirror(tmp_path, _serve(bad), now=0)
    assert alarm.status is MirrorStatus.ALARM and alarm.error is not None
    assert alarm.height == 3
    # the copy is as it was; both archives are kept side by side
    assert copy.read_bytes() == snapshots["h3"]
    assert alarm.evidence == tmp_path / "evidence" / "19700101T000000Z"
    assert (alarm.evidence / "kept.bel").read_bytes() == snapshots["h3"]
    assert (alarm.evidence / "received.bel").read_bytes() == bad
    saved = json.loads((alarm.evidence / "alarm.json").read_text())
    assert saved["error"]["code"] == alarm.error.code
    # the server keeps publishing the same archive: the alarm stands, its evidence is not
    # copied again at every update (a copy of two archives every 10 s would fill the disk)
    same = update_mirror(tmp_path, _serve(bad), now=10)
    assert same.status is MirrorStatus.ALARM and same.evidence == alarm.evidence
    assert same.error is not None and same.error.code == alarm.error.code
    assert len(list((tmp_path / "evidence").iterdir())) == 1
    assert copy.read_bytes() == snapshots["h3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [copy.name, "evidence"]
    # another rewritten archive, in the same second: its own folder
    other = bad + b"\0" * 1024
    again = update_mirror(tmp_path, _serve(other), now=0)
    assert again.evidence is not None and again.evidence.name == "19700101T000000Z-2"
    assert (again.evidence / "received.bel").read_bytes() == other


def test_a_failed_fetch_leaves_nothing(tmp_path: Path, snapshots: dict[str, bytes]) -> None:
    update_mirror(tmp_path, _serve(snapshots["h1"]))

    def broken(dest: Path) -> None:
        dest.write_bytes(b"partial")
        raise UsageError("connection reset")

    with pytest.raises(UsageError):
        update_mirror(tmp_path, broken)
    assert len(list(tmp_path.iterdir())) == 1


def test_archive_url() -> None:
    assert archive_url("http://h:8000/api/v1/elections/U/") == (
        "http://h:8000/api/v1/elections/U/archive.bel"
    )
    assert archive_url("https://h/x.bel") == "https://h/x.bel"
    with pytest.raises(UsageError):
        archive_url("file:///etc/passwd")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture()
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_mirror_command_over_http(
    tmp_path: Path, snapshots: dict[str, bytes], http_root: tuple[str, Path]
) -> None:
    url, root = http_root
    (root / "archive.bel").write_bytes(snapshots["h1"])
    mirror = tmp_path / "mirror"
    run = run_cli("mirror", f"{url}/archive.bel", str(mirror), "--once")
    assert run.code == 0, run.stderr
    assert "new: height 1" in run.stdout
    (root / "archive.bel").write_bytes(snapshots["h3"])
    # an election's address gets /archive.bel; an unknown one is a one-line error
    run = run_cli("mirror", f"{url}/api/v1/elections/nope", str(mirror), "--once")
    assert run.code == 2 and "HTTP 404" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    run = run_cli(
        "mirror", f"{url}/archive.bel", str(mirror), "--updates", "2", "--interval", "0.1"
    )
    assert run.code == 0 and "extended to height 3" in run.stdout
    assert "unchanged: height 3" in run.stdout
    shutil.copyfile(tmp_path / "mirror" / next(mirror.glob("*.bel")).name, tmp_path / "kept.bel")
    (root / "archive.bel").write_bytes(snapshots["fork"])
    run = run_cli("mirror", f"{url}/archive.bel", str(mirror), "--once")
    assert run.code == 1 and "ALARM" in run.stdout
    assert next(mirror.glob("*.bel")).read_bytes() == snapshots["h3"]
    # the mirror folder is an election folder: viche verify reads it
    assert run_cli("verify", str(mirror)).code == 0
