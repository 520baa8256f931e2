"""The capacitated facility-location MILP over country blocks, solved by HiGHS.

Variables, per kept site ``j`` and day ``d = 1..D_j``: ``o[j, d]`` (binary) the site is open on
day ``d`` (``o[j, 1]`` means "the site opens"); ``b[j, d]`` (integer) booths on day ``d``; per
pair (class ``c`` within reach of ``j``): ``x[c, j] >= 0`` voters of ``c`` served by ``j``.

* days in order:   ``o[j, d] <= o[j, d-1]``, ``b[j, d] <= b[j, d-1]`` (no symmetric copies)
* booths if open:  ``o[j, d] <= b[j, d] <= B_j o[j, d]``
* demand:          ``sum_j x[c, j] <= voters[c]``
* capacity:        ``sum_c x[c, j] <= kappa * sum_d b[j, d]``; ``kappa`` is the voters one booth
  takes in a day with the peak hour's expected wait within target
  (:func:`viche.planner.queues.booth_day_capacity`)
* strong linking:  ``x[c, j] <= voters[c] * o[j, 1]`` (tightens the relaxation; optional)
* budget:          ``sum cost <= budget``; cost = ``fixed_j o[j,1] + sum_d (day_j + base) o[j,d]
  + booth * b[j,d]``
* coverage:        ``sum x >= target`` (when asked)

Lexicographic objective: maximise covered voters; then, with coverage held at the value found,
minimise cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from viche.errors import NOWHERE, Location, PlannerSolverError
from viche.planner.geo import FloatArray
from viche.planner.inputs import Params
from viche.planner.instance import CountryBlock, base_day_cost, booth_cost
from viche.planner.queues import booth_day_capacity

#: HiGHS status codes of scipy.optimize.milp
OPTIMAL, LIMIT, INFEASIBLE = 0, 1, 2

#: a decoded plan: per block, per kept site, the booths on each day it opens (empty: closed)
Decoded = list[list[tuple[int, ...]]]


@dataclass(frozen=True, slots=True)
class Solution:
    """A solved (sub)problem: values, objective bounds and status."""

    values: FloatArray
    coverage: float
    cost: float
    coverage_bound: float  # proven upper bound on coverage (phase 1)
    cost_bound: float  # proven lower bound on cost at that coverage (phase 2)
    seconds: float
    optimal: bool


@dataclass(frozen=True, slots=True)
class Model:
    """The stacked model over some blocks: columns, rows and where each block starts."""

    cost: FloatArray
    cover: FloatArray
    integrality: npt.NDArray[np.int64]
    upper: FloatArray
    matrix: sp.csr_array
    row_upper: FloatArray
    site_start: list[int]  # first column of each block's site variables
    pair_start: list[int]  # first column of each block's pair variables


def build_model(blocks: list[CountryBlock], params: Params, strong: bool = True) -> Model:
    kappa = booth_day_capacity(params)
    per_booth = booth_cost(params)
    base = base_day_cost(params)
    cost: list[float] = []
    upper: list[float] = []
    integ: list[int] = []
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    row_upper: list[float] = []
    site_start: list[int] = []
    pair_start: list[int] = []

    def add(row: int, col: int, value: float) -> None:
        rows.append(row)
        cols.append(col)
        vals.append(value)

    n_rows = 0
    n_cols = 0
    for b in blocks:
        site_start.append(n_cols)
        first_cols: list[list[tuple[int, int]]] = []  # per site: (o column, b column) per day
        for j in range(len(b.modes)):
            fixed = b.site_fixed[j]
            day = b.site_day_cost[j]
            cap = b.booth_cap[j]
            days: list[tuple[int, int]] = []
            for d in range(b.day_cap[j]):
                o_col, b_col = n_cols, n_cols + 1
                n_cols += 2
                cost += [day + base + (fixed if d == 0 else 0.0), per_booth]
                upper += [1.0, float(cap)]
                integ += [1, 1]
                # o <= b <= cap * o
                add(n_rows, o_col, 1.0)
                add(n_rows, b_col, -1.0)
                row_upper.append(0.0)
                add(n_rows + 1, b_col, 1.0)
                add(n_rows + 1, o_col, -float(cap))
                row_upper.append(0.0)
                n_rows += 2
                if days:  # o[d] <= o[d-1], b[d] <= b[d-1]
                    po, pb = days[-1]
                    add(n_rows, o_col, 1.0)
                    add(n_rows, po, -1.0)
                    add(n_rows + 1, b_col, 1.0)
                    add(n_rows + 1, pb, -1.0)
                    row_upper += [0.0, 0.0]
                    n_rows += 2
                days.append((o_col, b_col))
            first_cols.append(days)
        pair_start.append(n_cols)
        n_pairs = len(b.pair_class)
        pair_cols = n_cols + np.arange(n_pairs)
        n_cols += n_pairs
        cost += [0.0] * n_pairs
        upper += b.class_voters[b.pair_class].tolist()
        integ += [0] * n_pairs
        # demand per class
        for p, c in enumerate(b.pair_class.tolist()):
            add(n_rows + c, int(pair_cols[p]), 1.0)
        row_upper += b.class_voters.tolist()
        n_rows += len(b.class_voters)
        # capacity per site
        for p, j in enumerate(b.pair_site.tolist()):
            add(n_rows + j, int(pair_cols[p]), 1.0)
        for j, days in enumerate(first_cols):
            for _, b_col in days:
                add(n_rows + j, b_col, -kappa)
        row_upper += [0.0] * len(first_cols)
        n_rows += len(first_cols)
        if strong:
            for p, (c, j) in enumerate(
                zip(b.pair_class.tolist(), b.pair_site.tolist(), strict=True)
            ):
                add(n_rows, int(pair_cols[p]), 1.0)
                add(n_rows, first_cols[j][0][0], -float(b.class_voters[c]))
                row_upper.append(0.0)
                n_rows += 1
    cost_arr = np.array(cost, np.float64)
    cover = np.zeros(n_cols)
    for b, start in zip(blocks, pair_start, strict=True):
        cover[start : start + len(b.pair_class)] = 1.0
    matrix = sp.csr_array(
        (np.array(vals), (np.array(rows, np.int64), np.array(cols, np.int64))),
        shape=(n_rows, n_cols),
    )
    return Model(
        cost_arr,
        cover,
        np.array(integ, np.int64),
        np.array(upper, np.float64),
        matrix,
        np.array(row_upper, np.float64),
        site_start,
        pair_start,
    )


def solve_blocks(
    blocks: list[CountryBlock],
    params: Params,
    *,
    budget: float | None,
    min_coverage: float | None,
    mip_gap: float,
    time_limit: float,
    lexicographic: bool = True,
    strong: bool = True,
    where: Location = NOWHERE,
) -> Solution | None:
    """Maximise coverage (within ``budget``, with at least ``min_coverage`` if given), then
    minimise cost at that coverage; ``None`` if the constraints cannot all hold.

    With ``budget=None`` and ``min_coverage`` set, only cost is minimised (the budget needed).
    """
    started = time.perf_counter()
    model = build_model(blocks, params, strong)
    size = len(model.cost)
    if size == 0:
        return Solution(np.zeros(0), 0.0, 0.0, 0.0, 0.0, 0.0, True)
    rows = [LinearConstraint(model.matrix, -np.inf, model.row_upper)]
    if budget is not None:
        rows.append(LinearConstraint(sp.csr_array(model.cost.reshape(1, -1)), -np.inf, budget))
    if min_coverage is not None:
        rows.append(
            LinearConstraint(sp.csr_array(model.cover.reshape(1, -1)), min_coverage, np.inf)
        )
    bounds = Bounds(np.zeros(size), model.upper)
    deadline = started + time_limit
    cost, cover = model.cost, model.cover

    def run(objective: FloatArray, extra: list[LinearConstraint]) -> tuple[FloatArray, float, bool]:
        left = max(deadline - time.perf_counter(), 0.5)
        res = milp(
            objective,
            integrality=model.integrality,
            bounds=bounds,
            constraints=rows + extra,
            options={"time_limit": left, "mip_rel_gap": mip_gap, "presolve": True},
        )
        if res.status == INFEASIBLE:
            raise _InfeasibleError
        if res.x is None:
            raise PlannerSolverError(
                f"HiGHS stopped without a plan ({res.message}); raise time_limit or mip_gap",
                where=where,
            )
        bound = getattr(res, "mip_dual_bound", None)
        return np.asarray(res.x), float(bound if bound is not None else res.fun), res.status == 0

    try:
        if budget is None and min_coverage is not None:
            x, cost_bound, optimal = run(cost, [])
            coverage = float(cover @ x)
            return Solution(
                x,
                coverage,
                float(cost @ x),
                coverage,
                cost_bound,
                time.perf_counter() - started,
                optimal,
            )
        x, neg_bound, optimal = run(-cover, [])
    except _InfeasibleError:
        return None
    coverage = float(cover @ x)
    coverage_bound = max(-neg_bound, coverage)
    cost_bound = 0.0
    cost_optimal = False
    if lexicographic and time.perf_counter() < deadline - 0.5:
        keep = LinearConstraint(sp.csr_array(cover.reshape(1, -1)), coverage * (1 - 1e-9), np.inf)
        try:
            x2, cost_bound, cost_optimal = run(cost, [keep])
        except (_InfeasibleError, PlannerSolverError):
            x2 = x  # no better plan in the time left: keep the first phase's
        if float(cover @ x2) >= coverage * (1 - 1e-9) and float(cost @ x2) <= float(cost @ x):
            x = x2
    return Solution(
        x,
        float(cover @ x),
        float(cost @ x),
        coverage_bound,
        cost_bound,
        time.perf_counter() - started,
        optimal and cost_optimal,
    )


def decode(
    blocks: list[CountryBlock], params: Params, values: FloatArray
) -> tuple[Decoded, list[FloatArray]]:
    """Booths per day of every site, and voters served per pair, from a solution vector."""
    model_sites: Decoded = []
    served: list[FloatArray] = []
    at = 0
    for b in blocks:
        per_site: list[tuple[int, ...]] = []
        for j in range(len(b.modes)):
            booths: list[int] = []
            for _ in range(b.day_cap[j]):
                if values[at] > 0.5:
                    booths.append(round(float(values[at + 1])))
                at += 2
            per_site.append(tuple(booths))
        model_sites.append(per_site)
        n = len(b.pair_class)
        served.append(np.clip(values[at : at + n], 0.0, None))
        at += n
    return model_sites, served


class _InfeasibleError(Exception):
    pass
