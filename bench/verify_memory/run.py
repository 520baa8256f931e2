"""Peak memory and wall time of ``viche verify`` on one archive.

Runs ``viche verify --json ARCHIVE`` under ``/usr/bin/time -v`` (max RSS of the main
process) and samples, every 50 ms, the proportional set size (PSS, from
``/proc/<pid>/smaps_rollup``) of the whole process tree: the main process and its workers.
PSS splits the pages shared after ``fork`` between the processes, so the sum is the memory
the verification really occupies.

    .venv/bin/python bench/verify_memory/run.py bench/out/simple-2000 --jobs 2
    .venv/bin/python bench/verify_memory/run.py bench/out/simple-2000 --jobs 2 --in-memory

``--in-memory`` runs :func:`viche.verify.reference.verify_record_in_memory` (the whole
archive read first) instead, for comparison.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        for task in tasks:
            text = (task / "children").read_text()
            out += [int(x) for x in text.split()]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    m = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(m.group(1)) if m else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--viche", default=str(Path(sys.executable).parent / "viche"))
    ap.add_argument("--in-memory", action="store_true", help="the in-memory verifier")
    args = ap.parse_args()
    if args.in_memory:
        code = (
            "import json, sys\n"
            "from viche.verify.reference import verify_record_in_memory\n"
            "r = verify_record_in_memory(sys.argv[1], jobs=int(sys.argv[2]))\n"
            "print(json.dumps(r.to_json(), indent=2))\n"
        )
        cmd = ["/usr/bin/time", "-v", sys.executable, "-c", code, args.archive, str(args.jobs)]
    else:
        cmd = ["/usr/bin/time", "-v", args.viche, "verify", "--json", "-j", str(args.jobs)]
        cmd.append(args.archive)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        total = sum(_pss_kib(p) for p in _tree(proc.pid)[1:])  # skip /usr/bin/time
        peak = max(peak, total)
        time.sleep(0.05)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    ok = '"ok": true' in out
    mode = "in-memory" if args.in_memory else "streaming"
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"{mode}: {args.archive}   jobs: {args.jobs}   load: {load}   ok: {ok}")
    print(f"wall s: {wall:.2f}")
    user = re.search(r"User time \(seconds\): ([\d.]+)", err)
    system = re.search(r"System time \(seconds\): ([\d.]+)", err)
    if user and system:
        cpu = float(user.group(1)) + float(system.group(1))
        print(f"cpu s (user+system, main process and its workers): {cpu:.2f}")
    main_mib = int(rss.group(1)) / 1024 if rss else -1.0
    print(f"max RSS of the main process (time -v): {main_mib:.1f} MiB")
    print(f"peak PSS summed over the process tree: {peak / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
