"""``viche event registry import`` and ``synthetic``: the report, the refusals, the changes."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_cli


def _synthetic(tmp_path: Path, name: str, voters: int, seed: int) -> tuple[Path, Path]:
    csv_path, cons = tmp_path / f"{name}.csv", tmp_path / "c.json"
    done = run_cli("event", "registry", "synthetic", str(csv_path), "--constituencies-out",
                   str(cons), "--voters", str(voters), "--seed", str(seed))  # fmt: skip
    assert done.code == 0, done.stderr
    assert f"{voters} voter(s) written" in done.stdout
    return csv_path, cons


def test_import_prints_counts_and_changes(tmp_path: Path) -> None:
    first, cons = _synthetic(tmp_path, "a", 300, 1)
    done = run_cli("event", "registry", "import", str(first), "--constituencies", str(cons),
                   "--out", str(tmp_path / "reg.sqlite"))  # fmt: skip
    assert done.code == 0, done.stderr
    assert "300 voter(s) stored" in done.stdout
    assert "C001" in done.stdout and "displaced" in done.stdout
    assert "changes: 300 added, 0 removed, 0 moved, 0 changed" in done.stdout
    # a re-import of another draw: ids V00000001.. again, other constituencies
    second, _ = _synthetic(tmp_path, "b", 250, 2)
    done = run_cli("event", "registry", "import", str(second), "--constituencies", str(cons),
                   "--previous", str(tmp_path / "reg.sqlite"), "--json")  # fmt: skip
    assert done.code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["voters"] == 250
    assert report["registry"] == str(tmp_path / "reg.sqlite")  # the previous one, replaced
    changes = report["changes"]
    assert changes["removed"] == 50 and changes["added"] == 0
    assert changes["moved"] > 0
    assert sum(sum(per.values()) for per in report["counts"].values()) == 250
    assert set(report["excluded_unit_voters"]) == {"C001"}


def test_a_refused_import_lists_every_bad_row(tmp_path: Path) -> None:
    src, cons = _synthetic(tmp_path, "a", 20, 1)
    lines = src.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",C00", ",X00", 1)  # an unknown constituency on line 4
    lines.append(lines[5])  # the person of line 6 enrolled again
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run_cli("event", "registry", "import", str(src), "--constituencies", str(cons))
    assert done.code == 2
    assert "[V8002] unknown constituency 'X00" in done.stderr
    assert "line 4 / home_constituency" in done.stderr
    assert "[V9012] 1 bad row(s)" in done.stderr and "nothing was stored" in done.stderr
    assert not (tmp_path / "a.sqlite").exists()
    lines[3] = lines[3].replace(",X00", ",C00", 1)
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = run_cli("event", "registry", "import", str(src), "--constituencies", str(cons),
                   "--json")  # fmt: skip
    assert done.code == 2
    report = json.loads(done.stdout)
    (row,) = report["error"]["rows"]
    assert row["code"] == "V8004" and "line 6 and line 22" in row["message"]
    assert not (tmp_path / "a.sqlite").exists()


def test_missing_files_are_usage_errors(tmp_path: Path) -> None:
    done = run_cli("event", "registry", "import", str(tmp_path / "r.csv"), "--constituencies",
                   str(tmp_path / "c.json"))  # fmt: skip
    assert done.code == 2 and "V9001" in done.stderr
