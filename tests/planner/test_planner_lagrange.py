"""The decomposition's proven bounds against brute force on tiny instances: every plan of every
site (closed, or any days and booth-days), its cost, and the most voters its capacities can
take (a transport LP), straight from the tables (none of the model's reductions)."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planner_cases import BASE, BOOTH, KAPPA, PARAMS, demand_table, site_table, two_towns
from scipy.optimize import linprog
from test_planner_property import _check_constraints

from viche.planner.geo import haversine_km
from viche.planner.inputs import Params
from viche.planner.instance import build_blocks
from viche.planner.lagrange import Decomposition, round_plan
from viche.planner.solve import plan, required_budget


def _most_served(
    demand: pd.DataFrame, sites: pd.DataFrame, booth_days: tuple[int, ...], params: Params
) -> float:
    """Most voters the sites take with these booth-days (0: closed): a transport LP."""
    voters = demand["voters"].to_numpy(np.float64) * params.in_person_share
    km = haversine_km(
        demand["latitude"].to_numpy(np.float64)[:, None],
        demand["longitude"].to_numpy(np.float64)[:, None],
        sites["latitude"].to_numpy(np.float64)[None, :],
        sites["longitude"].to_numpy(np.float64)[None, :],
    )
    same = demand["country_iso3"].to_numpy()[:, None] == sites["country_iso3"].to_numpy()[None, :]
    pairs = [
        (p, s)
        for p in range(len(demand))
        for s in range(len(sites))
        if booth_days[s] > 0 and same[p, s] and km[p, s] <= params.max_travel_km
    ]
    if not pairs:
        return 0.0
    rows = np.zeros((len(demand) + len(sites), len(pairs)))
    for k, (p, s) in enumerate(pairs):
        rows[p, k] = 1.0
        rows[len(demand) + s, k] = 1.0
    limits = np.concatenate([voters, KAPPA * np.array(booth_days, np.float64)])
    res = linprog(-np.ones(len(pairs)), A_ub=rows, b_ub=limits, bounds=(0, None), method="highs")
    assert res.status == 0 and res.fun is not None
    return -float(res.fun)


def _every_plan(
    demand: pd.DataFrame, sites: pd.DataFrame, params: Params
) -> list[tuple[float, float]]:
    """``(cost, voters served)`` of every way to run every site."""
    per_site: list[list[tuple[int, float]]] = []
    for k in range(len(sites)):
        fixed = float(sites["fixed_cost"].iloc[k])
        rent = float(sites["day_cost"].iloc[k])
        booths = int(sites["max_booths"].iloc[k])
        ways = [(0, 0.0)]
        for days in range(1, min(int(sites["max_days"].iloc[k]), params.max_days) + 1):
            for total in range(days, booths * days + 1):
                ways.append((total, fixed + days * (rent + BASE) + total * BOOTH))
        per_site.append(ways)
    out = []
    for combo in itertools.product(*per_site):
        booth_days = tuple(t for t, _ in combo)
        out.append((sum(c for _, c in combo), _most_served(demand, sites, booth_days, params)))
    return out


@st.composite
def tiny(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    places = [
        (
            f"P{k}",
            draw(st.sampled_from(("AAA", "BBB"))),
            draw(st.floats(0.0, 1.5)),
            draw(st.floats(0.0, 1.5)),
            draw(st.floats(0.0, 3.0)) * KAPPA,
        )
        for k in range(draw(st.integers(1, 4)))
    ]
    sites = [
        (
            f"S{k}",
            draw(st.sampled_from([p[1] for p in places])),
            draw(st.floats(0.0, 1.5)),
            draw(st.floats(0.0, 1.5)),
            "hall",
            draw(st.sampled_from([0.0, 800.0, 2000.0])),
            draw(st.sampled_from([0.0, 300.0])),
            draw(st.integers(1, 2)),
            draw(st.integers(1, 2)),
        )
        for k in range(draw(st.integers(1, 3)))
    ]
    return demand_table(places), site_table(sites)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny(), st.floats(0.0, 6000.0))
def test_decomposition_bound_holds_against_brute_force(
    case: tuple[pd.DataFrame, pd.DataFrame], budget: float
) -> None:
    demand, sites = case
    params = replace(PARAMS, budget=budget)
    best = max(
        (served for cost, served in _every_plan(demand, sites, params) if cost <= budget + 1e-9),
        default=0.0,
    )
    for strategy in ("decompose", "joint"):
        result = plan(demand, sites, params, strategy=strategy)
        s = result.summary
        # the plan is feasible, so no better than the optimum; the bound is no lower
        assert s["covered_voters"] <= best + 1e-6
        assert s["coverage_bound"] >= best - 1e-6 * max(best, 1.0) - 1e-6
        assert s["gap"] >= 0.0
        _check_constraints(result, demand, sites, budget)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny(), st.floats(0.1, 0.9))
def test_required_budget_bound_holds_against_brute_force(
    case: tuple[pd.DataFrame, pd.DataFrame], share: float
) -> None:
    demand, sites = case
    total = float(demand["voters"].sum()) * PARAMS.in_person_share
    need = share * total
    plans = _every_plan(demand, sites, PARAMS)
    cheapest = min((cost for cost, served in plans if served >= need - 1e-9), default=math.inf)
    if math.isinf(cheapest):
        return  # unreachable targets: test_planner_solve covers their errors
    for strategy in ("decompose", "joint"):
        result = required_budget(demand, sites, PARAMS, share, strategy=strategy)
        s = result.summary
        assert s["covered_voters"] >= need - 1e-6
        assert s["cost"] >= cheapest - 1e-6
        assert s["cost_bound"] <= cheapest + 1e-6


def test_decomposition_finds_the_known_optimum_with_no_gap() -> None:
    demand, sites = two_towns()
    result = plan(demand, sites, PARAMS, strategy="decompose")
    s = result.summary
    assert s["covered_voters"] == pytest.approx(7 * KAPPA, rel=1e-6)
    assert s["cost"] == pytest.approx((BASE + 5 * BOOTH) + (2000 + 1000 + BASE + 2 * BOOTH))
    assert s["gap"] == pytest.approx(0.0, abs=1e-3)
    assert s["highs_runs"] > 0 and s["highs_lp_iterations"] > 0


def test_decomposition_spends_a_tight_budget_on_the_cheapest_voters() -> None:
    demand, sites = two_towns()
    budget = BASE + 3 * BOOTH
    result = plan(demand, sites, replace(PARAMS, budget=budget), strategy="decompose")
    assert result.summary["covered_voters"] == pytest.approx(3 * KAPPA, rel=1e-6)
    assert result.summary["cost"] <= budget + 1e-6
    # the bound is the LP's: it may pay a fifth of a day per booth-day (5 booths a day), so
    # BASE + 3 BOOTH buys (BASE + 3 BOOTH) / (BOOTH + BASE / 5) booth-days there
    lp_booth_days = budget / (BOOTH + BASE / 5)
    assert result.summary["coverage_bound"] == pytest.approx(lp_booth_days * KAPPA, rel=1e-6)
    gap = 1 - 3 * KAPPA / (lp_booth_days * KAPPA)
    assert result.summary["gap"] == pytest.approx(gap, rel=1e-6)


def test_a_country_whose_sites_cannot_pay_is_skipped_exactly() -> None:
    demand = demand_table([("A", "AAA", 0.0, 0.0, 10.0)])
    sites = site_table([("H", "AAA", 0.0, 0.0, "hall", 2000.0, 1000.0, 5, 2)])
    blocks, _ = build_blocks(demand, sites, PARAMS)
    d = Decomposition(blocks, PARAMS)
    country = d.countries[0]
    # 10 voters cannot pay for a 3,000+ hall at a price of 0.1 voter per unit: skipped
    assert d.worthless(country, 0.1)
    result = country.lp.solve(0.1, time_limit=5.0, mip_gap=0.0)
    assert result is not None and result.objective == pytest.approx(0.0, abs=1e-9)
    # its twin: at a tiny price the hall is worth opening, so the LP must be solved
    assert not d.worthless(country, 1e-4)


def test_rounding_gives_an_integer_plan_within_capacity() -> None:
    demand, sites = two_towns()
    blocks, _ = build_blocks(demand, sites, PARAMS)
    d = Decomposition(blocks, PARAMS)
    country = d.countries[0]
    lp = country.lp.solve(0.01, time_limit=5.0, mip_gap=0.0)
    assert lp is not None
    m = len(country.block.modes)
    option = round_plan(country, np.ones(m, bool), lp.values, 0.01, d.kappa)
    site_values = option.values[: 3 * m].reshape(m, 3)
    assert np.allclose(site_values, np.round(site_values))
    assert option.coverage <= lp.coverage + 1e-6
    shares = option.values[3 * m :]
    voters = country.block.class_voters[country.block.pair_class] * shares
    load = np.bincount(country.block.pair_site, weights=voters, minlength=m)
    assert (load <= KAPPA * site_values[:, 2] + 1e-6).all()
