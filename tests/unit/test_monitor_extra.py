"""The election side runs without the monitor's extra (numpy, pandas, networkx, matplotlib);
the monitor's commands then say which extra to install, in one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from viche.monitor import EXTRA_MODULES

# Runs ``viche ARGV`` in a fresh interpreter where the modules of the extra cannot be imported.
_WITHOUT_EXTRA = textwrap.dedent(
    """
    import sys
    from importlib.abc import MetaPathFinder

    BLOCKED = set(sys.argv[1].split(","))

    class Block(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    import importlib.util
    _find = importlib.util.find_spec
    def find_spec(name, package=None):
        return None if name.split(".")[0] in BLOCKED else _find(name, package)
    importlib.util.find_spec = find_spec

    from viche.cli.main import main
    try:
        main(sys.argv[2:])
    finally:
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        print("LOADED", loaded, file=sys.stderr)
    """
)


def _viche_without_extra(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRA, ",".join(EXTRA_MODULES), *argv],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )


def test_demo_and_verify_run_without_the_monitor_extra(tmp_path: Path) -> None:
    demo = _viche_without_extra("demo", "--voters", "2", "--dir", str(tmp_path / "e"))
    assert demo.returncode == 0, demo.stderr
    (archive,) = (tmp_path / "e").rglob("*.bel")
    verify = _viche_without_extra("verify", str(archive), "--jobs", "1")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for run in (demo, verify):
        assert "LOADED []" in run.stderr


def test_monitor_commands_name_the_missing_extra(tmp_path: Path) -> None:
    posts = tmp_path / "posts.csv"
    posts.write_text("id,author_id,created_at,text\n1,a,2026-03-01T00:00:00Z,hello\n")
    run = _viche_without_extra("monitor", "ingest", str(posts), "--store", str(tmp_path / "s"))
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if not line.startswith("LOADED")]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error [V9002] the influence monitor needs")
    assert "pip install -e '.[monitor]'" in lines[0]
    assert "numpy" in lines[0]
    assert not (tmp_path / "s").exists()  # nothing written


def test_monitor_commands_run_with_the_extra(tmp_path: Path) -> None:
    """Failure twin: with the extra installed the same command works."""
    from support.cli import run_cli

    posts = tmp_path / "posts.csv"
    posts.write_text("id,author_id,created_at,text\n1,a,2026-03-01T00:00:00Z,hello\n")
    run = run_cli("monitor", "ingest", str(posts), "--store", str(tmp_path / "s"))
    assert run.code == 0, run.stderr
    assert "1 posts added" in run.stdout
