"""Queues at a station: the M/M/c model (Erlang C) hour by hour.

Assumptions, stated once (docs/planner.md repeats them):

* voters arrive as a Poisson process whose rate is constant within each opening hour and
  follows the turnout profile across hours (each hour is treated as its own steady state, the
  "stationary independent period" approximation: it ignores the queue carried over from one hour
  to the next, so it is optimistic just after a peak);
* service times (identity check + booth) are exponential with mean ``minutes_per_voter``;
* ``c`` identical booths share one first-come-first-served queue, nobody leaves the queue;
* the station is sized so that the expected wait in the **peak** hour is at most the target.

Waits are in minutes, rates in voters per hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from viche.planner.inputs import Params


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits, for ``servers`` booths and offered load ``load``
    (arrival rate / service rate, in Erlangs); 1.0 when ``load >= servers`` (unstable)."""
    if servers < 1:
        raise ValueError("servers must be >= 1")
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    blocking = 1.0  # Erlang B by its stable recursion
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return servers * blocking / (servers - load * (1.0 - blocking))


def expected_wait_minutes(servers: int, arrivals_per_hour: float, service_per_hour: float) -> float:
    """Mean wait in the queue (before reaching a booth), in minutes; ``inf`` if unstable."""
    if arrivals_per_hour <= 0:
        return 0.0
    capacity = servers * service_per_hour
    if arrivals_per_hour >= capacity:
        return math.inf
    waiting = erlang_c(servers, arrivals_per_hour / service_per_hour)
    return 60.0 * waiting / (capacity - arrivals_per_hour)


@lru_cache(maxsize=4096)
def _peak_rate(servers: int, service_per_hour: float, target_minutes: float) -> float:
    """The largest arrival rate whose expected wait is within the target (bisection)."""
    low, high = 0.0, servers * service_per_hour
    for _ in range(60):
        mid = (low + high) / 2
        if expected_wait_minutes(servers, mid, service_per_hour) <= target_minutes:
            low = mid
        else:
            high = mid
    return low


def daily_capacity(booths: int, params: Params) -> float:
    """Voters one station with ``booths`` booths can take in one day with the peak hour's
    expected wait within ``params.wait_target_minutes`` (the day's arrivals follow the profile)."""
    service = 60.0 / params.minutes_per_voter
    peak_share = max(params.profile)
    return _peak_rate(booths, service, params.wait_target_minutes) / peak_share


def booth_day_capacity(params: Params) -> float:
    """Voters one booth takes in one day, whatever the station's size: the capacity of a
    one-booth station. Per booth, M/M/c capacity only grows with ``c`` (pooling), so a plan
    sized with this figure keeps every station's peak-hour wait within the target."""
    return daily_capacity(1, params)


@dataclass(frozen=True, slots=True)
class StationQueue:
    """Queue figures of one station over one day."""

    booths: int
    voters_per_day: float
    hourly_arrivals: tuple[float, ...]
    hourly_wait_minutes: tuple[float, ...]
    hourly_queue: tuple[float, ...]  # mean number waiting (Little's law: arrivals × wait)
    mean_wait_minutes: float  # over voters (hours weighted by arrivals)
    peak_wait_minutes: float
    peak_utilisation: float


def station_queue(booths: int, voters_per_day: float, params: Params) -> StationQueue:
    """Hour-by-hour M/M/c figures for a station with ``booths`` booths and a daily load."""
    service = 60.0 / params.minutes_per_voter
    arrivals = tuple(voters_per_day * share for share in params.profile)
    waits = tuple(expected_wait_minutes(booths, a, service) for a in arrivals)
    queue = tuple(a * w / 60.0 for a, w in zip(arrivals, waits, strict=True))
    total = sum(arrivals)
    mean = sum(a * w for a, w in zip(arrivals, waits, strict=True)) / total if total > 0 else 0.0
    return StationQueue(
        booths=booths,
        voters_per_day=voters_per_day,
        hourly_arrivals=arrivals,
        hourly_wait_minutes=waits,
        hourly_queue=queue,
        mean_wait_minutes=mean,
        peak_wait_minutes=max(waits),
        peak_utilisation=max(arrivals) / (booths * service),
    )
