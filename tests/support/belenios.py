"""Driving the peer ``belenios-tool`` from tests: one command, the verifier, the harness."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOOL_ENV = {"BELENIOS_USE_URANDOM": "1", "LC_ALL": "C"}

ToolRun = subprocess.CompletedProcess[bytes]
"""One run of belenios-tool: ``returncode``, ``stdout`` and ``stderr`` as bytes."""


class ToolFailedError(AssertionError):
    """belenios-tool exited with an error where the test expected success."""


def tool(
    belenios_tool: str,
    *args: str,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    ok: bool = True,
    timeout: float = 600,
) -> ToolRun:
    """Run ``belenios-tool ARGS`` (with the harness's environment): the one way the tests run
    the peer. Without ``cwd`` it runs in a scratch directory: some steps write files into the
    current directory (step 6 of the threshold ceremony writes every trustee's ``.dkey``).
    With ``ok`` (the default) a non-zero exit raises :class:`ToolFailedError`."""
    with tempfile.TemporaryDirectory(prefix="belenios-tool-") as scratch:
        proc = subprocess.run(
            [belenios_tool, *args],
            cwd=cwd or scratch,
            input=stdin,
            capture_output=True,
            env={**os.environ, **TOOL_ENV},
            timeout=timeout,
            check=False,
        )
    if ok and proc.returncode != 0:
        raise ToolFailedError(
            f"belenios-tool {' '.join(args)} exited {proc.returncode}: "
            f"{proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return proc


def tool_verifies(belenios_tool: str, directory: Path) -> tuple[bool, str]:
    """``election verify --dir``: (passed, stderr)."""
    proc = tool(belenios_tool, "election", "verify", "--dir", str(directory), ok=False)
    err = proc.stderr.decode(errors="replace")
    return proc.returncode == 0 and "all checks passed" in err, err


def add_event(belenios_tool: str, directory: Path, etype: str, payload: bytes = b"") -> None:
    """``archive add-event --type=T`` with the payload lines on stdin."""
    tool(belenios_tool, "archive", "add-event", "--dir", str(directory), f"--type={etype}",
         stdin=payload)  # fmt: skip


@dataclass(frozen=True)
class HarnessElection:
    """An election run by ``make_election.sh``."""

    directory: Path
    uuid: str
    result: list[Any]
    expected: Any

    @property
    def archive(self) -> Path:
        return self.directory / f"{self.uuid}.bel"


def run_harness(
    harness: Path,
    out: Path,
    *,
    group: str = "BELENIOS-2048",
    voters: int = 3,
    trustees: int = 2,
    threshold: int = 0,
    template: str = "simple",
    env: dict[str, str] | None = None,
    belenios_tool: str | None = None,
) -> HarnessElection:
    """Run the harness with small N, bulk appends and quiet output."""
    extra = {"APPEND": "py", "QUIET": "1", "JOBS": "2", **(env or {})}
    if belenios_tool:
        extra["BELENIOS_TOOL"] = belenios_tool
    proc = subprocess.run(
        ["bash", str(harness / "make_election.sh"), group, str(voters), str(trustees),
         str(threshold), str(out), template],
        capture_output=True,
        env={**os.environ, **TOOL_ENV, **extra},
        timeout=900,
        check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise ToolFailedError(
            f"make_election.sh failed: {proc.stderr.decode(errors='replace')[-2000:]}"
        )
    uuid = (out / "uuid.txt").read_text().strip()
    result = json.loads((out / "result.json").read_text())["result"]
    expected = json.loads((out / "expected.json").read_text())
    return HarnessElection(out, uuid, result, expected)
