"""The voter registry of a national election event: import from the state register's CSV,
kept in one SQLite file (``docs/registry.md`` gives the schema and the rules).

:func:`import_registry` streams the CSV into a staging SQLite file beside the destination
(bounded memory: rows are never all held as Python objects), checks every row, looks for
people enrolled twice, compares with the previous registry, and only then replaces the
destination in one rename. A refused import leaves every stored file as it was.

Bad rows are reported together (up to ``max_errors``) in one
:class:`~viche.errors.BadRowsError`; each row error is typed
(:class:`~viche.errors.RegistryRowError`, :class:`~viche.errors.UnknownConstituencyError`,
:class:`~viche.errors.LocationInUnitError`, :class:`~viche.errors.DuplicateVoterError`) with
``Location(file=…, line=…, path=(column,))``.

A soldier's whereabouts are never stored: a military row gives a unit *code* (``A1234``) and
nothing that places it (no country, city, address or current unit).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
import sqlite3
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from viche.errors import (
    BadRowsError,
    DuplicateVoterError,
    Location,
    LocationInUnitError,
    MissingFileError,
    RegistryRowError,
    StorageError,
    UnknownConstituencyError,
    VicheError,
)
from viche.event.constituencies import UNIT_CODE_RE, Constituencies


class Category(StrEnum):
    """The voter's category: which channel and which fields apply."""

    RESIDENT = "resident"
    ABROAD = "abroad"
    MILITARY = "military"
    DISPLACED = "displaced"


#: The CSV columns, in the order :func:`write_registry_csv` writes them (any order is read).
COLUMNS: tuple[str, ...] = (
    "voter_id",
    "surname",
    "given_name",
    "patronymic",
    "birth_date",
    "category",
    "home_constituency",
    "home_unit",
    "address",
    "country",
    "city",
    "consular_post",
    "unit",
    "current_unit",
)

#: A voter id from the state register: a letter or digit, then letters, digits or ``-``.
VOTER_ID_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,39}")
#: A military unit: its conventional code (``A`` or ``B`` and four digits), never a place.
MILITARY_UNIT_RE = re.compile(r"[AB][0-9]{4}")
#: A consular post: the host country's ISO 3166-1 alpha-2 code, ``-``, 2 to 16 capitals/digits.
CONSULAR_POST_RE = re.compile(r"[A-Z]{2}-[A-Z0-9]{2,16}")
#: A country: ISO 3166-1 alpha-2.
COUNTRY_RE = re.compile(r"[A-Z]{2}")
#: A personal name: letters, then letters, apostrophes, hyphens or spaces.
NAME_RE = re.compile(r"[^\W\d_](?:[^\W\d_]|['’ʼ\- ])*")
_COORDINATES_RE = re.compile(r"\d+[.,]\d+|\d+\s*°|[NSEW]\s*\d{2}|\d{2}\s*[NSEW]\b")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ufffd]")
_NAME_MAX = 100
_TEXT_MAX = 300
_OLDEST = date(1900, 1, 1)

#: Columns that may not be set for a category (a military row: location columns).
_NOT_FOR: dict[Category, tuple[str, ...]] = {
    Category.RESIDENT: ("country", "city", "consular_post", "unit", "current_unit"),
    Category.ABROAD: ("unit", "current_unit"),
    Category.MILITARY: ("address", "country", "city", "consular_post", "current_unit"),
    Category.DISPLACED: ("country", "city", "consular_post", "unit"),
}
#: Columns a category needs (beyond the common ones).
_NEEDS: dict[Category, tuple[str, ...]] = {
    Category.RESIDENT: ("home_unit", "address"),
    Category.ABROAD: ("country", "city", "consular_post"),
    Category.MILITARY: ("unit",),
    Category.DISPLACED: ("home_unit", "current_unit"),
}

_FORMAT = "viche-registry/1"
_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Voter:
    """One registered voter. Personal fields (names, birth date, address) stay out of repr.

    Empty strings stand for columns that do not apply to the voter's category.
    """

    voter_id: str
    home_constituency: str
    category: Category
    home_unit: str = ""
    country: str = ""
    city: str = ""
    consular_post: str = ""
    unit: str = ""
    current_unit: str = ""
    surname: str = field(default="", repr=False)
    given_name: str = field(default="", repr=False)
    patronymic: str = field(default="", repr=False)
    birth_date: str = field(default="", repr=False)
    address: str = field(default="", repr=False)

    def row(self) -> dict[str, str]:
        """The CSV row (every column of :data:`COLUMNS`)."""
        return {c: str(getattr(self, c)) for c in COLUMNS}


@dataclass(frozen=True)
class Changes:
    """What a re-import changed against the previous registry.

    ``moved``: voters whose home constituency changed; ``changed``: other fields changed
    (category, units, post, names…). ``examples`` holds up to 10 voter ids of each kind.
    """

    added: int = 0
    removed: int = 0
    moved: int = 0
    changed: int = 0
    examples: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "added": self.added,
            "removed": self.removed,
            "moved": self.moved,
            "changed": self.changed,
            "examples": {k: list(v) for k, v in self.examples.items()},
        }


class Registry:
    """A voter registry stored in one SQLite file (read-only once imported).

    Open one with :meth:`open`; close it (or use ``with``) when done.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> Registry:
        """Open a registry written by :func:`import_registry` (read-only)."""
        where = Location(file=str(path))
        if not path.is_file():
            raise MissingFileError("no registry at this path", where=where)
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"not a voter registry: {exc}", where=where) from None
        if row is None or row[0] != _FORMAT:
            db.close()
            raise StorageError(f"not a voter registry ({_FORMAT})", where=where)
        return cls(path, db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __len__(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'voters'").fetchone()
        return int(row[0])

    def __contains__(self, voter_id: object) -> bool:
        return isinstance(voter_id, str) and self.get(voter_id) is not None

    def get(self, voter_id: str) -> Voter | None:
        """The voter with this id, or ``None``."""
        row = self._db.execute(
            f"SELECT {_SELECT} FROM voters WHERE voter_id = ?",  # noqa: S608 (constant columns)
            (voter_id,),
        ).fetchone()
        return None if row is None else _voter(row)

    def voters(
        self, *, constituency: str | None = None, category: Category | None = None
    ) -> Iterator[Voter]:
        """Every voter (of one constituency, of one category), by voter id; streamed."""
        clauses, args = [], []
        if constituency is not None:
            clauses.append("home_constituency = ?")
            args.append(constituency)
        if category is not None:
            clauses.append("category = ?")
            args.append(category.value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        cursor = self._db.execute(
            f"SELECT {_SELECT} FROM voters{where} ORDER BY voter_id",  # noqa: S608 (constants)
            args,
        )
        for row in cursor:
            yield _voter(row)

    def counts(self) -> dict[str, dict[Category, int]]:
        """Voters per home constituency and category (categories with none are left out)."""
        out: dict[str, dict[Category, int]] = {}
        for constituency, category, n in self._db.execute(
            "SELECT home_constituency, category, n FROM counts ORDER BY 1, 2"
        ):
            out.setdefault(constituency, {})[Category(category)] = int(n)
        return out

    def excluded_counts(self, constituencies: Constituencies) -> dict[str, int]:
        """Voters whose home unit is an excluded unit, per home constituency (counts only,
        no names: this goes into the published record)."""
        out: dict[str, int] = {}
        for code in sorted(constituencies.excluded):
            for constituency, n in self._db.execute(
                "SELECT home_constituency, count(*) FROM voters WHERE home_unit = ? "
                "GROUP BY home_constituency",
                (code,),
            ):
                out[constituency] = out.get(constituency, 0) + int(n)
        return dict(sorted(out.items()))

    def source_sha256(self) -> str:
        """SHA-256 (hex) of the CSV this registry was imported from."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'source_sha256'").fetchone()
        return str(row[0])


@dataclass(frozen=True)
class ImportResult:
    """An accepted import: the new registry (open), its size, and the changes."""

    registry: Registry
    rows: int
    changes: Changes
    counts: dict[str, dict[Category, int]]


Progress = Callable[[int, int], None]


def import_registry(
    path: Path,
    constituencies: Constituencies,
    previous: Registry | None = None,
    *,
    out: Path | None = None,
    progress: Progress | None = None,
    max_errors: int = 100,
) -> ImportResult:
    """Import the registry CSV at ``path``; all or nothing.

    Writes the new registry to ``out`` (default: the previous registry's file when there is
    one, which it then replaces; else ``path`` with suffix ``.sqlite``) by one rename at the
    end. ``progress(bytes_read, bytes_total)`` is called as the file is read.

    Raises :class:`~viche.errors.BadRowsError` listing up to ``max_errors`` bad rows and
    duplicates (each a typed error with file, line and column), or a row error for a bad
    header; nothing stored changes then.
    """
    if out is None:
        out = previous.path if previous is not None else path.with_suffix(".sqlite")
    where = Location(file=str(path))
    try:
        size = path.stat().st_size
        raw = path.open("rb")
    except OSError as exc:
        raise MissingFileError(f"cannot read the registry: {exc.strerror}", where=where) from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
    except OSError as exc:
        raw.close()
        raise StorageError(
            f"cannot write the registry: {exc.strerror}", where=Location(file=str(out))
        ) from None
    tmp = Path(tmp_name)
    db: sqlite3.Connection | None = None
    try:
        db = _staging(tmp)
        with raw:
            digest, rows, errors, n_errors = _load(
                raw,
                size,
                where,
                constituencies=constituencies,
                db=db,
                progress=progress,
                max_errors=max_errors,
            )
        if not errors:
            dup_errors, n_dups = _duplicates(db, where, max_errors)
            errors.extend(dup_errors)
            n_errors += n_dups
        if errors:
            shown = f" (the first {len(errors)} listed)" if n_errors > len(errors) else ""
            raise BadRowsError(
                f"{n_errors} bad row(s) in the voter registry{shown}; nothing was stored",
                errors,
                where=where,
            )
        _finish(db, digest, rows)
        changes = _diff(db, previous) if previous is not None else Changes(added=rows)
        db.commit()
        db.close()
        db = None
        os.replace(tmp, out)
    except sqlite3.Error as exc:
        raise StorageError(f"registry database: {exc}", where=Location(file=str(out))) from None
    except OSError as exc:
        raise StorageError(
            f"cannot write the registry: {exc.strerror}", where=Location(file=str(out))
        ) from None
    finally:
        if db is not None:
            db.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    registry = Registry.open(out)
    return ImportResult(registry, rows, changes, registry.counts())


def write_registry_csv(path: Path, voters: Iterator[Voter] | list[Voter]) -> int:
    """Write voters as a registry CSV (header + rows); returns the number of rows."""
    n = 0
    try:
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            for voter in voters:
                writer.writerow(voter.row())
                n += 1
    except OSError as exc:
        raise StorageError(
            f"cannot write the registry CSV: {exc.strerror}", where=Location(file=str(path))
        ) from None
    return n


# ---------------------------------------------------------------------- rows

(
    _ID,
    _SURNAME,
    _GIVEN,
    _PATRONYMIC,
    _BORN,
    _CATEGORY,
    _CONSTITUENCY,
    _HOME_UNIT,
    _ADDRESS,
    _COUNTRY,
    _CITY,
    _POST,
    _UNIT,
    _CURRENT_UNIT,
) = range(len(COLUMNS))
_INDEX = {c: i for i, c in enumerate(COLUMNS)}
_CATEGORIES = {c.value: c for c in Category}
_NOT_FOR_I = {k: tuple(_INDEX[c] for c in v) for k, v in _NOT_FOR.items()}
_NEEDS_I = {k: tuple(_INDEX[c] for c in v) for k, v in _NEEDS.items()}


class _FieldError(Exception):
    """A bad field found by :func:`_check_row`: the caller adds file and line."""

    def __init__(self, kind: type[VicheError], message: str, column: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.column = column

    def error(self, where: Location) -> VicheError:
        return self.kind(self.message, where=where.sub(COLUMNS[self.column]))


def parse_row(values: dict[str, str], where: Location, constituencies: Constituencies) -> Voter:
    """Check one CSV row (column name → text) and return the voter; raise the first error
    as a typed error at ``where`` (its ``path`` names the column)."""
    v = [values.get(c, "").strip() for c in COLUMNS]
    try:
        category = _check_row(v, constituencies, date.today())
    except _FieldError as fault:
        raise fault.error(where) from None
    return _make_voter(v, category)


def _make_voter(v: list[str], category: Category) -> Voter:
    return Voter(
        voter_id=v[_ID],
        home_constituency=v[_CONSTITUENCY],
        category=category,
        home_unit=v[_HOME_UNIT],
        country=v[_COUNTRY],
        city=v[_CITY],
        consular_post=v[_POST],
        unit=v[_UNIT],
        current_unit=v[_CURRENT_UNIT],
        surname=v[_SURNAME],
        given_name=v[_GIVEN],
        patronymic=v[_PATRONYMIC],
        birth_date=v[_BORN],
        address=v[_ADDRESS],
    )


def _check_row(v: list[str], constituencies: Constituencies, today: date) -> Category:
    """Check one row's stripped fields (in :data:`COLUMNS` order); raise :class:`_FieldError`."""
    if _CONTROL_RE.search("".join(v)):
        column = next(i for i, t in enumerate(v) if _CONTROL_RE.search(t))
        raise _FieldError(
            RegistryRowError, "control characters or bytes that are not UTF-8", column
        )
    if not VOTER_ID_RE.fullmatch(v[_ID]):
        raise _FieldError(RegistryRowError, "a voter id is 1 to 40 letters, digits or '-'", _ID)
    category = _CATEGORIES.get(v[_CATEGORY])
    if category is None:
        raise _FieldError(
            RegistryRowError,
            f"category {v[_CATEGORY]!r} is not one of {', '.join(_CATEGORIES)}",
            _CATEGORY,
        )
    _check_name(v, _SURNAME, required=True)
    _check_name(v, _GIVEN, required=True)
    _check_name(v, _PATRONYMIC, required=False)
    _check_birth_date(v[_BORN], today)
    constituency = v[_CONSTITUENCY]
    if constituency not in constituencies.constituencies:
        raise _FieldError(
            UnknownConstituencyError, f"unknown constituency {constituency!r}", _CONSTITUENCY
        )
    if category is Category.MILITARY:
        _check_military_unit(v[_UNIT], constituencies)
    for i in _NOT_FOR_I[category]:
        if v[i]:
            if category is Category.MILITARY:
                raise _FieldError(
                    LocationInUnitError,
                    f"a military voter's {COLUMNS[i]} is never stored (it would tell where "
                    "the unit is): leave it empty",
                    i,
                )
            raise _FieldError(
                RegistryRowError,
                f"{COLUMNS[i]} does not apply to category {category.value}: leave it empty",
                i,
            )
    for i in _NEEDS_I[category]:
        if not v[i]:
            raise _FieldError(
                RegistryRowError, f"{COLUMNS[i]} is required for category {category.value}", i
            )
    home_unit = v[_HOME_UNIT]
    if home_unit:
        _check_unit(home_unit, _HOME_UNIT, constituencies)
        unit_constituency = constituencies.units[home_unit].constituency
        if unit_constituency != constituency:
            raise _FieldError(
                UnknownConstituencyError,
                f"home unit {home_unit} lies in constituency {unit_constituency!r}, "
                f"not {constituency!r}",
                _HOME_UNIT,
            )
    current = v[_CURRENT_UNIT]
    if current:
        _check_unit(current, _CURRENT_UNIT, constituencies)
        if current in constituencies.excluded:
            raise _FieldError(
                RegistryRowError,
                f"current unit {current} is an excluded unit: a displaced voter's current "
                "unit is where they live now, where a vote can be held",
                _CURRENT_UNIT,
            )
    country = v[_COUNTRY]
    if country and (country == "UA" or not COUNTRY_RE.fullmatch(country)):
        raise _FieldError(
            RegistryRowError,
            "a country abroad is an ISO 3166-1 alpha-2 code other than UA",
            _COUNTRY,
        )
    if v[_POST] and not CONSULAR_POST_RE.fullmatch(v[_POST]):
        raise _FieldError(
            RegistryRowError,
            "a consular post is a country code, '-', and 2 to 16 capitals or digits "
            "(e.g. DE-BERLIN)",
            _POST,
        )
    for i in (_ADDRESS, _CITY):
        if len(v[i]) > _TEXT_MAX:
            raise _FieldError(
                RegistryRowError, f"{COLUMNS[i]} longer than {_TEXT_MAX} characters", i
            )
    return category


def identity_key(voter: Voter) -> str:
    """What makes two rows one person when their voter ids differ: names (NFC, casefolded,
    spaces collapsed, apostrophes unified) and birth date."""
    return _identity(voter.surname, voter.given_name, voter.patronymic, voter.birth_date)


def _identity(surname: str, given: str, patronymic: str, born: str) -> str:
    key = f"{surname}|{given}|{patronymic}|{born}"
    if not key.isascii():
        key = unicodedata.normalize("NFC", key)
    key = key.casefold()
    if "’" in key or "ʼ" in key:
        key = key.replace("’", "'").replace("ʼ", "'")
    while "  " in key:
        key = key.replace("  ", " ")
    return key


def _check_name(v: list[str], i: int, *, required: bool) -> None:
    text = v[i]
    if not text:
        if required:
            raise _FieldError(RegistryRowError, f"{COLUMNS[i]} is required", i)
        return
    if len(text) > _NAME_MAX or not NAME_RE.fullmatch(text):
        raise _FieldError(
            RegistryRowError,
            f"{COLUMNS[i]}: letters, apostrophes, hyphens and spaces, at most {_NAME_MAX}",
            i,
        )


def _check_birth_date(text: str, today: date) -> None:
    try:
        born = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        born = None
    if born is None or not _OLDEST <= born <= today:
        raise _FieldError(
            RegistryRowError, "birth_date is a date YYYY-MM-DD between 1900-01-01 and today", _BORN
        )


def _check_unit(code: str, i: int, constituencies: Constituencies) -> None:
    if code not in constituencies.units:
        if not UNIT_CODE_RE.fullmatch(code):
            raise _FieldError(
                RegistryRowError, f"{COLUMNS[i]} is a territorial unit code: 'UA' and 17 digits", i
            )
        raise _FieldError(UnknownConstituencyError, f"unknown territorial unit {code}", i)


def _check_military_unit(text: str, constituencies: Constituencies) -> None:
    """A unit is a code matching :data:`MILITARY_UNIT_RE`; anything that looks like a place
    (coordinates, a place name of the constituency list, free text) is refused as such."""
    if MILITARY_UNIT_RE.fullmatch(text):
        return
    if not text:
        raise _FieldError(RegistryRowError, "unit is required for category military", _UNIT)
    if _COORDINATES_RE.search(text):
        raise _FieldError(
            LocationInUnitError,
            "unit looks like coordinates: a unit is given by its code (e.g. A1234), never "
            "by where it is",
            _UNIT,
        )
    folded = text.casefold()
    words = set(re.findall(r"[^\W\d_]+(?:['’ʼ-][^\W\d_]+)*", folded))
    places = constituencies.place_names
    if any(w in places for w in words) or any(p in folded for p in places if " " in p):
        raise _FieldError(
            LocationInUnitError,
            "unit names a place: a unit is given by its code (e.g. A1234), never by where it is",
            _UNIT,
        )
    if " " in text or len(words) > 1 or len(text) > 12:
        raise _FieldError(
            LocationInUnitError,
            "unit is free text: a unit is given by its code (e.g. A1234), never described",
            _UNIT,
        )
    raise _FieldError(
        RegistryRowError,
        "unit is a military unit code: 'A' or 'B' and four digits (e.g. A1234)",
        _UNIT,
    )


# ---------------------------------------------------------------------- storage

_SELECT = ", ".join(
    (
        "voter_id",
        "home_constituency",
        "category",
        "home_unit",
        "country",
        "city",
        "consular_post",
        "unit",
        "current_unit",
        "surname",
        "given_name",
        "patronymic",
        "birth_date",
        "address",
    )
)
_STORED = (*_SELECT.split(", "), "ident", "line")


def _voter(row: tuple[str, ...]) -> Voter:
    return Voter(
        row[0],
        row[1],
        Category(row[2]),
        *row[3:9],
        *row[9:14],
    )


def _staging(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -65536")  # 64 MiB: the memory bound of the import
    db.execute("PRAGMA temp_store = FILE")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    columns = ", ".join(f"{c} TEXT NOT NULL" for c in _SELECT.split(", "))
    db.execute(f"CREATE TABLE voters ({columns}, ident INTEGER NOT NULL, line INTEGER NOT NULL)")
    return db


def _ident_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


class _Hashing(io.RawIOBase):
    """A binary reader that hashes and counts what goes through it."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha.update(data)
        self.count += n
        return n


def _load(
    raw: io.BufferedReader,
    size: int,
    where: Location,
    *,
    constituencies: Constituencies,
    db: sqlite3.Connection,
    progress: Progress | None,
    max_errors: int,
) -> tuple[str, int, list[VicheError], int]:
    """Stream the CSV into the staging table; returns (sha256, rows, errors kept, errors)."""
    hashing = _Hashing(raw)
    text = io.TextIOWrapper(
        io.BufferedReader(hashing, buffer_size=1 << 16),
        encoding="utf-8",
        errors="replace",
        newline="",
    )
    reader = csv.reader(text, strict=True)
    errors: list[VicheError] = []
    n_errors = 0

    def fail(error: VicheError) -> None:
        nonlocal n_errors
        n_errors += 1
        if len(errors) < max_errors:
            errors.append(error)

    try:
        header = next(reader)
    except StopIteration:
        raise RegistryRowError(
            "empty file: expected the header row", where=where.at(line=1)
        ) from None
    except csv.Error as exc:
        raise RegistryRowError(f"malformed header: {exc}", where=where.at(line=1)) from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in COLUMNS if c not in header]
    extra = [h for h in header if h not in COLUMNS]
    if missing or extra or len(set(header)) != len(header):
        raise RegistryRowError(
            "the header must name each column once: "
            + ", ".join(COLUMNS)
            + (f" (missing {missing[0]!r})" if missing else "")
            + (f" (unknown {extra[0]!r})" if extra else ""),
            where=where.at(line=1),
        )
    order = [header.index(c) for c in COLUMNS]
    width = len(header)
    names = ", ".join((*COLUMNS, "ident", "line"))
    insert = f"INSERT INTO voters ({names}) VALUES ({', '.join('?' * len(_STORED))})"  # noqa: S608
    batch: list[tuple[str | int, ...]] = []
    rows = 0
    today = date.today()
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            fail(RegistryRowError(f"malformed CSV: {exc}", where=where.at(line=line)))
            line = reader.line_num + 1
            continue
        start = line
        line = reader.line_num + 1
        if not record:
            continue
        if len(record) != width:
            fail(
                RegistryRowError(
                    f"expected {width} fields, got {len(record)}", where=where.at(line=start)
                )
            )
            continue
        v = [record[i].strip() for i in order]
        try:
            category = _check_row(v, constituencies, today)
        except _FieldError as fault:
            fail(fault.error(where.at(line=start)))
            continue
        rows += 1
        if n_errors:
            continue  # the import is refused: keep checking rows, store nothing more
        v[_CATEGORY] = category.value
        batch.append(
            (*v, _ident_hash(_identity(v[_SURNAME], v[_GIVEN], v[_PATRONYMIC], v[_BORN])), start)
        )
        if len(batch) >= _BATCH:
            db.executemany(insert, batch)
            batch.clear()
            if progress is not None:
                progress(hashing.count, size)
    if batch and not n_errors:
        db.executemany(insert, batch)
    if progress is not None:
        progress(size, size)
    return hashing.sha.hexdigest(), rows, errors, n_errors


def _duplicates(
    db: sqlite3.Connection, where: Location, max_errors: int
) -> tuple[list[VicheError], int]:
    """People enrolled twice: the same voter id, or the same identity (names and birth
    date) under two ids. Each error names both lines. Leaves the unique index on voter ids
    when there is none."""
    errors: list[VicheError] = []
    n = 0
    try:
        db.execute("CREATE UNIQUE INDEX voters_id ON voters (voter_id)")
    except sqlite3.IntegrityError:
        for voter_id, lines in db.execute(
            "SELECT voter_id, group_concat(line) FROM voters GROUP BY voter_id "
            "HAVING count(*) > 1 ORDER BY min(line)"
        ):
            numbers = sorted(int(x) for x in str(lines).split(","))
            for later in numbers[1:]:
                n += 1
                if len(errors) < max_errors:
                    errors.append(
                        DuplicateVoterError(
                            f"voter id {voter_id!r} is on line {numbers[0]} and line {later}",
                            where=where.at(line=later, path=("voter_id",)),
                        )
                    )
    # one pass over the rows whose identity hash occurs twice, ordered by hash then line
    current: int | None = None
    seen: dict[str, tuple[int, str]] = {}
    for row in db.execute(
        f"SELECT {_SELECT}, line, ident FROM voters WHERE ident IN "  # noqa: S608
        "(SELECT ident FROM voters GROUP BY ident HAVING count(*) > 1) ORDER BY ident, line"
    ):
        voter, line, ident = _voter(row[:14]), int(row[14]), int(row[15])
        if ident != current:
            current, seen = ident, {}
        first, first_id = seen.setdefault(identity_key(voter), (line, voter.voter_id))
        if first == line or first_id == voter.voter_id:
            continue  # the same row, or already reported as the same voter id
        n += 1
        if len(errors) < max_errors:
            errors.append(
                DuplicateVoterError(
                    f"one person enrolled twice: line {first} ({first_id}) and line "
                    f"{line} ({voter.voter_id}) have the same names and birth date",
                    where=where.at(line=line),
                )
            )
    errors.sort(key=lambda e: e.where.line or 0)
    return errors, n


def _finish(db: sqlite3.Connection, digest: str, rows: int) -> None:
    db.execute("CREATE TABLE counts (home_constituency TEXT, category TEXT, n INTEGER)")
    db.execute(
        "INSERT INTO counts SELECT home_constituency, category, count(*) FROM voters "
        "GROUP BY home_constituency, category"
    )
    db.execute("CREATE INDEX voters_home_unit ON voters (home_unit)")
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("format", _FORMAT), ("voters", str(rows)), ("source_sha256", digest)],
    )


def _diff(db: sqlite3.Connection, previous: Registry) -> Changes:
    db.execute("ATTACH DATABASE ? AS prev", (str(previous.path),))
    try:
        queries = {
            "added": "FROM main.voters n WHERE NOT EXISTS "
            "(SELECT 1 FROM prev.voters p WHERE p.voter_id = n.voter_id)",
            "removed": "FROM prev.voters n WHERE NOT EXISTS "
            "(SELECT 1 FROM main.voters p WHERE p.voter_id = n.voter_id)",
            "moved": "FROM main.voters n JOIN prev.voters p ON p.voter_id = n.voter_id "
            "WHERE p.home_constituency <> n.home_constituency",
            "changed": "FROM main.voters n JOIN prev.voters p ON p.voter_id = n.voter_id "
            "WHERE p.home_constituency = n.home_constituency AND ("
            + " OR ".join(f"p.{c} <> n.{c}" for c in _SELECT.split(", ")[2:])
            + ")",
        }
        counts: dict[str, int] = {}
        examples: dict[str, tuple[str, ...]] = {}
        for kind, body in queries.items():
            counts[kind] = int(db.execute(f"SELECT count(*) {body}").fetchone()[0])
            examples[kind] = tuple(
                r[0] for r in db.execute(f"SELECT n.voter_id {body} ORDER BY n.voter_id LIMIT 10")
            )
    finally:
        db.commit()
        db.execute("DETACH DATABASE prev")
    return Changes(**counts, examples=examples)
