"""``viche verify --receipts DIR``: every receipt a server signed, checked against its record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.cli import run_cli
from support.web import Served
from viche.protocol import codec
from viche.record.events import EventType
from viche.service.receipts import Receipt, ReceiptKey, parse_receipt


def _vote(s: Served, n: int) -> bytes:
    return codec.to_bytes(s.cast(n, "receipts")[1]["receipt"])


def _archive(s: Served, tmp: Path) -> Path:
    d = tmp / "record"
    d.mkdir()
    (d / f"{s.uuid}.bel").write_bytes(
        s.client.get(f"/api/v1/elections/{s.uuid}/archive.bel").content
    )
    return d


def _verify(archive: Path, receipts: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = run_cli(
        "verify", str(archive), "--jobs", "1", "--json", "--receipts", str(receipts), *extra
    )
    return done.code, json.loads(done.stdout)


def _receipts_check(report: dict[str, Any]) -> dict[str, Any]:
    checks = report["checks"]
    assert isinstance(checks, list)
    (found,) = [c for c in checks if c["name"] == "receipts"]
    assert isinstance(found, dict)
    return found


def test_every_receipt_is_confirmed_or_named(served: Served, tmp_path: Path) -> None:
    s = served
    folder = tmp_path / "receipts"
    folder.mkdir()
    for n in (1, 2):
        (folder / f"voter{n}.receipt.json").write_bytes(_vote(s, n))
    s.store.append(EventType.END_BALLOTS, [], expected_head=s.store.head().hash)
    record = _archive(s, tmp_path)
    key = s.host.receipt_key(s.uuid)
    code, report = _verify(record, folder, "--receipt-key", key.public)
    assert code == 0 and report["ok"] is True
    check = _receipts_check(report)
    assert check["status"] == "passed" and check["count"] == 2
    # the server's key signed a ballot that is not where it said: evidence of a drop
    first = parse_receipt((folder / "voter1.receipt.json").read_bytes()).receipt
    dropped = key.sign(Receipt(**{**first.to_json(), "ballot_hash": "0" * 64}))
    (folder / "lost.json").write_bytes(dropped.to_bytes())
    # a receipt made by someone else's key proves nothing about this server
    other = ReceiptKey.load_or_create(tmp_path / "other.key")
    forged = other.sign(Receipt(**{**first.to_json(), "key": other.public}))
    (folder / "forged.json").write_bytes(forged.to_bytes())
    (folder / "garbage.json").write_text("{not json")
    code, report = _verify(record, folder, "--receipt-key", key.public)
    assert code == 1 and report["ok"] is False
    check = _receipts_check(report)
    assert check["status"] == "failed" and check["count"] == 5
    by_file = {Path(f["where"]["file"]).name: f for f in check["failures"]}
    assert set(by_file) == {"lost.json", "forged.json", "garbage.json"}
    assert by_file["lost.json"]["code"] == "V5001" and by_file["lost.json"]["height"] == 1
    assert by_file["forged.json"]["code"] == "V2002"
    assert by_file["garbage.json"]["code"] == "V1001"
    # the table names each failing file too
    text = run_cli("verify", str(record), "--jobs", "1", "--receipts", str(folder),
                   "--receipt-key", key.public)  # fmt: skip
    assert text.code == 1
    for name in ("lost.json", "forged.json", "garbage.json"):
        assert name in text.stdout
    # without the published key the note says what was not checked
    code, report = _verify(record, folder)
    assert "--receipt-key" in str(_receipts_check(report)["note"])


def test_receipts_of_other_elections_are_skipped(served: Served, tmp_path: Path) -> None:
    """A relay's folder may hold the receipts of several elections: those of another
    election say nothing about this record and are skipped with a note, not failed."""
    s = served
    folder = tmp_path / "receipts"
    folder.mkdir()
    (folder / "mine.json").write_bytes(_vote(s, 1))
    record = _archive(s, tmp_path)
    key = s.host.receipt_key(s.uuid)
    mine = parse_receipt((folder / "mine.json").read_bytes()).receipt
    other_key = ReceiptKey.load_or_create(tmp_path / "other.key")
    elsewhere = Receipt(**{**mine.to_json(), "election": "Zz9otherElectn", "key": other_key.public})
    (folder / "elsewhere.json").write_bytes(other_key.sign(elsewhere).to_bytes())
    code, report = _verify(record, folder, "--receipt-key", key.public)
    assert code == 0 and report["ok"] is True, report
    check = _receipts_check(report)
    assert check["status"] == "passed" and check["count"] == 1
    assert "1 receipt(s) of other elections skipped (elsewhere.json)" in check["note"]
    (folder / "mine.json").unlink()  # only another election's receipts: nothing to check
    code, report = _verify(record, folder, "--receipt-key", key.public)
    assert code == 0 and _receipts_check(report)["status"] == "not applicable", report


def test_a_missing_receipts_folder_is_a_usage_error(served: Served, tmp_path: Path) -> None:
    record = _archive(served, tmp_path)
    done = run_cli("verify", str(record), "--receipts", str(tmp_path / "none"))
    assert done.code == 2 and "receipts folder not found" in done.stderr
