"""Synthetic detection results for the report, API and alert tests (no detection needed)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

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

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def posts_for(accounts: list[str], rounds: int, prefix: str, text: str) -> list[Post]:
    """Each account posts ``text`` once per round, seconds apart (a coordinated burst)."""
    out = []
    for r in range(rounds):
        for i, acc in enumerate(accounts):
            out.append(
                Post(
                    id=f"{prefix}{r}-{acc}",
                    author=acc,
                    created_at=T0 + timedelta(hours=r, seconds=7 * i),
                    text=f"{text} (round {r})",
                    outlet=f"{acc}.example" if i == 0 else "",
                    lang="en",
                )
            )
    return out


def campaign_from(cid: str, posts: list[Post], narrative_ids: tuple[str, ...] = ()) -> Campaign:
    """A campaign whose edges link consecutive accounts through their same-round posts."""
    accounts = sorted({p.author for p in posts})
    by_acc: dict[str, list[Post]] = {}
    for p in posts:
        by_acc.setdefault(p.author, []).append(p)
    edges = []
    for a, b in itertools.pairwise(accounts):
        pairs = tuple(
            PostPair(
                Behaviour.NEAR_DUPLICATE_TEXT, pa.id, pb.id, pa.created_at, pb.created_at, key="t1"
            )
            for pa, pb in zip(by_acc[a], by_acc[b], strict=True)
        )
        edges.append(
            Edge(
                a,
                b,
                weight=float(len(pairs)),
                expected=0.1,
                score=12.5,
                behaviours=(Behaviour.NEAR_DUPLICATE_TEXT,),
                evidence=pairs,
            )
        )
    narratives = tuple(
        Narrative(
            id=n,
            label=posts[0].text,
            post_ids=tuple(p.id for p in posts),
            languages=("en",),
            known_case="https://euvsdisinfo.eu/report/x/",
            known_case_similarity=0.71,
            known_case_title="The West rigged it",
        )
        for n in narrative_ids
    )
    return Campaign(
        id=cid,
        accounts=tuple(accounts),
        outlets=tuple(sorted({p.outlet for p in posts if p.outlet})),
        score=9.5,
        reasons=(f"{len(edges)} account pairs posted near-identical text within seconds",),
        first_seen=min(p.created_at for p in posts),
        last_seen=max(p.created_at for p in posts),
        edges=tuple(edges),
        narratives=narratives,
        representative_posts=(posts[0].id,),
    )


def result_of(campaigns: list[Campaign], extra_accounts: tuple[str, ...] = ()) -> DetectionResult:
    rows = [AccountScore(a, 0.9, True, c.id) for c in campaigns for a in c.accounts]
    rows += [AccountScore(a, 0.05, False, "") for a in extra_accounts]
    return DetectionResult(campaigns=tuple(campaigns), accounts=tuple(rows), posts_seen=100)
