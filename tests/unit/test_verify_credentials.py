"""Membership of the public credentials, serial and in parallel, with the bad ones named."""

from __future__ import annotations

from pathlib import Path

from gmpy2 import mpz

from viche.protocol.election import Election, PublicCredentials
from viche.record import read_archive
from viche.verify.ballots import check_credential_members


def _election(reference_dir: Path) -> Election:
    rec = read_archive(reference_dir / "simple-plain-BELENIOS")
    return Election.from_bytes(rec.election)


def test_members_and_non_members_serial_and_parallel(reference_dir: Path) -> None:
    election = _election(reference_dir)
    group = election.group
    values = [group.powg(mpz(1000 + i)) for i in range(600)]
    bad = {7, 512, 599}
    for i in bad:
        values[i] = group.p - values[i]  # -x: order 2q, not in the subgroup
    creds = PublicCredentials.build(values)
    assert check_credential_members(election, creds, jobs=1) == sorted(bad)
    assert check_credential_members(election, creds, jobs=2) == sorted(bad)


def test_all_members_give_no_index(reference_dir: Path) -> None:
    election = _election(reference_dir)
    rec = read_archive(reference_dir / "simple-plain-BELENIOS")
    creds = PublicCredentials.from_bytes(rec.public_credentials)
    assert check_credential_members(election, creds, jobs=2) == []
