"""``viche verify DIR`` on an event directory: every style, the sum, the logs.

Reads only what the event publishes (``event.json``, each style's ``.bel``, the
station-lock and relay logs, ``turnout.json``, ``national.json``) and reports, as one
:class:`~viche.verify.report.VerificationReport`:

* ``event.manifest`` — the manifest's signature (the event key it names) and style list;
* ``event.stations`` — no polling station in an excluded territorial unit, known kinds;
* ``style <id>`` — the style's archive through the universal verifier
  (:func:`viche.verify.verify_record`), every failure kept;
* ``event.styles`` — every style has the manifest's election, the same trustees, the same
  credential authority and the same national question;
* ``event.enrolment`` — each style has as many credentials as voters enrolled, and no
  credential is in two styles;
* ``event.station_locks`` — the lock log's chain and signatures; each lock names a station
  of the event and a Ballot event of that credential in its style, at most one lock per
  credential, and no ballot of a locked credential after its lock;
* ``event.relay`` — the relay log's chain and signatures; each entry names a Ballot event;
* ``event.turnout`` — the published per-channel turnout is the one the archives and logs
  give;
* ``event.national`` — the national result is the sum of the styles' verified results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from viche.crypto.hashing import sha256_hex
from viche.errors import (
    EnrolmentError,
    EventManifestError,
    Location,
    LockLogError,
    MissingFileError,
    TallyError,
    VicheError,
)
from viche.event.locks import RELAY_LOG, lock_log, relay_log
from viche.event.manifest import (
    MANIFEST,
    Manifest,
    check_stations,
    check_style_list,
    parse_manifest,
    parse_time,
)
from viche.event.outcome import BALLOTS, RESULTS, EventBallots, event_outcome
from viche.event.published import (
    CHANNELS,
    NATIONAL,
    TURNOUT,
    BallotRef,
    channel_turnout,
    national_sum,
    read_document,
)
from viche.protocol.election import Election, PublicCredentials
from viche.record.archive_store import ballot_credential
from viche.record.events import EventType
from viche.record.reader import ArchiveStream
from viche.service.files import read_bytes
from viche.verify import verify_record
from viche.verify.checks import Progress
from viche.verify.report import CheckResult, Failure, Status, VerificationReport

EVENT_CHECKS: tuple[tuple[str, str], ...] = (
    ("event.manifest", "event manifest signed by the event key it names; styles listed once"),
    ("event.stations", "no polling station in an excluded territorial unit"),
    ("event.styles", "same trustees, credential authority and national question in every style"),
    ("event.enrolment", "credentials per style match enrolment; no credential in two styles"),
    ("event.station_locks", "station-lock log: chain, signatures, no ballot after a lock"),
    ("event.relay", "relay log: chain, signatures, every relayed ballot in its archive"),
    ("event.turnout", "published per-channel turnout recomputed from archives and logs"),
    ("event.national", "national result is the sum of the styles' verified results"),
    ("event.ballots", "published ballots signed; every style asks exactly those questions"),
    ("event.results", "presidential round and Rada seats (Arts. 183-185) recomputed"),
)


@dataclass
class _StyleData:
    """What the event checks need of one style's archive."""

    election: Election | None = None
    trustees: bytes = b""
    credentials: PublicCredentials | None = None
    ballots: list[BallotRef] = field(default_factory=list)
    result: list[list[int]] | None = None

    @cached_property
    def by_height(self) -> dict[int, BallotRef]:
        return {b.height: b for b in self.ballots}

    @cached_property
    def by_credential(self) -> dict[str, list[BallotRef]]:
        out: dict[str, list[BallotRef]] = {}
        for b in self.ballots:
            out.setdefault(b.credential, []).append(b)
        return out


class _Run:
    def __init__(self, report: VerificationReport) -> None:
        self.report = report
        self.results = {name: CheckResult(name, desc) for name, desc in EVENT_CHECKS}
        report.checks = list(self.results.values())

    def fail(self, name: str, exc: VicheError) -> None:
        self.results[name].fail(Failure.from_error(name, exc))

    def na(self, name: str, note: str) -> None:
        res = self.results[name]
        if res.status is not Status.FAILED:
            res.status = Status.NOT_APPLICABLE
        res.note = note


def _read_style(path: Path) -> _StyleData:
    """The setup members and every Ballot event (height, hash, credential) of an archive
    (its chain checked by the reader)."""
    data = _StyleData()
    with ArchiveStream(path) as stream:
        for ev in stream:
            if ev.type is EventType.SETUP:
                d = ev.data
                data.election = Election.from_bytes(d[0].raw, Location(file=str(path), event=0))
                data.trustees = d[1].raw
                data.credentials = PublicCredentials.from_bytes(
                    d[2].raw, Location(file=str(path), event=0)
                )
            elif ev.type is EventType.BALLOT:
                raw = ev.data[0].raw
                data.ballots.append(BallotRef(ev.height, ev.data[0].hash, ballot_credential(raw)))
    return data


def verify_event(
    directory: Path,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    scheduler: str | None = None,
) -> VerificationReport:
    """Verify the event published in ``directory`` (see the module's docstring); each
    style's ballots on ``jobs`` local processes or a dask.distributed ``scheduler``."""
    t0 = time.perf_counter()
    report = VerificationReport(source=str(directory))
    run = _Run(report)
    manifest_path = directory / MANIFEST
    raw = read_bytes(manifest_path, "event manifest")
    genesis = sha256_hex(raw)
    try:
        manifest = parse_manifest(raw, Location(file=str(manifest_path)), check=False)
        check_style_list(manifest)
    except VicheError as exc:
        run.fail("event.manifest", exc)
        report.readable = False
        for c in report.checks[1:]:
            c.status = Status.NOT_APPLICABLE
            c.note = "the manifest could not be read"
        report.timing["total"] = time.perf_counter() - t0
        return report
    run.results["event.manifest"].count = 1
    res = run.results["event.stations"]
    res.count = len(manifest.stations)
    try:
        check_stations(manifest)
    except VicheError as exc:
        run.fail("event.stations", exc)

    styles: dict[str, _StyleData] = {}
    for style in manifest.styles:
        path = directory / style.archive
        check = CheckResult(f"style {style.id}", f"archive {style.archive}: the universal verifier")
        report.checks.append(check)
        t = time.perf_counter()
        try:
            sub = verify_record(path, jobs=jobs, progress=progress, scheduler=scheduler)
            data = _read_style(path)
        except VicheError as exc:
            check.fail(Failure.from_error(check.name, exc))
            continue
        check.count = sum(c.count for c in sub.checks)
        check.seconds = time.perf_counter() - t
        for f in sub.failures:
            at = f.where.at(file=str(path)) if f.where.file is None else f.where
            check.fail(Failure(check.name, f.code, f"{f.check}: {f.message}", at))
        if not sub.readable:
            check.status = Status.FAILED
        if sub.result is not None:
            data.result = [[int(v) for v in row] for row in sub.result]
        check.note = f"{len(data.ballots)} ballot(s)" + (
            "" if data.result is not None else "; no result yet"
        )
        styles[style.id] = data

    _check_styles(run, manifest, styles)
    _check_enrolment(run, manifest, styles)
    locked = _check_locks(run, directory, manifest, genesis, styles)
    relayed = _check_relay(run, directory, manifest, genesis, styles)
    _check_turnout(run, directory, manifest, styles, locked=locked, relayed=relayed)
    report.result = _check_national(run, directory, manifest, styles)
    _check_outcome(run, directory, manifest, styles)
    report.counts = {
        "styles": len(manifest.styles),
        "stations": len(manifest.stations),
        "excluded_units": len(manifest.excluded_units),
        "ballots": sum(len(d.ballots) for d in styles.values()),
        "station_locks": sum(len(v) for v in locked.values()),
    }
    report.jobs = jobs or 1
    report.timing["total"] = time.perf_counter() - t0
    return report


def _check_styles(run: _Run, manifest: Manifest, styles: dict[str, _StyleData]) -> None:
    res = run.results["event.styles"]
    res.count = len(manifest.styles)
    first: _StyleData | None = None
    for style in manifest.styles:
        data = styles.get(style.id)
        if data is None or data.election is None:
            continue
        where = Location(file=style.archive)
        e = data.election
        if e.uuid != style.election:
            run.fail("event.styles", EventManifestError(
                f"style {style.id!r}: the archive holds election {e.uuid}, the manifest says "
                f"{style.election}", where=where))  # fmt: skip
        if e.credential_authority != manifest.credential_authority:
            run.fail("event.styles", EventManifestError(
                f"style {style.id!r}: credential authority {e.credential_authority!r}, not the "
                f"event's {manifest.credential_authority!r}", where=where))  # fmt: skip
        if first is None:
            first = data
            continue
        assert first.election is not None
        if data.trustees != first.trustees:
            run.fail("event.styles", EventManifestError(
                f"style {style.id!r} has other trustees than the first style",
                where=where.sub("trustees")))  # fmt: skip
        if not e.questions or e.questions[0].to_json() != first.election.questions[0].to_json():
            run.fail("event.styles", EventManifestError(
                f"style {style.id!r}: the national question differs from the first style's",
                where=where.at(question=1)))  # fmt: skip


def _check_enrolment(run: _Run, manifest: Manifest, styles: dict[str, _StyleData]) -> None:
    res = run.results["event.enrolment"]
    owner: dict[str, str] = {}
    for style in manifest.styles:
        data = styles.get(style.id)
        if data is None or data.credentials is None:
            continue
        where = Location(file=style.archive, path=("credentials",))
        n = len(data.credentials)
        res.count += n
        if n != style.voters:
            run.fail("event.enrolment", EnrolmentError(
                f"style {style.id!r}: {n} credentials for {style.voters} voters enrolled",
                where=where))  # fmt: skip
        for entry in data.credentials.entries:
            key = entry.text
            other = owner.get(key)
            if other is not None and other != style.id:
                run.fail("event.enrolment", EnrolmentError(
                    f"a credential is in styles {other!r} and {style.id!r}: one voter would "
                    "have two votes", where=where))  # fmt: skip
            owner[key] = style.id


def _check_locks(
    run: _Run, directory: Path, manifest: Manifest, genesis: str, styles: dict[str, _StyleData]
) -> dict[str, set[str]]:
    """The lock log; returns the locked credentials per election."""
    res = run.results["event.station_locks"]
    log = lock_log(directory, genesis, manifest.key)
    locked: dict[str, set[str]] = {}
    try:
        entries = log.read_all()
    except VicheError as exc:
        run.fail("event.station_locks", exc)
        return locked
    res.count = len(entries)
    closes = manifest.closing_time
    station_ids = {s.id for s in manifest.stations}
    for n, e in enumerate(entries, start=1):
        where = log.where(n)
        style = manifest.style_of_election(e.election)
        if e.station not in station_ids:
            run.fail("event.station_locks", LockLogError(
                f"station {e.station!r} is not a station of the event", where=where))  # fmt: skip
        if style is None or style.id not in styles:
            run.fail("event.station_locks", LockLogError(
                "the lock names an election that is not a style of the event",
                where=where))  # fmt: skip
            continue
        data = styles[style.id]
        try:
            if parse_time(e.time, where.sub("time")) > closes:
                raise LockLogError("a lock after the closing time", where=where.sub("time"))
        except VicheError as exc:
            run.fail("event.station_locks", exc)
        if e.credential in locked.setdefault(e.election, set()):
            run.fail("event.station_locks", LockLogError(
                "a second lock of the same credential", where=where))  # fmt: skip
        locked[e.election].add(e.credential)
        ballot = data.by_height.get(e.height)
        if ballot is None or ballot.hash != e.ballot_hash or ballot.credential != e.credential:
            run.fail("event.station_locks", LockLogError(
                f"the lock names event {e.height} of style {style.id!r}, which is not this "
                "credential's ballot with this hash", where=where))  # fmt: skip
            continue
        later = [b for b in data.by_credential.get(e.credential, []) if b.height > e.height]
        for b in later:
            run.fail("event.station_locks", LockLogError(
                f"a ballot of a locked credential after its lock (event {b.height} of style "
                f"{style.id!r}, locked at event {e.height})",
                where=Location(file=style.archive, event=b.height, ballot=b.hash)))  # fmt: skip
    return locked


def _check_relay(
    run: _Run, directory: Path, manifest: Manifest, genesis: str, styles: dict[str, _StyleData]
) -> dict[str, set[str]]:
    """The relay log; returns the relayed ballot hashes per election."""
    res = run.results["event.relay"]
    relayed: dict[str, set[str]] = {}
    if not (directory / RELAY_LOG).exists():
        run.na("event.relay", "no relay log: no ballot came through a relay")
        return relayed
    log = relay_log(directory, genesis, manifest.key)
    try:
        entries = log.read_all()
    except VicheError as exc:
        run.fail("event.relay", exc)
        return relayed
    res.count = len(entries)
    for n, e in enumerate(entries, start=1):
        style = manifest.style_of_election(e.election)
        data = styles.get(style.id) if style is not None else None
        ballot = (
            data.by_height.get(e.height) if data else None
        )
        if ballot is None or ballot.hash != e.ballot_hash:
            run.fail("event.relay", LockLogError(
                "the entry names a Ballot event that does not hold this ballot",
                where=log.where(n)))  # fmt: skip
            continue
        relayed.setdefault(e.election, set()).add(e.ballot_hash)
    return relayed


def _check_turnout(
    run: _Run,
    directory: Path,
    manifest: Manifest,
    styles: dict[str, _StyleData],
    *,
    locked: dict[str, set[str]],
    relayed: dict[str, set[str]],
) -> None:
    res = run.results["event.turnout"]
    path = directory / TURNOUT
    if not path.exists():
        run.na("event.turnout", "no turnout published yet")
        return
    try:
        body = read_document(path, "turnout", manifest.key)
    except VicheError as exc:
        run.fail("event.turnout", exc)
        return
    published: dict[str, object] = {}
    items = body.get("styles")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                published[item["id"]] = {c: item.get(c) for c in CHANNELS}
    for style in manifest.styles:
        data = styles.get(style.id)
        if data is None:
            continue
        res.count += 1
        expected = channel_turnout(
            data.ballots, locked.get(style.election, set()), relayed.get(style.election, set())
        )
        if published.get(style.id) != expected:
            run.fail("event.turnout", TallyError(
                f"style {style.id!r}: published turnout {published.get(style.id)} is not "
                f"{expected}", where=Location(file=str(path))))  # fmt: skip


def _check_national(
    run: _Run, directory: Path, manifest: Manifest, styles: dict[str, _StyleData]
) -> object:
    res = run.results["event.national"]
    path = directory / NATIONAL
    if not path.exists():
        run.na("event.national", "no national result published yet")
        return None
    rows: list[list[int]] = []
    for style in manifest.styles:
        data = styles.get(style.id)
        if data is None or data.result is None:
            run.fail("event.national", TallyError(
                f"style {style.id!r} has no verified result to add up",
                where=Location(file=style.archive)))  # fmt: skip
            return None
        rows.append(data.result[0])
    res.count = len(rows)
    try:
        body = read_document(path, "national", manifest.key)
        expected = national_sum(rows)
    except VicheError as exc:
        run.fail("event.national", exc)
        return None
    if body.get("result") != expected:
        run.fail("event.national", TallyError(
            f"the published national result {body.get('result')} is not the sum {expected} of "
            "the styles' results", where=Location(file=str(path))))  # fmt: skip
    return {"national": expected, "styles": {sid: d.result for sid, d in styles.items()}}


def _check_outcome(
    run: _Run, directory: Path, manifest: Manifest, styles: dict[str, _StyleData]
) -> None:
    path = directory / BALLOTS
    if not path.exists():
        run.na("event.ballots", "no ballots.json: the questions are not Electoral Code ballots")
        run.na("event.results", "no ballots.json")
        return
    res = run.results["event.ballots"]
    try:
        ballots = EventBallots.from_json(
            read_document(path, "ballots", manifest.key), Location(file=str(path))
        )
    except VicheError as exc:
        run.fail("event.ballots", exc)
        run.na("event.results", "the ballots could not be read")
        return
    for style in manifest.styles:
        data = styles.get(style.id)
        if data is None or data.election is None:
            continue
        res.count += 1
        try:
            ballots.check_election(style.id, data.election, Location(file=style.archive))
        except VicheError as exc:
            run.fail("event.ballots", exc)
    out = directory / RESULTS
    if not out.exists() or res.status is Status.FAILED:
        run.na("event.results", "no results.json yet, or the ballots failed")
        return
    rows = {sid: d.result for sid, d in styles.items() if d.result is not None}
    if len(rows) != len(manifest.styles):
        run.fail("event.results", TallyError(
            "results are published but not every style has a verified result",
            where=Location(file=str(out))))  # fmt: skip
        return
    run.results["event.results"].count = 1
    try:
        published = read_document(out, "results", manifest.key)
        expected = event_outcome(ballots, rows)
    except VicheError as exc:
        run.fail("event.results", exc)
        return
    if published != expected:
        run.fail("event.results", TallyError(
            "the published presidential round or seats are not those of the verified results",
            where=Location(file=str(out))))  # fmt: skip


def require_event(directory: Path) -> Path:
    if not (directory / MANIFEST).is_file():
        raise MissingFileError("no event.json: not an event directory",
                               where=Location(file=str(directory)))  # fmt: skip
    return directory

