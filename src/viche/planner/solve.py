"""Plan polling stations: decompose by country, solve the MILP, compare with greedy.

Strategy:

1. build the reduced blocks (:mod:`viche.planner.instance`);
2. each country's best coverage without a budget (a quick MILP per country);
3. if greedy without a budget reaches every country's best coverage within the budget, the
   budget does not bind and nothing couples countries: each country's least-cost plan for its
   best coverage is found by its own MILP (exact, with HiGHS's proven gap);
4. otherwise the budget binds: greedy splits it between countries, each country's MILP finds
   the best plan within its share (never worse than greedy, whose plan it falls back on), and a
   global upper bound on coverage comes from the LP relaxation of the whole model with the
   budget row: the gap reported is measured against that bound, so it is proven.

One joint MILP over all countries is also available (``strategy="joint"``) but on the world
instance HiGHS finds worse plans in a minute than the decomposition does (bench/planner).
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from viche.errors import NOWHERE, Location, PlannerInfeasibleError, PlannerSolverError
from viche.planner.geo import FloatArray
from viche.planner.greedy import greedy
from viche.planner.inputs import Params
from viche.planner.instance import (
    CountryBlock,
    base_day_cost,
    booth_cost,
    build_blocks,
    class_matrix_size,
    staff_count,
)
from viche.planner.milp import Decoded, build_model, decode, solve_blocks
from viche.planner.queues import booth_day_capacity, station_queue

Method = Literal["milp", "greedy"]


@dataclass(slots=True)
class Plan:
    """A plan: its stations, which places each serves, per-country figures and totals."""

    method: str
    stations: pd.DataFrame
    assignments: pd.DataFrame
    countries: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    hourly: pd.DataFrame = field(default_factory=pd.DataFrame)


STATION_COLUMNS = [
    "site_id",
    "name",
    "country_iso3",
    "kind",
    "latitude",
    "longitude",
    "booths",
    "days",
    "booths_per_day",
    "booth_days",
    "staff",
    "cost",
    "capacity",
    "voters_served",
    "places_served",
    "mean_wait_minutes",
    "peak_wait_minutes",
    "peak_utilisation",
]
COUNTRY_COLUMNS = [
    "country_iso3",
    "in_person_voters",
    "reachable_voters",
    "covered_voters",
    "coverage_share",
    "stations",
    "booth_days",
    "cost",
    "mean_wait_minutes",
]


def plan(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    params: Params,
    *,
    method: Method = "milp",
    min_coverage_share: float | None = None,
    kinds: tuple[str, ...] | None = None,
    sites_where: Location = NOWHERE,
) -> Plan:
    """The best plan for these tables (or the greedy one).

    ``kinds`` limits the candidate sites (``("mission",)`` is today's network);
    ``min_coverage_share`` demands that share of the in-person voters be covered and raises
    :class:`~viche.errors.PlannerInfeasibleError` naming the constraint that prevents it.
    """
    params.validated()
    started = time.perf_counter()
    if kinds is not None:
        sites = sites[sites["kind"].isin(kinds)]
    sites = sites.reset_index(drop=True)
    blocks, excluded = build_blocks(demand, sites, params, sites_where=sites_where)
    built = time.perf_counter()
    total = sum(b.demand for b in blocks)
    need = None if min_coverage_share is None else min_coverage_share * total
    if need is not None:
        _check_reach(blocks, need, min_coverage_share or 0.0, params)
    if method == "greedy":
        decoded, served = _greedy_plan(blocks, params.budget, stop_at=math.inf)
        bound = math.nan
        solved: dict[str, Any] = {"optimal": False, "strategy": "greedy"}
        if need is not None and sum(float(x.sum()) for x in served) + 1e-6 < need:
            raise _budget_error(params, sum(float(x.sum()) for x in served), need)
    else:
        decoded, served, bound, solved = _solve(blocks, params, need)
    result = _assemble(
        blocks, decoded, served, demand=demand, sites=sites, params=params, method=method
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    st = result.stations
    covered = float(st["voters_served"].sum())
    result.summary.update(
        {
            "method": method,
            "kinds": list(kinds) if kinds else "all",
            "budget": params.budget,
            "cost": float(st["cost"].sum()),
            "in_person_voters": total,
            "reachable_voters": sum(b.reachable for b in blocks),
            "covered_voters": covered,
            "coverage_share": covered / total if total > 0 else 1.0,
            "coverage_bound": bound,
            "gap": math.nan
            if math.isnan(bound)
            else (max(bound - covered, 0.0) / bound if bound > 0 else 0.0),
            "excluded_countries": excluded,
            "stations": len(st),
            "booth_days": int(st["booth_days"].sum()),
            "staff_days": int((st["staff"] * st["days"]).sum()),
            "mean_wait_minutes": float(
                (st["mean_wait_minutes"] * st["voters_served"]).sum() / covered
            )
            if covered > 0
            else 0.0,
            "max_peak_wait_minutes": float(st["peak_wait_minutes"].max()) if len(st) else 0.0,
            "seconds_build": built - started,
            "seconds_total": time.perf_counter() - started,
            "peak_rss_mb": peak / 2**20,
            "model": class_matrix_size(blocks),
            **solved,
        }
    )
    return result


def _budget_error(params: Params, covered: float, need: float) -> PlannerInfeasibleError:
    return PlannerInfeasibleError(
        f"the budget {params.budget:,.0f} makes the coverage target impossible: the best plan "
        f"found covers {covered:,.0f} of the {need:,.0f} voters required "
        "(`viche plan budget` finds the least budget that reaches it)",
        where=Location(path=("budget",)),
    )


def _check_reach(blocks: list[CountryBlock], need: float, share: float, params: Params) -> None:
    reachable = sum(b.reachable for b in blocks)
    if reachable + 1e-6 < need:
        raise PlannerInfeasibleError(
            f"the travel limit makes coverage {share:.0%} impossible: only "
            f"{reachable:,.0f} of the {sum(b.demand for b in blocks):,.0f} in-person voters live "
            f"within {params.max_travel_km:.0f} km of a candidate site",
            where=Location(path=("max_travel_minutes",)),
        )


def _greedy_plan(
    blocks: list[CountryBlock], budget: float, stop_at: float
) -> tuple[Decoded, list[FloatArray]]:
    chosen, served = greedy(blocks, budget, stop_at)
    decoded: Decoded = [[() for _ in b.modes] for b in blocks]
    for ch in chosen:
        decoded[ch.block][ch.site] = (ch.mode.booths,) * ch.mode.days
    return decoded, served


def site_cost(b: CountryBlock, j: int, booths: tuple[int, ...], params: Params) -> float:
    """Cost of kept site ``j`` of ``b`` run with these booths per day."""
    if not booths:
        return 0.0
    return b.site_fixed[j] + sum(
        b.site_day_cost[j] + base_day_cost(params) + n * booth_cost(params) for n in booths
    )


def _cost(blocks: list[CountryBlock], decoded: Decoded, params: Params) -> float:
    return sum(
        site_cost(b, j, booths, params)
        for b, per_site in zip(blocks, decoded, strict=True)
        for j, booths in enumerate(per_site)
    )


def _slice(
    started: float, params: Params, blocks: list[CountryBlock], k: int, reserve: float = 0.0
) -> float:
    """Time for block ``k``: the time left shared in proportion to the blocks' sizes."""
    left = params.time_limit - reserve - (time.perf_counter() - started)
    weight = max(len(blocks[k].pair_class), 1) / max(sum(len(o.pair_class) for o in blocks[k:]), 1)
    return max(left * weight, 0.2)


def _solve(
    blocks: list[CountryBlock], params: Params, need: float | None
) -> tuple[Decoded, list[FloatArray], float, dict[str, Any]]:
    started = time.perf_counter()
    best = _best_coverage(blocks, params)
    full_cover = sum(best)
    if need is not None and full_cover + 1e-6 < need:
        raise PlannerInfeasibleError(
            f"station capacity (max_booths x max_days) makes the coverage target impossible: "
            f"at most {full_cover:,.0f} of the {need:,.0f} voters required can be served",
            where=Location(path=("max_booths",)),
        )
    g_all, g_all_served = _greedy_plan(blocks, math.inf, math.inf)
    binding = _cost(blocks, g_all, params) > params.budget + 1e-6 or any(
        float(x.sum()) < m * (1 - 1e-9) - 1e-6 for x, m in zip(g_all_served, best, strict=True)
    )
    if not binding:
        decoded, served, bounds, optimal = _per_country(
            blocks, g_all, g_all_served, params, started, target=True
        )
        return (
            decoded,
            served,
            full_cover,
            {
                "strategy": "per country (the budget does not bind)",
                "optimal": optimal == len(blocks),
                "countries_optimal": optimal,
                "cost_bound": bounds,
                "seconds_solve": time.perf_counter() - started,
            },
        )
    g_modes, g_served = _greedy_plan(blocks, params.budget, need or math.inf)
    lp_seconds = min(params.time_limit / 3, 20.0)
    # What greedy left unspent goes to the countries in proportion to the voters it left
    # uncovered there (each country's MILP then spends only what it needs).
    spent = [_cost([b], [m], params) for b, m in zip(blocks, g_modes, strict=True)]
    missing = [max(m - float(x.sum()), 0.0) for m, x in zip(best, g_served, strict=True)]
    left = max(params.budget - sum(spent), 0.0)
    shares = [
        s + (left * u / sum(missing) if sum(missing) > 0 else 0.0)
        for s, u in zip(spent, missing, strict=True)
    ]
    decoded, served, _, optimal = _per_country(
        blocks,
        g_modes,
        g_served,
        params,
        started,
        target=need is not None,
        reserve=lp_seconds,
        shares=shares,
    )
    covered = sum(float(x.sum()) for x in served)
    if need is not None and covered + 1e-6 < need:
        raise _budget_error(params, covered, need)
    bound = min(full_cover, _relaxation_bound(blocks, params, lp_seconds))
    return (
        decoded,
        served,
        bound,
        {
            "strategy": "budget split by greedy, exact MILP per country within its share",
            "optimal": False,
            "countries_optimal_within_share": optimal,
            "seconds_solve": time.perf_counter() - started,
        },
    )


def _best_coverage(blocks: list[CountryBlock], params: Params) -> list[float]:
    """Each country's most voters covered with no budget: every site at its largest size,
    a transport LP (exact: with no budget nothing is gained by opening less)."""
    best: list[float] = []
    for b in blocks:
        if not len(b.pair_class):
            best.append(0.0)
            continue
        model = build_model([b], params, strong=False)
        res = milp(
            -model.cover,
            bounds=Bounds(np.zeros(len(model.cost)), model.upper),
            constraints=[LinearConstraint(model.matrix, -np.inf, model.row_upper)],
        )
        best.append(float(-res.fun) if res.x is not None else b.reachable)
    return best


def _relaxation_bound(blocks: list[CountryBlock], params: Params, seconds: float) -> float:
    """An upper bound on coverage within the budget: the LP relaxation of the whole model."""
    model = build_model(blocks, params, strong=False)
    rows = [
        LinearConstraint(model.matrix, -np.inf, model.row_upper),
        LinearConstraint(sp.csr_array(model.cost.reshape(1, -1)), -np.inf, params.budget),
    ]
    res = milp(
        -model.cover,
        bounds=Bounds(np.zeros(len(model.cost)), model.upper),
        constraints=rows,
        options={"time_limit": seconds},
    )
    if res.status != 0 or res.fun is None:
        return sum(b.reachable for b in blocks)
    return float(-res.fun)


def _per_country(
    blocks: list[CountryBlock],
    g_decoded: Decoded,
    g_served: list[FloatArray],
    params: Params,
    started: float,
    *,
    target: bool,
    reserve: float = 0.0,
    shares: list[float] | None = None,
) -> tuple[Decoded, list[FloatArray], float, int]:
    """Each country's MILP given greedy's plan: with ``target``, the least cost for at least
    greedy's coverage; otherwise the best coverage within greedy's spending (then the least
    cost). The better of MILP and greedy is kept per country. Returns the plans, the sum of
    proven bounds (cost bounds with ``target``, coverage bounds otherwise) and how many
    countries were solved to proven optimality."""
    decoded: Decoded = []
    served: list[FloatArray] = []
    bound = 0.0
    optimal = 0
    for k, b in enumerate(blocks):
        g_cost = _cost([b], [g_decoded[k]], params)
        g_cover = float(g_served[k].sum())
        where = Location(path=(b.country,))
        limit = _slice(started, params, blocks, k, reserve)
        try:
            if target:
                sol = solve_blocks(
                    [b],
                    params,
                    budget=None,
                    min_coverage=g_cover * (1 - 1e-9),
                    mip_gap=params.mip_gap,
                    time_limit=limit,
                    where=where,
                )
            else:
                sol = solve_blocks(
                    [b],
                    params,
                    budget=g_cost if shares is None else max(shares[k], g_cost),
                    min_coverage=None,
                    mip_gap=params.mip_gap,
                    time_limit=limit,
                    where=where,
                )
        except PlannerSolverError:
            sol = None
        better = sol is not None and (
            sol.cost <= g_cost + 1e-6
            if target
            else (
                sol.coverage > g_cover + 1e-6
                or (sol.coverage >= g_cover - 1e-6 and sol.cost <= g_cost + 1e-6)
            )
        )
        if sol is not None and better:
            m, x = decode([b], params, sol.values)
            bound += sol.cost_bound if target else sol.coverage_bound
            optimal += int(sol.optimal)
        else:
            m, x = [g_decoded[k]], [g_served[k]]
            bound += g_cost if target else b.reachable
        decoded += m
        served += x
    return decoded, served, bound, optimal


def _assemble(
    blocks: list[CountryBlock],
    decoded: Decoded,
    served: list[FloatArray],
    *,
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    params: Params,
    method: str,
) -> Plan:
    stations: list[dict[str, Any]] = []
    assign: list[dict[str, Any]] = []
    hourly: list[dict[str, Any]] = []
    countries: list[dict[str, Any]] = []
    voters_col = demand["voters"].to_numpy(np.float64) * params.in_person_share
    kappa = booth_day_capacity(params)
    place_ids = demand["place_id"].to_numpy()
    place_names = demand["name"].to_numpy()
    for b, per_site, x in zip(blocks, decoded, served, strict=True):
        load = (
            np.bincount(b.pair_site, weights=x, minlength=len(b.modes))
            if len(x)
            else np.zeros(len(b.modes))
        )
        cover = cost = waits = 0.0
        n_open = booth_days = 0
        for j, booths in enumerate(per_site):
            if not booths or load[j] <= 1e-6:
                continue  # a site that serves nobody is not opened: it would only cost
            row = sites.iloc[int(b.site_rows[j])]
            total_booths = sum(booths)
            # Voters spread over the days in proportion to each day's booths.
            queues = [station_queue(n, float(load[j]) * n / total_booths, params) for n in booths]
            mean_wait = sum(q.mean_wait_minutes * q.voters_per_day for q in queues) / float(load[j])
            pairs = np.flatnonzero((b.pair_site == j) & (x > 1e-6))
            places = 0
            for p in pairs.tolist():
                c = int(b.pair_class[p])
                share = float(x[p]) / float(b.class_voters[c])
                for r in b.class_members[c].tolist():
                    v = float(voters_col[r]) * share
                    if v > 0:
                        places += 1
                        assign.append(
                            {
                                "place_id": place_ids[r],
                                "place": place_names[r],
                                "country_iso3": b.country,
                                "site_id": row["site_id"],
                                "voters": v,
                                "km": float(b.pair_km[p]),
                            }
                        )
            site_total = site_cost(b, j, booths, params)
            stations.append(
                {
                    "site_id": row["site_id"],
                    "name": row["name"],
                    "country_iso3": b.country,
                    "kind": row["kind"],
                    "latitude": float(row["latitude"]),
                    "longitude": float(row["longitude"]),
                    "booths": max(booths),
                    "days": len(booths),
                    "booths_per_day": ";".join(str(n) for n in booths),
                    "booth_days": total_booths,
                    "staff": staff_count(max(booths), params),
                    "cost": site_total,
                    "capacity": kappa * total_booths,
                    "voters_served": float(load[j]),
                    "places_served": places,
                    "mean_wait_minutes": mean_wait,
                    "peak_wait_minutes": max(q.peak_wait_minutes for q in queues),
                    "peak_utilisation": max(q.peak_utilisation for q in queues),
                }
            )
            first = queues[0]
            for h, (a, w, n) in enumerate(
                zip(
                    first.hourly_arrivals,
                    first.hourly_wait_minutes,
                    first.hourly_queue,
                    strict=True,
                )
            ):
                hourly.append(
                    {
                        "site_id": row["site_id"],
                        "hour": params.opening_hour + h,
                        "arrivals": a,
                        "wait_minutes": w,
                        "queue": n,
                    }
                )
            cover += float(load[j])
            cost += site_total
            waits += mean_wait * float(load[j])
            n_open += 1
            booth_days += total_booths
        countries.append(
            {
                "country_iso3": b.country,
                "in_person_voters": b.demand,
                "reachable_voters": b.reachable,
                "covered_voters": cover,
                "coverage_share": cover / b.demand if b.demand > 0 else 1.0,
                "stations": n_open,
                "booth_days": booth_days,
                "cost": cost,
                "mean_wait_minutes": waits / cover if cover > 0 else 0.0,
            }
        )
    station_df = pd.DataFrame(stations, columns=STATION_COLUMNS)
    return Plan(
        method=method,
        stations=station_df.sort_values(
            ["country_iso3", "voters_served"], ascending=[True, False]
        ).reset_index(drop=True),
        assignments=pd.DataFrame(
            assign, columns=["place_id", "place", "country_iso3", "site_id", "voters", "km"]
        ),
        countries=pd.DataFrame(countries, columns=COUNTRY_COLUMNS)
        .sort_values("in_person_voters", ascending=False)
        .reset_index(drop=True),
        hourly=pd.DataFrame(
            hourly, columns=["site_id", "hour", "arrivals", "wait_minutes", "queue"]
        ),
    )


def required_budget(
    demand: pd.DataFrame, sites: pd.DataFrame, params: Params, share: float
) -> Plan:
    """The cheapest plan found that covers ``share`` of the in-person voters (the budget is
    ignored): greedy reaches the target, then each country's MILP covers at least greedy's
    share of it at least cost."""
    relaxed = replace(params, budget=math.inf)
    sites = sites.reset_index(drop=True)
    blocks, _ = build_blocks(demand, sites, relaxed)
    total = sum(b.demand for b in blocks)
    need = share * total
    _check_reach(blocks, need, share, params)
    started = time.perf_counter()
    best = _best_coverage(blocks, params)
    if sum(best) + 1e-6 < need:
        raise PlannerInfeasibleError(
            f"station capacity (max_booths x max_days) makes coverage {share:.0%} impossible: "
            f"at most {sum(best):,.0f} of the {need:,.0f} voters required can be served",
            where=Location(path=("max_booths",)),
        )
    g_decoded, g_served = _greedy_plan(blocks, math.inf, need)
    decoded, served, cost_bound, optimal = _per_country(
        blocks, g_decoded, g_served, relaxed, started, target=True
    )
    result = _assemble(
        blocks, decoded, served, demand=demand, sites=sites, params=params, method="milp"
    )
    st = result.stations
    covered = float(st["voters_served"].sum())
    cost = float(st["cost"].sum())
    result.summary.update(
        {
            "method": "least cost for a coverage target (greedy split, MILP per country)",
            "target_share": share,
            "in_person_voters": total,
            "covered_voters": covered,
            "coverage_share": covered / total if total else 1.0,
            "cost": cost,
            "cost_bound_within_shares": cost_bound,
            "countries_optimal_within_share": optimal,
            "stations": len(st),
            "booth_days": int(st["booth_days"].sum()),
            "seconds_total": time.perf_counter() - started,
            "model": class_matrix_size(blocks),
        }
    )
    return result
