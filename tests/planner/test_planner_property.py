"""Property: on random small instances the MILP plan is never worse than greedy, pruning keeps
the optimum, and every plan respects every constraint."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planner_cases import KAPPA, PARAMS, demand_table, site_table

from viche.planner.geo import haversine_km
from viche.planner.instance import build_blocks
from viche.planner.milp import solve_blocks
from viche.planner.solve import Plan, plan

COUNTRIES = ("AAA", "BBB")


@st.composite
def instances(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    n_places = draw(st.integers(1, 6))
    places = []
    for k in range(n_places):
        places.append(
            (
                f"P{k}",
                draw(st.sampled_from(COUNTRIES)),
                draw(st.floats(0.0, 2.0)),
                draw(st.floats(0.0, 2.0)),
                draw(st.floats(0.0, 6.0)) * KAPPA,
            )
        )
    n_sites = draw(st.integers(1, 5))
    sites = []
    for k in range(n_sites):
        country = draw(st.sampled_from([p[1] for p in places]))
        sites.append(
            (
                f"S{k}",
                country,
                draw(st.floats(0.0, 2.0)),
                draw(st.floats(0.0, 2.0)),
                draw(st.sampled_from(["mission", "hall", "honorary"])),
                draw(st.sampled_from([0.0, 500.0, 2000.0])),
                draw(st.sampled_from([0.0, 300.0])),
                draw(st.integers(1, 4)),
                draw(st.integers(1, 2)),
            )
        )
    budget = draw(st.floats(0.0, 8000.0))
    return demand_table(places), site_table(sites), budget


def _check_constraints(
    result: Plan, demand: pd.DataFrame, sites: pd.DataFrame, budget: float
) -> None:
    st_ = result.stations
    assert st_["cost"].sum() <= budget + 1e-6
    assert (st_["voters_served"] <= st_["capacity"] + 1e-6).all()
    assert (st_["booths"] <= st_["site_id"].map(sites.set_index("site_id")["max_booths"])).all()
    assert (st_["peak_wait_minutes"] <= PARAMS.wait_target_minutes + 1e-6).all()
    a = result.assignments
    if len(a):
        merged = (
            a[["place_id", "site_id", "voters"]]
            .merge(demand, on="place_id", suffixes=("_a", ""))
            .merge(sites, on="site_id", suffixes=("", "_s"))
        )
        km = haversine_km(
            merged["latitude"].to_numpy(),
            merged["longitude"].to_numpy(),
            merged["latitude_s"].to_numpy(),
            merged["longitude_s"].to_numpy(),
        )
        assert (km <= PARAMS.max_travel_km + 1e-6).all()
        assert (merged["country_iso3"] == merged["country_iso3_s"]).all()
        per_place = a.groupby("place_id")["voters"].sum()
        voters = demand.set_index("place_id")["voters"]
        assert (per_place <= voters[per_place.index] + 1e-6).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_milp_never_worse_than_greedy_and_feasible(
    case: tuple[pd.DataFrame, pd.DataFrame, float],
) -> None:
    demand, sites, budget = case
    params = replace(PARAMS, budget=budget)
    exact = plan(demand, sites, params)
    greedy = plan(demand, sites, params, method="greedy")
    # The MILP maximises cover - tie_price x cost, the price such that no saving outweighs a
    # hundredth of a voter (milp.tie_price): it may leave out a place of less than 0.01 voter
    # that greedy takes (Hypothesis drew one of 0.008 voters), on top of HiGHS's tolerances.
    slack = 0.01 + 1e-4
    assert exact.summary["covered_voters"] >= greedy.summary["covered_voters"] * (1 - 1e-6) - slack
    _check_constraints(exact, demand, sites, budget)
    _check_constraints(greedy, demand, sites, budget)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_pruning_keeps_the_optimum(case: tuple[pd.DataFrame, pd.DataFrame, float]) -> None:
    demand, sites, budget = case
    params = replace(PARAMS, budget=budget)
    for pruned in (True, False):
        blocks, _ = build_blocks(demand, sites, params, prune=pruned)
        sol = solve_blocks(
            blocks, params, budget=budget, min_coverage=None, mip_gap=0.0, time_limit=10.0
        )
        assert sol is not None
        if pruned:
            best = (sol.coverage, sol.cost)
        else:
            assert sol.coverage == pytest.approx(best[0], abs=1e-4)
            assert sol.cost == pytest.approx(best[1], abs=1e-4)
