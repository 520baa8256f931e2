"""Ordered, bounded chunk pipelines over the verifier's process pool.

:class:`WorkerPool` owns at most one :class:`~concurrent.futures.ProcessPoolExecutor`,
started on first use with the election and the public credentials (each worker parses them
once and builds its fixed-base tables: :func:`viche.verify.ballots._init_worker`), shared by
both passes of :func:`viche.verify.verifier.verify_record`. With one job, or before any
chunk has been sent when the caller chose :meth:`WorkerPool.use_inline`, the same functions
run in this process.

:class:`Pipeline` sends chunks as the archive is read and hands the results back **in the
order the chunks were sent**, keeping at most ``limit`` chunks in flight: when the limit is
reached, :meth:`Pipeline.submit` waits for the oldest. The memory held by the pipeline is
therefore ``limit`` chunks, whatever the archive size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Generic, TypeVar

from viche.protocol.election import Election, PublicCredentials
from viche.verify.ballots import _init_worker, _mp_context, warm_tables

X = TypeVar("X")
R = TypeVar("R")


class WorkerPool:
    """The worker processes of one verification (started lazily)."""

    def __init__(self, election: Election, credentials: PublicCredentials, jobs: int) -> None:
        self.election = election
        self.credentials = credentials
        self.jobs = max(1, jobs)
        self.parallel = self.jobs > 1
        self._executor: ProcessPoolExecutor | None = None
        self._warm = False

    def use_inline(self) -> None:
        """Run everything in this process (a few ballots are not worth starting workers);
        no effect once the workers are running."""
        if self._executor is None:
            self.parallel = False

    def executor(self) -> ProcessPoolExecutor | None:
        """The executor, started on first call; None when running inline."""
        if not self.parallel:
            if not self._warm:
                warm_tables(self.election)
                self._warm = True
            return None
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=_mp_context(),
                initializer=_init_worker,
                initargs=(self.election.raw, self.credentials.raw),
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Pipeline(Generic[X, R]):
    """Chunks in, results out in submission order, at most ``limit`` chunks in flight.

    ``remote`` runs in a worker (a module-level function reading the worker state),
    ``local`` is the same computation in this process.
    """

    def __init__(
        self,
        pool: WorkerPool,
        remote: Callable[[X], R],
        local: Callable[[X], R],
        limit: int | None = None,
    ) -> None:
        self.pool = pool
        self.remote = remote
        self.local = local
        self.limit = limit if limit is not None else 4 * pool.jobs
        self._inflight: deque[Future[R]] = deque()

    def submit(self, chunk: X) -> list[R]:
        """Send ``chunk``; return the results that are ready, oldest first."""
        executor = self.pool.executor()
        if executor is None:
            return [self.local(chunk)]
        self._inflight.append(executor.submit(self.remote, chunk))
        out: list[R] = []
        while self._inflight and (
            len(self._inflight) > self.limit or self._inflight[0].done()
        ):
            out.append(self._inflight.popleft().result())
        return out

    def finish(self) -> list[R]:
        """Wait for every chunk still in flight; their results, oldest first."""
        out = [fut.result() for fut in self._inflight]
        self._inflight.clear()
        return out

    @property
    def in_flight(self) -> int:
        return len(self._inflight)
