"""Count a store's alerts by kind, and what they name (narratives, evidence post ids).

    python bench/monitor_eval/alert_counts.py STORE [STORE ...]
    python bench/monitor_eval/alert_counts.py --recompare STORE   # the alerts that this tree's
        # viche.monitor.alerts.compare raises for the store's saved result as a first detection

Run it from a tree with PYTHONPATH=src: with ``--recompare`` the figures are those of that
tree's code (so the same saved result can be read by the tree before and after a change).
Without it, it reads ``alerts.jsonl`` as JSON (any version of the schema).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any


def summary(alerts: list[dict[str, Any]]) -> str:
    kinds = Counter(str(a.get("kind")) for a in alerts)
    narratives: set[str] = set()
    evidence: set[str] = set()
    for a in alerts:
        evidence.update(a.get("evidence") or ())
        if a.get("narrative"):
            narratives.add(a["narrative"])
        for n in a.get("narratives") or ():
            narratives.add(n["id"])
            evidence.update(n.get("evidence") or ())
    size = sum(len(json.dumps(a, ensure_ascii=False)) + 1 for a in alerts)
    by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return (
        f"{len(alerts)} alerts ({by_kind}); {len(narratives)} distinct narratives named, "
        f"{len(evidence)} distinct evidence post ids; {size:,} bytes of JSON Lines"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stores", nargs="+", type=Path)
    ap.add_argument("--recompare", action="store_true")
    args = ap.parse_args()
    for store in args.stores:
        if args.recompare:
            from viche.monitor import api
            from viche.monitor.alerts import compare

            alerts = [a.to_dict() for a in compare(None, api.load_result(store))]
        else:
            path = store / "alerts.jsonl"
            alerts = [json.loads(x) for x in path.read_text("utf-8").split("\n") if x.strip()]
        print(f"{store}: {summary(alerts)}")


if __name__ == "__main__":
    main()
