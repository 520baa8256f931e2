"""The greedy baseline: what a careful person would do without a solver.

Repeatedly open the (site, mode) that adds the most newly covered voters per unit of cost among
those still affordable, give it the nearest uncovered voters up to its capacity, and stop when
nothing affordable adds anyone. Lazy evaluation (a heap of stale ratios, re-checked when popped)
keeps it fast: a site's ratio can only fall as others cover its voters.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from viche.planner.geo import FloatArray
from viche.planner.instance import CountryBlock, Mode


@dataclass(frozen=True, slots=True)
class GreedyChoice:
    block: int
    site: int  # kept-site position in the block
    mode: Mode


def _best(mode_list: list[Mode], reach: float, money: float) -> tuple[float, float, int]:
    """``(ratio, gain, mode index)`` of the best affordable mode (ratio ``-1`` if none)."""
    best = (-1.0, 0.0, -1)
    for k, mode in enumerate(mode_list):
        if mode.cost > money + 1e-9:
            continue
        gain = min(mode.capacity, reach)
        if gain <= 0:
            continue
        ratio = math.inf if mode.cost <= 0 else gain / mode.cost
        if (ratio, gain) > best[:2]:
            best = (ratio, gain, k)
    return best


def greedy(
    blocks: list[CountryBlock], budget: float, stop_at: float = math.inf
) -> tuple[list[GreedyChoice], list[FloatArray]]:
    """The opened sites, and per block the voters served on each pair (aligned with pairs);
    it stops early once ``stop_at`` voters are covered."""
    left = [b.class_voters.copy() for b in blocks]
    served = [np.zeros(len(b.pair_class)) for b in blocks]
    pairs_of: list[list[list[int]]] = []
    for b in blocks:
        per_site: list[list[int]] = [[] for _ in b.modes]
        order = np.argsort(b.pair_km, kind="stable")
        for p in order.tolist():
            per_site[int(b.pair_site[p])].append(p)
        pairs_of.append(per_site)

    def reach(bi: int, s: int) -> float:
        b = blocks[bi]
        return float(sum(left[bi][b.pair_class[p]] for p in pairs_of[bi][s]))

    money = budget
    heap: list[tuple[float, float, int, int]] = []
    for bi, b in enumerate(blocks):
        for s in range(len(b.modes)):
            ratio, gain, _ = _best(b.modes[s], reach(bi, s), money)
            if ratio >= 0:
                heap.append((-ratio, -gain, bi, s))
    heapq.heapify(heap)
    chosen: list[GreedyChoice] = []
    opened: set[tuple[int, int]] = set()
    covered = 0.0
    while heap and covered < stop_at:
        _, _, bi, s = heapq.heappop(heap)
        if (bi, s) in opened:
            continue
        b = blocks[bi]
        ratio, gain, k = _best(b.modes[s], reach(bi, s), money)
        if ratio < 0:
            continue
        if heap and (-ratio, -gain) > heap[0][:2]:
            heapq.heappush(heap, (-ratio, -gain, bi, s))  # stale: someone else is better now
            continue
        mode = b.modes[s][k]
        capacity = mode.capacity
        for p in pairs_of[bi][s]:
            c = int(b.pair_class[p])
            take = min(left[bi][c], capacity)
            if take > 0:
                served[bi][p] += take
                left[bi][c] -= take
                capacity -= take
                covered += take
            if capacity <= 1e-9:
                break
        money -= mode.cost
        opened.add((bi, s))
        chosen.append(GreedyChoice(bi, s, mode))
    return chosen, served
