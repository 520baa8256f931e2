"""The real ``viche serve --demo`` process for tests: start it on a port, wait until it
answers, stop it (its output returned)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support.belenios import tool_verifies

CLI = [sys.executable, "-m", "viche.cli.main"]


def free_port() -> int:
    """A TCP port of 127.0.0.1 free at this moment (the kernel's choice, so that tests
    running side by side do not pick the same one, as random ports sometimes did)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env() -> dict[str, str]:
    """The environment of a ``viche`` subprocess: this repository's sources first."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}


def start_demo(
    data: Path,
    port: int,
    voters: int = 3,
    workers: int = 1,
    database: str | None = None,
    **env: str,
) -> subprocess.Popen[bytes]:
    """``viche serve --demo`` (``database``: its ``--database``, SQLite in ``data`` if
    None; ``env``: more environment, e.g. VICHE_RATE_LIMITS)."""
    more = [] if database is None else ["--database", database]
    return subprocess.Popen(
        [*CLI, "serve", "--demo", "--voters", str(voters), "--data", str(data),
         "--port", str(port), "--workers", str(workers), *more],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**cli_env(), **env},
    )  # fmt: skip


def start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    """``viche serve`` without a demo: elections are created over the API (the server
    administrator's secret is in DATA/admin.secret)."""
    return subprocess.Popen(
        [*CLI, "serve", "--data", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=cli_env(),
    )


def wait_until_up(proc: subprocess.Popen[bytes], port: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"viche serve exited {proc.returncode}: {out}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("viche serve did not start in time")


def stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode()


def assert_record_verifies(archive: Path, belenios_tool: str) -> None:
    """``viche verify`` (a subprocess, as a user runs it) and belenios-tool both pass
    ``archive``, alone in its folder."""
    verified = subprocess.run(
        [*CLI, "verify", str(archive), "--jobs", "1"],
        capture_output=True, env=cli_env(), timeout=300, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    ok, err = tool_verifies(belenios_tool, archive.parent)
    assert ok, err
