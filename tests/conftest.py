"""Shared fixtures: the peer tool, the shared reference data, seeded randomness."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from viche.crypto.rng import SeededRandom

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(what: str) -> None:
    """Absent peer or service: a failure in CI, a skip on a developer's machine."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is absent", pytrace=False)
    pytest.skip(f"{what} is absent")


@pytest.fixture(scope="session")
def belenios_tool() -> str:
    path = os.environ.get("BELENIOS_TOOL") or shutil.which("belenios-tool")
    if not path:
        _missing("belenios-tool")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository (or $VICHE_SHARED)."""
    path = Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))
    if not path.is_dir():
        _missing(f"the shared data directory {path}")
    return path


@pytest.fixture(scope="session")
def belenios_harness(shared_dir: Path) -> Path:
    return shared_dir / "peers" / "belenios"


@pytest.fixture(scope="session")
def reference_dir(belenios_harness: Path) -> Path:
    return belenios_harness / "reference"


@pytest.fixture()
def rng() -> SeededRandom:
    return SeededRandom("viche-tests")
