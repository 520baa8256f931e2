"""Shared fixtures: the peer tool, the reference vectors, the shared data, seeded randomness.

The election-side tests read only ``tests/vectors`` (belenios-tool reference elections and
templates, see ``tests/vectors/README.md``), so a clone of the repository alone runs them all.
``../shared`` (or ``$VICHE_SHARED``) holds the belenios-tool harness and the influence data:
a test that needs it (through the ``shared_dir`` fixture) is marked ``shared`` and is
collected only when that directory exists; the count of the other tests is the same with and
without it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from viche.crypto.rng import SeededRandom

REPO = Path(__file__).resolve().parent.parent
VECTORS = Path(__file__).resolve().parent / "vectors"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def shared_path() -> Path:
    """``../shared`` beside the repository, or ``$VICHE_SHARED``."""
    return Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))


def _missing(what: str) -> None:
    """Absent peer or service: a failure in CI, a skip on a developer's machine."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI but is absent", pytrace=False)
    pytest.skip(f"{what} is absent")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs ``shared_dir`` as ``shared``; without ``../shared`` they are
    deselected (not skipped): they are the larger interop runs and the real-data monitor
    runs, not part of the suite a lone clone runs."""
    needs_shared = [
        item for item in items if "shared_dir" in getattr(item, "fixturenames", ())
    ]
    for item in needs_shared:
        item.add_marker(pytest.mark.shared)
    if needs_shared and not shared_path().is_dir():
        config.hook.pytest_deselected(items=needs_shared)
        dropped = {id(item) for item in needs_shared}
        items[:] = [item for item in items if id(item) not in dropped]


def pytest_report_header(config: pytest.Config) -> str:
    path = shared_path()
    if path.is_dir():
        return f"shared data: {path} (tests marked 'shared' run)"
    return f"shared data: {path} absent (tests marked 'shared' are deselected)"


@pytest.fixture(scope="session")
def belenios_tool() -> str:
    path = os.environ.get("BELENIOS_TOOL") or shutil.which("belenios-tool")
    if not path:
        _missing("belenios-tool")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The belenios-tool reference elections (``tests/vectors/reference``)."""
    return VECTORS / "reference"


@pytest.fixture(scope="session")
def templates_dir() -> Path:
    """The harness's question templates (``tests/vectors/templates``: simple, large, nh)."""
    return VECTORS / "templates"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` (or ``$VICHE_SHARED``); tests using it are deselected when it is absent."""
    path = shared_path()
    if not path.is_dir():
        _missing(f"the shared data directory {path}")
    return path


@pytest.fixture(scope="session")
def belenios_harness(shared_dir: Path) -> Path:
    """The belenios-tool harness (``make_election.sh``) for the larger interop runs."""
    return shared_dir / "peers" / "belenios"


@pytest.fixture()
def rng() -> SeededRandom:
    return SeededRandom("viche-tests")
