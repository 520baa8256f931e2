"""Prometheus metrics of one server process (text exposition format, no dependency):
ballots accepted, ballots refused by error code, casting latency (a histogram).

With several worker processes each keeps its own counters; scrape each worker, or sum."""

from __future__ import annotations

import threading

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused: dict[str, int] = {}
        self._counts = [0] * len(BUCKETS)
        self._sum = 0.0
        self._n = 0

    def cast(self, seconds: float, refused_code: str | None = None) -> None:
        with self._lock:
            if refused_code is None:
                self.accepted += 1
            else:
                self.refused[refused_code] = self.refused.get(refused_code, 0) + 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self._counts[i] += 1
            self._sum += seconds
            self._n += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP viche_ballots_accepted_total Ballots accepted (durable, receipt sent).",
                "# TYPE viche_ballots_accepted_total counter",
                f"viche_ballots_accepted_total {self.accepted}",
                "# HELP viche_ballots_refused_total Ballots refused, by error code.",
                "# TYPE viche_ballots_refused_total counter",
            ]
            lines += [
                f'viche_ballots_refused_total{{code="{code}"}} {n}'
                for code, n in sorted(self.refused.items())
            ]
            lines += [
                "# HELP viche_cast_seconds Time to answer a ballot.",
                "# TYPE viche_cast_seconds histogram",
            ]
            lines += [
                f'viche_cast_seconds_bucket{{le="{bound}"}} {count}'
                for bound, count in zip(BUCKETS, self._counts, strict=True)
            ]
            lines += [
                f'viche_cast_seconds_bucket{{le="+Inf"}} {self._n}',
                f"viche_cast_seconds_sum {self._sum}",
                f"viche_cast_seconds_count {self._n}",
            ]
        return "\n".join(lines) + "\n"
