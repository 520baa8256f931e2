"""``viche plan estimate``: demand and candidate sites from the public abroad data.

How demand is estimated (docs/planner.md states the caveats):

1. each country's total is UNHCR's refugees (+ asylum-seekers, on by default) of the chosen
   year (``abroad = 1`` rows of ``refugees_from_ukraine_by_country.csv``);
2. it is scaled to adults (eligible voters) by the country's 18+ share from
   ``refugees_from_ukraine_demographics_2025.csv`` where UNHCR gives an age split, else by the
   share over all countries that have one;
3. it is spread over the country's places in ``cities.csv`` **in proportion to city
   population**, after dropping rows that are districts of a larger city (a larger place within
   ``district_km``, 6 km by default: their people are already in the larger city's figure);
4. better data wins: a registrations file (the demand schema) replaces the estimate of every
   country it names.

Candidate sites: every mission in ``missions.csv`` with coordinates (embassies and consulates
general as ``mission``, honorary consulates as ``honorary``) and one ``hall`` per place of more
than ``hall_population`` inhabitants (districts excluded), with the costs of :class:`SiteDefaults`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from viche.errors import Location, PlannerInputError
from viche.planner.inputs import (
    Column,
    integer,
    iso3,
    number,
    optional_number,
    read_demand,
    read_table,
    text,
)

UNHCR_FILE = "refugees_from_ukraine_by_country.csv"
DEMOGRAPHICS_FILE = "refugees_from_ukraine_demographics_2025.csv"
CITIES_FILE = "cities.csv"
MISSIONS_FILE = "missions.csv"

UNHCR_COLUMNS = (
    Column("year", integer(1950, 2100)),
    Column("coa_iso3", iso3),
    Column("coa_name", text),
    Column("refugees", number(0)),
    Column("asylum_seekers", number(0)),
    Column("abroad", integer(0, 1)),
)
DEMOGRAPHICS_COLUMNS = (
    Column("coa_iso3", iso3),
    Column("adults_18plus", number(0)),
    Column("children_0_17", number(0)),
)
CITY_COLUMNS = (
    Column("geonameid", text),
    Column("name", text),
    Column("unhcr_coa_iso3", iso3),
    Column("latitude", number(-90, 90)),
    Column("longitude", number(-180, 180)),
    Column("population", number(0)),
    Column("nearest_larger_km", optional_number(0)),
)
MISSION_COLUMNS = (
    Column("type", text),
    Column("city", str.strip, required=False, default=""),
    Column("country_iso3", iso3),
    Column("latitude", optional_number(-90)),
    Column("longitude", optional_number(-180)),
)


@dataclass(frozen=True, slots=True)
class SiteDefaults:
    """Costs and sizes given to generated candidate sites (currency units, booths, days)."""

    mission_booths: int = 15
    honorary_fixed_cost: float = 500.0
    honorary_day_cost: float = 200.0
    honorary_booths: int = 4
    hall_fixed_cost: float = 2000.0  # set-up, security, transport of kiosks
    hall_day_cost: float = 1000.0  # rent
    hall_booths: int = 40
    max_days: int = 2
    hall_population: float = 100_000.0


def country_totals(path: Path, year: int, *, asylum_seekers: bool = True) -> pd.DataFrame:
    """``coa_iso3, coa_name, people`` for the abroad rows of ``year``."""
    table = read_table(path, UNHCR_COLUMNS, None)
    rows = table[(table["year"] == year) & (table["abroad"] == 1)]
    if rows.empty:
        years = sorted(set(table["year"]))
        raise PlannerInputError(
            f"no abroad rows for year {year} (years present: {years})",
            where=Location(file=str(path)).sub("year"),
        )
    dup = rows[rows.duplicated("coa_iso3", keep="first")]
    if not dup.empty:
        first = dup.iloc[0]
        raise PlannerInputError(
            f"country {first['coa_iso3']} appears twice for {year}",
            where=Location(file=str(path), line=int(first["line"])).sub("coa_iso3"),
        )
    people = rows["refugees"] + (rows["asylum_seekers"] if asylum_seekers else 0.0)
    return pd.DataFrame(
        {"coa_iso3": rows["coa_iso3"], "coa_name": rows["coa_name"], "people": people}
    ).reset_index(drop=True)


def adult_shares(path: Path) -> tuple[dict[str, float], float]:
    """The 18+ share per country with an age split, and the share over all of them."""
    table = read_table(path, DEMOGRAPHICS_COLUMNS, None)
    sums = table.groupby("coa_iso3")[["adults_18plus", "children_0_17"]].sum()
    known = sums[(sums["adults_18plus"] + sums["children_0_17"]) > 0]
    shares = known["adults_18plus"] / (known["adults_18plus"] + known["children_0_17"])
    total = known.sum()
    overall = float(total["adults_18plus"] / (total["adults_18plus"] + total["children_0_17"]))
    return {str(k): float(v) for k, v in shares.items()}, overall


def read_cities(path: Path, district_km: float) -> pd.DataFrame:
    """Places of ``cities.csv`` without the districts of larger places."""
    table = read_table(path, CITY_COLUMNS, "geonameid")
    near = table["nearest_larger_km"]
    return table[near.isna() | (near >= district_km)].reset_index(drop=True)


def estimate_demand(
    data: Path,
    *,
    year: int = 2025,
    asylum_seekers: bool = True,
    district_km: float = 6.0,
    registrations: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demand table (schema of :data:`viche.planner.inputs.DEMAND_COLUMNS`) and a
    per-country summary (``people``, ``adult_share``, ``voters``, ``places``, ``source``)."""
    totals = country_totals(data / UNHCR_FILE, year, asylum_seekers=asylum_seekers)
    shares, overall = adult_shares(data / DEMOGRAPHICS_FILE)
    cities = read_cities(data / CITIES_FILE, district_km)
    cities = cities[cities["unhcr_coa_iso3"].isin(totals["coa_iso3"])]
    parts: list[pd.DataFrame] = []
    summary: list[dict[str, object]] = []
    by_country = cities.groupby("unhcr_coa_iso3")
    groups = by_country.indices
    for row in totals.itertuples():
        code = str(row.coa_iso3)
        share = shares.get(code, overall)
        voters = float(str(row.people)) * share
        idx = groups.get(code)
        places = cities.iloc[idx] if idx is not None else cities.iloc[0:0]
        pop = places["population"].to_numpy(np.float64)
        if voters > 0 and (len(places) == 0 or pop.sum() <= 0):
            raise PlannerInputError(
                f"{code} has {voters:,.0f} estimated voters but no place with a population in "
                f"{CITIES_FILE}",
                where=Location(file=str(data / CITIES_FILE)).sub("unhcr_coa_iso3"),
            )
        if voters > 0:
            parts.append(
                pd.DataFrame(
                    {
                        "place_id": places["geonameid"].astype(str).to_numpy(),
                        "name": places["name"].to_numpy(),
                        "country_iso3": code,
                        "latitude": places["latitude"].to_numpy(),
                        "longitude": places["longitude"].to_numpy(),
                        "voters": voters * pop / pop.sum(),
                        "source": f"estimate: UNHCR {year} x adult share x population share",
                    }
                )
            )
        summary.append(
            {
                "country_iso3": code,
                "country": row.coa_name,
                "people": row.people,
                "adult_share": share,
                "voters": voters,
                "places": len(places),
                "source": "estimate",
            }
        )
    demand = pd.concat(parts, ignore_index=True) if parts else _empty_demand()
    summary_df = pd.DataFrame(summary)
    if registrations is not None:
        demand, summary_df = _apply_registrations(demand, summary_df, registrations)
    return demand, summary_df


def _empty_demand() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["place_id", "name", "country_iso3", "latitude", "longitude", "voters", "source"]
    )


def _apply_registrations(
    demand: pd.DataFrame, summary: pd.DataFrame, path: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registrations replace the estimate of every country they name."""
    reg = read_demand(path)
    known = set(summary["country_iso3"])
    for row in reg.itertuples():
        if row.country_iso3 not in known:
            raise PlannerInputError(
                f"unknown country {row.country_iso3} (not a country of asylum in the UNHCR data)",
                where=Location(file=str(path), line=int(str(row.line))).sub("country_iso3"),
            )
    named = set(reg["country_iso3"])
    reg = reg.drop(columns=["line"]).assign(
        source=lambda t: t["source"].where(t["source"] != "", "registrations")
    )
    kept = demand[~demand["country_iso3"].isin(named)]
    out = pd.concat([kept, reg], ignore_index=True)
    counts = reg.groupby("country_iso3")["voters"].agg(["sum", "size"])
    summary = summary.copy()
    for code, (voters, size) in counts.iterrows():
        mask = summary["country_iso3"] == code
        summary.loc[mask, "voters"] = voters
        summary.loc[mask, "places"] = size
        summary.loc[mask, "source"] = "registrations"
    return out, summary


def world_sites(
    data: Path,
    demand: pd.DataFrame,
    *,
    defaults: SiteDefaults | None = None,
    district_km: float = 6.0,
) -> pd.DataFrame:
    """Candidate sites (schema of :data:`viche.planner.inputs.SITE_COLUMNS`) for the
    countries of ``demand``: the missions, and one hall per large place."""
    d = defaults or SiteDefaults()
    countries = set(demand["country_iso3"])
    missions = read_table(data / MISSIONS_FILE, MISSION_COLUMNS, None)
    missions = missions[missions["country_iso3"].isin(countries)]
    missions = missions.dropna(subset=["latitude", "longitude"])
    honorary = missions["type"].str.contains("honorary")
    m = pd.DataFrame(
        {
            "site_id": [f"M{int(line)}" for line in missions["line"]],
            "name": [
                f"{t.capitalize()}, {c or k}"
                for t, c, k in zip(
                    missions["type"], missions["city"], missions["country_iso3"], strict=True
                )
            ],
            "country_iso3": missions["country_iso3"].to_numpy(),
            "latitude": missions["latitude"].to_numpy(),
            "longitude": missions["longitude"].to_numpy(),
            "kind": np.where(honorary, "honorary", "mission"),
            "fixed_cost": np.where(honorary, d.honorary_fixed_cost, 0.0),
            "day_cost": np.where(honorary, d.honorary_day_cost, 0.0),
            "max_booths": np.where(honorary, d.honorary_booths, d.mission_booths),
            "max_days": d.max_days,
        }
    )
    cities = read_cities(data / CITIES_FILE, district_km)
    large = cities["population"] > d.hall_population
    big = cities[cities["unhcr_coa_iso3"].isin(countries) & large]
    h = pd.DataFrame(
        {
            "site_id": [f"H{g}" for g in big["geonameid"]],
            "name": [f"Hall, {n}" for n in big["name"]],
            "country_iso3": big["unhcr_coa_iso3"].to_numpy(),
            "latitude": big["latitude"].to_numpy(),
            "longitude": big["longitude"].to_numpy(),
            "kind": "hall",
            "fixed_cost": d.hall_fixed_cost,
            "day_cost": d.hall_day_cost,
            "max_booths": d.hall_booths,
            "max_days": d.max_days,
        }
    )
    return pd.concat([m, h], ignore_index=True)
