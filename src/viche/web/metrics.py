"""Prometheus metrics of the server (text exposition format, no dependency): ballots
accepted, ballots refused by error code, casting latency (a histogram), each election's
phase, a few counts of operations (:data:`EVENTS`: one-time code mails that failed, code
requests and live streams refused, log lines dropped), and the scheduled openings and
closings whose last attempt failed (read from the database at each scrape).

One worker process keeps its counters in memory. With several workers (``viche serve
--workers N``) each keeps them in its own file in a folder the workers share
(``metrics-<pid>.bin``, a fixed layout mapped in memory: counting a ballot is a few stores
to memory, no system call), and ``/metrics`` answers the sum over every file in the folder:
whichever worker a scrape reaches, it sees the whole server. ``viche serve`` empties the
folder when it starts, so the counters restart from zero with the server, as Prometheus
expects of a counter.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SNAPSHOT_PREFIX = "metrics-"
SNAPSHOT_SUFFIX = ".bin"

#: counts of operations, each a counter of its own (:meth:`Metrics.count`)
EVENTS = (
    "code_mail_failed",  # a one-time code the mail server refused or did not take
    "code_queue_full",  # a code request refused: the worker's mail queue was full
    "stream_refused_address",  # a live stream over its address's limit (429)
    "stream_refused_server",  # a live stream over the worker's limit (503)
    "log_line_dropped",  # a log line dropped: the log's queue was full (viche.web.ops)
)

#: the file of one worker: magic, accepted, count, seconds, the buckets, the ``EVENTS``,
#: then the refused ballots by error code (at most ``CODES`` codes: V followed by four
#: digits)
_MAGIC = b"vicheMT2"
_HEAD = struct.Struct(f"<8sQQd{len(BUCKETS)}Q{len(EVENTS)}Q")
_CODE = struct.Struct("<8sQ")
CODES = 64
_SIZE = _HEAD.size + CODES * _CODE.size


@dataclass
class Counters:
    """What one process counted."""

    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    seconds: float = 0.0
    count: int = 0
    events: list[int] = field(default_factory=lambda: [0] * len(EVENTS))

    def add(self, other: Counters) -> None:
        self.accepted += other.accepted
        self.events = [a + b for a, b in zip(self.events, other.events, strict=True)]
        for code, n in other.refused.items():
            self.refused[code] = self.refused.get(code, 0) + n
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
        self.seconds += other.seconds
        self.count += other.count

    def to_bytes(self) -> bytes:
        out = bytearray(_SIZE)
        _HEAD.pack_into(
            out, 0, _MAGIC, self.accepted, self.count, self.seconds, *self.buckets, *self.events
        )
        for i, (code, n) in enumerate(sorted(self.refused.items())[:CODES]):
            _CODE.pack_into(out, _HEAD.size + i * _CODE.size, code.encode()[:8], n)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Counters | None:
        """The counters of a snapshot, or None when it is not one (a stranger's file)."""
        if len(data) != _SIZE or data[:8] != _MAGIC:
            return None
        _, accepted, count, seconds, *rest = _HEAD.unpack_from(data, 0)
        buckets, events = rest[: len(BUCKETS)], rest[len(BUCKETS) :]
        refused: dict[str, int] = {}
        for i in range(CODES):
            raw, n = _CODE.unpack_from(data, _HEAD.size + i * _CODE.size)
            code = raw.rstrip(b"\0")
            if not code:
                break
            try:
                refused[code.decode("ascii")] = int(n)
            except UnicodeDecodeError:
                return None
        return cls(
            int(accepted),
            refused,
            [int(b) for b in buckets],
            float(seconds),
            int(count),
            [int(e) for e in events],
        )


def reset_shared(folder: Path) -> None:
    """Empty (or create) the folder the workers share, before they start (their metrics
    snapshots, rate-limit tables and the admission's queue of voters told)."""
    from viche.web.admission import QUEUE_FILE
    from viche.web.ops import RATE_PREFIX

    folder.mkdir(parents=True, exist_ok=True)
    for pattern in (f"{SNAPSHOT_PREFIX}*", f"{RATE_PREFIX}*.bin", QUEUE_FILE):
        for old in folder.glob(pattern):
            old.unlink(missing_ok=True)


class Metrics:
    def __init__(self, shared: Path | None = None, worker: str | None = None) -> None:
        """``shared``: the folder the workers share (None: this process alone); ``worker``
        names this worker's file (its process id unless given)."""
        self._lock = threading.Lock()
        self._own = Counters()
        self._codes: dict[str, int] = {}  # code -> its slot in the file
        self._shared = shared
        name = worker if worker is not None else str(os.getpid())
        file = f"{SNAPSHOT_PREFIX}{name}{SNAPSHOT_SUFFIX}"
        self._file = None if shared is None else shared / file
        self._map: mmap.mmap | None = None
        if self._file is not None:
            try:  # a live worker shows in the folder at once
                with self._file.open("w+b") as f:
                    f.write(self._own.to_bytes())
                    f.flush()
                    self._map = mmap.mmap(f.fileno(), _SIZE)
            except OSError:
                self._map = None  # metrics never cost a ballot; this worker then counts alone

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
            m = self._map
            if m is not None:
                self._pack_head(m)
                if refused_code is not None:
                    slot = self._codes.get(refused_code)
                    if slot is None and len(self._codes) < CODES:
                        slot = self._codes[refused_code] = len(self._codes)
                    if slot is not None:
                        _CODE.pack_into(
                            m,
                            _HEAD.size + slot * _CODE.size,
                            refused_code.encode()[:8],
                            c.refused[refused_code],
                        )

    def count(self, event: str) -> None:
        """One more of ``event`` (one of :data:`EVENTS`)."""
        slot = EVENTS.index(event)
        with self._lock:
            self._own.events[slot] += 1
            if self._map is not None:
                self._pack_head(self._map)

    def _pack_head(self, m: mmap.mmap) -> None:
        c = self._own
        _HEAD.pack_into(m, 0, _MAGIC, c.accepted, c.count, c.seconds, *c.buckets, *c.events)

    def _total(self) -> Counters:
        total = Counters()
        with self._lock:
            total.add(self._own)
        if self._shared is None or self._file is None:
            return total
        try:
            others = [
                p
                for p in self._shared.glob(f"{SNAPSHOT_PREFIX}*{SNAPSHOT_SUFFIX}")
                if p != self._file
            ]
        except OSError:
            others = []
        for path in others:
            try:
                got = Counters.from_bytes(path.read_bytes())
            except OSError:
                continue
            if got is not None:
                total.add(got)
        return total

    def render(
        self,
        phases: Iterable[tuple[str, str]] = (),
        failed_schedules: Iterable[tuple[str, str, str, int]] = (),
    ) -> str:
        """The exposition text; ``phases`` gives (election uuid, phase) pairs,
        ``failed_schedules`` (election uuid, action, error code, failed attempts in a row)
        for each scheduled opening or closing whose last attempt failed (read from the
        database: the same for every worker)."""
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
            "# HELP viche_code_mails_failed_total One-time code mails the mail server "
            "refused or did not take (each logged, without the code or the address).",
            "# TYPE viche_code_mails_failed_total counter",
            f"viche_code_mails_failed_total {c.events[EVENTS.index('code_mail_failed')]}",
            "# HELP viche_code_requests_refused_total Code requests refused (503): the mail "
            "queue of the worker was full.",
            "# TYPE viche_code_requests_refused_total counter",
            f"viche_code_requests_refused_total {c.events[EVENTS.index('code_queue_full')]}",
            "# HELP viche_live_streams_refused_total Live event streams refused, by the "
            "limit reached (address: 429; server: 503).",
            "# TYPE viche_live_streams_refused_total counter",
            'viche_live_streams_refused_total{limit="address"} '
            f"{c.events[EVENTS.index('stream_refused_address')]}",
            'viche_live_streams_refused_total{limit="server"} '
            f"{c.events[EVENTS.index('stream_refused_server')]}",
            "# HELP viche_log_lines_dropped_total Log lines dropped: the worker's queue of "
            "lines was full (the log's reader did not keep up; each worker tells how many in "
            "a warning line once it has room again).",
            "# TYPE viche_log_lines_dropped_total counter",
            f"viche_log_lines_dropped_total {c.events[EVENTS.index('log_line_dropped')]}",
            "# HELP viche_election_phase The phase each election is in (1 for its phase).",
            "# TYPE viche_election_phase gauge",
        ]
        lines += [
            f'viche_election_phase{{election="{uuid}",phase="{phase}"}} 1'
            for uuid, phase in sorted(phases)
        ]
        lines += [
            "# HELP viche_schedule_failures Failed attempts in a row of a scheduled opening "
            "or closing (retried every minute; shown until one succeeds or the schedule "
            "changes).",
            "# TYPE viche_schedule_failures gauge",
        ]
        lines += [
            f'viche_schedule_failures{{election="{uuid}",action="{action}",code="{code}"}} {n}'
            for uuid, action, code, n in sorted(failed_schedules)
        ]
        return "\n".join(lines) + "\n"
