"""Constituencies, electoral regions, territorial units and the excluded (occupied) units of a
national election event, loaded from one JSON file (``docs/registry.md`` describes it).

* a **region** is an electoral region (виборчий регіон, Electoral Code of Ukraine No. 396-IX,
  Art. 133 and Art. 183–185): the parliamentary open regional lists are per region;
* a **constituency** is where a voter is registered (a territorial constituency, or a
  single-member district when the election has them); it lies in one region;
* a **territorial unit** is a unit of the codifier of administrative-territorial units
  (KATOTTH-like code: ``UA`` and 17 digits); it lies in one constituency;
* an **excluded unit** is a unit where no vote can be organised (occupied territory): no
  polling station may be opened there; its registered voters still vote for their home
  constituency (online, abroad, or at a station for displaced voters).

The file::

    {"regions": [{"id": "R01", "name": "Kyiv"}],
     "constituencies": [{"id": "C001", "name": "Kyiv-1", "region": "R01"}],
     "units": [{"code": "UA80000000000093317", "name": "Kyiv", "constituency": "C001"}],
     "excluded_units": [{"code": "UA01000000000013043", "reason": "occupied"}]}

Every inconsistency (a duplicate id, a unit of an unknown constituency, an excluded unit that
is not a unit) is refused with :class:`~viche.errors.ConstituencyFileError` naming the file and
the path of the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from viche.errors import ConstituencyFileError, Location, MissingFileError

#: An id of a region or constituency: letters, digits, ``-`` and ``_``, at most 32.
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
#: A territorial unit code (KATOTTH-like): ``UA`` and 17 digits.
UNIT_CODE_RE = re.compile(r"UA[0-9]{17}")
_NAME_MAX = 200
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Region:
    """An electoral region: the parliamentary regional lists are drawn per region."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Constituency:
    """A constituency (where a voter is registered) in one region."""

    id: str
    name: str
    region: str


@dataclass(frozen=True, slots=True)
class TerritorialUnit:
    """A territorial unit (KATOTTH-like ``code``) in one constituency."""

    code: str
    name: str
    constituency: str


@dataclass(frozen=True)
class Constituencies:
    """The regions, constituencies and units of an event, and the excluded units.

    ``excluded`` maps an excluded unit's code to the reason given (e.g. ``"occupied"``).
    """

    regions: Mapping[str, Region]
    constituencies: Mapping[str, Constituency]
    units: Mapping[str, TerritorialUnit]
    excluded: Mapping[str, str]

    def region_of(self, constituency: str) -> str:
        """The region of a constituency (``KeyError`` when unknown)."""
        return self.constituencies[constituency].region

    def constituency_of_unit(self, code: str) -> str:
        """The constituency a territorial unit lies in (``KeyError`` when unknown)."""
        return self.units[code].constituency

    def is_excluded(self, code: str) -> bool:
        """Whether no vote can be held in this unit."""
        return code in self.excluded

    def by_region(self, per_constituency: Mapping[str, int]) -> dict[str, int]:
        """Per-constituency counts summed per region (the parliamentary ballot styles)."""
        out: dict[str, int] = {}
        for constituency, n in per_constituency.items():
            region = self.constituencies[constituency].region
            out[region] = out.get(region, 0) + n
        return dict(sorted(out.items()))

    def excluded_units_of(self, constituency: str) -> tuple[str, ...]:
        """The excluded units of a constituency, sorted."""
        return tuple(sorted(c for c in self.excluded if self.units[c].constituency == constituency))

    @cached_property
    def place_names(self) -> frozenset[str]:
        """Casefolded names of every region, constituency and unit (3 letters or more): a
        military unit field naming one of them gives a location away."""
        names: set[str] = set()
        for name in (
            *(r.name for r in self.regions.values()),
            *(c.name for c in self.constituencies.values()),
            *(u.name for u in self.units.values()),
        ):
            folded = name.casefold().strip()
            if len(folded) >= 3:
                names.add(folded)
        return frozenset(names)

    def to_json(self) -> dict[str, Any]:
        """The JSON form :func:`load_constituencies` reads (part of the published setup)."""
        return {
            "regions": [{"id": r.id, "name": r.name} for r in self.regions.values()],
            "constituencies": [
                {"id": c.id, "name": c.name, "region": c.region}
                for c in self.constituencies.values()
            ],
            "units": [
                {"code": u.code, "name": u.name, "constituency": u.constituency}
                for u in self.units.values()
            ],
            "excluded_units": [
                {"code": code, "reason": reason} for code, reason in self.excluded.items()
            ],
        }

    @classmethod
    def from_json(cls, value: object, where: Location = Location()) -> Constituencies:
        """Parse and check the JSON form (see the module docstring)."""
        obj = _object(value, where, ("regions", "constituencies", "units"), ("excluded_units",))
        regions: dict[str, Region] = {}
        for i, item in _items(obj, "regions", where):
            w = where.sub("regions", i)
            o = _object(item, w, ("id", "name"), ())
            rid = _ident(o, "id", w)
            if rid in regions:
                raise ConstituencyFileError(f"region {rid!r} is listed twice", where=w.sub("id"))
            regions[rid] = Region(rid, _name(o, "name", w))
        constituencies: dict[str, Constituency] = {}
        for i, item in _items(obj, "constituencies", where):
            w = where.sub("constituencies", i)
            o = _object(item, w, ("id", "name", "region"), ())
            cid = _ident(o, "id", w)
            if cid in constituencies:
                raise ConstituencyFileError(
                    f"constituency {cid!r} is listed twice", where=w.sub("id")
                )
            region = _ident(o, "region", w)
            if region not in regions:
                raise ConstituencyFileError(
                    f"constituency {cid!r} lies in region {region!r}, which is not listed",
                    where=w.sub("region"),
                )
            constituencies[cid] = Constituency(cid, _name(o, "name", w), region)
        if not constituencies:
            raise ConstituencyFileError(
                "at least one constituency is needed", where=where.sub("constituencies")
            )
        units: dict[str, TerritorialUnit] = {}
        for i, item in _items(obj, "units", where):
            w = where.sub("units", i)
            o = _object(item, w, ("code", "name", "constituency"), ())
            code = _unit_code(o, "code", w)
            if code in units:
                raise ConstituencyFileError(f"unit {code} is listed twice", where=w.sub("code"))
            constituency = _ident(o, "constituency", w)
            if constituency not in constituencies:
                raise ConstituencyFileError(
                    f"unit {code} lies in constituency {constituency!r}, which is not listed",
                    where=w.sub("constituency"),
                )
            units[code] = TerritorialUnit(code, _name(o, "name", w), constituency)
        excluded: dict[str, str] = {}
        for i, item in _items(obj, "excluded_units", where, optional=True):
            w = where.sub("excluded_units", i)
            o = _object(item, w, ("code", "reason"), ())
            code = _unit_code(o, "code", w)
            if code not in units:
                raise ConstituencyFileError(
                    f"excluded unit {code} is not a listed territorial unit", where=w.sub("code")
                )
            if code in excluded:
                raise ConstituencyFileError(
                    f"excluded unit {code} is listed twice", where=w.sub("code")
                )
            excluded[code] = _name(o, "reason", w)
        return cls(regions, constituencies, units, excluded)


def load_constituencies(path: Path) -> Constituencies:
    """Read and check a constituency file; errors name the file."""
    where = Location(file=str(path))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MissingFileError(
            f"cannot read the constituency file: {exc.strerror}", where=where
        ) from None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConstituencyFileError(f"not UTF-8 JSON: {exc}", where=where) from None
    except RecursionError:
        raise ConstituencyFileError("JSON nested too deeply", where=where) from None
    return Constituencies.from_json(value, where)


def build_constituencies(
    regions: Iterable[Region],
    constituencies: Iterable[Constituency],
    units: Iterable[TerritorialUnit],
    excluded: Mapping[str, str] | None = None,
) -> Constituencies:
    """Constituencies built in memory, checked as if read from a file."""
    value = Constituencies(
        {r.id: r for r in regions},
        {c.id: c for c in constituencies},
        {u.code: u for u in units},
        dict(excluded or {}),
    ).to_json()
    return Constituencies.from_json(value)


# ---------------------------------------------------------------------- JSON helpers


def _object(
    value: object, where: Location, required: tuple[str, ...], optional: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConstituencyFileError("expected a JSON object", where=where)
    missing = [k for k in required if k not in value]
    if missing:
        raise ConstituencyFileError(f"missing field {missing[0]!r}", where=where)
    extra = sorted(k for k in value if k not in required and k not in optional)
    if extra:
        raise ConstituencyFileError(f"unknown field {extra[0]!r}", where=where)
    return value


def _items(
    obj: dict[str, Any], key: str, where: Location, *, optional: bool = False
) -> Iterable[tuple[int, object]]:
    if optional and key not in obj:
        return ()
    value = obj[key]
    if not isinstance(value, list):
        raise ConstituencyFileError("expected a list", where=where.sub(key))
    return enumerate(value)


def _string(obj: dict[str, Any], key: str, where: Location) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise ConstituencyFileError("expected a string", where=where.sub(key))
    return value


def _ident(obj: dict[str, Any], key: str, where: Location) -> str:
    value = _string(obj, key, where)
    if not ID_RE.fullmatch(value):
        raise ConstituencyFileError(
            "an id is 1 to 32 letters, digits, '-' or '_' (starting with a letter or digit)",
            where=where.sub(key),
        )
    return value


def _unit_code(obj: dict[str, Any], key: str, where: Location) -> str:
    value = _string(obj, key, where)
    if not UNIT_CODE_RE.fullmatch(value):
        raise ConstituencyFileError(
            "a territorial unit code is 'UA' and 17 digits", where=where.sub(key)
        )
    return value


def _name(obj: dict[str, Any], key: str, where: Location) -> str:
    value = _string(obj, key, where).strip()
    if not value or len(value) > _NAME_MAX or _CONTROL_RE.search(value):
        raise ConstituencyFileError(
            f"a name is 1 to {_NAME_MAX} characters without control characters",
            where=where.sub(key),
        )
    return value
