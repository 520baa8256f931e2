"""Ordered, bounded chunk pipelines over the verifier's process pool.

:class:`WorkerPool` owns at most one :class:`~concurrent.futures.ProcessPoolExecutor`,
started on first use with the election and the public credentials (each worker parses them
once and builds its fixed-base tables: :func:`viche.verify.ballots.init_worker`), shared by
both passes of :func:`viche.verify.streaming.verify_record`. With one job, or before any
chunk has been sent when the caller chose :meth:`WorkerPool.use_inline`, the same functions
run in this process.

:class:`Pipeline` sends chunks as the archive is read and hands the results back **in the
order the chunks were sent**, keeping at most ``limit`` chunks in flight: when the limit is
reached, :meth:`Pipeline.submit` waits for the oldest. The memory held by the pipeline is
therefore ``limit`` chunks, whatever the archive size.

With ``scheduler`` (``viche verify --scheduler tcp://host:8786``), the chunks go to the
workers of a dask.distributed cluster instead ("Dask for work that outgrows one machine"):
the election and credential bytes are scattered once to every worker
(:func:`~viche.verify.ballots.run_with_state` parses them once per worker), and the same
bounded, ordered pipeline feeds it. Optional dependency: ``pip install 'viche[cluster]'``.
"""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Generic, Protocol, TypeVar

from viche.errors import Location, MissingDependencyError, UsageError
from viche.protocol.election import Election, PublicCredentials
from viche.verify.ballots import init_worker, mp_context, run_with_state, warm_tables

X = TypeVar("X")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class FutureLike(Protocol[R_co]):
    """What :class:`Pipeline` needs of a future (concurrent.futures or dask.distributed)."""

    def done(self) -> bool: ...

    def result(self) -> R_co: ...


#: how long to try to reach a dask scheduler before giving up (a dask duration)
SCHEDULER_TIMEOUT = "30s"


class WorkerPool:
    """The worker processes of one verification (started lazily): a local process pool,
    or the workers of a dask.distributed cluster when ``scheduler`` is its address."""

    def __init__(
        self,
        election: Election,
        credentials: PublicCredentials,
        jobs: int,
        scheduler: str | None = None,
    ) -> None:
        self.election = election
        self.credentials = credentials
        self.jobs = max(1, jobs)
        self.scheduler = scheduler
        self.parallel = self.jobs > 1 or scheduler is not None
        self._executor: ProcessPoolExecutor | None = None
        self._client: Any = None  # distributed.Client (optional dependency)
        self._setup: list[Any] = []  # the scattered election and credentials bytes
        self._warm = False

    def use_inline(self) -> None:
        """Run everything in this process (a few ballots are not worth starting workers);
        no effect once the workers are running."""
        if self._executor is None and self._client is None:
            self.parallel = False

    def _start(self) -> None:
        if self.scheduler is not None:
            try:
                distributed = importlib.import_module("distributed")
            except ImportError:  # pragma: no cover - depends on the installed extras
                raise MissingDependencyError(
                    "--scheduler needs dask.distributed: pip install 'viche[cluster]'",
                    where=Location(path=(self.scheduler,)),
                ) from None
            try:
                self._client = distributed.Client(
                    self.scheduler, set_as_default=False, timeout=SCHEDULER_TIMEOUT
                )
            except (OSError, ValueError) as exc:  # unreachable, or not an address
                raise UsageError(
                    f"cannot reach the dask scheduler: {exc}",
                    where=Location(path=(self.scheduler,)),
                ) from None
            self._setup = self._client.scatter(
                [self.election.raw, self.credentials.raw], broadcast=True, hash=False
            )
            threads = sum(self._client.nthreads().values())
            self.jobs = max(1, threads)
            return
        self._executor = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=mp_context(),
            initializer=init_worker,
            initargs=(self.election.raw, self.credentials.raw),
        )

    def submit(self, fn: Callable[[X], R], chunk: X) -> FutureLike[R] | None:
        """Send ``fn(chunk)`` to a worker (started on first call); None when running
        inline (the caller runs it here)."""
        if not self.parallel:
            if not self._warm:
                warm_tables(self.election)
                self._warm = True
            return None
        if self._executor is None and self._client is None:
            self._start()
        if self._client is not None:
            fut: FutureLike[R] = self._client.submit(
                run_with_state, fn, self._setup[0], self._setup[1], chunk, pure=False
            )
            return fut
        assert self._executor is not None
        return self._executor.submit(fn, chunk)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> WorkerPool:
        if self.scheduler is not None:
            self._start()  # an address that cannot be reached fails now, whatever the size
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
        self._inflight: deque[FutureLike[R]] = deque()

    def submit(self, chunk: X) -> list[R]:
        """Send ``chunk``; return the results that are ready, oldest first."""
        fut = self.pool.submit(self.remote, chunk)
        if fut is None:
            return [self.local(chunk)]
        self._inflight.append(fut)
        out: list[R] = []
        while self._inflight and (len(self._inflight) > self.limit or self._inflight[0].done()):
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
