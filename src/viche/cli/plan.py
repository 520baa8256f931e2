"""``viche plan``: polling stations abroad.

* ``viche plan estimate --data DIR --demand OUT.csv --sites OUT.csv``  demand and candidate
  sites from the UNHCR, GeoNames and missions files (``--registrations`` overrides countries);
* ``viche plan solve --demand F --sites F [--params F] --out DIR``      the plan, CSV + JSON +
  HTML report (``--greedy``, ``--missions-only``, ``--budget``, ``--online-share``);
* ``viche plan budget --demand F --sites F --share 0.9``                the budget needed;
* ``viche plan world --data DIR --out DIR``                             the whole chain.

Errors are :class:`~viche.errors.VicheError` that :func:`viche.cli.main.main` prints as one line.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from viche.errors import Location

plan_app = typer.Typer(
    name="plan",
    help="Plan polling stations abroad (sites, booths, staff, days) within a budget.",
    no_args_is_help=True,
)

ParamsOpt = Annotated[
    Path | None, typer.Option("--params", help="Parameters CSV (name,value); see docs/planner.md.")
]
BudgetOpt = Annotated[float | None, typer.Option("--budget", help="Override the budget.")]
OnlineOpt = Annotated[
    float | None, typer.Option("--online-share", help="Override the share voting online.")
]
TimeOpt = Annotated[
    float | None, typer.Option("--time-limit", help="Override the solver's time limit (s).")
]


def _params(
    params_file: Path | None, budget: float | None, online: float | None, time_limit: float | None
) -> Any:
    from viche.planner.inputs import Params, read_params

    params = read_params(params_file) if params_file else Params()
    changes: dict[str, Any] = {}
    if budget is not None:
        changes["budget"] = budget
    if online is not None:
        changes["online_share"] = online
    if time_limit is not None:
        changes["time_limit"] = time_limit
    return replace(params, **changes).validated(Location(path=("command line",)))


def _echo_summary(summary: dict[str, Any]) -> None:
    keys = (
        "method",
        "strategy",
        "in_person_voters",
        "reachable_voters",
        "covered_voters",
        "coverage_share",
        "coverage_bound",
        "gap",
        "cost",
        "budget",
        "stations",
        "booth_days",
        "staff_days",
        "mean_wait_minutes",
        "max_peak_wait_minutes",
        "seconds_total",
        "peak_rss_mb",
    )
    for key in keys:
        if key not in summary:
            continue
        value = summary[key]
        if isinstance(value, float):
            text = f"{value:.4f}" if abs(value) < 10 else f"{value:,.0f}"
        else:
            text = str(value)
        typer.echo(f"{key:>22}: {text}")


@plan_app.command("estimate")
def estimate_cmd(
    *,
    data: Annotated[Path, typer.Option("--data", help="The abroad data folder.")],
    demand_out: Annotated[Path, typer.Option("--demand", help="Demand CSV to write.")],
    sites_out: Annotated[
        Path | None, typer.Option("--sites", help="Candidate sites CSV to write.")
    ] = None,
    year: Annotated[int, typer.Option(help="UNHCR year.")] = 2025,
    registrations: Annotated[
        Path | None,
        typer.Option(help="Registrations (demand schema) replacing their countries' estimate."),
    ] = None,
    asylum_seekers: Annotated[
        bool, typer.Option(help="Count asylum-seekers with refugees.")
    ] = True,
) -> None:
    """Spread UNHCR country counts over cities (by population) into a demand CSV."""
    from viche.planner.estimate import estimate_demand, world_sites

    demand, summary = estimate_demand(
        data, year=year, asylum_seekers=asylum_seekers, registrations=registrations
    )
    demand_out.parent.mkdir(parents=True, exist_ok=True)
    demand.to_csv(demand_out, index=False)
    typer.echo(
        f"{len(demand)} places, {demand['voters'].sum():,.0f} eligible voters in "
        f"{len(summary)} countries -> {demand_out}"
    )
    if sites_out is not None:
        sites = world_sites(data, demand)
        sites_out.parent.mkdir(parents=True, exist_ok=True)
        sites.to_csv(sites_out, index=False)
        counts = sites["kind"].value_counts().to_dict()
        typer.echo(f"{len(sites)} candidate sites {counts} -> {sites_out}")


@plan_app.command("solve")
def solve_cmd(
    *,
    demand_file: Annotated[Path, typer.Option("--demand", help="Demand CSV.")],
    sites_file: Annotated[Path, typer.Option("--sites", help="Candidate sites CSV.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    params_file: ParamsOpt = None,
    budget: BudgetOpt = None,
    online_share: OnlineOpt = None,
    time_limit: TimeOpt = None,
    greedy: Annotated[bool, typer.Option("--greedy", help="The greedy baseline only.")] = False,
    missions_only: Annotated[
        bool, typer.Option("--missions-only", help="Only missions as sites (today's network).")
    ] = False,
    min_coverage: Annotated[
        float | None, typer.Option(help="Required share of in-person voters covered.")
    ] = None,
    compare: Annotated[
        bool, typer.Option(help="Also solve greedy and missions-only for the report.")
    ] = True,
) -> None:
    """Solve the plan; write stations/assignments/countries CSV, plan.json and report.html."""
    from viche.planner.inputs import read_demand, read_sites
    from viche.planner.report import Comparison, write_report, write_tables
    from viche.planner.solve import plan

    params = _params(params_file, budget, online_share, time_limit)
    demand = read_demand(demand_file)
    sites = read_sites(sites_file)
    where = Location(file=str(sites_file))
    kinds = ("mission",) if missions_only else None
    result = plan(
        demand,
        sites,
        params,
        method="greedy" if greedy else "milp",
        kinds=kinds,
        min_coverage_share=min_coverage,
        sites_where=where,
    )
    comparisons: list[Comparison] = []
    if compare and not greedy and not missions_only:
        comparisons = [
            Comparison("greedy", plan(demand, sites, params, method="greedy", sites_where=where)),
            Comparison(
                "missions only", plan(demand, sites, params, kinds=("mission",), sites_where=where)
            ),
        ]
    files = write_tables(result, out, params)
    files.append(write_report(result, demand, params, out, comparisons=comparisons))
    _echo_summary(result.summary)
    for c in comparisons:
        typer.echo(
            f"{c.label:>22}: covers {c.plan.summary['covered_voters']:,.0f} for "
            f"{c.plan.summary['cost']:,.0f}"
        )
    typer.echo("wrote " + ", ".join(str(f) for f in files))


@plan_app.command("budget")
def budget_cmd(
    *,
    demand_file: Annotated[Path, typer.Option("--demand", help="Demand CSV.")],
    sites_file: Annotated[Path, typer.Option("--sites", help="Candidate sites CSV.")],
    share: Annotated[float, typer.Option(help="Share of in-person voters to cover.")] = 0.9,
    params_file: ParamsOpt = None,
    online_share: OnlineOpt = None,
    time_limit: TimeOpt = None,
) -> None:
    """The least budget found that covers ``--share`` of the in-person voters."""
    from viche.planner.inputs import read_demand, read_sites
    from viche.planner.solve import required_budget

    if not 0 < share <= 1:
        raise typer.BadParameter("--share must be in (0, 1]")
    params = _params(params_file, None, online_share, time_limit)
    result = required_budget(read_demand(demand_file), read_sites(sites_file), params, share)
    s = result.summary
    typer.echo(
        f"covering {share:.0%} needs a budget of {s['cost']:,.0f} "
        f"({s['stations']} stations, {s['booth_days']:,} booth-days, "
        f"{s['covered_voters']:,.0f} of {s['in_person_voters']:,.0f} voters)"
    )


@plan_app.command("world")
def world_cmd(
    *,
    data: Annotated[Path, typer.Option("--data", help="The abroad data folder.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    params_file: ParamsOpt = None,
    budget: BudgetOpt = None,
    online_share: OnlineOpt = None,
    time_limit: TimeOpt = None,
    registrations: Annotated[
        Path | None, typer.Option(help="Registrations replacing the estimate of their countries.")
    ] = None,
    target: Annotated[float, typer.Option(help="Coverage share whose budget is reported.")] = 0.9,
) -> None:
    """Estimate, solve, compare with greedy and missions only, what-if, report: one command."""
    from viche.planner.api import world

    params = _params(params_file, budget, online_share, time_limit)
    result = world(data, out, params, registrations=registrations, target_share=target)
    _echo_summary(result.plan.summary)
    for c in result.comparisons:
        typer.echo(
            f"{c.label:>22}: covers {c.plan.summary['covered_voters']:,.0f} "
            f"({100 * c.plan.summary['coverage_share']:.1f}%) for "
            f"{c.plan.summary['cost']:,.0f}"
        )
    if result.budget_for_target is not None:
        s = result.budget_for_target.summary
        typer.echo(
            f"{'budget for ' + format(target, '.0%'):>22}: {s['cost']:,.0f} "
            f"(covers {s['covered_voters']:,.0f})"
        )
    typer.echo("wrote " + ", ".join(str(f) for f in result.files))


def register(app: typer.Typer) -> None:
    """Add the ``plan`` command group to ``app``."""
    app.add_typer(plan_app)
