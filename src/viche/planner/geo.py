"""Great-circle distances and the place-site pairs within reach."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def haversine_km(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Great-circle distance in km between points given in degrees (arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), np.float64)


def _unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def pairs_within(
    place_lat: FloatArray,
    place_lon: FloatArray,
    site_lat: FloatArray,
    site_lon: FloatArray,
    radius_km: float,
) -> tuple[IntArray, IntArray, FloatArray]:
    """``(place index, site index, km)`` for every pair at most ``radius_km`` apart."""
    if len(place_lat) == 0 or len(site_lat) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy(), np.zeros(0, np.float64)
    chord = 2.0 * np.sin(min(radius_km / EARTH_RADIUS_KM, np.pi) / 2.0) * (1 + 1e-9)
    tree = cKDTree(_unit_vectors(site_lat, site_lon))
    hits = tree.query_ball_point(_unit_vectors(place_lat, place_lon), chord)
    counts = np.fromiter((len(h) for h in hits), np.int64, count=len(hits))
    places = np.repeat(np.arange(len(hits), dtype=np.int64), counts)
    sites = np.fromiter((j for h in hits for j in h), np.int64, count=int(counts.sum()))
    km = haversine_km(place_lat[places], place_lon[places], site_lat[sites], site_lon[sites])
    keep = km <= radius_km
    return places[keep], sites[keep], km[keep]
