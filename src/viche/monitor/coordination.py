"""Co-action detection: which accounts repeatedly do the same thing at the same time, more
often than chance allows.

An *event* is one account doing one identifiable thing at one time: posting a text of a
near-duplicate cluster, sharing a link, reposting an item, using a hashtag sequence (each a
*key*). Two accounts *co-act* when they have events with the same key within ``window``
seconds of each other (two grids of windows, offset by half a window, so that closeness does
not depend on where the bins fall). For an account pair the *observed* count is

    n(a, b) = min(distinct keys they co-acted on, posts of a involved, posts of b involved)

so one repost that carries a link and a hashtag counts once, and two accounts that both
post the same hashtag all evening count once too.

Chance is measured by shuffling time: each account's whole timeline is shifted by its own
random offset (circularly, within the period covered), so it keeps its volume, its keys,
its bursts and its rhythm and only its alignment with other accounts is left to chance;
the counts are recomputed and the mean over ``null_rounds`` shuffles is the *expected*
count. A busy account that shares many popular keys has a high expected count and is not
flagged merely for being busy. The surprise of an observation is the Poisson tail
``-log10 P(X >= n | expected)``; a pair is kept when ``n >= min_repeats`` and the tail
probability passes a Benjamini-Hochberg test over all pairs seen (false discovery rate
``fdr``). Groups are Louvain communities of the resulting graph (:func:`find_groups`); a
group whose co-actions all fall on fewer than ``min_days`` different days is one burst
(a crowd live-reacting to one televised debate), not a campaign, and is dropped, unless it
is a near-clique (:func:`lockstep_bursts`): a crowd is a sparse graph, accounts posting the
same items in lockstep are linked nearly all to all. Significance is not enough: a group
is kept only when its median member made at least ``min_coordinated_share`` of its posts in
significant co-actions (:func:`substantial_groups`), since over long timelines even a few
links shared by friends become significant. Accounts outside every group may then join the
one they co-act with beyond chance, at least ``join_min_repeats`` times on at least
``min_days`` days (or on every day they posted, when they posted on fewer), and (given their
post counts) in at least ``min_coordinated_share`` of their posts (:func:`join_groups`, the
same test one level up).

Several time scales are tested (``window`` and ``extra_windows``, by default 1 hour and
1 day): campaigns often schedule the same content hours apart, which a 1-hour window misses.
Each scale has its own null (the same shuffled timelines counted with that scale's windows);
a pair's p-value is its smallest over the scales times the number of scales (Bonferroni).
The day scale counts only authored content (near-duplicate texts and hashtag sequences,
``extra_window_behaviours``): reposts and links of a popular item spread over a day
organically.

Co-action groups (one key in one window) with more than ``max_group`` accounts are crowds
reacting to the same event (a viral post) rather than evidence about any pair; they are
left out, which also bounds the number of pairs per group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CoordinationConfig:
    """Parameters of the method (not of any data set)."""

    window: int = 3600  # seconds
    # further time scales, each tested against its own time-shift null (see module docstring):
    # campaigns schedule the same content hours apart
    extra_windows: tuple[int, ...] = (86_400,)
    # behaviours counted at the extra scales: authored content (near-duplicate texts, hashtag
    # sequences), not reposts and links, which spread organically over a day as cascades
    extra_window_behaviours: tuple[int, ...] = (0, 3)
    min_repeats: int = 3  # distinct co-actions needed for an edge
    # distinct co-actions needed to join a group: the group is already established, so two
    # co-actions on two different days beyond chance are evidence enough
    join_min_repeats: int = 2
    min_days: int = 2  # a campaign acts on at least this many days (one burst is one occasion)
    # ... unless the burst is a near-clique: a crowd reacting to one event is a sparse graph
    # (each account happens to overlap with a few others), accounts posting the same items in
    # lockstep are linked nearly all to all
    burst_min_size: int = 3
    burst_density: float = 0.75  # share of member pairs that are significant
    # effect size, not only significance: in a campaign the typical (median) member made at
    # least this share of its posts in significant co-actions. Long ordinary timelines make
    # tiny overlaps (friends sharing a few links a year) significant; they are not campaigns
    min_coordinated_share: float = 0.01
    max_group: int = 50  # larger co-action groups are crowds, not pairs
    # events marked ``tight`` (a headline feed's headlines, see viche.monitor.feeds) co-act
    # only with events less than this many seconds away, at every scale: one hour leaves
    # them out of the day scale (the same headline hours apart is what feeds do)
    tight_window: int = 3600
    null_rounds: int = 10  # time shuffles used to estimate the expected count
    fdr: float = 0.01  # Benjamini-Hochberg false discovery rate over all pairs seen
    seed: int = 7  # seed of the time shuffles (reproducible runs)
    join_behaviours: tuple[int, ...] = (0, 1, 2, 3)  # evidence used to join an account to a group

    @property
    def windows(self) -> tuple[int, ...]:
        """Every time scale tested: ``window`` first, then ``extra_windows`` (deduplicated)."""
        return tuple(dict.fromkeys((self.window, *self.extra_windows)))


@dataclass(frozen=True, slots=True)
class Events:
    """Column arrays, one entry per event.

    ``account`` are dense codes ``0..n_accounts-1``; ``key`` identifies the shared thing;
    ``behaviour`` is a small code of the kind of key; ``post`` indexes the post that made it.
    ``tight`` (optional) marks the events that count as a co-action only with an event less
    than ``CoordinationConfig.tight_window`` seconds away (a headline feed's headlines and
    links to its outlet, see :mod:`viche.monitor.feeds`).
    """

    account: I64
    key: I64
    behaviour: I64
    time: I64
    post: I64
    n_accounts: int
    tight: npt.NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        n = self.account.size
        for name in ("key", "behaviour", "time", "post", "tight"):
            value = getattr(self, name)
            if value is not None and value.size != n:
                raise ValueError(f"Events.{name} has a different length than Events.account")

    def __len__(self) -> int:
        return int(self.account.size)

    def take(self, idx: I64) -> Events:
        return Events(
            self.account[idx],
            self.key[idx],
            self.behaviour[idx],
            self.time[idx],
            self.post[idx],
            self.n_accounts,
            None if self.tight is None else self.tight[idx],
        )


def shared_keys_only(events: Events) -> Events:
    """Drop events whose key is used by a single account (they can never co-act)."""
    if len(events) == 0:
        return events
    frame = pd.DataFrame({"k": events.key, "a": events.account})
    n_acc = frame.drop_duplicates().groupby("k")["a"].size()
    shared = n_acc.index.to_numpy()[n_acc.to_numpy() >= 2]
    keep = np.flatnonzero(np.isin(events.key, shared))
    return events.take(keep.astype(np.int64))


def _grid_pairs(events: Events, time: I64, offset: int, config: CoordinationConfig) -> pd.DataFrame:
    """All co-acting pairs within one grid of windows: columns a, b, key, beh, pa, pb, day.

    Windows of ``config.window`` seconds starting at ``offset``; a pair with an event marked
    ``tight`` is kept only when the two events are less than ``config.tight_window`` seconds
    apart."""
    window, max_group, tight_window = config.window, config.max_group, config.tight_window
    bins = (time + offset) // window
    frame = pd.DataFrame(
        {
            "k": events.key,
            "w": bins,
            "a": events.account,
            "beh": events.behaviour,
            "p": events.post,
            "t": time,
            "tight": (np.zeros(len(events), dtype=bool) if events.tight is None else events.tight),
        }
    )
    # one event per account, key and window: the earliest
    frame = frame.sort_values(["k", "w", "a", "t"], kind="stable")
    frame = frame.drop_duplicates(["k", "w", "a"])
    group = frame.groupby(["k", "w"], sort=False).ngroup().to_numpy()
    size = np.bincount(group)
    g_of = size[group]
    ok = (g_of >= 2) & (g_of <= max_group)
    frame = frame[ok]
    group = group[ok]
    a = frame["a"].to_numpy()
    k = frame["k"].to_numpy()
    beh = frame["beh"].to_numpy()
    p = frame["p"].to_numpy()
    tt = frame["t"].to_numpy()
    tight = frame["tight"].to_numpy()
    parts: list[pd.DataFrame] = []
    n = group.size
    for d in range(1, max_group):
        if d >= n:
            break
        same = group[:-d] == group[d:]
        if not same.any():
            break
        i = np.flatnonzero(same)
        j = i + d
        if tight.any():
            close = np.abs(tt[i] - tt[j]) < tight_window
            keep = close | ~(tight[i] | tight[j])
            i, j = i[keep], j[keep]
        lo = np.minimum(a[i], a[j])
        swap = a[i] > a[j]
        parts.append(
            pd.DataFrame(
                {
                    "a": lo,
                    "b": np.maximum(a[i], a[j]),
                    "key": k[i],
                    "beh": beh[i],
                    "pa": np.where(swap, p[j], p[i]),
                    "pb": np.where(swap, p[i], p[j]),
                    "day": np.minimum(tt[i], tt[j]) // 86400,
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {c: np.zeros(0, dtype=np.int64) for c in ("a", "b", "key", "beh", "pa", "pb", "day")}
        )
    return pd.concat(parts, ignore_index=True)


def pair_rows(events: Events, time: I64, config: CoordinationConfig) -> pd.DataFrame:
    """Co-action rows (a < b, key, behaviour, post of a, post of b) over both grids."""
    half = max(config.window // 2, 1)
    rows = pd.concat(
        [
            _grid_pairs(events, time, 0, config),
            _grid_pairs(events, time, half, config),
        ],
        ignore_index=True,
    )
    return rows.drop_duplicates(["a", "b", "key", "pa", "pb"])


def pair_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Observed count per pair: min(distinct keys, posts of a, posts of b); index (a, b)."""
    if rows.empty:
        empty = pd.MultiIndex.from_arrays([[], []], names=["a", "b"])
        return pd.DataFrame(
            {
                "n": pd.Series([], dtype=np.int64, index=empty),
                "days": pd.Series([], dtype=np.int64, index=empty),
            }
        )
    g = rows.groupby(["a", "b"], sort=False)
    counts = pd.DataFrame(
        {"keys": g["key"].nunique(), "pa": g["pa"].nunique(), "pb": g["pb"].nunique()}
    )
    return pd.DataFrame(
        {"n": counts.min(axis=1).astype(np.int64), "days": g["day"].nunique().astype(np.int64)}
    )


def shuffle_times(events: Events, gen: np.random.Generator) -> I64:
    """Each account's whole timeline shifted by its own random offset (circularly, within
    the period the events cover): the account keeps its volume, its keys, its bursts and
    its rhythm; only its alignment with the other accounts is left to chance."""
    return shifted(events, shuffle_offsets(events, gen))


def shuffle_offsets(events: Events, gen: np.random.Generator) -> tuple[int, int, I64]:
    """(start, span, offset per account) of one time shuffle (see :func:`shuffle_times`)."""
    if len(events) == 0:
        return 0, 1, np.zeros(events.n_accounts, dtype=np.int64)
    t0 = int(events.time.min())
    span = int(events.time.max()) - t0 + 1
    return t0, span, gen.integers(0, span, size=events.n_accounts, dtype=np.int64)


def shifted(events: Events, shuffle: tuple[int, int, I64]) -> I64:
    """The event times under one shuffle (circular shift of each account's timeline)."""
    t0, span, offset = shuffle
    if len(events) == 0:
        return events.time.copy()
    return (events.time - t0 + offset[events.account]) % span + t0


def poisson_sf(n: I64, lam: F64) -> F64:
    """``P(X >= n)`` for ``X ~ Poisson(lam)``, accurate in the far tail (vectorised)."""
    n = np.asarray(n, dtype=np.int64)
    lam = np.asarray(lam, dtype=np.float64)
    out = np.ones(n.shape, dtype=np.float64)
    pos = n > 0
    if not pos.any():
        return out
    nn = n[pos]
    ll = np.maximum(lam[pos], 1e-300)
    top = int(nn.max()) + 200
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, top + 1, dtype=np.float64)))])
    # sum_{k>=n} e^-l l^k / k!  =  term(n) * (1 + l/(n+1) + l^2/((n+1)(n+2)) + ...)
    log_term = -ll + nn * np.log(ll) - log_fact[nn]
    ratio_sum = np.ones_like(ll)
    r = np.ones_like(ll)
    for i in range(1, 200):
        r = r * ll / (nn + i)
        ratio_sum += r
        if float(r.max()) < 1e-17:
            break
    tail = np.exp(log_term) * ratio_sum
    # where lam is large relative to n, the series is slow: use the complement
    big = ll >= nn
    if big.any():
        nb = nn[big]
        lb = ll[big]
        cdf = np.zeros_like(lb)
        for kk in range(int(nb.max())):
            live = kk < nb
            cdf += np.where(live, np.exp(-lb + kk * np.log(lb) - log_fact[kk]), 0.0)
        tail[big] = np.clip(1.0 - cdf, 0.0, 1.0)
    out[pos] = np.clip(tail, 0.0, 1.0)
    return out


def benjamini_hochberg(p: F64, q: float) -> npt.NDArray[np.bool_]:
    """Which of the p-values are discoveries at false discovery rate ``q``."""
    m = p.size
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    below = ranked <= q * np.arange(1, m + 1) / m
    out = np.zeros(m, dtype=bool)
    if below.any():
        last = int(np.flatnonzero(below).max())
        out[order[: last + 1]] = True
    return out


@dataclass(frozen=True, slots=True)
class CoordinationResult:
    """``pairs``: every pair that co-acted at least once, with columns ``a, b, n, days,
    expected, p, surprise, significant, behaviours`` (``days``: the number of different days
    the co-actions fall on; ``behaviours``: bit mask of behaviour codes); ``rows``: the
    co-action rows (evidence) of the significant pairs."""

    pairs: pd.DataFrame
    rows: pd.DataFrame


def _multi_scale_test(
    events: Events,
    config: CoordinationConfig,
    count: Callable[[pd.DataFrame], pd.DataFrame],
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observed counts, their time-shuffled expectation and tail p-value at every time scale.

    ``count`` turns co-action rows into a frame with columns ``n`` and ``days`` indexed by the
    unit tested (a pair, or an account and a group). Each scale has its own null: the same
    shuffled timelines, counted with that scale's windows. A unit's p-value is the smallest
    over the scales times the number of scales (Bonferroni: the scales are not independent,
    so this is the honest correction for having looked several times); ``n``, ``days`` and
    ``expected`` are those of the scale that gave it. Returns (units, co-action rows of every
    scale).
    """
    scales = [replace(config, window=w) for w in config.windows]
    subset = [events] + [
        shared_keys_only(
            events.take(
                np.flatnonzero(np.isin(events.behaviour, config.extra_window_behaviours)).astype(
                    np.int64
                )
            )
        )
    ] * (len(scales) - 1)
    rows_at = [pair_rows(ev, ev.time, c) for ev, c in zip(subset, scales, strict=True)]
    observed_at = [count(r) for r in rows_at]
    nulls = [pd.Series(0.0, index=o.index) for o in observed_at]
    gen = np.random.default_rng(seed)
    for _ in range(config.null_rounds):
        offset = shuffle_offsets(events, gen)
        for i, c in enumerate(scales):
            if observed_at[i].empty:
                continue
            ev = subset[i]
            counts = count(pair_rows(ev, shifted(ev, offset), c))["n"]
            nulls[i] = nulls[i].add(
                counts.reindex(observed_at[i].index, fill_value=0), fill_value=0
            )
    best: pd.DataFrame | None = None
    for observed, null in zip(observed_at, nulls, strict=True):
        if observed.empty:
            continue
        # the mean of the shuffles, with half a count of prior so that "never seen in R
        # shuffles" means "rarer than 1 in 2R", not "impossible"
        expected = (null.to_numpy() + 0.5) / max(config.null_rounds, 1)
        p = poisson_sf(observed["n"].to_numpy(), expected)
        scale = observed.assign(expected=expected, p=p)
        if best is None:
            best = scale
            continue
        index = best.index.union(scale.index)
        best = best.reindex(index)
        scale = scale.reindex(index)
        take = scale["p"].fillna(2.0).to_numpy() < best["p"].fillna(2.0).to_numpy()
        cols = ["n", "days", "expected", "p"]
        best.loc[take, cols] = scale.loc[take, cols].to_numpy()
    rows = pd.concat(rows_at, ignore_index=True).drop_duplicates(["a", "b", "key", "pa", "pb"])
    if best is None:
        return observed_at[0].assign(expected=0.0, p=1.0), rows
    best["p"] = np.minimum(best["p"].to_numpy() * len(scales), 1.0)
    best["n"] = best["n"].astype(np.int64)
    best["days"] = best["days"].astype(np.int64)
    return best, rows


def detect_coordination(events: Events, config: CoordinationConfig) -> CoordinationResult:
    """Observed co-actions, their expectation under time shuffles, and the significant pairs."""
    events = shared_keys_only(events)
    observed, rows = _multi_scale_test(events, config, pair_counts, config.seed)
    if observed.empty:
        empty = observed.assign(expected=0.0, p=1.0, surprise=0.0, significant=False, behaviours=0)
        return CoordinationResult(empty.reset_index(), rows.iloc[:0])
    n = observed["n"].to_numpy()
    p = observed["p"].to_numpy()
    significant = benjamini_hochberg(p, config.fdr) & (n >= config.min_repeats)
    beh_mask = (
        rows.assign(bit=np.left_shift(1, rows["beh"].to_numpy()))
        .groupby(["a", "b"])["bit"]
        .agg(np.bitwise_or.reduce)
    )
    pairs = observed.assign(
        surprise=-np.log10(np.maximum(p, 1e-300)),
        significant=significant,
        behaviours=beh_mask.reindex(observed.index, fill_value=0).to_numpy(),
    ).reset_index()
    sig = pairs.loc[pairs["significant"], ["a", "b"]]
    evidence = rows.merge(sig, on=["a", "b"], how="inner")
    return CoordinationResult(pairs, evidence)


def group_counts(rows: pd.DataFrame, group_of: I64) -> pd.DataFrame:
    """Co-actions of each account with the members of each group it does not belong to.

    ``group_of[account]`` is a group number or -1. For (account x, group g): ``n`` is
    ``min(distinct keys, posts of x)`` over x's co-actions with members of g, ``days`` the
    number of different days they fall on; index (x, g).
    """
    if rows.empty:
        empty = pd.MultiIndex.from_arrays([[], []], names=["x", "g"])
        return pd.DataFrame(
            {
                "n": pd.Series([], dtype=np.int64, index=empty),
                "days": pd.Series([], dtype=np.int64, index=empty),
            }
        )
    a = rows["a"].to_numpy()
    b = rows["b"].to_numpy()
    frame = pd.DataFrame(
        {
            "x": np.concatenate([a, b]),
            "g": np.concatenate([group_of[b], group_of[a]]),
            "own": np.concatenate([group_of[a], group_of[b]]),
            "key": np.concatenate([rows["key"].to_numpy()] * 2),
            "post": np.concatenate([rows["pa"].to_numpy(), rows["pb"].to_numpy()]),
            "day": np.concatenate([rows["day"].to_numpy()] * 2),
        }
    )
    frame = frame[(frame["g"] >= 0) & (frame["own"] < 0)]
    grouped = frame.groupby(["x", "g"], sort=False)
    both = pd.DataFrame({"k": grouped["key"].nunique(), "p": grouped["post"].nunique()})
    return pd.DataFrame(
        {"n": both.min(axis=1).astype(np.int64), "days": grouped["day"].nunique().astype(np.int64)}
    )


def join_groups(
    events: Events,
    groups: dict[int, int],
    config: CoordinationConfig,
    posts: I64 | None = None,
    active_days: I64 | None = None,
) -> pd.DataFrame:
    """Accounts outside every group whose co-actions with one group beat chance.

    The same test as for pairs, one level up: the observed count of an account with a
    group (see :func:`group_counts`) against its mean over time shuffles, Poisson tail,
    Benjamini-Hochberg over every (account, group) tested. Only the behaviours in
    ``config.join_behaviours`` count. With ``posts`` (posts per account code), the
    co-actions must also be at least ``config.min_coordinated_share`` of the account's posts.
    The co-actions must fall on ``config.min_days`` different days or, with ``active_days``
    (days on which each account code posted), on every day of an account seen on fewer days:
    an account that lived one day (a throwaway persona) can only show one.
    Returns columns ``account, group, n, expected, p, surprise, days, joined``.
    """
    nothing = pd.DataFrame(
        {
            "account": np.zeros(0, dtype=np.int64),
            "group": np.zeros(0, dtype=np.int64),
            "n": np.zeros(0, dtype=np.int64),
            "expected": np.zeros(0, dtype=np.float64),
            "p": np.zeros(0, dtype=np.float64),
            "surprise": np.zeros(0, dtype=np.float64),
            "days": np.zeros(0, dtype=np.int64),
            "joined": np.zeros(0, dtype=bool),
        }
    )
    if not groups:
        return nothing
    keep = np.flatnonzero(np.isin(events.behaviour, config.join_behaviours))
    ev = shared_keys_only(events.take(keep.astype(np.int64)))
    group_of = np.full(events.n_accounts, -1, dtype=np.int64)
    for acc, g in groups.items():
        group_of[acc] = g
    observed, _ = _multi_scale_test(
        ev, config, lambda rows: group_counts(rows, group_of), config.seed + 1
    )
    if observed.empty:
        return nothing
    n = observed["n"].to_numpy()
    p = observed["p"].to_numpy()
    expected = observed["expected"].to_numpy()
    account = observed.index.get_level_values(0).to_numpy()
    days = observed["days"].to_numpy()
    need_days = np.full(n.size, config.min_days, dtype=np.int64)
    if active_days is not None:
        # an account seen on fewer days cannot show more: all of its days suffice
        need_days = np.minimum(need_days, np.maximum(active_days[account], 1))
    ok = benjamini_hochberg(p, config.fdr) & (n >= config.join_min_repeats) & (days >= need_days)
    if posts is not None:
        # effect size, as for groups: the co-actions are a substantial share of its posts
        ok &= n >= config.min_coordinated_share * posts[account]
    out = pd.DataFrame(
        {
            "account": account,
            "group": observed.index.get_level_values(1).to_numpy(),
            "n": n,
            "expected": expected,
            "p": p,
            "surprise": -np.log10(np.maximum(p, 1e-300)),
            "days": observed["days"].to_numpy(),
            "joined": ok,
        }
    )
    return out


def find_groups(result: CoordinationResult, config: CoordinationConfig) -> dict[int, int]:
    """Communities of the significant pairs that act on at least ``config.min_days`` days.

    Returns account -> group, groups numbered 0, 1, ... by decreasing size.
    """
    groups = communities(result.pairs, config.seed)
    if not groups:
        return {}
    rows = result.rows
    a = rows["a"].to_numpy()
    g = np.array([groups.get(int(x), -1) for x in a], dtype=np.int64)
    days = pd.Series(rows["day"].to_numpy()).groupby(g).nunique()
    active = days.index.to_numpy(dtype=np.int64)[days.to_numpy() >= config.min_days]
    keep = {int(k) for k in active if k >= 0}
    keep |= lockstep_bursts(result.pairs, groups, config) - keep
    members: dict[int, list[int]] = {}
    for acc, gid in groups.items():
        if gid in keep:
            members.setdefault(gid, []).append(acc)
    ordered = sorted(members.values(), key=lambda m: (-len(m), min(m)))
    return {acc: gid for gid, m in enumerate(ordered) for acc in m}


def coordinated_share(rows: pd.DataFrame, posts: I64) -> F64:
    """Per account code: the share of its posts that took part in a co-action of ``rows``
    (``posts[account]`` = its number of posts)."""
    involved = pd.concat(
        [
            pd.DataFrame({"x": rows["a"].to_numpy(), "p": rows["pa"].to_numpy()}),
            pd.DataFrame({"x": rows["b"].to_numpy(), "p": rows["pb"].to_numpy()}),
        ]
    ).drop_duplicates()
    count = np.bincount(involved["x"].to_numpy(dtype=np.int64), minlength=posts.size)
    return count[: posts.size] / np.maximum(posts, 1)


def substantial_groups(
    groups: dict[int, int], share: F64, config: CoordinationConfig
) -> dict[int, int]:
    """The groups whose median member has a coordinated share (see
    :func:`coordinated_share`) of at least ``config.min_coordinated_share``; renumbered
    0, 1, ... by decreasing size."""
    members: dict[int, list[int]] = {}
    for acc, gid in groups.items():
        members.setdefault(gid, []).append(acc)
    kept = [
        m
        for m in members.values()
        if float(np.median(share[np.asarray(m, dtype=np.int64)])) >= config.min_coordinated_share
    ]
    kept.sort(key=lambda m: (-len(m), min(m)))
    return {acc: gid for gid, m in enumerate(kept) for acc in m}


def lockstep_bursts(
    pairs: pd.DataFrame, groups: dict[int, int], config: CoordinationConfig
) -> set[int]:
    """Groups that are near-cliques of significant pairs: at least ``burst_min_size``
    accounts and at least ``burst_density`` of their member pairs significant."""
    size: dict[int, int] = {}
    for gid in groups.values():
        size[gid] = size.get(gid, 0) + 1
    sig = pairs[pairs["significant"]]
    ga = np.array([groups.get(int(x), -1) for x in sig["a"].tolist()], dtype=np.int64)
    gb = np.array([groups.get(int(x), -1) for x in sig["b"].tolist()], dtype=np.int64)
    inside = pd.Series(ga[(ga == gb) & (ga >= 0)]).value_counts()
    out: set[int] = set()
    for gid, links in zip(inside.index.tolist(), inside.tolist(), strict=True):
        n = size[int(gid)]
        if n >= config.burst_min_size and links >= config.burst_density * n * (n - 1) / 2:
            out.add(int(gid))
    return out


def communities(pairs: pd.DataFrame, seed: int = 7) -> dict[int, int]:
    """Louvain communities of the significant pairs (weight = surprise): account -> group.

    Groups are numbered 0, 1, ... by decreasing size (ties by smallest account code).
    """
    sig = pairs[pairs["significant"]]
    graph: nx.Graph[int] = nx.Graph()
    graph.add_weighted_edges_from(
        zip(
            sig["a"].astype(int).tolist(),
            sig["b"].astype(int).tolist(),
            sig["surprise"].astype(float).tolist(),
            strict=True,
        )
    )
    if graph.number_of_edges() == 0:
        return {}
    found = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    ordered = sorted(found, key=lambda c: (-len(c), min(c)))
    return {int(node): gid for gid, group in enumerate(ordered) for node in group}
