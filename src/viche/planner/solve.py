"""Plan polling stations: the MILP (exact on small instances, decomposed by country on large
ones) and the greedy baseline; tables of stations, assignments, countries and hourly queues.

Strategy (``strategy="auto"``):

* a model of at most :data:`JOINT_COLUMNS` columns is one MILP over all countries, solved by
  HiGHS to its own proven gap;
* a larger one is decomposed by country (:mod:`viche.planner.lagrange`): a price on the budget
  makes countries independent; their LP relaxations give a proven upper bound on coverage (a
  lower bound on cost for a coverage target); their rounded and polished integer plans, greedy's
  among them, are combined by an exact multiple-choice knapsack into the plan. The gap reported
  is between that plan and the proven bound.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from viche.errors import NOWHERE, Location, PlannerInfeasibleError, PlannerSolverError
from viche.planner.geo import FloatArray
from viche.planner.greedy import GreedyChoice, greedy
from viche.planner.inputs import Params
from viche.planner.instance import (
    CountryBlock,
    base_day_cost,
    booth_cost,
    build_blocks,
    class_matrix_size,
    staff_count,
)
from viche.planner.lagrange import Outcome, decompose
from viche.planner.milp import (
    Decoded,
    Solver,
    build_model,
    decode,
    encode,
    solve_blocks,
    tie_price,
)
from viche.planner.queues import booth_day_capacity, station_queue

Method = Literal["milp", "greedy"]
Strategy = Literal["auto", "joint", "decompose"]
#: models up to this many columns are solved as one MILP (exact, fast when small)
JOINT_COLUMNS = 3000


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
    strategy: Strategy = "auto",
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
        chosen, served = greedy(blocks, params.budget, math.inf)
        decoded = _decoded(blocks, chosen)
        bound = math.nan
        solved: dict[str, Any] = {"optimal": False, "strategy": "greedy"}
        if need is not None and sum(float(x.sum()) for x in served) + 1e-6 < need:
            raise _budget_error(params, sum(float(x.sum()) for x in served), need, None)
    else:
        decoded, served, bound, solved = _solve(blocks, params, need, strategy)
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


def _budget_error(
    params: Params, covered: float, need: float, bound: float | None
) -> PlannerInfeasibleError:
    proof = (
        f"; no plan within it can cover more than {bound:,.0f} (proven bound)"
        if bound is not None and bound + 1e-6 < need
        else ""
    )
    return PlannerInfeasibleError(
        f"the budget {params.budget:,.0f} makes the coverage target impossible: the best plan "
        f"found covers {covered:,.0f} of the {need:,.0f} voters required{proof} "
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


def _marginal_price(
    blocks: list[CountryBlock], chosen: list[GreedyChoice], served: list[FloatArray]
) -> float:
    """Voters per currency unit of greedy's last choices: where the price search starts."""
    ratios = []
    for ch in chosen[-8:]:
        b = blocks[ch.block]
        load = float(served[ch.block][b.pair_site == ch.site].sum())
        if ch.mode.cost > 0 and load > 0:
            ratios.append(load / ch.mode.cost)
    return float(np.median(ratios)) if ratios else 0.1


def _max_coverage(blocks: list[CountryBlock], params: Params) -> float:
    """The most voters the sites can take at any cost: every country's LP with no price on
    cost (exact: with no budget, opening every site at its largest is an integer plan)."""
    total = 0.0
    for b in blocks:
        model = build_model([b], params)
        if model.size == 0:
            continue
        result = Solver(model, relax=True).solve(0.0, time_limit=params.time_limit, mip_gap=0.0)
        total += result.coverage if result is not None else b.reachable
    return total


def _capacity_error(full: float, need: float, share: str) -> PlannerInfeasibleError:
    return PlannerInfeasibleError(
        f"station capacity (max_booths x max_days) makes {share} impossible: "
        f"at most {full:,.0f} of the {need:,.0f} voters required can be served",
        where=Location(path=("max_booths",)),
    )


def _solve(
    blocks: list[CountryBlock], params: Params, need: float | None, strategy: Strategy
) -> tuple[Decoded, list[FloatArray], float, dict[str, Any]]:
    started = time.perf_counter()
    if need is not None:
        full = _max_coverage(blocks, params)
        if full + 1e-6 < need:
            raise _capacity_error(full, need, "the coverage target")
    model_size = sum(3 * len(b.modes) + len(b.pair_class) for b in blocks)
    if strategy == "joint" or (strategy == "auto" and model_size <= JOINT_COLUMNS):
        return _joint(blocks, params, need, started)
    chosen, g_served = greedy(blocks, params.budget, math.inf)
    g_decoded = _decoded(blocks, chosen)
    outcome = decompose(
        blocks,
        params,
        "coverage",
        params.budget,
        warm=list(zip(g_decoded, g_served, strict=True)),
        start_price=_marginal_price(blocks, chosen, g_served),
        time_limit=params.time_limit,
        gap_goal=params.mip_gap,
    )
    if outcome is None:  # the empty plan is always in the menus: cannot happen
        raise PlannerSolverError("no plan within the budget", where=Location(path=("budget",)))
    decoded, served = _decode_outcome(blocks, outcome)
    covered = outcome.coverage
    if need is not None and covered + 1e-6 < need:
        raise _budget_error(params, covered, need, outcome.bound)
    return (
        decoded,
        served,
        outcome.bound,
        {
            "strategy": "decomposition by country: Lagrangian price on the budget, LP bound, "
            "rounded and polished plans per country, multiple-choice knapsack",
            "optimal": outcome.gap <= 1e-9,
            "price": outcome.price,
            "probes": len(outcome.probes),
            "options": outcome.options,
            "polished_countries": outcome.polished,
            "seconds_solve": time.perf_counter() - started,
            **outcome.work.as_dict(),
        },
    )


def _joint(
    blocks: list[CountryBlock], params: Params, need: float | None, started: float
) -> tuple[Decoded, list[FloatArray], float, dict[str, Any]]:
    """One MILP over every country (small instances): HiGHS's own proven gap."""
    chosen, g_served = greedy(blocks, params.budget, math.inf)
    model = build_model(blocks, params)
    warm = (
        np.concatenate(
            [
                encode(b, per_site, x)
                for b, per_site, x in zip(blocks, _decoded(blocks, chosen), g_served, strict=True)
            ]
        )
        if blocks
        else np.zeros(0)
    )
    cpu = time.process_time()
    result = solve_blocks(
        blocks,
        params,
        budget=params.budget,
        min_coverage=need,
        mip_gap=min(params.mip_gap, 1e-4),  # small: HiGHS closes the gap quickly
        time_limit=params.time_limit,
        start=warm if need is None else None,
    )
    cpu = time.process_time() - cpu
    if result is None:
        covered = sum(float(x.sum()) for x in g_served)
        raise _budget_error(params, covered, need or 0.0, None)
    decoded, served = decode(blocks, result.values)
    # objective = cover - tie * cost, so cover <= bound + tie * (the most any plan costs)
    bound = result.bound + tie_price(model) * float(model.cost @ model.upper)
    return (
        decoded,
        served,
        max(bound, result.coverage),
        {
            "strategy": "one MILP over all countries (small instance)",
            "optimal": result.optimal,
            "seconds_solve": time.perf_counter() - started,
            "highs_runs": 1,
            "highs_seconds": result.seconds,
            "highs_cpu_seconds": cpu,
            "highs_lp_iterations": result.lp_iterations,
            "highs_nodes": result.nodes,
        },
    )


def _decoded(blocks: list[CountryBlock], chosen: list[GreedyChoice]) -> Decoded:
    decoded: Decoded = [[() for _ in b.modes] for b in blocks]
    for ch in chosen:
        decoded[ch.block][ch.site] = (ch.mode.booths,) * ch.mode.days
    return decoded


def _decode_outcome(
    blocks: list[CountryBlock], outcome: Outcome
) -> tuple[Decoded, list[FloatArray]]:
    decoded: Decoded = []
    served: list[FloatArray] = []
    for b, values in zip(blocks, outcome.values, strict=True):
        d, x = decode([b], values)
        decoded += d
        served += x
    return decoded, served


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
    for b, per_site, solved in zip(blocks, decoded, served, strict=True):
        x = solved
        load = (
            np.bincount(b.pair_site, weights=x, minlength=len(b.modes))
            if len(x)
            else np.zeros(len(b.modes))
        )
        # HiGHS meets a constraint to its feasibility tolerance (about 1e-6 of the scaled
        # row): a site may come back serving 397.058825 voters of a capacity of 397.058824,
        # and its peak wait then reads 30.000002 minutes of a 30-minute target. A site's
        # voters are scaled back to its capacity, so the plan never claims more than it can.
        cap = kappa * np.array([float(sum(booths)) for booths in per_site])
        over = load > cap
        if over.any() and len(x):
            scale = np.where(over, cap / np.maximum(load, 1e-300), 1.0)
            x = x * scale[b.pair_site]
            load = np.where(over, cap, load)
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
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    params: Params,
    share: float,
    *,
    strategy: Strategy = "auto",
) -> Plan:
    """The cheapest plan found that covers ``share`` of the in-person voters (the budget is
    ignored), with a proven lower bound on the cost of any plan that does (``cost_bound``,
    ``gap``): the same decomposition as :func:`plan`, the knapsack now choosing the least cost
    for the coverage target (one joint MILP on small instances)."""
    relaxed = replace(params, budget=math.inf)
    sites = sites.reset_index(drop=True)
    blocks, _ = build_blocks(demand, sites, relaxed)
    total = sum(b.demand for b in blocks)
    need = share * total
    _check_reach(blocks, need, share, params)
    started = time.perf_counter()
    full = _max_coverage(blocks, params)
    if full + 1e-6 < need:
        raise _capacity_error(full, need, f"coverage {share:.0%}")
    model_size = sum(3 * len(b.modes) + len(b.pair_class) for b in blocks)
    outcome = None
    if strategy == "decompose" or (strategy == "auto" and model_size > JOINT_COLUMNS):
        chosen, g_served = greedy(blocks, math.inf, need)
        outcome = decompose(
            blocks,
            relaxed,
            "cost",
            need,
            warm=list(zip(_decoded(blocks, chosen), g_served, strict=True)),
            start_price=_marginal_price(blocks, chosen, g_served),
            time_limit=params.time_limit,
            gap_goal=params.mip_gap,
        )
    solved: dict[str, Any]
    if outcome is not None:
        decoded, served = _decode_outcome(blocks, outcome)
        cost_bound = outcome.bound
        solved = {
            "strategy": "decomposition by country (least cost for the target)",
            "price": outcome.price,
            "probes": len(outcome.probes),
            "polished_countries": outcome.polished,
            **outcome.work.as_dict(),
        }
    else:  # small, or no combination of the menus reached the target: one MILP
        model = build_model(blocks, params)
        cpu = time.process_time()
        result = solve_blocks(
            blocks,
            params,
            budget=None,
            min_coverage=need,
            mip_gap=params.mip_gap,
            time_limit=params.time_limit,
            price=1.0,  # maximise -cost: the least cost (coverage only breaks ties)
            cover_weight=1e-9,
        )
        if result is None:  # capacity was checked: only a time limit can get here
            raise PlannerSolverError(
                f"no plan covering {share:.0%} was found in {params.time_limit:.0f} s; "
                "raise time_limit",
                where=Location(path=("time_limit",)),
            )
        decoded, served = decode(blocks, result.values)
        cost_bound = -result.bound - 1e-9 * float(model.cover.sum())
        solved = {
            "strategy": "one MILP over all countries",
            "highs_seconds": result.seconds,
            "highs_cpu_seconds": time.process_time() - cpu,
            "highs_lp_iterations": result.lp_iterations,
            "highs_nodes": result.nodes,
        }
    result_plan = _assemble(
        blocks, decoded, served, demand=demand, sites=sites, params=params, method="milp"
    )
    st = result_plan.stations
    covered = float(st["voters_served"].sum())
    cost = float(st["cost"].sum())
    result_plan.summary.update(
        {
            "method": "least cost for a coverage target",
            "target_share": share,
            "in_person_voters": total,
            "covered_voters": covered,
            "coverage_share": covered / total if total else 1.0,
            "cost": cost,
            "cost_bound": cost_bound,
            "gap": max(cost - cost_bound, 0.0) / cost if cost > 0 else 0.0,
            "stations": len(st),
            "booth_days": int(st["booth_days"].sum()),
            "seconds_total": time.perf_counter() - started,
            "model": class_matrix_size(blocks),
            **solved,
        }
    )
    return result_plan
