"""Prometheus metrics of the server (text exposition format, no dependency): ballots
accepted, ballots refused by error code, casting latency (a histogram), and each
election's phase.

One worker process keeps its counters in memory. With several workers (``viche serve
--workers N``) each also writes a snapshot of its counters, after every ballot, to its own
file in a folder the workers share (``metrics-<pid>.json``, replaced atomically), and
``/metrics`` answers the sum over every snapshot in the folder: whichever worker a scrape
reaches, it sees the whole server. ``viche serve`` empties the folder when it starts, so the
counters restart from zero with the server, as Prometheus expects of a counter.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SNAPSHOT_PREFIX = "metrics-"


@dataclass
class Counters:
    """What one process counted."""

    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    seconds: float = 0.0
    count: int = 0

    def add(self, other: Counters) -> None:
        self.accepted += other.accepted
        for code, n in other.refused.items():
            self.refused[code] = self.refused.get(code, 0) + n
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
        self.seconds += other.seconds
        self.count += other.count

    def to_json(self) -> str:
        return json.dumps(
            {
                "accepted": self.accepted,
                "refused": self.refused,
                "buckets": self.buckets,
                "seconds": self.seconds,
                "count": self.count,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Counters | None:
        """The counters of a snapshot, or None when it is not one (a half-read file cannot
        occur, snapshots are replaced atomically, but a stranger's file may be there)."""
        try:
            d = json.loads(text)
            got = cls(
                accepted=int(d["accepted"]),
                refused={str(k): int(v) for k, v in dict(d["refused"]).items()},
                buckets=[int(n) for n in d["buckets"]],
                seconds=float(d["seconds"]),
                count=int(d["count"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return got if len(got.buckets) == len(BUCKETS) else None


def reset_shared(folder: Path) -> None:
    """Empty (or create) the folder the workers share, before they start (their metrics
    snapshots and rate-limit tables)."""
    from viche.web.ops import RATE_PREFIX

    folder.mkdir(parents=True, exist_ok=True)
    for pattern in (f"{SNAPSHOT_PREFIX}*.json", f"{RATE_PREFIX}*.bin"):
        for old in folder.glob(pattern):
            old.unlink(missing_ok=True)


class Metrics:
    def __init__(self, shared: Path | None = None, worker: str | None = None) -> None:
        """``shared``: the folder the workers share (None: this process alone); ``worker``
        names this worker's snapshot (its process id unless given)."""
        self._lock = threading.Lock()
        self._own = Counters()
        self._shared = shared
        name = worker if worker is not None else str(os.getpid())
        self._file = None if shared is None else shared / f"{SNAPSHOT_PREFIX}{name}.json"
        if self._file is not None:
            self._write(self._own.to_json())  # a live worker shows in the folder at once

    def cast(self, seconds: float, refused_code: str | None = None) -> None:
        with self._lock:
            c = self._own
            if refused_code is None:
                c.accepted += 1
            else:
                c.refused[refused_code] = c.refused.get(refused_code, 0) + 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    c.buckets[i] += 1
            c.seconds += seconds
            c.count += 1
            if self._file is not None:
                self._write(c.to_json())

    def _write(self, text: str) -> None:
        assert self._file is not None
        tmp = self._file.with_suffix(".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self._file)
        except OSError:
            pass  # metrics never cost a ballot; this worker's figures are then stale

    def _total(self) -> Counters:
        total = Counters()
        with self._lock:
            total.add(self._own)
        if self._shared is None or self._file is None:
            return total
        try:
            others = [p for p in self._shared.glob(f"{SNAPSHOT_PREFIX}*.json") if p != self._file]
        except OSError:
            others = []
        for path in others:
            try:
                got = Counters.from_json(path.read_text(encoding="utf-8"))
            except OSError:
                continue
            if got is not None:
                total.add(got)
        return total

    def render(self, phases: Iterable[tuple[str, str]] = ()) -> str:
        """The exposition text; ``phases`` gives (election uuid, phase) pairs."""
        c = self._total()
        lines = [
            "# HELP viche_ballots_accepted_total Ballots accepted (durable, receipt sent).",
            "# TYPE viche_ballots_accepted_total counter",
            f"viche_ballots_accepted_total {c.accepted}",
            "# HELP viche_ballots_refused_total Ballots refused, by error code.",
            "# TYPE viche_ballots_refused_total counter",
        ]
        lines += [
            f'viche_ballots_refused_total{{code="{code}"}} {n}'
            for code, n in sorted(c.refused.items())
        ]
        lines += [
            "# HELP viche_cast_seconds Time to answer a ballot.",
            "# TYPE viche_cast_seconds histogram",
        ]
        lines += [
            f'viche_cast_seconds_bucket{{le="{bound}"}} {count}'
            for bound, count in zip(BUCKETS, c.buckets, strict=True)
        ]
        lines += [
            f'viche_cast_seconds_bucket{{le="+Inf"}} {c.count}',
            f"viche_cast_seconds_sum {c.seconds}",
            f"viche_cast_seconds_count {c.count}",
            "# HELP viche_election_phase The phase each election is in (1 for its phase).",
            "# TYPE viche_election_phase gauge",
        ]
        lines += [
            f'viche_election_phase{{election="{uuid}",phase="{phase}"}} 1'
            for uuid, phase in sorted(phases)
        ]
        return "\n".join(lines) + "\n"
