"""Viche's verifier on every reference archive written by belenios-tool: each one passes and
gives the result belenios-tool computed, the mixnet one included (its shuffles checked)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support.cli import run_cli
from viche.verify import Status, verify_record

pytestmark = pytest.mark.interop

HOMOMORPHIC = [
    "simple-plain-BELENIOS",
    "simple-plain-RFC",
    "threshold-noserver-2of3",
    "threshold-weighted-revotes",
    "large-10x10-BELENIOS",
]


@pytest.mark.parametrize("name", HOMOMORPHIC)
def test_reference_archive_passes_with_belenios_result(reference_dir: Path, name: str) -> None:
    ref = reference_dir / name
    report = verify_record(ref, jobs=2)
    assert report.ok, [str(f) for f in report.failures]
    expected = json.loads((ref / "result.json").read_text())["result"]
    assert report.result == expected
    for check in ("ballots", "tally.encrypted", "decryption.partial", "result", "setup.trustees"):
        assert report.check(check).status is Status.PASSED
        assert report.check(check).count > 0
    assert report.check("shuffles").status is Status.NOT_APPLICABLE


def test_revotes_count_the_last_ballot_of_each_credential(reference_dir: Path) -> None:
    report = verify_record(reference_dir / "threshold-weighted-revotes", jobs=1)
    assert report.ok
    assert report.counts["ballots"] > report.counts["counted_ballots"]
    assert report.counts["counted_ballots"] <= report.counts["credentials"]


def test_nh_archive_passes_with_its_shuffles_checked(reference_dir: Path) -> None:
    ref = reference_dir / "nh-mixnet-RFC"
    report = verify_record(ref, jobs=1)
    assert report.ok, [str(f) for f in report.failures]
    assert report.result == json.loads((ref / "result.json").read_text())["result"]
    assert report.check("shuffles").status is Status.PASSED
    assert report.check("shuffles").count == 2


def test_report_json_round_trips(reference_dir: Path) -> None:
    report = verify_record(reference_dir / "simple-plain-BELENIOS", jobs=1)
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] is True
    assert data["summary"]["failed"] == 0
    assert data["result"] == json.loads(
        (reference_dir / "simple-plain-BELENIOS" / "result.json").read_text()
    )["result"]
    assert {c["name"] for c in data["checks"]} >= {"ballots", "result", "ballots.replay"}


def test_progress_callback_sees_every_ballot(reference_dir: Path) -> None:
    seen: dict[str, tuple[int, int]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        seen[stage] = (done, total)

    report = verify_record(reference_dir / "threshold-weighted-revotes", progress=progress)
    n = report.counts["ballots"]
    assert seen["ballots"] == (n, n)


def test_cli_verify_exit_codes(reference_dir: Path, tmp_path: Path) -> None:
    ok = run_cli("verify", str(reference_dir / "simple-plain-BELENIOS"), "--jobs", "1")
    assert ok.code == 0, ok.stdout
    assert "all checks passed" in ok.stdout
    js = run_cli("verify", str(reference_dir / "simple-plain-BELENIOS"), "--json")
    assert js.code == 0 and json.loads(js.stdout)["ok"] is True
    nh = run_cli("verify", str(reference_dir / "nh-mixnet-RFC"), "--json")
    assert nh.code == 0 and json.loads(nh.stdout)["ok"] is True
    # a check that fails: one byte of a ballot edited in place
    bel = next((reference_dir / "simple-plain-BELENIOS").glob("*.bel"))
    data = bytearray(bel.read_bytes())
    at = data.index(b'"election_uuid"')
    data[at + 1 : at + 2] = b"E"  # the member no longer hashes to its name
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / bel.name).write_bytes(bytes(data))
    failed = run_cli("verify", str(broken), "--json")
    assert failed.code == 1, failed.stdout
    report = json.loads(failed.stdout)
    assert report["ok"] is False
    assert report["checks"][0]["failures"][0]["code"] == "V4003"
    human = run_cli("verify", str(broken))
    assert human.code == 1 and "FAILED" in human.stdout and "V4003" in human.stdout
    missing = run_cli("verify", str(tmp_path / "absent"))
    assert missing.code == 2
    garbage = tmp_path / "g"
    garbage.mkdir()
    (garbage / "x.bel").write_bytes(b"junk" * 300)
    bad = run_cli("verify", str(garbage))
    assert bad.code == 2


def test_cli_verify_diff(reference_dir: Path, tmp_path: Path) -> None:
    src = reference_dir / "simple-plain-BELENIOS"
    bel = next(src.glob("*.bel"))
    same = run_cli("verify-diff", str(src), str(src), "--json")
    assert same.code == 0, same.stdout
    assert json.loads(same.stdout)["checks"][0]["name"] == "record.extends"
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(next((reference_dir / "simple-plain-RFC").glob("*.bel")), other / bel.name)
    diff = run_cli("verify-diff", str(src), str(other))
    assert diff.code == 1, diff.stdout


def test_verify_snapshots_prefix_and_rewrite(reference_dir: Path, tmp_path: Path) -> None:
    from viche.verify import verify_snapshots

    bel = next((reference_dir / "threshold-weighted-revotes").glob("*.bel"))
    data = bel.read_bytes()
    marker = b'"type":"EndBallots"'
    cut = data.index(marker)
    # end of the EndBallots event member: its 512-byte padded block
    end = (cut // 512 + 1) * 512
    old = tmp_path / "old"
    old.mkdir()
    (old / bel.name).write_bytes(data[:end])
    report = verify_snapshots(old, bel)
    assert report.ok, [str(f) for f in report.failures]
    mid = verify_record(old, jobs=2)  # a record still in the voting phase
    assert mid.ok, [str(f) for f in mid.failures]
    assert mid.check("ballots").status is Status.PASSED
    for name in ("tally.encrypted", "decryption.partial", "result"):
        assert mid.check(name).status is Status.NOT_APPLICABLE
    assert report.counts["added_events"] > 0 and report.counts["added_ballots"] == 0
    backwards = verify_snapshots(bel, old)
    assert not backwards.ok
    assert backwards.check("record.extends").failures[0].code.startswith("V4")


def test_parallel_verification_from_a_threaded_process(reference_dir: Path) -> None:
    """With other threads alive the pool uses forkserver, and gives the same verdict."""
    import threading

    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        report = verify_record(reference_dir / "threshold-weighted-revotes", jobs=2)
    finally:
        stop.set()
        helper.join()
    assert report.ok, [str(f) for f in report.failures]
    assert report.check("ballots").count == report.counts["ballots"] >= 8
