"""Throughput of the public record: appending ballots, reading and checking archives.

Usage: .venv/bin/python bench/bench_record.py [--ballots N] [--peer-ballots M]

* Viche ``ArchiveWriter.append`` (one fsync per ballot) and ``append_many`` (batches of 1000)
  versus ``belenios-tool archive add-event`` (one process per ballot, as the tool is used);
* ``read_archive`` (everything in memory) and ``ArchiveStream`` (one event at a time) on an
  archive of N ballots, in MB/s and ballots/s, with the process's peak RSS;
* Python's ``tarfile`` listing the same archive, as a baseline for a plain tar reader that
  checks neither hashes nor the chain.

Ballots are copies of the reference ballots with one digit varied so every hash differs:
their proofs are not valid, which does not matter here (the record layer does not check them).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from viche.record import ArchiveStream, ArchiveWriter, EventType, read_archive

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("VICHE_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "peers" / "belenios" / "reference" / "simple-plain-BELENIOS"


def ballots(n: int, base: list[bytes]) -> list[bytes]:
    out = []
    for i in range(n):
        b = base[i % len(base)]
        # vary the election_uuid-independent signature hash text so each ballot is unique
        out.append(b.replace(b'"hash":"', b'"hash":"%d' % i, 1))
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ballots", type=int, default=20000)
    ap.add_argument("--peer-ballots", type=int, default=100)
    args = ap.parse_args()

    ref = read_archive(REFERENCE)
    base = [b.raw for b in ref.ballots]
    uuid = json.loads(ref.election)["uuid"]
    tool = shutil.which("belenios-tool")
    work = Path(tempfile.mkdtemp(prefix="viche-bench-record-"))
    try:
        # --- appends, one ballot at a time: Viche vs belenios-tool
        m = args.peer_ballots
        sample = ballots(m, base)
        ours = work / "ours" / f"{uuid}.bel"
        ours.parent.mkdir()
        w = ArchiveWriter.create(
            ours, ref.timestamp, ref.election, ref.trustees, ref.public_credentials
        )
        t = time.perf_counter()
        for b in sample:
            w.append(EventType.BALLOT, [b])
        t_ours = time.perf_counter() - t
        print(f"append (fsync each)      : {m / t_ours:10.0f} ballots/s  ({m} ballots)")
        if tool:
            peer = work / "peer" / f"{uuid}.bel"
            peer.parent.mkdir()
            ArchiveWriter.create(
                peer, ref.timestamp, ref.election, ref.trustees, ref.public_credentials
            )
            t = time.perf_counter()
            for b in sample:
                subprocess.run(
                    [tool, "archive", "add-event", "--dir", str(peer.parent), "--type=Ballot"],
                    input=b + b"\n",
                    check=True,
                )
            t_peer = time.perf_counter() - t
            same = peer.read_bytes() == ours.read_bytes()
            print(
                f"belenios-tool add-event  : {m / t_peer:10.0f} ballots/s  "
                f"(ratio viche/peer = {t_peer / t_ours:.1f}x faster; identical bytes: {same})"
            )

        # --- bulk archive of N ballots
        n = args.ballots
        big = work / "big.bel"
        w = ArchiveWriter.create(
            big, ref.timestamp, ref.election, ref.trustees, ref.public_credentials
        )
        all_ballots = ballots(n, base)
        t = time.perf_counter()
        for i in range(0, n, 1000):
            w.append_many([(EventType.BALLOT, [b]) for b in all_ballots[i : i + 1000]])
        t_bulk = time.perf_counter() - t
        size_mb = big.stat().st_size / 1e6
        del all_ballots
        print(
            f"append_many (1000/batch) : {n / t_bulk:10.0f} ballots/s  "
            f"({size_mb / t_bulk:.0f} MB/s, archive {size_mb:.1f} MB)"
        )

        t = time.perf_counter()
        with tarfile.open(big, mode="r:") as tf:
            count = sum(1 for _ in tf)
        t_tar = time.perf_counter() - t
        print(f"tarfile listing (no hash): {size_mb / t_tar:10.0f} MB/s  ({count} members)")

        rss0 = peak_rss_mb()
        t = time.perf_counter()
        with ArchiveStream(big) as stream:
            events = sum(1 for _ in stream)
        t_stream = time.perf_counter() - t
        print(
            f"ArchiveStream (checked)  : {size_mb / t_stream:10.0f} MB/s  "
            f"{n / t_stream:8.0f} ballots/s  ({events} events; tarfile/stream time ratio "
            f"{t_tar / t_stream:.2f})"
        )
        t = time.perf_counter()
        record = read_archive(big)
        t_read = time.perf_counter() - t
        print(
            f"read_archive (checked)   : {size_mb / t_read:10.0f} MB/s  "
            f"{n / t_read:8.0f} ballots/s  (peak RSS {rss0:.0f} MB -> {peak_rss_mb():.0f} MB)"
        )
        assert len(record.ballots) == n
        t = time.perf_counter()
        ArchiveWriter.open(big)
        print(f"ArchiveWriter.open       : {time.perf_counter() - t:10.2f} s")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
