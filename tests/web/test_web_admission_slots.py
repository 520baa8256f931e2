"""The times a full worker hands out (viche.web.admission): slots in a queue, one ballot's
time apart at the pace known when each voter is told, a tenth earlier than the slot (the
clients' jitter); a burst's first wave at a guess that counts the worker's check processes;
a worker warming up does not send the voters away for long; the workers of one server
share the queue."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.web import Served
from viche.errors import ServerBusyError
from viche.web.admission import (
    CHECK_GUESS,
    CHECK_SLOWEST,
    JITTER_MEAN,
    MIN_WAIT_MS,
    QUEUE_FILE,
    WARM_WINDOWS,
    WINDOW,
    Admission,
    SlotQueue,
)
from viche.web.app import create_app
from viche.web.checkpool import CheckPool
from viche.web.metrics import reset_shared
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
    a = Admission(target=0.5, floor=4, ceiling=64, processes=1, clock=lambda: now[0])
    a.enter()
    a.in_flight = 64  # a burst in flight
    guess = CHECK_GUESS
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


@pytest.mark.parametrize("processes", [1, 2])
def test_a_pace_slowed_by_other_work_tells_the_voters_no_slower_than_a_quiet_machine(
    processes: int,
) -> None:
    """A machine loaded by other work answers slowly for a while (a window 2.5 times slower
    than quiet), then fast again when that work stops. The voters told meanwhile are told
    no slower than CHECK_SLOWEST per check process: told at the slow pace they came back
    at it after the machine had sped up, and the workers idled while they waited; those
    back too early are told again. A pace measured faster than that is kept."""
    now = [0.0]
    a = Admission(target=0.5, floor=4, ceiling=64, processes=processes, clock=lambda: now[0])
    a.enter()
    a.in_flight = 64
    slow = 2.5 * CHECK_SLOWEST / processes
    for _ in range((WARM_WINDOWS + 1) * WINDOW):  # warmed up, slowly all along
        now[0] += slow
        a.leave()
        a.in_flight += 1
    assert a.interval == pytest.approx(slow) and a.pace == pytest.approx(slow)
    assert a.spacing == pytest.approx(CHECK_SLOWEST / processes)
    a.in_flight = a.limit
    told = _told(a, 20)
    # the first after the casts in flight (at the pace measured), the others spaced
    assert told[0] == math.ceil(a.limit * slow / (1 + JITTER_MEAN) * 1000)
    gaps = [(b - c) / 1000 for b, c in zip(told[1:], told, strict=False)]
    assert max(gaps) <= CHECK_SLOWEST / processes / (1 + JITTER_MEAN) + 0.0011
    fast = 0.9 * CHECK_SLOWEST / processes
    for _ in range(WINDOW):  # the load gone: a faster window is measured and kept
        now[0] += fast
        a.leave()
        a.in_flight += 1
    assert a.spacing == pytest.approx(fast)


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


def test_the_workers_of_a_server_share_the_queue_of_voters_told(tmp_path: Path) -> None:
    """A voter told by one worker comes back over a new connection, which either worker may
    accept, and the kernel gives a burst's first wave to the workers unevenly (traced: 764
    and 207 of 1,000): with a queue each, the voters of the one that took more were spread
    over 5.7 s, those of the other over 1.3 s, after which the voters came back at half
    the server's pace and both workers idled while the rest waited (bench/serve_ingest/
    README.md, gap7). One queue for the server: each voter told, by either worker, moves
    its end by the worker's pace divided among the workers, so the first wave is spread
    at the server's pace whoever told it."""
    now = [0.0]
    folder = tmp_path / "shared"
    reset_shared(folder)
    workers = [
        Admission(target=0.5, floor=4, processes=1, workers=2, clock=lambda: now[0],
                  queue=SlotQueue(folder / QUEUE_FILE))  # the file each worker maps
        for _ in range(2)
    ]  # fmt: skip
    for a in workers:
        for _ in range(4):
            a.enter()  # the floor: taken in
    backs = []  # when each voter is asked back, in the order told: three of four by the first
    for k in range(400):
        (wait,) = _told(workers[0 if k % 4 else 1], 1)
        backs.append(wait / 1000)
    pace = CHECK_GUESS  # each worker's guess with its one check process
    # after the four casts in flight, then half a worker's pace each, told a tenth earlier
    slots = [4 * pace + k * pace / 2 for k in range(400)]
    assert backs == pytest.approx([t / (1 + JITTER_MEAN) for t in slots], abs=0.00101)
    # the last voter told is asked back when the server (both workers) has taken the 400:
    # with a queue each she was the 300th of the first worker, asked back twice as late
    alone = Admission(target=0.5, floor=4, processes=1, clock=lambda: now[0])
    for _ in range(4):
        alone.enter()
    assert _told(alone, 300)[-1] / 1000 > 1.4 * backs[-1]
    assert workers[1].queue.end == pytest.approx(4 * pace + 400 * pace / 2)
    # a file that is no queue (a stranger's, a half-made one) is started anew
    (folder / QUEUE_FILE).write_bytes(b"not a queue")
    assert SlotQueue(folder / QUEUE_FILE).end == 0.0
    # an end hours ahead is another boot's clock (a file left over): not waited for
    stale = SlotQueue(folder / QUEUE_FILE)
    stale.book(1e6, 0.004)
    assert stale.book(5.0, 0.004) == 5.0 and stale.end == pytest.approx(5.004)
    stale.close()
    # viche serve empties the folder when it starts: an end is a time of this boot's clock
    reset_shared(folder)
    assert not (folder / QUEUE_FILE).exists()


def test_serve_tells_the_admission_its_workers_and_their_queue(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from viche.web.serve import ENV_DATABASE, ENV_KEYS, ENV_METRICS, ENV_WORKERS, build_app

    monkeypatch.setenv(ENV_DATABASE, f"sqlite:///{tmp_path / 'board.sqlite'}")
    monkeypatch.setenv(ENV_KEYS, str(tmp_path / "keys"))
    monkeypatch.setenv(ENV_WORKERS, "2")
    monkeypatch.delenv(ENV_METRICS, raising=False)
    app = build_app()  # no shared folder: a worker alone, its own queue
    assert app.state.admission.workers == 1
    app.state.host.board.close()
    folder = tmp_path / "metrics"
    reset_shared(folder)
    monkeypatch.setenv(ENV_METRICS, str(folder))
    apps = [build_app(), build_app()]  # two workers
    first, second = (a.state.admission for a in apps)
    assert (first.workers, second.workers) == (2, 2)
    first.queue.book(123.0, 0.004)  # one told by the first worker
    assert second.queue.end == pytest.approx(123.004)  # the second sees the queue's end
    for a in apps:
        a.state.admission.queue.close()
        a.state.host.board.close()


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
                assert a.queue.end >= slot
                slot = a.queue.end
                assert a.in_flight >= 1  # refused only when something is in flight
            else:
                assert a.in_flight <= max(bound, 1)
        assert a.in_flight == len(taken)
