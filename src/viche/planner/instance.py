"""From validated tables to one compact planning block per country.

What is reduced, and why each reduction keeps the optimum (docs/planner.md has the proofs):

* a station only serves places of its own country within ``params.max_travel_km`` (straight
  line); places with no site in reach can never be covered and leave the model;
* **modes**: a site's options are (booths, days) pairs; a mode that costs more than another
  without more capacity is dropped, and so is every mode above the first one that can already
  take all the voters the site can reach;
* **demand classes**: places that reach exactly the same sites are interchangeable, so they
  are merged into one class (their voters added up) and split back pro rata after the solve;
* **dominated sites**: site ``a`` is dropped when another site ``b`` reaches every place ``a``
  reaches and ``b`` can take all the voters it reaches for no more than ``a``'s cheapest mode
  (whatever uses ``a``, using ``b`` at that mode instead covers as much for no more);
  sites that reach nobody are dropped too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from viche.errors import NOWHERE, Location, PlannerInputError
from viche.planner.geo import FloatArray, IntArray, pairs_within
from viche.planner.inputs import Params
from viche.planner.queues import booth_day_capacity


@dataclass(frozen=True, slots=True)
class Mode:
    """One way to run a site: booths per day, days open, voters it can take, what it costs."""

    booths: int
    days: int
    capacity: float
    cost: float


@dataclass(slots=True)
class CountryBlock:
    """The reduced instance of one country (indices refer to the caller's tables)."""

    country: str
    demand: float  # in-person voters of the country
    reachable: float  # of which within reach of some site
    place_rows: IntArray  # rows of the demand table in this country
    site_rows: IntArray  # rows of the sites table kept after pruning
    modes: list[list[Mode]]  # per kept site
    class_voters: FloatArray  # per demand class
    class_members: list[IntArray]  # demand-table rows of each class
    pair_class: IntArray  # class of each (class, site) pair
    pair_site: IntArray  # kept-site position of each pair
    pair_km: FloatArray  # distance of the pair (km, weighted mean over the class's places)
    booth_cap: list[int]  # per kept site: most booths worth opening on one day
    booth_day_cap: list[int]  # per kept site: most booth-days worth paying for (days x booths,
    # and no more than the voters in reach need)
    day_cap: list[int]  # per kept site: most days it may open
    site_fixed: list[float]  # per kept site: cost paid once if it opens
    site_day_cost: list[float]  # per kept site: cost of each day it is open (rent)
    pruned_sites: int = 0
    merged_places: int = 0
    stats: dict[str, int] = field(default_factory=dict)


def station_cost(fixed: float, day_cost: float, booths: int, days: int, params: Params) -> float:
    """Cost of a site run with ``booths`` booths on ``days`` days."""
    return fixed + days * (day_cost + booths * booth_cost(params) + base_day_cost(params))


def booth_cost(params: Params) -> float:
    """What one more booth costs for one day (the booth and its staff member)."""
    return params.booth_day_cost + params.staff_per_booth * params.staff_day_cost


def base_day_cost(params: Params) -> float:
    """Staff every open station has for one day, whatever its booths."""
    return params.staff_per_station * params.staff_day_cost


def staff_count(booths: int, params: Params) -> int:
    return params.staff_per_station + booths * params.staff_per_booth


def site_modes(
    fixed: float, day_cost: float, max_booths: int, max_days: int, reach: float, *, params: Params
) -> list[Mode]:
    """The efficient modes of a site, cheapest first; none beyond the first covering ``reach``."""
    raw: list[Mode] = []
    daily = booth_day_capacity(params)
    # More booths than one day needs to take everyone in reach are never worth offering.
    useful = min(max_booths, max(1, math.ceil(reach / daily - 1e-9)))
    for booths in range(1, useful + 1):
        for days in range(1, min(max_days, params.max_days) + 1):
            cost = station_cost(fixed, day_cost, booths, days, params)
            raw.append(Mode(booths, days, days * booths * daily, cost))
    raw.sort(key=lambda m: (m.cost, -m.capacity))
    kept: list[Mode] = []
    for mode in raw:
        if kept and mode.capacity <= kept[-1].capacity + 1e-9:
            continue  # costs at least as much as a kept mode, takes no more voters
        kept.append(mode)
        if mode.capacity >= reach - 1e-9:
            break
    return kept


def build_blocks(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    params: Params,
    *,
    prune: bool = True,
    sites_where: Location = NOWHERE,
) -> tuple[list[CountryBlock], dict[str, float]]:
    """One block per country with demand; also ``{country: voters}`` of excluded countries.

    ``demand`` and ``sites`` are tables as read by :mod:`viche.planner.inputs`; a site in a
    country without any demand row is refused (an unknown country for this plan).
    """
    known = set(demand["country_iso3"])
    unknown = sites[~sites["country_iso3"].isin(known)]
    if not unknown.empty:
        row = unknown.iloc[0]
        line = int(row["line"]) if "line" in unknown.columns else None
        raise PlannerInputError(
            f"site {row['site_id']!r} is in {row['country_iso3']}, a country without any demand "
            "row (unknown country for this plan)",
            where=sites_where.at(line=line).sub("country_iso3"),
        )
    share = params.in_person_share
    excluded: dict[str, float] = {}
    blocks: list[CountryBlock] = []
    lat_d = demand["latitude"].to_numpy(np.float64)
    lon_d = demand["longitude"].to_numpy(np.float64)
    voters = demand["voters"].to_numpy(np.float64) * share
    lat_s = sites["latitude"].to_numpy(np.float64)
    lon_s = sites["longitude"].to_numpy(np.float64)
    site_groups = sites.groupby("country_iso3").indices
    for country, rows in demand.groupby("country_iso3").indices.items():
        place_rows = np.asarray(rows, np.int64)
        if country in params.excluded_countries:
            excluded[str(country)] = float(voters[place_rows].sum())
            continue
        srows = np.asarray(site_groups.get(country, []), np.int64)
        blocks.append(
            _block(
                str(country),
                place_rows,
                srows,
                lat_d=lat_d,
                lon_d=lon_d,
                voters=voters,
                lat_s=lat_s,
                lon_s=lon_s,
                sites=sites,
                params=params,
                prune=prune,
            )
        )
    return blocks, excluded


def _block(
    country: str,
    place_rows: IntArray,
    site_rows: IntArray,
    *,
    lat_d: FloatArray,
    lon_d: FloatArray,
    voters: FloatArray,
    lat_s: FloatArray,
    lon_s: FloatArray,
    sites: pd.DataFrame,
    params: Params,
    prune: bool,
) -> CountryBlock:
    v = voters[place_rows]
    total = float(v.sum())
    p_idx, s_idx, km = pairs_within(
        lat_d[place_rows],
        lon_d[place_rows],
        lat_s[site_rows],
        lon_s[site_rows],
        params.max_travel_km,
    )
    # Places with no voters or no site in reach leave the model.
    useful = v[p_idx] > 0
    p_idx, s_idx, km = p_idx[useful], s_idx[useful], km[useful]
    reach_sets: dict[int, list[int]] = {}
    for p, s in zip(p_idx.tolist(), s_idx.tolist(), strict=True):
        reach_sets.setdefault(p, []).append(s)
    # Demand classes: places reaching the same set of sites.
    class_of_key: dict[tuple[int, ...], int] = {}
    members: list[list[int]] = []
    for p in sorted(reach_sets):
        key = tuple(sorted(reach_sets[p]))
        c = class_of_key.setdefault(key, len(members))
        if c == len(members):
            members.append([])
        members[c].append(p)
    class_voters = np.array([v[m].sum() for m in members], np.float64)
    keys = list(class_of_key)
    reachable = float(class_voters.sum())
    # Reach of each site (its classes) and the voters it can reach.
    site_classes: dict[int, set[int]] = {}
    for c, key in enumerate(keys):
        for s in key:
            site_classes.setdefault(s, set()).add(c)
    site_reach = {s: float(class_voters[list(cs)].sum()) for s, cs in site_classes.items()}
    fixed_all = sites["fixed_cost"].to_numpy(np.float64)[site_rows]
    day_all = sites["day_cost"].to_numpy(np.float64)[site_rows]
    booths_all = sites["max_booths"].to_numpy(np.int64)[site_rows]
    days_all = sites["max_days"].to_numpy(np.int64)[site_rows]
    modes: dict[int, list[Mode]] = {}
    for s in site_classes:
        modes[s] = site_modes(
            float(fixed_all[s]),
            float(day_all[s]),
            int(booths_all[s]),
            int(days_all[s]),
            site_reach[s],
            params=params,
        )
    kept = sorted(site_classes)
    pruned = 0
    if prune:
        kept, pruned = _prune_dominated(kept, site_classes, site_reach, modes)
    position = {s: k for k, s in enumerate(kept)}
    # Pairs at class level, with the voter-weighted mean distance over the class's places.
    km_sum: dict[tuple[int, int], float] = {}
    place_class = {p: c for c, m in enumerate(members) for p in m}
    for p, s, d in zip(p_idx.tolist(), s_idx.tolist(), km.tolist(), strict=True):
        if s in position:
            k = (place_class[p], position[s])
            km_sum[k] = km_sum.get(k, 0.0) + d * float(v[p])
    pair_keys = sorted(km_sum)
    pair_class = np.array([k[0] for k in pair_keys], np.int64)
    pair_site = np.array([k[1] for k in pair_keys], np.int64)
    pair_km = np.array([km_sum[k] / max(class_voters[k[0]], 1e-12) for k in pair_keys], np.float64)
    kappa = booth_day_capacity(params)
    booth_cap: list[int] = []
    day_cap: list[int] = []
    booth_day_cap: list[int] = []
    fixed: list[float] = []
    day_cost: list[float] = []
    for s in kept:
        fixed.append(float(fixed_all[s]))
        day_cost.append(float(day_all[s]))
        booth_cap.append(min(int(booths_all[s]), max(1, math.ceil(site_reach[s] / kappa))))
        day_cap.append(min(int(days_all[s]), params.max_days))
        booth_day_cap.append(
            min(booth_cap[-1] * day_cap[-1], max(1, math.ceil(site_reach[s] / kappa - 1e-9)))
        )
    return CountryBlock(
        country=country,
        demand=total,
        reachable=reachable,
        place_rows=place_rows,
        site_rows=site_rows[np.array(kept, np.int64)] if kept else np.zeros(0, np.int64),
        modes=[modes[s] for s in kept],
        class_voters=class_voters,
        class_members=[place_rows[np.array(m, np.int64)] for m in members],
        pair_class=pair_class,
        pair_site=pair_site,
        pair_km=pair_km,
        booth_cap=booth_cap,
        booth_day_cap=booth_day_cap,
        day_cap=day_cap,
        site_fixed=fixed,
        site_day_cost=day_cost,
        pruned_sites=pruned + (len(site_rows) - len(site_classes)),
        merged_places=len(reach_sets) - len(members),
    )


def _prune_dominated(
    candidates: list[int],
    site_classes: dict[int, set[int]],
    site_reach: dict[int, float],
    modes: dict[int, list[Mode]],
) -> tuple[list[int], int]:
    """Drop every site dominated by another (see the module docstring)."""
    # A site that can take all it reaches, and the cost of doing so.
    full_cost = {
        s: modes[s][-1].cost
        for s in candidates
        if modes[s] and modes[s][-1].capacity >= site_reach[s] - 1e-9
    }
    dropped: set[int] = set()
    # Strong dominators first so that two equal sites do not remove each other.
    order = sorted(full_cost, key=lambda s: (full_cost[s], -site_reach[s], s))
    for b in order:
        if b in dropped:
            continue
        for a in candidates:
            if a == b or a in dropped or not modes[a]:
                continue
            if full_cost[b] <= modes[a][0].cost and site_classes[a] <= site_classes[b]:
                dropped.add(a)
    kept = [s for s in candidates if s not in dropped and modes[s]]
    return kept, len(candidates) - len(kept)


def class_matrix_size(blocks: list[CountryBlock]) -> dict[str, int]:
    """Sizes of the model over ``blocks`` (for reports and the bench)."""
    return {
        "countries": len(blocks),
        "sites": sum(len(b.modes) for b in blocks),
        "modes": sum(len(m) for b in blocks for m in b.modes),
        "classes": sum(len(b.class_voters) for b in blocks),
        "pairs": sum(len(b.pair_class) for b in blocks),
        "pruned_sites": sum(b.pruned_sites for b in blocks),
        "merged_places": sum(b.merged_places for b in blocks),
    }


def as_int(values: npt.ArrayLike) -> IntArray:
    return np.asarray(values, np.int64)
