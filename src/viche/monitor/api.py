"""The monitor's results as pandas DataFrames, and their JSON form.

Each function takes a :class:`~viche.monitor.model.DetectionResult` (what ``detect``
returns, or what :func:`load_result` reads back) and returns one table::

    from viche.monitor import api
    result = api.load_result("store/")          # the last detection saved in a store
    api.campaigns(result)   # one row per campaign: score, reasons, accounts, narratives
    api.accounts(result)    # author_id, score, flagged (0/1), campaign, tier
    api.edges(result)       # one row per account pair, with its evidence summarised
    api.evidence(result)    # one row per pair of posts behind an edge, with times and lag
    api.narratives(result)  # one row per (campaign, narrative), with the known case matched

A store directory holds ``posts.sqlite`` (the posts, :mod:`viche.monitor.store`),
``results/latest.json`` (the last detection) and ``alerts.jsonl`` (see
:mod:`viche.monitor.alerts`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from viche.errors import Location, MissingFileError, MonitorError
from viche.monitor.model import (
    AccountScore,
    Behaviour,
    Campaign,
    DetectionResult,
    Edge,
    Narrative,
    Post,
    PostPair,
)

RESULT_FORMAT = "viche.monitor.result/1"


# -- store layout ---------------------------------------------------------------------------
def posts_path(store_dir: str | Path) -> Path:
    """The SQLite file of posts inside a store directory."""
    return Path(store_dir) / "posts.sqlite"


def result_path(store_dir: str | Path) -> Path:
    """The last detection result saved in a store directory."""
    return Path(store_dir) / "results" / "latest.json"


# -- JSON form ------------------------------------------------------------------------------
def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _pair_dict(p: PostPair) -> dict[str, Any]:
    return {
        "behaviour": p.behaviour.value,
        "post_a": p.post_a,
        "post_b": p.post_b,
        "time_a": p.time_a.isoformat(),
        "time_b": p.time_b.isoformat(),
        "key": p.key,
    }


def _edge_dict(e: Edge) -> dict[str, Any]:
    return {
        "account_a": e.account_a,
        "account_b": e.account_b,
        "weight": e.weight,
        "expected": e.expected,
        "score": e.score,
        "behaviours": [b.value for b in e.behaviours],
        "evidence": [_pair_dict(p) for p in e.evidence],
    }


def _narrative_dict(n: Narrative) -> dict[str, Any]:
    return {
        "id": n.id,
        "label": n.label,
        "post_ids": list(n.post_ids),
        "languages": list(n.languages),
        "known_case": n.known_case,
        "known_case_similarity": n.known_case_similarity,
        "known_case_title": n.known_case_title,
    }


def campaign_dict(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.id,
        "accounts": list(c.accounts),
        "outlets": list(c.outlets),
        "score": c.score,
        "reasons": list(c.reasons),
        "first_seen": _time(c.first_seen),
        "last_seen": _time(c.last_seen),
        "edges": [_edge_dict(e) for e in c.edges],
        "narratives": [_narrative_dict(n) for n in c.narratives],
        "representative_posts": list(c.representative_posts),
        "associated": list(c.associated),
        "associated_posts": [list(pp) for pp in c.associated_posts],
    }


def result_to_dict(result: DetectionResult) -> dict[str, Any]:
    """The whole result as JSON-ready values (times in ISO 8601 with their offset)."""
    return {
        "format": RESULT_FORMAT,
        "posts_seen": result.posts_seen,
        "stats": dict(result.stats),
        "campaigns": [campaign_dict(c) for c in result.campaigns],
        "accounts": [
            {
                "author_id": a.author_id,
                "score": a.score,
                "flagged": a.flagged,
                "campaign": a.campaign,
                "tier": a.tier,
            }
            for a in result.accounts
        ],
    }


def _parse_time(value: Any, where: Location) -> datetime:
    if not isinstance(value, str):
        raise MonitorError("a time must be an ISO 8601 string", where=where)
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MonitorError(f"bad time {value!r}", where=where) from exc
    if t.tzinfo is None:
        raise MonitorError(f"time without a timezone {value!r}", where=where)
    return t


def result_from_dict(
    data: Mapping[str, Any], *, where: Location = Location(path=("result",))
) -> DetectionResult:
    """Read back :func:`result_to_dict`; a wrong shape raises :class:`MonitorError`."""
    if data.get("format") != RESULT_FORMAT:
        raise MonitorError(f"not a {RESULT_FORMAT} document", where=where)
    try:
        campaigns = []
        for ci, c in enumerate(data["campaigns"]):
            cw = where.sub(f"campaign {ci}")
            edges = []
            for ei, e in enumerate(c["edges"]):
                ew = cw.sub(f"edge {ei}")
                pairs = tuple(
                    PostPair(
                        behaviour=Behaviour(p["behaviour"]),
                        post_a=str(p["post_a"]),
                        post_b=str(p["post_b"]),
                        time_a=_parse_time(p["time_a"], ew.sub(f"evidence {pi}")),
                        time_b=_parse_time(p["time_b"], ew.sub(f"evidence {pi}")),
                        key=str(p.get("key", "")),
                    )
                    for pi, p in enumerate(e["evidence"])
                )
                edges.append(
                    Edge(
                        account_a=str(e["account_a"]),
                        account_b=str(e["account_b"]),
                        weight=float(e["weight"]),
                        expected=float(e["expected"]),
                        score=float(e["score"]),
                        behaviours=tuple(Behaviour(b) for b in e["behaviours"]),
                        evidence=pairs,
                    )
                )
            narratives = tuple(
                Narrative(
                    id=str(n["id"]),
                    label=str(n["label"]),
                    post_ids=tuple(str(x) for x in n["post_ids"]),
                    languages=tuple(str(x) for x in n["languages"]),
                    known_case=str(n["known_case"]),
                    known_case_similarity=float(n["known_case_similarity"]),
                    known_case_title=str(n.get("known_case_title", "")),
                )
                for n in c["narratives"]
            )
            first, last = c.get("first_seen"), c.get("last_seen")
            campaigns.append(
                Campaign(
                    id=str(c["id"]),
                    accounts=tuple(str(x) for x in c["accounts"]),
                    outlets=tuple(str(x) for x in c["outlets"]),
                    score=float(c["score"]),
                    reasons=tuple(str(x) for x in c["reasons"]),
                    first_seen=None if first is None else _parse_time(first, cw),
                    last_seen=None if last is None else _parse_time(last, cw),
                    edges=tuple(edges),
                    narratives=narratives,
                    representative_posts=tuple(str(x) for x in c["representative_posts"]),
                    associated=tuple(str(x) for x in c.get("associated", ())),
                    associated_posts=tuple(
                        (str(a), str(p)) for a, p in c.get("associated_posts", ())
                    ),
                )
            )
        accounts = tuple(
            AccountScore(
                author_id=str(a["author_id"]),
                score=float(a["score"]),
                flagged=bool(a["flagged"]),
                campaign=str(a["campaign"]),
                # results saved before the associated tier: a flag meant coordinated
                tier=str(a.get("tier", "coordinated" if a["flagged"] else "")),
            )
            for a in data["accounts"]
        )
        stats = {str(k): float(v) for k, v in dict(data.get("stats", {})).items()}
        return DetectionResult(
            campaigns=tuple(campaigns),
            accounts=accounts,
            posts_seen=int(data.get("posts_seen", 0)),
            stats=stats,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MonitorError(f"malformed result: {exc!r}", where=where) from exc


def save_result(store_dir: str | Path, result: DetectionResult) -> Path:
    """Write ``results/latest.json`` atomically; returns its path."""
    path = result_path(store_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result_to_dict(result), ensure_ascii=False, indent=1), "utf-8")
    os.replace(tmp, path)
    return path


def load_result(store_dir: str | Path) -> DetectionResult:
    """The last detection saved in ``store_dir`` (run ``viche monitor detect`` first)."""
    path = result_path(store_dir)
    if not path.is_file():
        raise MissingFileError(
            "no detection result in this store: run `viche monitor detect` first",
            where=Location(file=str(path)),
        )
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MonitorError(
            f"cannot read the detection result: {exc}", where=Location(file=str(path))
        ) from exc
    if not isinstance(data, dict):
        raise MonitorError(
            "the detection result is not a JSON object", where=Location(file=str(path))
        )
    return result_from_dict(data, where=Location(file=str(path)))


# -- tables -----------------------------------------------------------------------------------
CAMPAIGN_COLUMNS = [
    "campaign", "score", "n_accounts", "accounts", "outlets", "first_seen", "last_seen",
    "n_edges", "n_evidence", "narratives", "known_cases", "reasons", "representative_posts",
]  # fmt: skip
ACCOUNT_COLUMNS = ["author_id", "score", "flagged", "campaign", "tier"]
EDGE_COLUMNS = [
    "campaign", "account_a", "account_b", "weight", "expected", "score", "behaviours",
    "n_evidence", "evidence",
]  # fmt: skip
EVIDENCE_COLUMNS = [
    "campaign", "account_a", "account_b", "behaviour", "post_a", "time_a", "post_b", "time_b",
    "lag_seconds", "key",
]  # fmt: skip
NARRATIVE_COLUMNS = [
    "campaign", "narrative", "label", "n_posts", "languages", "known_case",
    "known_case_similarity", "known_case_title",
]  # fmt: skip
POST_COLUMNS = [
    "post_id", "author", "created_at", "outlet", "lang", "campaign", "narratives", "text",
]  # fmt: skip


def campaigns(result: DetectionResult) -> pd.DataFrame:
    """One row per campaign, highest score first."""
    rows = [
        {
            "campaign": c.id,
            "score": c.score,
            "n_accounts": len(c.accounts),
            "accounts": " ".join(c.accounts),
            "outlets": " ".join(c.outlets),
            "first_seen": _time(c.first_seen) or "",
            "last_seen": _time(c.last_seen) or "",
            "n_edges": len(c.edges),
            "n_evidence": sum(len(e.evidence) for e in c.edges),
            "narratives": " ".join(n.id for n in c.narratives),
            "known_cases": " ".join(n.known_case for n in c.narratives if n.known_case),
            "reasons": "; ".join(c.reasons),
            "representative_posts": " ".join(c.representative_posts),
        }
        for c in result.campaigns
    ]
    frame = pd.DataFrame(rows, columns=CAMPAIGN_COLUMNS)
    return frame.sort_values(["score", "campaign"], ascending=[False, True], ignore_index=True)


def accounts(result: DetectionResult) -> pd.DataFrame:
    """``author_id, score, flagged (0/1), campaign, tier`` (campaign and tier empty when in
    no campaign; tier ``coordinated`` or ``associated``)."""
    rows = [
        {
            "author_id": a.author_id,
            "score": a.score,
            "flagged": int(a.flagged),
            "campaign": a.campaign,
            "tier": a.tier,
        }
        for a in result.accounts
    ]
    return pd.DataFrame(rows, columns=ACCOUNT_COLUMNS)


def _evidence_text(e: Edge) -> str:
    return "; ".join(
        f"{p.behaviour.value}: {p.post_a}@{p.time_a.isoformat()}"
        f" ~ {p.post_b}@{p.time_b.isoformat()}"
        for p in e.evidence
    )


def edges(result: DetectionResult) -> pd.DataFrame:
    """One row per edge of every campaign; ``evidence`` lists the pairs of posts and times."""
    rows = [
        {
            "campaign": c.id,
            "account_a": e.account_a,
            "account_b": e.account_b,
            "weight": e.weight,
            "expected": e.expected,
            "score": e.score,
            "behaviours": " ".join(b.value for b in e.behaviours),
            "n_evidence": len(e.evidence),
            "evidence": _evidence_text(e),
        }
        for c in result.campaigns
        for e in c.edges
    ]
    return pd.DataFrame(rows, columns=EDGE_COLUMNS)


def evidence(result: DetectionResult) -> pd.DataFrame:
    """One row per pair of posts behind an edge, with both times and the lag in seconds."""
    rows = [
        {
            "campaign": c.id,
            "account_a": e.account_a,
            "account_b": e.account_b,
            "behaviour": p.behaviour.value,
            "post_a": p.post_a,
            "time_a": p.time_a.isoformat(),
            "post_b": p.post_b,
            "time_b": p.time_b.isoformat(),
            "lag_seconds": abs((p.time_b - p.time_a).total_seconds()),
            "key": p.key,
        }
        for c in result.campaigns
        for e in c.edges
        for p in e.evidence
    ]
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)


def narratives(result: DetectionResult) -> pd.DataFrame:
    """One row per (campaign, narrative)."""
    rows = [
        {
            "campaign": c.id,
            "narrative": n.id,
            "label": n.label,
            "n_posts": len(n.post_ids),
            "languages": " ".join(n.languages),
            "known_case": n.known_case,
            "known_case_similarity": n.known_case_similarity,
            "known_case_title": n.known_case_title,
        }
        for c in result.campaigns
        for n in c.narratives
    ]
    return pd.DataFrame(rows, columns=NARRATIVE_COLUMNS)


def campaign_post_ids(campaign: Campaign) -> list[str]:
    """Every post a campaign's report cites: evidence, representatives, narratives, the
    posts of its associated accounts that carry its items."""
    ids: dict[str, None] = dict.fromkeys(campaign.representative_posts)
    ids.update(dict.fromkeys(p for _, p in campaign.associated_posts))
    for e in campaign.edges:
        for p in e.evidence:
            ids[p.post_a] = None
            ids[p.post_b] = None
    for n in campaign.narratives:
        ids.update(dict.fromkeys(n.post_ids))
    return list(ids)


def posts(result: DetectionResult, by_id: Mapping[str, Post]) -> pd.DataFrame:
    """The posts cited by the campaigns (one row per post and campaign), oldest first."""
    rows = []
    for c in result.campaigns:
        member = set(c.accounts)
        for pid in campaign_post_ids(c):
            post = by_id.get(pid)
            if post is None or post.author not in member:
                continue
            rows.append(
                {
                    "post_id": post.id,
                    "author": post.author,
                    "created_at": post.created_at.isoformat(),
                    "outlet": post.outlet,
                    "lang": post.lang,
                    "campaign": c.id,
                    "narratives": " ".join(n.id for n in c.narratives if pid in n.post_ids),
                    "text": post.text,
                }
            )
    frame = pd.DataFrame(rows, columns=POST_COLUMNS)
    return frame.sort_values(["campaign", "created_at", "post_id"], ignore_index=True)
