"""The planner's three inputs, read from CSV and validated row by row.

The schemas are documented in ``docs/planner.md``; in short (one header row, UTF-8, comma-separated,
column names exact, extra columns ignored):

* **demand** ``place_id, name, country_iso3, latitude, longitude, voters[, source]``: eligible
  voters living at a place (before turnout and the online share are applied);
* **sites** ``site_id, name, country_iso3, latitude, longitude, kind, fixed_cost, day_cost,
  max_booths, max_days``: candidate polling stations (``kind`` is ``mission``, ``honorary``,
  ``hall`` or ``other``; ``fixed_cost`` is paid once if the site opens, ``day_cost`` for each
  day it is open);
* **parameters** ``name, value``: one row per :class:`Params` field that differs from its
  default.

A bad row raises :class:`~viche.errors.PlannerInputError` whose ``where`` names the file, the
line (1-based, the header is line 1) and the column.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from viche.errors import NOWHERE, Location, MissingFileError, PlannerInputError

SITE_KINDS = ("mission", "honorary", "hall", "other")
_ISO3 = re.compile(r"[A-Z]{3}")
#: eligible voters above this at one place are surely a typo (the largest city on Earth has ~40 M)
MAX_VOTERS_AT_A_PLACE = 50_000_000


@dataclass(frozen=True, slots=True)
class Params:
    """Planning parameters; units in the field names' comments. See docs/planner.md."""

    budget: float = 3_000_000.0  # currency units (EUR) for the whole network
    minutes_per_voter: float = 4.0  # mean time one voter occupies a booth (ID check included)
    opening_hours: int = 12  # hours a station is open each day
    opening_hour: int = 8  # local hour of opening (labels of the hourly profile)
    turnout_profile: tuple[float, ...] = (5, 7, 9, 10, 10, 9, 8, 8, 9, 9, 9, 7)  # weights per hour
    max_travel_minutes: float = 120.0  # travel limit, door to station
    speed_kmh: float = 60.0  # straight-line speed that turns distance into travel time
    turnout: float = 0.5  # share of eligible voters who vote at all
    online_share: float = 0.3  # share of those voters who vote online (not at a station)
    wait_target_minutes: float = 30.0  # expected wait in the peak hour must not exceed this
    booth_day_cost: float = 150.0  # one booth (kiosk, equipment, consumables) for one day
    staff_day_cost: float = 120.0  # one staff member for one day
    staff_per_station: int = 2  # chair and identity check, whatever the booths
    staff_per_booth: int = 1  # one more person per booth
    max_days: int = 2  # election days abroad (a site opens on 1..min(max_days, site's) days)
    excluded_countries: tuple[str, ...] = ("RUS", "BLR")  # no station there (aggressor states)
    mip_gap: float = 0.005  # relative gap (proven) at which the solver may stop
    time_limit: float = 40.0  # seconds for the solver (building the model comes on top)

    @property
    def max_travel_km(self) -> float:
        return self.max_travel_minutes / 60.0 * self.speed_kmh

    @property
    def in_person_share(self) -> float:
        """Share of eligible voters expected at a station: turnout × (1 - online share)."""
        return self.turnout * (1.0 - self.online_share)

    @property
    def profile(self) -> tuple[float, ...]:
        """The hourly turnout profile normalised to shares summing to 1."""
        total = sum(self.turnout_profile)
        return tuple(w / total for w in self.turnout_profile)

    def validated(self, where: Location = NOWHERE) -> Params:
        """This value if every field is in range, else :class:`PlannerInputError`."""
        checks: list[tuple[str, bool, str]] = [
            ("budget", self.budget >= 0, "must be >= 0"),
            ("minutes_per_voter", self.minutes_per_voter > 0, "must be > 0"),
            ("opening_hours", 1 <= self.opening_hours <= 24, "must be 1..24"),
            ("opening_hour", 0 <= self.opening_hour <= 23, "must be 0..23"),
            ("max_travel_minutes", self.max_travel_minutes > 0, "must be > 0"),
            ("speed_kmh", self.speed_kmh > 0, "must be > 0"),
            ("turnout", 0 <= self.turnout <= 1, "must be in [0, 1]"),
            ("online_share", 0 <= self.online_share <= 1, "must be in [0, 1]"),
            ("wait_target_minutes", self.wait_target_minutes > 0, "must be > 0"),
            ("booth_day_cost", self.booth_day_cost >= 0, "must be >= 0"),
            ("staff_day_cost", self.staff_day_cost >= 0, "must be >= 0"),
            ("staff_per_station", self.staff_per_station >= 0, "must be >= 0"),
            ("staff_per_booth", self.staff_per_booth >= 0, "must be >= 0"),
            ("max_days", 1 <= self.max_days <= 14, "must be 1..14"),
            ("mip_gap", 0 <= self.mip_gap < 1, "must be in [0, 1)"),
            ("time_limit", self.time_limit > 0, "must be > 0"),
            (
                "turnout_profile",
                len(self.turnout_profile) == self.opening_hours
                and all(w >= 0 and math.isfinite(w) for w in self.turnout_profile)
                and sum(self.turnout_profile) > 0,
                f"needs {self.opening_hours} non-negative weights (one per opening hour), "
                "not all zero",
            ),
            (
                "excluded_countries",
                all(_ISO3.fullmatch(c) for c in self.excluded_countries),
                "must be ISO 3166 alpha-3 codes separated by ';'",
            ),
        ]
        for name, ok, why in checks:
            if not ok:
                raise PlannerInputError(f"parameter {name} {why}", where=where.sub(name))
        return self

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


# ----------------------------------------------------------------------------------- CSV reading


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a schema: its name, how a cell is parsed, whether it may be absent."""

    name: str
    parse: Callable[[str], Any]
    required: bool = True
    default: Any = None


def text(cell: str) -> str:
    value = cell.strip()
    if not value:
        raise ValueError("is empty")
    return value


def iso3(cell: str) -> str:
    value = cell.strip()
    if not _ISO3.fullmatch(value):
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-3 country code (3 capital letters)")
    return value


def number(low: float | None = None, high: float | None = None) -> Callable[[str], float]:
    def parse(cell: str) -> float:
        try:
            value = float(cell.strip())
        except ValueError:
            raise ValueError(f"{cell.strip()!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{cell.strip()!r} is not a finite number")
        if low is not None and value < low:
            raise ValueError(f"{value:g} is below {low:g}")
        if high is not None and value > high:
            raise ValueError(f"{value:g} is above {high:g}")
        return value

    return parse


def optional_number(low: float | None = None) -> Callable[[str], float]:
    """A number, or NaN for an empty cell."""
    parse_number = number(low)

    def parse(cell: str) -> float:
        return math.nan if not cell.strip() else parse_number(cell)

    return parse


def integer(low: int, high: int) -> Callable[[str], int]:
    def parse(cell: str) -> int:
        text = cell.strip()
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise ValueError(f"{value} is not in {low}..{high}")
        return value

    return parse


def _kind(cell: str) -> str:
    value = cell.strip().lower()
    if value not in SITE_KINDS:
        raise ValueError(f"{cell.strip()!r} is not one of {', '.join(SITE_KINDS)}")
    return value


DEMAND_COLUMNS: tuple[Column, ...] = (
    Column("place_id", text),
    Column("name", text),
    Column("country_iso3", iso3),
    Column("latitude", number(-90, 90)),
    Column("longitude", number(-180, 180)),
    Column("voters", number(0, MAX_VOTERS_AT_A_PLACE)),
    Column("source", str.strip, required=False, default=""),
)

SITE_COLUMNS: tuple[Column, ...] = (
    Column("site_id", text),
    Column("name", text),
    Column("country_iso3", iso3),
    Column("latitude", number(-90, 90)),
    Column("longitude", number(-180, 180)),
    Column("kind", _kind),
    Column("fixed_cost", number(0)),
    Column("day_cost", number(0)),
    Column("max_booths", integer(1, 500)),
    Column("max_days", integer(1, 14)),
)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` for each data row; the header must exist."""
    if not path.is_file():
        raise MissingFileError(f"no such file: {path}", where=Location(file=str(path)))
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None:
                raise PlannerInputError(
                    "the file is empty (a header row is required)", where=Location(file=str(path))
                )
            for row in reader:
                yield reader.line_num, row
    except UnicodeDecodeError as exc:
        raise PlannerInputError(
            f"not UTF-8 text: {exc.reason}", where=Location(file=str(path), offset=exc.start)
        ) from exc
    except csv.Error as exc:
        raise PlannerInputError(f"bad CSV: {exc}", where=Location(file=str(path))) from exc


def read_table(path: Path, columns: Sequence[Column], key: str | None) -> pd.DataFrame:
    """The rows of ``path`` parsed by ``columns`` (plus a ``line`` column); ``key``, if given,
    is a column whose values must be unique."""
    where = Location(file=str(path))
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    header_checked = False
    for line, row in _rows(path):
        if not header_checked:
            missing = [c.name for c in columns if c.required and c.name not in row]
            if missing:
                raise PlannerInputError(
                    f"missing column(s) {', '.join(missing)} in the header", where=where.at(line=1)
                )
            header_checked = True
        record: dict[str, Any] = {"line": line}
        for col in columns:
            cell = row.get(col.name)
            if cell is None:
                if col.required:
                    raise PlannerInputError(
                        f"row has too few cells: no {col.name}", where=where.at(line=line)
                    )
                record[col.name] = col.default
                continue
            try:
                record[col.name] = col.parse(cell)
            except ValueError as exc:
                raise PlannerInputError(
                    f"{col.name} {exc}", where=where.at(line=line).sub(col.name)
                ) from None
        if key is not None:
            ident = str(record[key])
            if ident in seen:
                raise PlannerInputError(
                    f"{key} {ident!r} repeats line {seen[ident]}",
                    where=where.at(line=line).sub(key),
                )
            seen[ident] = line
        records.append(record)
    names = ["line", *(c.name for c in columns)]
    return pd.DataFrame.from_records(records, columns=names)


def read_demand(path: Path) -> pd.DataFrame:
    """Demand rows (schema :data:`DEMAND_COLUMNS`), one per place."""
    return read_table(path, DEMAND_COLUMNS, "place_id")


def read_sites(path: Path) -> pd.DataFrame:
    """Candidate sites (schema :data:`SITE_COLUMNS`)."""
    return read_table(path, SITE_COLUMNS, "site_id")


def _param_value(name: str, current: Any, cell: str) -> Any:
    if isinstance(current, tuple):
        parts = [p.strip() for p in cell.split(";") if p.strip()]
        if name == "turnout_profile":
            return tuple(number(0)(p) for p in parts)
        return tuple(iso3(p) for p in parts)
    if isinstance(current, bool):  # pragma: no cover - no boolean parameter yet
        raise ValueError("boolean parameters are not supported")
    if isinstance(current, int):
        return integer(-(10**9), 10**9)(cell)
    return number()(cell)


def read_params(path: Path, base: Params | None = None) -> Params:
    """Parameters from a ``name,value`` CSV over ``base`` (the defaults if ``None``)."""
    params = base or Params()
    known = {f.name for f in fields(Params)}
    where = Location(file=str(path))
    seen: dict[str, int] = {}
    for line, row in _rows(path):
        if "name" not in row or "value" not in row:
            raise PlannerInputError("the header must be: name,value", where=where.at(line=1))
        name = (row["name"] or "").strip()
        if name not in known:
            raise PlannerInputError(
                f"unknown parameter {name!r} (known: {', '.join(sorted(known))})",
                where=where.at(line=line).sub("name"),
            )
        if name in seen:
            raise PlannerInputError(
                f"parameter {name} repeats line {seen[name]}", where=where.at(line=line)
            )
        seen[name] = line
        try:
            value = _param_value(name, getattr(params, name), row["value"] or "")
        except ValueError as exc:
            raise PlannerInputError(
                f"parameter {name}: {exc}", where=where.at(line=line).sub("value")
            ) from None
        params = replace(params, **{name: value})
    try:
        return params.validated(where)
    except PlannerInputError as exc:
        bad = exc.where.path[-1] if exc.where.path else ""
        if bad in seen:
            raise PlannerInputError(
                exc.message, where=where.at(line=seen[bad]).sub("value")
            ) from None
        raise
