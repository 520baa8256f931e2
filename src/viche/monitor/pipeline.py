"""Detection end to end: posts in a store -> co-action events -> coordinated pairs ->
communities -> account scores and campaigns.

``detect(store_or_posts, config)`` reads the store in chunks. Per chunk it normalises the
texts, hashes each normalised text (exact duplicates are hashed once) and computes MinHash
signatures of the texts it has not seen; URLs, repost targets and hashtag sequences become
64-bit keys at once. Memory therefore grows with a few fixed-size numbers per post (no
Python object per post or shingle survives a chunk) plus one signature per distinct text.

Memory bounded whatever the input size: when the store (or the selected ``start``/``end``
range) holds more than ``DetectConfig.max_posts_per_pass`` posts, the range is split into
consecutive periods (:func:`plan_periods`) each holding at most that many posts and
overlapping the next by the largest co-action window, so every co-action window lies whole in
at least one period and no co-action across a boundary is lost. Detection runs on each period
in turn (memory then depends on the pass size, not on the input size) and the results are
merged (:func:`merge_passes`): campaigns of different periods sharing an account become one
campaign (union-find on accounts), an account's score is its largest over the periods, edges
seen in two periods are kept once (the stronger, with the evidence of both, bounded by
``evidence_per_edge``), first/last seen span all periods.

The trade-off: each pass is a complete detection of its period, so the time-shift null is
drawn within each period (an account's timeline is shifted over the period, not over the
whole store), the false discovery rate is controlled per period, and a group acting on two
days in two different periods counts only the days within each period. A store that fits in
one pass is analysed exactly as before (the result is identical).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from viche.errors import Location, MonitorError
from viche.monitor.association import AssociationConfig, associated_accounts
from viche.monitor.coordination import (
    CoordinationConfig,
    CoordinationResult,
    Events,
    coordinated_share,
    detect_coordination,
    find_groups,
    join_groups,
    substantial_groups,
)
from viche.monitor.feeds import FeedConfig, feed_accounts, is_conversation, url_domain
from viche.monitor.minhash import MinHasher, lsh_clusters
from viche.monitor.model import (
    AccountScore,
    Behaviour,
    Campaign,
    DetectionResult,
    Edge,
    Post,
    PostPair,
)
from viche.monitor.scoring import ScoringConfig, campaign_id, score_accounts
from viche.monitor.store import Store
from viche.monitor.text import normalise, normalise_hashtag, normalise_url, shingle_hashes

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour.NEAR_DUPLICATE_TEXT,
    Behaviour.SAME_URL,
    Behaviour.SAME_REPOST,
    Behaviour.SAME_HASHTAG_SEQUENCE,
)
TEXT, URL, REPOST, HASHTAGS = range(4)

_URL_IN_TEXT = re.compile(r"https?://\S+", re.IGNORECASE)
_TAG_IN_TEXT = re.compile(r"#(\w+)")


@dataclass(frozen=True, slots=True)
class DetectConfig:
    """Parameters of the method. Defaults are chosen for the method, never per account."""

    shingle_k: int = 5  # characters per shingle
    num_perm: int = 32  # MinHash values per text
    bands: int = 8  # LSH bands (rows per band = num_perm / bands)
    similarity: float = 0.7  # estimated Jaccard needed to call two texts near-duplicates
    min_text_chars: int = 30  # shorter normalised texts are too generic to compare
    # a hashtag *sequence* is a talking point; one hashtag alone is a topic (#debate)
    min_hashtags: int = 2
    minhash_seed: int = 1
    chunk_size: int = 100_000
    evidence_per_edge: int = 3
    # only posts with start <= created_at < end (None = unbounded): analysing a long store
    # period by period bounds detection memory by the posts of one period
    start: datetime | None = None
    end: datetime | None = None
    # posts analysed in one pass: a larger store (or range) is analysed period by period,
    # periods overlapping by the largest co-action window (see the module docstring)
    max_posts_per_pass: int = 1_500_000
    coordination: CoordinationConfig = field(default_factory=CoordinationConfig)
    # automated headline feeds: their headlines count only when co-timed (viche.monitor.feeds)
    feeds: FeedConfig = field(default_factory=FeedConfig)
    # the associated tier: accounts whose posts carry a campaign's own items at any time lag
    # (viche.monitor.association)
    association: AssociationConfig = field(default_factory=AssociationConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)


def _h64(text: str) -> int:
    """A stable signed 64-bit hash of a string (blake2b)."""
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
        "little",
        signed=True,
    )


@dataclass(slots=True)
class _Collected:
    """What the chunk pass keeps: fixed-size columns and per-distinct-text signatures."""

    accounts: dict[str, int] = field(default_factory=dict)
    seq: list[I64] = field(default_factory=list)
    account: list[I64] = field(default_factory=list)
    time: list[I64] = field(default_factory=list)
    text_hash: list[I64] = field(default_factory=list)
    sig_hash: list[I64] = field(default_factory=list)
    sigs: list[npt.NDArray[np.uint32]] = field(default_factory=list)
    ev_post: list[I64] = field(default_factory=list)
    ev_key: list[I64] = field(default_factory=list)
    ev_beh: list[I64] = field(default_factory=list)
    ev_dom: list[I64] = field(default_factory=list)  # domain hash of a link event, else 0
    has_link: list[npt.NDArray[np.bool_]] = field(default_factory=list)
    conversation: list[npt.NDArray[np.bool_]] = field(default_factory=list)
    domain: list[I64] = field(default_factory=list)  # domain hash of a post's first link
    # each single hashtag of a post (the associated tier's items; co-action uses sequences)
    tag_post: list[I64] = field(default_factory=list)
    tag_key: list[I64] = field(default_factory=list)
    outlets: dict[int, set[str]] = field(default_factory=dict)
    distinct_texts: int = 0
    joined: set[int] = field(default_factory=set)
    n: int = 0


def _collect_chunk(frame: pd.DataFrame, col: _Collected, config: DetectConfig) -> None:
    base = col.n
    m = len(frame)
    accounts = col.accounts
    acc = np.fromiter(
        (accounts.setdefault(a, len(accounts)) for a in frame["author"].tolist()),
        dtype=np.int64,
        count=m,
    )
    col.seq.append(frame["seq"].to_numpy(dtype=np.int64))
    col.account.append(acc)
    col.time.append(frame["created_at"].to_numpy(dtype=np.int64))
    # texts: exact-duplicate hash, then MinHash of the distinct texts not seen before
    th = np.zeros(m, dtype=np.int64)
    new_texts: dict[int, str] = {}
    for i, raw in enumerate(frame["text"].tolist()):
        norm = normalise(raw)
        if len(norm) < config.min_text_chars:
            continue
        h = _h64(norm) or 1
        th[i] = h
        if h not in new_texts:
            new_texts[h] = norm
    col.text_hash.append(th)
    if new_texts:
        hashes = list(new_texts)
        texts = [new_texts[h] for h in hashes]
        hasher = MinHasher(config.num_perm, config.minhash_seed)
        for s in range(0, len(texts), 20_000):
            batch = shingle_hashes(texts[s : s + 20_000], config.shingle_k)
            col.sigs.append(hasher.signatures(batch))
        col.sig_hash.append(np.asarray(hashes, dtype=np.int64))
    # links, repost targets, hashtag sequences
    ev_post: list[int] = []
    ev_key: list[int] = []
    ev_beh: list[int] = []
    ev_dom: list[int] = []
    tag_post: list[int] = []
    tag_key: list[int] = []
    domains: dict[str, int] = {}  # host -> hash, once per chunk (few hosts, many links)
    has_link = np.zeros(m, dtype=bool)
    conversation = np.zeros(m, dtype=bool)
    domain = np.zeros(m, dtype=np.int64)
    for i, (text, urls, tags, repost, outlet) in enumerate(
        zip(
            frame["text"].tolist(),
            frame["urls"].tolist(),
            frame["hashtags"].tolist(),
            frame["repost_of"].tolist(),
            frame["outlet"].tolist(),
            strict=True,
        )
    ):
        post = base + i
        links = urls.split() or _URL_IN_TEXT.findall(text)
        conversation[i] = is_conversation(text, repost)
        for u in dict.fromkeys(normalise_url(x) for x in links):
            if u:
                host = url_domain(u)
                dom = domains.get(host) or domains.setdefault(host, _h64("d\x00" + host))
                if not has_link[i]:
                    has_link[i] = True
                    domain[i] = dom
                ev_post.append(post)
                ev_key.append(_h64("u\x00" + u))
                ev_beh.append(URL)
                ev_dom.append(dom)
        if repost:
            ev_post.append(post)
            ev_key.append(_h64("r\x00" + repost.casefold()))
            ev_beh.append(REPOST)
            ev_dom.append(0)
        tag_list = [
            t
            for t in (normalise_hashtag(x) for x in tags.split() or _TAG_IN_TEXT.findall(text))
            if t
        ]
        if config.association.enabled:
            for tag in dict.fromkeys(tag_list):
                tag_post.append(post)
                tag_key.append(_h64("t\x00" + tag))
        if len(tag_list) >= config.min_hashtags:
            seq = "|".join(tag_list)
            ev_post.append(post)
            ev_key.append(_h64("h\x00" + seq))
            ev_beh.append(HASHTAGS)
            ev_dom.append(0)
        if outlet:
            col.outlets.setdefault(int(acc[i]), set()).add(outlet)
    col.ev_post.append(np.asarray(ev_post, dtype=np.int64))
    col.ev_key.append(np.asarray(ev_key, dtype=np.int64))
    col.ev_beh.append(np.asarray(ev_beh, dtype=np.int64))
    col.ev_dom.append(np.asarray(ev_dom, dtype=np.int64))
    col.tag_post.append(np.asarray(tag_post, dtype=np.int64))
    col.tag_key.append(np.asarray(tag_key, dtype=np.int64))
    col.has_link.append(has_link)
    col.conversation.append(conversation)
    col.domain.append(domain)
    col.n += m


def _text_clusters(col: _Collected, config: DetectConfig) -> I64:
    """Near-duplicate cluster key per post (0 = no text key)."""
    post_hash = np.concatenate(col.text_hash) if col.text_hash else np.zeros(0, dtype=np.int64)
    if not col.sigs:
        return np.zeros(post_hash.size, dtype=np.int64)
    # a text repeated in several chunks was signed once per chunk: keep one signature
    sig_hash, first = np.unique(np.concatenate(col.sig_hash), return_index=True)
    col.sig_hash.clear()
    sigs = np.concatenate(col.sigs)[first]
    col.sigs.clear()
    col.distinct_texts = int(sig_hash.size)
    labels = lsh_clusters(sigs, config.bands, config.similarity)
    pos = np.searchsorted(sig_hash, post_hash)
    pos = np.clip(pos, 0, sig_hash.size - 1)
    found = (post_hash != 0) & (sig_hash[pos] == post_hash)
    # cluster keys are small positive integers: label + 1
    return np.where(found, labels[pos] + 1, 0).astype(np.int64)


def _feeds(col: _Collected, account: I64, config: FeedConfig) -> tuple[npt.NDArray[np.bool_], I64]:
    """(is a headline feed, top link domain) per account code (see viche.monitor.feeds)."""
    feed, top = feed_accounts(
        account,
        np.concatenate(col.has_link),
        np.concatenate(col.conversation),
        np.concatenate(col.domain),
        n_accounts=len(col.accounts),
        config=config,
    )
    col.has_link.clear()
    col.conversation.clear()
    col.domain.clear()
    return feed, top


def _events(
    col: _Collected,
    text_key: I64,
    account: I64,
    times: I64,
    feeds: tuple[npt.NDArray[np.bool_], I64],
) -> Events:
    has_text = np.flatnonzero(text_key != 0)
    ev_post = np.concatenate([has_text, *col.ev_post])
    ev_key = np.concatenate([text_key[has_text], *col.ev_key])
    ev_beh = np.concatenate([np.full(has_text.size, TEXT, dtype=np.int64), *col.ev_beh])
    ev_dom = np.concatenate([np.zeros(has_text.size, dtype=np.int64), *col.ev_dom])
    ev_acc = account[ev_post]
    feed, top = feeds
    # what a feed's post carries from its outlet (headline, hashtags, link to the outlet)
    # needs tight co-timing; its links elsewhere and its reposts do not
    from_outlet = (
        (ev_beh == TEXT) | (ev_beh == HASHTAGS) | ((ev_beh == URL) & (ev_dom == top[ev_acc]))
    )
    tight = feed[ev_acc] & from_outlet
    return Events(
        account=ev_acc,
        key=ev_key,
        behaviour=ev_beh,
        time=times[ev_post],
        post=ev_post,
        n_accounts=len(col.accounts),
        tight=tight if tight.any() else None,
    )


def _associated(
    col: _Collected,
    events: Events,
    account: I64,
    *,
    groups: dict[int, int],
    posts: I64,
    feed: npt.NDArray[np.bool_],
    cfg: DetectConfig,
) -> dict[int, tuple[int, float, tuple[int, ...]]]:
    """Accounts associated with a group (``viche.monitor.association``): account code ->
    (group, surprise, indices of the posts that carry the group's items). Items: every key of
    the events and each single hashtag, except what a
    headline feed's post carries from its outlet (its headline, hashtags and link to it): those
    count only when co-timed (``viche.monitor.feeds``), and association ignores timing."""
    tag_post = np.concatenate(col.tag_post) if col.tag_post else np.zeros(0, dtype=np.int64)
    tag_key = np.concatenate(col.tag_key) if col.tag_key else np.zeros(0, dtype=np.int64)
    col.tag_post.clear()
    col.tag_key.clear()
    ev = np.flatnonzero(~events.tight) if events.tight is not None else np.arange(len(events))
    tags = np.flatnonzero(~feed[account[tag_post]])
    found = associated_accounts(
        np.concatenate([events.account[ev], account[tag_post[tags]]]),
        np.concatenate([events.key[ev], tag_key[tags]]),
        np.concatenate([events.post[ev], tag_post[tags]]),
        groups=groups,
        posts=posts,
        config=cfg.association,
        fdr=cfg.coordination.fdr,
        min_share=cfg.coordination.min_coordinated_share,
    )
    found = found[found["associated"]]
    return {
        int(a): (int(g), float(s), tuple(int(x) for x in ev))
        for a, g, s, ev in zip(
            found["account"], found["group"], found["surprise"], found["evidence"], strict=True
        )
    }


def _as_store(source: Store | Iterable[Post]) -> tuple[Store, bool]:
    if isinstance(source, Store):
        return source, False
    store = Store(":memory:")
    batch: list[Post] = []
    for post in source:
        batch.append(post)
        if len(batch) >= 50_000:
            store.append(batch)
            batch.clear()
    store.append(batch)
    return store, True


def _reasons(
    n_accounts: int,
    n_joined: int,
    n_edges: int,
    counts: dict[Behaviour, int],
    config: DetectConfig,
    *,
    extra: str = "",
    associated: int = 0,
) -> list[str]:
    reasons = [
        f"{n_accounts} accounts ({n_joined} joined by their co-actions with the group) "
        f"linked by {n_edges} significant co-action pairs "
        f"(false discovery rate {config.coordination.fdr}, "
        f"windows {', '.join(f'{w} s' for w in config.coordination.windows)}){extra}"
    ]
    if associated:
        a = config.association
        reasons.append(
            f"{associated} associated accounts (not coordinated): their posts carry the group's "
            f"own items (used by at most {a.max_users} accounts, at least {a.min_members} and "
            f"{a.member_share:.0%} of them in the group) at any time lag, beyond chance "
            f"(binomial test, false discovery rate {config.coordination.fdr})"
        )
    reasons += [f"{bh.value}: {c} pairs" for bh, c in sorted(counts.items(), key=lambda x: -x[1])]
    return reasons


def _campaigns(
    store: Store,
    *,
    names: list[str],
    coord: CoordinationResult,
    groups: dict[int, int],
    scores: dict[str, float],
    seq_of_post: I64,
    col: _Collected,
    config: DetectConfig,
    associated: dict[int, tuple[int, float, tuple[int, ...]]] | None = None,
) -> tuple[Campaign, ...]:
    pairs = coord.pairs[coord.pairs["significant"]]
    if pairs.empty:
        return ()
    rows = (
        coord.rows.sort_values(["a", "b", "pa", "pb"])
        .groupby(["a", "b"])
        .head(config.evidence_per_edge)
    )
    assoc_posts = np.asarray(
        [p for _, _, ev in (associated or {}).values() for p in ev], dtype=np.int64
    )
    seqs = np.concatenate(
        [
            seq_of_post[rows["pa"].to_numpy()],
            seq_of_post[rows["pb"].to_numpy()],
            seq_of_post[assoc_posts],
        ]
    )
    info = store.fetch(seqs.tolist(), columns=("seq", "id", "created_at")).set_index("seq")
    post_id = info["id"].to_dict()
    post_time = info["created_at"].to_dict()

    def when(p: int) -> datetime:
        return datetime.fromtimestamp(int(post_time[int(seq_of_post[p])]), tz=UTC)

    evidence: dict[tuple[int, int], list[PostPair]] = {}
    for a, b, key, beh, pa, pb in rows[["a", "b", "key", "beh", "pa", "pb"]].itertuples(
        index=False, name=None
    ):
        evidence.setdefault((int(a), int(b)), []).append(
            PostPair(
                behaviour=BEHAVIOURS[int(beh)],
                post_a=str(post_id[int(seq_of_post[pa])]),
                post_b=str(post_id[int(seq_of_post[pb])]),
                time_a=when(int(pa)),
                time_b=when(int(pb)),
                key=f"{BEHAVIOURS[int(beh)].value}:{int(key) & 0xFFFFFFFFFFFFFFFF:016x}",
            )
        )
    members: dict[int, list[int]] = {}
    for acc, g in groups.items():
        members.setdefault(g, []).append(acc)
    associates: dict[int, list[int]] = {}
    for acc, (g, _, _) in (associated or {}).items():
        associates.setdefault(g, []).append(acc)
    edges_of: dict[int, list[Edge]] = {}
    for a, b, n, expected, surprise, mask in pairs[
        ["a", "b", "n", "expected", "surprise", "behaviours"]
    ].itertuples(index=False, name=None):
        ga, gb = groups.get(int(a)), groups.get(int(b))
        if ga is None or ga != gb:
            continue
        edges_of.setdefault(ga, []).append(
            Edge(
                account_a=names[int(a)],
                account_b=names[int(b)],
                weight=float(n),
                expected=float(expected),
                score=float(surprise),
                behaviours=tuple(bh for i, bh in enumerate(BEHAVIOURS) if int(mask) >> i & 1),
                evidence=tuple(evidence.get((int(a), int(b)), ())),
            )
        )
    out: list[Campaign] = []
    for g in sorted(members):
        accs = sorted(members[g])
        if len(accs) < config.scoring.min_campaign_size:
            continue
        edges = tuple(sorted(edges_of.get(g, []), key=lambda e: -e.score))
        times = [t for e in edges for pp in e.evidence for t in (pp.time_a, pp.time_b)]
        counts: dict[Behaviour, int] = {}
        post_hits: dict[str, int] = {}
        for e in edges:
            for bh in e.behaviours:
                counts[bh] = counts.get(bh, 0) + 1
            for pp in e.evidence:
                post_hits[pp.post_a] = post_hits.get(pp.post_a, 0) + 1
                post_hits[pp.post_b] = post_hits.get(pp.post_b, 0) + 1
        n_joined = sum(1 for a in accs if a in col.joined)
        assoc = sorted(associates.get(g, []))
        reasons = _reasons(len(accs), n_joined, len(edges), counts, config, associated=len(assoc))
        outlets = sorted({o for a in accs for o in col.outlets.get(a, set())})
        out.append(
            Campaign(
                id=campaign_id(g),
                accounts=tuple(names[a] for a in accs),
                outlets=tuple(outlets),
                score=round(float(np.mean([scores[names[a]] for a in accs])), 6),
                reasons=tuple(reasons),
                first_seen=min(times) if times else None,
                last_seen=max(times) if times else None,
                edges=edges,
                representative_posts=tuple(
                    p for p, _ in sorted(post_hits.items(), key=lambda x: (-x[1], x[0]))[:10]
                ),
                associated=tuple(names[a] for a in assoc),
                associated_posts=tuple(
                    (names[a], str(post_id[int(seq_of_post[p])]))
                    for a in assoc
                    for p in (associated or {})[a][2]
                ),
            )
        )
    return tuple(out)


def detect_pass(store: Store, cfg: DetectConfig) -> tuple[DetectionResult, frozenset[str]]:
    """One detection pass over the posts of ``cfg.start <= created_at < cfg.end``, whatever
    their number (``max_posts_per_pass`` is not applied): the result and the names of the
    accounts joined to a group. :func:`detect` runs one pass per period of
    :func:`detect_periods`; :func:`merge_passes` merges what the passes return."""
    started = time.perf_counter()
    col = _Collected()
    for frame in store.frames(
        cfg.chunk_size,
        start=None if cfg.start is None else int(cfg.start.timestamp()),
        end=None if cfg.end is None else int(cfg.end.timestamp()),
    ):
        _collect_chunk(frame, col, cfg)
    t_read = time.perf_counter()
    names = list(col.accounts)
    if col.n == 0:
        return DetectionResult(campaigns=(), accounts=(), posts_seen=0), frozenset()
    account = np.concatenate(col.account)
    times = np.concatenate(col.time)
    seq_of_post = np.concatenate(col.seq)
    text_key = _text_clusters(col, cfg)
    feeds = _feeds(col, account, cfg.feeds)
    events = _events(col, text_key, account, times, feeds)
    col.ev_post.clear()
    col.ev_key.clear()
    col.ev_beh.clear()
    col.ev_dom.clear()
    col.sigs.clear()
    t_text = time.perf_counter()
    coord = detect_coordination(events, cfg.coordination)
    groups = find_groups(coord, cfg.coordination)
    posts_of = np.bincount(account, minlength=len(names)).astype(np.int64)
    groups = substantial_groups(groups, coordinated_share(coord.rows, posts_of), cfg.coordination)
    days_of = pd.DataFrame({"a": account, "d": times // 86_400}).drop_duplicates()["a"]
    active_days = np.bincount(days_of.to_numpy(), minlength=len(names)).astype(np.int64)
    joins = join_groups(events, groups, cfg.coordination, posts_of, active_days)
    joined = joins[joins["joined"]].sort_values(["p", "group"]).drop_duplicates("account")
    for acc, g in zip(joined["account"].tolist(), joined["group"].tolist(), strict=True):
        groups[int(acc)] = int(g)
        col.joined.add(int(acc))
    associated = _associated(
        col, events, account, groups=groups, posts=posts_of, feed=feeds[0], cfg=cfg
    )
    t_coord = time.perf_counter()
    scores = score_accounts(
        names,
        coord.pairs,
        groups,
        cfg.scoring,
        joins,
        associated={a: (g, s) for a, (g, s, _) in associated.items()},
    )
    by_name = {s.author_id: s.score for s in scores}
    campaigns = _campaigns(
        store,
        names=names,
        coord=coord,
        groups=groups,
        scores=by_name,
        seq_of_post=seq_of_post,
        col=col,
        config=cfg,
        associated=associated,
    )
    done = time.perf_counter()
    stats = {
        "posts": float(col.n),
        "accounts": float(len(names)),
        "distinct_texts": float(col.distinct_texts),
        "events": float(len(events)),
        "pairs_tested": float(len(coord.pairs)),
        "pairs_significant": float(coord.pairs["significant"].sum()),
        "accounts_joined": float(len(joined)),
        "accounts_associated": float(len(associated)),
        "feed_accounts": float(feeds[0].sum()),
        "campaigns": float(len(campaigns)),
        "flagged_accounts": float(sum(s.flagged for s in scores)),
        "seconds_read": t_read - started,
        "seconds_text": t_text - t_read,
        "seconds_coordination": t_coord - t_text,
        "seconds_scoring": done - t_coord,
        "seconds_total": done - started,
    }
    result = DetectionResult(campaigns=campaigns, accounts=scores, posts_seen=col.n, stats=stats)
    return result, frozenset(names[a] for a in col.joined)


def plan_periods(
    histogram: Iterable[tuple[int, int]], max_posts: int, overlap: int
) -> list[tuple[int, int]]:
    """Consecutive periods ``[start, end)`` (Unix seconds) covering the posts of ``histogram``
    (``(second, posts at that second)`` in time order), each holding at most ``max_posts``
    posts, each starting ``overlap`` seconds before the end of the previous one (never before
    the first post). Every interval of ``overlap`` seconds or less then lies whole in at least
    one period.

    A period exceeds ``max_posts`` only when the posts of its overlap with the previous period
    plus those of one second do (one second holding more posts than the cap, or a window of
    ``overlap`` seconds nearly as many): it then holds just these (up to the next second with
    posts), so the plan always advances.
    """
    if max_posts < 1 or overlap < 0:
        raise MonitorError(
            f"max_posts_per_pass must be >= 1 and the overlap >= 0 (got {max_posts}, {overlap})",
            where=Location(path=("DetectConfig.max_posts_per_pass",)),
        )
    periods: list[tuple[int, int]] = []
    first: int | None = None
    start = 0
    last = 0
    held = 0  # posts in [start, current second)
    new = 0  # of which after the previous period's end
    recent: deque[tuple[int, int]] = deque()  # the seconds of [current - overlap, current)
    in_recent = 0
    for t, c in histogram:
        if first is None:
            first = start = t
        while recent and recent[0][0] < t - overlap:
            in_recent -= recent.popleft()[1]
        if new > 0 and held + c > max_posts:
            periods.append((start, t))
            start = max(t - overlap, first)
            held = in_recent
            new = 0
        held += c
        new += c
        recent.append((t, c))
        in_recent += c
        last = t
    if first is not None:
        periods.append((start, last + 1))
    return periods


_TIER_RANK = {"": 0, "associated": 1, "coordinated": 2}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = []

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _merge_edges(edges: Sequence[Edge], evidence_per_edge: int) -> Edge:
    """One edge seen in several periods: the strongest, with the evidence of all (each post
    pair once, at most ``evidence_per_edge``) and every behaviour seen."""
    best = max(edges, key=lambda e: e.score)
    seen: set[tuple[Behaviour, str, str]] = set()
    evidence: list[PostPair] = []
    for e in (best, *(e for e in edges if e is not best)):
        for pp in e.evidence:
            key = (pp.behaviour, min(pp.post_a, pp.post_b), max(pp.post_a, pp.post_b))
            if key not in seen and len(evidence) < evidence_per_edge:
                seen.add(key)
                evidence.append(pp)
    behaviours = {bh for e in edges for bh in e.behaviours}
    return replace(
        best,
        behaviours=tuple(bh for bh in BEHAVIOURS if bh in behaviours),
        evidence=tuple(evidence),
    )


@dataclass(slots=True)
class _Merge:
    """The results of the passes over consecutive periods, merged as they come."""

    config: DetectConfig
    score: dict[str, float] = field(default_factory=dict)  # insertion = first appearance
    # the strongest tier of any pass (flagged in some pass = a tier here)
    tier: dict[str, str] = field(default_factory=dict)
    campaigns: list[Campaign] = field(default_factory=list)
    joined: set[str] = field(default_factory=set)
    owner: dict[str, int] = field(default_factory=dict)  # account -> a campaign holding it
    sets: _UnionFind = field(default_factory=_UnionFind)
    stats: dict[str, float] = field(default_factory=dict)
    passes: int = 0

    def add(self, result: DetectionResult, joined: frozenset[str]) -> None:
        self.passes += 1
        for acc in result.accounts:
            self.score[acc.author_id] = max(self.score.get(acc.author_id, 0.0), acc.score)
            if _TIER_RANK[acc.tier] > _TIER_RANK[self.tier.get(acc.author_id, "")]:
                self.tier[acc.author_id] = acc.tier
        for camp in result.campaigns:
            node = self.sets.add()
            self.campaigns.append(camp)
            for acc_name in camp.accounts:
                if acc_name in joined:
                    self.joined.add(acc_name)
                other = self.owner.setdefault(acc_name, node)
                if other != node:
                    self.sets.union(other, node)
        for k, v in result.stats.items():
            self.stats[k] = self.stats.get(k, 0.0) + v
        self.stats["max_posts_in_pass"] = max(
            self.stats.get("max_posts_in_pass", 0.0), float(result.posts_seen)
        )

    def _campaign(self, parts: list[Campaign]) -> Campaign:
        cfg = self.config
        order = {name: i for i, name in enumerate(self.score)}
        accounts = sorted({a for c in parts for a in c.accounts}, key=order.__getitem__)
        by_pair: dict[tuple[str, str], list[Edge]] = {}
        for c in parts:
            for e in c.edges:
                a, b = sorted((e.account_a, e.account_b))
                by_pair.setdefault((a, b), []).append(e)
        edges = tuple(
            sorted(
                (_merge_edges(es, cfg.evidence_per_edge) for es in by_pair.values()),
                key=lambda e: -e.score,
            )
        )
        counts: dict[Behaviour, int] = {}
        post_hits: dict[str, int] = {}
        for e in edges:
            for bh in e.behaviours:
                counts[bh] = counts.get(bh, 0) + 1
            for pp in e.evidence:
                post_hits[pp.post_a] = post_hits.get(pp.post_a, 0) + 1
                post_hits[pp.post_b] = post_hits.get(pp.post_b, 0) + 1
        firsts = [c.first_seen for c in parts if c.first_seen is not None]
        lasts = [c.last_seen for c in parts if c.last_seen is not None]
        n_joined = sum(1 for a in accounts if a in self.joined)
        members = set(accounts)
        associated = sorted(
            {a for c in parts for a in c.associated} - members, key=order.__getitem__
        )
        associated_posts = tuple(
            dict.fromkeys(pp for c in parts for pp in c.associated_posts if pp[0] in associated)
        )
        extra = (
            f"; found in {len(parts)} of {self.passes} periods analysed separately"
            if self.passes > 1
            else ""
        )
        return Campaign(
            id="",
            accounts=tuple(accounts),
            outlets=tuple(sorted({o for c in parts for o in c.outlets})),
            score=round(float(np.mean([self.score[a] for a in accounts])), 6),
            reasons=tuple(
                _reasons(
                    len(accounts),
                    n_joined,
                    len(edges),
                    counts,
                    cfg,
                    extra=extra,
                    associated=len(associated),
                )
            ),
            first_seen=min(firsts) if firsts else None,
            last_seen=max(lasts) if lasts else None,
            edges=edges,
            representative_posts=tuple(
                p for p, _ in sorted(post_hits.items(), key=lambda x: (-x[1], x[0]))[:10]
            ),
            associated=tuple(associated),
            associated_posts=associated_posts,
        )

    def result(self, posts_seen: int) -> DetectionResult:
        roots: dict[int, list[Campaign]] = {}
        for i, camp in enumerate(self.campaigns):
            roots.setdefault(self.sets.find(i), []).append(camp)
        merged = [self._campaign(parts) for _, parts in sorted(roots.items())]
        order = {name: i for i, name in enumerate(self.score)}
        merged.sort(key=lambda c: (-len(c.accounts), order[c.accounts[0]]))
        campaigns = tuple(replace(c, id=campaign_id(i)) for i, c in enumerate(merged))
        campaign_of = {a: c.id for c in campaigns for a in c.associated}
        campaign_of.update({a: c.id for c in campaigns for a in c.accounts})
        # coordinated in one period outranks associated in another
        campaigns = tuple(
            replace(
                c,
                associated=tuple(a for a in c.associated if self.tier[a] == "associated"),
                associated_posts=tuple(
                    pp for pp in c.associated_posts if self.tier[pp[0]] == "associated"
                ),
            )
            for c in campaigns
        )
        accounts = tuple(
            AccountScore(
                author_id=name,
                score=score,
                flagged=bool(self.tier.get(name)),
                campaign=campaign_of.get(name, "") if self.tier.get(name) else "",
                tier=self.tier.get(name, ""),
            )
            for name, score in self.score.items()
        )
        stats = dict(self.stats)
        stats.update(
            {
                "passes": float(self.passes),
                "posts_read": self.stats.get("posts", 0.0),
                "posts": float(posts_seen),
                "accounts": float(len(accounts)),
                "campaigns": float(len(campaigns)),
                "flagged_accounts": float(sum(a.flagged for a in accounts)),
            }
        )
        return DetectionResult(
            campaigns=campaigns, accounts=accounts, posts_seen=posts_seen, stats=stats
        )


def merge_passes(
    passes: Iterable[tuple[DetectionResult, frozenset[str]]],
    config: DetectConfig,
    posts_seen: int,
) -> DetectionResult:
    """Merge the results of passes over consecutive periods (see the module docstring).

    ``passes`` are ``(result, names of the accounts joined to a group)``; ``posts_seen`` is the
    number of distinct posts analysed (periods overlap, so the passes count some twice).
    """
    merge = _Merge(config)
    for result, joined in passes:
        merge.add(result, joined)
    return merge.result(posts_seen)


def _ts(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp())


def detect_periods(store: Store, config: DetectConfig) -> list[tuple[int, int]]:
    """The periods ``[start, end)`` (Unix seconds) :func:`detect` analyses one pass each: one
    period (the configured range) when it holds at most ``max_posts_per_pass`` posts."""
    lo, hi = _ts(config.start), _ts(config.end)
    if store.count_between(lo, hi) <= config.max_posts_per_pass:
        return [(-(2**62) if lo is None else lo, 2**62 if hi is None else hi)]
    return plan_periods(
        store.time_histogram(lo, hi),
        config.max_posts_per_pass,
        max(config.coordination.windows),
    )


def detect(source: Store | Iterable[Post], config: DetectConfig | None = None) -> DetectionResult:
    """Run detection over every post of a store (or an iterable of posts), or over those of
    ``config.start <= created_at < config.end``.

    When more than ``config.max_posts_per_pass`` posts are to be analysed, they are analysed
    period by period (:func:`plan_periods`, overlapping by the largest co-action window) and
    the results merged (:func:`merge_passes`): memory then depends on the pass size, not on
    the input size. Trade-off: the time-shift null of each pass is drawn within its period.
    """
    cfg = config or DetectConfig()
    if cfg.max_posts_per_pass < 1:
        raise MonitorError(
            f"max_posts_per_pass must be >= 1 (got {cfg.max_posts_per_pass})",
            where=Location(path=("DetectConfig.max_posts_per_pass",)),
        )
    store, owned = _as_store(source)
    try:
        lo, hi = _ts(cfg.start), _ts(cfg.end)
        total = store.count_between(lo, hi)
        if total <= cfg.max_posts_per_pass:
            return detect_pass(store, cfg)[0]
        started = time.perf_counter()
        periods = detect_periods(store, cfg)
        passes = (
            detect_pass(
                store,
                replace(
                    cfg,
                    start=datetime.fromtimestamp(s, tz=UTC),
                    end=datetime.fromtimestamp(e, tz=UTC),
                ),
            )
            for s, e in periods
        )
        result = merge_passes(passes, cfg, total)
        result.stats["seconds_total"] = time.perf_counter() - started
        return result
    finally:
        if owned:
            store.close()
