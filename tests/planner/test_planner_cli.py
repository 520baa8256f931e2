"""``viche plan solve|budget`` as a user runs them; the report; the outline reader."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from planner_cases import PARAMS, two_towns, write_instance

from support.cli import run_cli
from viche.planner.outlines import read_dbf_column, read_polygons, simplify


def _params_file(folder: Path) -> Path:
    path = folder / "params.csv"
    rows = [
        "name,value",
        "turnout,1",
        "online_share,0",
        "opening_hours,10",
        "turnout_profile," + ";".join(["1"] * 10),
        "time_limit,20",
    ]
    path.write_text("\n".join(rows) + "\n", "utf-8")
    return path


def _inputs(command: str, demand: Path, sites: Path, *more: str) -> list[str]:
    return ["plan", command, "--demand", str(demand), "--sites", str(sites), *more]


def test_solve_writes_tables_json_and_report(tmp_path: Path) -> None:
    demand, sites = two_towns()
    sites.loc[2, "name"] = "<script>alert(1)</script> Hall"
    d, s = write_instance(tmp_path, demand, sites)
    out = tmp_path / "out"
    run = run_cli(
        *_inputs("solve", d, s),
        "--params",
        str(_params_file(tmp_path)),
        "--out",
        str(out),
    )
    assert run.code == 0, run.stderr
    assert "covered_voters" in run.stdout
    doc = json.loads((out / "plan.json").read_text("utf-8"))
    assert {st["site_id"] for st in doc["stations"]} == {"SA", "HB"}
    assert doc["summary"]["coverage_share"] > 0.99
    for name in ("stations.csv", "assignments.csv", "countries.csv", "hourly.csv"):
        assert (out / name).stat().st_size > 0
    page = (out / "report.html").read_text("utf-8")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Hall" in page
    assert page.count("data:image/png;base64,") >= 3
    assert "missions only" in page


def test_solve_with_a_bad_line_exits_2_naming_it(tmp_path: Path) -> None:
    demand, sites = two_towns()
    d, s = write_instance(tmp_path, demand, sites)
    d.write_text(d.read_text("utf-8") + "C,Town C,AAA,0,1,-4,test\n", "utf-8")
    run = run_cli(
        "plan", "solve", "--demand", str(d), "--sites", str(s), "--out", str(tmp_path / "out")
    )
    assert run.code == 2
    assert "V7001" in run.stderr and "line 4" in run.stderr and "voters" in run.stderr
    assert not (tmp_path / "out").exists()


def test_budget_command_and_infeasible_budget(tmp_path: Path) -> None:
    demand, sites = two_towns()
    d, s = write_instance(tmp_path, demand, sites)
    params = _params_file(tmp_path)
    run = run_cli(
        *_inputs("budget", d, s),
        "--params",
        str(params),
        "--share",
        "0.7",
    )
    assert run.code == 0, run.stderr
    assert "needs a budget of" in run.stdout
    run = run_cli(
        *_inputs("solve", d, s),
        "--params",
        str(params),
        "--budget",
        "100",
        "--min-coverage",
        "0.9",
        "--out",
        str(tmp_path / "o"),
    )
    assert run.code == 2
    assert "V7002" in run.stderr and "budget" in run.stderr


def test_plan_commands_have_help() -> None:
    for command in ("estimate", "solve", "budget", "world"):
        run = run_cli("plan", command, "--help")
        assert run.code == 0 and "--" in run.stdout


def _shapefile(rings: list[list[tuple[float, float]]]) -> bytes:
    points = [p for ring in rings for p in ring]
    parts = []
    at = 0
    for ring in rings:
        parts.append(at)
        at += len(ring)
    content = struct.pack("<i4dii", 5, 0, 0, 0, 0, len(parts), len(points))
    content += struct.pack(f"<{len(parts)}i", *parts)
    content += b"".join(struct.pack("<2d", *p) for p in points)
    record = struct.pack(">ii", 1, len(content) // 2) + content
    return b"\0" * 100 + record


def test_outline_reader_reads_polygons_and_dbf() -> None:
    square = [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)]
    hole = [(0.2, 0.2), (0.4, 0.2), (0.4, 0.4), (0.2, 0.2)]
    (rings,) = read_polygons(_shapefile([square, hole]))
    assert [len(r) for r in rings] == [5, 4]
    assert rings[0][2].tolist() == [1.0, 1.0]
    fields = b"ADM0_A3".ljust(11, b"\0") + b"C" + b"\0" * 4 + bytes([3]) + b"\0" * 15
    header = struct.pack("<4sIHH", b"\x03\0\0\0", 2, 32 + 32 + 1, 4) + b"\0" * 20
    dbf = header + fields + b"\x0d" + b" POL" + b" CZE"
    assert read_dbf_column(dbf, "ADM0_A3") == ["POL", "CZE"]
    assert len(simplify(rings[0], 10.0)) < len(rings[0])
    assert PARAMS.max_travel_km > 0
