"""The check processes of a ``viche serve`` worker (:mod:`viche.web.checkpool`): the same
verdicts and refusals as a check in the worker's process, awaited on the event loop
without a thread, processes taken in the order the casts came, a process killed in the
middle of a burst (or silent) replaced without losing or hanging a cast, a cancelled cast
losing no process, and no process left behind when the server stops or is killed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.served import CLI, cli_env, free_port, start_demo, stop, wait_until_up
from support.web import Served, serve_prepared
from viche.errors import ServerBusyError, VicheError
from viche.service.served_demo import PreparedDemo
from viche.verify.prefill import check_ballot_fast
from viche.web import checkpool
from viche.web.checkpool import CheckPool, Verdict, check_processes, serve_checks
from viche.web.errors import status_of


@pytest.fixture()
def pooled(
    board_url: str, tmp_path: Path, prepared: tuple[PreparedDemo, Path]
) -> Iterator[tuple[Served, CheckPool]]:
    demo, voters = prepared
    pool = CheckPool(2)
    with serve_prepared(board_url, tmp_path / "keys", demo, voters, checks=pool) as served:
        yield served, pool


def _bad_proof(raw: bytes) -> bytes:
    """``raw`` with the last digit of its first individual proof's response changed: still
    canonical, the proof no longer holds."""
    start = raw.index(b'"response":"', raw.index(b'"individual_proofs"')) + len(b'"response":"')
    end = raw.index(b'"', start)
    last = raw[end - 1 : end]
    return raw[: end - 1] + (b"3" if last != b"3" else b"4") + raw[end:]


def test_refusals_are_those_of_the_check_in_process(
    pooled: tuple[Served, CheckPool],
) -> None:
    s, pool = pooled
    rec = s.host.record(s.uuid)
    good = s.ballot(1)
    cases = [
        _bad_proof(good),
        good.replace(b'{"', b'{ "', 1),  # not canonical
        good.replace(b'"hash":"', b'"hash":"A', 1),  # signature hash
        good.replace(s.uuid.encode(), b"X" + s.uuid.encode()[1:], 1),  # another election
    ]
    for raw in cases:
        with pytest.raises(VicheError) as here:
            check_ballot_fast(rec.election, raw, rec.credentials)
        r = s.post_ballot(raw, 1)
        assert r.status_code == status_of(here.value) and 400 <= r.status_code < 500
        assert r.json() == here.value.to_dict()
    # voter 2's login with voter 3's ballot: the binding, after the check process's verdict
    r = s.post_ballot(s.ballot(3), 2)
    assert (r.status_code, r.json()["code"]) == (422, "V3007")
    # a valid ballot: the verdict carries the check's facts, and the cast is accepted
    expected = check_ballot_fast(rec.election, good, rec.credentials)
    assert asyncio.run(pool.check(rec, good)) == Verdict(
        good, expected.tracker, expected.hex_hash, expected.credential, expected.weight
    )
    raw, body = s.cast(1)
    assert body["tracker"] == expected.tracker and raw == good
    assert len(pool.pids()) == 2 and pool.replaced == 0


def test_a_check_process_killed_mid_burst_is_replaced(pooled: tuple[Served, CheckPool]) -> None:
    """Four casts check ballots without pause on one event loop (in a thread of the test);
    one check process is killed with SIGKILL meanwhile, then both: a check it held is
    answered ServerBusyError (sent again, it passes), never a hang or another error, and
    the pool goes on with new processes."""
    s, pool = pooled
    rec = s.host.record(s.uuid)
    ballots = [s.ballot(n, seed=f"burst{k}") for k in range(20) for n in (1, 2, 3, 4)]
    expected = {
        raw: check_ballot_fast(rec.election, raw, rec.credentials).tracker for raw in ballots
    }
    busy: list[ServerBusyError] = []
    got: dict[bytes, str] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()

    async def voter(mine: list[bytes]) -> None:
        try:
            for raw in mine:
                while True:
                    try:
                        verdict = await pool.check(rec, raw)
                    except ServerBusyError as exc:
                        with lock:
                            busy.append(exc)
                        continue  # nothing was written: the same ballot again
                    with lock:
                        got[raw] = verdict.tracker
                    break
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    async def burst() -> None:
        await asyncio.gather(*(voter(ballots[i::4]) for i in range(4)))

    threads = [threading.Thread(target=asyncio.run, args=(burst(),))]
    for t in threads:
        t.start()
    # kill while the burst is under way (not by the clock: the checks may be quick)
    deadline = time.monotonic() + 60
    while len(got) < 8 and not failures and time.monotonic() < deadline:
        time.sleep(0.002)
    first = pool.pids()
    os.kill(first[0], signal.SIGKILL)
    while len(got) < 24 and not failures and time.monotonic() < deadline:
        time.sleep(0.002)
    for pid in pool.pids():
        with contextlib.suppress(ProcessLookupError):  # the first one may be reaped already
            os.kill(pid, signal.SIGKILL)
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a check hung"
    assert failures == []
    assert got == expected
    assert pool.replaced >= 1 and len(busy) <= pool.replaced
    assert all(e.code == "V9016" and e.retry_after_ms > 0 for e in busy)
    # a process found dead when taken (killed while idle) is replaced before the check
    for raw in ballots[:2]:
        assert asyncio.run(pool.check(rec, raw)).tracker == expected[raw]
    assert not set(pool.pids()) & set(first) and pool.replaced >= 2
    # the new processes load the election on their first ballot and check as before
    r = s.post_ballot(_bad_proof(s.ballot(2)), 2)
    assert (r.status_code, r.json()["code"]) == (422, "V2002")
    s.cast(2)


def test_casts_get_a_process_in_the_order_they_came(board_url: str, tmp_path: Path,
    prepared: tuple[PreparedDemo, Path]) -> None:  # fmt: skip
    """One check process, eight casts: they are checked one after the other in the order
    they asked, and no thread waits for the check (the event loop reads the answer)."""
    demo, voters = prepared
    pool = CheckPool(1)
    with serve_prepared(board_url, tmp_path / "keys", demo, voters, checks=pool) as s:
        rec = s.host.record(s.uuid)
        ballots = [s.ballot(n, seed=f"order{k}") for k in range(2) for n in (1, 2, 3, 4)]
        done: list[int] = []
        threads: list[int] = []

        async def one(k: int) -> None:
            await pool.check(rec, ballots[k])
            done.append(k)
            threads.append(threading.active_count())

        async def casts() -> None:
            tasks = []
            for k in range(len(ballots)):
                tasks.append(asyncio.create_task(one(k)))
                await asyncio.sleep(0)  # each asks before the next is created
            await asyncio.gather(*tasks)

        before = threading.active_count()
        asyncio.run(casts())
        assert done == list(range(len(ballots)))
        assert set(threads) == {before}  # the checks held no thread of this process
        assert pool.replaced == 0


def test_a_cancelled_cast_loses_no_process(pooled: tuple[Served, CheckPool]) -> None:
    """A cast cancelled while it waits for a process, or while its check runs (its client
    gone, the server stopping): the process it had or would have had goes to the next cast,
    once its answer is read; nothing is replaced, nothing hangs."""
    s, pool = pooled
    rec = s.host.record(s.uuid)
    ballots = [s.ballot(n, seed="cancel") for n in (1, 2, 3, 4)]
    expected = check_ballot_fast(rec.election, ballots[3], rec.credentials).tracker

    async def scene() -> str:
        running = [asyncio.create_task(pool.check(rec, raw)) for raw in ballots[:3]]
        await asyncio.sleep(0.001)  # two checks under way (2 processes), the third waits
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return (await asyncio.wait_for(pool.check(rec, ballots[3]), 60)).tracker

    first = pool.pids()
    assert asyncio.run(scene()) == expected
    assert pool.pids() == first and pool.replaced == 0

    # both processes are free again: two casts at once are checked at once
    async def pair() -> list[Verdict]:
        return list(await asyncio.gather(*(pool.check(rec, raw) for raw in ballots[:2])))

    assert len(asyncio.run(asyncio.wait_for(pair(), 60))) == 2


def test_a_silent_check_process_is_killed_and_replaced(
    pooled: tuple[Served, CheckPool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check process that does not answer within CHECK_TIMEOUT (stopped here with
    SIGSTOP) is killed and replaced; its cast is told the server is busy."""
    s, pool = pooled
    rec = s.host.record(s.uuid)
    monkeypatch.setattr(checkpool, "CHECK_TIMEOUT", 0.5)
    for pid in pool.pids():
        os.kill(pid, signal.SIGSTOP)
    stopped = pool.pids()
    try:
        with pytest.raises(ServerBusyError) as lost:
            asyncio.run(pool.check(rec, s.ballot(1)))
        assert "no answer within" in str(lost.value) and lost.value.code == "V9016"
        assert pool.replaced == 1
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    assert len(set(pool.pids()) - set(stopped)) == 1
    s.cast(1)


def test_check_processes_from_the_cores() -> None:
    assert check_processes(1, cores=2) == 2
    assert check_processes(2, cores=2) == 1
    assert check_processes(3, cores=2) == 1
    assert check_processes(2, cores=8) == 4


def test_a_check_process_ends_with_its_pipe() -> None:
    """The check process returns when the worker's end of its pipe is closed (or the
    worker dies), even when it never got a request: it does not outlive its worker."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=serve_checks, args=(theirs,))
    process.start()
    theirs.close()
    ours.close()
    process.join(timeout=30)
    assert process.exitcode == 0


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[1])
    found = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found - {root}


def _alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def _wait_gone(pids: set[int], timeout: float = 20) -> set[int]:
    deadline = time.monotonic() + timeout
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(pids)


@pytest.mark.parametrize(("workers", "how"), [(1, signal.SIGKILL), (2, signal.SIGTERM)])
def test_no_check_process_outlives_the_server(
    tmp_path: Path, workers: int, how: signal.Signals
) -> None:
    """``viche serve`` stopped (SIGTERM) or its worker killed (SIGKILL, 1 worker: the worker
    is the server's process): every process it started ends."""
    data = tmp_path / "data"
    port = free_port()
    proc = start_demo(data, port, workers=workers)
    try:
        wait_until_up(proc, port)
        uuid = (data / "demo" / "election.uuid").read_text().strip()
        voters = data / "demo" / "voters"
        vote = subprocess.run(
            [*CLI, "vote", f"http://127.0.0.1:{port}", "--election", uuid,
             "--privcred", str(voters / "001.cred"), "--login", str(voters / "001.login"),
             "--ballot", str(voters / "choices.json"), "--receipt", str(tmp_path / "r.json")],
            capture_output=True, env=cli_env(), timeout=300, check=False,
        )  # fmt: skip
        assert vote.returncode == 0, vote.stderr.decode()
        children = _descendants(proc.pid)
        assert len(children) >= 2 * workers  # the check processes (and the fork servers)
        os.kill(proc.pid, how)
        proc.wait(timeout=60)
        assert _wait_gone(children) == set()
    finally:
        stop(proc)  # its output read, its pipe closed
