"""The capacitated facility-location MILP over country blocks, in its compact form, with HiGHS.

Per kept site ``j`` three variables: ``y[j]`` (binary) the site opens, ``n[j]`` (integer) days
open, ``t[j]`` (integer) booth-days; per pair (class ``c`` within reach of ``j``)
``x[c, j] in [0, 1]`` the share of the voters of ``c`` served by ``j``. Cost and capacity are
linear in booth-days, so only the number of days and of booth-days matter (booths per day are
read back by spreading ``t`` evenly over ``n`` days, which keeps every day within ``B_j``):

* days if open:    ``y[j] <= n[j] <= D_j y[j]``
* booths per day:  ``n[j] <= t[j] <= B_j n[j]``; ``t[j] <= L_j y[j]`` with
  ``L_j = min(B_j D_j, ceil(reach_j / kappa))`` (more booth-days than the voters in reach need
  never pay)
* demand:          ``sum_j x[c, j] <= 1``
* capacity:        ``sum_c voters[c] x[c, j] <= kappa t[j]``; ``kappa`` is the voters one
  booth takes in a day with the peak hour's expected wait within target
  (:func:`viche.planner.queues.booth_day_capacity`)
* strong linking:  ``x[c, j] <= y[j]`` (``x`` as the share of class ``c``), written only where
  the capacity row does not imply it (``voters[c] < kappa L_j``): it makes the relaxation pay a
  site's fixed and day costs in proportion to the share of a class it serves, not to its booth
  use
* cost:            ``F_j y[j] + (rent_j + station staff) n[j] + booth t[j]``
* optionally a budget row ``cost <= budget`` and a coverage row ``sum x >= target``.

The objective is ``max sum x - price * cost``: with a budget row and a tiny price, the most
voters within the budget, cost breaking ties; without a budget row it is the Lagrangian
subproblem of :mod:`viche.planner.lagrange` (there every plan is feasible, so any plan, e.g.
greedy's, is a valid warm start).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from viche.planner.geo import FloatArray
from viche.planner.inputs import Params
from viche.planner.instance import CountryBlock, base_day_cost, booth_cost
from viche.planner.queues import booth_day_capacity

#: a decoded plan: per block, per kept site, the booths on each day it opens (empty: closed)
Decoded = list[list[tuple[int, ...]]]

#: columns per site: y (opens), n (days), t (booth-days)
SITE_COLUMNS = 3


@dataclass(frozen=True, slots=True)
class Model:
    """The stacked compact model over some blocks: columns, rows, where each block starts."""

    cost: FloatArray
    cover: FloatArray
    upper: FloatArray
    integrality: npt.NDArray[np.int32]
    matrix: sp.csr_array
    row_upper: FloatArray
    site_start: list[int]  # first column of each block's site variables
    pair_start: list[int]  # first column of each block's pair variables

    @property
    def size(self) -> int:
        return len(self.cost)


@dataclass(frozen=True, slots=True)
class Result:
    """One HiGHS run: the plan, its coverage and cost, the objective, its proven bound, and the
    work HiGHS did (its own clock, branch-and-bound nodes, simplex iterations)."""

    values: FloatArray
    coverage: float
    cost: float
    objective: float
    bound: float  # proven: no plan has a better objective (max sense)
    optimal: bool
    seconds: float
    nodes: int
    lp_iterations: int


def build_model(blocks: list[CountryBlock], params: Params) -> Model:
    kappa = booth_day_capacity(params)
    per_booth = booth_cost(params)
    base = base_day_cost(params)
    costs: list[FloatArray] = []
    uppers: list[FloatArray] = []
    integ: list[npt.NDArray[np.int32]] = []
    rows: list[npt.NDArray[np.int64]] = []
    cols: list[npt.NDArray[np.int64]] = []
    vals: list[FloatArray] = []
    row_upper: list[FloatArray] = []
    site_start: list[int] = []
    pair_start: list[int] = []
    n_rows = n_cols = 0

    def add(r: npt.ArrayLike, c: npt.ArrayLike, v: npt.ArrayLike) -> None:
        r_arr, c_arr = np.asarray(r, np.int64), np.asarray(c, np.int64)
        rows.append(r_arr)
        cols.append(c_arr)
        vals.append(np.broadcast_to(np.asarray(v, np.float64), r_arr.shape).copy())

    for b in blocks:
        m = len(b.modes)
        site_start.append(n_cols)
        y = n_cols + SITE_COLUMNS * np.arange(m)
        n, t = y + 1, y + 2
        days = np.array(b.day_cap, np.float64)
        booths = np.array(b.booth_cap, np.float64)
        limit = np.array(b.booth_day_cap, np.float64)
        cost = np.zeros(SITE_COLUMNS * m)
        cost[0::3] = b.site_fixed
        cost[1::3] = np.array(b.site_day_cost) + base
        cost[2::3] = per_booth
        upper = np.zeros(SITE_COLUMNS * m)
        upper[0::3] = 1.0
        upper[1::3] = days
        upper[2::3] = limit
        n_cols += SITE_COLUMNS * m
        pair_start.append(n_cols)
        p = len(b.pair_class)
        x = n_cols + np.arange(p)
        n_cols += p
        pv = b.class_voters[b.pair_class]
        costs += [cost, np.zeros(p)]
        uppers += [upper, np.ones(p)]
        integ += [np.ones(SITE_COLUMNS * m, np.int32), np.zeros(p, np.int32)]
        # y - n <= 0, n - D y <= 0, n - t <= 0, t - B n <= 0
        r = n_rows + np.arange(m)
        add(r, y, 1.0)
        add(r, n, -1.0)
        add(r + m, n, 1.0)
        add(r + m, y, -days)
        add(r + 2 * m, n, 1.0)
        add(r + 2 * m, t, -1.0)
        add(r + 3 * m, t, 1.0)
        add(r + 3 * m, n, -booths)
        row_upper.append(np.zeros(4 * m))
        n_rows += 4 * m
        # t <= limit * y where the booth-days the reach needs are fewer than B * D
        short = np.flatnonzero(limit < booths * days)
        add(n_rows + np.arange(len(short)), t[short], 1.0)
        add(n_rows + np.arange(len(short)), y[short], -limit[short])
        row_upper.append(np.zeros(len(short)))
        n_rows += len(short)
        # demand per class (shares of the class add up to at most 1)
        add(n_rows + b.pair_class, x, 1.0)
        row_upper.append(np.ones(len(b.class_voters)))
        n_rows += len(b.class_voters)
        # capacity per site, in booth-days
        add(n_rows + b.pair_site, x, pv / kappa)
        add(n_rows + np.arange(m), t, -1.0)
        row_upper.append(np.zeros(m))
        n_rows += m
        # strong linking where the capacity row does not already imply it
        useful = np.flatnonzero(pv < kappa * limit[b.pair_site] - 1e-9)
        k = len(useful)
        add(n_rows + np.arange(k), x[useful], 1.0)
        add(n_rows + np.arange(k), y[b.pair_site[useful]], -1.0)
        row_upper.append(np.zeros(k))
        n_rows += k
    cost_arr = np.concatenate(costs) if costs else np.zeros(0)
    cover = np.zeros(n_cols)
    for b, start in zip(blocks, pair_start, strict=True):
        cover[start : start + len(b.pair_class)] = b.class_voters[b.pair_class]
    matrix = sp.csr_array(
        (
            np.concatenate(vals) if vals else np.zeros(0),
            (
                np.concatenate(rows) if rows else np.zeros(0, np.int64),
                np.concatenate(cols) if cols else np.zeros(0, np.int64),
            ),
        ),
        shape=(n_rows, n_cols),
    )
    return Model(
        cost=cost_arr,
        cover=cover,
        upper=np.concatenate(uppers) if uppers else np.zeros(0),
        integrality=np.concatenate(integ) if integ else np.zeros(0, np.int32),
        matrix=matrix,
        row_upper=np.concatenate(row_upper) if row_upper else np.zeros(0),
        site_start=site_start,
        pair_start=pair_start,
    )


def new_highs() -> highspy.Highs:
    """A quiet, single-threaded, seeded HiGHS instance (runs are repeatable; the machine's
    second core is left to the caller)."""
    h = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy's constructor is untyped
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 1)
    return h


class Solver:
    """A HiGHS instance holding one model; solved again and again with other prices, bounds or
    warm starts (the Lagrangian search solves each country many times)."""

    def __init__(
        self,
        model: Model,
        *,
        budget: float | None = None,
        min_coverage: float | None = None,
        relax: bool = False,
    ) -> None:
        self.model = model
        self.highs = new_highs()
        m = model.matrix
        extra = []
        lower_extra: list[float] = []
        upper_extra: list[float] = []
        if budget is not None:
            extra.append(model.cost)
            lower_extra.append(-math.inf)
            upper_extra.append(budget)
        if min_coverage is not None:
            extra.append(model.cover)
            lower_extra.append(min_coverage)
            upper_extra.append(math.inf)
        if extra:
            m = sp.vstack([m, sp.csr_array(np.vstack(extra))], format="csr")
        n_row = m.shape[0]
        row_lower = np.concatenate([np.full(model.matrix.shape[0], -math.inf), lower_extra])
        row_upper = np.concatenate([model.row_upper, upper_extra])
        inf = highspy.kHighsInf
        self.highs.passModel(
            model.size,
            n_row,
            int(m.nnz),
            int(highspy.MatrixFormat.kRowwise),
            int(highspy.ObjSense.kMaximize),
            0.0,
            model.cover.astype(np.float64),
            np.zeros(model.size),
            model.upper.astype(np.float64),
            np.clip(row_lower, -inf, inf),
            np.clip(row_upper, -inf, inf),
            m.indptr.astype(np.int32),
            m.indices.astype(np.int32),
            m.data.astype(np.float64),
            (np.zeros_like(model.integrality) if relax else model.integrality).astype(np.int32),
        )
        self._columns = np.arange(model.size, dtype=np.int32)
        self.is_mip = not relax and bool(model.integrality.any())

    def solve(
        self,
        price: float,
        *,
        time_limit: float,
        mip_gap: float,
        start: FloatArray | None = None,
        cover_weight: float = 1.0,
    ) -> Result | None:
        """Maximise ``cover_weight * coverage - price * cost``; ``None`` if no plan is
        feasible.

        A time limit reached without any plan raises nothing: the caller gets ``None`` only for
        a proven infeasible model, and a :class:`Result` with ``optimal=False`` otherwise (the
        empty plan is always feasible where there is no coverage row)."""
        h, model = self.highs, self.model
        objective = cover_weight * model.cover - price * model.cost
        h.changeColsCost(model.size, self._columns, objective)
        h.setOptionValue("time_limit", max(float(time_limit), 0.05))
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.setOptionValue("mip_abs_gap", 1e-6)
        if start is not None:
            h.setSolution(model.size, self._columns, np.asarray(start, np.float64))
        began = time.perf_counter()
        h.run()
        seconds = time.perf_counter() - began
        status = h.getModelStatus()
        if status in (highspy.HighsModelStatus.kInfeasible,):
            return None
        info = h.getInfo()
        solution = h.getSolution()
        if not solution.value_valid:
            if start is None:
                return None
            values = np.asarray(start, np.float64)
        else:
            values = np.asarray(solution.col_value, np.float64)
        optimal = status == highspy.HighsModelStatus.kOptimal
        if optimal and not self.is_mip:
            # Later solves change only the prices: the basis stays primal feasible, so the
            # primal simplex restarts from it (a few pivots where the dual would redo thousands).
            h.setOptionValue("simplex_strategy", 4)
        primal = float(objective @ values)
        if self.is_mip:
            bound = float(info.mip_dual_bound)
            if not math.isfinite(bound):
                bound = math.inf
            nodes = int(info.mip_node_count)
            iterations = int(info.simplex_iteration_count)
        else:
            bound = primal if optimal else math.inf
            nodes = 0
            iterations = int(info.simplex_iteration_count)
        return Result(
            values=values,
            coverage=float(model.cover @ values),
            cost=float(model.cost @ values),
            objective=primal,
            bound=max(bound, primal),
            optimal=optimal,
            seconds=seconds,
            nodes=nodes,
            lp_iterations=iterations,
        )


def solve_blocks(
    blocks: list[CountryBlock],
    params: Params,
    *,
    budget: float | None,
    min_coverage: float | None = None,
    mip_gap: float,
    time_limit: float,
    price: float | None = None,
    start: FloatArray | None = None,
    cover_weight: float = 1.0,
) -> Result | None:
    """One MILP over ``blocks`` together: the most voters within ``budget`` (and with at least
    ``min_coverage`` if given), cost breaking ties through a tiny ``price``; ``None`` if the
    constraints cannot all hold. Exact but slow on the world instance: small instances, tests
    and checks use it; :mod:`viche.planner.lagrange` decomposes the large ones."""
    model = build_model(blocks, params)
    if model.size == 0:
        return Result(np.zeros(0), 0.0, 0.0, 0.0, 0.0, True, 0.0, 0, 0)
    solver = Solver(model, budget=budget, min_coverage=min_coverage)
    return solver.solve(
        tie_price(model) if price is None else price,
        time_limit=time_limit,
        mip_gap=mip_gap,
        start=start,
        cover_weight=cover_weight,
    )


def tie_price(model: Model) -> float:
    """A price of cost small enough that no saving can outweigh a hundredth of a voter:
    ``0.01 / (cost of opening everything)``."""
    total = float(model.cost @ model.upper)
    return 0.01 / max(total, 1.0)


def decode(blocks: list[CountryBlock], values: FloatArray) -> tuple[Decoded, list[FloatArray]]:
    """Booths per day of every site, and voters served per pair, from a solution vector of the
    stacked model over ``blocks``."""
    model_sites: Decoded = []
    served: list[FloatArray] = []
    at = 0
    for b in blocks:
        per_site: list[tuple[int, ...]] = []
        for _ in range(len(b.modes)):
            opened = values[at] > 0.5
            days = round(float(values[at + 1]))
            total = round(float(values[at + 2]))
            per_site.append(spread(total, days) if opened and days > 0 and total > 0 else ())
            at += SITE_COLUMNS
        n = len(b.pair_class)
        share = np.clip(values[at : at + n], 0.0, 1.0)
        served.append(share * b.class_voters[b.pair_class])
        at += n
        model_sites.append(per_site)
    return model_sites, served


def spread(booth_days: int, days: int) -> tuple[int, ...]:
    """``booth_days`` over ``days`` days as evenly as possible, the larger days first."""
    q, r = divmod(booth_days, days)
    return tuple(q + 1 if d < r else q for d in range(days))


def encode(b: CountryBlock, per_site: list[tuple[int, ...]], served: FloatArray) -> FloatArray:
    """The solution vector of ``b``'s own model for a plan (booths per day, voters per pair):
    a warm start for HiGHS."""
    values = np.zeros(SITE_COLUMNS * len(b.modes) + len(b.pair_class))
    for j, booths in enumerate(per_site):
        if booths:
            # booth-days beyond what the voters in reach need are cut (they serve nobody)
            total = min(sum(booths), b.booth_day_cap[j])
            days = min(len(booths), total)
            values[SITE_COLUMNS * j : SITE_COLUMNS * j + 3] = (1.0, days, total)
    values[SITE_COLUMNS * len(b.modes) :] = served / np.maximum(
        b.class_voters[b.pair_class], 1e-300
    )
    return values
