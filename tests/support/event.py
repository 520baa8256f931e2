"""A small open national event for the tests: two ballot styles of three voters, the same
two trustees, stations abroad and for displaced voters, a simulated clock."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import RandomSource
from viche.event.ballots import presidential_question
from viche.event.channels import EventDesk, iso
from viche.event.demo import SimClock
from viche.event.keys import EventKey
from viche.event.manifest import Station
from viche.event.styles import EventPlan, StylePlan, create_event
from viche.protocol.election import ElectionTemplate, HomomorphicQuestion
from viche.service import ballot as ballots
from viche.service import setup
from viche.service.files import write_text
from viche.service.receipts import ReceiptKey

EXCLUDED_UNIT = "UA63080070010014588"
STATIONS = (
    Station("DE-BERLIN-1", "abroad", "DE"),
    Station("UA-KYIV-D1", "displaced", "UA80000000000093317"),
)


@dataclass
class SmallEvent:
    directory: Path
    private: Path
    key: EventKey
    receipt_key: ReceiptKey
    clock: SimClock
    trustee_keys: list[Path]
    rng: RandomSource
    #: voter id -> (style id, private credential)
    credentials: dict[str, tuple[str, str]] = field(repr=False)
    #: voter id -> (style id, public credential): the server's roll
    roll: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def desk(self) -> EventDesk:
        return EventDesk(self.directory, self.key, self.receipt_key, now=self.clock,
                         roll=self.roll)  # fmt: skip

    def ballot(self, desk: EventDesk, voter: str, choice: int = 0, style: str | None = None
               ) -> bytes:  # fmt: skip
        """A ballot of ``voter`` (marking answer ``choice`` of each question), made in the
        booth of her own style (or of ``style``, with her credential: a wrong ballot)."""
        sid, cred = self.credentials[voter]
        rec = desk.record(desk.manifest.style(style or sid))
        rows = []
        for q in rec.election.questions:
            assert isinstance(q, HomomorphicQuestion)
            rows.append([1 if i == choice else 0 for i in range(len(q.answers))])
        credentials = rec.credentials if style is None else None
        return ballots.generate_ballot(rec.election, credentials, cred, rows, self.rng).raw


def small_event(directory: Path, rng: RandomSource, voters: int = 3) -> SmallEvent:
    """Create the event in ``directory / "event"`` (private files beside it), ``voters``
    voters per style."""
    event_dir, private = directory / "event", directory / "private"
    for d in (event_dir, private / "trustees", private / "ca", private / "adm"):
        d.mkdir(parents=True)
    keys = [setup.new_trustee_key(BELENIOS_2048, private / "trustees", rng) for _ in range(2)]
    write_text(private / "adm" / "public_keys.jsons", "".join(k.pubkey.read_text() for k in keys))
    trustees_path = setup.make_trustees(private / "adm", BELENIOS_2048)
    national = presidential_question(("Олена Коваленко", "Тарас Шевчук"))
    local = HomomorphicQuestion(("Так", "Ні"), blank=False, min=1, max=1, question="Місцеве?")
    styles = tuple(
        StylePlan(
            sid,
            sid.upper(),
            ElectionTemplate(f"Style {sid}", f"Event test {sid}", (national, local)),
            tuple(f"{sid}-v{i}" for i in range(voters)),
            1 if sid == "c02" else 0,
        )
        for sid in ("c01", "c02")
    )
    start = datetime.now(UTC).replace(microsecond=0)  # `viche relay upload` uses real time
    key = EventKey.load_or_create(private / "event.ed25519")
    receipt_key = ReceiptKey.load_or_create(private / "receipts.ed25519")
    plan = EventPlan("test-event", "Test event", "CA", iso(start + timedelta(hours=12)),
                     (EXCLUDED_UNIT,), STATIONS, styles)  # fmt: skip
    created = create_event(event_dir, plan, group=BELENIOS_2048, trustees_path=trustees_path,
                           authority_dir=private / "ca", key=key, receipt_key=receipt_key,
                           rng=rng)  # fmt: skip
    return SmallEvent(event_dir, private, key, receipt_key, SimClock(start),
                      [k.privkey for k in keys], rng, created.credentials,
                      created.roll)  # fmt: skip


@dataclass(frozen=True)
class ServedProcess:
    """``viche serve --event`` on a port, its event hosted and its secrets issued by the CLI."""

    base: str
    ev: SmallEvent
    data: Path
    logins: Path
    station_secret: Path
    relay_secret: Path

    def login(self, voter: str) -> tuple[str, str]:
        style = self.ev.credentials[voter][0]
        login, secret = (self.logins / style / f"{voter}.login").read_text().split()
        return login, secret


@contextlib.contextmanager
def serve_event_process(
    tmp_path: Path,
    rng: RandomSource,
    *,
    voters: int = 3,
    workers: int = 1,
    env: dict[str, str] | None = None,
    database: str | None = None,
) -> Iterator[ServedProcess]:
    """The small event (``voters`` per style) put on a SQLite board with ``viche event
    host``, a secret issued for station DE-BERLIN-1 and relay A1234 with ``viche event
    secret``, then served by a real ``viche serve --event`` process (``workers`` worker
    processes, ``env`` added to its environment) on a random port (stopped afterwards);
    ``database`` is the board's URL (default: SQLite in the data folder)."""
    from support.cli import run_cli
    from support.served import CLI, cli_env, free_port, launch, stop, wait_until_up

    ev = small_event(tmp_path, rng, voters)
    data, logins = tmp_path / "data", tmp_path / "logins"
    db = ["--database", database] if database is not None else []
    hosted = run_cli("event", "host", "--event", str(ev.directory), "--event-keys",
                     str(ev.private), "--authority", str(ev.private / "ca"), "--logins-out",
                     str(logins), "--data", str(data), *db)  # fmt: skip
    assert hosted.code == 0, hosted.stderr
    secrets = {}
    for kind, name in (("station", "DE-BERLIN-1"), ("relay", "A1234")):
        secrets[kind] = tmp_path / f"{kind}.secret"
        issued = run_cli("event", "secret", kind, name, "--event", str(ev.directory), "--out",
                         str(secrets[kind]), "--data", str(data), *db)  # fmt: skip
        assert issued.code == 0, issued.stderr
        assert secrets[kind].read_text().strip() not in issued.stdout
    port = free_port()
    proc = launch(
        [*CLI, "serve", "--data", str(data), "--port", str(port), "--event", str(ev.directory),
         "--event-keys", str(ev.private), "--workers", str(workers), *db],
        {**cli_env(), **(env or {})},
    )  # fmt: skip
    try:
        wait_until_up(proc, port)
        yield ServedProcess(f"http://127.0.0.1:{port}", ev, data, logins, secrets["station"],
                            secrets["relay"])  # fmt: skip
    finally:
        stop(proc)
