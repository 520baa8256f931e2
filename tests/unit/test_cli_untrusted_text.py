"""Text from an archive is printed as text: an event type, an unknown key, a group name, a
trustee kind or a result cell holding Rich markup (``[/x]``, ``[/]``, ``[bold]``) gives a
FAIL line that quotes it verbatim and exit code 1, never a MarkupError (exit 3)."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.cli import run_cli
from viche.cli import output
from viche.testing.archive_edit import Members, event_type, rebuild, split
from viche.testing.factories import make_election

CLI = Path(output.__file__).parent


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run, _ = make_election(tmp_path_factory.mktemp("markup") / "e", seed="markup")
    return run.archive


def _edit_data(
    members: Members, wanted: Callable[[Any], bool], change: Callable[[Any], None]
) -> Members:
    """Change the first JSON data member for which ``wanted`` holds."""
    out = list(members)
    for i, (name, content) in enumerate(out):
        if name.endswith(".data.json"):
            value = json.loads(content)
            if wanted(value):
                change(value)
                out[i] = (name, json.dumps(value, separators=(",", ":")).encode())
                return out
    raise AssertionError("no such member")


def _event_type(members: Members, old: str, new: str) -> Members:
    out = list(members)
    for i, (name, content) in enumerate(out):
        if name.endswith(".event.json") and event_type(content) == old:
            ev = json.loads(content)
            ev["type"] = new
            out[i] = (name, json.dumps(ev, separators=(",", ":")).encode())
            return out
    raise AssertionError("no such event")


def _is_election(v: Any) -> bool:
    return isinstance(v, dict) and "questions" in v


def _is_trustees(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and isinstance(v[0], list) and v[0][0] == "Single"


def _is_result(v: Any) -> bool:
    return isinstance(v, dict) and set(v) == {"result"}


def _set_key(v: dict[str, Any], text: str) -> None:
    v[text] = 1


def _set_group(v: dict[str, Any], text: str) -> None:
    v["group"] = text


def _set_kind(v: list[list[Any]], text: str) -> None:
    v[0][0] = text


def _set_cell(v: dict[str, list[list[Any]]], text: str) -> None:
    v["result"][0][0] = text


EDITS: dict[str, Callable[[Members, str], Members]] = {
    "event type": lambda m, t: _event_type(m, "EndBallots", t),
    "unknown key": lambda m, t: _edit_data(m, _is_election, lambda v: _set_key(v, t)),
    "group name": lambda m, t: _edit_data(m, _is_election, lambda v: _set_group(v, t)),
    "trustee kind": lambda m, t: _edit_data(m, _is_trustees, lambda v: _set_kind(v, t)),
    "result cell": lambda m, t: _edit_data(m, _is_result, lambda v: _set_cell(v, t)),
}
TEXTS = ["[/x]", "a[/]b", "[bold]c[/bold]", ":smile: [red]d"]


def _write(members: Members, mtime: int, directory: Path) -> Path:
    directory.mkdir(parents=True)
    bel = directory / "x.bel"
    bel.write_bytes(rebuild(members, mtime))
    return bel


def _fail_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("FAIL ")]


@pytest.mark.parametrize("where", sorted(EDITS))
@pytest.mark.parametrize("text", TEXTS)
def test_verify_quotes_markup_from_the_archive_verbatim(
    archive: Path, tmp_path: Path, where: str, text: str
) -> None:
    members, mtime = split(archive)
    bel = _write(EDITS[where](members, text), mtime, tmp_path / "a")
    run = run_cli("verify", str(bel), "--jobs", "1")
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    # a FAIL line (or, for a result cell, the printed result) quotes the text as it is
    quoted = _fail_lines(run.stdout) + [
        x for x in run.stdout.splitlines() if x.startswith("result:")
    ]
    assert any(text in line for line in quoted), run.stdout


def test_the_untouched_archive_passes(archive: Path, tmp_path: Path) -> None:
    members, mtime = split(archive)
    run = run_cli("verify", str(_write(members, mtime, tmp_path / "a")), "--jobs", "1")
    assert run.code == 0, run.stdout
    assert _fail_lines(run.stdout) == []
    assert "all checks passed" in run.stdout


@pytest.mark.parametrize("text", TEXTS)
def test_verify_diff_quotes_markup_from_the_archive_verbatim(
    archive: Path, tmp_path: Path, text: str
) -> None:
    members, mtime = split(archive)
    old = _write(members, mtime, tmp_path / "old")
    new = _write(EDITS["event type"](members, text), mtime, tmp_path / "new")
    run = run_cli("verify-diff", str(old), str(new))
    assert run.code == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert any(text in line for line in _fail_lines(run.stdout)), run.stdout
    same = run_cli("verify-diff", str(old), str(old))
    assert same.code == 0, same.stdout


def test_archive_path_with_markup_is_printed_verbatim(archive: Path, tmp_path: Path) -> None:
    members, mtime = split(archive)
    bel = _write(members, mtime, tmp_path / "[/x][bold]")
    run = run_cli("verify", str(bel), "--jobs", "1")
    assert run.code == 0, run.stderr
    assert "[/x][bold]" in "".join(run.stdout.split())  # the title may wrap


def test_consoles_print_text_verbatim() -> None:
    import io

    buf = io.StringIO()
    con = output.console(file=buf, width=200)
    con.print("[/x] [bold]b :smile:")
    con.print(output.line(("FAIL", "red"), " [/]"))
    assert buf.getvalue() == "[/x] [bold]b :smile:\nFAIL [/]\n"


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            )
            found.append((name, node))
    return found


@pytest.mark.parametrize("module", sorted(p.name for p in CLI.glob("*.py")))
def test_cli_modules_print_only_through_the_verbatim_consoles(module: str) -> None:
    """No console, markup column or markup parsing of its own in ``viche.cli`` (but output.py)."""
    if module == "output.py":
        return
    source = (CLI / module).read_text()
    tree = ast.parse(source)
    for name, call in _calls(tree):
        assert name not in {"Console", "TextColumn", "from_markup", "render_markup"}, (
            f"{module}:{call.lineno}: use viche.cli.output"
        )
        if name == "Panel":
            title = next((k.value for k in call.keywords if k.arg == "title"), None)
            assert not isinstance(title, ast.Constant | ast.JoinedStr), (
                f"{module}:{call.lineno}: a Panel reads a str title as markup: pass a Text"
            )
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            assert node.module != "rich.markup", f"{module}: no markup in viche.cli"
            assert not (node.module == "rich" and any(a.name == "print" for a in node.names))


def test_the_guard_sees_a_console_made_elsewhere() -> None:
    tree = ast.parse("from rich.console import Console\nc = Console()\n")
    assert [n for n, _ in _calls(tree)] == ["Console"]
