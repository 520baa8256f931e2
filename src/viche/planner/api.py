"""The planner's Python API: tables in, :class:`~viche.planner.solve.Plan` (DataFrames) out.

>>> from viche.planner import api
>>> demand, summary = api.estimate(Path("../shared/data/abroad"))      # doctest: +SKIP
>>> sites = api.world_sites(Path("../shared/data/abroad"), demand)     # doctest: +SKIP
>>> result = api.solve(demand, sites, Params(budget=2e6))               # doctest: +SKIP
>>> result.stations.head()                                              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from viche.errors import PlannerInfeasibleError
from viche.planner.estimate import estimate_demand, world_sites
from viche.planner.inputs import Params, read_demand, read_params, read_sites
from viche.planner.report import Comparison, write_report, write_tables
from viche.planner.solve import Plan, plan, required_budget

__all__ = [
    "Params",
    "Plan",
    "World",
    "compare",
    "estimate",
    "read_demand",
    "read_params",
    "read_sites",
    "required_budget",
    "solve",
    "whatif",
    "world",
    "world_sites",
]

estimate = estimate_demand
solve = plan


def compare(demand: pd.DataFrame, sites: pd.DataFrame, params: Params) -> list[Comparison]:
    """Greedy and today's network (missions only, solved exactly) at the same budget."""
    return [
        Comparison("greedy", plan(demand, sites, params, method="greedy")),
        Comparison("missions only", plan(demand, sites, params, kinds=("mission",))),
    ]


def whatif(
    demand: pd.DataFrame,
    sites: pd.DataFrame,
    params: Params,
    budgets: Sequence[float],
    online_shares: Sequence[float],
    *,
    method: str = "greedy",
) -> pd.DataFrame:
    """Coverage and cost for every (budget, online share); ``method`` ``greedy`` (fast) or
    ``milp``."""
    rows = []
    for share in online_shares:
        for budget in budgets:
            p = replace(params, budget=float(budget), online_share=float(share))
            result = plan(demand, sites, p, method="milp" if method == "milp" else "greedy")
            s = result.summary
            rows.append(
                {
                    "method": method,
                    "budget": budget,
                    "online_share": share,
                    "in_person_voters": s["in_person_voters"],
                    "covered_voters": s["covered_voters"],
                    "coverage_share": s["coverage_share"],
                    "cost": s["cost"],
                    "stations": s["stations"],
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True, slots=True)
class World:
    """Everything ``viche plan world`` produces."""

    plan: Plan
    comparisons: list[Comparison]
    whatif: pd.DataFrame
    budget_for_target: Plan | None
    files: list[Path]


def world(
    data: Path,
    out: Path,
    params: Params,
    *,
    registrations: Path | None = None,
    target_share: float | None = 0.9,
    budgets: Sequence[float] = (),
    online_shares: Sequence[float] = (),
) -> World:
    """The whole chain on the world instance: estimate, solve, compare, what-if, report."""
    demand, summary = estimate_demand(data, registrations=registrations)
    sites = world_sites(data, demand)
    out.mkdir(parents=True, exist_ok=True)
    demand.to_csv(out / "demand.csv", index=False)
    sites.to_csv(out / "sites.csv", index=False)
    summary.to_csv(out / "estimate_summary.csv", index=False)
    main = plan(demand, sites, params)
    comparisons = compare(demand, sites, params)
    needed: Plan | None = None
    if target_share:
        try:
            needed = required_budget(demand, sites, params, target_share)
            main.summary["budget_for_target"] = {
                "share": target_share,
                "cost": needed.summary["cost"],
                "covered_voters": needed.summary["covered_voters"],
            }
        except PlannerInfeasibleError as exc:
            main.summary["budget_for_target"] = {"share": target_share, "error": str(exc)}
    for c in comparisons:
        main.summary[f"compare_{c.label.replace(' ', '_')}"] = {
            "covered_voters": c.plan.summary["covered_voters"],
            "coverage_share": c.plan.summary["coverage_share"],
            "cost": c.plan.summary["cost"],
        }
    budgets = list(budgets) or [params.budget * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)]
    online = list(online_shares) or [params.online_share, 0.0, 0.6]
    table = whatif(demand, sites, params, budgets, online)
    files = write_tables(main, out, params)
    table.to_csv(out / "whatif.csv", index=False)
    files.append(out / "whatif.csv")
    files.append(
        write_report(
            main,
            demand,
            params,
            out,
            comparisons=comparisons,
            whatif=table,
            title="Polling stations abroad: world plan",
        )
    )
    return World(main, comparisons, table, needed, files)


def solve_files(
    demand_file: Path, sites_file: Path, params_file: Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, Params]:
    """Read and validate the three input files."""
    params = read_params(params_file) if params_file else Params()
    return read_demand(demand_file), read_sites(sites_file), params
