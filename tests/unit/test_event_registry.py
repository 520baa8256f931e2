"""The voter registry import: good rows stored, bad rows refused with line and reason, people
enrolled twice refused naming both lines, re-imports reporting changes, all or nothing."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from viche.errors import (
    BadRowsError,
    ConstituencyFileError,
    DuplicateVoterError,
    Location,
    LocationInUnitError,
    MissingFileError,
    RegistryRowError,
    StorageError,
    UnknownConstituencyError,
)
from viche.event.constituencies import Constituencies, load_constituencies
from viche.event.registry import (
    COLUMNS,
    Category,
    Registry,
    Voter,
    import_registry,
    parse_row,
    write_registry_csv,
)
from viche.event.synthetic import synthetic_constituencies, synthetic_voters, unit_code


@pytest.fixture
def cons() -> Constituencies:
    # 3 regions x 2 constituencies x 4 units; unit 4 (of C001) is excluded
    return synthetic_constituencies()


def _voters() -> list[Voter]:
    return [
        Voter("V1", "C001", Category.RESIDENT, home_unit=unit_code(1), surname="Шевченко",
              given_name="Тарас", birth_date="1990-03-09", address="вул. Хрещатик, 1"),
        Voter("V2", "C002", Category.ABROAD, country="DE", city="Berlin",
              consular_post="DE-BERLIN", surname="Коваленко", given_name="Олена",
              birth_date="1985-01-02"),
        Voter("V3", "C001", Category.MILITARY, unit="A1234", surname="Бондар",
              given_name="Петро", birth_date="1999-07-07"),
        Voter("V4", "C001", Category.DISPLACED, home_unit=unit_code(4),
              current_unit=unit_code(5), surname="Ткаченко", given_name="Ірина",
              patronymic="Степанівна", birth_date="1970-11-11"),
    ]  # fmt: skip


def _write(path: Path, rows: list[dict[str, str]], header: tuple[str, ...] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def _rows(voters: list[Voter]) -> list[dict[str, str]]:
    return [v.row() for v in voters]


def _refused(path: Path, cons: Constituencies, **kw: object) -> BadRowsError:
    with pytest.raises(BadRowsError) as info:
        import_registry(path, cons, out=path.with_suffix(".sqlite"), **kw)  # type: ignore[arg-type]
    assert not path.with_suffix(".sqlite").exists()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    return info.value


def test_import_stores_every_category(tmp_path: Path, cons: Constituencies) -> None:
    src = _write(tmp_path / "r.csv", _rows(_voters()))
    result = import_registry(src, cons, out=tmp_path / "reg.sqlite")
    with result.registry as reg:
        assert result.rows == len(reg) == 4
        assert result.changes.added == 4
        assert reg.get("V3") == _voters()[2]
        assert "V2" in reg and "V9" not in reg
        assert [v.voter_id for v in reg.voters(constituency="C001")] == ["V1", "V3", "V4"]
        assert [v.voter_id for v in reg.voters(category=Category.ABROAD)] == ["V2"]
        assert reg.counts() == {
            "C001": {Category.DISPLACED: 1, Category.MILITARY: 1, Category.RESIDENT: 1},
            "C002": {Category.ABROAD: 1},
        }
        # V4's home unit is the excluded unit of C001: counted, not named
        assert reg.excluded_counts(cons) == {"C001": 1}
        assert reg.source_sha256() == hashlib.sha256(src.read_bytes()).hexdigest()


def test_personal_fields_stay_out_of_repr() -> None:
    text = repr(_voters()[0])
    assert "V1" in text
    assert "Шевченко" not in text and "Хрещатик" not in text and "1990" not in text


def test_column_order_is_free_and_default_output(tmp_path: Path, cons: Constituencies) -> None:
    header = tuple(reversed(COLUMNS))
    src = _write(tmp_path / "r.csv", _rows(_voters()), header)
    result = import_registry(src, cons)
    assert result.registry.path == tmp_path / "r.sqlite"
    assert len(result.registry) == 4
    result.registry.close()


@pytest.mark.parametrize(
    ("change", "kind", "column", "reason"),
    [
        ({"home_constituency": "C999"}, UnknownConstituencyError, "home_constituency",
         "unknown constituency 'C999'"),
        ({"home_unit": unit_code(9)}, UnknownConstituencyError, "home_unit",
         "lies in constituency"),
        ({"home_unit": unit_code(999)}, UnknownConstituencyError, "home_unit",
         "unknown territorial unit"),
        ({"home_unit": "Kyiv"}, RegistryRowError, "home_unit", "'UA' and 17 digits"),
        ({"category": "tourist"}, RegistryRowError, "category", "not one of"),
        ({"voter_id": "V 1"}, RegistryRowError, "voter_id", "voter id"),
        ({"birth_date": "1990-02-30"}, RegistryRowError, "birth_date", "YYYY-MM-DD"),
        ({"birth_date": "2999-01-01"}, RegistryRowError, "birth_date", "YYYY-MM-DD"),
        ({"surname": ""}, RegistryRowError, "surname", "required"),
        ({"given_name": "R2D2"}, RegistryRowError, "given_name", "letters"),
        ({"address": ""}, RegistryRowError, "address", "required for category resident"),
        ({"unit": "A1234"}, RegistryRowError, "unit", "does not apply"),
        ({"address": "a\x07b"}, RegistryRowError, "address", "control characters"),
    ],
)  # fmt: skip
def test_bad_resident_rows(
    tmp_path: Path,
    cons: Constituencies,
    change: dict[str, str],
    kind: type[Exception],
    column: str,
    reason: str,
) -> None:
    rows = _rows(_voters())
    rows[0].update(change)
    err = _refused(_write(tmp_path / "r.csv", rows), cons)
    assert len(err.rows) == 1
    row = err.rows[0]
    assert isinstance(row, kind)
    assert row.where == Location(file=str(tmp_path / "r.csv"), line=2, path=(column,))
    assert reason in row.message
    assert "nothing was stored" in err.message


@pytest.mark.parametrize(
    ("unit", "kind", "reason"),
    [
        ("50.4501, 30.5234", LocationInUnitError, "coordinates"),
        ("48.5N 37.9E", LocationInUnitError, "coordinates"),
        ("Громада 3", LocationInUnitError, "names a place"),
        ("регіон 2", LocationInUnitError, "names a place"),
        ("near the river bend", LocationInUnitError, "free text"),
        ("A12345", RegistryRowError, "four digits"),
        ("", RegistryRowError, "required"),
    ],
)
def test_a_unit_that_looks_like_a_location_is_refused(
    tmp_path: Path, cons: Constituencies, unit: str, kind: type[Exception], reason: str
) -> None:
    rows = _rows(_voters())
    rows[2]["unit"] = unit
    err = _refused(_write(tmp_path / "r.csv", rows), cons)
    (row,) = err.rows
    assert isinstance(row, kind)
    assert row.where.line == 4 and row.where.path == ("unit",)
    assert reason in row.message


@pytest.mark.parametrize("column", ["country", "city", "address", "current_unit"])
def test_a_soldier_location_is_never_stored(
    tmp_path: Path, cons: Constituencies, column: str
) -> None:
    rows = _rows(_voters())
    rows[2][column] = unit_code(5) if column == "current_unit" else "DE"
    err = _refused(_write(tmp_path / "r.csv", rows), cons)
    (row,) = err.rows
    assert isinstance(row, LocationInUnitError)
    assert row.where.path == (column,) and "never stored" in row.message


def test_abroad_and_displaced_rules(tmp_path: Path, cons: Constituencies) -> None:
    rows = _rows(_voters())
    rows[1]["country"] = "UA"
    rows[1]["consular_post"] = "Berlin"
    rows[3]["current_unit"] = unit_code(4)  # the excluded unit: no vote can be held there
    err = _refused(_write(tmp_path / "r.csv", rows), cons)
    assert [(e.where.line, e.where.path) for e in err.rows] == [
        (3, ("country",)),
        (5, ("current_unit",)),
    ]
    assert "excluded unit" in err.rows[1].message


def test_a_person_enrolled_twice_names_both_lines(tmp_path: Path, cons: Constituencies) -> None:
    voters = _voters()
    same_id = Voter("V1", "C002", Category.ABROAD, country="PL", city="Kraków",
                    consular_post="PL-KRAKOW", surname="Інший", given_name="Іван",
                    birth_date="1960-01-01")  # fmt: skip
    # the same person under another id: names differ only by case, spaces and apostrophe form
    same_person = Voter("V9", "C002", Category.ABROAD, country="CZ", city="Praha",
                        consular_post="CZ-PRAHA", surname="ткаченко", given_name="ІРИНА",
                        patronymic="Степанівна", birth_date="1970-11-11")  # fmt: skip
    rows = _rows([*voters, same_id, same_person])
    err = _refused(_write(tmp_path / "r.csv", rows), cons)
    assert all(isinstance(e, DuplicateVoterError) for e in err.rows)
    messages = sorted(e.message for e in err.rows)
    assert any("'V1'" in m and "line 2" in m and "line 6" in m for m in messages)
    assert any("line 5" in m and "line 7" in m for m in messages)


def test_malformed_csv(tmp_path: Path, cons: Constituencies) -> None:
    good = _write(tmp_path / "r.csv", _rows(_voters())).read_text(encoding="utf-8")
    lines = good.splitlines()
    lines.insert(2, "V7,too,few")
    lines.insert(3, "")  # blank lines are skipped
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + '\nV8,"unterminated\n', encoding="utf-8")
    err = _refused(bad, cons)
    assert [(type(e), e.where.line) for e in err.rows] == [
        (RegistryRowError, 3),
        (RegistryRowError, 8),
    ]
    assert "expected 14 fields, got 3" in err.rows[0].message


def test_bytes_that_are_not_utf8(tmp_path: Path, cons: Constituencies) -> None:
    src = _write(tmp_path / "r.csv", _rows(_voters()))
    data = src.read_bytes().replace(b"Berlin", b"Ber\xfflin")
    src.write_bytes(data)
    err = _refused(src, cons)
    (row,) = err.rows
    assert row.where.line == 3 and row.where.path == ("city",)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (COLUMNS[:-1], "missing 'current_unit'"),
        ((*COLUMNS, "gps"), "unknown 'gps'"),
    ],
)
def test_bad_header(
    tmp_path: Path, cons: Constituencies, header: tuple[str, ...], reason: str
) -> None:
    src = tmp_path / "r.csv"
    src.write_text(",".join(header) + "\n", encoding="utf-8")
    with pytest.raises(RegistryRowError) as info:
        import_registry(src, cons)
    assert reason in info.value.message and info.value.where.line == 1
    assert not src.with_suffix(".sqlite").exists()


def test_empty_and_missing_files(tmp_path: Path, cons: Constituencies) -> None:
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(RegistryRowError, match="empty file"):
        import_registry(tmp_path / "e.csv", cons)
    with pytest.raises(MissingFileError):
        import_registry(tmp_path / "nope.csv", cons)
    with pytest.raises(MissingFileError):
        Registry.open(tmp_path / "nope.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all, just bytes" * 100)
    with pytest.raises(StorageError):
        Registry.open(tmp_path / "junk.sqlite")


def test_errors_are_bounded(tmp_path: Path, cons: Constituencies) -> None:
    rows = _rows(_voters())
    bad = [dict(rows[0], voter_id=f"X{i}", home_constituency="nowhere") for i in range(30)]
    err = _refused(_write(tmp_path / "r.csv", bad), cons, max_errors=5)
    assert len(err.rows) == 5
    assert err.message.startswith("30 bad row(s)") and "first 5 listed" in err.message


def test_reimport_reports_changes_and_replaces(tmp_path: Path, cons: Constituencies) -> None:
    first = import_registry(_write(tmp_path / "a.csv", _rows(_voters())), cons,
                            out=tmp_path / "reg.sqlite")  # fmt: skip
    v = _voters()
    moved = Voter("V2", "C003", Category.ABROAD, country="DE", city="Berlin",
                  consular_post="DE-BERLIN", surname="Коваленко", given_name="Олена",
                  birth_date="1985-01-02")  # fmt: skip
    changed = Voter("V3", "C001", Category.MILITARY, unit="B0001", surname="Бондар",
                    given_name="Петро", birth_date="1999-07-07")  # fmt: skip
    added = Voter("V5", "C004", Category.MILITARY, unit="A0005", surname="Мороз",
                  given_name="Анна", birth_date="2001-05-05")  # fmt: skip
    second = import_registry(
        _write(tmp_path / "b.csv", _rows([v[0], moved, changed, added])), cons, first.registry
    )
    assert second.registry.path == tmp_path / "reg.sqlite"
    c = second.changes
    assert (c.added, c.removed, c.moved, c.changed) == (1, 1, 1, 1)
    assert c.examples == {
        "added": ("V5",),
        "removed": ("V4",),
        "moved": ("V2",),
        "changed": ("V3",),
    }
    assert c.to_json()["moved"] == 1
    assert second.registry.get("V2") == moved and "V4" not in second.registry
    first.registry.close()
    second.registry.close()


def test_refused_reimport_changes_nothing(tmp_path: Path, cons: Constituencies) -> None:
    first = import_registry(_write(tmp_path / "a.csv", _rows(_voters())), cons,
                            out=tmp_path / "reg.sqlite")  # fmt: skip
    before = (tmp_path / "reg.sqlite").read_bytes()
    rows = _rows(_voters())
    rows[0]["home_constituency"] = "C999"
    with pytest.raises(BadRowsError):
        import_registry(_write(tmp_path / "b.csv", rows), cons, first.registry)
    assert (tmp_path / "reg.sqlite").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv", "reg.sqlite"]
    assert len(first.registry) == 4
    first.registry.close()


def test_parse_row_names_the_column(cons: Constituencies) -> None:
    row = _voters()[0].row()
    assert parse_row(row, Location(line=2), cons) == _voters()[0]
    row["home_constituency"] = "C0"
    with pytest.raises(UnknownConstituencyError) as info:
        parse_row(row, Location(line=2), cons)
    assert info.value.where == Location(line=2, path=("home_constituency",))


def test_short_synthetic_import(tmp_path: Path, cons: Constituencies) -> None:
    """50,000 synthetic voters of all four categories (the bench runs 5 million)."""
    src = tmp_path / "s.csv"
    assert write_registry_csv(src, synthetic_voters(cons, 50_000, seed=3)) == 50_000
    seen: list[tuple[int, int]] = []
    result = import_registry(src, cons, progress=lambda done, total: seen.append((done, total)))
    with result.registry as reg:
        assert len(reg) == 50_000
        counts = reg.counts()
        assert sum(n for per in counts.values() for n in per.values()) == 50_000
        assert all(len(per) == 4 for per in counts.values())
        assert reg.excluded_counts(cons)["C001"] > 0
        assert set(reg.excluded_counts(cons)) == {"C001"}
    assert seen[-1] == (src.stat().st_size, src.stat().st_size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_constituency_file(tmp_path: Path, cons: Constituencies) -> None:
    import json

    path = tmp_path / "c.json"
    path.write_text(json.dumps(cons.to_json()), encoding="utf-8")
    again = load_constituencies(path)
    assert again == cons
    assert again.region_of("C003") == "R02"
    assert again.constituency_of_unit(unit_code(9)) == "C003"
    assert again.excluded_units_of("C001") == (unit_code(4),)
    assert again.excluded_units_of("C002") == ()
    assert again.by_region({"C001": 2, "C002": 3, "C005": 1}) == {"R01": 5, "R03": 1}
    broken = cons.to_json()
    broken["units"][0]["constituency"] = "C999"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ConstituencyFileError) as info:
        load_constituencies(path)
    assert info.value.where == Location(file=str(path), path=("units", "0", "constituency"))
    broken = cons.to_json()
    broken["excluded_units"].append({"code": unit_code(777), "reason": "occupied"})
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ConstituencyFileError, match="not a listed territorial unit"):
        load_constituencies(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(ConstituencyFileError, match="not UTF-8 JSON"):
        load_constituencies(path)
    with pytest.raises(MissingFileError):
        load_constituencies(tmp_path / "none.json")
