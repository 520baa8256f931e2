"""Alerts: what changed between two detections of the same store.

After new posts are appended to a store, detection runs again over all of it and
:func:`record` compares the new campaigns with the ones saved by the previous run:

* ``new_campaign``: a campaign that shares no substantial part of its accounts with any
  earlier campaign. Its narratives belong to this one alert (``narratives``: each with its
  post count, label, known case, the campaigns that push it and its evidence posts; the
  message names the largest three), not one alert each: a new campaign's narratives are
  new by definition, and on a first detection they were 98 % of the alerts;
* ``campaign_grown``: an earlier campaign (matched by its accounts) that has new accounts;
* ``new_narrative``: a narrative that overlaps no earlier narrative, pushed by at least one
  campaign that was already known (that is news: a known network took up a new story). One
  alert per narrative, naming in ``campaigns`` every campaign that pushes it (a narrative
  pushed only by new campaigns is in their ``new_campaign`` alerts);
* ``narrative_resurfaced`` and ``document_push`` are raised by ``viche monitor watch``
  (:mod:`viche.monitor.watch`): a known narrative seen again after a quiet spell, and the
  same file or link pushed by many accounts within minutes.

Every alert carries its evidence: ``evidence`` holds the ids of the posts behind it (the
campaign's representative posts and evidence pairs, the narrative's posts, the pushes of
the document) and ``key`` the shared object (a link or ``file:sha256:...``) where there is one.

Campaign and narrative ids may change from one run to the next (they are derived from
their members), so matching is by members: two campaigns are the same when their account
sets overlap by at least :data:`SAME_OVERLAP` of the smaller one (overlap coefficient), and
likewise narratives by their posts. Alerts are appended to ``alerts.jsonl`` in the store
directory and the new result replaces ``results/latest.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from viche.errors import Location, MonitorError
from viche.monitor import api
from viche.monitor.model import Campaign, DetectionResult, Narrative

SAME_OVERLAP = 0.5
#: narratives named in a ``new_campaign`` alert's message (all are in its ``narratives``)
MESSAGE_NARRATIVES = 3
#: characters of a narrative's label in a message (the whole label is in ``narratives``)
MESSAGE_LABEL_CHARS = 80


class AlertKind(StrEnum):
    NEW_CAMPAIGN = "new_campaign"
    CAMPAIGN_GROWN = "campaign_grown"
    NEW_NARRATIVE = "new_narrative"
    NARRATIVE_RESURFACED = "narrative_resurfaced"
    DOCUMENT_PUSH = "document_push"


def _strs(value: object) -> tuple[str, ...]:
    """A JSON list of strings as a tuple (TypeError for anything else: a string would
    otherwise be read as its characters)."""
    return tuple(str(v) for v in _items(value))


def _items(value: object) -> list[object] | tuple[object, ...]:
    """A JSON list (None: empty); TypeError for anything else."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class NarrativeBrief:
    """One narrative inside an alert: how many posts, what it says, who pushes it."""

    id: str
    posts: int
    label: str
    known_case: str = ""
    campaigns: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()

    @classmethod
    def of(cls, n: Narrative, campaigns: Sequence[str]) -> NarrativeBrief:
        return cls(
            n.id,
            len(n.post_ids),
            n.label,
            n.known_case,
            tuple(campaigns),
            n.post_ids[:EVIDENCE_POSTS],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "posts": self.posts,
            "label": self.label,
            "known_case": self.known_case,
            "campaigns": list(self.campaigns),
            "evidence": list(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: object) -> NarrativeBrief:
        if not isinstance(data, dict):
            raise TypeError("a narrative of an alert is not an object")
        posts = data.get("posts", 0)
        if not isinstance(posts, int) or isinstance(posts, bool) or posts < 0:
            raise ValueError(f"a narrative's post count is not a count: {posts!r}")
        return cls(
            str(data["id"]),
            posts,
            str(data.get("label", "")),
            str(data.get("known_case", "")),
            _strs(data.get("campaigns", [])),
            _strs(data.get("evidence", [])),
        )


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    campaign: str
    message: str
    at: datetime
    accounts_added: tuple[str, ...] = ()
    narrative: str = ""
    previous_campaign: str = ""
    evidence: tuple[str, ...] = ()
    key: str = ""
    #: narrative alerts: every campaign that pushes the narrative (``campaign`` is the
    #: first of them); empty for the other kinds (``campaign`` names the one)
    campaigns: tuple[str, ...] = ()
    #: the narratives folded into the alert (a new campaign's), largest first
    narratives: tuple[NarrativeBrief, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "campaign": self.campaign,
            "message": self.message,
            "at": self.at.isoformat(),
            "accounts_added": list(self.accounts_added),
            "narrative": self.narrative,
            "previous_campaign": self.previous_campaign,
            "evidence": list(self.evidence),
            "key": self.key,
            "campaigns": list(self.campaigns),
            "narratives": [n.to_dict() for n in self.narratives],
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, where: Location = Location(path=("alert",))
    ) -> Alert:
        try:
            at = datetime.fromisoformat(str(data["at"]))
            return cls(
                kind=AlertKind(data["kind"]),
                campaign=str(data["campaign"]),
                message=str(data["message"]),
                at=at,
                accounts_added=_strs(data.get("accounts_added", [])),
                narrative=str(data.get("narrative", "")),
                previous_campaign=str(data.get("previous_campaign", "")),
                evidence=_strs(data.get("evidence", [])),
                key=str(data.get("key", "")),
                campaigns=_strs(data.get("campaigns", [])),
                narratives=tuple(
                    NarrativeBrief.from_dict(n) for n in _items(data.get("narratives"))
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MonitorError(f"malformed alert: {exc!r}", where=where) from exc


def overlap(a: Iterable[str], b: Iterable[str]) -> float:
    """|A ∩ B| / min(|A|, |B|), 0 when either is empty."""
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))


def match_campaigns(
    previous: Sequence[Campaign], current: Sequence[Campaign], *, min_overlap: float = SAME_OVERLAP
) -> dict[str, str]:
    """current id -> previous id, one to one, best overlaps first."""
    scored = sorted(
        (
            (overlap(c.accounts, p.accounts), c.id, p.id)
            for c in current
            for p in previous
            if overlap(c.accounts, p.accounts) >= min_overlap
        ),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    out: dict[str, str] = {}
    taken: set[str] = set()
    for _, cid, pid in scored:
        if cid not in out and pid not in taken:
            out[cid] = pid
            taken.add(pid)
    return out


EVIDENCE_POSTS = 20


def campaign_evidence(c: Campaign, limit: int = EVIDENCE_POSTS) -> tuple[str, ...]:
    """Post ids that show a campaign: its representative posts, then its evidence pairs."""
    ids: dict[str, None] = dict.fromkeys(c.representative_posts)
    for e in c.edges:
        for pair in e.evidence:
            ids[pair.post_a] = None
            ids[pair.post_b] = None
    return tuple(ids)[:limit]


def _short(label: str, limit: int = MESSAGE_LABEL_CHARS) -> str:
    flat = " ".join(label.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _narratives_text(briefs: Sequence[NarrativeBrief], campaign: str) -> str:
    """``; 40 narratives (85 posts), top: "label" (9 posts), ...`` for the message of
    ``campaign``'s alert (the other campaigns that push a narrative are named)."""
    if not briefs:
        return ""
    parts = []
    for b in briefs[:MESSAGE_NARRATIVES]:
        others = [c for c in b.campaigns if c != campaign]
        parts.append(
            f'"{_short(b.label)}" ({b.posts} posts'
            + (", known case" if b.known_case else "")
            + (f", also in {campaign_list(others, 3)}" if others else "")
            + ")"
        )
    more = " …" if len(briefs) > MESSAGE_NARRATIVES else ""
    total = sum(b.posts for b in briefs)
    noun = "narrative" if len(briefs) == 1 else "narratives"
    return f"; {len(briefs)} {noun} ({total} posts), top: {', '.join(parts)}{more}"


def campaign_list(ids: Sequence[str], limit: int = 5) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def pushed_in(ids: Sequence[str]) -> str:
    """Where a narrative is pushed, for a message: ``campaign C003`` or ``2 campaigns (C002,
    C005)``."""
    if len(ids) == 1:
        return f"campaign {ids[0]}"
    return f"{len(ids)} campaigns ({campaign_list(ids)})"


def compare(
    previous: DetectionResult | None, current: DetectionResult, *, at: datetime | None = None
) -> tuple[Alert, ...]:
    """The alerts raised by ``current`` against ``previous`` (None: the first run).

    A new campaign's narratives are folded into its ``new_campaign`` alert; a narrative new
    to the store raises its own ``new_narrative`` alert only when a known campaign pushes
    it, once, after the alert of the first known campaign that pushes it, naming all.
    """
    when = at or datetime.now(UTC)
    before = previous.campaigns if previous is not None else ()
    by_id = {p.id: p for p in before}
    matched = match_campaigns(before, current.campaigns)
    old_narratives = [n.post_ids for p in before for n in p.narratives]
    old_narrative_ids = {n.id for p in before for n in p.narratives}
    carriers: dict[str, list[str]] = {}  # narrative id -> campaigns pushing it, in order
    fresh: set[str] = set()  # narratives new to the store
    for c in current.campaigns:
        for n in c.narratives:
            if n.id in carriers:
                carriers[n.id].append(c.id)
                continue
            carriers[n.id] = [c.id]
            if n.id not in old_narrative_ids and not any(
                overlap(n.post_ids, old) >= SAME_OVERLAP for old in old_narratives
            ):
                fresh.add(n.id)
    # the known campaign whose alert a new narrative follows: the first that pushes it
    owner = {
        nid: next((cid for cid in carriers[nid] if cid in matched), "") for nid in sorted(fresh)
    }
    alerts: list[Alert] = []
    for c in current.campaigns:
        pid = matched.get(c.id)
        if pid is None:
            briefs = tuple(NarrativeBrief.of(n, carriers[n.id]) for n in c.narratives)
            alerts.append(
                Alert(
                    AlertKind.NEW_CAMPAIGN,
                    c.id,
                    f"new campaign {c.id}: {len(c.accounts)} accounts, score {c.score:.2f}"
                    + _narratives_text(briefs, c.id),
                    when,
                    accounts_added=c.accounts,
                    evidence=campaign_evidence(c),
                    narratives=briefs,
                )
            )
            continue
        added = tuple(a for a in c.accounts if a not in set(by_id[pid].accounts))
        if added:
            alerts.append(
                Alert(
                    AlertKind.CAMPAIGN_GROWN,
                    c.id,
                    f"campaign {c.id} (was {pid}) grew by {len(added)} accounts to "
                    f"{len(c.accounts)}: {', '.join(added[:10])}"
                    + (" …" if len(added) > 10 else ""),
                    when,
                    accounts_added=added,
                    previous_campaign=pid,
                    evidence=campaign_evidence(c),
                )
            )
        for n in c.narratives:
            if owner.get(n.id) != c.id:
                continue
            pushers = carriers[n.id]
            where = pushed_in(pushers)
            alerts.append(
                Alert(
                    AlertKind.NEW_NARRATIVE,
                    c.id,
                    f"new narrative {n.id} in {where} ({len(n.post_ids)} posts): {n.label}",
                    when,
                    narrative=n.id,
                    previous_campaign=pid,
                    evidence=n.post_ids[:EVIDENCE_POSTS],
                    key=n.known_case,
                    campaigns=tuple(pushers),
                    narratives=(NarrativeBrief.of(n, pushers),),
                )
            )
    return tuple(alerts)


def count_by_kind(alerts: Iterable[Alert]) -> dict[AlertKind, int]:
    """How many alerts of each kind, in the order of :class:`AlertKind` (kinds with none
    left out)."""
    counts = dict.fromkeys(AlertKind, 0)
    for a in alerts:
        counts[a.kind] += 1
    return {k: n for k, n in counts.items() if n}


def alerts_path(store_dir: str | Path) -> Path:
    return Path(store_dir) / "alerts.jsonl"


def record(
    store_dir: str | Path, result: DetectionResult, *, at: datetime | None = None
) -> tuple[Alert, ...]:
    """Compare ``result`` with the store's last one, save it, append and return the alerts."""
    previous = api.load_result(store_dir) if api.result_path(store_dir).is_file() else None
    alerts = compare(previous, result, at=at)
    path = alerts_path(store_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for a in alerts:
            f.write(json.dumps(a.to_dict(), ensure_ascii=False) + "\n")
    api.save_result(store_dir, result)
    return alerts


def load_alerts(store_dir: str | Path) -> tuple[Alert, ...]:
    """Every alert recorded in the store, oldest first."""
    path = alerts_path(store_dir)
    if not path.is_file():
        return ()
    out = []
    # lines end in "\n" only: str.splitlines() would also cut at U+0085 or U+2028, which
    # json.dumps(ensure_ascii=False) leaves in a string from outside (an account's name)
    for line_no, line in enumerate(path.read_text("utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        where = Location(file=str(path), line=line_no)
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MonitorError(f"bad JSON: {exc}", where=where) from exc
        if not isinstance(data, dict):
            raise MonitorError("an alert is not a JSON object", where=where)
        out.append(Alert.from_dict(data, where=where))
    return tuple(out)
