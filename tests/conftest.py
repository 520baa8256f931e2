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
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from support.browser import Server
from support.served import free_port, start_demo, stop, wait_until_up
from support.web import Served, serve_prepared
from viche.crypto.rng import SeededRandom
from viche.record.sql import SqlBoard
from viche.service.admin import ensure_server_admin
from viche.service.hosting import Host
from viche.service.served_demo import PreparedDemo, prepare_demo

REPO = Path(__file__).resolve().parent.parent
VECTORS = Path(__file__).resolve().parent / "vectors"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def shared_path() -> Path:
    """``../shared`` beside the repository, or ``$VICHE_SHARED``."""
    return Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))


@pytest.fixture(autouse=True, scope="session")
def _own_case_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The monitor's known-case vectors go to a folder of the test run, not to the
    machine's cache (``viche.monitor.narratives.case_cache_dir``), unless ``$VICHE_CACHE``
    already names one."""
    with pytest.MonkeyPatch.context() as mp:
        if not os.environ.get("VICHE_CACHE"):
            mp.setenv("VICHE_CACHE", str(tmp_path_factory.mktemp("case-cache")))
        yield


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


def pytest_report_header(config: pytest.Config) -> list[str]:
    from viche.crypto.fastexp import engine

    path = shared_path()
    if path.is_dir():
        shared = f"shared data: {path} (tests marked 'shared' run)"
    else:
        shared = f"shared data: {path} absent (tests marked 'shared' are deselected)"
    return [shared, f"exponentiation engine: {engine()}"]


@pytest.fixture(scope="session")
def fastexp_c() -> ModuleType:
    """The C extension ``viche.crypto._fastexp`` (built by ``pip install``; needs gcc and
    libgmp-dev, which scripts/test installs in CI)."""
    from viche.crypto import fastexp

    if fastexp._C_BUILT is None:
        _missing(f"the C extension viche.crypto._fastexp ({fastexp._C_MISSING})")
    assert fastexp._C_BUILT is not None
    return fastexp._C_BUILT


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


@pytest.fixture()
def host(board_url: str, tmp_path: Path) -> Iterator[Host]:
    """A host on the test's board (SQLite or PostgreSQL), its server administrator's secret
    in ``tmp_path / "admin.secret"``, its keys under ``tmp_path / "keys"``."""
    board = SqlBoard.open(board_url)
    ensure_server_admin(board, tmp_path / "admin.secret")
    yield Host(board, tmp_path / "keys")
    board.close()


# ---------------------------------------------------------------- served elections (tests/web)
# A demo election prepared once per module (every role's files, voters' credentials and login
# secrets), opened on a fresh board for each test (SQLite and PostgreSQL).


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[PreparedDemo, Path]:
    directory = tmp_path_factory.mktemp("demo") / "files"
    return prepare_demo(directory, SeededRandom("web-tests"), 4), directory / "voters"


@pytest.fixture()
def served(board_url: str, tmp_path: Path, prepared: tuple[PreparedDemo, Path]) -> Iterator[Served]:
    demo, voters = prepared
    with serve_prepared(board_url, tmp_path / "keys", demo, voters) as served:
        yield served


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


# ---------------------------------------------------------------- tests in a real browser
# ``viche serve --demo`` on a random port, the screenshots' folder, axe-core (tests/browser)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    port = free_port()
    proc = start_demo(data, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, port)
        uuid = (data / "demo" / "election.uuid").read_text().strip()
        yield Server(base, uuid, data / "demo" / "voters", data)
    finally:
        stop(proc)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VICHE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def axe() -> Path:
    """axe-core from npm (``npm ci`` in tests/browser, run by scripts/test)."""
    path = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
    if not path.is_file():
        _missing("axe-core (npm ci in tests/browser)")
    return path
