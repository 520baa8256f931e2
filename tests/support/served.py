"""The real ``viche serve --demo`` process for tests: start it on a port, wait until it
answers, stop it (its output returned).

A served process writes a line of the access log per request on its standard error, from
the worker's event loop: the output is read as it comes (:func:`launch`), never left in the
pipe until the stop. A pipe holds 64 KiB (some 500 requests): full, it stopped the
worker's event loop on its next line, and every request that worker held went unanswered
(a loaded run of tests/event/test_event_served_workers.py, whose 503 retries add lines,
waited 300 s for an answer)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Sequence
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


class _Output:
    """A process's output, read by a thread of its own until the process closes it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._stream = proc.stdout
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, name="served-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with self._stream:
            while chunk := os.read(self._stream.fileno(), 1 << 16):
                self._chunks.append(chunk)

    def text(self, timeout: float = 30) -> str:
        """Everything it wrote (once its process ended and the pipe is closed)."""
        self._reader.join(timeout)
        return b"".join(self._chunks).decode(errors="replace")


_outputs: weakref.WeakKeyDictionary[subprocess.Popen[bytes], _Output] = weakref.WeakKeyDictionary()


def launch(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a server process (``viche serve``, ``viche mirror --serve``), its standard
    output and error read as they come (module docstring); :func:`stop` returns them."""
    proc = subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env)  # fmt: skip
    _outputs[proc] = _Output(proc)
    return proc


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
    return launch(
        [*CLI, "serve", "--demo", "--voters", str(voters), "--data", str(data),
         "--port", str(port), "--workers", str(workers), *more],
        {**cli_env(), **env},
    )  # fmt: skip


def start_server(data: Path, port: int) -> subprocess.Popen[bytes]:
    """``viche serve`` without a demo: elections are created over the API (the server
    administrator's secret is in DATA/admin.secret)."""
    return launch([*CLI, "serve", "--data", str(data), "--port", str(port)], cli_env())


def wait_until_up(proc: subprocess.Popen[bytes], port: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = _outputs.get(proc)  # None: a process not started by launch()
            said = out.text() if out is not None else "(its output is the caller's)"
            raise AssertionError(f"viche serve exited {proc.returncode}: {said}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("viche serve did not start in time")


def stop(proc: subprocess.Popen[bytes]) -> str:
    """Stop a process :func:`launch` started (killed if it has not ended within 30 s); its
    whole output."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return _outputs[proc].text()


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
