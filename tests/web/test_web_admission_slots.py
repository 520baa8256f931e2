"""The times a full worker hands out (viche.web.admission): slots in a queue, one ballot's
time apart at the pace known when each voter is told, a tenth earlier than the slot (the
clients' jitter); a burst's first wave at a guess that counts the worker's check processes;
a worker warming up does not send the voters away for long."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.web import Served
from viche.errors import ServerBusyError
from viche.web.admission import (
    CHECK_GUESS,
    JITTER_MEAN,
    MIN_WAIT_MS,
    WARM_WINDOWS,
    WINDOW,
    Admission,
)
from viche.web.app import create_app
from viche.web.checkpool import CheckPool
from viche.web.ops import OpsConfig


def _told(a: Admission, voters: int) -> list[int]:
    waits = []
    for _ in range(voters):
        with pytest.raises(ServerBusyError) as err:
            a.enter()
        waits.append(err.value.retry_after_ms)
    return waits


def test_the_first_wave_is_told_at_the_pace_of_the_worker_s_check_processes() -> None:
    """A burst meets a worker whose pace nobody knows yet: its voters are given slots
    CHECK_GUESS apart shared among the worker's check processes, so that two workers of
    one process each (each sees half the voters) tell theirs half as fast as one worker
    with two; the machine is told the same pace either way."""
    now = [0.0]
    waits = {}
    for processes in (1, 2):
        a = Admission(target=0.5, floor=4, processes=processes, clock=lambda: now[0])
        for _ in range(4):
            a.enter()  # the floor: taken in
        waits[processes] = _told(a, 100)
        pace = CHECK_GUESS / processes
        assert a.pace == pace
        # after the four in flight, then one ballot's time each, told a tenth earlier
        slots = [(4 + k) * pace for k in range(100)]
        expected = [max(MIN_WAIT_MS, t / (1 + JITTER_MEAN) * 1000) for t in slots]
        assert waits[processes] == pytest.approx(expected, abs=1.01)
    # the hundredth voter of a worker with one process is told twice as late
    assert waits[1][-1] == pytest.approx(2 * waits[2][-1], abs=2)
    # the whole wave at the machine's guessed pace: the thousandth voter of one worker of
    # two is told about when the two thousandth of one worker would be
    assert Admission(processes=0).pace == CHECK_GUESS / 2  # not known: as two processes


def test_a_worker_warming_up_does_not_send_the_voters_away_for_long() -> None:
    """The first answers of a busy spell are slow (a worker warming up, its loop busy
    refusing the burst's first wave): the slots handed out meanwhile assume no slower pace
    than the guess; once WARM_WINDOWS windows are measured, the fastest window's pace."""
    now = [0.0]
    a = Admission(target=0.5, floor=4, ceiling=64, processes=2, clock=lambda: now[0])
    a.enter()
    a.in_flight = 64  # a burst in flight
    guess = CHECK_GUESS / 2
    for _ in range(WINDOW + 8):  # one answer every 40 ms: slow, over a whole window
        now[0] += 0.04
        a.leave()
        a.in_flight += 1
    assert a.interval == pytest.approx(0.04)
    assert a.pace == guess  # warming up: not 40 ms
    for _ in range(WARM_WINDOWS * WINDOW):  # then one every 10 ms, steadily
        now[0] += 0.01
        a.leave()
        a.in_flight += 1
    assert a.pace == pytest.approx(0.01)  # the fastest window, no longer capped
    # the slots: after the casts in flight at that pace
    a.in_flight = a.limit
    (wait,) = _told(a, 1)
    assert wait == math.ceil(a.limit * 0.01 / (1 + JITTER_MEAN) * 1000)
    # a slower moment afterwards: the slots keep the fastest pace of the spell
    for _ in range(WINDOW):
        now[0] += 0.03
        a.leave()
        a.in_flight += 1
    assert a.interval == pytest.approx(0.03) and a.pace == pytest.approx(0.01)
    # idle: the next spell starts from the guess again
    while a.in_flight:
        now[0] += 0.01
        a.leave()
    assert a.pace == guess


def test_voters_told_go_to_the_end_of_the_queue_of_those_told_before() -> None:
    """The slots already handed out are the queue ahead of the next voter: one told later
    is given a slot after theirs, even when the casts in flight would leave room sooner."""
    now = [0.0]
    a = Admission(target=0.5, floor=4, ceiling=4, processes=2, clock=lambda: now[0])
    for _ in range(4):
        a.enter()
    first = _told(a, 50)  # slots 4..53 ballots' time away: 16-212 ms
    now[0] += 0.1  # 100 ms later, still full
    (late,) = _told(a, 1)
    assert now[0] + late / 1000 >= first[-1] / 1000  # after the fifty, not 4 x 4 ms away
    assert late == math.ceil(((4 + 50) * 0.004 - 0.1) / (1 + JITTER_MEAN) * 1000)


def test_the_app_tells_the_admission_its_check_processes(served: Served) -> None:
    admission = Admission(target=0.5)
    create_app(served.host, OpsConfig.unlimited(), admission=admission, checks=CheckPool(3))
    assert admission.processes == 3
    alone = Admission(target=0.5)
    create_app(served.host, OpsConfig.unlimited(), admission=alone)
    assert alone.processes == 0


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["enter", "enter", "leave", "tick"]),
        st.floats(min_value=0.0, max_value=0.3, allow_nan=False),
    ),
    max_size=400,
)


@settings(max_examples=150, deadline=None)
@given(steps=_STEPS, processes=st.integers(0, 4), floor=st.integers(1, 8))
def test_times_handed_out_never_go_back_nor_below_the_minimum_and_the_bound_holds(
    steps: list[tuple[str, float]], processes: int, floor: int
) -> None:
    """Whatever the arrivals, answers and time: a cast is taken only within the bound (or
    alone), the waits handed out are at least MIN_WAIT_MS, and the times voters are told
    to come back never go back (to the millisecond the waits are rounded up to), nor do
    their slots: a voter told later is never given a time before one told earlier."""
    now = [0.0]
    a = Admission(
        target=0.5, floor=floor, ceiling=32, processes=processes, lag_share=0,
        clock=lambda: now[0],
    )  # fmt: skip
    taken: list[tuple[float, int]] = []
    back = slot = -math.inf
    for step, x in steps:
        if step == "tick":
            now[0] += x
        elif step == "leave":
            if taken:
                a.leave(taken.pop(0))
        else:
            bound = a.limit
            try:
                taken.append(a.enter(waited=x * 4))
            except ServerBusyError as err:
                assert err.retry_after_ms >= MIN_WAIT_MS
                told = now[0] + err.retry_after_ms / 1000
                assert told >= back - 0.001 - 1e-9
                back = max(back, told)
                assert a._next_slot >= slot
                slot = a._next_slot
                assert a.in_flight >= 1  # refused only when something is in flight
            else:
                assert a.in_flight <= max(bound, 1)
        assert a.in_flight == len(taken)
