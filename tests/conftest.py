"""Shared fixtures: the peer tool, the shared reference data, seeded randomness."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
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


POSTGRES_URL = os.environ.get("VICHE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def board_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty bulletin-board database URL: a SQLite file, or a PostgreSQL schema of
    its own (dropped afterwards) so that concurrent runs never collide."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'board.sqlite'}"
        return
    import secrets

    import sqlalchemy

    from viche.record.sql import engine_url

    schema = f"viche_test_{secrets.token_hex(6)}"
    try:
        admin = sqlalchemy.create_engine(engine_url(POSTGRES_URL))
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError:
        _missing(f"PostgreSQL at {POSTGRES_URL}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (never a downloaded browser), for Playwright's ``executable_path``;
    Playwright itself must be importable."""
    path = os.environ.get("VICHE_CHROMIUM") or shutil.which("chromium")
    if not path:
        _missing("chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright (pip install playwright; no browser download needed)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def zbarimg() -> str:
    """zbar's decoder (Debian's zbar-tools): reads the booth's QR codes back."""
    path = shutil.which("zbarimg")
    if not path:
        _missing("zbarimg (apt-get install zbar-tools)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def node() -> str:
    """Node.js (>= 18): the booth's JavaScript tests."""
    path = shutil.which("node")
    if path is None:
        _missing("node (Node.js >= 18)")
    assert path is not None
    return path
