"""The streaming verifier (:func:`viche.verify.verify_record`) against the in-memory one
(:func:`viche.verify.reference.verify_record_in_memory`): the same report, byte for byte
apart from the timings, on every reference archive and on tampered copies; and the
streaming path never reads the whole archive into a :class:`~viche.record.entries.Record`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import viche.record.entries as entries_module
import viche.record.reader as reader_module
import viche.verify.reference as reference_module
import viche.verify.streaming as streaming_module
from support.cli import run_cli
from viche.testing.archive_edit import Members, event_type, rebuild, split
from viche.verify import Status, VerificationReport, verify_record
from viche.verify.reference import verify_record_in_memory

pytestmark = pytest.mark.interop

REFERENCES = [
    "simple-plain-BELENIOS",
    "simple-plain-RFC",
    "threshold-noserver-2of3",
    "threshold-weighted-revotes",
    "large-10x10-BELENIOS",
    "nh-mixnet-RFC",
]


def normalised(report: VerificationReport) -> str:
    """The JSON report without the timings (key order kept: it is part of the format)."""
    data = report.to_json()
    data["timing"] = list(data["timing"])  # the keys, not the seconds
    for check in data["checks"]:
        check.pop("seconds")
    return json.dumps(data)


def both(path: Path, jobs: int) -> tuple[VerificationReport, VerificationReport]:
    return verify_record(path, jobs=jobs), verify_record_in_memory(path, jobs=jobs)


@pytest.mark.parametrize("name", REFERENCES)
def test_streaming_report_equals_in_memory_report(reference_dir: Path, name: str) -> None:
    jobs = 2 if name in ("threshold-weighted-revotes", "large-10x10-BELENIOS") else 1
    streamed, in_memory = both(reference_dir / name, jobs)
    assert streamed.ok, [str(f) for f in streamed.failures]
    assert normalised(streamed) == normalised(in_memory)


# --------------------------------------------------------------------------- tampering


def positions(members: Members, etype: str) -> list[int]:
    """Indices of the last data member before each event of type ``etype``."""
    return [
        i - 1
        for i, (n, c) in enumerate(members)
        if n.endswith(".event.json") and event_type(c) == etype
    ]


def edit_json(members: Members, at: int, change: Callable[[Any], Any]) -> Members:
    out = list(members)
    name, content = out[at]
    out[at] = (name, json.dumps(change(json.loads(content)), separators=(",", ":")).encode())
    return out


def bump_first_alpha(ballot: Any) -> Any:
    ct = ballot["answers"][0]["choices"][0]
    ct["alpha"] = str(int(ct["alpha"]) + 1)
    return ballot


def swap_items(tally: Any) -> Any:
    return [tally[0][::-1], *tally[1:]]


def tamperings(members: Members, mtime: int) -> dict[str, bytes]:
    ballots = positions(members, "Ballot")
    tally = positions(members, "EncryptedTally")[0]
    second = ballots[1]
    replay = list(members)
    replay[second + 2 : second + 2] = members[ballots[0] : ballots[0] + 2]  # ballot 1 again
    dropped = members[: ballots[-1]] + members[ballots[-1] + 2 :]
    raw = rebuild(members, mtime)
    flipped = bytearray(raw)
    at = flipped.index(b'"election_uuid"')
    flipped[at + 1] ^= 0x20  # the member no longer hashes to its name
    end_ballots = raw.index(b'"type":"EndBallots"')
    return {
        "bad-ballot-proof": rebuild(edit_json(members, second, bump_first_alpha), mtime),
        "replayed-ballot": rebuild(replay, mtime),
        "dropped-ballot": rebuild(dropped, mtime),
        "tally-swapped-items": rebuild(edit_json(members, tally - 1, swap_items), mtime),
        "member-hash": bytes(flipped),
        "truncated-mid-member": raw[: end_ballots - 100],
        "cut-before-end-ballots": raw[: (end_ballots // 512 - 1) * 512],
    }


@pytest.mark.parametrize("name", ["simple-plain-BELENIOS", "threshold-weighted-revotes"])
def test_streaming_report_equals_in_memory_report_on_tampered_copies(
    reference_dir: Path, tmp_path: Path, name: str
) -> None:
    members, mtime = split(next((reference_dir / name).glob("*.bel")))
    seen_failed: set[str] = set()
    for label, data in tamperings(members, mtime).items():
        d = tmp_path / label
        d.mkdir()
        (d / "x.bel").write_bytes(data)
        streamed, in_memory = both(d, 2 if label == "bad-ballot-proof" else 1)
        assert normalised(streamed) == normalised(in_memory), label
        if not streamed.ok:
            seen_failed.add(label)
        if label == "cut-before-end-ballots":  # a record still in the voting phase
            assert streamed.ok, [str(f) for f in streamed.failures]
            assert streamed.check("tally.encrypted").status is Status.NOT_APPLICABLE
    assert seen_failed == set(tamperings(members, mtime)) - {"cut-before-end-ballots"}


def test_garbage_and_missing_archives_give_the_same_verdict(tmp_path: Path) -> None:
    garbage = tmp_path / "g"
    garbage.mkdir()
    (garbage / "x.bel").write_bytes(b"junk" * 300)
    streamed, in_memory = both(garbage, 1)
    assert not streamed.readable and normalised(streamed) == normalised(in_memory)
    from viche.errors import MissingFileError

    with pytest.raises(MissingFileError):
        verify_record(tmp_path / "absent")


# --------------------------------------------------------------------------- no Record


def test_streaming_never_builds_a_record(
    reference_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("the streaming verifier built a whole Record")

    monkeypatch.setattr(reader_module, "read_archive", refuse)
    monkeypatch.setattr(reference_module, "read_archive", refuse)
    monkeypatch.setattr(entries_module.Record, "__init__", refuse)
    report = verify_record(reference_dir / "threshold-weighted-revotes", jobs=1)
    assert report.ok, [str(f) for f in report.failures]
    # the twin: the in-memory verifier does build one, and trips the guard
    with pytest.raises(AssertionError, match="whole Record"):
        verify_record_in_memory(reference_dir / "threshold-weighted-revotes", jobs=1)


def superseded(members: Members) -> list[int]:
    """Member positions of the ballots that a later ballot of the same credential replaces."""
    at = positions(members, "Ballot")
    creds = [json.loads(members[i][1])["credential"] for i in at]
    return [i for k, i in enumerate(at) if creds[k] in creds[k + 1 :]]


def test_archive_changed_between_the_two_passes_is_a_chain_failure(
    reference_dir: Path, tmp_path: Path
) -> None:
    """Pass 2 reads the superseded ballots again, comparing each with pass 1 by hash: a
    file replaced in between is reported, never tallied."""
    ref = reference_dir / "threshold-weighted-revotes"
    members, mtime = split(next(ref.glob("*.bel")))
    d = tmp_path / "a"
    d.mkdir()
    bel = d / "x.bel"
    original = rebuild(members, mtime)
    replaced = rebuild(edit_json(members, superseded(members)[0], bump_first_alpha), mtime)

    def swap(stage: str, _done: int, _total: int) -> None:
        if stage == "record.chain":  # pass 1 is over, pass 2 (the tally) not started
            bel.write_bytes(replaced)

    bel.write_bytes(original)
    same = verify_record(d, jobs=1, progress=lambda *_: None)
    assert same.ok, [str(f) for f in same.failures]
    changed = verify_record(d, jobs=1, progress=swap)
    assert not changed.ok
    failure = changed.check("record.chain").failures[0]
    assert "changed while it was being verified" in failure.message
    assert changed.check("ballots").status is Status.NOT_APPLICABLE


def test_a_superseded_ballot_that_cannot_be_divided_out_falls_back_to_all_counted(
    reference_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pass 1 multiplies every candidate ballot and pass 2 divides the superseded ones
    out; a superseded ballot with alpha = 0 has no inverse, so the counted ballots are
    read and multiplied instead: same report as the in-memory verifier either way."""
    ref = reference_dir / "threshold-weighted-revotes"
    members, mtime = split(next(ref.glob("*.bel")))
    reads: list[int] = []
    real = streaming_module._read_counted

    def spy(path: Path, pool: Any, election: Any, wanted: dict[int, Any]) -> Any:
        reads.append(len(wanted))
        return real(path, pool, election, wanted)

    monkeypatch.setattr(streaming_module, "_read_counted", spy)

    def zero_alpha(ballot: Any) -> Any:
        ballot["answers"][0]["choices"][0]["alpha"] = "0"
        return ballot

    cases = {
        "untouched": rebuild(members, mtime),
        "zero": rebuild(edit_json(members, superseded(members)[0], zero_alpha), mtime),
    }
    n_superseded = len(superseded(members))
    n_counted = len(positions(members, "Ballot")) - n_superseded
    expected_reads = {"untouched": [n_superseded], "zero": [n_superseded, n_counted]}
    for label, data in cases.items():
        d = tmp_path / label
        d.mkdir()
        (d / "x.bel").write_bytes(data)
        reads.clear()
        streamed, in_memory = both(d, 1)
        assert normalised(streamed) == normalised(in_memory), label
        assert streamed.check("tally.encrypted").status is Status.PASSED, label
        assert reads == expected_reads[label], label
    assert not streamed.ok  # the zero ballot itself fails the "ballots" check


# --------------------------------------------------------------------------- dask


@pytest.fixture(scope="module")
def dask_scheduler() -> Any:
    import importlib

    distributed: Any = importlib.import_module("distributed")  # the 'cluster' extra
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_cluster_gives_the_local_pool_report(
    reference_dir: Path, tmp_path: Path, dask_scheduler: str
) -> None:
    for name in ("threshold-weighted-revotes", "nh-mixnet-RFC"):
        ref = reference_dir / name
        remote = verify_record(ref, jobs=2, scheduler=dask_scheduler)
        assert remote.ok, [str(f) for f in remote.failures]
        assert normalised(remote) == normalised(verify_record(ref, jobs=2))
    # the twin: a ballot with a broken proof is named the same way by the cluster
    members, mtime = split(next((reference_dir / "threshold-weighted-revotes").glob("*.bel")))
    d = tmp_path / "bad"
    d.mkdir()
    (d / "x.bel").write_bytes(tamperings(members, mtime)["bad-ballot-proof"])
    remote = verify_record(d, jobs=2, scheduler=dask_scheduler)
    assert not remote.ok and remote.check("ballots").failures
    assert normalised(remote) == normalised(verify_record(d, jobs=2))
    # and from the command line
    ok = run_cli("verify", "--json", "--scheduler", dask_scheduler, str(reference_dir / name))
    assert ok.code == 0 and json.loads(ok.stdout)["ok"] is True, ok.stdout
    failed = run_cli("verify", "--json", "--scheduler", dask_scheduler, str(d))
    assert failed.code == 1 and json.loads(failed.stdout)["ok"] is False
