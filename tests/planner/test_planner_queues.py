"""M/M/c figures against closed forms, and the capacity that keeps the wait within target."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viche.planner.inputs import Params
from viche.planner.queues import (
    booth_day_capacity,
    daily_capacity,
    erlang_c,
    expected_wait_minutes,
    station_queue,
)


def test_one_booth_is_mm1() -> None:
    # M/M/1: P(wait) = rho, Wq = rho / (mu - lambda).
    assert erlang_c(1, 0.6) == pytest.approx(0.6)
    assert expected_wait_minutes(1, 12.0, 20.0) == pytest.approx(60 * 0.6 / 8.0)


def test_two_booths_known_value() -> None:
    # c = 2, a = 1 Erlang: C = 1/3 (textbook value).
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def test_overload_is_unstable_and_no_load_waits_nothing() -> None:
    assert erlang_c(3, 3.0) == 1.0
    assert math.isinf(expected_wait_minutes(2, 40.0, 20.0))
    assert expected_wait_minutes(2, 0.0, 20.0) == 0.0
    with pytest.raises(ValueError):
        erlang_c(0, 1.0)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.floats(0.01, 0.99))
def test_erlang_c_is_a_probability_increasing_in_load(servers: int, rho: float) -> None:
    low = erlang_c(servers, rho * servers * 0.9)
    high = erlang_c(servers, rho * servers)
    assert 0.0 <= low <= high <= 1.0


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 25), st.floats(1.0, 10.0), st.floats(5.0, 60.0))
def test_daily_capacity_meets_the_target_and_pools(
    booths: int, minutes: float, target: float
) -> None:
    params = replace(Params(), minutes_per_voter=minutes, wait_target_minutes=target)
    load = daily_capacity(booths, params)
    q = station_queue(booths, load, params)
    assert q.peak_wait_minutes <= target + 1e-6
    over = station_queue(booths, load * 1.05, params)
    assert over.peak_wait_minutes > target
    # Pooling: per booth, a bigger station takes at least as many voters.
    assert load / booths >= booth_day_capacity(params) - 1e-6


def test_hourly_profile_shapes_the_arrivals() -> None:
    params = Params()
    q = station_queue(3, 1000.0, params)
    assert sum(q.hourly_arrivals) == pytest.approx(1000.0)
    peak_hour = q.hourly_arrivals.index(max(q.hourly_arrivals))
    assert q.hourly_wait_minutes[peak_hour] == q.peak_wait_minutes
    assert q.mean_wait_minutes <= q.peak_wait_minutes
