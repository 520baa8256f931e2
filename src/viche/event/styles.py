"""Setting up a national event: one Belenios election per ballot style, the same trustees
and credential authority for all, each voter enrolled in exactly one style.

:func:`create_event` plays the credential authority (one credential per voter, in the
voter's style only; the private credentials stay in the authority's folder, never on the
server), takes the trustees' ``trustees.json`` (made once, for every style), writes each
style's election and ``.bel`` archive (its Setup event) and signs the manifest
(:mod:`viche.event.manifest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from viche.crypto.group import Group
from viche.crypto.rng import RandomSource
from viche.errors import EnrolmentError, EventManifestError, Location
from viche.event.keys import EventKey
from viche.event.manifest import (
    Manifest,
    Station,
    Style,
    check_manifest,
    check_station_list,
    write_manifest,
)
from viche.protocol.election import ElectionTemplate
from viche.protocol.trustees import Trustees
from viche.service import archive as arch
from viche.service import credentials as creds
from viche.service import setup
from viche.service.files import write_text
from viche.service.receipts import ReceiptKey
from viche.service.tokens import generate_token

STYLES_DIR = "styles"


@dataclass(frozen=True)
class StylePlan:
    """A ballot style to create: its constituency, its questions (the national question
    first), the ids of its voters and how many of them live in an excluded unit."""

    id: str
    constituency: str
    template: ElectionTemplate
    voters: tuple[str, ...]
    excluded_enrolled: int


@dataclass(frozen=True)
class EventPlan:
    id: str
    name: str
    credential_authority: str
    closes: str
    excluded_units: tuple[str, ...]
    stations: tuple[Station, ...]
    styles: tuple[StylePlan, ...]


@dataclass
class CreatedEvent:
    manifest: Manifest
    #: voter id -> (style id, private credential): the credential authority's secret
    credentials: dict[str, tuple[str, str]] = field(repr=False)
    #: voter id -> (style id, public credential): the server's roll (never published)
    roll: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)


def check_enrolment(styles: Sequence[StylePlan]) -> None:
    """Each voter in exactly one style (:class:`~viche.errors.EnrolmentError` names the
    voter and both styles)."""
    seen: dict[str, str] = {}
    for s in styles:
        for v in s.voters:
            if v in seen:
                raise EnrolmentError(
                    f"voter {v!r} is enrolled in styles {seen[v]!r} and {s.id!r}: one voter, "
                    "one credential, one style",
                    where=Location(path=("styles", s.id)),
                )
            seen[v] = s.id
        if not s.voters:
            raise EnrolmentError(
                f"style {s.id!r} has no voter", where=Location(path=("styles", s.id))
            )


def create_event(
    directory: Path,
    plan: EventPlan,
    *,
    group: Group,
    trustees_path: Path,
    authority_dir: Path,
    key: EventKey,
    receipt_key: ReceiptKey,
    rng: RandomSource,
) -> CreatedEvent:
    """Write the event in ``directory`` (its manifest and one archive per style); the
    credential authority's files go to ``authority_dir`` (one folder per style). The plan is
    checked (enrolment, stations) before anything is written."""
    check_enrolment(plan.styles)
    check_station_list(plan.stations, plan.excluded_units)
    trustees: Trustees = setup.read_trustees(trustees_path)
    styles: list[Style] = []
    private: dict[str, tuple[str, str]] = {}
    roll: dict[str, tuple[str, str]] = {}
    pending: list[tuple[StylePlan, Path, Path, Path]] = []
    for sp in plan.styles:
        if sp.template.credential_authority not in (None, plan.credential_authority):
            raise EventManifestError(
                f"style {sp.id!r} names another credential authority",
                where=Location(path=("styles", sp.id)),
            )
        uuid = generate_token(rng)
        ca = authority_dir / sp.id
        ca.mkdir(parents=True)
        voters = [creds.Voter(v, v, None, None) for v in sp.voters]
        cset = creds.generate_credentials(group, uuid, voters, rng)
        files = creds.write_credentials(cset, ca, stamp=0)
        for v, c, pub in zip(sp.voters, cset.private, cset.public, strict=True):
            private[v] = (sp.id, c)
            roll[v] = (sp.id, str(pub))
        template = ElectionTemplate(
            sp.template.description,
            sp.template.name,
            sp.template.questions,
            sp.template.administrator,
            plan.credential_authority,
        )
        election = setup.make_election(group, uuid, template, trustees)
        out = directory / STYLES_DIR / sp.id
        out.mkdir(parents=True)
        election_path = ca / "election.json"
        setup.write_election(election, election_path)
        pending.append((sp, out, election_path, files.pubcreds))
        styles.append(
            Style(
                sp.id,
                sp.constituency,
                uuid,
                f"{STYLES_DIR}/{sp.id}/{uuid}.bel",
                len(sp.voters),
                sp.excluded_enrolled,
            )
        )
    manifest = Manifest(
        id=plan.id,
        name=plan.name,
        key=key.public,
        receipt_key=receipt_key.public,
        credential_authority=plan.credential_authority,
        closes=plan.closes,
        excluded_units=plan.excluded_units,
        stations=plan.stations,
        styles=tuple(styles),
    )
    check_manifest(manifest)  # before any archive is written
    with ExitStack() as stack:
        for _sp, out, election_path, pubcreds in pending:
            stack.enter_context(arch.init_archive(out, election_path, trustees_path, pubcreds))
    write_manifest(directory, manifest, key)
    return CreatedEvent(manifest, private, roll)


def write_voter_credentials(created: CreatedEvent, directory: Path) -> None:
    """One file per voter, ``<voter id>.cred`` (``style credential``), mode 0600: what the
    credential authority's letters deliver."""
    directory.mkdir(parents=True, exist_ok=True)
    for voter, (style, cred) in created.credentials.items():
        write_text(directory / f"{voter}.cred", f"{style} {cred}\n", secret=True)
