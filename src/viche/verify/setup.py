"""The setup checks (specification 3.5.1): the election, setup_data, the trustees (proofs of
knowledge, certificates, coefexps, verification keys Π_i Π_k A_ik^(j^k)), the election key
as the product of the trustees' keys, and the public credentials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from viche.crypto.group import Group
from viche.crypto.hashing import sha256_hex
from viche.crypto.trustee import TrusteePublicKey, check_trustee_public_key
from viche.errors import (
    ChainError,
    GroupMembershipError,
    KeyCeremonyError,
    Location,
    VicheError,
)
from viche.protocol.codec import sub
from viche.protocol.election import Election, PublicCredentials, SetupData
from viche.protocol.threshold import check_cert, check_coefexps, expected_verification_key
from viche.protocol.trustees import Coefexps, PedersenItem, SingleItem, Trustees
from viche.verify.ballots import check_credential_members
from viche.verify.checks import Run
from viche.verify.report import CheckResult

#: The setup members are at event 0.
_TRUSTEES = Location(event=0, path=("trustees",))
_CREDENTIALS = Location(event=0, path=("credentials",))


def _check_pedersen(run: Run, trustees: Trustees, election: Election, res: CheckResult) -> None:
    """Every trustee on its own (flat trustee ids in the failures), with the checks of
    :mod:`viche.protocol.threshold`."""
    group = election.group
    first_id = 1
    for item_index, item in enumerate(trustees.items):
        if isinstance(item, SingleItem):
            tid = first_id
            first_id += 1
            res.count += 1
            try:
                check_trustee_public_key(group, item.key, where=Location(trustee=tid))
            except VicheError as exc:
                run.fail("setup.trustees", exc, trustee=tid)
            continue
        assert isinstance(item, PedersenItem)
        params = item.params
        ids = range(first_id, first_id + params.size)
        first_id += params.size
        for z, tid in enumerate(ids):
            res.count += 1
            where = Location(trustee=tid, path=(f"Pedersen item {item_index + 1}, index {z + 1}",))
            cert = params.certs[z]
            try:
                check_cert(group, cert, where.sub("cert"))
            except VicheError as exc:
                run.fail("setup.trustees", exc, trustee=tid)
            try:
                check_coefexps(
                    group, cert, params.coefexps[z], params.threshold, where.sub("coefexps")
                )
            except VicheError as exc:
                run.fail("setup.trustees", exc, trustee=tid)
            try:
                _check_verification_key(
                    group, params.coefexps, params.verification_keys[z], z + 1, where
                )
            except VicheError as exc:
                run.fail("setup.trustees", exc, trustee=tid)


def _check_verification_key(
    group: Group,
    coefexps: Sequence[Coefexps],
    key: TrusteePublicKey,
    j: int,
    where: Location,
) -> None:
    w = where.sub("verification key")
    if key.public_key != expected_verification_key(group, coefexps, j):
        raise KeyCeremonyError("verification key is not the product of the coefexps", where=w)
    check_trustee_public_key(group, key, where=w)


@dataclass(frozen=True)
class SetupBytes:
    """The four setup members, exact bytes (a whole record has the same attributes)."""

    election: bytes = field(repr=False)
    trustees: bytes = field(repr=False)
    public_credentials: bytes = field(repr=False)
    setup_data: bytes = field(repr=False)


class SetupSource(Protocol):
    """Where the setup members come from (a :class:`SetupBytes` or a whole record)."""

    @property
    def election(self) -> bytes: ...
    @property
    def trustees(self) -> bytes: ...
    @property
    def public_credentials(self) -> bytes: ...
    @property
    def setup_data(self) -> bytes: ...


def check_setup(
    run: Run, record: SetupSource
) -> tuple[Election | None, Trustees | None, PublicCredentials | None]:
    """Run the ``setup.*`` checks; returns what could be read (None for what could not)."""
    rep = run.report
    election: Election | None = None
    trustees: Trustees | None = None
    credentials: PublicCredentials | None = None
    # election
    res = run.r("setup.election")
    res.count = 1
    try:
        election = Election.from_bytes(record.election, Location(event=0, path=("election",)))
    except VicheError as exc:
        run.fail("setup.election", exc, event=0)
    # setup_data
    res = run.r("setup.setup_data")
    res.count = 1
    try:
        sd = SetupData.from_bytes(record.setup_data)
        for key, raw in (
            ("election", record.election),
            ("trustees", record.trustees),
            ("credentials", record.public_credentials),
        ):
            if getattr(sd, key) != sha256_hex(raw):
                raise ChainError(
                    f"setup_data.{key} is not the hash of the {key} member",
                    where=Location(event=0, path=("setup_data", key)),
                )
    except VicheError as exc:
        run.fail("setup.setup_data", exc, event=0)
    # trustees
    res = run.r("setup.trustees")
    try:
        trustees = Trustees.from_bytes(record.trustees, _TRUSTEES)
    except VicheError as exc:
        run.fail("setup.trustees", exc, event=0)
    if election is not None and trustees is not None:
        _check_pedersen(run, trustees, election, res)
        res2 = run.r("setup.public_key")
        res2.count = 1
        try:
            y = trustees.public_key(election.group)
            if y != election.public_key.y:
                raise KeyCeremonyError(
                    "election public key is not the product of the trustees' keys",
                    where=Location(event=0, path=("election", "public_key")),
                )
        except VicheError as exc:
            run.fail("setup.public_key", exc, event=0)
    else:
        run.na("setup.public_key", "needs a valid election and trustees")
    # credentials
    res = run.r("setup.credentials")
    try:
        credentials = PublicCredentials.from_bytes(record.public_credentials, _CREDENTIALS)
        res.count = len(credentials)
        if election is not None:
            for i in check_credential_members(election, credentials, jobs=run.report.jobs):
                run.fail(
                    "setup.credentials",
                    GroupMembershipError(
                        f"public credential is not an element of group {election.group.name}",
                        where=sub(_CREDENTIALS, i),
                    ),
                    event=0,
                )
    except VicheError as exc:
        run.fail("setup.credentials", exc, event=0)
    if rep is not None and credentials is not None:
        rep.counts["credentials"] = len(credentials)
    return election, trustees, credentials
