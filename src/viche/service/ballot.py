"""A voter's ballot (``election generate-ballot``): choices in, canonical ballot out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from viche.crypto.credentials import credential_secret, public_credential
from viche.crypto.rng import RandomSource
from viche.errors import BallotShapeError, JsonFormatError, Location, UnknownCredentialError
from viche.protocol import codec
from viche.protocol.ballot import ballot_bytes, make_ballot, smart_ballot_tracker
from viche.protocol.election import Election, PublicCredentials
from viche.service.files import read_bytes


@dataclass(frozen=True)
class GeneratedBallot:
    raw: bytes
    tracker: str


def parse_choices(value: object, election: Election, where: Location) -> list[list[int]]:
    """``[[0,1,0],[1,0,0,0]]``: one list of small integers per question, checked against the
    number of questions (the values themselves are checked when the ballot is made)."""
    items = codec.expect_list(value, where)
    if len(items) != len(election.questions):
        raise BallotShapeError(
            f"{len(items)} answer list(s) for {len(election.questions)} question(s)", where=where
        )
    out: list[list[int]] = []
    for i, item in enumerate(items):
        qwhere = where.at(question=i + 1)
        values = codec.expect_list(item, qwhere)
        for j, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, int):
                raise JsonFormatError(f"value {j + 1} is not an integer", where=qwhere)
        out.append(list(values))
    return out


def read_choices(path: Path, election: Election) -> list[list[int]]:
    return parse_choices(
        codec.loads(read_bytes(path, "ballot choices"), Location(file=str(path))),
        election,
        Location(file=str(path)),
    )


def generate_ballot(
    election: Election,
    credentials: PublicCredentials | None,
    private_credential: str,
    choices: list[list[int]],
    rng: RandomSource,
) -> GeneratedBallot:
    """Encrypt, prove and sign; when ``credentials`` is given, the credential must be one of
    them (a voter learns at once that she holds the wrong credential)."""
    if credentials is not None:
        group = election.group
        pub = public_credential(group, credential_secret(group, private_credential, election.uuid))
        if str(pub) not in credentials:
            raise UnknownCredentialError(
                "this private credential is not one of this election's credentials "
                "(wrong credential or wrong election)",
                where=Location(path=("--privcred",)),
            )
    ballot = make_ballot(election, election.public_key, private_credential, choices, rng)
    raw = ballot_bytes(ballot)
    return GeneratedBallot(raw, smart_ballot_tracker(raw))
