"""The verifier's fast ballot path refuses oversized ballots before any parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from viche.crypto.hashing import sha256_hex
from viche.errors import BallotShapeError, Location
from viche.protocol import ballot as ballot_module
from viche.protocol.ballot import max_ballot_size
from viche.protocol.election import Election, PublicCredentials
from viche.record import read_archive
from viche.verify import ballots as verify_ballots
from viche.verify.prefill import check_ballot_fast


def _setup(reference_dir: Path) -> tuple[Election, PublicCredentials, bytes]:
    record = read_archive(reference_dir / "simple-plain-BELENIOS")
    election = Election.from_bytes(record.election)
    credentials = PublicCredentials.from_bytes(record.public_credentials)
    return election, credentials, record.ballots[0].raw


def test_oversized_ballot_is_refused_without_parsing(
    reference_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    election, credentials, raw = _setup(reference_dir)
    huge = raw[:-1] + b" " * max_ballot_size(election) + b"}"

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an oversized ballot must not be parsed")

    monkeypatch.setattr(f"{verify_ballots.__name__}.Ballot.from_bytes", no_parse)
    monkeypatch.setattr(ballot_module.Ballot, "from_bytes", no_parse)
    with pytest.raises(BallotShapeError):
        check_ballot_fast(election, huge, credentials, Location(event=1))


def test_normal_ballot_passes_the_fast_path(reference_dir: Path) -> None:
    election, credentials, raw = _setup(reference_dir)
    checked = check_ballot_fast(election, raw, credentials, Location(event=1))
    assert checked.hex_hash == sha256_hex(raw)
