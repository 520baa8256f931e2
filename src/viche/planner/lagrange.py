"""Decomposition by country: Lagrangian relaxation of the budget, plans per country, and a
multiple-choice knapsack that shares the budget between countries, with a proven gap.

Countries share nothing but the budget row. Pricing cost at ``lam`` voters per currency unit
removes it: for every ``lam >= 0`` and every plan within the budget ``B``,

    coverage = sum_k cov_k <= lam * B + sum_k (cov_k - lam * cost_k) <= lam * B + sum_k h_k(lam)

where ``h_k(lam)`` is the best ``cov - lam * cost`` of country ``k`` with no budget at all. Any
upper bound on ``h_k`` keeps this valid; we use the optimum of country ``k``'s **LP relaxation**
(the strong formulation of :mod:`viche.planner.milp`), solved to optimality by HiGHS's simplex and
warm-started from the previous price. So

    UB = min over the prices tried of  lam * B + sum_k LP_k(lam)

is a proven upper bound on the coverage of any plan within the budget (it is the bound of the LP
relaxation of the whole model with its budget row, reached country by country). Likewise, for a
coverage target ``T``, every plan covering ``T`` costs at least ``(T - sum_k LP_k(lam)) / lam``.

Plans: at each price, each country's LP solution is rounded into integer plans (sites whose
opening variable is at least a threshold are opened; the LP is solved again with those sites
fixed open and the others closed; booth-days are then rounded up to the load and days to the
booth-days; a site whose voters are worth less than its cost at that price closes). Each
country thus collects a menu of integer plans (with greedy's among them), cheapest to richest.
A **multiple-choice knapsack** (one plan per country, total cost within the budget; exact, by
HiGHS) picks the best combination: the feasible plan, hence the lower bound. The price search
is a bisection on the LP's total cost against the budget, its next price where the two
bracketing LP plans' lines cross (as in parametric programming), until the gap is small
enough, the bracket closes or time runs out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import highspy
import numpy as np
import numpy.typing as npt

from viche.planner.geo import FloatArray
from viche.planner.inputs import Params
from viche.planner.instance import CountryBlock
from viche.planner.milp import (
    SITE_COLUMNS,
    Model,
    Result,
    Solver,
    build_model,
    encode,
    new_highs,
)
from viche.planner.queues import booth_day_capacity

Goal = Literal["coverage", "cost"]


@dataclass(frozen=True, slots=True)
class Option:
    """One integer plan of one country: its coverage, cost and model values."""

    coverage: float
    cost: float
    values: FloatArray


@dataclass(slots=True)
class Work:
    """What HiGHS did, added up: runs, its own clock, CPU, simplex iterations, B&B nodes."""

    runs: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    lp_iterations: int = 0
    nodes: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "highs_runs": self.runs,
            "highs_seconds": self.seconds,
            "highs_cpu_seconds": self.cpu_seconds,
            "highs_lp_iterations": self.lp_iterations,
            "highs_nodes": self.nodes,
        }


@dataclass(slots=True)
class Country:
    """One country's model, its LP relaxation (kept warm between prices), and its menu."""

    block: CountryBlock
    model: Model
    lp: Solver
    options: list[Option] = field(default_factory=list)
    lp_values: FloatArray | None = None  # the LP solution at the last price
    milp: Solver | None = None  # made when the country's plan is polished


@dataclass(frozen=True, slots=True)
class Probe:
    """The LP relaxations at one price: sum of values, of coverages and of costs."""

    price: float
    value: float
    coverage: float
    cost: float


@dataclass(slots=True)
class Outcome:
    """The chosen plan per country (model values), its coverage and cost, the proven bound
    (upper bound on coverage, or lower bound on cost), and how it was found."""

    values: list[FloatArray]
    coverage: float
    cost: float
    bound: float
    gap: float
    price: float
    probes: list[Probe]
    work: Work
    seconds: float
    options: int
    polished: int = 0


class Decomposition:
    """The countries of an instance, ready to be priced again and again."""

    def __init__(self, blocks: list[CountryBlock], params: Params) -> None:
        self.blocks = blocks
        self.params = params
        self.kappa = booth_day_capacity(params)
        self.work = Work()
        self.countries: list[Country] = []
        for b in blocks:
            model = build_model([b], params)
            country = Country(b, model, Solver(model, relax=True))
            country.options.append(Option(0.0, 0.0, np.zeros(model.size)))
            self.countries.append(country)
        self.reach = float(sum(b.reachable for b in blocks))
        self.last_price = 0.0

    # -- prices -------------------------------------------------------------------------

    def probe(self, price: float, deadline: float) -> Probe | None:
        """Every country's LP at ``price`` (and its rounded plans into the menus); ``None`` if
        some LP did not reach optimality before ``deadline`` (its value would not bound).
        ``deadline=math.inf``: run to the end (the first price: without it no bound at all)."""
        value = coverage = cost = 0.0
        self.last_price = price
        for country in self.countries:
            if country.model.size == 0 or self.worthless(country, price):
                country.lp_values = None  # the empty plan is optimal: nothing to add
                continue
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            result = self._run(country.lp, price, left)
            if result is None or not result.optimal:
                return None
            country.lp_values = result.values
            value += result.objective
            coverage += result.coverage
            cost += result.cost
            for option in self._round(country, result.values, price):
                self._add(country, option)
        return Probe(price, value, coverage, cost)

    def worthless(self, country: Country, price: float) -> bool:
        """Whether no site of ``country`` can be worth its cost at ``price``, so that the empty
        plan is optimal (``h_k = 0``, exactly): a site serving ``load`` voters costs at least
        its fixed cost, one day, and ``load / kappa`` booth-days, so it adds at most
        ``reach * (1 - price * booth / kappa) - price * (fixed + day)``."""
        b, cost = country.block, country.model.cost
        start = SITE_COLUMNS * len(b.modes)
        reach = np.bincount(
            b.pair_site, weights=b.class_voters[b.pair_class], minlength=len(b.modes)
        )
        fixed, day, booth = cost[0:start:3], cost[1:start:3], cost[2:start:3]
        gain = reach * (1.0 - price * booth / self.kappa) - price * (fixed + day)
        return bool((gain <= 0).all())

    def _run(self, solver: Solver, price: float, seconds: float) -> Result | None:
        cpu = time.process_time()
        result = solver.solve(price, time_limit=seconds, mip_gap=0.0)
        self.work.cpu_seconds += time.process_time() - cpu
        if result is not None:
            self.work.runs += 1
            self.work.seconds += result.seconds
            self.work.lp_iterations += result.lp_iterations
            self.work.nodes += result.nodes
        return result

    def _round(self, country: Country, values: FloatArray, price: float) -> list[Option]:
        """Integer plans from an LP solution, one per opening threshold."""
        b = country.block
        opened = values[0 : SITE_COLUMNS * len(b.modes) : SITE_COLUMNS]
        found: list[Option] = []
        tried: set[bytes] = set()
        for threshold in (0.5, 1e-6):
            chosen = opened >= threshold
            key = chosen.tobytes()
            if key in tried or not chosen.any():
                continue
            tried.add(key)
            found.append(round_plan(country, chosen, values, price, self.kappa))
        return found

    def polish(self, k: int, price: float, seconds: float) -> Option | None:
        """Country ``k``'s MILP at ``price`` over the sites its last LP opened at all (the
        others closed), warm-started from its best plan at that price; the plan found joins
        the menu. A heuristic (sites are fixed closed): it improves plans, never the bound."""
        country = self.countries[k]
        if country.lp_values is None or country.model.size == 0:
            return None
        m = len(country.block.modes)
        columns = np.arange(0, SITE_COLUMNS * m, SITE_COLUMNS, dtype=np.int32)
        used = country.lp_values[columns] > 1e-6
        start = round_plan(country, used, country.lp_values, price, self.kappa)
        if country.milp is None:
            country.milp = Solver(country.model)
        country.milp.highs.changeColsBounds(m, columns, np.zeros(m), used.astype(np.float64))
        cpu = time.process_time()
        result = country.milp.solve(price, time_limit=seconds, mip_gap=1e-3, start=start.values)
        self.work.cpu_seconds += time.process_time() - cpu
        self.work.runs += 1
        if result is None:
            return None
        self.work.seconds += result.seconds
        self.work.lp_iterations += result.lp_iterations
        self.work.nodes += result.nodes
        option = Option(result.coverage, result.cost, result.values)
        self._add(country, option)
        return option

    def shortfall(self, price: float) -> list[tuple[float, int]]:
        """Per country, how much its LP value at ``price`` exceeds its best plan's, largest
        first: where polishing can gain the most."""
        out = []
        for k, country in enumerate(self.countries):
            if country.lp_values is None:
                continue
            lp = float((country.model.cover - price * country.model.cost) @ country.lp_values)
            best = max(o.coverage - price * o.cost for o in country.options)
            out.append((lp - best, k))
        return sorted(out, reverse=True)

    @staticmethod
    def _add(country: Country, option: Option) -> None:
        for old in country.options:
            if old.cost <= option.cost + 1e-6 and old.coverage >= option.coverage - 1e-6:
                return  # dominated (or the same)
        country.options = [
            o
            for o in country.options
            if not (option.cost <= o.cost + 1e-6 and option.coverage >= o.coverage - 1e-6)
        ]
        country.options.append(option)

    def add_plan(self, k: int, per_site: list[tuple[int, ...]], served: FloatArray) -> None:
        """Offer a known plan (e.g. greedy's) to country ``k``'s menu."""
        country = self.countries[k]
        values = encode(country.block, per_site, served)
        self._add(
            country,
            Option(float(country.model.cover @ values), float(country.model.cost @ values), values),
        )

    # -- the knapsack ---------------------------------------------------------------------

    def knapsack(self, goal: Goal, limit: float) -> tuple[list[Option], float, float] | None:
        """One option per country: the most coverage within cost ``limit`` (``goal='coverage'``)
        or the least cost with coverage at least ``limit``; ``None`` if impossible."""
        covs: list[float] = []
        costs: list[float] = []
        group: list[int] = []
        for k, country in enumerate(self.countries):
            for option in country.options:
                covs.append(option.coverage)
                costs.append(option.cost)
                group.append(k)
        n = len(covs)
        cov = np.array(covs)
        cst = np.array(costs)
        g = np.array(group, np.int64)
        k_count = len(self.countries)
        # rows: one per country (exactly one option), then the budget or coverage row
        starts = np.zeros(n + 1, np.int32)
        index: list[int] = []
        value: list[float] = []
        for col in range(n):
            index += [int(g[col]), k_count]
            value += [1.0, float(cst[col] if goal == "coverage" else cov[col])]
            starts[col + 1] = len(index)
        lower = np.concatenate([np.ones(k_count), [-math.inf if goal == "coverage" else limit]])
        upper = np.concatenate([np.ones(k_count), [limit if goal == "coverage" else math.inf]])
        tie = 1e-9 * (1.0 + float(cov.sum())) / (1.0 + float(cst.sum()))
        objective = cov - tie * cst if goal == "coverage" else -cst + 1e-9 * cov
        h = new_highs()
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-7)
        h.setOptionValue("time_limit", 20.0)
        inf = highspy.kHighsInf
        h.passModel(
            n,
            k_count + 1,
            len(index),
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMaximize),
            0.0,
            objective,
            np.zeros(n),
            np.ones(n),
            np.clip(lower, -inf, inf),
            np.clip(upper, -inf, inf),
            starts,
            np.array(index, np.int32),
            np.array(value, np.float64),
            np.ones(n, np.int32),
        )
        cpu = time.process_time()
        h.run()
        self.work.cpu_seconds += time.process_time() - cpu
        self.work.runs += 1
        self.work.seconds += h.getRunTime()
        solution = h.getSolution()
        if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible or not solution.value_valid:
            return None
        x = np.asarray(solution.col_value)
        chosen: list[Option] = []
        for k in range(k_count):
            cols = np.flatnonzero(g == k)
            best = int(cols[np.argmax(x[cols])])
            chosen.append(self.countries[k].options[best - int(cols[0])])
        return (
            chosen,
            float(sum(o.coverage for o in chosen)),
            float(sum(o.cost for o in chosen)),
        )


def round_plan(
    country: Country, chosen: npt.NDArray[np.bool_], values: FloatArray, price: float, kappa: float
) -> Option:
    """An integer plan from an LP solution of ``country`` at ``price`` with the ``chosen``
    sites open: keep the LP's flows to them; give every open site the booth-days its load
    needs (rounded up) and the days those need; fill the spare capacity with voters left
    unserved, nearest first; add booth-days while one more takes voters worth more than it
    costs at ``price``; drop a last day whose booth-days take voters worth less than it costs;
    finally close every site whose voters are worth less than its cost."""
    b, model = country.block, country.model
    m = len(b.modes)
    start = SITE_COLUMNS * m
    voters = b.class_voters
    pv = voters[b.pair_class]
    share = np.clip(values[start:], 0.0, 1.0) * chosen[b.pair_site]
    load = np.bincount(b.pair_site, weights=share * pv, minlength=m)
    cap = np.array(b.booth_day_cap, np.int64)
    per_day = np.array(b.booth_cap, np.int64)
    fixed, day, booth = model.cost[0:start:3], model.cost[1:start:3], model.cost[2:start:3]
    need = np.where(load > 1e-6, np.ceil(load / kappa - 1e-7), 0).astype(np.int64)
    t = np.minimum(need, cap)
    over = load > kappa * t + 1e-9  # capped by what its reach needs (rounding): scale down
    if over.any():
        factor = np.where(over, kappa * t / np.maximum(load, 1e-300), 1.0)
        share *= factor[b.pair_site]
        load = np.bincount(b.pair_site, weights=share * pv, minlength=m)
    left = np.clip(1.0 - np.bincount(b.pair_class, weights=share, minlength=len(voters)), 0, 1)
    spare = kappa * t - load
    order = np.argsort(b.pair_km, kind="stable")
    pairs_of: list[list[int]] = [[] for _ in range(m)]
    for p in order.tolist():
        if t[int(b.pair_site[p])] > 0:
            pairs_of[int(b.pair_site[p])].append(p)

    def fill(j: int) -> None:
        for p in pairs_of[j]:
            if spare[j] <= 1e-9:
                return
            c = int(b.pair_class[p])
            if left[c] <= 1e-12:
                continue
            take = min(left[c] * voters[c], spare[j])
            share[p] += take / voters[c]
            left[c] -= take / voters[c]
            spare[j] -= take
            load[j] += take

    sites = [j for j in range(m) if t[j] > 0]
    for j in sites:
        fill(j)
    for j in sites:  # grow while one more booth-day pays for itself
        while t[j] < cap[j]:
            waiting = sum(
                left[int(b.pair_class[p])] * voters[int(b.pair_class[p])] for p in pairs_of[j]
            )
            gain = min(kappa, float(waiting))
            extra = booth[j] + (
                day[j] if t[j] + 1 > per_day[j] * _days(int(t[j]), per_day[j]) else 0.0
            )
            if gain <= 1e-9 or gain <= price * extra:
                break
            t[j] += 1
            spare[j] += kappa
            fill(j)
    for j in sites:  # shrink when the last day's few booth-days are worth less than that day
        days = _days(int(t[j]), int(per_day[j]))
        keep = int(per_day[j]) * (days - 1)
        if days > 1 and t[j] > keep:
            lost = float(load[j]) - kappa * keep
            saved = day[j] + (t[j] - keep) * booth[j]
            if lost > 0 and lost < price * saved:
                share[b.pair_site == j] *= kappa * keep / float(load[j])
                load[j] = kappa * keep
                t[j] = keep
    out = np.zeros(model.size)
    for j in sites:
        days = _days(int(t[j]), int(per_day[j]))
        cost = fixed[j] + days * day[j] + t[j] * booth[j]
        if load[j] <= 1e-6 or load[j] < price * cost:
            share[b.pair_site == j] = 0.0
            continue
        out[SITE_COLUMNS * j : SITE_COLUMNS * j + 3] = (1.0, days, t[j])
    out[start:] = share
    return Option(float(model.cover @ out), float(model.cost @ out), out)


def _days(booth_days: int, per_day: int) -> int:
    """Fewest days that hold ``booth_days`` with at most ``per_day`` booths a day."""
    return -(-booth_days // per_day) if booth_days > 0 else 0


def _next_price(lo: Probe | None, hi: Probe | None, scale: float) -> float:
    """The next price: beyond the bracket by ``scale`` while one side is missing; else where
    the lines of the two bracketing LP plans cross, or the bracket's geometric middle when that
    point is not well inside."""
    if lo is None and hi is not None:
        return hi.price / scale
    if hi is None and lo is not None:
        return lo.price * scale
    assert lo is not None and hi is not None
    middle = math.sqrt(lo.price * hi.price)
    if lo.cost - hi.cost > 1e-9:
        cross = (lo.coverage - hi.coverage) / (lo.cost - hi.cost)
        width = hi.price - lo.price
        if lo.price + 0.05 * width < cross < hi.price - 0.05 * width:
            return cross
    return middle


def search(
    decomposition: Decomposition,
    goal: Goal,
    limit: float,
    *,
    start_price: float,
    min_price: float,
    time_limit: float,
    gap_goal: float,
    on_probe: Callable[[Probe], None] | None = None,
) -> Outcome | None:
    """Search prices for ``goal`` (most coverage within cost ``limit``, or least cost for
    coverage ``limit``); ``None`` if the knapsack finds no combination (target not reachable
    with the menus found)."""
    started = time.perf_counter()
    deadline = started + time_limit
    probes: list[Probe] = []
    lo: Probe | None = None  # price too low: LP over budget (or above target coverage)
    hi: Probe | None = None
    # trivial bounds: every reachable voter; no cost at all
    bound = decomposition.reach if goal == "coverage" else 0.0
    best: tuple[list[Option], float, float] | None = None
    price = max(start_price, min_price)

    def too_cheap(p: Probe) -> bool:
        return p.cost > limit if goal == "coverage" else p.coverage > limit

    def gap() -> float:
        return math.inf if best is None else _gap(goal, bound, best[1], best[2])

    for step in range(60):
        probe = decomposition.probe(price, math.inf if step == 0 else deadline)
        if probe is None:
            break
        probes.append(probe)
        if on_probe is not None:
            on_probe(probe)
        if goal == "coverage":
            bound = min(bound, price * limit + probe.value)
        elif price > 0:
            bound = max(bound, (limit - probe.value) / price)
        picked = decomposition.knapsack(goal, limit)
        if picked is not None and (
            best is None
            or (
                picked[1] > best[1] + 1e-9 or (picked[1] >= best[1] - 1e-9 and picked[2] < best[2])
                if goal == "coverage"
                else picked[2] < best[2] - 1e-9
            )
        ):
            best = picked
        if gap() <= gap_goal or time.perf_counter() >= deadline:
            break
        if too_cheap(probe):
            lo = probe if lo is None or probe.price > lo.price else lo
        else:
            hi = probe if hi is None or probe.price < hi.price else hi
            if price <= min_price * (1 + 1e-9):
                break  # the budget does not bind: the cheapest price already fits
        if lo is not None and hi is not None and hi.price / lo.price < 1 + 1e-3:
            break
        # greedy's price starts near the answer: step out gently, then faster and faster
        scale = 1.0 + 0.25 * 2.0 ** min(step, 10)
        price = max(_next_price(lo, hi, scale), min_price)
    if best is None:  # no probe finished in time: the menus still hold the warm plans
        best = decomposition.knapsack(goal, limit)
    if best is None:
        return None
    chosen, coverage, cost = best
    return Outcome(
        values=[o.values for o in chosen],
        coverage=coverage,
        cost=cost,
        bound=bound,
        gap=gap(),
        price=price,
        probes=probes,
        work=decomposition.work,
        seconds=time.perf_counter() - started,
        options=sum(len(c.options) for c in decomposition.countries),
    )


def decompose(
    blocks: list[CountryBlock],
    params: Params,
    goal: Goal,
    limit: float,
    *,
    warm: list[tuple[list[tuple[int, ...]], FloatArray]] | None,
    start_price: float,
    time_limit: float,
    gap_goal: float,
) -> Outcome | None:
    """The whole decomposition: menus seeded with ``warm`` plans (one per block, e.g.
    greedy's), the price search, then polishing the countries whose plans fall furthest short
    of their LP until the gap is within ``gap_goal`` or time runs out."""
    started = time.perf_counter()
    deadline = started + time_limit
    d = Decomposition(blocks, params)
    if warm is not None:
        for k, (per_site, served) in enumerate(warm):
            d.add_plan(k, per_site, served)
    # the lowest price tried: the budget row costs at most 0.01% of the reachable voters
    min_price = 1e-4 * max(d.reach, 1.0) / max(limit, 1.0) if goal == "coverage" else 1e-6
    outcome = search(
        d,
        goal,
        limit,
        start_price=start_price,
        min_price=min_price,
        time_limit=0.6 * time_limit,
        gap_goal=gap_goal,
    )
    polished = 0
    if outcome is not None and outcome.gap > gap_goal:
        for _, k in d.shortfall(d.last_price):
            left = deadline - time.perf_counter()
            if left <= 0.2 or outcome.gap <= gap_goal:
                break
            d.polish(k, d.last_price, min(left, max(0.25 * left, 1.0)))
            polished += 1
            picked = d.knapsack(goal, limit)
            if picked is None:
                continue
            chosen, coverage, cost = picked
            better = (
                coverage > outcome.coverage + 1e-9
                if goal == "coverage"
                else cost < outcome.cost - 1e-9
            )
            if better:
                outcome.values = [o.values for o in chosen]
                outcome.coverage, outcome.cost = coverage, cost
                outcome.gap = _gap(goal, outcome.bound, coverage, cost)
    if outcome is not None:
        outcome.seconds = time.perf_counter() - started
        outcome.polished = polished
        outcome.options = sum(len(c.options) for c in d.countries)
    return outcome


def _gap(goal: Goal, bound: float, coverage: float, cost: float) -> float:
    """Relative gap between a plan and the proven bound (coverage: upper; cost: lower)."""
    if goal == "coverage":
        return max(bound - coverage, 0.0) / bound if bound > 0 else 0.0
    return max(cost - bound, 0.0) / cost if cost > 0 else 0.0
