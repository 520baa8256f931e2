"""The long schemathesis campaign against the served API (the bounded version runs in the
test suite: tests/web/test_web_schemathesis.py; the rules are tests/support/api_fuzz.py):
every operation of the OpenAPI document, valid and schema-breaking requests, in process
(ASGI) on a served demo election. No answer may be a 5xx, every refusal has a typed error
body, and nothing refused changes the board.

    .venv/bin/python bench/schemathesis_api/run.py 500
    .venv/bin/python bench/schemathesis_api/run.py 200 --seed 7 \
        --database postgresql://postgres@127.0.0.1:5432/test_records

Prints the requests per operation, the statuses seen and the requests per second; on a
broken rule, the failing request (shrunk by Hypothesis, with a curl line) and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # tests/support: the served election, the rules

from support.api_fuzz import fuzz_api  # noqa: E402
from support.web import serve_prepared  # noqa: E402
from viche.crypto.rng import SeededRandom  # noqa: E402
from viche.service.admin import ensure_server_admin  # noqa: E402
from viche.service.served_demo import prepare_demo  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", type=int, help="examples per operation")
    parser.add_argument("--seed", type=int, default=0, help="0: derandomized (repeatable)")
    parser.add_argument("--database", help="a board URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as tmp:
        work = Path(tmp)
        demo = prepare_demo(work / "files", SeededRandom("schemathesis-bench"), 4)
        url = args.database or f"sqlite:///{work / 'board.sqlite'}"
        with serve_prepared(url, work / "keys", demo, work / "files" / "voters") as served:
            ensure_server_admin(served.host.board, work / "admin.secret")
            secret = (work / "admin.secret").read_text().strip()
            t0 = time.perf_counter()
            try:
                stats = fuzz_api(served, secret, args.examples, args.seed)
            except AssertionError as exc:
                print(f"BROKEN RULE: {exc}")
                return 1
            seconds = time.perf_counter() - t0
    for label, n in sorted(stats.requests.items()):
        print(f"{n:6d}  {label}")
    print("statuses:", dict(sorted(stats.statuses.items())))
    print(f"{stats.total} requests in {seconds:.1f} s ({stats.total / seconds:.0f}/s), no 5xx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
