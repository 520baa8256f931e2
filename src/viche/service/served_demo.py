"""``viche serve --demo``: an election opened on the board with demo voters.

The demo plays the credential authority (it generates every private credential), the
trustees (two Single keys, kept under the data folder so that the election can be tallied)
and the post office: each voter's private credential and login secret are written under
``DATA/demo/voters/`` (mode 0600) so that a person or a script can vote at once::

    DATA/demo/election.uuid            the demo election's uuid
    DATA/demo/voters/NNN.cred          voter NNN's private credential
    DATA/demo/voters/NNN.login         "LOGIN SECRET" for the server
    DATA/demo/voters/choices.json      a valid vote, to start from
    DATA/demo/credential-authority/, trustees/, administrator/   the other roles' files

Starting again on the same data folder resumes the same election (never re-creates it).
The folder is assembled in ``demo.partial`` and renamed once the election is on the board.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from viche.crypto.group import BELENIOS_2048
from viche.crypto.rng import RandomSource
from viche.errors import Location, UsageError
from viche.protocol import codec
from viche.protocol.election import Election, ElectionTemplate, PublicCredentials
from viche.protocol.trustees import Trustees
from viche.record import read_archive
from viche.record.sql import SqlBoard
from viche.service import credentials as creds
from viche.service.demo import DEMO_TEMPLATE
from viche.service.election_run import ElectionPlan, Stop, random_choices, run_election
from viche.service.files import read_text, write_text
from viche.service.hosting import RollEntry, open_election
from viche.service.secrets import hash_login_secret, new_secret
from viche.service.setup import read_election, read_trustees


@dataclass(frozen=True)
class DemoElection:
    uuid: str
    voters_dir: Path
    voters: int
    created: bool


def demo_login(n: int) -> str:
    return f"voter{n:03d}"


def start_demo(
    data: Path, board: SqlBoard, keys_dir: Path, rng: RandomSource, voters: int = 5
) -> DemoElection:
    """The demo election of ``data``: resumed when it exists, else created and opened."""
    folder = data / "demo"
    marker = folder / "election.uuid"
    if marker.exists():
        uuid = read_text(marker, "demo election").strip()
        board.store(uuid)  # UnknownElectionError if the board lost it
        count = len(list((folder / "voters").glob("*.cred")))
        return DemoElection(uuid, folder / "voters", count, created=False)
    if folder.exists():
        raise UsageError(
            "the demo folder exists but names no election (remove it to start afresh)",
            where=Location(file=str(folder)),
        )
    partial = data / "demo.partial"
    if partial.exists():
        shutil.rmtree(partial)
    prepared = prepare_demo(partial, rng, voters)
    open_election(
        board,
        keys_dir,
        election=prepared.election,
        trustees=prepared.trustees,
        credentials=prepared.credentials,
        ids=prepared.ids,
        roll=prepared.roll,
        timestamp=prepared.timestamp,
    )
    write_text(partial / "election.uuid", prepared.election.uuid + "\n")
    partial.rename(folder)
    return DemoElection(prepared.election.uuid, folder / "voters", voters, created=True)


@dataclass(frozen=True)
class PreparedDemo:
    """A demo election's setup, ready for :func:`~viche.service.hosting.open_election`."""

    election: Election
    trustees: Trustees
    credentials: PublicCredentials
    ids: list[str]
    roll: dict[str, RollEntry]
    timestamp: int


def prepare_demo(
    directory: Path, rng: RandomSource, voters: int, template: ElectionTemplate | None = None
) -> PreparedDemo:
    """Play the credential authority, the trustees, the administrator and the post office in
    ``directory`` (created): every role's files, and ``voters/NNN.cred`` / ``NNN.login``.
    ``template`` defaults to the demo's questions (benchmarks pass the harness's)."""
    if template is None:
        template = ElectionTemplate.from_json(DEMO_TEMPLATE)
    plan = ElectionPlan(
        template=template,
        group=BELENIOS_2048,
        voters=creds.counted_voters(voters),
        votes=[],
        singles=2,
        stop=Stop.SETUP,
    )
    run = run_election(directory, plan, rng)
    timestamp = read_archive(run.archive).timestamp
    shutil.rmtree(directory / "archive")  # the board holds the record
    adm = directory / "administrator"
    pubcreds = next((directory / "credential-authority").glob("*.pubcreds"))
    credentials, ids = creds.parse_public_credentials(
        pubcreds.read_bytes(), Location(file=str(pubcreds))
    )
    assert ids is not None
    vot = directory / "voters"
    roll: dict[str, RollEntry] = {}
    logins: list[str] = []
    for n, private in enumerate(run.private_credentials, 1):
        secret = new_secret()
        login = demo_login(n)
        logins.append(login)
        roll[login] = RollEntry(login, f"{login}@demo.invalid", hash_login_secret(secret))
        write_text(vot / f"{n:03d}.cred", private + "\n", secret=True)
        write_text(vot / f"{n:03d}.login", f"{login} {secret}\n", secret=True)
    write_text(vot / "choices.json", codec.dumps(random_choices(template, rng)) + "\n")
    # The credential authority's ids are 1..N in voter order; voters log in as voterNNN.
    assert ids == [str(n) for n in range(1, voters + 1)]
    return PreparedDemo(
        read_election(adm / "election.json"),
        read_trustees(adm / "trustees.json"),
        credentials,
        logins,
        roll,
        timestamp,
    )
