"""Small hand-made planning instances whose optimum is known, and CSV writers."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from viche.planner.inputs import DEMAND_COLUMNS, SITE_COLUMNS, Params
from viche.planner.queues import booth_day_capacity

#: turnout 1 and nobody online: in-person voters = eligible voters; a flat profile
PARAMS = Params(
    budget=1e9,
    turnout=1.0,
    online_share=0.0,
    opening_hours=10,
    turnout_profile=(1.0,) * 10,
    max_days=2,
    time_limit=20.0,
    mip_gap=0.0,
)
KAPPA = booth_day_capacity(PARAMS)
#: what one more booth costs for a day, and what an open station costs per day without booths
BOOTH = PARAMS.booth_day_cost + PARAMS.staff_per_booth * PARAMS.staff_day_cost
BASE = PARAMS.staff_per_station * PARAMS.staff_day_cost


def demand_table(rows: Sequence[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    """``(place_id, country, lat, lon, voters)`` rows as a demand table."""
    return pd.DataFrame(
        [
            {
                "line": k + 2,
                "place_id": p,
                "name": f"Place {p}",
                "country_iso3": c,
                "latitude": la,
                "longitude": lo,
                "voters": v,
                "source": "test",
            }
            for k, (p, c, la, lo, v) in enumerate(rows)
        ]
    )


def site_table(
    rows: Sequence[tuple[str, str, float, float, str, float, float, int, int]],
) -> pd.DataFrame:
    """``(site_id, country, lat, lon, kind, fixed, day_cost, max_booths, max_days)`` rows."""
    return pd.DataFrame(
        [
            {
                "line": k + 2,
                "site_id": s,
                "name": f"Site {s}",
                "country_iso3": c,
                "latitude": la,
                "longitude": lo,
                "kind": kind,
                "fixed_cost": f,
                "day_cost": d,
                "max_booths": b,
                "max_days": days,
            }
            for k, (s, c, la, lo, kind, f, d, b, days) in enumerate(rows)
        ]
    )


def two_towns() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Town A (5 booth-days of voters) with a mission and a dominated hall next door; town B,
    556 km away (beyond the 120 km limit of A's sites), 2 booth-days of voters and a hall."""
    demand = demand_table(
        [
            ("A", "AAA", 0.0, 0.0, 5 * KAPPA),
            ("B", "AAA", 0.0, 5.0, 2 * KAPPA),
        ]
    )
    sites = site_table(
        [
            ("SA", "AAA", 0.0, 0.001, "mission", 0.0, 0.0, 10, 2),
            ("HA", "AAA", 0.0, 0.002, "hall", 2000.0, 1000.0, 10, 2),
            ("HB", "AAA", 0.0, 5.001, "hall", 2000.0, 1000.0, 10, 2),
        ]
    )
    return demand, sites


def write_csv(path: Path, rows: Sequence[Mapping[Any, Any]], header: Sequence[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_instance(folder: Path, demand: pd.DataFrame, sites: pd.DataFrame) -> tuple[Path, Path]:
    d = write_csv(
        folder / "demand.csv", demand.to_dict(orient="records"), [c.name for c in DEMAND_COLUMNS]
    )
    s = write_csv(
        folder / "sites.csv", sites.to_dict(orient="records"), [c.name for c in SITE_COLUMNS]
    )
    return d, s
