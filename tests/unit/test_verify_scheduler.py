"""``viche verify --scheduler ADDRESS``: an address that cannot be reached is one line and
exit code 2 whatever the size of the archive (a small one used to be checked locally and the
address silently ignored); a reachable scheduler is used."""

from __future__ import annotations

import importlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.cli import run_cli
from viche.service.election_run import Stop
from viche.testing.factories import make_election, plan_for
from viche.verify import stream


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plan = plan_for(voters=1, stop=Stop.CLOSED)
    run, _ = make_election(tmp_path_factory.mktemp("sched") / "e", plan)
    return run.archive


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens there any more


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:{port}", "nonsense", "foo://[/x]"])
def test_unreachable_scheduler_fails_in_one_line(
    archive: Path, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.setattr(stream, "SCHEDULER_TIMEOUT", "1s")
    where = address.format(port=_closed_port())
    run = run_cli("verify", str(archive), "--scheduler", where)
    assert run.code == 2, run.stdout + run.stderr
    assert run.stderr.startswith("error [V9000] cannot reach the dask scheduler")
    assert run.stderr.count("\n") == 1 and where in run.stderr


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    distributed: Any = importlib.import_module("distributed")  # the 'cluster' extra
    # a free port for the dashboard too: 8787 may be taken by another cluster on the machine
    # (the UserWarning saying so is an error under filterwarnings=error)
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        yield cluster.scheduler_address


def test_reachable_scheduler_checks_a_small_archive(archive: Path, scheduler: str) -> None:
    run = run_cli("verify", str(archive), "--json", "--scheduler", scheduler)
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["ok"] is True
