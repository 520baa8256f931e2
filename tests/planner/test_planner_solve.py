"""The optimiser on hand-made instances whose optimum is known, each with a failure twin."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from planner_cases import BASE, BOOTH, KAPPA, PARAMS, demand_table, site_table, two_towns

from viche.errors import PlannerInfeasibleError, PlannerInputError
from viche.planner.greedy import greedy
from viche.planner.instance import build_blocks
from viche.planner.solve import _assemble, _decoded, plan, required_budget

TOL = 1e-3


def test_ample_budget_covers_everyone_at_least_cost() -> None:
    demand, sites = two_towns()
    result = plan(demand, sites, PARAMS)
    s = result.summary
    assert s["covered_voters"] == pytest.approx(7 * KAPPA, rel=TOL)
    # A: the mission, 5 booths on one day; B: its hall, 2 booths on one day.
    expected = (BASE + 5 * BOOTH) + (2000 + 1000 + BASE + 2 * BOOTH)
    assert s["cost"] == pytest.approx(expected)
    assert set(result.stations["site_id"]) == {"SA", "HB"}
    assert s["gap"] == pytest.approx(0.0, abs=1e-4)  # the tie price on cost: 0.01 voter
    # Every voter is assigned to a station within the travel limit.
    assert result.assignments["km"].max() <= PARAMS.max_travel_km
    assert result.assignments["voters"].sum() == pytest.approx(7 * KAPPA, rel=TOL)


def test_tight_budget_buys_the_cheapest_voters_first() -> None:
    demand, sites = two_towns()
    budget = BASE + 3 * BOOTH  # 3 booth-days at the free mission, nothing for the hall in B
    result = plan(demand, sites, replace(PARAMS, budget=budget))
    assert result.summary["covered_voters"] == pytest.approx(3 * KAPPA, rel=TOL)
    assert result.summary["cost"] <= budget + 1e-6
    assert list(result.stations["site_id"]) == ["SA"]


def test_missions_only_is_todays_network() -> None:
    demand, sites = two_towns()
    result = plan(demand, sites, PARAMS, kinds=("mission",))
    assert result.summary["covered_voters"] == pytest.approx(5 * KAPPA, rel=TOL)
    assert set(result.stations["kind"]) == {"mission"}


def test_greedy_never_beats_the_milp_here() -> None:
    demand, sites = two_towns()
    params = replace(PARAMS, budget=BASE + 5 * BOOTH + 3000 + BASE + BOOTH)
    exact = plan(demand, sites, params)
    greedy = plan(demand, sites, params, method="greedy")
    assert exact.summary["covered_voters"] >= greedy.summary["covered_voters"] - 1e-6


def test_dominated_hall_is_pruned_and_the_mission_kept() -> None:
    demand, sites = two_towns()
    blocks, _ = build_blocks(demand, sites, PARAMS)
    kept = {sites.loc[int(r), "site_id"] for r in blocks[0].site_rows}
    assert kept == {"SA", "HB"}
    unpruned, _ = build_blocks(demand, sites, PARAMS, prune=False)
    assert len(unpruned[0].site_rows) == 3


def test_budget_too_small_for_the_target_names_the_budget() -> None:
    demand, sites = two_towns()
    with pytest.raises(PlannerInfeasibleError) as info:
        plan(demand, sites, replace(PARAMS, budget=BASE + BOOTH), min_coverage_share=0.9)
    assert info.value.where.path == ("budget",)
    assert "budget" in info.value.message


def test_budget_enough_for_the_target_is_its_twin() -> None:
    demand, sites = two_towns()
    result = plan(demand, sites, PARAMS, min_coverage_share=0.9)
    assert result.summary["coverage_share"] >= 0.9


def test_unreachable_voters_make_a_target_impossible_by_travel() -> None:
    _, sites = two_towns()
    far = demand_table([("A", "AAA", 0.0, 0.0, 5 * KAPPA), ("Z", "AAA", 40.0, 40.0, 5 * KAPPA)])
    with pytest.raises(PlannerInfeasibleError) as info:
        plan(far, sites, PARAMS, min_coverage_share=0.75)
    assert info.value.where.path == ("max_travel_minutes",)
    assert "travel limit" in info.value.message


def test_too_few_booths_make_a_target_impossible_by_capacity() -> None:
    demand = demand_table([("A", "AAA", 0.0, 0.0, 5 * KAPPA)])
    sites = site_table([("SA", "AAA", 0.0, 0.0, "mission", 0.0, 0.0, 1, 1)])
    with pytest.raises(PlannerInfeasibleError) as info:
        plan(demand, sites, PARAMS, min_coverage_share=0.5)
    assert info.value.where.path == ("max_booths",)


def test_required_budget_is_the_least_cost_of_the_target() -> None:
    demand, sites = two_towns()
    result = required_budget(demand, sites, PARAMS, 5 / 7)
    assert result.summary["cost"] == pytest.approx(BASE + 5 * BOOTH)


def test_required_budget_refuses_an_unreachable_target() -> None:
    demand, sites = two_towns()
    with pytest.raises(PlannerInfeasibleError):
        required_budget(demand, sites.iloc[:2], PARAMS, 0.9)


def test_site_in_a_country_without_demand_is_an_unknown_country() -> None:
    demand, _ = two_towns()
    stray = site_table([("X", "ZZZ", 1.0, 1.0, "hall", 0.0, 0.0, 1, 1)])
    with pytest.raises(PlannerInputError) as info:
        plan(demand, stray, PARAMS)
    assert info.value.where.line == 2
    assert "ZZZ" in info.value.message


def test_excluded_countries_get_no_station() -> None:
    demand, sites = two_towns()
    result = plan(demand, sites, replace(PARAMS, excluded_countries=("AAA",)))
    assert result.summary["stations"] == 0
    assert result.summary["excluded_countries"] == {"AAA": pytest.approx(7 * KAPPA)}


def test_every_station_keeps_its_peak_wait_within_target() -> None:
    demand, sites = two_towns()
    result = plan(demand, sites, PARAMS)
    assert (result.stations["peak_wait_minutes"] <= PARAMS.wait_target_minutes + 1e-6).all()
    assert (result.stations["voters_served"] <= result.stations["capacity"] + 1e-6).all()


def test_a_solution_over_capacity_by_the_solvers_tolerance_is_scaled_back() -> None:
    # HiGHS meets a row to about 1e-6 of its scale: Hypothesis found a site serving
    # 397.058825 voters of a capacity of 397.058824 (peak wait 30.000002 of 30 minutes)
    demand, sites = two_towns()
    blocks, _ = build_blocks(demand, sites, PARAMS)
    chosen, served = greedy(blocks, PARAMS.budget, math.inf)
    decoded = _decoded(blocks, chosen)
    over = []
    for b, per_site, x in zip(blocks, decoded, served, strict=True):
        load = np.bincount(b.pair_site, weights=x, minlength=len(b.modes))
        cap = KAPPA * np.array([float(sum(booths)) for booths in per_site])
        factor = np.where(load > 0, cap * (1 + 1e-5) / np.maximum(load, 1e-300), 1.0)
        over.append(x * factor[b.pair_site])
    assert any(float(x.sum()) > 0 for x in over)
    result = _assemble(blocks, decoded, over, demand=demand, sites=sites, params=PARAMS,
                       method="greedy")  # fmt: skip
    st = result.stations
    assert len(st) and (st["voters_served"] <= st["capacity"]).all()
    assert (st["peak_wait_minutes"] <= PARAMS.wait_target_minutes + 1e-9).all()
    assert result.assignments["voters"].sum() == pytest.approx(st["voters_served"].sum())
    # failure twin: a solution within capacity is kept as it is
    kept = _assemble(blocks, decoded, served, demand=demand, sites=sites, params=PARAMS,
                     method="greedy")  # fmt: skip
    total = sum(float(x.sum()) for x in served)
    assert kept.stations["voters_served"].sum() == pytest.approx(total, rel=1e-12)
