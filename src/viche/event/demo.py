"""``viche event demo``: a whole national event on a synthetic registry, every role and
channel played in one process through the same use cases as the server.

Three constituencies in two electoral regions, one occupied territorial unit, voters of all
four categories (resident, abroad, military, displaced), polling stations abroad and for
displaced voters, and every channel:

* online votes, and an online re-vote (the last ballot counts);
* a voter coerced at home votes online, then at the station in Berlin: the station ballot
  overrides it and locks her credential; her later online re-vote is refused;
* a displaced voter whose home is in the occupied unit votes at a station for displaced
  voters, for her home constituency;
* a station vote whose ballot is not of the voter's style is refused, and so is one signed
  with another voter's credential (a coercer's);
* a military unit's relay collects ballots (one of which it alters: refused) and uploads
  them in one batch; each soldier finds her receipt by her tracker;
* a ballot prepared offline (no link) is sent hours later, when the link returns;
* a relay batch arriving after the close is refused.

Then every style is tallied and decrypted, the per-channel turnout and the national sum are
published, the whole event is verified from its public files, and the verified results are
compared with the plaintext intent (last accepted ballot of each voter, station override).

The channels are played in-process (:class:`DeskChannels`, the default) or over HTTP
(``viche event demo --http``: :mod:`viche.web.event_demo` serves the event on a SQLite board
and every ballot goes through the API, the published folder is then downloaded).

Folder ``DIR``: the published event (``event.json``, ``styles/*/…bel``, the logs,
``turnout.json``, ``national.json``, ``constituencies.json``) and ``DIR/private/`` (what
no one publishes: registry, keys, trustees' and credential authority's files, voters'
credentials and ballots, the relay's folder).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from viche.crypto.group import BELENIOS_2048, Group
from viche.crypto.rng import RandomSource
from viche.errors import (
    CredentialBindingError,
    CredentialLockedError,
    Location,
    UsageError,
    VicheError,
    VoteClosedError,
    WrongStyleError,
)
from viche.event import relay as relays
from viche.event.ballots import OpenListBallot, PartyList, presidential_question
from viche.event.channels import EventDesk, iso
from viche.event.constituencies import (
    Constituencies,
    Constituency,
    Region,
    TerritorialUnit,
    build_constituencies,
)
from viche.event.counting import EventResult, count_event
from viche.event.keys import EventKey
from viche.event.letters import write_letters
from viche.event.manifest import Station
from viche.event.outcome import BALLOTS, EventBallots
from viche.event.published import write_document
from viche.event.registry import Category, Voter, import_registry, write_registry_csv
from viche.event.styles import CreatedEvent, EventPlan, StylePlan, create_event
from viche.event.verify_event import verify_event
from viche.protocol import codec
from viche.protocol.ballot import smart_ballot_tracker
from viche.protocol.election import ElectionTemplate
from viche.service import ballot as ballots
from viche.service import setup
from viche.service.files import write_text
from viche.service.receipts import ReceiptKey
from viche.verify.report import VerificationReport

Say = Callable[[str], None]

CANDIDATES = ("Олена Коваленко", "Тарас Шевчук", "Ірина Бондар")
REGIONS = (Region("R01", "Київ"), Region("R02", "Харківщина"))
CONSTITUENCIES = (
    Constituency("C01", "Київ-1", "R01"),
    Constituency("C02", "Київ-2", "R01"),
    Constituency("C03", "Харків-1", "R02"),
)
KYIV, BILA_TSERKVA = "UA80000000000093317", "UA32080150010036128"
KHARKIV, KUPIANSK = "UA63120270010096107", "UA63080070010014588"
UNITS = (
    TerritorialUnit(KYIV, "Київ", "C01"),
    TerritorialUnit(BILA_TSERKVA, "Біла Церква", "C02"),
    TerritorialUnit(KHARKIV, "Харків", "C03"),
    TerritorialUnit(KUPIANSK, "Куп'янськ", "C03"),
)
EXCLUDED = {KUPIANSK: "occupied"}
LISTS = {
    "R01": OpenListBallot("R01", (PartyList("Злагода", ("Андрій Мельник", "Марія Ткаченко")),
                                   PartyList("Відродження", ("Петро Савченко",)))),
    "R02": OpenListBallot("R02", (PartyList("Злагода", ("Оксана Лисенко",)),
                                   PartyList("Відродження", ("Юрій Кравець", "Ніна Руденко")))),
}  # fmt: skip
#: a small Rada for fifteen voters (the Code's 450 would leave most seats unfilled)
RADA_DEMO_SEATS = 4
STATIONS = (
    Station("DE-BERLIN-1", "abroad", "DE"),
    Station("PL-WARSZAWA-1", "abroad", "PL"),
    Station("UA-KYIV-D1", "displaced", KYIV),
)


def _voter(vid: str, constituency: str, category: Category, n: int, **kw: str) -> Voter:
    return Voter(
        voter_id=vid,
        home_constituency=constituency,
        category=category,
        surname=f"Демо{'абвгдежзиклмнопрстуф'[n % 20]}",
        given_name="Виборець",
        birth_date=f"19{60 + n % 40:02d}-0{1 + n % 9}-1{n % 10}",
        **kw,
    )


def synthetic_voters() -> list[Voter]:
    """Fifteen voters of the four categories in three constituencies (two displaced from
    the occupied unit)."""
    R, A, M, D = Category.RESIDENT, Category.ABROAD, Category.MILITARY, Category.DISPLACED
    rows = [
        ("c01-r1", "C01", R, {"home_unit": KYIV, "address": "вул. Хрещатик, 1"}),
        ("c01-r2", "C01", R, {"home_unit": KYIV, "address": "вул. Хрещатик, 2"}),
        ("c01-a1", "C01", A, {"country": "DE", "city": "Berlin", "consular_post": "DE-BERLIN"}),
        ("c01-m1", "C01", M, {"unit": "A1234"}),
        ("c02-r1", "C02", R, {"home_unit": BILA_TSERKVA, "address": "вул. Ярослава, 5"}),
        ("c02-a1", "C02", A, {"country": "PL", "city": "Warszawa", "consular_post": "PL-WARSAW"}),
        ("c02-m1", "C02", M, {"unit": "A1234"}),
        ("c02-m2", "C02", M, {"unit": "B2345"}),
        ("c02-d1", "C02", D, {"home_unit": BILA_TSERKVA, "current_unit": KYIV}),
        ("c03-r1", "C03", R, {"home_unit": KHARKIV, "address": "вул. Сумська, 3"}),
        ("c03-a1", "C03", A, {"country": "CZ", "city": "Praha", "consular_post": "CZ-PRAHA"}),
        ("c03-m1", "C03", M, {"unit": "A1234"}),
        ("c03-m2", "C03", M, {"unit": "A1234"}),
        ("c03-d1", "C03", D, {"home_unit": KUPIANSK, "current_unit": KYIV}),
        ("c03-d2", "C03", D, {"home_unit": KUPIANSK, "current_unit": BILA_TSERKVA}),
    ]
    return [_voter(vid, c, cat, n, **kw) for n, (vid, c, cat, kw) in enumerate(rows)]


def demo_constituencies() -> Constituencies:
    return build_constituencies(REGIONS, CONSTITUENCIES, UNITS, EXCLUDED)


class SimClock:
    """The demo's clock: it moves only when the story says so."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        return self.t

    def advance(self, minutes: int) -> None:
        self.t += timedelta(minutes=minutes)


@dataclass
class Intent:
    """What each voter's accepted ballots were, in order (the last one counts)."""

    accepted: dict[str, list[list[list[int]]]] = field(default_factory=dict)

    def add(self, voter: str, choices: list[list[int]]) -> None:
        self.accepted.setdefault(voter, []).append(choices)


@dataclass(frozen=True)
class EventDemoOutcome:
    directory: Path
    result: EventResult
    expected: dict[str, list[list[int]]]
    expected_national: list[int]
    refused: list[tuple[str, VicheError]]
    report: VerificationReport

    @property
    def matches(self) -> bool:
        return self.result.styles == self.expected and self.result.national == (
            self.expected_national
        )


def _quiet(_: str) -> None:
    return None


def _pick(n: int, rng: RandomSource) -> list[int]:
    row = [0] * n
    row[rng.randbelow(n)] = 1
    return row


@dataclass(frozen=True)
class DemoSetup:
    """The event as created, for the channels: its folder, the private folder, the server's
    keys, the demo's clock and the credential authority's output."""

    directory: Path
    private: Path
    key: EventKey
    receipt_key: ReceiptKey
    clock: SimClock
    created: CreatedEvent
    units: tuple[str, ...]


class Channels(Protocol):
    """How the demo's ballots reach the voting server. ``desk`` is the server's desk (the
    ballots are made from its records, the administrator counts on it)."""

    @property
    def desk(self) -> EventDesk: ...

    def online(self, voter: str, raw: bytes) -> str:
        """Cast online as ``voter``; returns the tracker (raises the server's refusal)."""
        ...

    def station(self, station: str, voter: str, raw: bytes) -> str: ...

    def relay(self, relay_dir: Path, unit: str) -> relays.Batch: ...

    def publish(self) -> None:
        """After the count: the published folder complete in ``DemoSetup.directory``."""
        ...


@dataclass(frozen=True)
class DeskChannels:
    """The channels in-process, straight on the server's :class:`EventDesk`."""

    desk: EventDesk

    def online(self, voter: str, raw: bytes) -> str:
        return self.desk.cast_online(raw).accepted.tracker

    def station(self, station: str, voter: str, raw: bytes) -> str:
        return self.desk.cast_at_station(station, voter, raw).accepted.tracker

    def relay(self, relay_dir: Path, unit: str) -> relays.Batch:
        return relays.upload(relay_dir, self.desk, unit)

    def publish(self) -> None:
        return None


@contextmanager
def desk_channels(setup: DemoSetup) -> Iterator[Channels]:
    with EventDesk(setup.directory, setup.key, setup.receipt_key, now=setup.clock,
                   roll=setup.created.roll) as desk:  # fmt: skip
        yield DeskChannels(desk)


Serve = Callable[[DemoSetup], AbstractContextManager[Channels]]


def _is(exc: VicheError, kind: type[VicheError]) -> bool:
    """``exc`` is a ``kind`` (in-process) or carries its code (over HTTP)."""
    return isinstance(exc, kind) or exc.code == kind.code


def run_event_demo(
    directory: Path,
    rng: RandomSource,
    *,
    say: Say = _quiet,
    group: Group = BELENIOS_2048,
    serve: Serve = desk_channels,
) -> EventDemoOutcome:
    """Play the event in ``directory`` (created; must be empty); ``serve`` gives the
    channels (in-process by default)."""
    where = Location(file=str(directory))
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError("the demo directory must be a new or empty directory", where=where)
    directory.mkdir(parents=True, exist_ok=True)
    private = directory / "private"
    for sub in ("keys", "trustees", "administrator", "credential-authority", "voters"):
        (private / sub).mkdir(parents=True)

    # ------------------------------------------------------------ registry, constituencies
    cons = demo_constituencies()
    write_text(directory / "constituencies.json", codec.dumps(cons.to_json()) + "\n")
    csv_path = private / "registry.csv"
    write_registry_csv(csv_path, synthetic_voters())
    imported = import_registry(csv_path, cons, out=private / "registry.sqlite")
    registry = imported.registry
    counts = {c: sum(v.values()) for c, v in imported.counts.items()}
    say(f"administrator: registry imported, {imported.rows} voters in {len(counts)} "
        f"constituencies ({', '.join(f'{c} {n}' for c, n in counts.items())})")  # fmt: skip

    # ------------------------------------------------------------ trustees (once for all)
    keys = [setup.new_trustee_key(group, private / "trustees", rng) for _ in range(2)]
    write_text(private / "administrator" / "public_keys.jsons",
               "".join(k.pubkey.read_text() for k in keys))  # fmt: skip
    trustees_path = setup.make_trustees(private / "administrator", group)
    say("trustees: 2 keys generated; the same trustees serve every ballot style")

    # ------------------------------------------------------------ styles and the event
    excluded = registry.excluded_counts(cons)
    national = presidential_question(CANDIDATES)
    styles = []
    for c in CONSTITUENCIES:
        ballot = LISTS[c.region]
        template = ElectionTemplate(
            description=f"Президентські та парламентські вибори — {c.name}",
            name=f"Вибори 2026 — {c.id}",
            questions=(national, ballot.question()),
        )
        voters = tuple(v.voter_id for v in registry.voters(constituency=c.id))
        styles.append(StylePlan(c.id.lower(), c.id, template, voters, excluded.get(c.id, 0)))
    start = datetime.now(UTC).replace(microsecond=0)
    clock = SimClock(start)
    key = EventKey.load_or_create(private / "keys" / "event.ed25519")
    receipt_key = ReceiptKey.load_or_create(private / "keys" / "receipts.ed25519")
    plan = EventPlan(
        id="ua-2026-demo",
        name="Вибори 2026 (демонстрація)",
        credential_authority="ЦВК: орган видачі облікових даних",
        closes=iso(start + timedelta(hours=12)),
        excluded_units=tuple(sorted(EXCLUDED)),
        stations=STATIONS,
        styles=tuple(styles),
    )
    created = create_event(directory, plan, group=group, trustees_path=trustees_path,
                           authority_dir=private / "credential-authority", key=key,
                           receipt_key=receipt_key, rng=rng)  # fmt: skip
    say(f"administrator: event {plan.id} published: {len(styles)} ballot styles, "
        f"{len(STATIONS)} stations, excluded unit(s) {', '.join(plan.excluded_units)} "
        f"({sum(excluded.values())} voters enrolled from them)")  # fmt: skip
    say(f"credential authority: {len(created.credentials)} credentials, each voter in exactly "
        "one style; none sent to the server")  # fmt: skip
    regions = {s.id: cons.region_of(s.constituency) for s in styles}
    event_ballots = EventBallots(CANDIDATES, RADA_DEMO_SEATS, (LISTS["R01"], LISTS["R02"]), regions)
    write_document(directory / BALLOTS, "ballots", event_ballots.to_json(), key)
    letters = write_letters(private / "credential-authority" / "letters", created.manifest,
                            created.credentials, registry.get)  # fmt: skip
    say(f"credential authority: {sum(b.letters for b in letters)} letters to print in "
        f"{len(letters)} batches ({', '.join(b.path.stem for b in letters)})")  # fmt: skip

    intent = Intent()
    refused: list[tuple[str, VicheError]] = []

    event_setup = DemoSetup(directory, private, key, receipt_key, clock, created, ("A1234",))
    with serve(event_setup) as channels:
        desk = channels.desk

        def make(voter: str, style: str | None = None) -> tuple[bytes, list[list[int]]]:
            """A ballot of ``voter`` made in the booth of her style (or of ``style``)."""
            sid, cred = created.credentials[voter]
            rec = desk.record(desk.manifest.style(style or sid))
            q = rec.election.questions
            ch = [_pick(len(x.answers), rng) for x in q]
            known = rec.credentials if style is None else None
            made = ballots.generate_ballot(rec.election, known, cred, ch, rng)
            write_text(private / "voters" / f"{voter}-{len(intent.accepted.get(voter, []))}"
                       ".ballot.json", made.raw.decode() + "\n")  # fmt: skip
            return made.raw, ch

        def refuse(what: str, action: Callable[[], object], kind: type[VicheError]) -> None:
            try:
                action()
            except VicheError as exc:
                if not _is(exc, kind):
                    raise
                refused.append((what, exc))
                say(f"server: refused, as it must: {what} ({exc.code} {exc.message})")
                return
            raise UsageError(f"the demo expected this to be refused: {what}")

        # -------------------------------------------------------- the offline booth
        offline_raw, offline_choices = make("c02-m2")
        say("voter c02-m2: ballot prepared and encrypted in the booth with no link; queued")

        # -------------------------------------------------------- online
        online = ["c01-r1", "c01-r2", "c01-a1", "c02-r1", "c02-d1", "c03-r1", "c03-a1",
                  "c03-d2"]  # fmt: skip
        for v in online:
            raw, ch = make(v)
            channels.online(v, raw)
            intent.add(v, ch)
            clock.advance(7)
        say(f"voters: {len(online)} online ballots (residents, abroad, displaced), each with a "
            "signed receipt")  # fmt: skip
        raw, ch = make("c01-r1")
        channels.online("c01-r1", raw)
        intent.add("c01-r1", ch)
        say("voter c01-r1: changed her mind and voted again online (the last ballot counts)")

        # -------------------------------------------------------- stations
        clock.advance(30)
        raw, ch = make("c01-a1")
        tracker = channels.station("DE-BERLIN-1", "c01-a1", raw)
        intent.add("c01-a1", ch)
        say(f"station DE-BERLIN-1: c01-a1 (coerced at home) voted in person; ballot "
            f"{tracker} overrides her online one, her credential is locked")
        clock.advance(5)
        raw, _ = make("c01-a1")
        refuse("an online re-vote after a station vote", lambda: channels.online("c01-a1", raw),
               CredentialLockedError)  # fmt: skip
        raw, ch = make("c03-d1")
        channels.station("UA-KYIV-D1", "c03-d1", raw)
        intent.add("c03-d1", ch)
        say("station UA-KYIV-D1: c03-d1, displaced from the occupied unit, voted for her home "
            "constituency C03")  # fmt: skip
        wrong, _ = make("c02-a1", style="c01")  # the kiosk loaded another style's booth
        refuse("a station vote with a ballot of another style than the voter's",
               lambda: channels.station("PL-WARSZAWA-1", "c02-a1", wrong),
               WrongStyleError)  # fmt: skip
        coerced, _ = make("c02-r1")  # a coercer holding c02-r1's credential, at a station
        refuse("a station vote signed with another voter's credential",
               lambda: channels.station("PL-WARSZAWA-1", "c02-a1", coerced),
               CredentialBindingError)  # fmt: skip
        raw, ch = make("c02-a1")
        channels.station("PL-WARSZAWA-1", "c02-a1", raw)
        intent.add("c02-a1", ch)
        say("station PL-WARSZAWA-1: c02-a1 voted in person once the staff chose her style")

        # -------------------------------------------------------- the unit's relay
        relay_dir = private / "relay-A1234"
        soldiers = ["c01-m1", "c02-m1", "c03-m1", "c03-m2"]
        batch: list[tuple[bytes, Location]] = []
        relay_choices: dict[str, list[list[int]]] = {}
        for v in soldiers:
            raw, ch = make(v)
            relay_choices[v] = ch
            batch.append((raw, Location(path=(v,))))
        tampered = bytearray(batch[-1][0])
        i = tampered.index(b'"response":"') + len(b'"response":"')
        tampered[i] = ord("1") if tampered[i] != ord("1") else ord("2")
        collected = relays.collect(relay_dir, [*batch, (bytes(tampered), Location(path=("x",)))])
        say(f"relay A1234: {len(collected)} ballots collected offline (one of them altered by "
            "the relay)")  # fmt: skip
        clock.advance(60)
        uploaded = channels.relay(relay_dir, "A1234")
        for o in uploaded.outcomes:
            if o.error is not None:
                refused.append(("a ballot altered by the relay", o.error))
                say(f"server: refused, as it must: a ballot altered by the relay "
                    f"({o.error.code} {o.error.message})")  # fmt: skip
        for v in soldiers:
            intent.add(v, relay_choices[v])
        for raw, _ in batch:
            relays.find_receipt(relay_dir, smart_ballot_tracker(raw))
        say(f"relay A1234: batch {uploaded.id} uploaded when the link returned: "
            f"{uploaded.accepted} accepted; each soldier found her receipt by her tracker")

        # -------------------------------------------------------- the offline ballot is sent
        clock.advance(180)
        channels.online("c02-m2", offline_raw)
        intent.add("c02-m2", offline_choices)
        say("voter c02-m2: the link came back three hours later; the queued ballot was sent "
            "and its receipt shown")  # fmt: skip

        # -------------------------------------------------------- after the close
        clock.t = desk.manifest.closing_time + timedelta(minutes=1)
        late, _ = make("c01-m1")
        relays.collect(relay_dir, [(late, Location(path=("late",)))])
        late_batch = channels.relay(relay_dir, "A1234")
        for o in late_batch.outcomes:
            if o.error is None or not _is(o.error, VoteClosedError):
                raise UsageError("the demo expected the late relay ballot to be refused")
            refused.append(("a relayed ballot arriving after the close", o.error))
            say(f"server: refused, as it must: a relayed ballot arriving after the close "
                f"({o.error.code} {o.error.message})")  # fmt: skip

        # -------------------------------------------------------- count and publish
        result = count_event(desk, [k.privkey for k in keys], rng, say=say,
                             ballots=event_ballots)  # fmt: skip
        channels.publish()

    expected = _expected(created.credentials, intent, desk)
    expected_national = [sum(rows[0][i] for rows in expected.values())
                         for i in range(len(CANDIDATES))]  # fmt: skip
    say("auditor: verifying the whole event from its public files")
    report = verify_event(directory, jobs=1)
    registry.close()
    return EventDemoOutcome(directory, result, expected, expected_national, refused, report)


def _expected(
    credentials: dict[str, tuple[str, str]], intent: Intent, desk: EventDesk
) -> dict[str, list[list[int]]]:
    """Each style's result from the plaintext: the last accepted ballot of each voter."""
    out: dict[str, list[list[int]]] = {}
    for style in desk.manifest.styles:
        rows: list[list[int]] | None = None
        for voter, (sid, _) in credentials.items():
            if sid != style.id or voter not in intent.accepted:
                continue
            last = intent.accepted[voter][-1]
            if rows is None:
                rows = [[0] * len(q) for q in last]
            for qi, q in enumerate(last):
                for j, x in enumerate(q):
                    rows[qi][j] += x
        out[style.id] = rows or []
    return out
