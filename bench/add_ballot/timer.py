"""Time the in-process "add a ballot" call of one version of Viche (run by ``run.py`` in a
process whose PYTHONPATH names that version's ``src``).

``before``: ``viche.service.archive.add_ballot(directory, raw)`` (commit 6b2c092: every call
reads the whole archive). ``after``: ``viche.service.cast.cast_ballot(state, raw)`` on a
store opened once (what the voting server does).

Usage: python timer.py {before,after} DIR BALLOT_FILE...  — prints one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    mode, directory = sys.argv[1], Path(sys.argv[2])
    raws = [Path(p).read_bytes().rstrip(b"\n") for p in sys.argv[3:]]
    times: list[float] = []
    opened = 0.0
    if mode == "before":
        from viche.service.archive import add_ballot  # type: ignore[attr-defined]

        for raw in raws:
            t = time.perf_counter()
            add_ballot(directory, raw)
            times.append(time.perf_counter() - t)
    else:
        from viche.service.archive import open_record
        from viche.service.cast import cast_ballot

        t = time.perf_counter()
        with open_record(directory) as state:
            state.credentials  # noqa: B018 (parsed once, as a server does at start)
            opened = time.perf_counter() - t
            for raw in raws:
                t = time.perf_counter()
                cast_ballot(state, raw)
                times.append(time.perf_counter() - t)
    json.dump({"median": statistics.median(times), "times": times, "open": opened}, sys.stdout)


if __name__ == "__main__":
    main()
