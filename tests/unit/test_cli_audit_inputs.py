"""Wrong input met by a user of the CLI (the audit of 2026-12-05): each gives one line
naming what is wrong and where, a stable error code and exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.cli import CliRun, run_cli


def _one_error_line(run: CliRun, code: str, fragment: str) -> None:
    assert run.code == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"error [{code}] ") and fragment in lines[0], lines[0]


@pytest.fixture()
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "archive.bel"
    path.write_bytes(b"not a folder")
    return path


def test_mirror_into_a_file_is_a_usage_error(a_file: Path) -> None:
    run = run_cli("mirror", "http://127.0.0.1:9/api/v1/elections/U", str(a_file), "--once")
    _one_error_line(run, "V9001", "expected a folder, found a file")


def test_monitor_store_that_is_a_file_is_a_usage_error(a_file: Path, tmp_path: Path) -> None:
    posts = tmp_path / "posts.csv"
    posts.write_text("id,author,text,created_at\n1,a,hello,2024-11-02T10:00:00\n")
    run = run_cli("monitor", "ingest", str(posts), "--store", str(a_file))
    _one_error_line(run, "V9001", "expected a folder, found a file")


@pytest.mark.parametrize("key", ["zzz", "", "AAAA", "A" * 44])
def test_receipt_check_refuses_a_malformed_key(key: str, tmp_path: Path) -> None:
    """A key that is not Base64 of 32 bytes is named as the bad input (it was reported as
    'signed with another key', as if the receipt were at fault)."""
    receipt, archive = tmp_path / "r.json", tmp_path / "a.bel"
    receipt.write_text("{}")
    archive.write_bytes(b"")
    run = run_cli("receipt", "check", str(receipt), str(archive), "--key", key)
    _one_error_line(run, "V9000", "not an Ed25519 public key")
    assert "--key" in run.stderr


def test_verify_refuses_a_malformed_receipt_key(tmp_path: Path) -> None:
    (tmp_path / "receipts").mkdir()
    archive = tmp_path / "a.bel"
    archive.write_bytes(b"")
    run = run_cli(
        "verify", str(archive), "--receipts", str(tmp_path / "receipts"), "--receipt-key", "zzz"
    )
    _one_error_line(run, "V9000", "not an Ed25519 public key")
    assert "--receipt-key" in run.stderr


def test_verify_receipts_that_is_a_file_says_so(a_file: Path) -> None:
    run = run_cli("verify", str(a_file), "--receipts", str(a_file))
    _one_error_line(run, "V9001", "expected a folder, found a file")


def test_mirror_that_never_reached_the_server_fails(tmp_path: Path) -> None:
    """A mirror with no copy yet whose first fetch fails (a URL that is down, or wrong)
    stops at once with exit 2: it retried forever, or exited 0 with --updates, having
    copied nothing."""
    run = run_cli(
        "mirror", "http://127.0.0.1:9/api/v1/elections/U", str(tmp_path / "m"),
        "--updates", "3", "--interval", "0.1",
    )  # fmt: skip
    _one_error_line(run, "V9000", "cannot fetch the archive")
    assert "unreachable" not in run.stdout


def test_monitor_ingest_says_a_file_is_not_utf8(tmp_path: Path) -> None:
    posts = tmp_path / "posts.csv"
    posts.write_bytes(
        b"id,author,text,created_at\n" + "1,a,Привіт,2024-11-02T10:00:00\n".encode("cp1251")
    )
    run = run_cli("monitor", "ingest", str(posts), "--store", str(tmp_path / "store"))
    assert run.code == 0, run.stderr
    assert "6 byte(s) not UTF-8" in run.stderr and "another encoding" in run.stderr


def test_a_database_that_cannot_be_reached_says_why_without_its_password() -> None:
    """``viche serve --database`` at a port where nothing listens said only
    'OperationalError' (the audit): the driver's reason is given, the password never."""
    from viche.errors import DatabaseError
    from viche.record.sql import SqlBoard

    with pytest.raises(DatabaseError) as caught:
        SqlBoard.open("postgresql://someone:s3cretpw@127.0.0.1:1/nothing")
    text = f"{caught.value} {caught.value.where}"
    assert "Connection refused" in text and "s3cretpw" not in text


def test_the_printed_vote_command_runs_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's first command is ``.venv/bin/viche serve --demo``: the venv is not
    activated, so the ``viche vote …`` line it printed failed with 'command not found'
    (the audit). The command is named as the user ran it unless PATH finds that one."""
    import sys

    from viche.cli.output import command_name

    script = tmp_path / ".venv" / "bin" / "viche"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/viche", "serve", "--demo"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert command_name() == ".venv/bin/viche"
    monkeypatch.setenv("PATH", str(script.parent))
    assert command_name() == "viche"
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/x/__main__.py", "serve"])
    assert command_name() == "viche"
    monkeypatch.setattr(sys, "argv", ["/my dir/viche", "serve"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert command_name() == "'/my dir/viche'"


@pytest.mark.parametrize("value", ["two", "-1", "65", "", "²"])
def test_serve_refuses_a_malformed_number_of_check_processes(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VICHE_CHECK_PROCESSES is named as the bad input before anything is made (it was an
    int() traceback in each worker)."""
    monkeypatch.setenv("VICHE_CHECK_PROCESSES", value)
    run = run_cli("serve", "--data", str(tmp_path / "data"), "--port", "9")
    _one_error_line(run, "V9000", "check processes per worker")
    assert "VICHE_CHECK_PROCESSES" in run.stderr
    assert not (tmp_path / "data").exists()


def test_vote_reads_a_login_with_spaces(tmp_path: Path) -> None:
    """The login file is 'LOGIN SECRET': the secret is its last word (it has no space), the
    login what comes before, spaces included (a roll may hold 'Олена Петренко'). Read
    this way, the vote goes on to the server (here one that is down)."""
    from viche.crypto.group import BELENIOS_2048
    from viche.crypto.rng import SeededRandom
    from viche.service.credentials import counted_voters, generate_credentials

    rng = SeededRandom("login")
    cset = generate_credentials(BELENIOS_2048, "AbcDefGhi23456", counted_voters(1), rng)
    (tmp_path / "v.cred").write_text(cset.private[0] + "\n")
    (tmp_path / "v.login").write_text("Олена Петренко Wj8x0s-Yq3gkZ1mN2pL4rA\n")
    (tmp_path / "choices.json").write_text("[[1,0]]")
    run = run_cli(
        "vote", "http://127.0.0.1:9", "--election", "AbcDefGhi23456",
        "--privcred", str(tmp_path / "v.cred"), "--login", str(tmp_path / "v.login"),
        "--ballot", str(tmp_path / "choices.json"),
    )  # fmt: skip
    _one_error_line(run, "V9000", "cannot reach the server")
    (tmp_path / "v.login").write_text("Wj8x0s-Yq3gkZ1mN2pL4rA\n")  # the secret alone
    run = run_cli(
        "vote", "http://127.0.0.1:9", "--election", "AbcDefGhi23456",
        "--privcred", str(tmp_path / "v.cred"), "--login", str(tmp_path / "v.login"),
        "--ballot", str(tmp_path / "choices.json"),
    )  # fmt: skip
    _one_error_line(run, "V9000", "expected one line 'LOGIN SECRET'")
