"""Planner bench on the world instance: time, gap, memory, coverage vs greedy vs missions only,
and the budget that covers 90% of the in-person voters.

    PYTHONPATH=src python bench/planner/run.py --data ../shared/data/abroad [--budget 3e6]

The world instance: every place of cities.csv (districts merged) in the UNHCR 2025 countries,
every mission with coordinates plus one hall per place over 100,000 inhabitants. Prints one
line per run and a JSON summary (``--json FILE`` to keep it). No peer exists for this problem,
so greedy (the baseline) and today's network (missions only) are the comparisons.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from viche.planner.estimate import estimate_demand, world_sites
from viche.planner.inputs import Params
from viche.planner.instance import build_blocks, class_matrix_size
from viche.planner.solve import plan, required_budget


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/abroad"))
    parser.add_argument("--budget", type=float, default=Params().budget)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--time-limit", type=float, default=Params().time_limit)
    args = parser.parse_args()
    params = replace(Params(), budget=args.budget, time_limit=args.time_limit)
    out: dict[str, Any] = {
        "budget": args.budget,
        "time_limit": args.time_limit,
        "cores": os.cpu_count(),
        "load_before": os.getloadavg(),
    }
    print(f"load average before: {out['load_before']} on {out['cores']} cores")

    wall, cpu = time.perf_counter(), _cpu()
    demand, _ = estimate_demand(args.data)
    sites = world_sites(args.data, demand)
    out["estimate_seconds"] = time.perf_counter() - wall
    out["places"] = len(demand)
    out["sites"] = sites["kind"].value_counts().to_dict()
    wall = time.perf_counter()
    blocks, _ = build_blocks(demand, sites, params)
    out["build_seconds"] = time.perf_counter() - wall
    out["model"] = class_matrix_size(blocks)
    print(f"instance: {len(demand)} places, {len(sites)} candidate sites -> {out['model']}")

    runs = {
        "milp": dict(method="milp"),
        "greedy": dict(method="greedy"),
        "missions only (milp)": dict(method="milp", kinds=("mission",)),
    }
    print(
        f"{'plan':>22} {'wall s':>7} {'cpu s':>7} {'HiGHS s':>7} {'HiGHS cpu':>9} "
        f"{'LP iters':>9} {'nodes':>6} {'covered':>10} {'share':>6} {'bound':>10} "
        f"{'cost':>11} {'stations':>8} {'gap':>7}"
    )
    for label, kwargs in runs.items():
        wall, cpu = time.perf_counter(), _cpu()
        result = plan(demand, sites, params, **kwargs)  # type: ignore[arg-type]
        s = result.summary
        row: dict[str, Any] = {
            "wall_seconds": time.perf_counter() - wall,
            "cpu_seconds": _cpu() - cpu,
            "covered_voters": s["covered_voters"],
            "coverage_share": s["coverage_share"],
            "cost": s["cost"],
            "stations": s["stations"],
            "gap": s["gap"],
            "coverage_bound": s["coverage_bound"],
            "strategy": s["strategy"],
            "in_person_voters": s["in_person_voters"],
            **{k: v for k, v in s.items() if k.startswith("highs_")},
            **{k: s[k] for k in ("probes", "price", "options", "polished_countries") if k in s},
        }
        out[label] = row
        print(
            f"{label:>22} {row['wall_seconds']:7.1f} {row['cpu_seconds']:7.1f} "
            f"{row.get('highs_seconds', 0.0):7.1f} {row.get('highs_cpu_seconds', 0.0):9.1f} "
            f"{row.get('highs_lp_iterations', 0):9,d} {row.get('highs_nodes', 0):6,d} "
            f"{row['covered_voters']:10,.0f} {100 * row['coverage_share']:5.1f}% "
            f"{row['coverage_bound']:10,.0f} "
            f"{row['cost']:11,.0f} {row['stations']:8d} {100 * row['gap']:6.2f}%"
        )
    gain = out["milp"]["covered_voters"] - out["greedy"]["covered_voters"]
    print(
        f"MILP over greedy: {gain:+,.0f} voters; over missions only: "
        f"{out['milp']['covered_voters'] - out['missions only (milp)']['covered_voters']:+,.0f}"
    )
    wall, cpu = time.perf_counter(), _cpu()
    try:
        needed = required_budget(demand, sites, params, args.target)
        ns = needed.summary
        out["budget_for_target"] = {
            "share": args.target,
            "cost": ns["cost"],
            "cost_bound": ns["cost_bound"],
            "gap": ns["gap"],
            "covered_voters": ns["covered_voters"],
            "wall_seconds": time.perf_counter() - wall,
            "cpu_seconds": _cpu() - cpu,
            **{k: v for k, v in ns.items() if k.startswith("highs_")},
        }
        print(
            f"budget for {args.target:.0%} within {params.max_travel_minutes:.0f} min at "
            f"{params.speed_kmh:.0f} km/h, wait < {params.wait_target_minutes:.0f} min: "
            f"{ns['cost']:,.0f}, no plan covering it costs less than {ns['cost_bound']:,.0f} "
            f"(gap {100 * ns['gap']:.2f}%; {time.perf_counter() - wall:.1f} s wall, "
            f"{_cpu() - cpu:.1f} s CPU)"
        )
    except Exception as exc:  # the message says which constraint makes it impossible
        out["budget_for_target"] = {"share": args.target, "error": str(exc)}
        print(f"budget for {args.target:.0%}: {exc}")
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_after"] = os.getloadavg()
    print(f"peak RSS: {out['peak_rss_mb']:.0f} MB; load average after: {out['load_after']}")
    text = json.dumps(out, indent=1, default=str)
    if args.json:
        args.json.write_text(text + "\n", "utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
