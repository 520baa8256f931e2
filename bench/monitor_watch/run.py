"""Throughput of ``viche monitor watch``: ingest, document-push tracking, one detection.

    python bench/monitor_watch/run.py [--posts 100000] [--files 10]

Writes ``--files`` JSON Lines files of synthetic posts (accounts posting links; every 1,000th
post starts a push: the same link by 6 accounts within 5 minutes) into an inbox, runs one
watch cycle over them (ingest, push tracking, and one detection over the 48-hour window,
which finds the six pushing accounts as a campaign), and prints posts/s and the alerts.
The time from a file landing to its alerts is the cycle time of that file (printed too).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from viche.monitor.watch import ListSink, WatchConfig, Watcher


def write_inbox(inbox: Path, posts: int, files: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    t0 = datetime(2024, 11, 1, tzinfo=UTC)
    pushes = 0
    per_file = posts // files
    n = 0
    for f in range(files):
        with (inbox / f"part{f:03d}.jsonl").open("w", encoding="utf-8") as fh:
            for _ in range(per_file):
                when = t0 + timedelta(seconds=n * 2)
                if n % 1000 == 0:
                    pushes += 1
                    for k in range(6):
                        rec = {
                            "id": f"p{n}-{k}",
                            "author": f"push{k}",
                            "created_at": (when + timedelta(minutes=k)).isoformat(),
                            "text": "leaked order",
                            "urls": [f"https://leak.test/{n}"],
                        }
                        fh.write(json.dumps(rec) + "\n")
                rec = {
                    "id": f"p{n}",
                    "author": f"acc{rng.randrange(5000)}",
                    "created_at": when.isoformat(),
                    "text": f"post {n}",
                    "urls": [f"https://news.test/{rng.randrange(50_000)}"],
                }
                fh.write(json.dumps(rec) + "\n")
                n += 1
    return pushes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "inbox"
        inbox.mkdir()
        pushes = write_inbox(inbox, args.posts, args.files)
        sink = ListSink()
        watcher = Watcher(Path(tmp) / "store", WatchConfig(inbox=inbox, detect_every=1e9), [sink])
        try:
            start = time.perf_counter()
            report = watcher.cycle()
            elapsed = time.perf_counter() - start
        finally:
            watcher.close()
    rate = report.posts_added / elapsed
    print(
        f"{report.posts_added} posts in {report.files} files: {elapsed:.1f} s, {rate:,.0f} posts/s"
    )
    kinds: dict[str, int] = {}
    for a in sink.alerts:
        kinds[a.kind.value] = kinds.get(a.kind.value, 0) + 1
    print(
        f"alerts {kinds} ({pushes} pushes planted, detection ran {int(report.detected)} time); "
        f"one file ({args.posts // args.files:,} posts) takes {elapsed / args.files:.1f} s "
        "from landing to its alerts"
    )


if __name__ == "__main__":
    main()
