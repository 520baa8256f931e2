"""Channels of a national event: station override and lock, refused inputs that change
nothing, and what the event verifier finds when the server cheats."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from support.event import EXCLUDED_UNIT, SmallEvent, small_event
from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import SeededRandom
from viche.errors import (
    CredentialBindingError,
    CredentialLockedError,
    EnrolmentError,
    ExcludedUnitError,
    PhaseError,
    ReplayedBallotError,
    StorageError,
    UnknownStationError,
    VoteClosedError,
    WrongStyleError,
)
from viche.event.ballots import presidential_question
from viche.event.counting import count_event
from viche.event.locks import LOCK_LOG
from viche.event.manifest import DOMAIN, MANIFEST, Station
from viche.event.styles import EventPlan, StylePlan, check_enrolment, create_event
from viche.event.verify_event import verify_event
from viche.protocol import codec
from viche.protocol.election import ElectionTemplate
from viche.record.events import EventType
from viche.service.cast import cast_ballot
from viche.verify.report import Status


@pytest.fixture()
def ev(tmp_path: Path, rng: SeededRandom) -> SmallEvent:
    return small_event(tmp_path, rng)


def _ballots(ev: SmallEvent) -> dict[str, int]:
    with ev.desk() as desk:
        return {s.id: desk.record(s).store.ballot_count() for s in desk.manifest.styles}


def test_a_station_vote_overrides_the_online_vote_and_is_counted(ev: SmallEvent) -> None:
    with ev.desk() as desk:
        desk.cast_online(ev.ballot(desk, "c01-v0", choice=0))
        desk.cast_online(ev.ballot(desk, "c01-v1", choice=0))
        station = desk.cast_at_station("DE-BERLIN-1", "c01-v0", ev.ballot(desk, "c01-v0", choice=1))
        assert station.accepted.revote and station.channel == "station"
        assert [e.station for e in desk.locks.read_all()] == ["DE-BERLIN-1"]
        with pytest.raises(PhaseError):  # not before the close
            count_event(desk, ev.trustee_keys, ev.rng)
        heads = [desk.record(s).store.head().type for s in desk.manifest.styles]
        assert heads == [EventType.BALLOT, EventType.SETUP]  # nothing closed
        ev.clock.t = desk.manifest.closing_time
        result = count_event(desk, ev.trustee_keys, ev.rng)
    # c01-v0's station ballot (answer 2) counts, not her online one
    assert result.styles["c01"] == [[1, 1], [1, 1]]
    assert result.national == [1, 1]
    assert result.turnout["c01"] == {"online": 1, "station": 1, "relay": 0}
    report = verify_event(ev.directory, jobs=1)
    assert report.ok, [str(f) for f in report.failures]


def test_an_online_vote_after_a_station_vote_is_refused(ev: SmallEvent) -> None:
    with ev.desk() as desk:
        desk.cast_at_station("UA-KYIV-D1", "c02-v1", ev.ballot(desk, "c02-v1"))
        later = ev.ballot(desk, "c02-v1", choice=1)
        before = _ballots(ev)
        with pytest.raises(CredentialLockedError) as info:
            desk.cast_online(later)
        assert info.value.code == "V8050"
        with pytest.raises(CredentialLockedError):  # a second station vote neither
            desk.cast_at_station("DE-BERLIN-1", "c02-v1", later)
        with pytest.raises(CredentialLockedError):  # nor a relayed one
            desk.cast_relayed("A1234", "b1", later)
        assert len(desk.locks.read_all()) == 1
    assert _ballots(ev) == before


def test_a_station_vote_for_a_voter_of_another_style_is_refused(ev: SmallEvent) -> None:
    with ev.desk() as desk:
        # the kiosk loaded style c01 for a c02 voter
        wrong = ev.ballot(desk, "c02-v0", style="c01")
        with pytest.raises(WrongStyleError) as info:
            desk.cast_at_station("DE-BERLIN-1", "c02-v0", wrong)
        assert info.value.code == "V8051"
        # a coercer holding c02-v1's credential, at a station under her own identity
        coerced = ev.ballot(desk, "c02-v1")
        with pytest.raises(CredentialBindingError) as binding:
            desk.cast_at_station("DE-BERLIN-1", "c02-v0", coerced)
        assert binding.value.code == "V3007"
        own = ev.ballot(desk, "c02-v0")
        with pytest.raises(UnknownStationError):
            desk.cast_at_station("XX-NOWHERE", "c02-v0", own)
        with pytest.raises(EnrolmentError):
            desk.cast_at_station("DE-BERLIN-1", "nobody", own)
    assert _ballots(ev) == {"c01": 0, "c02": 0}
    assert not (ev.directory / LOCK_LOG).exists()


def test_ballots_after_the_close_are_refused(ev: SmallEvent) -> None:
    with ev.desk() as desk:
        raw = ev.ballot(desk, "c01-v2")
        ev.clock.t = desk.manifest.closing_time + timedelta(seconds=1)
        casts: list[Callable[[], object]] = [
            lambda: desk.cast_online(raw),
            lambda: desk.cast_at_station("DE-BERLIN-1", "c01-v2", raw),
            lambda: desk.cast_relayed("A1234", "b1", raw),
        ]
        for cast in casts:
            with pytest.raises(VoteClosedError) as info:
                cast()
            assert info.value.code == "V8055"
    assert _ballots(ev) == {"c01": 0, "c02": 0}


def test_no_station_in_an_excluded_unit(tmp_path: Path, rng: SeededRandom) -> None:
    ev = small_event(tmp_path / "ok", rng)
    with ev.desk() as desk:
        manifest = desk.manifest
    bad = (*manifest.stations, Station("UA-KUPIANSK-1", "displaced", EXCLUDED_UNIT))
    plan = EventPlan("e", "E", "CA", manifest.closes, manifest.excluded_units, bad, ())
    out = tmp_path / "bad"
    out.mkdir()
    with pytest.raises(ExcludedUnitError) as info:
        create_event(out, plan, group=BELENIOS_2048,
                     trustees_path=ev.private / "adm" / "trustees.json", authority_dir=out / "ca",
                     key=ev.key, receipt_key=ev.receipt_key, rng=rng)  # fmt: skip
    assert info.value.code == "V8053"
    assert list(out.iterdir()) == []
    # a manifest signed with such a station anyway: the verifier names it
    forged = replace(manifest, stations=bad)
    signature = ev.key.sign_bytes(DOMAIN, forged.body())
    (ev.directory / MANIFEST).write_bytes(
        codec.to_bytes({"event": forged.to_json(), "signature": signature}) + b"\n"
    )
    report = verify_event(ev.directory, jobs=1)
    stations = report.check("event.stations")
    assert [f.code for f in stations.failures] == ["V8053"]
    assert "UA-KUPIANSK-1" in stations.failures[0].message


def test_the_verifier_finds_a_ballot_after_a_lock(ev: SmallEvent) -> None:
    """A dishonest server appends a ballot of a locked credential, bypassing the lock."""
    with ev.desk() as desk:
        desk.cast_at_station("DE-BERLIN-1", "c01-v0", ev.ballot(desk, "c01-v0"))
        style = desk.manifest.style("c01")
        cast_ballot(desk.record(style), ev.ballot(desk, "c01-v0", choice=1))
    report = verify_event(ev.directory, jobs=1)
    locks = report.check("event.station_locks")
    assert locks.status is Status.FAILED
    assert [f.code for f in locks.failures] == ["V8054"]
    assert "after its lock" in locks.failures[0].message
    assert locks.failures[0].where.event == 2
    assert report.check("style c01").status is Status.PASSED  # Belenios sees nothing wrong


def test_the_verifier_finds_a_tampered_lock_log(ev: SmallEvent) -> None:
    with ev.desk() as desk:
        desk.cast_at_station("DE-BERLIN-1", "c01-v0", ev.ballot(desk, "c01-v0"))
        desk.cast_at_station("UA-KYIV-D1", "c02-v0", ev.ballot(desk, "c02-v0"))
    assert verify_event(ev.directory, jobs=1).ok
    log = ev.directory / LOCK_LOG
    original = log.read_bytes()
    lines = original.splitlines(keepends=True)
    for tampered in (
        original.replace(b"DE-BERLIN-1", b"UA-KYIV-D1", 1),  # the signature no longer holds
        lines[1],  # the first lock removed: the chain breaks
        lines[1] + lines[0],  # reordered
        original[:-1],  # cut short
    ):
        log.write_bytes(tampered)
        report = verify_event(ev.directory, jobs=1)
        failed = report.check("event.station_locks")
        assert failed.status is Status.FAILED, tampered[:80]
        assert {f.code for f in failed.failures} == {"V8054"}
        assert failed.failures[0].where.file == str(log)


def test_the_verifier_finds_a_tampered_manifest(ev: SmallEvent) -> None:
    path = ev.directory / MANIFEST
    path.write_bytes(path.read_bytes().replace(b'"DE-BERLIN-1"', b'"DE-BERLIN-2"'))
    report = verify_event(ev.directory, jobs=1)
    assert not report.ok and not report.readable
    assert report.check("event.manifest").failures[0].code == "V2002"


def test_a_voter_enrolled_in_two_styles_is_refused() -> None:
    tpl = ElectionTemplate("d", "n", (presidential_question(("A", "B")),))
    styles = [StylePlan("c01", "C01", tpl, ("v1", "v2"), 0),
              StylePlan("c02", "C02", tpl, ("v3", "v2"), 0)]  # fmt: skip
    with pytest.raises(EnrolmentError) as info:
        check_enrolment(styles)
    assert info.value.code == "V8056" and "'v2'" in info.value.message
    check_enrolment(styles[:1])


def test_the_verifier_checks_enrolment_counts(ev: SmallEvent) -> None:
    with ev.desk() as desk:
        manifest = desk.manifest
    first = replace(manifest.styles[0], voters=manifest.styles[0].voters + 1)
    forged = replace(manifest, styles=(first, *manifest.styles[1:]))
    signature = ev.key.sign_bytes(DOMAIN, forged.body())
    (ev.directory / MANIFEST).write_bytes(
        codec.to_bytes({"event": forged.to_json(), "signature": signature}) + b"\n"
    )
    report = verify_event(ev.directory, jobs=1)
    enrolment = report.check("event.enrolment")
    assert [f.code for f in enrolment.failures] == ["V8056"]
    assert "3 credentials for 4 voters" in enrolment.failures[0].message


def test_a_lock_whose_write_failed_is_completed_by_the_retry(
    ev: SmallEvent, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ev.desk() as desk:
        desk.cast_online(ev.ballot(desk, "c01-v0", choice=0))
        first = ev.ballot(desk, "c01-v0", choice=1)
        station = ev.ballot(desk, "c01-v0", choice=1)

        def full_disk(*_: object) -> None:
            raise StorageError("cannot append to the log: No space left on device")

        with monkeypatch.context() as m:
            m.setattr(desk.locks, "append", full_disk)
            with pytest.raises(StorageError):
                desk.cast_at_station("DE-BERLIN-1", "c01-v0", station)
        assert desk.lock_of(desk.manifest.style("c01").election, _credential(station)) is None
        retried = desk.cast_at_station("DE-BERLIN-1", "c01-v0", station)  # the same ballot
        assert not retried.accepted.revote and len(desk.locks.read_all()) == 1
        with pytest.raises(CredentialLockedError):
            desk.cast_online(first)
        with pytest.raises(ReplayedBallotError):  # once locked, a replay stays a replay
            desk.cast_at_station("DE-BERLIN-1", "c01-v0", station)
    assert _ballots(ev)["c01"] == 2
    assert verify_event(ev.directory, jobs=1).ok


def test_a_replayed_ballot_that_is_not_her_last_is_not_locked(ev: SmallEvent) -> None:
    with ev.desk() as desk:
        earlier = ev.ballot(desk, "c01-v0", choice=0)
        desk.cast_online(earlier)
        desk.cast_online(ev.ballot(desk, "c01-v0", choice=1))
        other = ev.ballot(desk, "c01-v1")
        desk.cast_online(other)
        for replay, voter in ((earlier, "c01-v0"), (other, "c01-v0")):
            with pytest.raises(ReplayedBallotError):
                desk.cast_at_station("DE-BERLIN-1", voter, replay)
        assert desk.locks.read_all() == []


def _credential(raw: bytes) -> str:
    value = json.loads(raw)
    assert isinstance(value, dict)
    return str(value["credential"])


def test_a_lock_another_process_wrote_is_seen_whoever_read_the_log_first(
    ev: SmallEvent,
) -> None:
    """Two server processes' desks on one event directory: the lines one appends are read
    by the other's next look at the log, whichever look it is — its own station lock's
    append, or a turnout's read of the whole log — and its guard must still see them."""
    with ev.desk() as a, ev.desk() as b:
        assert b.lock_of(b.manifest.style("c01").election, "none") is None  # b has looked
        a.cast_at_station("DE-BERLIN-1", "c01-v0", ev.ballot(a, "c01-v0"))
        # b's own station vote appends to the log: that append reads a's line first
        b.cast_at_station("UA-KYIV-D1", "c01-v1", ev.ballot(b, "c01-v1"))
        for cast in (b.cast_online, lambda raw: b.cast_at_station("DE-BERLIN-1", "c01-v0", raw)):
            with pytest.raises(CredentialLockedError):
                cast(ev.ballot(b, "c01-v0", choice=1))
        # b reads the whole log (as the live turnout does) before its guard looks
        a.cast_at_station("UA-KYIV-D1", "c02-v2", ev.ballot(a, "c02-v2"))
        assert len(b.locks.read_all()) == 3
        with pytest.raises(CredentialLockedError):
            b.cast_online(ev.ballot(b, "c02-v2", choice=1))
        assert b.lock_of(b.manifest.style("c01").election, "none") is None
    report = verify_event(ev.directory, jobs=1)
    assert report.ok, [str(f) for f in report.failures]
