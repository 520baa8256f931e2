"""The monitor's data model, shared by ingest, detection and reporting.

Kept deliberately small and stable: detectors produce :class:`Edge` evidence between
accounts, grouping produces :class:`Campaign` values, reports read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


def utc_from_unix(seconds: float) -> datetime:
    """Unix seconds as an aware UTC datetime; ``ValueError`` (never ``OverflowError`` or
    ``OSError``) for a number no date has: NaN, infinite, beyond the years 1 to 9999."""
    try:
        return datetime.fromtimestamp(float(seconds), tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        shown = str(seconds)
        raise ValueError(
            f"timestamp {shown[:30]}{'…' if len(shown) > 30 else ''} is out of range"
        ) from exc


def as_utc(dt: datetime) -> datetime:
    """``dt`` in UTC (a naive one is taken as UTC); ``ValueError`` when the conversion
    leaves the years 1 to 9999 (``0001-01-01T00:00:00+05:00``)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"date {dt.isoformat()} is out of range in UTC") from exc


@dataclass(frozen=True, slots=True)
class Post:
    """One post or article in the documented input schema (see ``viche.monitor.ingest``).

    ``created_at`` is timezone-aware UTC. ``urls`` and ``hashtags`` are as given (the
    detectors normalise them). ``repost_of`` is the id or author of the reposted item,
    when the input says so. ``reply_to`` (the id of the post replied to), ``edited_at`` and
    ``views`` are kept where a source gives them (Telegram exports); detection ignores them.
    """

    id: str
    author: str
    created_at: datetime
    text: str
    outlet: str = ""
    lang: str = ""
    repost_of: str = ""
    urls: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    reply_to: str = ""
    edited_at: datetime | None = None
    views: int | None = None


class Behaviour(StrEnum):
    """The kinds of shared action that can link two accounts."""

    NEAR_DUPLICATE_TEXT = "near_duplicate_text"
    SAME_URL = "same_url"
    SAME_REPOST = "same_repost"
    SAME_HASHTAG_SEQUENCE = "same_hashtag_sequence"


@dataclass(frozen=True, slots=True)
class PostPair:
    """Evidence: two posts by two accounts that did the same thing within the window."""

    behaviour: Behaviour
    post_a: str
    post_b: str
    time_a: datetime
    time_b: datetime
    key: str = ""  # the shared URL, repost target, hashtag sequence or text-cluster id


@dataclass(frozen=True, slots=True)
class Edge:
    """Two accounts linked by repeated co-action, with the weight judged against chance."""

    account_a: str
    account_b: str
    weight: float  # observed co-actions (after de-duplication)
    expected: float  # co-actions expected by chance (e.g. time-shuffled activity)
    score: float  # surprise of the observation against chance (higher = less likely organic)
    behaviours: tuple[Behaviour, ...] = ()
    evidence: tuple[PostPair, ...] = ()


@dataclass(frozen=True, slots=True)
class Narrative:
    """A semantic cluster of claims, possibly matched to a known disinformation case."""

    id: str
    label: str  # a representative text, shortened
    post_ids: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    known_case: str = ""  # e.g. an EUvsDisinfo case URL or title
    known_case_similarity: float = 0.0
    known_case_title: str = ""  # the matched case's statement of the claim


@dataclass(frozen=True, slots=True)
class Campaign:
    """A group of coordinated accounts, what they pushed, when, and why we think so."""

    id: str
    accounts: tuple[str, ...]
    outlets: tuple[str, ...] = ()
    score: float = 0.0
    reasons: tuple[str, ...] = ()
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    edges: tuple[Edge, ...] = ()
    narratives: tuple[Narrative, ...] = ()
    representative_posts: tuple[str, ...] = ()
    # accounts outside the group whose few posts carry its own items at any time lag
    # (the associated tier, viche.monitor.association): reported apart from ``accounts``
    associated: tuple[str, ...] = ()
    # (associated account, id of a post of it that carries the group's items): the evidence
    associated_posts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AccountScore:
    """One row of ``accounts.csv``: ``author_id, score, flagged, campaign, tier``.

    ``tier``: ``"coordinated"`` (a member of a campaign's group), ``"associated"`` (its posts
    carry a campaign's own items, see :mod:`viche.monitor.association`) or ``""``; ``flagged``
    is either of the two."""

    author_id: str
    score: float
    flagged: bool
    campaign: str = ""
    tier: str = ""


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """Everything one detection run produces."""

    campaigns: tuple[Campaign, ...]
    accounts: tuple[AccountScore, ...]
    posts_seen: int = 0
    stats: dict[str, float] = field(default_factory=dict)
