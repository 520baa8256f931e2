"""The event manifest: what a national election event publishes about its setup.

``event.json`` is ``{"event": {…}, "signature": base64}``, the object signed by the event's
key (:mod:`viche.event.keys`, domain ``viche-event-v1\\n``)::

    {"id": "ua-2026", "name": …, "key": <event key>, "receipt_key": <server receipt key>,
     "credential_authority": …, "closes": "2026-12-03T18:00:00+00:00",
     "excluded_units": ["UA-14-01", …],
     "stations": [{"id": "DE-BER-1", "kind": "abroad", "unit": "DE"}, …],
     "styles": [{"id": "c-01", "constituency": "01", "election": <uuid>,
                 "archive": "styles/c-01/<uuid>.bel", "voters": 120,
                 "excluded_enrolled": 14}, …]}

One ballot style is one Belenios election (the national question first, then the
constituency's own); every style has the same trustees and credential authority
(:mod:`viche.event.verify_event` checks the archives agree). ``excluded_units`` lists the
territorial units where no vote can be held; no station may be in one
(:func:`check_stations`), and ``excluded_enrolled`` counts, per style, the voters whose home
is in one (a count, never a name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from viche.crypto.hashing import sha256_hex
from viche.errors import (
    NOWHERE,
    EventManifestError,
    ExcludedUnitError,
    JsonFormatError,
    Location,
    UnknownStationError,
)
from viche.event.keys import EventKey, check_signature
from viche.protocol import codec
from viche.protocol.election import check_uuid
from viche.service.files import read_bytes, write_bytes

DOMAIN = b"viche-event-v1\n"
MANIFEST = "event.json"
STATION_KINDS = ("abroad", "displaced")

_FIELDS = (
    "id",
    "name",
    "key",
    "receipt_key",
    "credential_authority",
    "closes",
    "excluded_units",
    "stations",
    "styles",
)


@dataclass(frozen=True)
class Station:
    """A polling station: ``kind`` abroad (a consulate, a hired hall) or displaced (inside
    the country, for displaced voters); ``unit`` the territorial unit (or country code
    abroad) it is in."""

    id: str
    kind: str
    unit: str

    def to_json(self) -> codec.JsonObject:
        return {"id": self.id, "kind": self.kind, "unit": self.unit}


@dataclass(frozen=True)
class Style:
    """A ballot style: one Belenios election, its archive path (relative to the event
    directory), how many voters are enrolled in it and how many of them live in an
    excluded unit."""

    id: str
    constituency: str
    election: str
    archive: str
    voters: int
    excluded_enrolled: int

    def to_json(self) -> codec.JsonObject:
        return {
            "id": self.id,
            "constituency": self.constituency,
            "election": self.election,
            "archive": self.archive,
            "voters": self.voters,
            "excluded_enrolled": self.excluded_enrolled,
        }


@dataclass(frozen=True)
class Manifest:
    id: str
    name: str
    key: str
    receipt_key: str
    credential_authority: str
    closes: str
    excluded_units: tuple[str, ...]
    stations: tuple[Station, ...]
    styles: tuple[Style, ...]

    def to_json(self) -> codec.JsonObject:
        return {
            "id": self.id,
            "name": self.name,
            "key": self.key,
            "receipt_key": self.receipt_key,
            "credential_authority": self.credential_authority,
            "closes": self.closes,
            "excluded_units": list(self.excluded_units),
            "stations": [s.to_json() for s in self.stations],
            "styles": [s.to_json() for s in self.styles],
        }

    def body(self) -> bytes:
        return codec.to_bytes(self.to_json())

    @property
    def closing_time(self) -> datetime:
        return parse_time(self.closes, Location(member=MANIFEST, path=("closes",)))

    def station(self, station_id: str) -> Station:
        for s in self.stations:
            if s.id == station_id:
                return s
        raise UnknownStationError(
            f"no polling station {station_id!r} in this event", where=Location(path=("station",))
        )

    def style(self, style_id: str) -> Style:
        for s in self.styles:
            if s.id == style_id:
                return s
        raise EventManifestError(
            f"no ballot style {style_id!r} in this event", where=Location(path=("style",))
        )

    def style_of_election(self, uuid: str) -> Style | None:
        for s in self.styles:
            if s.election == uuid:
                return s
        return None


def parse_time(text: str, where: Location) -> datetime:
    """An ISO 8601 time with its UTC offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise JsonFormatError(f"not an ISO 8601 time: {text[:40]!r}", where=where) from None
    if value.tzinfo is None:
        raise JsonFormatError("a time needs its UTC offset", where=where)
    return value


def check_stations(manifest: Manifest) -> None:
    """Stations have known kinds and distinct ids, and none is in an excluded unit."""
    check_station_list(manifest.stations, manifest.excluded_units)


def check_station_list(stations: Sequence[Station], excluded_units: Sequence[str]) -> None:
    """:func:`check_stations` before there is a manifest."""
    excluded = set(excluded_units)
    seen: set[str] = set()
    for i, s in enumerate(stations):
        where = Location(member=MANIFEST, path=("stations", str(i)))
        if s.kind not in STATION_KINDS:
            raise EventManifestError(
                f"station {s.id!r}: kind {s.kind!r} is none of {', '.join(STATION_KINDS)}",
                where=where,
            )
        if s.id in seen:
            raise EventManifestError(f"station {s.id!r} is listed twice", where=where)
        seen.add(s.id)
        if s.unit in excluded:
            raise ExcludedUnitError(
                f"station {s.id!r} is in unit {s.unit}, where no vote can be held",
                where=where,
            )


def check_manifest(manifest: Manifest) -> None:
    """The manifest's own rules: stations (:func:`check_stations`) and styles
    (:func:`check_style_list`)."""
    check_stations(manifest)
    check_style_list(manifest)


def check_style_list(manifest: Manifest) -> None:
    """Distinct style ids and elections, counts that make sense, safe archive paths, a
    closing time."""
    manifest.closing_time  # noqa: B018  (parses, or raises)
    ids: set[str] = set()
    uuids: set[str] = set()
    for i, s in enumerate(manifest.styles):
        where = Location(member=MANIFEST, path=("styles", str(i)))
        if s.id in ids or s.election in uuids:
            raise EventManifestError(f"style {s.id!r} or its election is listed twice", where=where)
        ids.add(s.id)
        uuids.add(s.election)
        check_uuid(s.election, where.sub("election"))
        if not 0 <= s.excluded_enrolled <= s.voters:
            raise EventManifestError(
                f"style {s.id!r}: {s.excluded_enrolled} voters of excluded units out of "
                f"{s.voters} enrolled",
                where=where,
            )
        rel = Path(s.archive)
        if rel.is_absolute() or ".." in rel.parts or rel.suffix != ".bel":
            raise EventManifestError(
                "an archive path is a relative .bel path inside the event directory",
                where=where.sub("archive"),
            )
    if not manifest.styles:
        raise EventManifestError("the event has no ballot style", where=Location(member=MANIFEST))


def signed_manifest(manifest: Manifest, key: EventKey) -> bytes:
    """The ``event.json`` file: the manifest and the event key's signature."""
    if manifest.key != key.public:
        raise EventManifestError("the manifest names the key that signs it")
    check_manifest(manifest)
    signature = key.sign_bytes(DOMAIN, manifest.body())
    return codec.to_bytes({"event": manifest.to_json(), "signature": signature}) + b"\n"


def _strings(value: object, where: Location) -> tuple[str, ...]:
    items = codec.expect_list(value, where)
    for i, v in enumerate(items):
        if not isinstance(v, str):
            raise JsonFormatError("expected a string", where=where.sub(str(i)))
    return tuple(items)


def parse_manifest(raw: bytes, where: Location = NOWHERE, *, check: bool = True) -> Manifest:
    """``event.json``, its signature checked against the key it names and (unless
    ``check`` is false: the verifier reports them one by one) its rules
    (:func:`check_manifest`)."""
    top = codec.expect_object(codec.loads(raw.strip(), where), where, ("event", "signature"))
    ew = where.sub("event")
    obj = codec.expect_object(top["event"], ew, _FIELDS)
    stations = []
    for i, v in enumerate(codec.expect_list(obj["stations"], ew.sub("stations"))):
        sw = ew.sub("stations", str(i))
        so = codec.expect_object(v, sw, ("id", "kind", "unit"))
        stations.append(
            Station(codec.get_str(so, "id", sw), codec.get_str(so, "kind", sw),
                    codec.get_str(so, "unit", sw))
        )  # fmt: skip
    styles = []
    for i, v in enumerate(codec.expect_list(obj["styles"], ew.sub("styles"))):
        sw = ew.sub("styles", str(i))
        so = codec.expect_object(
            v, sw, ("id", "constituency", "election", "archive", "voters", "excluded_enrolled")
        )
        styles.append(
            Style(
                codec.get_str(so, "id", sw),
                codec.get_str(so, "constituency", sw),
                codec.get_str(so, "election", sw),
                codec.get_str(so, "archive", sw),
                codec.get_int(so, "voters", sw, minimum=0),
                codec.get_int(so, "excluded_enrolled", sw, minimum=0),
            )
        )
    manifest = Manifest(
        id=codec.get_str(obj, "id", ew),
        name=codec.get_str(obj, "name", ew),
        key=codec.get_str(obj, "key", ew),
        receipt_key=codec.get_str(obj, "receipt_key", ew),
        credential_authority=codec.get_str(obj, "credential_authority", ew),
        closes=codec.get_str(obj, "closes", ew),
        excluded_units=_strings(obj["excluded_units"], ew.sub("excluded_units")),
        stations=tuple(stations),
        styles=tuple(styles),
    )
    check_signature(
        manifest.key, DOMAIN, manifest.body(), codec.get_str(top, "signature", where), where
    )
    if check:
        check_manifest(manifest)
    return manifest


def write_manifest(directory: Path, manifest: Manifest, key: EventKey) -> Path:
    path = directory / MANIFEST
    write_bytes(path, signed_manifest(manifest, key))
    return path


def read_manifest(directory: Path) -> tuple[Manifest, str]:
    """The event directory's manifest and the hex SHA-256 of its file (the genesis of the
    event's logs)."""
    path = directory / MANIFEST
    raw = read_bytes(path, "event manifest")
    return parse_manifest(raw, Location(file=str(path))), sha256_hex(raw)


def is_event_directory(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()
